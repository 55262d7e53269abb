//! What the writer reports about its own work, for `/metrics` and `/health`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::Fault;

use loupe_ops::{Collect, Counter, Exposition, Gauge, Histogram, Kind};

/// The writer's statistics: updated by `submit` and the writer thread with
/// relaxed atomics, read at scrape time.
#[derive(Debug)]
pub struct WriterStats {
    /// Batches waiting for the writer.
    pub queued_batches: Gauge,
    /// Prepared bytes waiting for the writer.
    pub queued_bytes: Gauge,
    /// From `submit` to the start of the transaction that holds the batch.
    pub queue_wait: Histogram,
    /// Batches per group commit.
    pub commit_batches: Histogram,
    /// Time from `BEGIN` to `COMMIT` of a group (retries included).
    pub commit_duration: Histogram,
    pub commits: Counter,
    /// Batches whose write failed (they were answered with an error).
    pub failed_batches: Counter,
    /// Rows deleted by retention (traces, log records, points, index rows).
    pub retention_deleted: Counter,
    /// Wall-clock time of the last successful commit, Unix nanoseconds (0: none yet).
    last_commit_ns: AtomicU64,
    /// The last write failure and when (Unix nanoseconds), cleared by the
    /// next successful commit: /health says the store is DOWN, and why,
    /// while it cannot write, and UP again by itself once it can.
    failure: Mutex<Option<(Fault, u64)>>,
}

impl Default for WriterStats {
    fn default() -> Self {
        WriterStats {
            queued_batches: Gauge::new(),
            queued_bytes: Gauge::new(),
            queue_wait: Histogram::durations(),
            commit_batches: Histogram::sizes(),
            commit_duration: Histogram::durations(),
            commits: Counter::new(),
            failed_batches: Counter::new(),
            retention_deleted: Counter::new(),
            last_commit_ns: AtomicU64::new(0),
            failure: Mutex::new(None),
        }
    }
}

impl WriterStats {
    pub(crate) fn committed_now(&self) {
        self.last_commit_ns
            .store(loupe_model::time::now_ns(), Ordering::Relaxed);
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Remembers a failed write (storage faults only: a batch the store
    /// cannot take says nothing about the store).
    pub(crate) fn failed_now(&self, fault: Fault) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((fault, loupe_model::time::now_ns()));
    }

    /// The fault of the last write, with its time (Unix nanoseconds), if it
    /// failed and nothing committed since.
    pub fn write_failure(&self) -> Option<(Fault, u64)> {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the last commit happened (Unix nanoseconds), if any since start.
    pub fn last_commit_ns(&self) -> Option<u64> {
        Some(self.last_commit_ns.load(Ordering::Relaxed)).filter(|n| *n > 0)
    }
}

impl Collect for WriterStats {
    fn collect(&self, out: &mut Exposition) {
        out.family(
            "store_queue_batches",
            "Batches waiting for the writer.",
            Kind::Gauge,
        )
        .gauge(&[], &self.queued_batches);
        out.family(
            "store_queue_bytes",
            "Prepared bytes waiting for the writer.",
            Kind::Gauge,
        )
        .gauge(&[], &self.queued_bytes);
        out.family(
            "store_queue_wait_seconds",
            "Time a batch waited in the queue before its transaction began.",
            Kind::Histogram,
        )
        .histogram(&[], &self.queue_wait);
        out.family(
            "store_commit_batches",
            "Batches applied per group commit.",
            Kind::Histogram,
        )
        .histogram(&[], &self.commit_batches);
        out.family(
            "store_commit_duration_seconds",
            "Time to apply and commit one group of batches.",
            Kind::Histogram,
        )
        .histogram(&[], &self.commit_duration);
        out.family("store_commits_total", "Group commits.", Kind::Counter)
            .counter(&[], &self.commits);
        out.family(
            "store_failed_batches_total",
            "Batches whose write failed and was answered with an error.",
            Kind::Counter,
        )
        .counter(&[], &self.failed_batches);
        out.family(
            "store_retention_deleted_rows_total",
            "Rows deleted by retention (traces, log records, data points, index rows).",
            Kind::Counter,
        )
        .counter(&[], &self.retention_deleted);
        if let Some(t) = self.last_commit_ns() {
            out.family(
                "store_last_commit_timestamp_seconds",
                "When the last group commit happened.",
                Kind::Gauge,
            )
            .sample("", &[], t as f64 / 1e9);
        }
    }
}
