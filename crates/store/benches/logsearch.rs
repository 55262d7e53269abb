//! Full-text log search over 1M records: `cargo bench -p loupe-store --bench logsearch`.
//!
//! Writes 1,000,000 Kestra-like log records (through the real writer, so the
//! index is built as in production) into a temporary store, then runs each
//! search 40 times (limit 100, newest first, as the log explorer asks) and
//! prints p50 and p95 per search and over all of them. The budget is
//! p95 ≤ 50 ms. `LOUPE_BENCH_RECORDS` changes the record count.

use std::time::{Duration, Instant};

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::ExportLogsServiceRequest;
use loupe_model::query::LogQuery;
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::{Store, WriterConfig};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

const TASKS: [&str; 8] = [
    "extract",
    "transform",
    "load",
    "charge",
    "notify",
    "cleanup",
    "validate",
    "archive",
];
const FLOWS: [&str; 5] = [
    "orders_batch",
    "process_order",
    "cleanup",
    "daily_report",
    "sync_users",
];

/// Message templates by frequency: common ones dominate, a few are rare.
fn body(i: u64, x: u64) -> (i32, String) {
    match x % 1000 {
        0 => (
            17,
            format!("Payment gateway refused order {i}: card declined"),
        ),
        1..=9 => (
            13,
            format!("Retrying task after timeout, attempt {}", x % 5),
        ),
        10..=59 => (
            17,
            format!(
                "Command failed with exit code {} in worker {}",
                x % 3 + 1,
                x % 16
            ),
        ),
        60..=459 => (
            9,
            format!(
                "Task {} completed in {} ms",
                TASKS[(x % 8) as usize],
                x % 5000
            ),
        ),
        _ => (
            9,
            format!(
                "Execution {} of flow {} started on worker {}",
                i,
                FLOWS[(x % 5) as usize],
                x % 16
            ),
        ),
    }
}

fn batch(start: u64, n: u64, t0: u64) -> ExportLogsServiceRequest {
    let records = (start..start + n)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
            let (sev, text) = body(i, x);
            LogRecord {
                time_unix_nano: t0 + i * 1_000_000,
                severity_number: sev,
                body: Some(AnyValue {
                    value: Some(Value::StringValue(text)),
                }),
                attributes: vec![
                    kv("kestra.flowId", FLOWS[(x % 5) as usize]),
                    kv("kestra.taskId", TASKS[(x / 7 % 8) as usize]),
                    kv("kestra.executionId", &format!("{:x}", x)),
                ],
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "kestra")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let total: u64 = std::env::var("LOUPE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), WriterConfig::default()).expect("open");
    let t0 = now_ns() - total * 1_000_000;
    let started = Instant::now();
    const BATCH: u64 = 5000;
    let mut pending = Vec::new();
    for b in 0..total.div_ceil(BATCH) {
        let n = BATCH.min(total - b * BATCH);
        loop {
            match store.writer.submit(Batch::Logs(batch(b * BATCH, n, t0))) {
                Ok(ticket) => {
                    pending.push(ticket);
                    break;
                }
                Err(_) => {
                    for t in pending.drain(..) {
                        t.wait().await.expect("commit");
                    }
                }
            }
        }
    }
    for t in pending {
        t.wait().await.expect("commit");
    }
    let bytes = store.reader.live_bytes().unwrap_or(0);
    println!(
        "wrote {} log records in {:.1} s ({:.0} MB database, {} in the index)",
        store.reader.counts().expect("counts").log_records,
        started.elapsed().as_secs_f64(),
        bytes as f64 / 1e6,
        store.reader.log_index_rows().expect("index rows")
    );
    let attr = |s: &str| {
        loupe_query::log_query(&[("attr".to_string(), s.to_string())])
            .expect("attr")
            .attrs
    };
    let q = |search: &str| LogQuery {
        search: Some(search.into()),
        limit: 100,
        ..Default::default()
    };
    let searches: Vec<(&str, LogQuery)> = vec![
        ("rare word (0.1%): declined", q("declined")),
        ("uncommon word (1%): retrying", q("retrying")),
        ("common word (40%): completed", q("completed")),
        ("very common word (54%): execution", q("execution")),
        ("two words: command failed", q("command failed")),
        ("prefix: paym*", q("paym*")),
        (
            "word + severity ≥ ERROR: worker",
            LogQuery {
                min_severity: Some(17),
                ..q("worker")
            },
        ),
        (
            "word + attribute: timeout, taskId=charge",
            LogQuery {
                attrs: attr("kestra.taskId=charge"),
                ..q("timeout")
            },
        ),
        ("no match: zzzzz", q("zzzzz")),
    ];
    let mut all = Vec::new();
    for (name, query) in &searches {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..40 {
            let t = Instant::now();
            let r = store.reader.logs(query).expect("search");
            times.push(t.elapsed());
            found = r
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum();
        }
        all.extend(times.iter().copied());
        println!(
            "{name:45} {found:3} records: p50 {:6.2} ms, p95 {:6.2} ms",
            pct(&mut times, 0.5),
            pct(&mut times, 0.95)
        );
    }
    println!(
        "all searches over {total} records: p50 {:.2} ms, p95 {:.2} ms",
        pct(&mut all, 0.5),
        pct(&mut all, 0.95)
    );
}
