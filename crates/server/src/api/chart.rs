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
use std::collections::BTreeMap;

use loupe_charts::render::render_distribution;
use loupe_charts::select::Bucket;
use loupe_charts::{
    render, select, Aggregate, Chart, DistributionFrame, Frame, Selection, Theme, Unit,
};
use loupe_model::query::ChartQuery;
use loupe_model::time::{now_ns, NanoRange};
use loupe_store::Reader;
use serde::Serialize;
use ts_rs::TS;

use super::{blocking, json_sorted, pairs, ApiError, ApiResult};

/// `GET /metrics/{name}/chart`: the drawn chart and what the pickers need.
#[derive(Debug, Serialize, TS)]
pub struct ChartAnswer {
    #[serde(flatten)]
    pub chart: Chart,
    pub name: String,
    /// What the values mean ("rate per second", "p50, p90, p99", …).
    pub meaning: String,
    /// The values' unit, from the metric's UCUM unit (per second for
    /// rates): the page prints read-outs with it as the axis does.
    pub unit: Unit,
    /// Attribute keys of the matching series (split and filter pickers).
    pub keys: Vec<String>,
    /// Values of each key.
    pub values: BTreeMap<String, Vec<String>>,
    /// For histograms: the bucket distribution of the window.
    pub distribution: Option<Distribution>,
}

/// A histogram's buckets over the chart's window, and their drawing.
#[derive(Debug, Serialize, TS)]
pub struct Distribution {
    pub buckets: Vec<Bucket>,
    pub svg: String,
    /// How series with different bucket bounds were combined (also drawn
    /// in the SVG); absent when they all had the same.
    pub note: Option<String>,
}

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
) -> Result<ChartAnswer, ApiError> {
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
    let theme = Theme::parse(&q.theme).unwrap_or_default();
    let frame = Frame {
        start: range.start,
        end: range.end,
        width: q.width,
        height: q.height,
        utc_offset_s: q.utc_offset_s,
        hidden: q.hidden.clone(),
        theme,
    };
    let chart = render(&plot, &frame).map_err(ApiError::encode)?;
    let distribution = match plot.distribution {
        Some(buckets) => Some(Distribution {
            svg: render_distribution(
                &buckets,
                &DistributionFrame {
                    width: q.width,
                    height: (q.height * 3 / 4).max(100),
                    theme,
                    unit: &plot.unit,
                    note: plot.distribution_note.as_deref(),
                },
            )
            .map_err(ApiError::encode)?,
            buckets,
            note: plot.distribution_note,
        }),
        None => None,
    };
    Ok(ChartAnswer {
        chart,
        name: name.to_string(),
        meaning: plot.meaning,
        unit: plot.unit,
        keys: plot.keys,
        values: plot.values,
        distribution,
    })
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
        .map_err(|_| ApiError::interrupted())??;
    json_sorted(&v, 64 * 1024)
}
