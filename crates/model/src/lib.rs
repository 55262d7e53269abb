//! Loupe's shared vocabulary.
//!
//! Every other crate speaks in these types so that `ingest`, `store`, `query`
//! and `server` never depend on each other's internals: the receiver hands a
//! [`sink::Batch`] to whatever implements [`sink::Sink`], and the API asks the
//! store with the filters in [`query`].

pub mod correlation;
pub mod duration;
pub mod ids;
pub mod otlp;
pub mod points;
pub mod query;
pub mod severity;
pub mod sink;
pub mod time;

/// Data points in one OTLP metric, whatever its type.
/// (Counted from the lengths, not by walking [`points::points`]: this runs
/// for every metric of every batch.)
pub fn otlp_points(metric: &otlp::metrics::Metric) -> usize {
    use otlp::metrics::metric::Data;
    match &metric.data {
        None => 0,
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
    }
}
