//! What forwarding counts: items sent, items dropped and why, retries,
//! the queue's depth, and the last error (for `/health`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use loupe_model::sink::Batch;
use loupe_ops::{Collect, Counter, Exposition, Gauge, Kind};

const SIGNALS: [&str; 3] = ["traces", "metrics", "logs"];

fn signal(b: &Batch) -> usize {
    match b {
        Batch::Traces(_) => 0,
        Batch::Metrics(_) => 1,
        Batch::Logs(_) => 2,
    }
}

#[derive(Debug, Default)]
pub struct ForwardStats {
    sent: [Counter; 3],
    /// The queue was full (the upstream is down or slow).
    dropped_full: [Counter; 3],
    /// The upstream refused the batch for good.
    dropped_rejected: [Counter; 3],
    /// Still queued when Loupe stopped.
    dropped_shutdown: Counter,
    retries: Counter,
    queued_batches: Gauge,
    queued_items: Gauge,
    /// The last attempt failed.
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl ForwardStats {
    pub(crate) fn queued(&self, b: &Batch) {
        self.queued_batches.add(1);
        self.queued_items.add(b.item_count() as i64);
    }

    fn dequeued(&self, b: &Batch) {
        self.queued_batches.add(-1);
        self.queued_items.add(-(b.item_count() as i64));
    }

    pub(crate) fn sent(&self, b: &Batch) {
        self.dequeued(b);
        self.sent[signal(b)].add(b.item_count() as u64);
        self.failing.store(false, Ordering::Relaxed);
    }

    pub(crate) fn rejected(&self, b: &Batch, message: String) {
        self.dequeued(b);
        self.dropped_rejected[signal(b)].add(b.item_count() as u64);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }

    pub(crate) fn retry(&self, message: String) {
        self.retries.inc();
        self.failing.store(true, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }

    pub(crate) fn dropped_queue_full(&self, b: &Batch) {
        self.dropped_full[signal(b)].add(b.item_count() as u64);
    }

    pub(crate) fn dropped_at_shutdown(&self) {
        self.dropped_shutdown
            .add(self.queued_items.get().max(0) as u64);
    }

    /// Items sent upstream, all signals.
    pub fn sent_total(&self) -> u64 {
        self.sent.iter().map(Counter::get).sum()
    }

    /// Items dropped for any reason, all signals.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_full
            .iter()
            .chain(&self.dropped_rejected)
            .map(Counter::get)
            .sum::<u64>()
            + self.dropped_shutdown.get()
    }

    /// Items dropped because the queue was full.
    pub fn dropped_queue_full_total(&self) -> u64 {
        self.dropped_full.iter().map(Counter::get).sum()
    }

    pub fn queued_batches(&self) -> i64 {
        self.queued_batches.get().max(0)
    }

    pub fn retries(&self) -> u64 {
        self.retries.get()
    }

    /// Whether the last attempt failed and the batch is being retried.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Collect for ForwardStats {
    fn collect(&self, out: &mut Exposition) {
        out.family(
            "forward_items_sent_total",
            "Items delivered to the upstream OTLP endpoint.",
            Kind::Counter,
        );
        for (i, s) in SIGNALS.iter().enumerate() {
            out.counter(&[("signal", s)], &self.sent[i]);
        }
        out.family(
            "forward_items_dropped_total",
            "Items not forwarded: queue full (upstream down or slow), refused by the upstream, or still queued at shutdown.",
            Kind::Counter,
        );
        for (i, s) in SIGNALS.iter().enumerate() {
            out.counter(
                &[("signal", s), ("reason", "queue_full")],
                &self.dropped_full[i],
            );
            out.counter(
                &[("signal", s), ("reason", "rejected")],
                &self.dropped_rejected[i],
            );
        }
        out.counter(
            &[("signal", "all"), ("reason", "shutdown")],
            &self.dropped_shutdown,
        );
        out.family(
            "forward_retries_total",
            "Failed attempts that were retried.",
            Kind::Counter,
        )
        .counter(&[], &self.retries);
        out.family(
            "forward_queue_batches",
            "Batches waiting to be forwarded.",
            Kind::Gauge,
        )
        .gauge(&[], &self.queued_batches);
        out.family(
            "forward_upstream_up",
            "1 when the last attempt to reach the upstream succeeded.",
            Kind::Gauge,
        )
        .sample("", &[], if self.failing() { 0.0 } else { 1.0 });
    }
}
