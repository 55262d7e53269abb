//! What the receiver counts about its own work, per signal and transport:
//! for `/metrics` and the receivers' part of `/health`.

use loupe_ops::{Collect, Counter, Exposition, Histogram, Kind};

use loupe_otlp::filter::SignalKind;

/// The two OTLP transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    Http,
}

impl Transport {
    pub const ALL: [Transport; 2] = [Transport::Grpc, Transport::Http];

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How a request ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored (possibly with some items rejected or filtered).
    Ok,
    /// Undecodable, wrong content type or method.
    Invalid,
    /// Larger than the limit.
    TooLarge,
    /// Back-pressure or pause: the client should retry.
    Busy,
    /// The store failed or is shutting down.
    Error,
}

impl Outcome {
    /// The outcome a refused request is counted as.
    pub(crate) fn of(e: &crate::status::IngestError) -> Outcome {
        use crate::status::IngestError;
        use loupe_model::sink::SinkError;
        use loupe_otlp::decode::DecodeError;
        match e {
            IngestError::Decode(DecodeError::TooLarge { .. }) => Outcome::TooLarge,
            IngestError::Decode(_)
            | IngestError::UnsupportedMediaType(_)
            | IngestError::MethodNotAllowed(_)
            | IngestError::Unauthenticated => Outcome::Invalid,
            IngestError::Sink(
                SinkError::Busy { .. } | SinkError::Paused { .. } | SinkError::Unavailable { .. },
            )
            | IngestError::OverBudget { .. } => Outcome::Busy,
            IngestError::Sink(_) => Outcome::Error,
        }
    }

    const ALL: [Outcome; 5] = [
        Outcome::Ok,
        Outcome::Invalid,
        Outcome::TooLarge,
        Outcome::Busy,
        Outcome::Error,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Invalid => "invalid",
            Outcome::TooLarge => "too_large",
            Outcome::Busy => "busy",
            Outcome::Error => "error",
        }
    }
}

type PerSignal<T> = [[T; 2]; 3];

fn per_signal<T>(f: impl Fn() -> T) -> PerSignal<T> {
    std::array::from_fn(|_| std::array::from_fn(|_| f()))
}

/// The receiver's counters. Every update is one relaxed atomic add.
#[derive(Debug)]
pub struct IngestStats {
    /// Items handed to the store and committed.
    accepted: PerSignal<Counter>,
    /// Items rejected as invalid (reported in `partial_success`).
    rejected: PerSignal<Counter>,
    /// Items of decoded requests that were refused as a whole (busy, store error).
    refused: PerSignal<Counter>,
    requests: PerSignal<[Counter; 5]>,
    /// Decoded request sizes, bytes.
    request_bytes: PerSignal<Histogram>,
    /// gRPC requests tonic refused before decoding finished (too large,
    /// corrupt): their signal is not known where they are counted.
    undecodable_grpc: Counter,
    /// Spans and log records stored whose own timestamps look wrong
    /// (`loupe_model::time::TimeIssue`), per signal.
    suspect_times: [Counter; 3],
}

impl Default for IngestStats {
    fn default() -> Self {
        IngestStats {
            accepted: per_signal(Counter::new),
            rejected: per_signal(Counter::new),
            refused: per_signal(Counter::new),
            requests: per_signal(|| std::array::from_fn(|_| Counter::new())),
            request_bytes: per_signal(Histogram::sizes),
            undecodable_grpc: Counter::new(),
            suspect_times: std::array::from_fn(|_| Counter::new()),
        }
    }
}

impl IngestStats {
    pub(crate) fn request(&self, s: SignalKind, t: Transport, outcome: Outcome) {
        let i = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.requests[s.index()][t.index()][i].inc();
    }

    pub(crate) fn undecodable_grpc(&self) {
        self.undecodable_grpc.inc();
    }

    pub(crate) fn size(&self, s: SignalKind, t: Transport, bytes: usize) {
        self.request_bytes[s.index()][t.index()].observe(bytes as f64);
    }

    pub(crate) fn items(&self, s: SignalKind, t: Transport, accepted: u64, rejected: u64) {
        self.accepted[s.index()][t.index()].add(accepted);
        self.rejected[s.index()][t.index()].add(rejected);
    }

    pub(crate) fn suspect_times(&self, s: SignalKind, items: u64) {
        self.suspect_times[s.index()].add(items);
    }

    /// Items stored with timestamps that look wrong, one signal.
    pub fn suspect_times_total(&self, s: SignalKind) -> u64 {
        self.suspect_times[s.index()].get()
    }

    pub(crate) fn refused(&self, s: SignalKind, t: Transport, items: u64) {
        self.refused[s.index()][t.index()].add(items);
    }

    /// Items accepted by one transport, all signals.
    pub fn accepted_total(&self, t: Transport) -> u64 {
        self.accepted.iter().map(|a| a[t.index()].get()).sum()
    }

    /// Items rejected or refused by one transport, all signals.
    pub fn refused_total(&self, t: Transport) -> u64 {
        SignalKind::ALL
            .iter()
            .map(|s| {
                self.rejected[s.index()][t.index()].get() + self.refused[s.index()][t.index()].get()
            })
            .sum()
    }

    /// Requests refused as a whole by one transport.
    pub fn refused_requests(&self, t: Transport) -> u64 {
        let undecodable = match t {
            Transport::Grpc => self.undecodable_grpc.get(),
            Transport::Http => 0,
        };
        self.requests
            .iter()
            .flat_map(|r| r[t.index()].iter().skip(1))
            .map(Counter::get)
            .sum::<u64>()
            + undecodable
    }
}

impl Collect for IngestStats {
    fn collect(&self, out: &mut Exposition) {
        let each = |out: &mut Exposition, c: &PerSignal<Counter>| {
            for s in SignalKind::ALL {
                for t in Transport::ALL {
                    out.counter(
                        &[("signal", s.as_str()), ("transport", t.as_str())],
                        &c[s.index()][t.index()],
                    );
                }
            }
        };
        out.family(
            "ingest_items_accepted_total",
            "Spans, log records and data points stored.",
            Kind::Counter,
        );
        each(out, &self.accepted);
        out.family(
            "ingest_items_rejected_total",
            "Invalid items rejected alone (reported to the client as partial success).",
            Kind::Counter,
        );
        each(out, &self.rejected);
        out.family(
            "ingest_items_refused_total",
            "Items of decoded requests refused as a whole (busy, paused or store error).",
            Kind::Counter,
        );
        each(out, &self.refused);
        out.family(
            "ingest_requests_total",
            "Export requests, by outcome.",
            Kind::Counter,
        );
        for s in SignalKind::ALL {
            for t in Transport::ALL {
                for (i, o) in Outcome::ALL.iter().enumerate() {
                    out.counter(
                        &[
                            ("signal", s.as_str()),
                            ("transport", t.as_str()),
                            ("outcome", o.as_str()),
                        ],
                        &self.requests[s.index()][t.index()][i],
                    );
                }
            }
        }
        out.family(
            "ingest_grpc_undecodable_requests_total",
            "gRPC requests refused before decoding finished (too large or corrupt; signal unknown).",
            Kind::Counter,
        )
        .counter(&[], &self.undecodable_grpc);
        out.family(
            "ingest_suspect_timestamps_total",
            "Spans and log records stored with timestamps that look wrong (zero, before 2000, \
             more than a year before or a day after they were received); flagged, not dropped.",
            Kind::Counter,
        );
        for s in [SignalKind::Traces, SignalKind::Logs] {
            out.counter(&[("signal", s.as_str())], &self.suspect_times[s.index()]);
        }
        out.family(
            "ingest_request_bytes",
            "Decoded (uncompressed) size of export requests.",
            Kind::Histogram,
        );
        for s in SignalKind::ALL {
            for t in Transport::ALL {
                out.histogram(
                    &[("signal", s.as_str()), ("transport", t.as_str())],
                    &self.request_bytes[s.index()][t.index()],
                );
            }
        }
    }
}
