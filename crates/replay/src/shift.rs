//! Timestamps: when each item would have been exported (what the replay
//! paces by), and moving every timestamp of an item by the same amount
//! (`--shift-to-now`), so relative timing is kept exactly.

use loupe_model::otlp::logs::LogRecord;
use loupe_model::otlp::metrics::metric::Data;
use loupe_model::otlp::metrics::Metric;
use loupe_model::otlp::trace::Span;

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

/// `t` moved by `delta` nanoseconds; zero ("unset") stays zero, and the
/// result is clamped to the representable range (checked arithmetic on
/// telemetry values: a hostile timestamp cannot wrap).
pub(crate) fn moved(t: u64, delta: i128) -> u64 {
    if t == 0 {
        return 0;
    }
    (i128::from(t))
        .saturating_add(delta)
        .clamp(1, i128::from(u64::MAX)) as u64
}

pub(crate) fn span(s: &mut Span, delta: i128) {
    s.start_time_unix_nano = moved(s.start_time_unix_nano, delta);
    s.end_time_unix_nano = moved(s.end_time_unix_nano, delta);
    for e in &mut s.events {
        e.time_unix_nano = moved(e.time_unix_nano, delta);
    }
}

pub(crate) fn log(l: &mut LogRecord, delta: i128) {
    l.time_unix_nano = moved(l.time_unix_nano, delta);
    l.observed_time_unix_nano = moved(l.observed_time_unix_nano, delta);
}

/// Every point's start and time, and its exemplars' times.
pub(crate) fn metric(m: &mut Metric, delta: i128) {
    let mv = |t: &mut u64| *t = moved(*t, delta);
    macro_rules! points {
        ($pts:expr $(, $ex:ident)?) => {
            for p in $pts.iter_mut() {
                mv(&mut p.start_time_unix_nano);
                mv(&mut p.time_unix_nano);
                $(p.$ex.iter_mut().for_each(|e| mv(&mut e.time_unix_nano));)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::metrics::{Exemplar, Gauge, NumberDataPoint};
    use loupe_model::otlp::trace::span::Event;

    #[test]
    fn moving_is_checked_and_keeps_unset() {
        assert_eq!(moved(0, 5), 0);
        assert_eq!(moved(10, -3), 7);
        assert_eq!(moved(10, -30), 1);
        assert_eq!(moved(u64::MAX - 1, 5), u64::MAX);
        assert_eq!(moved(5, i128::MAX), u64::MAX);
    }

    #[test]
    fn every_timestamp_of_an_item_moves_by_the_same_amount() {
        let mut s = Span {
            start_time_unix_nano: 100,
            end_time_unix_nano: 250,
            events: vec![Event {
                time_unix_nano: 180,
                ..Default::default()
            }],
            ..Default::default()
        };
        span(&mut s, 1000);
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (1100, 1250));
        assert_eq!(s.events[0].time_unix_nano, 1180);
        assert_eq!(span_at(&s), 1250);

        let mut l = LogRecord {
            time_unix_nano: 0,
            observed_time_unix_nano: 40,
            ..Default::default()
        };
        log(&mut l, -10);
        assert_eq!((l.time_unix_nano, l.observed_time_unix_nano), (0, 30));
        assert_eq!(log_at(&l), 30);

        let mut m = Metric {
            data: Some(Data::Gauge(Gauge {
                data_points: vec![NumberDataPoint {
                    start_time_unix_nano: 5,
                    time_unix_nano: 9,
                    exemplars: vec![Exemplar {
                        time_unix_nano: 7,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            })),
            ..Default::default()
        };
        metric(&mut m, 100);
        let Some(Data::Gauge(g)) = &m.data else {
            panic!("gauge")
        };
        let p = &g.data_points[0];
        assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (105, 109));
        assert_eq!(p.exemplars[0].time_unix_nano, 107);
    }
}
