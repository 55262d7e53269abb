//! `GET /health`: is this Loupe able to do its job? The store must answer
//! a query and the disk under the data directory must have more free space
//! than the threshold; receivers report where they listen and what they
//! took. Answers 503 when anything is DOWN, so a supervisor can act on the
//! status code alone.

use std::path::Path;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use loupe_ingest::stats::Transport;
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::ops::Ops;
use std::sync::Arc;

fn status(up: bool) -> &'static str {
    if up {
        "UP"
    } else {
        "DOWN"
    }
}

/// The health document and whether everything is UP.
pub async fn report(ops: &Ops) -> (bool, Value) {
    let reader = ops.store.reader.clone();
    let reachable = tokio::task::spawn_blocking(move || reader.live_bytes())
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let stats = ops.store.writer.stats();
    // DOWN while it cannot write (the last write failed on a storage fault
    // and nothing committed since), not only while it cannot be read: a
    // full disk or another process's lock stops ingest while reads work.
    let failure = stats.write_failure();
    let store_up = reachable.is_ok() && failure.is_none();
    let (db_bytes, wal_bytes) = (ops.store.db_bytes(), ops.store.wal_bytes());
    let mut store = StoreHealth {
        status: status(store_up),
        reachable: reachable.is_ok(),
        path: ops.store.path().display().to_string(),
        file_bytes: db_bytes + wal_bytes,
        database_bytes: db_bytes,
        wal_bytes,
        last_commit: stats.last_commit_ns().map(|n| n.to_string()),
        queue: QueueHealth {
            batches: stats.queued_batches.get().max(0),
            bytes: stats.queued_bytes.get().max(0),
        },
        error: None,
        write_failed_at: None,
        retryable: None,
    };
    if let Some((fault, at)) = failure {
        store.error = Some(fault.reason().to_string());
        store.write_failed_at = Some(at.to_string());
        store.retryable = Some(fault.is_transient());
    }
    if let Err(e) = &reachable {
        store.error = Some(e.clone());
    }

    let dir = ops.store.path().parent().unwrap_or(Path::new("."));
    let threshold = ops.min_free_disk;
    // The writer's probe: the one its low-disk steps act on (`loupe_store::disk`).
    let space = ops.store.writer.disk_space(ops.store.path());
    let refusal = ops.store.writer.low_disk_refusal();
    let disk_up = space.is_none_or(|s| s.free >= threshold) && refusal.is_none();
    let disk = DiskHealth {
        status: match space {
            Some(_) => status(disk_up),
            None => "UNKNOWN",
        },
        path: dir.display().to_string(),
        total: space.map(|s| s.total),
        free: space.map(|s| s.free),
        threshold,
        refusing: refusal.is_some(),
        error: refusal.or_else(|| {
            (!disk_up).then(|| {
                format!(
                    "low disk space: below the {} MiB threshold (--min-free-disk); \
                     the oldest data is being deleted to free space",
                    threshold >> 20
                )
            })
        }),
    };

    let receiver = |t: Transport, addr: std::net::SocketAddr| {
        let s = &ops.receiver.stats;
        ReceiverHealth {
            status: "UP",
            address: addr.to_string(),
            accepted: s.accepted_total(t),
            refused: s.refused_total(t),
            refused_requests: s.refused_requests(t),
        }
    };
    let up = store_up && disk_up;
    let report = Health {
        status: status(up),
        details: HealthDetails {
            store,
            disk,
            receivers: Receivers {
                grpc: receiver(Transport::Grpc, ops.bound.grpc),
                http: receiver(Transport::Http, ops.bound.http),
            },
            extra: ops
                .extra_health()
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
        },
    };
    // As a JSON value: its keys in the order the document always had
    // (alphabetical), and what the tests below read.
    (up, serde_json::to_value(&report).unwrap_or(Value::Null))
}

/// `GET /health`.
#[derive(Debug, Serialize, TS)]
pub struct Health {
    /// `UP` or `DOWN`.
    #[ts(type = "'UP' | 'DOWN'")]
    pub status: &'static str,
    pub details: HealthDetails,
}

#[derive(Debug, Serialize, TS)]
pub struct HealthDetails {
    pub store: StoreHealth,
    pub disk: DiskHealth,
    pub receivers: Receivers,
    /// Parts contributed by optional layers (`forward`), informative only.
    #[serde(flatten)]
    #[ts(skip)]
    pub extra: std::collections::BTreeMap<String, Value>,
}

/// The store: DOWN while it cannot be read or the last write failed on a
/// storage fault (with the reason and whether it passes by itself).
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StoreHealth {
    pub status: &'static str,
    pub reachable: bool,
    pub path: String,
    /// Database plus its write-ahead log.
    pub file_bytes: u64,
    pub database_bytes: u64,
    pub wal_bytes: u64,
    /// Nanoseconds, as a decimal string.
    pub last_commit: Option<String>,
    pub queue: QueueHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub write_failed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub retryable: Option<bool>,
}

#[derive(Debug, Serialize, TS)]
pub struct QueueHealth {
    pub batches: i64,
    pub bytes: i64,
}

/// The disk under the data directory: DOWN below the free-space threshold,
/// UNKNOWN where the platform cannot say.
#[derive(Debug, Serialize, TS)]
pub struct DiskHealth {
    pub status: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub free: Option<u64>,
    pub threshold: u64,
    /// Telemetry is refused (retryable) for lack of space: the oldest
    /// data was deleted and free space is still below the threshold.
    pub refusing: bool,
    /// Why the disk is DOWN and what Loupe does about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, TS)]
pub struct Receivers {
    pub grpc: ReceiverHealth,
    pub http: ReceiverHealth,
}

#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverHealth {
    pub status: &'static str,
    pub address: String,
    pub accepted: u64,
    pub refused: u64,
    pub refused_requests: u64,
}

pub async fn handler(State(ops): State<Arc<Ops>>) -> Response {
    let (up, body) = report(&ops).await;
    let code = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::sink::{Batch, Sink};

    fn ops(store: loupe_store::Store) -> Ops {
        let addr: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
        Ops {
            bound: crate::Bound {
                grpc: addr,
                http: addr,
                api: addr,
                db: store.path().to_path_buf(),
                login_url: None,
            },
            store,
            receiver: Default::default(),
            min_free_disk: 0,
            prefix: "loupe_".into(),
            registry: loupe_ops::Registry::new(),
            api_stats: Default::default(),
            log: None,
            health_parts: Vec::new(),
            received: None,
        }
    }

    /// Issue 13: with a full disk /health said DOWN while its store part
    /// said UP. The store part is DOWN, with the reason, while it cannot
    /// write, and UP again by itself after the next commit.
    #[tokio::test]
    async fn store_down_with_reason_while_it_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = loupe_store::Store::open(dir.path(), Default::default()).unwrap();
        let ops = ops(store.clone());
        let (up, body) = report(&ops).await;
        assert!(up, "{body}");
        assert!(body["details"]["store"]["walBytes"].is_u64());
        assert!(body["details"]["store"]["databaseBytes"].as_u64().unwrap() > 0);

        store.writer.inject_page_limit(Some(1));
        let big = Batch::Traces(loupe_model::otlp::ExportTraceServiceRequest {
            resource_spans: vec![loupe_model::otlp::trace::ResourceSpans {
                scope_spans: vec![loupe_model::otlp::trace::ScopeSpans {
                    spans: (0..2000u64)
                        .map(|i| loupe_model::otlp::trace::Span {
                            trace_id: vec![7; 16],
                            span_id: (i + 1).to_be_bytes().to_vec(),
                            name: format!("span {i} {}", "y".repeat(300)),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        let err = store.writer.submit(big.clone()).unwrap().wait().await;
        assert!(err.is_err());
        let (up, body) = report(&ops).await;
        assert!(!up);
        let part = &body["details"]["store"];
        assert_eq!(part["status"], "DOWN", "{body}");
        assert_eq!(part["error"], "disk full");
        assert_eq!(part["retryable"], true);

        store.writer.inject_page_limit(None);
        store.writer.submit(big).unwrap().wait().await.unwrap();
        let (up, body) = report(&ops).await;
        assert!(up, "recovers by itself: {body}");
        assert_eq!(body["details"]["store"]["status"], "UP");
    }
}
