//! Argument parsing and the `serve` and `demo` commands; without a command,
//! the desktop window (feature `desktop`, in `desktop/`) with the same
//! options as `serve`. Errors end here as one clear line on stderr and a
//! non-zero exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use loupe_ingest::ReceiverConfig;
use loupe_server::serve::{self, ServeConfig};
use loupe_store::{Retention, WriterConfig};

#[derive(Parser, Debug)]
#[command(
    name = "loupe",
    version,
    about = "Local, Docker-free OpenTelemetry viewer: receives OTLP traces, metrics and logs, \
             keeps them in one SQLite file and lets you explore them.",
    long_about = "Local, Docker-free OpenTelemetry viewer: receives OTLP traces, metrics and logs, \
             keeps them in one SQLite file and lets you explore them.\n\n\
             Without a command, `loupe` opens the desktop window, which runs the same receivers, \
             store and API as `loupe serve` and takes the same options.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The desktop window's options (without a command): the same as `loupe serve`'s.
    #[command(flatten)]
    window: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run headless: OTLP receivers, store and API/UI in the browser.
    Serve(ServeArgs),
    /// Send a Kestra-shaped demo workload (traces, logs, metrics) to a running Loupe.
    Demo(DemoArgs),
    /// Alert rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Validate a rules file (YAML, `rules: [...]` or one rule): errors with
    /// line numbers and exit 1; rules that can never match are warned about.
    Check {
        /// The YAML file.
        file: PathBuf,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Where the database lives [default: the platform data directory, e.g. ~/.local/share/loupe].
    #[arg(long, env = "LOUPE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// OTLP/gRPC listen address.
    #[arg(
        long,
        env = "LOUPE_GRPC_ADDR",
        default_value = "127.0.0.1:4317",
        value_name = "ADDR"
    )]
    grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address (/v1/traces, /v1/metrics, /v1/logs).
    #[arg(
        long,
        env = "LOUPE_HTTP_ADDR",
        default_value = "127.0.0.1:4318",
        value_name = "ADDR"
    )]
    http_addr: SocketAddr,
    /// JSON API (and UI) listen address.
    #[arg(
        long,
        env = "LOUPE_API_ADDR",
        default_value = "127.0.0.1:16686",
        value_name = "ADDR"
    )]
    api_addr: SocketAddr,
    /// Allow listening on addresses other than loopback (accept telemetry from other machines).
    #[arg(long, env = "LOUPE_ALLOW_REMOTE")]
    allow_remote: bool,
    /// Browser origin allowed to send OTLP/HTTP (repeatable; `http://host:*` for any port, `*` for all)
    /// [default: http://localhost:* and http://127.0.0.1:*].
    #[arg(
        long = "cors-origin",
        env = "LOUPE_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    cors_origins: Vec<String>,
    /// Largest database size before the oldest data is deleted (e.g. 500MB, 2GiB).
    #[arg(long, env = "LOUPE_MAX_DB_SIZE", default_value = "1GiB", value_parser = parse_size, value_name = "SIZE")]
    max_db_size: u64,
    /// Oldest data kept, by its own timestamps (e.g. 24h, 7d).
    #[arg(long, env = "LOUPE_MAX_AGE", default_value = "7d", value_parser = parse_age, value_name = "AGE")]
    max_age: Duration,
    /// Decode and acknowledge telemetry without storing it (benchmark baseline).
    #[arg(long)]
    discard: bool,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Loupe's OTLP/gRPC address (`loupe serve --grpc-addr`).
    #[arg(
        long,
        env = "LOUPE_DEMO_ENDPOINT",
        default_value = "http://127.0.0.1:4317",
        value_name = "URL"
    )]
    grpc_endpoint: String,
    /// How many runs to send, each with fresh IDs and timestamps.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    repeat: u32,
    /// Pause between runs (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = parse_age, value_name = "DURATION")]
    interval: Duration,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 500MB or 2GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" | "t" => 1 << 40,
        u => {
            return Err(format!(
                "unknown size unit {u:?}; use B, KB, MB, GB, KiB, MiB, GiB"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn parse_age(s: &str) -> Result<Duration, String> {
    loupe_query::parse_duration(s).map(Duration::from_nanos)
}

fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("loupe"))
        .unwrap_or_else(|| PathBuf::from(".loupe"))
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn serve_config(a: ServeArgs) -> ServeConfig {
    let mut receiver = ReceiverConfig::default();
    if !a.cors_origins.is_empty() {
        receiver.cors_origins = a.cors_origins;
    }
    ServeConfig {
        grpc_addr: a.grpc_addr,
        http_addr: a.http_addr,
        api_addr: a.api_addr,
        data_dir: a.data_dir.unwrap_or_else(default_data_dir),
        allow_remote: a.allow_remote,
        receiver,
        writer: WriterConfig {
            retention: Retention {
                max_bytes: a.max_db_size,
                max_age: a.max_age,
            },
            ..WriterConfig::default()
        },
        drop_data: a.discard,
    }
}

fn run_serve(a: ServeArgs) -> ExitCode {
    let config = serve_config(a);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loupe: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let discard = config.drop_data;
    let result = runtime.block_on(serve::run(config, shutdown_signal(), |running| {
        println!("{}", running.bound);
        if discard {
            println!("loupe: --discard: telemetry is decoded and acknowledged, not stored");
        }
    }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loupe: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a demo run was not sent.
enum DemoError {
    /// The connection failed (no server, or it went away).
    Unreachable,
    /// The server answered with an error; the line to print.
    Refused(String),
}

/// One demo run, sent over gRPC.
async fn send_demo(
    channel: &tonic::transport::Channel,
    demo: &loupe_demo::Demo,
) -> Result<(), DemoError> {
    use loupe_demo::otlp::{
        logs_service::logs_service_client::LogsServiceClient,
        metrics_service::metrics_service_client::MetricsServiceClient,
        trace_service::trace_service_client::TraceServiceClient,
    };
    let refused = |what: &str, e: tonic::Status| {
        // Statuses the server sent have no source; transport failures do.
        if std::error::Error::source(&e).is_some() {
            DemoError::Unreachable
        } else {
            DemoError::Refused(format!(
                "the {what} were refused: {:?}: {}",
                e.code(),
                e.message()
            ))
        }
    };
    let partial = |what: &str, rejected: i64, message: &str| {
        if rejected > 0 {
            eprintln!("loupe: {rejected} {what} rejected: {message}");
        }
    };
    let t = TraceServiceClient::new(channel.clone())
        .export(demo.traces.clone())
        .await
        .map_err(|e| refused("traces", e))?
        .into_inner();
    if let Some(p) = t.partial_success {
        partial("spans", p.rejected_spans, &p.error_message);
    }
    let l = LogsServiceClient::new(channel.clone())
        .export(demo.logs.clone())
        .await
        .map_err(|e| refused("logs", e))?
        .into_inner();
    if let Some(p) = l.partial_success {
        partial("log records", p.rejected_log_records, &p.error_message);
    }
    let m = MetricsServiceClient::new(channel.clone())
        .export(demo.metrics.clone())
        .await
        .map_err(|e| refused("metrics", e))?
        .into_inner();
    if let Some(p) = m.partial_success {
        partial("data points", p.rejected_data_points, &p.error_message);
    }
    Ok(())
}

/// `loupe rules check FILE`: `FILE:LINE:COLUMN: message` per error (the
/// form editors jump to), warnings for rules that can never match.
fn run_rules_check(file: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("loupe: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match loupe_alerts::rule::file_from_yaml(&text) {
        Ok(rules) => {
            for r in &rules {
                let a = loupe_alerts::analyse(r.when.as_ref(), r.signal);
                for f in &a.findings {
                    println!(
                        "{}: warning: rule {:?}: {}",
                        file.display(),
                        r.name,
                        f.message
                    );
                }
            }
            println!("{}: {} rule(s) OK", file.display(), rules.len());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                let at = match (e.line, e.column) {
                    (Some(l), Some(c)) => format!("{l}:{c}:"),
                    (Some(l), None) => format!("{l}:"),
                    _ => String::new(),
                };
                eprintln!("{}:{at} error: {}", file.display(), e.message);
            }
            ExitCode::FAILURE
        }
    }
}

fn run_demo(a: DemoArgs) -> ExitCode {
    let endpoint = if a.grpc_endpoint.contains("://") {
        a.grpc_endpoint.clone()
    } else {
        format!("http://{}", a.grpc_endpoint)
    };
    let unreachable = || {
        eprintln!("loupe: cannot reach {endpoint}: is loupe serve (or the desktop app) running?");
        ExitCode::FAILURE
    };
    let Ok(target) = tonic::transport::Endpoint::from_shared(endpoint.clone()) else {
        eprintln!("loupe: {endpoint:?} is not a URL like http://127.0.0.1:4317");
        return ExitCode::from(2);
    };
    let target = target
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loupe: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let Ok(channel) = target.connect().await else {
            return unreachable();
        };
        for i in 0..a.repeat {
            if i > 0 {
                tokio::time::sleep(a.interval).await;
            }
            let demo = loupe_demo::fresh();
            match send_demo(&channel, &demo).await {
                Ok(()) => {}
                Err(DemoError::Unreachable) => return unreachable(),
                Err(DemoError::Refused(e)) => {
                    eprintln!("loupe: {endpoint}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            println!(
                "loupe: demo run {} of {} sent to {endpoint}: {} spans, {} log records, {} metric points",
                i + 1,
                a.repeat,
                demo.span_count(),
                demo.log_count(),
                demo.point_count()
            );
            println!(
                "  main trace      {}  upstream -> kestra-webserver -> kestra ({}.{}, execution {}) -> downstream; one task failed",
                loupe_demo::hex(&demo.main_trace_id),
                loupe_demo::NAMESPACE,
                loupe_demo::MAIN_FLOW,
                demo.main_execution_id
            );
            for id in &demo.item_trace_ids {
                println!(
                    "  linked trace    {}  a ForEachItem child execution ({}), linked to the main trace",
                    loupe_demo::hex(id),
                    loupe_demo::ITEM_FLOW
                );
            }
        }
        println!("loupe: open http://127.0.0.1:16686/ (or loupe serve's --api-addr) to explore it");
        ExitCode::SUCCESS
    })
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Some(Command::Serve(a)) => run_serve(a),
        Some(Command::Demo(a)) => run_demo(a),
        Some(Command::Rules(RulesCommand::Check { file })) => run_rules_check(&file),
        None => run_window(cli.window),
    }
}

#[cfg(feature = "desktop")]
fn run_window(a: ServeArgs) -> ExitCode {
    crate::desktop::run(serve_config(a))
}

#[cfg(not(feature = "desktop"))]
fn run_window(_: ServeArgs) -> ExitCode {
    eprintln!(
        "loupe: this loupe was built without the desktop window (--no-default-features): \
         run `loupe serve` and open http://127.0.0.1:16686/ in a browser (`loupe --help` for more)"
    );
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn the_window_takes_serves_options() {
        let cli = Cli::try_parse_from(["loupe", "--api-addr", "127.0.0.1:0"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.window.api_addr, "127.0.0.1:0".parse().unwrap());
        let cli = Cli::try_parse_from(["loupe", "serve", "--api-addr", "127.0.0.1:1"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(a)) if a.api_addr.port() == 1));
        // Options belong either to the window or to a command, not both.
        assert!(Cli::try_parse_from(["loupe", "--api-addr", "127.0.0.1:0", "serve"]).is_err());
    }
}
