//! `GET /api/v1/metrics/{name}/chart`: a metric drawn by `loupe-charts`.
//!
//! Reads the metric's points in the range, selects and combines the lines,
//! down-samples to the requested width and draws the SVG, all on a blocking
//! thread. The answer carries the plot area and axis ranges (so the page can
//! put a crosshair over the picture and turn a drag into a time range), the
//! lines' labels, colours and drawn points (for the read-out and legend),
//! the exemplar marks, and for histograms the bucket distribution of the
//! window as a second SVG.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use loupe_charts::render::render_distribution;
use loupe_charts::{render, select, Aggregate, Frame, Selection};
use loupe_model::query::ChartQuery;
use loupe_model::time::{now_ns, NanoRange};
use loupe_store::Reader;
use serde_json::json;

use super::{blocking, json_sized, pairs, ApiError, ApiResult};

/// The default window when the query names no `start`.
const DEFAULT_WINDOW_NS: u64 = 3600 * 1_000_000_000;

/// The concrete range of a chart: an open end is now, an open start an hour before the end.
fn concrete(range: NanoRange) -> NanoRange {
    let end = if range.end == u64::MAX {
        now_ns()
    } else {
        range.end
    };
    let start = if range.start == 0 {
        end.saturating_sub(DEFAULT_WINDOW_NS)
    } else {
        range.start
    };
    NanoRange {
        start: start.min(end),
        end,
    }
}

fn draw(
    name: &str,
    q: &ChartQuery,
    req: &loupe_model::otlp::ExportMetricsServiceRequest,
) -> Result<serde_json::Value, ApiError> {
    let range = concrete(q.range);
    let sel = Selection {
        start: range.start,
        end: range.end,
        filters: q.filters.clone(),
        split_by: q.split.clone(),
        aggregate: Aggregate::parse(&q.aggregate).unwrap_or_default(),
        quantiles: q.quantiles.clone(),
        columns: q.width.saturating_sub(70).max(50) as usize,
    };
    let plot = select(req, name, &sel);
    let frame = Frame {
        start: range.start,
        end: range.end,
        width: q.width,
        height: q.height,
        utc_offset_s: q.utc_offset_s,
        hidden: q.hidden.clone(),
    };
    let chart = render(&plot, &frame).map_err(|e| ApiError::Encode(e.to_string()))?;
    let distribution = match &plot.distribution {
        Some(buckets) => Some(json!({
            "buckets": buckets,
            "svg": render_distribution(buckets, q.width, (q.height * 3 / 4).max(100)).map_err(|e| ApiError::Encode(e.to_string()))?,
        })),
        None => None,
    };
    let mut v = serde_json::to_value(&chart).map_err(|e| ApiError::Encode(e.to_string()))?;
    v["name"] = json!(name);
    v["meaning"] = json!(plot.meaning);
    v["keys"] = json!(plot.keys);
    v["values"] = json!(plot.values);
    v["distribution"] = json!(distribution);
    Ok(v)
}

pub(super) async fn chart(
    State(r): State<Arc<Reader>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = loupe_query::chart_query(&pairs(q))?;
    let range = concrete(q.range);
    let n = name.clone();
    let req = blocking(&r, move |r| r.metric_points(&n, range)).await?;
    let v = tokio::task::spawn_blocking(move || draw(&name, &q, &req))
        .await
        .map_err(|_| ApiError::Interrupted)??;
    json_sized(&v, 64 * 1024)
}
