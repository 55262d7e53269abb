//! `loupe replay FILE… --to ENDPOINT`: sends a captured bundle — OTLP JSON
//! Lines as `loupe export` writes them, OTLP protobuf, OTLP JSON, or a Loupe
//! HTML report (which embeds its data) — to any OTLP endpoint, so a
//! maintainer can look at a reporter's capture in their own tools.
//!
//! Reading is the importer's ([`loupe_export::import::read_batches`]: same
//! formats, size limits and validation, nothing stored); sending is
//! forwarding's export call ([`loupe_forward::Exporter`], gRPC or HTTP).
//! In between, [`plan`] puts every span, log record and metric at the time
//! it was exported (a span when it ended) and cuts them into requests, and
//! [`send`] sends each request at its offset divided by the speed, so the
//! receiving side sees the bundle arrive as it did (`--speed 1x`), faster
//! (`10x`) or at once (`max`). `--shift-to-now` moves every timestamp by
//! one amount so the first export is now (relative timing is exact);
//! `--fresh-ids` gives every trace and span a new ID, consistently, so
//! parent IDs and span links still join ([`ids`]).
//!
//! The bundle is sent as it is in the file: it was redacted when it was
//! exported, and a replay is the user sending their own file on purpose.

pub mod ids;
mod plan;
pub mod progress;
mod shift;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use loupe_export::import::{read_batches, ReadReport, MAX_FILE_BYTES};
use loupe_export::ImportError;
use loupe_forward::SendError;
use loupe_model::sink::Batch;

pub use loupe_forward::{Exporter, Protocol};

/// The exporter for `endpoint` (as [`endpoint`] writes it); nothing
/// connects until the first request.
pub fn exporter(
    endpoint: &str,
    protocol: Protocol,
    timeout: Duration,
) -> Result<Exporter, ReplayError> {
    if !endpoint.starts_with("http://") {
        return Err(ReplayError::Scheme(endpoint.to_string()));
    }
    Exporter::new(endpoint, protocol, timeout).map_err(|e| ReplayError::Endpoint {
        endpoint: endpoint.to_string(),
        message: match e {
            loupe_forward::ForwardError::Client { message, .. } => message,
            other => other.to_string(),
        },
    })
}
pub use plan::{Plan, Step, MAX_ITEMS_PER_REQUEST, WINDOW_NS};

/// How fast to replay: a factor of the bundle's own pace, or at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Factor(f64),
    Max,
}

/// Largest speed factor (`1000000x`): past that every offset rounds to zero anyway.
const MAX_FACTOR: f64 = 1e6;

impl FromStr for Speed {
    type Err = ReplayError;
    /// `1x`, `10x`, `0.5x` (the `x` is optional) or `max`.
    fn from_str(s: &str) -> Result<Speed, ReplayError> {
        let t = s.trim().to_ascii_lowercase();
        if t == "max" {
            return Ok(Speed::Max);
        }
        let n = t.strip_suffix('x').unwrap_or(&t);
        match n.parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 && f <= MAX_FACTOR => Ok(Speed::Factor(f)),
            _ => Err(ReplayError::Speed(s.to_string())),
        }
    }
}

impl Speed {
    /// Replay time for an offset in the bundle's time.
    pub fn delay(self, offset_ns: u64) -> Duration {
        match self {
            Speed::Max => Duration::ZERO,
            Speed::Factor(f) => Duration::from_nanos((offset_ns as f64 / f) as u64),
        }
    }

    /// The bundle-time window of one request (see [`WINDOW_NS`]).
    fn window_ns(self) -> Option<u64> {
        match self {
            Speed::Max => None,
            Speed::Factor(f) => Some((WINDOW_NS as f64 * f).min(u64::MAX as f64) as u64),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub speed: Speed,
    pub shift_to_now: bool,
    pub fresh_ids: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("--speed {0:?}: expected 1x, 10x, 0.5x… (a factor above 0, at most 1000000) or max")]
    Speed(String),
    #[error("--protocol {0:?}: expected grpc or http")]
    Protocol(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Bundle { path: PathBuf, source: ImportError },
    #[error("--to {0:?}: not an http:// endpoint (TLS is not built in; a local Collector can forward over TLS)")]
    Scheme(String),
    #[error("--to {endpoint:?}: {message}")]
    Endpoint { endpoint: String, message: String },
    #[error("the endpoint refused request {step} of {steps}: {message}")]
    Refused {
        step: usize,
        steps: usize,
        message: String,
    },
    #[error("the endpoint did not answer request {step} of {steps} after {attempts} attempts: {message}")]
    Unreachable {
        step: usize,
        steps: usize,
        attempts: u32,
        message: String,
    },
    #[error("nothing to replay: the files hold no spans, log records or metrics")]
    Empty,
    #[error("the files hold more than {limit} bytes together, the most one replay reads")]
    TooLarge { limit: u64 },
}

/// `grpc` or `http`.
pub fn protocol(s: &str) -> Result<Protocol, ReplayError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http" => Ok(Protocol::Http),
        _ => Err(ReplayError::Protocol(s.to_string())),
    }
}

/// `host:port` becomes `http://host:port`; a URL is kept (TLS is not built
/// in: the exporter refuses `https://` with a hint). A signal's path
/// (`/v1/traces`, as an OTLP/HTTP endpoint is often written) is dropped:
/// the exporter appends each signal's own.
pub fn endpoint(s: &str) -> String {
    let mut s = s.trim().trim_end_matches('/');
    for path in ["/v1/traces", "/v1/logs", "/v1/metrics"] {
        s = s.strip_suffix(path).unwrap_or(s);
    }
    if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

/// The files' batches, in order, and what reading each found.
#[derive(Debug, Default)]
pub struct Bundle {
    pub batches: Vec<Batch>,
    pub files: Vec<(PathBuf, ReadReport)>,
}

/// Most bytes (inflated) all files of one replay may hold together: a
/// replay orders every item by time, so the whole bundle is in memory.
pub const MAX_BUNDLE_BYTES: u64 = MAX_FILE_BYTES as u64;

/// Reads bundle files: each as the importer reads it (formats, limits,
/// validation; a file with nothing readable is an error), together at most
/// [`MAX_BUNDLE_BYTES`].
pub fn load(paths: &[PathBuf]) -> Result<Bundle, ReplayError> {
    let mut out = Bundle::default();
    let mut bytes_read = 0u64;
    for path in paths {
        let bundle_err = |source| ReplayError::Bundle {
            path: path.clone(),
            source,
        };
        let read_err = |source| ReplayError::Read {
            path: path.clone(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_err)?.len();
        if size > MAX_FILE_BYTES as u64 {
            return Err(bundle_err(ImportError::TooLarge {
                size,
                limit: MAX_FILE_BYTES,
            }));
        }
        let bytes = std::fs::read(path).map_err(read_err)?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let report = read_batches(
            &bytes,
            &name,
            &mut |b| {
                out.batches.push(b);
                Ok(())
            },
            &mut |_| true,
        )
        .map_err(bundle_err)?;
        bytes_read = bytes_read.saturating_add(report.bytes);
        if bytes_read > MAX_BUNDLE_BYTES {
            return Err(ReplayError::TooLarge {
                limit: MAX_BUNDLE_BYTES,
            });
        }
        out.files.push((path.clone(), report));
    }
    Ok(out)
}

/// Fresh IDs, then the schedule (shifted if asked). `now` is the time the
/// first export gets with `shift_to_now`.
pub fn prepare(mut batches: Vec<Batch>, opts: &Options, now: u64) -> Result<Plan, ReplayError> {
    if opts.fresh_ids {
        let fresh = ids::FreshIds::default();
        batches.iter_mut().for_each(|b| fresh.apply(b));
    }
    let shift_to = opts.shift_to_now.then_some(now);
    let p = plan::plan(batches, opts.speed.window_ns(), shift_to);
    if p.items == 0 {
        return Err(ReplayError::Empty);
    }
    Ok(p)
}

/// Where a replay is, after each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progressed {
    pub step: usize,
    pub steps: usize,
    pub items: usize,
    pub total_items: usize,
}

/// Attempts per request when the endpoint is unreachable or busy.
const ATTEMPTS: u32 = 5;

/// Sends the plan's requests at their offsets divided by the speed;
/// `progress` is called after each. A request the endpoint refuses stops
/// the replay (a retryable failure is retried with backoff first).
pub async fn send(
    plan: &Plan,
    exporter: &Exporter,
    speed: Speed,
    progress: &mut dyn FnMut(Progressed),
) -> Result<Duration, ReplayError> {
    let start = Instant::now();
    let steps = plan.steps.len();
    let mut items = 0;
    for (i, step) in plan.steps.iter().enumerate() {
        tokio::time::sleep_until((start + speed.delay(step.offset_ns)).into()).await;
        for batch in &step.batches {
            send_one(exporter, batch, i + 1, steps).await?;
        }
        items += step.items;
        progress(Progressed {
            step: i + 1,
            steps,
            items,
            total_items: plan.items,
        });
    }
    Ok(start.elapsed())
}

async fn send_one(
    exporter: &Exporter,
    batch: &Batch,
    step: usize,
    steps: usize,
) -> Result<(), ReplayError> {
    let mut pause = Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match exporter.send(batch).await {
            Ok(()) => return Ok(()),
            Err(SendError::Permanent(message)) => {
                return Err(ReplayError::Refused {
                    step,
                    steps,
                    message,
                })
            }
            Err(SendError::Retryable(message)) if attempt == ATTEMPTS => {
                return Err(ReplayError::Unreachable {
                    step,
                    steps,
                    attempts: ATTEMPTS,
                    message,
                })
            }
            Err(SendError::Retryable(_)) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_and_endpoints_parse_as_documented() {
        assert_eq!("1x".parse::<Speed>().unwrap(), Speed::Factor(1.0));
        assert_eq!("10X".parse::<Speed>().unwrap(), Speed::Factor(10.0));
        assert_eq!("0.5".parse::<Speed>().unwrap(), Speed::Factor(0.5));
        assert_eq!("max".parse::<Speed>().unwrap(), Speed::Max);
        for bad in ["0x", "-1x", "fast", "nanx", "infx", "2000000x"] {
            assert!(bad.parse::<Speed>().is_err(), "{bad}");
        }
        assert_eq!(
            Speed::Factor(10.0).delay(2_000_000_000),
            Duration::from_millis(200)
        );
        assert_eq!(Speed::Max.delay(u64::MAX), Duration::ZERO);
        assert_eq!(endpoint("localhost:4317"), "http://localhost:4317");
        assert_eq!(
            endpoint("http://127.0.0.1:4318/v1/traces"),
            "http://127.0.0.1:4318"
        );
        assert_eq!(endpoint("https://x:4318/"), "https://x:4318");
        assert!(protocol("GRPC").is_ok() && protocol("http").is_ok());
        assert!(protocol("http/json").is_err());
    }

    #[test]
    fn a_file_with_nothing_readable_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("loupe-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("notes.jsonl");
        std::fs::write(&bad, "{\"resourceSpans\": 3}\n").unwrap();
        let err = load(std::slice::from_ref(&bad)).unwrap_err();
        assert!(
            matches!(&err, ReplayError::Bundle { path, .. } if path == &bad),
            "{err}"
        );
        let missing = dir.join("missing.jsonl");
        assert!(matches!(
            load(&[missing]).unwrap_err(),
            ReplayError::Read { .. }
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
