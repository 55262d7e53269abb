//! `loupe-loadgen`: measures Loupe's ingest and query performance against a
//! real `loupe serve` process, and prints the figures.
//!
//! Requests are encoded once (a template per shape) and only their trace and
//! span IDs are patched per send, so the generator spends its CPU on
//! sending, not encoding. The same run measures a `--discard` server
//! (decode-and-drop) for the ratio.

mod overload;
mod template;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use template::{RawCodec, Template};

#[derive(Parser, Debug, Clone)]
#[command(about = "Ingest and query benchmark for Loupe (starts its own `loupe serve`)")]
struct Args {
    /// The loupe binary [default: `loupe` next to this executable].
    #[arg(long)]
    loupe: Option<PathBuf>,
    /// gRPC connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// Seconds of load per measured phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 1000)]
    spans_per_request: usize,
    #[arg(long, default_value_t = 20)]
    spans_per_trace: usize,
    #[arg(long, default_value_t = 10)]
    attributes: usize,
    /// Skip the decode-and-drop baseline.
    #[arg(long)]
    no_baseline: bool,
    /// After ingest, fill to this many spans (if short) and run the query benchmark.
    #[arg(long)]
    query_spans: Option<u64>,
    /// Keep the database here instead of a temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// OTLP/HTTP clients (protobuf POSTs to /v1/traces) besides the gRPC
    /// connections, each with `--http-in-flight` requests in flight.
    #[arg(long, default_value_t = 0)]
    http_clients: usize,
    #[arg(long, default_value_t = 1)]
    http_in_flight: usize,
    /// Deadline of each export, as an exporter sets it (OTLP's default 10 s).
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    /// While loading, time API reads (trace search, services, /health)
    /// every 50 ms and print their p50/p95: do readers queue behind ingest?
    #[arg(long)]
    api_probe: bool,
    /// Extra `loupe serve` flags (repeatable), e.g. `--serve-arg=--max-db-size=20MiB`.
    #[arg(long = "serve-arg", allow_hyphen_values = true)]
    serve_args: Vec<String>,
    /// Sample the data directory's database and WAL sizes every second and
    /// print the largest (database + WAL) / `--max-db-size` ratio.
    #[arg(long)]
    size_cap: Option<String>,
}

struct Server {
    child: Child,
    grpc: SocketAddr,
    http: SocketAddr,
    api: SocketAddr,
}

impl Server {
    fn start(bin: &Path, dir: &Path, discard: bool, extra: &[String]) -> Result<Server> {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--data-dir"])
            .arg(dir)
            .args([
                "--grpc-addr",
                "127.0.0.1:0",
                "--http-addr",
                "127.0.0.1:0",
                "--api-addr",
                "127.0.0.1:0",
            ])
            .args(["--max-age", "3650d", "--max-db-size", "1000GiB"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if discard {
            cmd.arg("--discard");
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let (mut grpc, mut http, mut api) = (None, None, None);
        while grpc.is_none() || http.is_none() || api.is_none() {
            let Some(Ok(line)) = lines.next() else {
                bail!("loupe serve exited before listening")
            };
            let addr = line
                .rsplit(' ')
                .next()
                .unwrap_or("")
                .trim_start_matches("http://")
                .to_string();
            if line.starts_with("loupe: OTLP/gRPC on ") {
                grpc = Some(addr.parse()?);
            } else if line.starts_with("loupe: OTLP/HTTP on ") {
                http = Some(addr.parse()?);
            } else if line.starts_with("loupe: API and UI on ") {
                api = Some(addr.parse()?);
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Ok(Server {
            child,
            grpc: grpc.unwrap(),
            http: http.unwrap(),
            api: api.unwrap(),
        })
    }

    /// CPU seconds (user + system) used so far, from /proc.
    fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(&format!("/proc/{}/stat", self.child.id()))
    }

    /// Peak resident set size so far, from /proc.
    fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// SIGTERM and wait: the writer drains and checkpoints the WAL.
    fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        Ok(())
    }
}

struct LoadResult {
    spans: u64,
    busy: u64,
    /// gRPC exports past their deadline (`DEADLINE_EXCEEDED`, no retry hint).
    deadline: u64,
    errors: u64,
    http: Option<Arc<overload::HttpCounts>>,
    /// API read latencies during the load (`--api-probe`).
    probe: Vec<(usize, Duration)>,
    elapsed: Duration,
}

impl LoadResult {
    fn rate(&self) -> f64 {
        self.spans as f64 / self.elapsed.as_secs_f64()
    }
}

/// Where the load goes: gRPC always, OTLP/HTTP and the API probe when asked.
#[derive(Clone, Copy)]
struct Target {
    grpc: SocketAddr,
    http: SocketAddr,
    api: SocketAddr,
}

/// Sends stamped copies of `template` for `seconds` from several
/// connections (gRPC, and OTLP/HTTP clients with `--http-clients`).
async fn load(
    to: Target,
    template: Arc<Template>,
    args: &Args,
    next_req: Arc<AtomicU64>,
    seconds: u64,
) -> Result<LoadResult> {
    let spans = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let deadlines = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut tasks = Vec::new();
    let http = (args.http_clients > 0).then(|| Arc::new(overload::HttpCounts::default()));
    if let Some(counts) = &http {
        tasks.extend(overload::spawn_http(
            to.http,
            template.clone(),
            args.http_clients,
            args.http_in_flight,
            timeout,
            next_req.clone(),
            deadline,
            counts.clone(),
        ));
    }
    let probe = args
        .api_probe
        .then(|| overload::spawn_probe(to.api, deadline));
    for _ in 0..args.connections {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", to.grpc))?
            .connect()
            .await?;
        for _ in 0..args.in_flight {
            let channel = channel.clone();
            let (t, spans, busy, deadlines, errors, next) = (
                template.clone(),
                spans.clone(),
                busy.clone(),
                deadlines.clone(),
                errors.clone(),
                next_req.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut grpc = tonic::client::Grpc::new(channel);
                let mut buf = Vec::new();
                while Instant::now() < deadline {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    t.stamp(n, n as u32, &mut buf);
                    if grpc.ready().await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let mut req = tonic::Request::new(bytes::Bytes::copy_from_slice(&buf));
                    req.set_timeout(timeout);
                    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
                        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                    );
                    match grpc.unary(req, path, RawCodec).await {
                        Ok(resp) => {
                            let rejected = resp
                                .into_inner()
                                .partial_success
                                .map(|p| p.rejected_spans)
                                .unwrap_or(0);
                            spans.fetch_add(t.spans as u64 - rejected as u64, Ordering::Relaxed);
                        }
                        Err(s) if s.code() == tonic::Code::Unavailable => {
                            busy.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(s) if s.code() == tonic::Code::DeadlineExceeded => {
                            deadlines.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await?;
    }
    let probe = match probe {
        Some(p) => p.await?,
        None => Vec::new(),
    };
    let http_spans = http.as_ref().map_or(0, |h| h.spans.load(Ordering::Relaxed));
    Ok(LoadResult {
        spans: spans.load(Ordering::Relaxed) + http_spans,
        busy: busy.load(Ordering::Relaxed),
        deadline: deadlines.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        http,
        probe,
        elapsed: start.elapsed(),
    })
}

/// One measured phase: a fresh server under load, then stopped.
struct Phase {
    load: LoadResult,
    /// (database, WAL) bytes, once a second during the load and 5 s after.
    sizes: Vec<(u64, u64)>,
    /// CPU seconds the server and this generator used during the load.
    server_cpu: Option<f64>,
    own_cpu: Option<f64>,
    peak_rss: Option<u64>,
}

async fn phase(
    bin: &Path,
    dir: &Path,
    discard: bool,
    template: Arc<Template>,
    args: &Args,
    next_req: Arc<AtomicU64>,
) -> Result<Phase> {
    let server = Server::start(bin, dir, discard, &args.serve_args)?;
    let (cpu0, own0) = (server.cpu_seconds(), cpu_seconds_of("/proc/self/stat"));
    let to = Target {
        grpc: server.grpc,
        http: server.http,
        api: server.api,
    };
    let sizes = args
        .size_cap
        .as_ref()
        .map(|_| overload::SizeSampler::start(dir));
    let load = load(to, template, args, next_req, args.seconds).await?;
    // Idle after the load: is the WAL truncated, is the size back near the cap?
    let sizes = match sizes {
        Some(s) => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            s.finish()
        }
        None => Vec::new(),
    };
    let (cpu1, own1) = (server.cpu_seconds(), cpu_seconds_of("/proc/self/stat"));
    let peak_rss = server.peak_rss();
    server.stop()?;
    Ok(Phase {
        load,
        sizes,
        server_cpu: cpu0.zip(cpu1).map(|(a, b)| b - a),
        own_cpu: own0.zip(own1).map(|(a, b)| b - a),
        peak_rss,
    })
}

fn cpu_seconds_of(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn time_get(client: &reqwest::Client, url: &str, runs: usize) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let resp = client.get(url).send().await?;
        if !resp.status().is_success() {
            bail!("GET {url}: {}", resp.status());
        }
        let _ = resp.bytes().await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

async fn query_bench(
    bin: &Path,
    dir: &Path,
    args: &Args,
    target: u64,
    next_req: Arc<AtomicU64>,
) -> Result<()> {
    let server = Server::start(bin, dir, false, &args.serve_args)?;
    let counts = loupe_store::Store::open_reader_only(dir)?.counts()?;
    if counts.spans < target {
        println!(
            "filling the store to {target} spans (has {}) …",
            counts.spans
        );
        let t = Arc::new(Template::build(
            args.spans_per_request,
            args.spans_per_trace,
            args.attributes,
        ));
        while loupe_store::Store::open_reader_only(dir)?.counts()?.spans < target {
            let to = Target {
                grpc: server.grpc,
                http: server.http,
                api: server.api,
            };
            let quiet = Args {
                http_clients: 0,
                api_probe: false,
                ..args.clone()
            };
            load(to, t.clone(), &quiet, next_req.clone(), 5).await?;
        }
    }
    // One 10k-span trace: ten requests of 1000 spans sharing a trace ID.
    let big = Template::build(1000, 1000, args.attributes);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))?
        .connect()
        .await?;
    let mut grpc = tonic::client::Grpc::new(channel);
    let trace_key = u64::MAX / 3;
    let mut buf = Vec::new();
    for part in 0..10u32 {
        big.stamp(trace_key, part, &mut buf);
        grpc.ready().await?;
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        );
        grpc.unary(
            tonic::Request::new(bytes::Bytes::copy_from_slice(&buf)),
            path,
            RawCodec,
        )
        .await?;
    }
    let trace_id = hex_of(&big.trace_id(trace_key, 0));
    let counts = loupe_store::Store::open_reader_only(dir)?.counts()?;
    println!("store: {} spans in {} traces", counts.spans, counts.traces);
    let client = reqwest::Client::new();
    let url = format!("http://{}/api/v1/traces/{trace_id}", server.api);
    let body: serde_json::Value = client.get(&url).send().await?.json().await?;
    let n: usize = body["resourceSpans"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
                .map(|s| s["spans"].as_array().map(|a| a.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    time_get(&client, &url, 5).await?;
    let mut t = time_get(&client, &url, 30).await?;
    t.sort();
    println!(
        "GET /api/v1/traces/{{id}} ({n} spans, warm, 30 runs): p50 {}  p95 {}  max {}",
        ms(percentile(&t, 0.5)),
        ms(percentile(&t, 0.95)),
        ms(*t.last().unwrap())
    );

    let searches: Vec<String> = (0..50)
        .map(|i| match i % 5 {
            0 => format!("attr=kestra.flowId=flow_{}", i % 20),
            1 => format!(
                "attr=kestra.namespace=company.ns{}&attr=http.response.status_code>=500",
                i % 5
            ),
            2 => format!(
                "service=kestra&spanName=WORKER%20-%20io.kestra.plugin.core.task{}",
                i % 8
            ),
            3 => format!("attr=kestra.taskId=task_{}&errors=true", i % 20),
            _ => format!(
                "attr=kestra.executionId={}",
                template::execution_id(i as usize % 50)
            ),
        })
        .collect();
    let mut all = Vec::new();
    for q in &searches {
        let url = format!("http://{}/api/v1/traces?{q}&limit=20", server.api);
        time_get(&client, &url, 1).await?;
        all.extend(time_get(&client, &url, 3).await?);
    }
    all.sort();
    println!(
        "GET /api/v1/traces?attr=… (50 searches × 3, warm): p50 {}  p95 {}  max {}",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.95)),
        ms(*all.last().unwrap())
    );
    server.stop()
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let bin = match &args.loupe {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.with_file_name("loupe"),
    };
    if !bin.exists() {
        bail!("{} not found: build it first (cargo build --release --no-default-features) or pass --loupe", bin.display());
    }
    let template = Arc::new(Template::build(
        args.spans_per_request,
        args.spans_per_trace,
        args.attributes,
    ));
    println!(
        "workload: {} spans/request, {} spans/trace, {} attributes/span, {} B/request encoded; {} connections × {} in flight, {} s per phase",
        template.spans, args.spans_per_trace, args.attributes, template.len(), args.connections, args.in_flight, args.seconds
    );
    let tmp = tempfile::tempdir()?;
    let next_req = Arc::new(AtomicU64::new(1));

    let baseline = if args.no_baseline {
        None
    } else {
        let dir = tmp.path().join("discard");
        let p = phase(&bin, &dir, true, template.clone(), &args, next_req.clone()).await?;
        println!(
            "decode-and-drop: {:.0} spans/s ({} spans in {:.1} s)",
            p.load.rate(),
            p.load.spans,
            p.load.elapsed.as_secs_f64()
        );
        Some(p.load.rate())
    };

    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().join("store"));
    let p = phase(&bin, &dir, false, template.clone(), &args, next_req.clone()).await?;
    let (r, rss) = (&p.load, p.peak_rss);
    let stored = loupe_store::Store::open_reader_only(&dir)?.counts()?;
    println!(
        "persisted: {:.0} spans/s ({} spans acknowledged in {:.1} s; {} busy answers, {} errors)",
        r.rate(),
        r.spans,
        r.elapsed.as_secs_f64(),
        r.busy,
        r.errors
    );
    if r.deadline > 0 {
        println!("gRPC exports past their deadline: {}", r.deadline);
    }
    if let Some(h) = &r.http {
        println!(
            "OTLP/HTTP: {} spans acknowledged; {} answers 503, {} timeouts, {} errors",
            h.spans.load(Ordering::Relaxed),
            h.busy.load(Ordering::Relaxed),
            h.timeouts.load(Ordering::Relaxed),
            h.errors.load(Ordering::Relaxed)
        );
    }
    if !r.probe.is_empty() {
        let mut t: Vec<Duration> = r.probe.iter().map(|(_, d)| *d).collect();
        t.sort();
        println!(
            "API during the load ({} reads: trace list, services, /health): p50 {}  p95 {}  max {}",
            t.len(),
            ms(overload::percentile(&t, 0.5)),
            ms(overload::percentile(&t, 0.95)),
            ms(*t.last().unwrap_or(&Duration::ZERO))
        );
        // Which read is slow: the query, or everything alike (CPU)?
        for (k, what) in overload::PROBE_READS.iter().enumerate() {
            let mut t: Vec<Duration> = r
                .probe
                .iter()
                .filter(|(i, _)| *i == k)
                .map(|(_, d)| *d)
                .collect();
            t.sort();
            if !t.is_empty() {
                println!(
                    "  {what}: p50 {}  p95 {}",
                    ms(overload::percentile(&t, 0.5)),
                    ms(overload::percentile(&t, 0.95))
                );
            }
        }
    }
    if let Some(cap) = args.size_cap.as_deref() {
        let cap_bytes = overload::parse_size(cap).context("--size-cap: a size like 20MiB")?;
        let ratios: Vec<f64> = p
            .sizes
            .iter()
            .map(|(db, wal)| (db + wal) as f64 / cap_bytes as f64)
            .collect();
        let max = ratios.iter().cloned().fold(0.0, f64::max);
        let over = ratios.iter().filter(|r| **r > 1.1).count();
        let (db, wal) = p.sizes.last().copied().unwrap_or((0, 0));
        println!(
            "size cap {cap}: {} samples, max (database + WAL) / cap {:.2}, {} samples above 1.1; 5 s idle after the load: database {} B, WAL {} B, ratio {:.2}",
            ratios.len(),
            max,
            over,
            db,
            wal,
            (db + wal) as f64 / cap_bytes as f64
        );
    }
    if let Some(b) = baseline {
        println!("ratio persisted / decode-and-drop: {:.2}", r.rate() / b);
    }
    let bytes = dir_bytes(&dir);
    println!(
        "on disk: {} bytes for {} stored spans = {:.0} B/span",
        bytes,
        stored.spans,
        bytes as f64 / stored.spans.max(1) as f64
    );
    if stored.spans != r.spans && args.size_cap.is_none() {
        println!(
            "WARNING: acknowledged {} spans but {} are stored",
            r.spans, stored.spans
        );
    }
    if let (Some(server), Some(own)) = (p.server_cpu, p.own_cpu) {
        println!(
            "CPU: loupe serve {:.2} cores ({:.1} µs/span), load generator {:.2} cores",
            server / r.elapsed.as_secs_f64(),
            server * 1e6 / r.spans.max(1) as f64,
            own / r.elapsed.as_secs_f64()
        );
    }
    if let Some(rss) = rss {
        println!("peak RSS of loupe serve: {:.1} MB", rss as f64 / 1e6);
    }
    if let Some(target) = args.query_spans {
        query_bench(&bin, &dir, &args, target, next_req).await?;
    }
    Ok(())
}
