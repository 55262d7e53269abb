//! The report's metric charts, drawn by `loupe-charts` as the app draws
//! them (the same selection by metric type, units, legends, colours and
//! distributions), and embedded in the page as static SVG: the report shows
//! the picture the user saw in Loupe, and shows it without its script.
//!
//! The charts are made from the export's own JSON Lines (already redacted),
//! one per metric name over one window that covers every exported point.
//! Series labels are telemetry: they go into the page HTML-escaped, beside
//! the SVG, never into it (plotters escapes the axis labels it writes).

use std::collections::BTreeMap;
use std::fmt::Write;

use loupe_charts::render::color_of;
use loupe_charts::{
    render, render_distribution, select, DistributionFrame, Frame, Selection, Theme,
};
use loupe_model::otlp::metrics::{ResourceMetrics, ScopeMetrics};
use loupe_model::otlp::ExportMetricsServiceRequest;
use loupe_model::points;
use loupe_otlp::decode::{decode_message, Encoding};

/// Most charts in one report: each is some kilobytes of SVG; the data of the
/// others is still in the report (and in Loupe once imported).
pub const MAX_CHARTS: usize = 60;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 220;

/// Text safe inside an HTML element or attribute value.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The metrics of the JSON Lines, one request per metric name (every
/// resource and scope that sent it), in name order.
fn by_name(jsonl: &[u8]) -> BTreeMap<String, ExportMetricsServiceRequest> {
    let mut out: BTreeMap<String, ExportMetricsServiceRequest> = BTreeMap::new();
    for line in jsonl.split(|&b| b == b'\n') {
        // Only metric lines are decoded; the export wrote every line, so
        // one that does not decode is skipped, not fatal.
        if !line.windows(15).any(|w| w == b"resourceMetrics") {
            continue;
        }
        let Ok(req) = decode_message::<ExportMetricsServiceRequest>(line, Encoding::Json) else {
            continue;
        };
        for rm in req.resource_metrics {
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    out.entry(m.name.clone())
                        .or_default()
                        .resource_metrics
                        .push(ResourceMetrics {
                            resource: rm.resource.clone(),
                            scope_metrics: vec![ScopeMetrics {
                                scope: sm.scope.clone(),
                                metrics: vec![m],
                                schema_url: sm.schema_url.clone(),
                            }],
                            schema_url: rm.schema_url.clone(),
                        });
                }
            }
        }
    }
    out
}

/// The window every chart shares: the exported points' times, with a
/// margin so the first and last points are not on the edges.
fn window<'a>(reqs: impl Iterator<Item = &'a ExportMetricsServiceRequest>) -> Option<(u64, u64)> {
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    for r in reqs {
        for m in points::metrics(r) {
            for p in m.points() {
                let t = p.time_unix_nano();
                if t > 0 {
                    lo = lo.min(t);
                    hi = hi.max(t);
                }
            }
        }
    }
    if lo > hi {
        return None;
    }
    let pad = ((hi - lo) / 20).max(30_000_000_000);
    Some((lo.saturating_sub(pad), hi.saturating_add(pad)))
}

/// The charts section of the report (empty when the export has no
/// metrics): per metric its name and unit, the chart, its legend, notes,
/// and for histograms the bucket distribution.
pub fn charts_html(jsonl: &[u8]) -> String {
    let metrics = by_name(jsonl);
    let Some((start, end)) = window(metrics.values()) else {
        return String::new();
    };
    let mut html = String::from("<section id=\"metric-charts\">\n<h2>Metrics</h2>\n");
    for (i, (name, req)) in metrics.iter().enumerate() {
        if i == MAX_CHARTS {
            let _ = writeln!(
                html,
                "<p class=\"muted\">{} more metrics are in the report's data but not drawn (at most {MAX_CHARTS} charts); import the report into Loupe to see them.</p>",
                metrics.len() - MAX_CHARTS
            );
            break;
        }
        let unit = points::metrics(req)
            .next()
            .map(|m| m.metric.unit.clone())
            .unwrap_or_default();
        let sel = Selection {
            columns: WIDTH as usize - 80,
            ..Selection::new(start, end)
        };
        let plot = select(req, name, &sel);
        let frame = Frame {
            start,
            end,
            width: WIDTH,
            height: HEIGHT,
            utc_offset_s: 0,
            hidden: Vec::new(),
            theme: Theme::Light,
        };
        let Ok(chart) = render(&plot, &frame) else {
            continue;
        };
        let _ = write!(
            html,
            "<figure class=\"metric-chart\" data-metric=\"{}\">\n<figcaption><b>{}</b> <span class=\"muted\">{}{}</span></figcaption>\n{}",
            escape(name),
            escape(name),
            escape(&plot.meaning),
            if unit.is_empty() {
                String::new()
            } else {
                format!(" · unit {}", escape(&unit))
            },
            chart.svg
        );
        html.push_str("<ul class=\"legend\">");
        for (i, s) in chart.series.iter().enumerate() {
            let _ = write!(
                html,
                "<li data-label=\"{}\"><svg width=\"10\" height=\"10\" aria-hidden=\"true\"><rect width=\"10\" height=\"10\" fill=\"{}\"/></svg> {}</li>",
                escape(&s.label),
                color_of(i),
                escape(&s.label)
            );
        }
        html.push_str("</ul>\n");
        for note in &chart.truncated {
            let _ = writeln!(html, "<p class=\"muted note\">{}</p>", escape(note));
        }
        if let Some(buckets) = &plot.distribution {
            let dist = render_distribution(
                buckets,
                &DistributionFrame {
                    width: WIDTH,
                    height: HEIGHT * 3 / 4,
                    theme: Theme::Light,
                    unit: &plot.unit,
                    note: plot.distribution_note.as_deref(),
                },
            );
            if let Ok(svg) = dist {
                let _ = write!(
                    html,
                    "<div class=\"distribution\"><div class=\"muted\">Bucket distribution of the window</div>\n{svg}</div>\n"
                );
            }
        }
        html.push_str("</figure>\n");
    }
    html.push_str("</section>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chart_per_metric_with_escaped_labels() {
        let line = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"kestra"}}]},"scopeMetrics":[{"metrics":[{"name":"kestra.queue<size>","unit":"By","gauge":{"dataPoints":[{"timeUnixNano":"1795255200000000000","asDouble":2048,"attributes":[{"key":"queue","value":{"stringValue":"<b>a</b>"}}]},{"timeUnixNano":"1795255260000000000","asDouble":4096,"attributes":[{"key":"queue","value":{"stringValue":"b"}}]}]}}]}]}]}"#;
        let html = charts_html(line);
        assert_eq!(html.matches("<figure").count(), 1, "{html}");
        assert!(html.contains("data-metric=\"kestra.queue&lt;size&gt;\""));
        assert!(html.contains("queue=&lt;b&gt;a&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>a</b>"));
        // Units as in the app: KiB on the axis.
        assert!(html.contains("KiB"), "{html}");
        assert!(html.contains("<svg width=\"640\""));
    }

    #[test]
    fn no_metrics_no_section() {
        assert_eq!(charts_html(b"{\"resourceSpans\":[]}\n"), "");
    }
}
