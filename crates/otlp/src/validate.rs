//! Per-item validation: a bad span, log record or data point is rejected
//! alone.
//!
//! OTLP's partial-success rule: the server stores what it can and reports
//! how many items it rejected and why. Invalid IDs are the reason for spans
//! and log records; for histogram and summary data points it is a bucket
//! layout that the chart and alert math would have to walk or allocate in
//! proportion to numbers the sender chose (see [`metrics`]). The message
//! names the first few offenders so a developer can find them.

use loupe_model::ids::{SpanId, TraceId};
use loupe_model::otlp::metrics::{
    exponential_histogram_data_point::Buckets, metric::Data, ExponentialHistogramDataPoint,
    HistogramDataPoint, SummaryDataPoint,
};
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};

/// Most buckets one side (positive or negative) of an exponential histogram
/// data point may have. The SDKs' default `max_size` is 160 buckets per side;
/// 2048 leaves room for SDKs configured for finer resolution (OTel caps none,
/// but nobody needs more than a few hundred) while one data point stays below
/// 2 × 2048 × 8 bytes = 32 KiB of counts, whatever its offsets.
pub const MAX_EXP_BUCKETS_PER_SIDE: usize = 2048;

/// The scales the OTLP data model allows for exponential histograms: below
/// −10 the base `2^(2^-scale)` exceeds every `f64` (all values fall in two
/// buckets), above 20 a bucket is narrower than an `f64` step.
pub const EXP_SCALES: std::ops::RangeInclusive<i32> = -10..=20;

/// Most explicit bounds an explicit-bucket histogram data point may have
/// (so at most 2049 bucket counts). SDK defaults have 15 bounds and
/// Prometheus classic histograms a few dozen.
pub const MAX_EXPLICIT_BOUNDS: usize = 2048;

/// Most quantile values a summary data point may have. Prometheus client
/// summaries have a handful of objectives; each quantile becomes a line on
/// the chart.
pub const MAX_SUMMARY_QUANTILES: usize = 128;

/// How many individual reasons the message lists before summarizing.
const MAX_REASONS: usize = 3;

/// Rejections of one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub count: i64,
    reasons: Vec<String>,
}

impl Rejected {
    fn add(&mut self, reason: String) {
        self.count += 1;
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(reason);
        }
    }

    /// The `partial_success.error_message`, empty when nothing was rejected.
    pub fn message(&self, what: &str) -> String {
        if self.count == 0 {
            return String::new();
        }
        let mut m = format!(
            "{} {what} rejected: {}",
            self.count,
            self.reasons.join("; ")
        );
        if self.count as usize > self.reasons.len() {
            m.push_str("; …");
        }
        m
    }
}

fn optional_id(bytes: &[u8], check: impl Fn(&[u8]) -> Result<(), String>) -> Result<(), String> {
    if bytes.is_empty() {
        Ok(())
    } else {
        check(bytes)
    }
}

/// Removes spans with an invalid trace, span or parent span ID.
pub fn traces(req: &mut ExportTraceServiceRequest) -> Rejected {
    let mut rejected = Rejected::default();
    for rs in &mut req.resource_spans {
        for ss in &mut rs.scope_spans {
            ss.spans.retain(|s| {
                let check = TraceId::from_bytes(&s.trace_id)
                    .map(|_| ())
                    .and_then(|_| SpanId::from_bytes(&s.span_id).map(|_| ()))
                    .map_err(|e| e.to_string())
                    .and_then(|_| {
                        optional_id(&s.parent_span_id, |b| {
                            if b.len() == 8 {
                                Ok(())
                            } else {
                                Err(format!("parent_span_id has {} bytes, expected 8", b.len()))
                            }
                        })
                    });
                match check {
                    Ok(()) => true,
                    Err(e) => {
                        rejected.add(format!("span {:?}: {e}", s.name));
                        false
                    }
                }
            });
        }
    }
    rejected
}

/// Removes log records whose (optional) trace or span ID is malformed.
pub fn logs(req: &mut ExportLogsServiceRequest) -> Rejected {
    let mut rejected = Rejected::default();
    for rl in &mut req.resource_logs {
        for sl in &mut rl.scope_logs {
            sl.log_records.retain(|r| {
                let check = optional_id(&r.trace_id, |b| {
                    TraceId::from_bytes(b)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
                .and_then(|_| {
                    optional_id(&r.span_id, |b| {
                        SpanId::from_bytes(b).map(|_| ()).map_err(|e| e.to_string())
                    })
                });
                match check {
                    Ok(()) => true,
                    Err(e) => {
                        let body = loupe_model::otlp::any_value_text(r.body.as_ref());
                        let short: String = body.chars().take(40).collect();
                        rejected.add(format!("log record {short:?}: {e}"));
                        false
                    }
                }
            });
        }
    }
    rejected
}

/// What is wrong with one side of an exponential histogram, if anything:
/// too many buckets, or bucket indices (`offset ..= offset + len`, the last
/// one being the upper edge) that do not fit in an `i32`.
fn exp_side(side: &str, b: Option<&Buckets>) -> Result<(), String> {
    let Some(b) = b else { return Ok(()) };
    let len = b.bucket_counts.len();
    if len > MAX_EXP_BUCKETS_PER_SIDE {
        return Err(format!(
            "{side} has {len} buckets, more than the {MAX_EXP_BUCKETS_PER_SIDE} allowed"
        ));
    }
    // len ≤ 2048 here, so the i64 sum cannot overflow.
    if i64::from(b.offset) + len as i64 > i64::from(i32::MAX) {
        return Err(format!(
            "{side} offset {} with {len} buckets runs past the largest bucket index {}",
            b.offset,
            i32::MAX
        ));
    }
    Ok(())
}

fn check_exponential(p: &ExponentialHistogramDataPoint) -> Result<(), String> {
    if !EXP_SCALES.contains(&p.scale) {
        return Err(format!(
            "scale {} is outside {}..={}",
            p.scale,
            EXP_SCALES.start(),
            EXP_SCALES.end()
        ));
    }
    exp_side("positive", p.positive.as_ref())?;
    exp_side("negative", p.negative.as_ref())
}

fn check_explicit(p: &HistogramDataPoint) -> Result<(), String> {
    let (bounds, counts) = (p.explicit_bounds.len(), p.bucket_counts.len());
    if bounds > MAX_EXPLICIT_BOUNDS {
        return Err(format!(
            "{bounds} explicit bounds, more than the {MAX_EXPLICIT_BOUNDS} allowed"
        ));
    }
    if counts != 0 && counts != bounds + 1 {
        return Err(format!(
            "{counts} bucket counts for {bounds} explicit bounds (expected {} or none)",
            bounds + 1
        ));
    }
    if p.explicit_bounds.iter().any(|b| b.is_nan()) {
        return Err("an explicit bound is NaN".into());
    }
    // Strictly increasing (±Inf allowed at the ends: data converted from
    // Prometheus carries `le="+Inf"`).
    if p.explicit_bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("explicit bounds are not strictly increasing".into());
    }
    Ok(())
}

fn check_summary(p: &SummaryDataPoint) -> Result<(), String> {
    let n = p.quantile_values.len();
    if n > MAX_SUMMARY_QUANTILES {
        return Err(format!(
            "{n} quantile values, more than the {MAX_SUMMARY_QUANTILES} allowed"
        ));
    }
    if let Some(q) = p
        .quantile_values
        .iter()
        .find(|q| !(0.0..=1.0).contains(&q.quantile))
    {
        return Err(format!("quantile {} is not between 0 and 1", q.quantile));
    }
    Ok(())
}

/// Removes histogram and summary data points whose bucket layout is out of
/// bounds: more buckets than [`MAX_EXP_BUCKETS_PER_SIDE`],
/// [`MAX_EXPLICIT_BOUNDS`] or [`MAX_SUMMARY_QUANTILES`], bucket indices that
/// overflow an `i32`, a scale outside [`EXP_SCALES`], explicit bounds that
/// are NaN or not strictly increasing, bucket counts that do not match the
/// bounds, quantiles outside 0..=1.
///
/// Why at ingest: the charts and alerts walk buckets and align them by
/// index; the caps here keep every stored point's work and memory small and
/// independent of the numbers in it (the math stays defensive too, for data
/// stored before these checks). Gauges and sums carry nothing to check.
pub fn metrics(req: &mut ExportMetricsServiceRequest) -> Rejected {
    let mut rejected = Rejected::default();
    for rm in &mut req.resource_metrics {
        for sm in &mut rm.scope_metrics {
            for m in &mut sm.metrics {
                let name = m.name.chars().take(40).collect::<String>();
                macro_rules! keep_valid {
                    ($points:expr, $what:literal, $check:expr) => {
                        $points.retain(|p| match $check(p) {
                            Ok(()) => true,
                            Err(e) => {
                                rejected.add(format!("{} data point of {name:?}: {e}", $what));
                                false
                            }
                        })
                    };
                }
                match &mut m.data {
                    Some(Data::ExponentialHistogram(h)) => {
                        keep_valid!(h.data_points, "exponential histogram", check_exponential)
                    }
                    Some(Data::Histogram(h)) => {
                        keep_valid!(h.data_points, "histogram", check_explicit)
                    }
                    Some(Data::Summary(s)) => keep_valid!(s.data_points, "summary", check_summary),
                    Some(Data::Gauge(_)) | Some(Data::Sum(_)) | None => {}
                }
            }
        }
    }
    rejected
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::metrics::{
        summary_data_point::ValueAtQuantile, ExponentialHistogram, Histogram, Metric,
        ResourceMetrics, ScopeMetrics, Summary,
    };
    use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span};

    fn span(name: &str, trace: Vec<u8>, span: Vec<u8>) -> Span {
        Span {
            name: name.into(),
            trace_id: trace,
            span_id: span,
            ..Default::default()
        }
    }

    #[test]
    fn rejects_only_the_bad_spans() {
        let mut req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span("ok", vec![1; 16], vec![2; 8]),
                        span("empty", vec![], vec![2; 8]),
                        span("short", vec![1; 15], vec![2; 8]),
                        span("zero", vec![0; 16], vec![2; 8]),
                        span("zero-span", vec![1; 16], vec![0; 8]),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let r = traces(&mut req);
        assert_eq!(r.count, 4);
        let kept = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].name, "ok");
        let msg = r.message("spans");
        assert!(
            msg.starts_with("4 spans rejected: span \"empty\": trace_id is empty"),
            "{msg}"
        );
        assert!(msg.ends_with('…'), "{msg}");
    }

    fn metric(data: Data) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "latency".into(),
                        data: Some(data),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn points(req: &ExportMetricsServiceRequest) -> usize {
        loupe_model::otlp_points(&req.resource_metrics[0].scope_metrics[0].metrics[0])
    }

    fn exp(scale: i32, offset: i32, n: usize) -> ExponentialHistogramDataPoint {
        ExponentialHistogramDataPoint {
            scale,
            positive: Some(Buckets {
                offset,
                bucket_counts: vec![1; n],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn million_buckets_rejected_at_ingest() {
        let mut req = metric(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![exp(0, 0, 1_000_000), exp(0, 0, 160)],
            ..Default::default()
        }));
        let r = metrics(&mut req);
        assert_eq!(r.count, 1);
        assert_eq!(points(&req), 1, "the valid point is kept");
        let msg = r.message("data points");
        assert!(
            msg.contains("positive has 1000000 buckets, more than the 2048 allowed"),
            "{msg}"
        );
    }

    #[test]
    fn exponential_offsets_scales_and_sides_are_checked() {
        let mut negative = exp(0, 0, 1);
        negative.negative = Some(Buckets {
            offset: i32::MIN,
            bucket_counts: vec![1; MAX_EXP_BUCKETS_PER_SIDE + 1],
        });
        let mut req = metric(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![
                exp(0, i32::MAX - 10, 10),            // last upper edge is i32::MAX: fine
                exp(0, i32::MAX - 10, 11),            // one past
                exp(0, i32::MIN, 5),                  // fine
                exp(21, 0, 1),                        // scale too fine
                exp(-11, 0, 1),                       // scale too coarse
                exp(20, 0, MAX_EXP_BUCKETS_PER_SIDE), // at the cap
                negative,
                ExponentialHistogramDataPoint::default(),
            ],
            ..Default::default()
        }));
        let r = metrics(&mut req);
        assert_eq!(r.count, 4, "{}", r.message("data points"));
        assert_eq!(points(&req), 4);
        let msg = r.message("data points");
        assert!(msg.contains("runs past the largest bucket index"), "{msg}");
        assert!(msg.contains("scale 21 is outside -10..=20"), "{msg}");
    }

    #[test]
    fn explicit_histograms_are_checked() {
        let h = |bounds: Vec<f64>, counts: Vec<u64>| HistogramDataPoint {
            explicit_bounds: bounds,
            bucket_counts: counts,
            ..Default::default()
        };
        let mut req = metric(Data::Histogram(Histogram {
            data_points: vec![
                h(vec![1.0, 2.0], vec![1, 2, 3]),
                h(vec![1.0, 2.0], vec![]),
                h(vec![1.0, f64::INFINITY], vec![0, 1, 0]),
                h(vec![], vec![7]),
                h(vec![1.0, 2.0], vec![1, 2]),
                h(vec![2.0, 1.0], vec![1, 2, 3]),
                h(vec![1.0, 1.0], vec![1, 2, 3]),
                h(vec![f64::NAN], vec![1, 2]),
                h(vec![0.0; MAX_EXPLICIT_BOUNDS + 1], vec![]),
            ],
            ..Default::default()
        }));
        let r = metrics(&mut req);
        assert_eq!(r.count, 5, "{}", r.message("data points"));
        assert_eq!(points(&req), 4);
        assert!(r
            .message("data points")
            .starts_with("5 data points rejected: histogram data point of \"latency\": 2 bucket counts for 2 explicit bounds"));
    }

    #[test]
    fn summaries_are_checked() {
        let s = |qs: &[f64]| SummaryDataPoint {
            quantile_values: qs
                .iter()
                .map(|&q| ValueAtQuantile {
                    quantile: q,
                    value: 1.0,
                })
                .collect(),
            ..Default::default()
        };
        let mut req = metric(Data::Summary(Summary {
            data_points: vec![
                s(&[0.0, 0.5, 1.0]),
                s(&[f64::NAN]),
                s(&[1.5]),
                s(&vec![0.5; MAX_SUMMARY_QUANTILES + 1]),
            ],
        }));
        let r = metrics(&mut req);
        assert_eq!(r.count, 3);
        assert_eq!(points(&req), 1);
        assert!(r
            .message("data points")
            .contains("more than the 128 allowed"));
    }
}
