//! The receiver's memory budget: bytes of export requests in flight, from
//! the first body byte read until the store acknowledged the batch.
//!
//! Why a budget and not a queue: under overload a queue makes clients wait,
//! past their deadlines and without a retry hint (issue 13: gRPC p95 2 s,
//! 11% of exports hitting their deadline, RSS 225–408 MiB). The budget
//! refuses instead, at once and with the retry hint (HTTP 503 +
//! `Retry-After`, gRPC `UNAVAILABLE` + `RetryInfo`), whatever the number
//! of clients or the size of their requests, so memory stays bounded and
//! exporters back off and send again.
//!
//! What a request is charged, as it goes (ARCHITECTURE.md "Where memory
//! goes"):
//! - while its body is read: [`DECODED_FACTOR`] × the bytes read so far
//!   (gRPC: as HTTP/2 frames arrive; HTTP: the decompressed buffer as it
//!   grows, or its declared length at once), i.e. what the request will
//!   take once decoded, so that many bodies admitted together cannot all
//!   grow past the budget when they are decoded. A frame that does not fit
//!   ends the request with the retryable answer;
//! - once decoded: [`DECODED_FACTOR`] × its protobuf size (the decoded
//!   structs, measured at about 3–4× the wire size for typical spans);
//! - once handed to the store: its protobuf size, an upper bound on the
//!   prepared batch waiting in the writer's queue (compressed chunks and
//!   postings, about a quarter of it), until the commit is acknowledged.
//!
//! One request may always enter an empty budget, however large (else a
//! request bigger than the budget could never be stored); the request size
//! cap (`MAX_DECODED_BYTES`) bounds that one. So the bytes charged stay
//! under the budget plus one request (tests/back_pressure.rs measures the
//! peak with real sockets).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loupe_ops::{Collect, Counter, Exposition, Gauge, Kind};

use crate::stats::Transport;

/// The default budget (also `receiver.max_in_flight`'s). The overload run
/// (4 × 6 gRPC + 4 × 20 HTTP clients; BENCHMARKS.md "Overload") peaks on a
/// quiet machine at 129–132 MB of RSS with it with 1000-span requests and
/// 92 MB with 5000-span ones, within issue 13's 150 and 200 MiB, once the
/// memory it does not charge is bounded too (ARCHITECTURE.md "Where memory
/// goes"). 32 MiB peaked at 175 MB with 1000-span requests, 20 MiB at
/// 140–159 MB: a charged byte costs more than the 4× assumed for small
/// requests. The price is throughput with 5000-span requests (one is
/// charged 9 MB): 15k spans/s against 36k at 32 MiB; with 1000-span
/// requests (and the SDKs' default 512) it is the same, 85–100k spans/s.
pub const DEFAULT_BUDGET: usize = 16 << 20;

/// Memory of a decoded request per byte of its protobuf encoding (the
/// `Span`, `KeyValue` and `String` allocations; measured 3.3× on the
/// benchmark's Kestra-shaped spans, rounded up).
pub const DECODED_FACTOR: usize = 4;

/// How long a refused client is asked to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Bytes in flight, shared by both transports.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    /// Peak of `used`, for /metrics.
    peak: AtomicUsize,
    refused: [Counter; 2],
    in_flight: Gauge,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(DEFAULT_BUDGET)
    }
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit: limit.max(1),
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: [Counter::new(), Counter::new()],
            in_flight: Gauge::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The highest `used` seen.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Requests refused because the budget was spent, by transport.
    pub fn refused(&self, t: Transport) -> u64 {
        self.refused[t as usize].get()
    }

    pub(crate) fn count_refusal(&self, t: Transport) {
        self.refused[t as usize].inc();
    }

    /// A new request's (empty) charge, or `None` when the budget is spent.
    pub fn admit(self: &Arc<Self>) -> Option<Charge> {
        (self.used() < self.limit).then(|| {
            self.in_flight.add(1);
            Charge {
                budget: self.clone(),
                bytes: AtomicUsize::new(0),
            }
        })
    }

    /// Takes `n` bytes if they fit, or if nothing but the asking request's
    /// own `held` bytes is in flight (a lone request larger than the budget
    /// must still get through, frame after frame).
    fn try_take(&self, n: usize, held: usize) -> bool {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = used.checked_add(n) else {
                return false;
            };
            if used > held && next > self.limit {
                return false;
            }
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(now) => used = now,
            }
        }
    }

    fn take(&self, n: usize) {
        let next = self.used.fetch_add(n, Ordering::AcqRel).saturating_add(n);
        self.peak.fetch_max(next, Ordering::Relaxed);
    }

    fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// What one request holds of the budget; given back when dropped. Shared
/// (behind an `Arc`) by the gRPC body that charges frames as they arrive
/// and the handler that adjusts it after decoding.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Budget>,
    bytes: AtomicUsize,
}

impl Charge {
    /// Charges `n` more bytes; `false` (nothing charged) when they do not
    /// fit: the request must be refused.
    pub fn try_add(&self, n: usize) -> bool {
        if self.budget.try_take(n, self.bytes()) {
            self.bytes.fetch_add(n, Ordering::AcqRel);
            true
        } else {
            false
        }
    }

    /// Sets the charge to `n` bytes, growing past the limit if need be:
    /// for what is already in memory (a decoded request), which refusing
    /// would not free. Later requests are refused until it is given back.
    pub fn set(&self, n: usize) {
        let old = self.bytes.swap(n, Ordering::AcqRel);
        if n > old {
            self.budget.take(n - old);
        } else {
            self.budget.give(old - n);
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give(*self.bytes.get_mut());
        self.budget.in_flight.add(-1);
    }
}

impl Collect for Budget {
    fn collect(&self, out: &mut Exposition) {
        let bytes = Gauge::new();
        bytes.set(self.used() as i64);
        out.family(
            "ingest_in_flight_bytes",
            "Bytes of export requests in flight (read, decoded, queued or being written), charged against the budget.",
            Kind::Gauge,
        )
        .gauge(&[], &bytes);
        let limit = Gauge::new();
        limit.set(self.limit as i64);
        out.family(
            "ingest_in_flight_limit_bytes",
            "The in-flight budget: beyond it exports are refused as retryable.",
            Kind::Gauge,
        )
        .gauge(&[], &limit);
        out.family(
            "ingest_in_flight_requests",
            "Export requests holding part of the budget.",
            Kind::Gauge,
        )
        .gauge(&[], &self.in_flight);
        out.family(
            "ingest_over_budget_total",
            "Export requests refused (retryable) because the in-flight budget was spent.",
            Kind::Counter,
        );
        for t in Transport::ALL {
            out.counter(&[("transport", t.as_str())], &self.refused[t as usize]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_once_spent_and_frees_on_drop() {
        let b = Arc::new(Budget::new(100));
        let a = b.admit().expect("empty budget admits");
        assert!(a.try_add(60));
        let c = b.admit().expect("not spent yet");
        assert!(!c.try_add(50), "60 + 50 > 100");
        assert!(c.try_add(40));
        assert!(b.admit().is_none(), "spent");
        drop(a);
        assert_eq!(b.used(), 40);
        assert!(b.admit().is_some());
        drop(c);
        assert_eq!(b.used(), 0);
        assert_eq!(b.peak(), 100);
    }

    #[test]
    fn one_request_always_enters_an_empty_budget() {
        let b = Arc::new(Budget::new(10));
        let a = b.admit().unwrap();
        assert!(a.try_add(1000), "alone, however large");
        assert!(a.try_add(1000), "and frame after frame while alone");
        assert!(b.admit().is_none());
        a.set(5);
        assert_eq!(b.used(), 5);
        let c = b.admit().expect("5 < 10");
        assert!(c.try_add(1));
        assert!(!a.try_add(1000), "no longer alone");
        drop(c);
        a.set(50);
        assert_eq!(b.used(), 50, "set grows past the limit");
        drop(a);
        assert_eq!(b.used(), 0);
    }
}
