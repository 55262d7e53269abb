//! The contract between the receiver and whatever keeps the data.
//!
//! The receiver decodes and validates; a [`Sink`] accepts a [`Batch`] without
//! blocking and hands back a [`Ticket`] that resolves once the batch is
//! durable. A full sink answers [`SinkError::Busy`] at once, which the
//! receiver turns into a retryable protocol answer: that is the whole
//! back-pressure story.

use std::sync::Arc;
use std::time::Duration;

use crate::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};

/// One decoded, validated export request.
#[derive(Debug, Clone)]
pub enum Batch {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

impl Batch {
    /// Spans, data points or log records in the batch.
    pub fn item_count(&self) -> usize {
        match self {
            Batch::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum(),
            Batch::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum(),
            Batch::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(crate::otlp_points)
                .sum(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The queue is full; the sender should retry after the given delay.
    #[error("Loupe is busy writing; retry in {}s", retry_after.as_secs().max(1))]
    Busy { retry_after: Duration },
    /// Ingest is paused by the user; retryable like `Busy`.
    #[error("ingest is paused")]
    Paused { retry_after: Duration },
    /// The store cannot write right now for a reason that passes by itself
    /// (disk full, database locked by another process); nothing of the batch
    /// was committed. Retryable, so OTLP senders keep the data and send it
    /// again instead of dropping it as they do after a non-retryable error.
    #[error("{reason}; retry in {}s", retry_after.as_secs().max(1))]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
    /// The writer has shut down.
    #[error("the store is shutting down")]
    Closed,
    /// The write failed; nothing of the batch was committed.
    #[error("storing failed: {0}")]
    Failed(String),
}

impl SinkError {
    /// How long the client should wait, for retryable errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SinkError::Busy { retry_after }
            | SinkError::Paused { retry_after }
            | SinkError::Unavailable { retry_after, .. } => Some(*retry_after),
            SinkError::Closed => Some(Duration::from_secs(5)),
            SinkError::Failed(_) => None,
        }
    }
}

/// Resolves once the batch it stands for is committed (or failed).
pub struct Ticket(pub tokio::sync::oneshot::Receiver<Result<(), SinkError>>);

impl Ticket {
    /// A ticket that is already settled, for sinks that do not wait.
    pub fn ready(result: Result<(), SinkError>) -> Ticket {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(result);
        Ticket(rx)
    }

    pub async fn wait(self) -> Result<(), SinkError> {
        self.0.await.unwrap_or(Err(SinkError::Closed))
    }

    /// [`wait`](Ticket::wait) for threads that may block (importers,
    /// `spawn_blocking` tasks, tests); never call it on an async task. A
    /// writer that went away without answering is `Closed`.
    pub fn wait_blocking(self) -> Result<(), SinkError> {
        self.0.blocking_recv().unwrap_or(Err(SinkError::Closed))
    }
}

pub trait Sink: Send + Sync + 'static {
    /// Queues a batch without blocking.
    fn submit(&self, batch: Batch) -> Result<Ticket, SinkError>;
}

/// Decodes, acknowledges and forgets: the baseline the ingest benchmark
/// compares the real store against.
#[derive(Debug, Default, Clone, Copy)]
pub struct DropSink;

impl Sink for DropSink {
    fn submit(&self, _batch: Batch) -> Result<Ticket, SinkError> {
        Ok(Ticket::ready(Ok(())))
    }
}

/// Something that wants a copy of every batch the store accepted:
/// forwarding upstream, the latest values of received metrics. Called on
/// the receiver's task, so it must not block.
pub trait Observer: Send + Sync + 'static {
    fn observe(&self, batch: &Arc<Batch>);
    /// Whether `observe` wants this batch. [`Tee`] copies a batch only for
    /// observers that want it: the copy is on the ingest path.
    fn wants(&self, _batch: &Batch) -> bool {
        true
    }
}

/// A sink that passes batches to `inner` and, once `inner` has committed
/// one, shows it to every observer. A batch the store refuses (busy) or
/// fails to write is not observed: the sender will send it again, and
/// nothing is forwarded that Loupe itself does not have.
pub struct Tee {
    pub inner: Arc<dyn Sink>,
    pub observers: Vec<Arc<dyn Observer>>,
}

impl Sink for Tee {
    fn submit(&self, batch: Batch) -> Result<Ticket, SinkError> {
        let observers: Vec<Arc<dyn Observer>> = self
            .observers
            .iter()
            .filter(|o| o.wants(&batch))
            .cloned()
            .collect();
        if observers.is_empty() {
            return self.inner.submit(batch);
        }
        let copy = Arc::new(batch.clone());
        let ticket = self.inner.submit(batch)?;
        let notify = move |result: &Result<(), SinkError>| {
            if result.is_ok() {
                for o in &observers {
                    o.observe(&copy);
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            // Observe after the commit, then pass the result on.
            Ok(rt) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                rt.spawn(async move {
                    let result = ticket.wait().await;
                    notify(&result);
                    let _ = tx.send(result);
                });
                Ok(Ticket(rx))
            }
            // No runtime to wait on (synchronous callers): observe now.
            Err(_) => {
                notify(&Ok(()));
                Ok(ticket)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Seen(Mutex<usize>);
    impl Observer for Seen {
        fn observe(&self, _: &Arc<Batch>) {
            *self.0.lock().unwrap() += 1;
        }
    }

    struct Failing;
    impl Sink for Failing {
        fn submit(&self, _: Batch) -> Result<Ticket, SinkError> {
            Ok(Ticket::ready(Err(SinkError::Failed("disk".into()))))
        }
    }

    #[tokio::test]
    async fn observes_only_what_was_committed() {
        let seen = Arc::new(Seen::default());
        let batch = || Batch::Traces(Default::default());
        let ok = Tee {
            inner: Arc::new(DropSink),
            observers: vec![seen.clone()],
        };
        ok.submit(batch()).unwrap().wait().await.unwrap();
        assert_eq!(*seen.0.lock().unwrap(), 1);
        let failing = Tee {
            inner: Arc::new(Failing),
            observers: vec![seen.clone()],
        };
        assert!(failing.submit(batch()).unwrap().wait().await.is_err());
        assert_eq!(*seen.0.lock().unwrap(), 1);
    }

    /// Wants metrics only, as `--received-metrics` does.
    #[derive(Default)]
    struct MetricsOnly(Seen);
    impl Observer for MetricsOnly {
        fn observe(&self, b: &Arc<Batch>) {
            self.0.observe(b)
        }
        fn wants(&self, b: &Batch) -> bool {
            matches!(b, Batch::Metrics(_))
        }
    }

    #[tokio::test]
    async fn shows_a_batch_only_to_observers_that_want_it() {
        let metrics = Arc::new(MetricsOnly::default());
        let all = Arc::new(Seen::default());
        let tee = Tee {
            inner: Arc::new(DropSink),
            observers: vec![metrics.clone(), all.clone()],
        };
        tee.submit(Batch::Traces(Default::default()))
            .unwrap()
            .wait()
            .await
            .unwrap();
        tee.submit(Batch::Metrics(Default::default()))
            .unwrap()
            .wait()
            .await
            .unwrap();
        assert_eq!(*metrics.0 .0.lock().unwrap(), 1, "metrics only");
        assert_eq!(*all.0.lock().unwrap(), 2, "everything");
    }
}
