//! Retention on a real database: age and size limits delete the
//! oldest-arrived data, in the background, while the newest stays.

use std::time::{Duration, Instant};

use loupe_model::ids::TraceId;
use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::metrics::{
    metric::Data, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::read::Counts;
use loupe_store::{Retention, Store, WriterConfig};

fn trace(seed: u64, start: u64, spans: usize) -> ([u8; 16], ExportTraceServiceRequest) {
    let mut tid = [0u8; 16];
    tid[..8].copy_from_slice(&seed.to_be_bytes());
    tid[15] = 1;
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: tid.to_vec(),
            span_id: ((i as u64 + 1) << 8 | 1).to_be_bytes().to_vec(),
            name: format!("WORKER - task {i}"),
            start_time_unix_nano: start + i as u64,
            end_time_unix_nano: start + i as u64 + 1000,
            attributes: vec![KeyValue {
                key: "payload".into(),
                // Incompressible-ish, so the database really grows.
                value: Some(AnyValue {
                    value: Some(Value::StringValue(noise(seed * 1000 + i as u64))),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    (tid, request_of(spans))
}

/// 256 hex digits that zstd cannot shrink much.
fn noise(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        })
        .collect()
}

fn logs(time: u64, n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: time + i as u64,
                        body: Some(AnyValue {
                            value: Some(Value::StringValue(format!("record {i}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn write(store: &Store, batch: Batch) {
    store
        .writer
        .submit(batch)
        .expect("submit")
        .wait()
        .await
        .expect("commit");
}

/// Polls `cond` until it holds or the deadline passes.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const DAY: u64 = 24 * 3600 * 1_000_000_000;

fn gauge(name: &str, time: u64, n: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: (0..n)
                            .map(|i| NumberDataPoint {
                                time_unix_nano: time + i as u64,
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn week_limit(dir: &std::path::Path) -> Store {
    Store::open(
        dir,
        WriterConfig {
            retention: Retention {
                max_bytes: u64::MAX,
                max_age: Duration::from_secs(7 * 24 * 3600),
            },
            ..Default::default()
        },
    )
    .unwrap()
}

/// Age goes by arrival: a bundle whose data is 30 days old (or timestamped
/// zero) survives retention passes with a 7-day limit right after it was
/// stored; it goes once it has been stored for longer than the limit (the
/// writer's clock moved 8 days ahead), and what arrived since stays.
#[tokio::test]
async fn month_old_data_stays_until_its_arrival_is_older_than_max_age() {
    let dir = tempfile::tempdir().unwrap();
    let store = week_limit(dir.path());
    let month_ago = now_ns() - 30 * DAY;
    let (old, req) = trace(1, month_ago, 5);
    write(&store, Batch::Traces(req)).await;
    let (zero, req) = trace(2, 0, 2);
    write(&store, Batch::Traces(req)).await;
    write(&store, Batch::Logs(logs(month_ago, 3))).await;
    write(&store, Batch::Metrics(gauge("queue.depth", month_ago, 4))).await;
    let stored = Counts {
        traces: 2,
        spans: 7,
        log_records: 3,
        data_points: 4,
    };
    let r = store.reader.clone();
    assert_eq!(r.counts().unwrap(), stored);

    // The idle writer runs a retention step every 0.5 s: several pass here.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(r.counts().unwrap(), stored, "nothing deleted by age");
    assert_eq!(store.writer.stats().retention_deleted.get(), 0);
    assert!(r.trace(TraceId(old)).unwrap().is_some());
    assert!(r.trace(TraceId(zero)).unwrap().is_some());

    // Eight days later, by the writer's clock: a month-old bundle arrives.
    store
        .writer
        .inject_clock_ahead(Duration::from_nanos(8 * DAY));
    let (fresh, req) = trace(3, month_ago, 5);
    write(&store, Batch::Traces(req)).await;
    write(&store, Batch::Logs(logs(month_ago - 1_000, 2))).await;
    write(&store, Batch::Metrics(gauge("queue.length", month_ago, 1))).await;
    eventually("what arrived 8 days ago deleted", || {
        r.counts().unwrap()
            == Counts {
                traces: 1,
                spans: 5,
                log_records: 2,
                data_points: 1,
            }
    })
    .await;
    assert!(r.trace(TraceId(old)).unwrap().is_none());
    assert!(r.trace(TraceId(zero)).unwrap().is_none());
    let kept = r
        .trace(TraceId(fresh))
        .unwrap()
        .expect("the new arrival stays");
    assert_eq!(kept.resource_spans[0].scope_spans[0].spans.len(), 5);
}

/// A trace's arrival is its last new span's: spans that keep coming keep
/// the whole trace, even when its first spans arrived longer ago than the
/// limit.
#[tokio::test]
async fn a_trace_lives_from_its_last_new_span() {
    let dir = tempfile::tempdir().unwrap();
    let store = week_limit(dir.path());
    let now = now_ns();
    let (tid, first) = trace(4, now, 2);
    write(&store, Batch::Traces(first)).await;
    store
        .writer
        .inject_clock_ahead(Duration::from_nanos(6 * DAY));
    // Two more spans of the same trace (span IDs 3 and 4), 6 days later.
    let (_, mut more) = trace(4, now, 4);
    more.resource_spans[0].scope_spans[0].spans.drain(..2);
    write(&store, Batch::Traces(more)).await;
    // 10 days after the first spans, 4 after the last.
    store
        .writer
        .inject_clock_ahead(Duration::from_nanos(10 * DAY));
    let (other, req) = trace(5, now, 1);
    write(&store, Batch::Traces(req)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = store.reader.clone();
    let kept = r
        .trace(TraceId(tid))
        .unwrap()
        .expect("the trace stays whole");
    assert_eq!(
        kept.resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum::<usize>(),
        4
    );
    assert!(r.trace(TraceId(other)).unwrap().is_some());
    // 15 days after its last span, it goes.
    store
        .writer
        .inject_clock_ahead(Duration::from_nanos(14 * DAY));
    eventually("the trace deleted", || {
        r.trace(TraceId(tid)).unwrap().is_none()
    })
    .await;
}

#[tokio::test]
async fn the_oldest_data_goes_when_the_database_outgrows_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes = 2 << 20;
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention {
                max_bytes,
                max_age: Duration::from_secs(365 * 24 * 3600),
            },
            ..Default::default()
        },
    )
    .unwrap();
    let now = now_ns();
    let mut ids = Vec::new();
    // About 8 MiB of spans, oldest first.
    for seed in 0..400u64 {
        let (tid, req) = trace(seed + 10, now - (400 - seed) * 1_000_000_000, 20);
        write(&store, Batch::Traces(req)).await;
        ids.push(tid);
    }
    let r = store.reader.clone();
    eventually("live size back under the limit", || {
        r.live_bytes().unwrap() <= max_bytes
    })
    .await;
    let newest = *ids.last().unwrap();
    assert!(
        r.trace(TraceId(newest)).unwrap().is_some(),
        "the newest trace stays"
    );
    assert!(
        r.trace(TraceId(ids[0])).unwrap().is_none(),
        "the oldest trace goes"
    );
    let c = r.counts().unwrap();
    assert!(c.traces < 400 && c.traces > 0, "{c:?}");
    // Every remaining trace is whole: retention deletes traces, not spans.
    assert_eq!(c.spans, c.traces * 20);
}

/// Issue 13: an import's entry says when its data expires: the age limit
/// counted from the import, whatever the data's own timestamps.
#[tokio::test]
async fn an_import_entry_says_when_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = week_limit(dir.path());
    let (_, req) = trace(9, now_ns() - 30 * DAY, 3);
    write(&store, Batch::Traces(req)).await;
    let before = now_ns();
    store
        .writer
        .record_import(loupe_store::ImportRecord {
            source: "month-old.jsonl".into(),
            format: "otlp-json".into(),
            bytes: 100,
            spans: 3,
            log_records: 0,
            data_points: 0,
            skipped: 0,
        })
        .unwrap()
        .wait()
        .await
        .unwrap();
    let list = store.reader.imports().unwrap();
    assert_eq!(list.len(), 1);
    let entry = &list[0];
    assert!(entry.last_imported_unix_nano >= before);
    assert_eq!(
        entry.expires_unix_nano,
        entry.last_imported_unix_nano + 7 * DAY,
        "kept a week from the import, not from the data's month-old clock"
    );
}

/// A store with only a size cap (the age limit a year away).
fn capped_store(dir: &std::path::Path, max_bytes: u64) -> std::sync::Arc<Store> {
    std::sync::Arc::new(
        Store::open(
            dir,
            WriterConfig {
                retention: Retention {
                    max_bytes,
                    max_age: Duration::from_secs(365 * 24 * 3600),
                },
                ..Default::default()
            },
        )
        .unwrap(),
    )
}

/// Samples (database, WAL) bytes every `every` until `done`.
fn sample_sizes(
    store: &std::sync::Arc<Store>,
    done: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    every: Duration,
) -> std::thread::JoinHandle<Vec<(u64, u64)>> {
    let (store, done) = (store.clone(), done.clone());
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            samples.push((store.db_bytes(), store.wal_bytes()));
            std::thread::sleep(every);
        }
        samples
    })
}

/// Issue 13, item 4: the size cap bounds what is on disk, database file +
/// WAL, not only the pages in use. Four writers keep the writer busy with
/// about 10× the cap of spans while a reader queries all along (readers in
/// the WAL must not keep it from wrapping around); database + WAL is
/// sampled every 20 ms and must stay within the documented margin
/// (ARCHITECTURE.md: 1.1 × the cap), and once ingest is idle the WAL is
/// truncated and the total is at most the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_and_wal_stay_within_the_cap_under_sustained_load() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes: u64 = 4 << 20;
    let store = capped_store(dir.path(), max_bytes);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_sizes(&store, &done, Duration::from_millis(20));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                store.reader.counts().unwrap();
            }
        })
    };
    let now = now_ns();
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // 4 × 500 traces × 20 spans × ~300 B ≈ 12 × the cap.
            for i in 0..500u64 {
                let seed = 10 + w * 100_000 + i;
                let (_, req) = trace(seed, now + i, 20);
                write(&store, Batch::Traces(req)).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let samples = sampler.join().unwrap();
    reader.join().unwrap();
    let ratio = |(db, wal): (u64, u64)| (db + wal) as f64 / max_bytes as f64;
    let worst = samples.iter().copied().map(ratio).fold(0.0, f64::max);
    let over = samples.iter().filter(|s| ratio(**s) > 1.1).count();
    eprintln!(
        "{} samples, max (database + WAL) / cap {worst:.2}, {over} above 1.1",
        samples.len()
    );
    for s in samples.iter().filter(|s| ratio(**s) > 1.0) {
        eprintln!("above the cap: database {} B, WAL {} B", s.0, s.1);
    }
    assert!(samples.len() > 10);
    assert!(worst <= 1.1, "database + WAL reached {worst:.2} × the cap");
    // Idle: the WAL is truncated, the total is at most the cap.
    eventually("WAL truncated when idle", || store.wal_bytes() == 0).await;
    let idle = store.db_bytes() + store.wal_bytes();
    eprintln!(
        "idle: database {} B, WAL {} B",
        store.db_bytes(),
        store.wal_bytes()
    );
    assert!(idle <= max_bytes, "idle: {idle} B on disk, cap {max_bytes}");
    let c = store.reader.counts().unwrap();
    assert!(c.traces > 0 && c.spans == c.traces * 20, "{c:?}");
}

/// A load-generator-like request: `traces` traces of 20 spans, 10
/// attributes each, one of them with a value per span (a task-run ID), so
/// its postings land on many pages of the attribute index.
fn wide_request(seed: u64, traces: u64) -> ExportTraceServiceRequest {
    let kv = |k: &str, v: String| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v)),
        }),
        ..Default::default()
    };
    let spans = (0..traces * 20)
        .map(|i| {
            let (t, k) = (i / 20, i % 20);
            let mut tid = [0u8; 16];
            tid[..8].copy_from_slice(&seed.to_be_bytes());
            tid[8..].copy_from_slice(&(t + 1).to_be_bytes());
            Span {
                trace_id: tid.to_vec(),
                span_id: (i + 1).to_be_bytes().to_vec(),
                name: format!("WORKER - task{}", k % 8),
                start_time_unix_nano: now_ns() + k,
                end_time_unix_nano: now_ns() + k + 1000,
                attributes: vec![
                    kv("kestra.namespace", format!("company.ns{}", t % 5)),
                    kv("kestra.flowId", format!("flow_{}", t % 20)),
                    kv("kestra.executionId", format!("{seed}-{t}")),
                    kv("kestra.taskId", format!("task_{k}")),
                    kv("kestra.taskRunId", format!("{seed}-{t}-{k}")),
                    kv("http.request.method", "GET".into()),
                    kv("thread.name", format!("worker-{}", k % 8)),
                    kv("code.function", format!("run{}", k % 4)),
                    kv("kestra.attempt", "1".into()),
                    kv("payload", noise(seed * 100_000 + i)),
                ],
                ..Default::default()
            }
        })
        .collect();
    request_of(spans)
}

/// Issue 13, item 4, with requests whose one commit would write a large
/// share of the cap to the WAL (1,000 spans with a distinct attribute value
/// each: about 1,000 pages of postings, 4 MB, twice this cap): the writer
/// splits them into transactions of whole traces within the WAL limit and
/// holds ingest until one more transaction fits, so database + WAL stay
/// within 1.1 × the cap at every sample by construction. A batch refused
/// meanwhile (retryable) is sent again, as an exporter would.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_of_a_large_request_stays_within_the_margin() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes: u64 = 2 << 20;
    let store = capped_store(dir.path(), max_bytes);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = sample_sizes(&store, &done, Duration::from_millis(10));
    let mut tasks = Vec::new();
    for w in 0..2u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            // 2 × 6 × 1,000 spans of ~500 B: about 3 × the cap.
            for i in 0..6u64 {
                let req = wide_request(1 + w * 1000 + i, 50);
                loop {
                    match store.writer.submit(Batch::Traces(req.clone())) {
                        Ok(ticket) => match ticket.wait().await {
                            Ok(()) => break,
                            Err(e) if e.retry_after().is_some() => {}
                            Err(e) => panic!("{e}"),
                        },
                        Err(e) if e.retry_after().is_some() => {}
                        Err(e) => panic!("{e}"),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let samples = sampler.join().unwrap();
    let ratio = |(db, wal): (u64, u64)| (db + wal) as f64 / max_bytes as f64;
    let worst = samples.iter().copied().map(ratio).fold(0.0, f64::max);
    eprintln!(
        "{} samples, max (database + WAL) / cap {worst:.2}",
        samples.len()
    );
    assert!(samples.len() > 10);
    assert!(worst <= 1.1, "database + WAL reached {worst:.2} × the cap");
    let c = store.reader.counts().unwrap();
    assert!(c.traces > 0 && c.spans == c.traces * 20, "{c:?}");
}

/// One request holding `spans` under one resource and scope.
fn request_of(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
