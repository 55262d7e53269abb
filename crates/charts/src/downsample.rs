//! Reduces a series to what a chart's width can show.
//!
//! Per pixel column the first, minimum, maximum and last point are kept (in
//! time order), so spikes survive and the drawn line is the same as with all
//! points; a week of 1-second points becomes at most four per column. A gap
//! (NaN) in a column is kept once so the line still breaks there.

use crate::Point;

/// Down-samples `points` (sorted by time) over `[start, end]` into at most
/// four points per column of `columns`. Points outside the range are dropped.
pub fn min_max(points: &[Point], start: u64, end: u64, columns: usize) -> Vec<Point> {
    let columns = columns.max(1);
    let span = end.saturating_sub(start).max(1) as f64;
    let column_of = |t: u64| -> usize {
        let c = ((t - start) as f64 / span * columns as f64) as usize;
        c.min(columns - 1)
    };
    let mut out = Vec::with_capacity(points.len().min(columns.saturating_mul(4)));
    let mut i = 0;
    let inside: Vec<&Point> = points
        .iter()
        .filter(|p| p.t >= start && p.t <= end)
        .collect();
    while i < inside.len() {
        let col = column_of(inside[i].t);
        let mut j = i;
        let (mut first, mut last) = (None::<usize>, None::<usize>);
        let (mut lo, mut hi) = (None::<usize>, None::<usize>);
        let mut gap = None::<usize>;
        while j < inside.len() && column_of(inside[j].t) == col {
            let p = inside[j];
            if p.v.is_nan() {
                gap.get_or_insert(j);
            } else {
                first.get_or_insert(j);
                last = Some(j);
                if lo.is_none_or(|k| p.v < inside[k].v) {
                    lo = Some(j);
                }
                if hi.is_none_or(|k| p.v > inside[k].v) {
                    hi = Some(j);
                }
            }
            j += 1;
        }
        let mut keep: Vec<usize> = [first, lo, hi, last, gap].into_iter().flatten().collect();
        keep.sort_unstable();
        keep.dedup();
        out.extend(keep.into_iter().map(|k| *inside[k]));
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: u64, v: f64) -> Point {
        Point::new(t, v)
    }

    #[test]
    fn keeps_first_min_max_last_per_column() {
        // Range 0..100 in 2 columns: [0,50) and [50,100].
        let pts = [
            p(0, 5.0),
            p(10, 9.0),
            p(20, 1.0),
            p(30, 4.0),
            p(40, 6.0),
            p(60, 3.0),
            p(70, 3.0),
            p(100, 8.0),
        ];
        let out = min_max(&pts, 0, 100, 2);
        assert_eq!(
            out,
            vec![
                p(0, 5.0),
                p(10, 9.0),
                p(20, 1.0),
                p(40, 6.0),
                p(60, 3.0),
                p(100, 8.0)
            ]
        );
    }

    #[test]
    fn few_points_pass_through_and_outside_points_drop() {
        let pts = [p(5, 1.0), p(50, 2.0), p(500, 3.0)];
        assert_eq!(min_max(&pts, 0, 100, 800), vec![p(5, 1.0), p(50, 2.0)]);
        assert!(min_max(&[], 0, 100, 10).is_empty());
    }

    #[test]
    fn a_gap_survives() {
        let pts = [p(0, 1.0), p(1, f64::NAN), p(2, 2.0)];
        let out = min_max(&pts, 0, 100, 1);
        assert_eq!(out.len(), 3);
        assert!(out[1].v.is_nan());
    }

    #[test]
    fn bounded_by_columns() {
        let pts: Vec<Point> = (0..100_000u64).map(|i| p(i, (i % 97) as f64)).collect();
        let out = min_max(&pts, 0, 99_999, 800);
        assert!(out.len() <= 800 * 4, "{}", out.len());
        assert_eq!(out.first().unwrap().t, 0);
        assert_eq!(out.last().unwrap().t, 99_999);
    }
}
