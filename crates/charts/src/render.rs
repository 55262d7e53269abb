//! Draws a [`Plot`] as SVG with plotters.
//!
//! Besides the SVG the answer carries what a page needs to make the picture
//! interactive without re-implementing the layout: the plot area in pixels,
//! the axis ranges (so a pointer's x maps to a time and back), each line's
//! colour and down-sampled points (for a crosshair read-out), and where each
//! exemplar mark was drawn. Text in the SVG is only axis labels made here;
//! telemetry strings (series labels) stay out of it so the page can render
//! them as text.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;

use crate::axis;
use crate::downsample;
use crate::select::{Bucket, Plot, PlotExemplar};
use crate::Point;

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("a chart needs at least 120×80 pixels, not {0}×{1}")]
    TooSmall(u32, u32),
    #[error("a chart is at most {MAX_SIDE}×{MAX_SIDE} pixels, not {0}×{1}")]
    TooLarge(u32, u32),
}

/// Largest width or height drawn, in pixels: the SVG and the points per
/// line grow with the width.
pub const MAX_SIDE: u32 = 8192;

/// Most points an answer carries over all its lines (hidden ones too), after
/// down-sampling. Down-sampling keeps up to five points per pixel column
/// (first, min, max, last, a gap); with many lines the columns are made
/// wider so that the total stays under this (about 4 MB of JSON and SVG).
pub const MAX_CHART_POINTS: usize = 100_000;

/// Points kept per column by [`downsample::min_max`] at most.
const POINTS_PER_COLUMN: usize = 5;

fn check_size(w: u32, h: u32) -> Result<(), ChartError> {
    if w < 120 || h < 80 {
        return Err(ChartError::TooSmall(w, h));
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(ChartError::TooLarge(w, h));
    }
    Ok(())
}

fn draw_err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError::Draw(format!("{e:?}"))
}

/// The plot area inside the SVG, in pixels from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PlotRect {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct RenderedSeries {
    pub label: String,
    pub color: String,
    pub hidden: bool,
    /// Down-sampled points, `[time as a decimal string, value or null]`.
    pub points: Vec<(String, Option<f64>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct RenderedExemplar {
    #[serde(flatten)]
    pub exemplar: PlotExemplar,
    /// Where the mark's centre is in the SVG.
    pub x: i32,
    pub y: i32,
}

/// A drawn chart.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Chart {
    pub svg: String,
    pub width: u32,
    pub height: u32,
    pub plot: PlotRect,
    /// The x axis: nanoseconds at the plot area's left and right edges.
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub x_start: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "loupe_model::query::ns_string")]
    pub x_end: u64,
    /// The y axis: values at the plot area's bottom and top edges.
    pub y_min: f64,
    pub y_max: f64,
    pub series: Vec<RenderedSeries>,
    pub exemplars: Vec<RenderedExemplar>,
    /// Points drawn, after down-sampling (for tests and benchmarks).
    #[serde(skip)]
    pub drawn_points: usize,
    /// What was left out or coarsened to keep the answer within its caps
    /// ([`Plot::truncated`] and the points budget), one sentence each.
    pub truncated: Vec<String>,
}

/// Line colours, in series order: twelve distinct colours before the first
/// repeats. The first seven are Okabe and Ito's colour-blind-safe set
/// (without black), the next five from Paul Tol's "muted" scheme, which is
/// designed to stay apart under the common colour-vision deficiencies; each
/// is readable on the light and the dark background.
pub const PALETTE: [(u8, u8, u8); 12] = [
    (0x00, 0x72, 0xb2), // blue
    (0xe6, 0x9f, 0x00), // orange
    (0x00, 0x9e, 0x73), // bluish green
    (0xd5, 0x5e, 0x00), // vermillion
    (0x56, 0xb4, 0xe9), // sky blue
    (0xcc, 0x79, 0xa7), // reddish purple
    (0xf0, 0xe4, 0x42), // yellow
    (0x88, 0x22, 0x55), // wine
    (0x44, 0xaa, 0x99), // teal
    (0x99, 0x99, 0x33), // olive
    (0xaa, 0x44, 0x99), // purple
    (0x88, 0x88, 0x88), // grey
];

/// The `#rrggbb` of line `i`.
pub fn color_of(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The page the chart sits on: the SVG's background, labels, grid and axis
/// colours follow it, so a server-drawn chart matches the UI's theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    pub fn parse(s: &str) -> Option<Theme> {
        match s {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    fn colors(self) -> Colors {
        match self {
            Theme::Light => Colors {
                background: WHITE,
                label: RGBColor(0x5f, 0x63, 0x68),
                grid: RGBColor(0xe6, 0xe8, 0xeb),
                axis: RGBColor(0xb0, 0xb4, 0xba),
                mark: RGBColor(0x3c, 0x40, 0x43),
            },
            Theme::Dark => Colors {
                background: RGBColor(0x16, 0x1b, 0x22),
                label: RGBColor(0xb4, 0xbc, 0xc6),
                grid: RGBColor(0x2d, 0x33, 0x3b),
                axis: RGBColor(0x59, 0x61, 0x6b),
                mark: RGBColor(0xe6, 0xea, 0xef),
            },
        }
    }
}

struct Colors {
    background: RGBColor,
    label: RGBColor,
    grid: RGBColor,
    axis: RGBColor,
    /// Exemplar marks' outline.
    mark: RGBColor,
}

/// Radius of the dot drawn for a point with no neighbour to join (a series
/// with one point, or a point between gaps): large enough to be seen.
pub const DOT_RADIUS: i32 = 4;

/// The left margin that fits the widest value label (about 7.5 pixels per
/// character at 14 px, plus the tick gap), at least 56 pixels.
fn left_margin<'a>(labels: impl Iterator<Item = &'a String>) -> i32 {
    let widest = labels.map(|l| l.chars().count()).max().unwrap_or(0);
    (widest as i32 * 15 / 2 + 12).clamp(56, 160)
}

/// How to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub start: u64,
    pub end: u64,
    pub width: u32,
    pub height: u32,
    /// The viewer's UTC offset in seconds, for time labels.
    pub utc_offset_s: i64,
    /// Series (by index) left out of the picture; they keep their colours.
    pub hidden: Vec<usize>,
    pub theme: Theme,
}

fn segments(points: &[Point]) -> Vec<Vec<(f64, f64)>> {
    let mut out = vec![Vec::new()];
    for p in points {
        if p.v.is_finite() {
            if let Some(last) = out.last_mut() {
                last.push((p.t as f64, p.v));
            }
        } else if out.last().is_some_and(|s| !s.is_empty()) {
            out.push(Vec::new());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Draws `plot` over `frame`.
pub fn render(plot: &Plot, frame: &Frame) -> Result<Chart, ChartError> {
    let (w, h) = (frame.width, frame.height);
    check_size(w, h)?;
    let (start, end) = (
        frame.start.min(u64::MAX - 1),
        frame.end.max(frame.start.saturating_add(1)),
    );
    let colors = frame.theme.colors();
    let (right, top, bottom) = (24i32, 10i32, 24i32);
    // The plot's width depends on the value labels' width, which depends
    // on the values: measure with a provisional width first.
    let mut rect = PlotRect {
        x: 56,
        y: top,
        width: w as i32 - 56 - right,
        height: h as i32 - top - bottom,
    };
    // Down-sample first: the y range and the drawing use the same points.
    // Fewer columns than pixels when many lines would exceed the budget.
    let mut truncated = plot.truncated.clone();
    let width = usize::try_from(rect.width).unwrap_or(1).max(1);
    let budget = MAX_CHART_POINTS / (POINTS_PER_COLUMN * plot.series.len().max(1));
    let columns = width.min(budget).max(1);
    if columns < width {
        truncated.push(format!(
            "{} lines are down-sampled to {columns} columns each (at most {MAX_CHART_POINTS} points)",
            plot.series.len()
        ));
    }
    let reduced: Vec<Vec<Point>> = plot
        .series
        .iter()
        .map(|s| downsample::min_max(&s.points, start, end, columns))
        .collect();
    let visible = |i: usize| !frame.hidden.contains(&i);
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (i, pts) in reduced.iter().enumerate() {
        if !visible(i) {
            continue;
        }
        for p in pts.iter().filter(|p| p.v.is_finite()) {
            lo = lo.min(p.v);
            hi = hi.max(p.v);
        }
    }
    let exemplars: Vec<&PlotExemplar> = plot
        .exemplars
        .iter()
        .filter(|e| e.time_unix_nano >= start && e.time_unix_nano <= end)
        .collect();
    for e in exemplars
        .iter()
        .filter(|e| e.on_scale && e.value.is_finite())
    {
        lo = lo.min(e.value);
        hi = hi.max(e.value);
    }
    let empty = !lo.is_finite();
    let (y_min, y_max, y_ticks) =
        axis::unit_ticks(lo, hi, ((rect.height / 40).max(2)) as usize, &plot.unit);
    let y_labels: Vec<String> = y_ticks.iter().map(|v| plot.unit.format(*v, 4)).collect();
    rect.x = left_margin(y_labels.iter());
    rect.width = (w as i32 - rect.x - right).max(1);
    let to_px = |t: u64, v: f64| -> (i32, i32) {
        let x = rect.x as f64
            + (t.saturating_sub(start)) as f64 / (end - start) as f64 * rect.width as f64;
        let y = rect.y as f64 + (y_max - v) / (y_max - y_min) * rect.height as f64;
        (x.round() as i32, y.round() as i32)
    };

    let mut svg = String::with_capacity(16 * 1024);
    let mut drawn = 0usize;
    let mut placed = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&colors.background).map_err(draw_err)?;
        let font = |size: u32, anchor: Pos| {
            ("sans-serif", size)
                .into_font()
                .color(&colors.label)
                .pos(anchor)
        };
        // Grid and value labels.
        for (v, text) in y_ticks.iter().zip(&y_labels) {
            let (_, y) = to_px(start, *v);
            root.draw(&PathElement::new(
                vec![(rect.x, y), (rect.x + rect.width, y)],
                colors.grid,
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(
                text.clone(),
                (rect.x - 6, y),
                font(14, Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        // Time ticks and labels.
        let (step, ticks) = axis::time_ticks(
            start,
            end,
            (rect.width / 90).max(2) as usize,
            frame.utc_offset_s,
        );
        for t in ticks {
            let (x, _) = to_px(t, y_min);
            let base = rect.y + rect.height;
            root.draw(&PathElement::new(
                vec![(x, base), (x, base + 4)],
                colors.axis,
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(
                axis::time_label(t, step, frame.utc_offset_s),
                (x, base + 7),
                font(14, Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(draw_err)?;
        }
        let base = rect.y + rect.height;
        root.draw(&PathElement::new(
            vec![(rect.x, base), (rect.x + rect.width, base)],
            colors.axis,
        ))
        .map_err(draw_err)?;
        if empty {
            root.draw(&Text::new(
                "No data in this range",
                (rect.x + rect.width / 2, rect.y + rect.height / 2),
                font(16, Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        // Lines, clipped to the plot area by construction (down-sampled to the range).
        for (i, pts) in reduced.iter().enumerate() {
            if !visible(i) {
                continue;
            }
            let (r, g, b) = PALETTE[i % PALETTE.len()];
            let color = RGBColor(r, g, b);
            for seg in segments(pts) {
                let px: Vec<(i32, i32)> = seg.iter().map(|(t, v)| to_px(*t as u64, *v)).collect();
                drawn += px.len();
                if px.len() == 1 {
                    root.draw(&Circle::new(px[0], DOT_RADIUS, color.filled()))
                        .map_err(draw_err)?;
                } else {
                    root.draw(&PathElement::new(px, color.stroke_width(2)))
                        .map_err(draw_err)?;
                }
            }
        }
        // Exemplar marks: on the value when it is on the chart's scale,
        // else on the time axis.
        for e in exemplars {
            let (x, y) = if e.on_scale && e.value.is_finite() {
                to_px(e.time_unix_nano, e.value)
            } else {
                (to_px(e.time_unix_nano, y_min).0, rect.y + rect.height - 5)
            };
            let mark = colors.mark;
            root.draw(&Polygon::new(
                vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)],
                colors.background.filled(),
            ))
            .map_err(draw_err)?;
            root.draw(&PathElement::new(
                vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y), (x, y - 5)],
                mark.stroke_width(1),
            ))
            .map_err(draw_err)?;
            placed.push(RenderedExemplar {
                exemplar: e.clone(),
                x,
                y,
            });
        }
        root.present().map_err(draw_err)?;
    }
    let series = plot
        .series
        .iter()
        .zip(&reduced)
        .enumerate()
        .map(|(i, (s, pts))| RenderedSeries {
            label: s.label.clone(),
            color: color_of(i),
            hidden: !visible(i),
            points: pts
                .iter()
                .map(|p| (p.t.to_string(), p.v.is_finite().then_some(p.v)))
                .collect(),
        })
        .collect();
    Ok(Chart {
        svg,
        width: w,
        height: h,
        plot: rect,
        x_start: start,
        x_end: end,
        y_min,
        y_max,
        series,
        exemplars: placed,
        drawn_points: drawn,
        truncated,
    })
}

/// How to draw a histogram's distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionFrame<'a> {
    pub width: u32,
    pub height: u32,
    pub theme: Theme,
    /// The unit of the bucket bounds (the metric's).
    pub unit: &'a crate::unit::Unit,
    /// A sentence drawn above the bars (how series with different bucket
    /// bounds were combined), so the picture says it itself.
    pub note: Option<&'a str>,
}

/// Draws a histogram's bucket distribution as bars, one per non-empty
/// bucket, evenly spaced (bucket widths vary by orders of magnitude), each
/// labelled with its upper bound.
pub fn render_distribution(
    buckets: &[Bucket],
    frame: &DistributionFrame<'_>,
) -> Result<String, ChartError> {
    let (width, height) = (frame.width, frame.height);
    check_size(width, height)?;
    let colors = frame.theme.colors();
    // Trim empty buckets at both ends.
    let first = buckets.iter().position(|b| b.count > 0);
    let last = buckets.iter().rposition(|b| b.count > 0);
    let shown: &[Bucket] = match (first, last) {
        (Some(a), Some(b)) => &buckets[a..=b],
        _ => &[],
    };
    let top = if frame.note.is_some() { 28i32 } else { 10i32 };
    let (left, right, bottom) = (56i32, 24i32, 24i32);
    let (pw, ph) = (width as i32 - left - right, height as i32 - top - bottom);
    let max = shown.iter().map(|b| b.count).max().unwrap_or(0);
    let (_, y_max, ticks) = axis::value_ticks(0.0, max as f64, (ph / 40).max(2) as usize);
    let counts = crate::unit::Unit::default();
    let mut svg = String::with_capacity(8 * 1024);
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&colors.background).map_err(draw_err)?;
        let font = |anchor: Pos| {
            ("sans-serif", 14)
                .into_font()
                .color(&colors.label)
                .pos(anchor)
        };
        if let Some(note) = frame.note {
            root.draw(&Text::new(
                note.to_string(),
                (left, 6),
                font(Pos::new(HPos::Left, VPos::Top)),
            ))
            .map_err(draw_err)?;
        }
        let y_of = |v: f64| top + ((y_max - v) / y_max.max(1e-300) * ph as f64).round() as i32;
        for v in &ticks {
            let y = y_of(*v);
            root.draw(&PathElement::new(
                vec![(left, y), (left + pw, y)],
                colors.grid,
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(
                counts.format(*v, 3),
                (left - 6, y),
                font(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        if shown.is_empty() {
            root.draw(&Text::new(
                "No data in this range",
                (left + pw / 2, top + ph / 2),
                font(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        let n = shown.len().max(1) as i32;
        let slot = pw as f64 / n as f64;
        // Labels carry units now ("≤ 812.5 ms"): about 80 pixels each.
        let every = ((n as f64 * 80.0) / pw as f64).ceil().max(1.0) as usize;
        let (r, g, b) = PALETTE[0];
        for (i, bk) in shown.iter().enumerate() {
            let x0 = left + (slot * i as f64 + slot * 0.1).round() as i32;
            let x1 = left + (slot * (i + 1) as f64 - slot * 0.1).round() as i32;
            let y = y_of(bk.count as f64);
            root.draw(&Rectangle::new(
                [(x0, y), (x1.max(x0 + 1), top + ph)],
                RGBColor(r, g, b).filled(),
            ))
            .map_err(draw_err)?;
            if i % every == 0 {
                let label = if bk.upper.is_infinite() {
                    "+Inf".to_string()
                } else {
                    format!("≤{}", frame.unit.format(bk.upper, 4))
                };
                root.draw(&Text::new(
                    label,
                    ((x0 + x1) / 2, top + ph + 7),
                    font(Pos::new(HPos::Center, VPos::Top)),
                ))
                .map_err(draw_err)?;
            }
        }
        root.draw(&PathElement::new(
            vec![(left, top + ph), (left + pw, top + ph)],
            colors.axis,
        ))
        .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}
