//! Timestamps: when each item would have been exported (what the replay
//! paces by), and moving every timestamp by the same amount
//! (`--shift-to-now`), so relative timing is kept exactly.

use loupe_model::otlp::logs::LogRecord;
use loupe_model::otlp::metrics::metric::Data;
use loupe_model::otlp::metrics::Metric;
use loupe_model::otlp::trace::Span;
use loupe_model::sink::Batch;

/// When a span was exported: as it ended (its start if it has no end).
pub(crate) fn span_at(s: &Span) -> u64 {
    s.end_time_unix_nano.max(s.start_time_unix_nano)
}

/// When a log record was emitted: its time, else when it was observed.
pub(crate) fn log_at(l: &LogRecord) -> u64 {
    if l.time_unix_nano != 0 {
        l.time_unix_nano
    } else {
        l.observed_time_unix_nano
    }
}

/// When a metric was exported: its latest point.
pub(crate) fn metric_at(m: &Metric) -> u64 {
    macro_rules! latest {
        ($pts:expr) => {
            $pts.iter().map(|p| p.time_unix_nano).max().unwrap_or(0)
        };
    }
    match &m.data {
        Some(Data::Gauge(g)) => latest!(g.data_points),
        Some(Data::Sum(g)) => latest!(g.data_points),
        Some(Data::Histogram(g)) => latest!(g.data_points),
        Some(Data::ExponentialHistogram(g)) => latest!(g.data_points),
        Some(Data::Summary(g)) => latest!(g.data_points),
        None => 0,
    }
}

/// `t` moved by `delta` nanoseconds; zero ("unset") stays zero, and the
/// result is clamped to the representable range (checked arithmetic on
/// telemetry values: a hostile timestamp cannot wrap).
pub(crate) fn moved(t: u64, delta: i128) -> u64 {
    if t == 0 {
        return 0;
    }
    (t as i128).saturating_add(delta).clamp(1, u64::MAX as i128) as u64
}

/// Moves every timestamp of a batch by `delta` nanoseconds.
pub(crate) fn shift(batch: &mut Batch, delta: i128) {
    let mv = |t: &mut u64| *t = moved(*t, delta);
    match batch {
        Batch::Traces(r) => {
            for s in r
                .resource_spans
                .iter_mut()
                .flat_map(|x| &mut x.scope_spans)
                .flat_map(|x| &mut x.spans)
            {
                mv(&mut s.start_time_unix_nano);
                mv(&mut s.end_time_unix_nano);
                s.events.iter_mut().for_each(|e| mv(&mut e.time_unix_nano));
            }
        }
        Batch::Logs(r) => {
            for l in r
                .resource_logs
                .iter_mut()
                .flat_map(|x| &mut x.scope_logs)
                .flat_map(|x| &mut x.log_records)
            {
                mv(&mut l.time_unix_nano);
                mv(&mut l.observed_time_unix_nano);
            }
        }
        Batch::Metrics(r) => {
            for m in r
                .resource_metrics
                .iter_mut()
                .flat_map(|x| &mut x.scope_metrics)
                .flat_map(|x| &mut x.metrics)
            {
                macro_rules! points {
                    ($pts:expr, exemplars) => {
                        for p in $pts.iter_mut() {
                            mv(&mut p.start_time_unix_nano);
                            mv(&mut p.time_unix_nano);
                            p.exemplars
                                .iter_mut()
                                .for_each(|e| mv(&mut e.time_unix_nano));
                        }
                    };
                    ($pts:expr) => {
                        for p in $pts.iter_mut() {
                            mv(&mut p.start_time_unix_nano);
                            mv(&mut p.time_unix_nano);
                        }
                    };
                }
                match &mut m.data {
                    Some(Data::Gauge(g)) => points!(g.data_points, exemplars),
                    Some(Data::Sum(g)) => points!(g.data_points, exemplars),
                    Some(Data::Histogram(g)) => points!(g.data_points, exemplars),
                    Some(Data::ExponentialHistogram(g)) => points!(g.data_points, exemplars),
                    Some(Data::Summary(g)) => points!(g.data_points),
                    None => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_is_checked_and_keeps_unset() {
        assert_eq!(moved(0, 5), 0);
        assert_eq!(moved(10, -3), 7);
        assert_eq!(moved(10, -30), 1);
        assert_eq!(moved(u64::MAX - 1, 5), u64::MAX);
        assert_eq!(moved(5, i128::MAX), u64::MAX);
    }
}
