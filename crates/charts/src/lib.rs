//! Loupe's metric charts, with no I/O so that the API and exported reports
//! draw the same pictures from the same code.
//!
//! The path is: OTLP data points of one metric ([`select`]: filter by
//! attributes, turn each stored series into plotted values by metric type,
//! split or aggregate) → [`downsample`] to what the chart's width can show →
//! [`render`] an SVG with plotters, returning the plot area and axis ranges
//! so a page can map pointer pixels back to times and values.
//!
//! The numeric work (rates with counter resets, percentiles from explicit
//! and exponential buckets) lives in [`math`], tested against hand-computed
//! values.

pub mod axis;
mod dist;
pub mod downsample;
pub mod math;
pub mod render;
pub mod select;
pub mod unit;

pub use render::{
    render, render_distribution, Chart, ChartError, DistributionFrame, Frame, PlotRect, Theme,
};
pub use select::{select, Aggregate, Plot, PlotSeries, Selection};
pub use unit::{Unit, UnitKind};

/// One plotted value: nanoseconds since the Unix epoch and a value. A NaN
/// value is a gap: the line breaks there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub t: u64,
    pub v: f64,
}

impl Point {
    pub fn new(t: u64, v: f64) -> Point {
        Point { t, v }
    }
}
