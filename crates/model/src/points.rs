//! Walking the data points of OTLP metrics, whatever their type, with the
//! resource, scope and metric each belongs to.
//!
//! Charts, alert evaluation and the received-metrics exposition each read
//! points of every type; they differ in what they compute, not in how the
//! nesting (request → resource → scope → metric → typed points) is walked,
//! so the walk lives here once. Borrowing only: nothing is copied.

use crate::otlp::common::KeyValue;
use crate::otlp::metrics::{
    exemplar, metric::Data, number_data_point, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, SummaryDataPoint,
};
use crate::otlp::ExportMetricsServiceRequest;

/// One metric and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct MetricRef<'a> {
    pub resource: &'a ResourceMetrics,
    pub scope: &'a ScopeMetrics,
    pub metric: &'a Metric,
}

impl<'a> MetricRef<'a> {
    /// The resource's attributes (none when the resource is absent).
    pub fn resource_attributes(&self) -> &'a [KeyValue] {
        self.resource
            .resource
            .as_ref()
            .map_or(&[][..], |r| &r.attributes[..])
    }

    /// The instrumentation scope's name (`""` when absent).
    pub fn scope_name(&self) -> &'a str {
        self.scope.scope.as_ref().map_or("", |s| s.name.as_str())
    }

    /// The metric's points, in the order they are stored.
    pub fn points(&self) -> impl Iterator<Item = PointRef<'a>> + 'a {
        points(self.metric)
    }
}

/// One data point, with the metric-level fields its type needs to be read
/// (temporality, monotonicity) through the type's message.
#[derive(Debug, Clone, Copy)]
pub enum PointRef<'a> {
    Gauge(&'a NumberDataPoint),
    Sum(&'a Sum, &'a NumberDataPoint),
    Histogram(&'a Histogram, &'a HistogramDataPoint),
    ExponentialHistogram(&'a ExponentialHistogram, &'a ExponentialHistogramDataPoint),
    Summary(&'a SummaryDataPoint),
}

impl<'a> PointRef<'a> {
    pub fn attributes(&self) -> &'a [KeyValue] {
        match *self {
            PointRef::Gauge(p) | PointRef::Sum(_, p) => &p.attributes,
            PointRef::Histogram(_, p) => &p.attributes,
            PointRef::ExponentialHistogram(_, p) => &p.attributes,
            PointRef::Summary(p) => &p.attributes,
        }
    }

    pub fn time_unix_nano(&self) -> u64 {
        match *self {
            PointRef::Gauge(p) | PointRef::Sum(_, p) => p.time_unix_nano,
            PointRef::Histogram(_, p) => p.time_unix_nano,
            PointRef::ExponentialHistogram(_, p) => p.time_unix_nano,
            PointRef::Summary(p) => p.time_unix_nano,
        }
    }

    pub fn start_time_unix_nano(&self) -> u64 {
        match *self {
            PointRef::Gauge(p) | PointRef::Sum(_, p) => p.start_time_unix_nano,
            PointRef::Histogram(_, p) => p.start_time_unix_nano,
            PointRef::ExponentialHistogram(_, p) => p.start_time_unix_nano,
            PointRef::Summary(p) => p.start_time_unix_nano,
        }
    }

    /// Exemplars (summaries have none).
    pub fn exemplars(&self) -> &'a [Exemplar] {
        match *self {
            PointRef::Gauge(p) | PointRef::Sum(_, p) => &p.exemplars,
            PointRef::Histogram(_, p) => &p.exemplars,
            PointRef::ExponentialHistogram(_, p) => &p.exemplars,
            PointRef::Summary(_) => &[],
        }
    }

    /// A gauge's or sum's value as `f64`; `None` for other types and for
    /// a number point without a value (what that means differs: a chart
    /// draws a gap, the exposition writes 0).
    pub fn number(&self) -> Option<f64> {
        match *self {
            PointRef::Gauge(p) | PointRef::Sum(_, p) => number_value(p.value.as_ref()),
            _ => None,
        }
    }
}

/// A number point's value as `f64` (integers converted).
pub fn number_value(v: Option<&number_data_point::Value>) -> Option<f64> {
    match v? {
        number_data_point::Value::AsDouble(d) => Some(*d),
        number_data_point::Value::AsInt(i) => Some(*i as f64),
    }
}

/// An exemplar's value as `f64` (integers converted).
pub fn exemplar_value(v: Option<&exemplar::Value>) -> Option<f64> {
    match v? {
        exemplar::Value::AsDouble(d) => Some(*d),
        exemplar::Value::AsInt(i) => Some(*i as f64),
    }
}

/// One data point and the metric it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct DataPoint<'a> {
    pub metric: MetricRef<'a>,
    pub point: PointRef<'a>,
}

/// Every metric of a request, in order.
pub fn metrics(req: &ExportMetricsServiceRequest) -> impl Iterator<Item = MetricRef<'_>> {
    req.resource_metrics.iter().flat_map(|resource| {
        resource.scope_metrics.iter().flat_map(move |scope| {
            scope.metrics.iter().map(move |metric| MetricRef {
                resource,
                scope,
                metric,
            })
        })
    })
}

/// A metric's points in stored order: the `n`th item is
/// `data_points[n]` of its type's message. None when it has no data.
pub fn points(metric: &Metric) -> impl Iterator<Item = PointRef<'_>> {
    let (mut gauge, mut sum, mut hist, mut exp, mut summary) = (None, None, None, None, None);
    match &metric.data {
        Some(Data::Gauge(g)) => gauge = Some(g),
        Some(Data::Sum(s)) => sum = Some(s),
        Some(Data::Histogram(h)) => hist = Some(h),
        Some(Data::ExponentialHistogram(h)) => exp = Some(h),
        Some(Data::Summary(s)) => summary = Some(s),
        None => {}
    }
    let gauge = gauge
        .into_iter()
        .flat_map(|g| g.data_points.iter().map(PointRef::Gauge));
    let sum = sum
        .into_iter()
        .flat_map(|s| s.data_points.iter().map(move |p| PointRef::Sum(s, p)));
    let hist = hist
        .into_iter()
        .flat_map(|h| h.data_points.iter().map(move |p| PointRef::Histogram(h, p)));
    let exp = exp.into_iter().flat_map(|h| {
        h.data_points
            .iter()
            .map(move |p| PointRef::ExponentialHistogram(h, p))
    });
    let summary = summary
        .into_iter()
        .flat_map(|s| s.data_points.iter().map(PointRef::Summary));
    gauge.chain(sum).chain(hist).chain(exp).chain(summary)
}

/// Every data point of a request with its context, in order.
pub fn data_points(req: &ExportMetricsServiceRequest) -> impl Iterator<Item = DataPoint<'_>> {
    metrics(req).flat_map(|metric| {
        metric
            .points()
            .map(move |point| DataPoint { metric, point })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::metrics::{metric::Data, Gauge, Summary};
    use crate::otlp::metrics_service::ExportMetricsServiceRequest;

    fn num(t: u64, v: f64) -> NumberDataPoint {
        NumberDataPoint {
            time_unix_nano: t,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        }
    }

    fn metric(name: &str, data: Data) -> Metric {
        Metric {
            name: name.into(),
            data: Some(data),
            ..Default::default()
        }
    }

    #[test]
    fn walks_every_type_with_its_context_in_order() {
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![
                ResourceMetrics {
                    scope_metrics: vec![ScopeMetrics {
                        metrics: vec![
                            metric(
                                "g",
                                Data::Gauge(Gauge {
                                    data_points: vec![num(1, 1.0), num(2, 2.0)],
                                }),
                            ),
                            metric(
                                "s",
                                Data::Sum(Sum {
                                    data_points: vec![num(3, 3.0)],
                                    is_monotonic: true,
                                    ..Default::default()
                                }),
                            ),
                            metric(
                                "none",
                                Metric::default()
                                    .data
                                    .unwrap_or(Data::Gauge(Gauge::default())),
                            ),
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ResourceMetrics {
                    scope_metrics: vec![ScopeMetrics {
                        metrics: vec![
                            metric(
                                "h",
                                Data::Histogram(Histogram {
                                    data_points: vec![HistogramDataPoint {
                                        time_unix_nano: 4,
                                        ..Default::default()
                                    }],
                                    ..Default::default()
                                }),
                            ),
                            metric(
                                "e",
                                Data::ExponentialHistogram(ExponentialHistogram {
                                    data_points: vec![ExponentialHistogramDataPoint {
                                        time_unix_nano: 5,
                                        ..Default::default()
                                    }],
                                    ..Default::default()
                                }),
                            ),
                            metric(
                                "q",
                                Data::Summary(Summary {
                                    data_points: vec![SummaryDataPoint {
                                        time_unix_nano: 6,
                                        ..Default::default()
                                    }],
                                }),
                            ),
                            Metric {
                                name: "empty".into(),
                                ..Default::default()
                            },
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
        };
        let seen: Vec<(&str, u64, Option<f64>)> = data_points(&req)
            .map(|d| {
                (
                    d.metric.metric.name.as_str(),
                    d.point.time_unix_nano(),
                    d.point.number(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("g", 1, Some(1.0)),
                ("g", 2, Some(2.0)),
                ("s", 3, Some(3.0)),
                ("h", 4, None),
                ("e", 5, None),
                ("q", 6, None)
            ]
        );
        assert_eq!(metrics(&req).count(), 7);
        assert!(matches!(
            data_points(&req).nth(2).map(|d| d.point),
            Some(PointRef::Sum(s, _)) if s.is_monotonic
        ));
        assert!(std::ptr::eq(
            data_points(&req)
                .nth(3)
                .map(|d| d.metric.resource)
                .unwrap_or(&req.resource_metrics[0]),
            &req.resource_metrics[1]
        ));
    }
}
