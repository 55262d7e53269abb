//! Argument parsing and the `serve` command. Errors end here as one clear
//! line on stderr and a non-zero exit code.

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
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run headless: OTLP receivers, store and API/UI in the browser.
    Serve(ServeArgs),
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

async fn shutdown_signal() {
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
    let result = runtime.block_on(serve::run(config, shutdown_signal(), |bound| {
        println!("{bound}");
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
        None => {
            eprintln!("loupe: the desktop window is not built yet; run `loupe serve` and open the API address");
            ExitCode::from(2)
        }
    }
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
}
