//! Argument parsing and the `serve`, `config` and `demo` commands (`export`
//! and `import` are in `transfer.rs`; `mcp` and the query commands `traces`,
//! `trace`, `logs`, `metrics`, `alerts` run `loupe_mcp`); without a command, the desktop window
//! (feature `desktop`, in `desktop/`) with the same options as `serve`.
//! Errors end here as one clear line on stderr and a non-zero exit code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use loupe_app::{self as serve, ServeConfig};
use loupe_config::{Flag, Loaded};

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
    args_conflicts_with_subcommands = true,
    args_override_self = true
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
    /// Print the effective configuration (file, LOUPE_* environment, flags) with each value's source.
    Config(ServeArgs),
    /// Send a Kestra-shaped demo workload (traces, logs, metrics) to a running Loupe.
    Demo(DemoArgs),
    /// Export traces (with their logs and metrics) as OTLP JSON Lines or an HTML report, secrets masked.
    Export(crate::transfer::ExportArgs),
    /// Import OTLP JSON, JSON Lines, protobuf or Loupe HTML reports, marked with their file name.
    Import(crate::transfer::ImportArgs),
    /// Send a bundle (JSON Lines, OTLP protobuf or JSON, a Loupe HTML report) to any OTLP
    /// endpoint with its original relative timing (README: "Replay a bundle").
    Replay(crate::replay::ReplayArgs),
    /// Alert rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// MCP server on stdin/stdout for coding agents, answering from the running Loupe
    /// (docs/agents.md). Loupe also serves MCP over HTTP at http://127.0.0.1:16686/mcp.
    Mcp(ApiArgs),
    /// Search traces in the running Loupe: a table, or NDJSON with --json.
    /// Exit code 0: found some; 1: none matched; 2: error (e.g. Loupe not running).
    Traces {
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        search: loupe_mcp::term::TracesArgs,
        /// One JSON object a line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One trace as an indented tree with durations and errors (exit 1: no such trace).
    Trace {
        /// The trace ID (32 hex digits).
        id: String,
        #[command(flatten)]
        api: ApiArgs,
        /// One JSON object a span instead of the tree.
        #[arg(long)]
        json: bool,
    },
    /// Log records, oldest first; --follow keeps printing new ones (exit 1: none matched).
    Logs {
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        search: loupe_mcp::term::LogsArgs,
        /// One JSON object a line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Metrics: the list, or one metric's lines with min/avg/max/last (exit 1: none).
    Metrics {
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        which: loupe_mcp::term::MetricsArgs,
        /// One JSON object a line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Firing and pending alerts (exit 1: none).
    Alerts {
        #[command(flatten)]
        api: ApiArgs,
        /// One JSON object a line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Where the running Loupe's API is, for the commands that ask it.
#[derive(Args, Debug, Default)]
struct ApiArgs {
    /// The running Loupe's API [default: api_addr of the configuration, http://127.0.0.1:16686].
    #[arg(long, env = "LOUPE_API", value_name = "URL")]
    api: Option<String>,
    /// Configuration file to read api_addr from.
    #[arg(long, env = "LOUPE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ApiArgs {
    /// `--api`, else the configured API address (a wildcard is reached on
    /// loopback), and remote mode's access token: `LOUPE_TOKEN`, else
    /// the `api-token` file beside the configuration if Loupe made one.
    fn connect(&self) -> Result<(String, Option<String>), ExitCode> {
        let env = |k: &str| std::env::var(k).ok();
        let loaded = Loaded::load(self.config.as_deref(), &env, Vec::new()).map_err(|e| {
            eprintln!("loupe: {e}");
            ExitCode::from(2)
        })?;
        let token = loupe_config::secrets::client_token(&loaded.secrets_dir(), &env);
        if let Some(a) = &self.api {
            return Ok((a.clone(), token));
        }
        let mut addr = loaded.config.api_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Ok((format!("http://{addr}"), token))
    }
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

/// Flags of `loupe serve` and `loupe config`. Each overrides the same key
/// of the configuration file and its `LOUPE_*` environment variable (see
/// `loupe config`); unset flags leave those in charge.
#[derive(Args, Debug, Default)]
struct ServeArgs {
    /// Configuration file [default: config.toml in the platform config directory, e.g. ~/.config/loupe].
    #[arg(long, env = "LOUPE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the database lives [default: the platform data directory, e.g. ~/.local/share/loupe].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// OTLP/gRPC listen address [default: 127.0.0.1:4317].
    #[arg(long, value_name = "ADDR")]
    grpc_addr: Option<SocketAddr>,
    /// OTLP/HTTP listen address (/v1/traces, /v1/metrics, /v1/logs) [default: 127.0.0.1:4318].
    #[arg(long, value_name = "ADDR")]
    http_addr: Option<SocketAddr>,
    /// JSON API, UI, /health and /metrics listen address [default: 127.0.0.1:16686].
    #[arg(long, value_name = "ADDR")]
    api_addr: Option<SocketAddr>,
    /// Allow listening on addresses other than loopback (accept telemetry from other machines).
    #[arg(long)]
    allow_remote: bool,
    /// Browser origin allowed to send OTLP/HTTP (repeatable; `http://host:*` for any port, `*` for all)
    /// [default: http://localhost:* and http://127.0.0.1:*].
    #[arg(long = "cors-origin", value_delimiter = ',', value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// With --allow-remote: a host name accepted in Host besides loopback names and IP
    /// addresses (repeatable; e.g. laptop.local).
    #[arg(long = "allowed-host", value_delimiter = ',', value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// With --allow-remote: serve the UI and API WITHOUT the access token (prints a warning at every start).
    #[arg(long)]
    no_api_auth: bool,
    /// With --allow-remote: accept OTLP WITHOUT the API key (prints a warning at every start).
    #[arg(long)]
    no_otlp_auth: bool,
    /// Largest database size before the oldest data is deleted (e.g. 500MB, 2GiB) [default: 1GiB].
    #[arg(long, value_parser = check_size, value_name = "SIZE")]
    max_db_size: Option<String>,
    /// How long data is kept after it arrived, whatever its own timestamps (e.g. 24h, 7d) [default: 7d].
    #[arg(long, value_parser = check_age, value_name = "AGE")]
    max_age: Option<String>,
    /// Bytes of OTLP exports in flight (being read, decoded or stored) before more are refused
    /// with a retryable answer (e.g. 32MiB, 256MiB) [default: 16MiB].
    #[arg(long, value_parser = check_size, value_name = "SIZE")]
    max_in_flight: Option<String>,
    /// Log filter in RUST_LOG syntax (e.g. info, warn,loupe_store=debug) [default: info].
    #[arg(long, value_name = "FILTER")]
    log: Option<String>,
    /// /health is DOWN below this much free disk space in the data directory [default: 100MiB].
    #[arg(long, value_parser = check_size, value_name = "SIZE")]
    min_free_disk: Option<String>,
    /// Prefix of Loupe's own metric names in /metrics [default: loupe_].
    #[arg(long, value_name = "PREFIX")]
    metrics_prefix: Option<String>,
    /// Serve the latest received metric values for Prometheus at /metrics/received.
    #[arg(long)]
    received_metrics: bool,
    /// Forward everything received (after filters) to this OTLP endpoint (e.g. http://collector:4317).
    #[arg(long, value_name = "URL")]
    forward_endpoint: Option<String>,
    /// Protocol of --forward-endpoint: grpc or http [default: grpc].
    #[arg(long, value_parser = ["grpc", "http"], value_name = "PROTOCOL")]
    forward_protocol: Option<String>,
    /// Decode and acknowledge telemetry without storing it (benchmark baseline).
    #[arg(long)]
    discard: bool,
}

fn check_size(s: &str) -> Result<String, String> {
    loupe_config::units::parse_size(s).map(|_| s.to_string())
}

fn check_age(s: &str) -> Result<String, String> {
    loupe_config::units::parse_age(s).map(|_| s.to_string())
}

impl ServeArgs {
    /// The flags that were given, as configuration overrides.
    fn flags(&self) -> Vec<Flag> {
        use toml::Value;
        let mut out = Vec::new();
        let mut add = |key: &'static str, flag: &'static str, value: Option<Value>| {
            if let Some(value) = value {
                out.push(Flag { key, flag, value });
            }
        };
        let text = |s: &Option<String>| s.clone().map(Value::String);
        let addr = |a: &Option<SocketAddr>| a.map(|a| Value::String(a.to_string()));
        add(
            "data_dir",
            "--data-dir",
            self.data_dir
                .as_ref()
                .map(|d| Value::String(d.display().to_string())),
        );
        add("grpc_addr", "--grpc-addr", addr(&self.grpc_addr));
        add("http_addr", "--http-addr", addr(&self.http_addr));
        add("api_addr", "--api-addr", addr(&self.api_addr));
        add(
            "allow_remote",
            "--allow-remote",
            self.allow_remote.then_some(Value::Boolean(true)),
        );
        add(
            "cors_origins",
            "--cors-origin",
            (!self.cors_origins.is_empty()).then(|| {
                Value::Array(
                    self.cors_origins
                        .iter()
                        .map(|o| Value::String(o.clone()))
                        .collect(),
                )
            }),
        );
        add(
            "allowed_hosts",
            "--allowed-host",
            (!self.allowed_hosts.is_empty()).then(|| {
                Value::Array(
                    self.allowed_hosts
                        .iter()
                        .map(|o| Value::String(o.clone()))
                        .collect(),
                )
            }),
        );
        add(
            "auth.api",
            "--no-api-auth",
            self.no_api_auth.then_some(Value::Boolean(false)),
        );
        add(
            "auth.otlp",
            "--no-otlp-auth",
            self.no_otlp_auth.then_some(Value::Boolean(false)),
        );
        add("max_db_size", "--max-db-size", text(&self.max_db_size));
        add("max_age", "--max-age", text(&self.max_age));
        add(
            "receiver.max_in_flight",
            "--max-in-flight",
            text(&self.max_in_flight),
        );
        add("log", "--log", text(&self.log));
        add(
            "health.min_free_disk",
            "--min-free-disk",
            text(&self.min_free_disk),
        );
        add(
            "metrics.prefix",
            "--metrics-prefix",
            text(&self.metrics_prefix),
        );
        add(
            "metrics.received",
            "--received-metrics",
            self.received_metrics.then_some(Value::Boolean(true)),
        );
        add(
            "forward.endpoint",
            "--forward-endpoint",
            text(&self.forward_endpoint),
        );
        add(
            "forward.protocol",
            "--forward-protocol",
            text(&self.forward_protocol),
        );
        out
    }

    /// The layered configuration: file, then environment, then these flags.
    fn load(&self) -> Result<Loaded, loupe_config::ConfigError> {
        let env = |k: &str| std::env::var(k).ok();
        let loaded = Loaded::load(self.config.as_deref(), &env, self.flags())?;
        // Before logging exists (the configuration sets it up).
        for w in &loaded.warnings {
            eprintln!("loupe: warning: {w}");
        }
        Ok(loaded)
    }
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
    /// How many runs to send, each with fresh IDs and timestamps (from the second on, one task runs 1.5 s longer per run).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    repeat: u32,
    /// Pause between runs (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = loupe_config::units::parse_age, value_name = "DURATION")]
    interval: Duration,
}

/// Loads the configuration, installs the log subscriber with its filter,
/// and builds what `serve::run` takes. Errors are printed here.
fn prepare(a: &ServeArgs) -> Result<ServeConfig, ExitCode> {
    let loaded = a.load().map_err(|e| {
        eprintln!("loupe: {e}");
        ExitCode::from(2)
    })?;
    let log = match loupe_server::logging::init(&loaded.config.log) {
        Ok(h) => Some(h),
        Err(e @ loupe_server::logging::LogError::Invalid { .. }) => {
            eprintln!("loupe: log: {e}");
            return Err(ExitCode::from(2));
        }
        Err(_) => None,
    };
    let mut config = ServeConfig::from_loaded(&loaded, log).map_err(|e| {
        eprintln!("loupe: {e}");
        ExitCode::from(2)
    })?;
    config.drop_data = a.discard;
    Ok(config)
}

fn run_serve(a: ServeArgs) -> ExitCode {
    let config = match prepare(&a) {
        Ok(c) => c,
        Err(code) => return code,
    };
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
    for w in &config.security.warnings {
        eprintln!("loupe: WARNING: {w}");
    }
    if let Some(k) = &config.receiver.api_key {
        println!(
            "loupe: OTLP exports need the API key: OTEL_EXPORTER_OTLP_HEADERS=x-otlp-api-key={}",
            k.as_str()
        );
    }
    let result = runtime.block_on(serve::run(config, crate::signals::shutdown(), |running| {
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

/// `loupe config`: the effective configuration, each value with its source.
fn run_config(a: ServeArgs) -> ExitCode {
    let loaded = match a.load() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("loupe: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = loupe_server::logging::check(&loaded.config.log) {
        eprintln!("loupe: log: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = ServeConfig::from_loaded(&loaded, None) {
        eprintln!("loupe: {e}");
        return ExitCode::from(2);
    }
    print!("{}", loaded.render());
    ExitCode::SUCCESS
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
            let demo = loupe_demo::fresh_nth(i);
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
    match cli.command {
        Some(Command::Serve(a)) => run_serve(a),
        Some(Command::Config(a)) => run_config(a),
        Some(Command::Demo(a)) => {
            let _ = loupe_server::logging::init(
                &std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            );
            run_demo(a)
        }
        Some(Command::Export(a)) => crate::transfer::run_export(a),
        Some(Command::Import(a)) => crate::transfer::run_import(a),
        Some(Command::Replay(a)) => crate::replay::run(a),
        Some(Command::Rules(RulesCommand::Check { file })) => run_rules_check(&file),
        Some(Command::Mcp(api)) => run_mcp(api),
        Some(Command::Traces { api, search, json }) => run_query(api, |ctx, out| {
            Box::pin(async move { loupe_mcp::term::traces(ctx, &search, json, out).await })
        }),
        Some(Command::Trace { id, api, json }) => run_query(api, |ctx, out| {
            Box::pin(async move { loupe_mcp::term::trace(ctx, &id, json, out).await })
        }),
        Some(Command::Logs { api, search, json }) if search.follow => run_follow(api, search, json),
        Some(Command::Logs { api, search, json }) => run_query(api, |ctx, out| {
            Box::pin(async move { loupe_mcp::term::logs(ctx, &search, json, out).await })
        }),
        Some(Command::Metrics { api, which, json }) => run_query(api, |ctx, out| {
            Box::pin(async move { loupe_mcp::term::metrics(ctx, &which, json, out).await })
        }),
        Some(Command::Alerts { api, json }) => run_query(api, |ctx, out| {
            Box::pin(async move { loupe_mcp::term::alerts(ctx, json, out).await })
        }),
        None => run_window(cli.window),
    }
}

fn current_thread() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("loupe: cannot start: {e}");
            ExitCode::from(2)
        })
}

/// `loupe mcp`: the MCP server on stdio (stdout is the protocol's, so
/// messages go to stderr).
fn run_mcp(api: ApiArgs) -> ExitCode {
    let ((base, token), runtime) = match (api.connect(), current_thread()) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    match runtime.block_on(loupe_mcp::serve_stdio(&base, token)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loupe mcp: {e}");
            ExitCode::from(2)
        }
    }
}

type QueryFuture<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<loupe_mcp::term::Outcome, loupe_mcp::tools::ToolError>,
            > + 'a,
    >,
>;

/// A terminal query: its output on stdout, exit 0 (found), 1 (no match)
/// or 2 (error, on stderr).
fn run_query(
    api: ApiArgs,
    query: impl for<'a> FnOnce(&'a loupe_mcp::tools::Ctx<'a>, &'a mut String) -> QueryFuture<'a>,
) -> ExitCode {
    let ((base, token), runtime) = match (api.connect(), current_thread()) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let backend = loupe_mcp::HttpBackend::new(&base).with_token(token);
    let ctx = loupe_mcp::tools::Ctx {
        backend: &backend,
        ui: backend.base().to_string(),
    };
    let mut out = String::new();
    let result = runtime.block_on(query(&ctx, &mut out));
    print!("{out}");
    match result {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(e) => {
            eprintln!("loupe: {e}");
            ExitCode::from(2)
        }
    }
}

/// `loupe logs --follow`: prints until Ctrl-C or a closed stdout.
fn run_follow(api: ApiArgs, search: loupe_mcp::term::LogsArgs, json: bool) -> ExitCode {
    use std::io::Write;
    let ((base, token), runtime) = match (api.connect(), current_thread()) {
        (Ok(b), Ok(r)) => (b, r),
        (Err(c), _) | (_, Err(c)) => return c,
    };
    let backend = loupe_mcp::HttpBackend::new(&base).with_token(token);
    let mut stdout = std::io::stdout();
    let emit = |line: &str| {
        stdout
            .write_all(line.as_bytes())
            .and_then(|_| stdout.flush())
            .is_ok()
    };
    let result = runtime.block_on(async {
        tokio::select! {
            r = loupe_mcp::term::follow(&backend, &search, json, emit) => r,
            _ = crate::signals::shutdown() => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loupe: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(feature = "desktop")]
fn run_window(a: ServeArgs) -> ExitCode {
    match prepare(&a) {
        Ok(config) => crate::desktop::run(config),
        Err(code) => code,
    }
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
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn the_window_takes_serves_options() {
        let cli = Cli::try_parse_from(["loupe", "--api-addr", "127.0.0.1:0"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.window.api_addr, Some("127.0.0.1:0".parse().unwrap()));
        let cli = Cli::try_parse_from(["loupe", "serve", "--api-addr", "127.0.0.1:1"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Serve(a)) if a.api_addr.map(|a| a.port()) == Some(1))
        );
        // Options belong either to the window or to a command, not both.
        assert!(Cli::try_parse_from(["loupe", "--api-addr", "127.0.0.1:0", "serve"]).is_err());
    }

    /// `receiver.max_in_flight` reaches the receiver's in-flight budget from
    /// each layer: file < environment < flag.
    #[test]
    fn max_in_flight_reaches_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "[receiver]\nmax_in_flight = \"16MiB\"\n").unwrap();
        let limit = |args: &[&str], env: Option<&str>| {
            let cli = Cli::try_parse_from(args).unwrap();
            let env = |k: &str| {
                env.filter(|_| k == "LOUPE_RECEIVER_MAX_IN_FLIGHT")
                    .map(String::from)
            };
            let loaded = Loaded::load(Some(&file), &env, cli.window.flags()).unwrap();
            let config = ServeConfig::from_loaded(&loaded, None).unwrap();
            config.receiver.budget.limit()
        };
        assert_eq!(limit(&["loupe"], None), 16 << 20);
        assert_eq!(limit(&["loupe"], Some("32MiB")), 32 << 20);
        assert_eq!(
            limit(&["loupe", "--max-in-flight", "48MiB"], Some("32MiB")),
            48 << 20
        );
        // The default, and a budget too small to be meant.
        let empty = dir.path().join("empty.toml");
        std::fs::write(&empty, "").unwrap();
        let loaded = Loaded::load(Some(&empty), &|_: &str| None, Vec::new()).unwrap();
        let config = ServeConfig::from_loaded(&loaded, None).unwrap();
        assert_eq!(config.receiver.budget.limit(), 16 << 20);
        let env = |k: &str| (k == "LOUPE_RECEIVER_MAX_IN_FLIGHT").then(|| "100KiB".to_string());
        let loaded = Loaded::load(Some(&file), &env, Vec::new()).unwrap();
        assert!(ServeConfig::from_loaded(&loaded, None).is_err());
    }
}
