//! `loupe replay`: flags into `loupe_replay`'s options, then read, plan and
//! send, with progress on stderr and the summary on stdout. The work is
//! `loupe_replay`'s.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use loupe_replay::{Options, Speed};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Bundle files, sent as one timeline: OTLP JSON Lines (`loupe export`), OTLP JSON,
    /// OTLP protobuf (also gzipped), Loupe HTML reports.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The OTLP endpoint: host:port or http://host:port (gRPC: 4317; HTTP: 4318, /v1/… appended).
    #[arg(long, value_name = "ENDPOINT")]
    to: String,
    /// grpc, or http (OTLP/HTTP protobuf).
    #[arg(long, default_value = "grpc", value_name = "PROTOCOL")]
    protocol: String,
    /// 1x: at the pace the items were exported; 10x: ten times faster (any factor); max: at once.
    #[arg(long, default_value = "1x", value_name = "SPEED")]
    speed: String,
    /// Move every timestamp by one amount so that the first export is now.
    #[arg(long)]
    shift_to_now: bool,
    /// New trace and span IDs, the same new ID for every reference to an old one
    /// (parents, span links, logs, exemplars).
    #[arg(long)]
    fresh_ids: bool,
}

/// How long one request may take before it is retried.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Exit 0: everything sent; 2: a flag, a file or the endpoint failed.
pub fn run(a: ReplayArgs) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("loupe replay: {e}");
        ExitCode::from(2)
    };
    let speed = match a.speed.parse::<Speed>() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let protocol = match loupe_replay::protocol(&a.protocol) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let opts = Options {
        speed,
        shift_to_now: a.shift_to_now,
        fresh_ids: a.fresh_ids,
    };
    let endpoint = loupe_replay::endpoint(&a.to);
    let bundle = match loupe_replay::load(&a.files) {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    for (path, r) in &bundle.files {
        report_file(path, r);
    }
    let plan = match loupe_replay::prepare(bundle.batches, &opts, loupe_model::time::now_ns()) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    // The exporter's gRPC channel is made on the runtime it will run on.
    let _entered = runtime.enter();
    let exporter = match loupe_replay::exporter(&endpoint, protocol, TIMEOUT) {
        Ok(x) => x,
        Err(e) => return fail(&e),
    };
    let took_bundle = match speed {
        Speed::Max => "at once".to_string(),
        Speed::Factor(f) => format!(
            "over {} ({} of bundle time at {f}x)",
            loupe_model::duration::format(speed.delay(plan.span_ns).as_nanos() as u64),
            loupe_model::duration::format(plan.span_ns)
        ),
    };
    eprintln!(
        "loupe replay: {} in {} {took_bundle}, to {endpoint} ({})",
        count(plan.items, "item"),
        count(plan.steps.len(), "request"),
        protocol.as_str()
    );
    let stderr = std::io::stderr();
    let tty = stderr.is_terminal();
    let mut bar = loupe_replay::progress::Reporter::new(stderr, tty);
    match runtime.block_on(loupe_replay::send(&plan, &exporter, speed, &mut |p| {
        bar.update(p)
    })) {
        Ok(took) => {
            println!(
                "loupe replay: sent {} in {} to {endpoint} in {:.1} s",
                count(plan.items, "item"),
                count(plan.steps.len(), "request"),
                took.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// What reading a file found that the user should know: its format, and
/// what was dropped or skipped (as `loupe import` says it).
fn report_file(path: &std::path::Path, r: &loupe_export::import::ReadReport) {
    eprintln!(
        "loupe replay: {} ({}): {}",
        path.display(),
        r.format.name(),
        count(r.requests as usize, "request")
    );
    crate::transfer::print_read_problems(
        "loupe replay",
        path,
        r.rejected,
        r.skipped_count,
        &r.skipped,
    );
}

/// "1 request", "2 requests".
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
