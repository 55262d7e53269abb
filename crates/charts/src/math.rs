//! The numbers behind the charts: rates of cumulative counters with resets,
//! and percentiles estimated from explicit and exponential histogram buckets.

use crate::Point;

/// One point of a cumulative sum: the counter's start time, the time of the
/// observation and the value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cumulative {
    pub start: u64,
    pub t: u64,
    pub v: f64,
}

const NS_PER_S: f64 = 1e9;

/// Per-second rate of a monotonic cumulative counter, one value per point
/// after the first (sorted by time).
///
/// A reset, seen as a new start time or a value lower than the previous one,
/// does not make a negative spike: the counter restarted from zero at its
/// start time, so the rate is `v / (t - start)` when that start lies after the
/// previous observation, and a gap (NaN) when the restart time is unknown.
pub fn rate(points: &[Cumulative]) -> Vec<Point> {
    let mut out = Vec::with_capacity(points.len().saturating_sub(1));
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.t <= a.t {
            continue;
        }
        let reset = b.v < a.v || (b.start != a.start && b.start != 0 && a.start != 0);
        let v = if !reset {
            (b.v - a.v) / ((b.t - a.t) as f64 / NS_PER_S)
        } else if b.start >= a.t && b.start < b.t {
            b.v / ((b.t - b.start) as f64 / NS_PER_S)
        } else {
            f64::NAN
        };
        out.push(Point::new(b.t, v));
    }
    out
}

/// Estimates quantile `q` (0..=1) from explicit buckets: `counts[i]` values
/// fell in `(bounds[i-1], bounds[i]]`, the last bucket is `(bounds[n-1], +inf)`.
///
/// Linear interpolation inside the bucket that holds the rank, as Prometheus
/// does. The first bucket's lower edge is `min` when known, else 0 (or its
/// upper edge when that is negative); the overflow bucket answers `max` when
/// known, else its lower edge. `None` when there are no values or the
/// counts do not match the bounds. Counts are summed in `u128`, so
/// `u64::MAX` counts cannot overflow; NaN or infinite bounds give a NaN or
/// infinite answer, never a panic.
pub fn explicit_quantile(
    bounds: &[f64],
    counts: &[u64],
    q: f64,
    min: Option<f64>,
    max: Option<f64>,
) -> Option<f64> {
    let total: u128 = counts.iter().map(|&c| u128::from(c)).sum();
    if total == 0 || counts.len() != bounds.len().saturating_add(1) {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut seen = 0u128;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let before = seen as f64;
        seen += u128::from(c);
        if (seen as f64) < rank {
            continue;
        }
        let Some(&upper) = bounds.get(i) else {
            // The overflow bucket has no upper edge.
            return max.or_else(|| bounds.last().copied());
        };
        let lower = match i.checked_sub(1).and_then(|j| bounds.get(j)) {
            Some(&l) => l,
            None => match min {
                Some(m) if m <= upper => m,
                _ if upper > 0.0 => 0.0,
                _ => upper,
            },
        };
        let upper = match max {
            Some(m) if m < upper && m >= lower => m,
            _ => upper,
        };
        let frac = ((rank - before) / c as f64).clamp(0.0, 1.0);
        return Some(lower + (upper - lower) * frac);
    }
    None
}

/// Most buckets per side an exponential histogram keeps when histograms are
/// merged ([`ExpHistogram::add`]): beyond it the scale is lowered (adjacent
/// buckets merged) until the range fits, as the OpenTelemetry SDKs do at
/// their `max_size`. Equal to the ingest cap (`loupe_otlp::validate`), so a
/// single accepted point never loses resolution; two points whose offsets
/// lie far apart (0 and 2^29) cost at most this many buckets, not the
/// distance between them.
pub const MAX_BUCKETS_PER_SIDE: usize = 2048;

/// One side (positive or negative) of an exponential histogram's buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpBuckets {
    pub offset: i32,
    pub counts: Vec<u64>,
}

impl ExpBuckets {
    /// The first and last bucket index, in `i64` so that `offset + len`
    /// cannot overflow; `None` without buckets.
    fn range(&self) -> Option<(i64, i64)> {
        let n = i64::try_from(self.counts.len()).ok()?;
        (n > 0).then(|| {
            let lo = i64::from(self.offset);
            (lo, lo + n - 1)
        })
    }

    /// The buckets at a scale `shift` steps coarser: index `i` goes to
    /// `i >> shift` (floor division, also for negative indices).
    fn downscaled(&self, shift: u32) -> ExpBuckets {
        let Some((lo, hi)) = self.range() else {
            return ExpBuckets::default();
        };
        if shift == 0 {
            return self.clone();
        }
        let shift = shift.min(63);
        let (nlo, nhi) = (lo >> shift, hi >> shift);
        // nhi - nlo < len, so this allocation is bounded by the input.
        let mut counts = vec![0u64; usize::try_from(nhi - nlo + 1).unwrap_or(0)];
        for (i, &c) in self.counts.iter().enumerate() {
            let j = ((lo + i as i64) >> shift) - nlo;
            if let Some(slot) = usize::try_from(j).ok().and_then(|j| counts.get_mut(j)) {
                *slot = slot.saturating_add(c);
            }
        }
        ExpBuckets {
            // nlo is within i32 because lo is and shifting only shrinks it.
            offset: i32::try_from(nlo).unwrap_or(0),
            counts,
        }
    }
}

/// An exponential histogram's buckets, as OTLP sends them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpHistogram {
    pub scale: i32,
    pub zero_count: u64,
    pub positive: ExpBuckets,
    pub negative: ExpBuckets,
}

/// How many scale steps the union of `ranges` (inclusive indices) must be
/// lowered by to span at most [`MAX_BUCKETS_PER_SIDE`] buckets. At most 64
/// steps are tried, and 33 always suffice for `i32` indices.
fn shift_to_fit(ranges: &[Option<(i64, i64)>]) -> u32 {
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for &(l, h) in ranges.iter().flatten() {
        lo = lo.min(l);
        hi = hi.max(h);
    }
    if lo > hi {
        return 0;
    }
    (0..64u32)
        .find(|&s| (hi >> s) - (lo >> s) < MAX_BUCKETS_PER_SIDE as i64)
        .unwrap_or(64)
}

impl ExpHistogram {
    /// `base^index`, the lower edge of positive bucket `index` (which holds
    /// `(base^index, base^(index+1)]`, with `base = 2^(2^-scale)`).
    ///
    /// Computed as `2^(index × 2^-scale)` in floating point, so extreme
    /// indices or scales give `0` or `+inf` (never an integer overflow).
    pub fn lower_edge(&self, index: i64) -> f64 {
        (index as f64 * (-f64::from(self.scale)).exp2()).exp2()
    }

    /// Buckets in all (negative, zero and positive).
    pub fn len(&self) -> usize {
        self.negative.counts.len() + self.positive.counts.len() + usize::from(self.zero_count > 0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every bucket in value order as (lower, upper, count): negative buckets
    /// from the most negative, the zero bucket, then positive ones. As many
    /// entries as the histogram has buckets, whatever its offsets.
    pub fn buckets(&self) -> Vec<(f64, f64, u64)> {
        let mut out = Vec::with_capacity(self.len());
        let base = |b: &ExpBuckets| i64::from(b.offset);
        for (i, &c) in self.negative.counts.iter().enumerate().rev() {
            let idx = base(&self.negative) + i as i64;
            out.push((-self.lower_edge(idx + 1), -self.lower_edge(idx), c));
        }
        if self.zero_count > 0 {
            out.push((0.0, 0.0, self.zero_count));
        }
        for (i, &c) in self.positive.counts.iter().enumerate() {
            let idx = base(&self.positive) + i as i64;
            out.push((self.lower_edge(idx), self.lower_edge(idx + 1), c));
        }
        out
    }

    /// Lowers the scale by `shift` steps, merging adjacent buckets.
    pub fn downscale(&mut self, shift: u32) {
        if shift == 0 {
            return;
        }
        self.positive = self.positive.downscaled(shift);
        self.negative = self.negative.downscaled(shift);
        self.scale = self.scale.saturating_sub(shift.min(i32::MAX as u32) as i32);
    }

    /// Lowers the scale until each side spans at most
    /// [`MAX_BUCKETS_PER_SIDE`] buckets; returns whether it had to.
    pub fn fit(&mut self) -> bool {
        let shift =
            shift_to_fit(&[self.positive.range()]).max(shift_to_fit(&[self.negative.range()]));
        self.downscale(shift);
        shift > 0
    }

    /// Subtracts an earlier observation of the same cumulative histogram
    /// (bucket by bucket, aligned by index); `None` when it cannot be the
    /// earlier state (different scale, or a count went down: a reset).
    pub fn minus(&self, earlier: &ExpHistogram) -> Option<ExpHistogram> {
        if self.scale != earlier.scale || self.zero_count < earlier.zero_count {
            return None;
        }
        fn side(a: &ExpBuckets, b: &ExpBuckets) -> Option<ExpBuckets> {
            let mut counts = a.counts.clone();
            for (i, &c) in b.counts.iter().enumerate() {
                if c == 0 {
                    continue;
                }
                let j = i64::from(b.offset) + i as i64 - i64::from(a.offset);
                let slot = usize::try_from(j).ok().and_then(|j| counts.get_mut(j))?;
                *slot = slot.checked_sub(c)?;
            }
            Some(ExpBuckets {
                offset: a.offset,
                counts,
            })
        }
        Some(ExpHistogram {
            scale: self.scale,
            zero_count: self.zero_count - earlier.zero_count,
            positive: side(&self.positive, &earlier.positive)?,
            negative: side(&self.negative, &earlier.negative)?,
        })
    }

    /// Adds another histogram into this one. Both are brought to the lower
    /// of the two scales, and lower still when the merged buckets would
    /// span more than [`MAX_BUCKETS_PER_SIDE`] per side, so the result's
    /// size never depends on how far apart the offsets are. Counts
    /// saturate at `u64::MAX`.
    pub fn add(&mut self, other: &ExpHistogram) {
        let mut other = other.clone();
        let scale = self.scale.min(other.scale);
        let to_scale = |h: &ExpHistogram| u32::try_from(i64::from(h.scale) - i64::from(scale));
        // The difference of two i32 fits in u32 when it is non-negative.
        self.downscale(to_scale(self).unwrap_or(0));
        other.downscale(to_scale(&other).unwrap_or(0));
        let shift =
            shift_to_fit(&[self.positive.range(), other.positive.range()]).max(shift_to_fit(&[
                self.negative.range(),
                other.negative.range(),
            ]));
        self.downscale(shift);
        other.downscale(shift);
        fn side(a: &mut ExpBuckets, b: &ExpBuckets) {
            let (Some((alo, ahi)), Some((blo, bhi))) = (a.range(), b.range()) else {
                if a.counts.is_empty() {
                    *a = b.clone();
                }
                return;
            };
            let (lo, hi) = (alo.min(blo), ahi.max(bhi));
            // Both fit in MAX_BUCKETS_PER_SIDE after `shift_to_fit`.
            let mut counts = vec![0u64; usize::try_from(hi - lo + 1).unwrap_or(0)];
            for (x, start) in [(&*a, alo), (b, blo)] {
                for (i, &c) in x.counts.iter().enumerate() {
                    let j = start - lo + i as i64;
                    if let Some(slot) = usize::try_from(j).ok().and_then(|j| counts.get_mut(j)) {
                        *slot = slot.saturating_add(c);
                    }
                }
            }
            *a = ExpBuckets {
                offset: i32::try_from(lo).unwrap_or(0),
                counts,
            };
        }
        self.zero_count = self.zero_count.saturating_add(other.zero_count);
        side(&mut self.positive, &other.positive);
        side(&mut self.negative, &other.negative);
    }
}

/// Estimates quantile `q` from an exponential histogram, interpolating
/// linearly inside the bucket that holds the rank. `None` when empty.
/// Counts are summed in `u128` (no overflow with `u64::MAX` counts).
pub fn exponential_quantile(h: &ExpHistogram, q: f64) -> Option<f64> {
    let buckets = h.buckets();
    let total: u128 = buckets.iter().map(|b| u128::from(b.2)).sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut seen = 0u128;
    for (lower, upper, c) in buckets {
        if c == 0 {
            continue;
        }
        let before = seen as f64;
        seen += u128::from(c);
        if (seen as f64) >= rank {
            let frac = ((rank - before) / c as f64).clamp(0.0, 1.0);
            return Some(lower + (upper - lower) * frac);
        }
    }
    None
}

/// Breaks a line where points are missing: a gap (NaN) goes between two
/// points further apart than three times the median interval, so a line
/// never bridges an outage as if values had been reported.
pub fn mark_gaps(points: &[Point]) -> Vec<Point> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let mut steps: Vec<u64> = points
        .windows(2)
        .map(|w| w[1].t.saturating_sub(w[0].t))
        .collect();
    steps.sort_unstable();
    let median = steps[steps.len() / 2].max(1);
    let mut out = Vec::with_capacity(points.len() + 4);
    for (i, p) in points.iter().enumerate() {
        if i > 0 && p.t.saturating_sub(points[i - 1].t) > median.saturating_mul(3) {
            out.push(Point::new(points[i - 1].t.saturating_add(1), f64::NAN));
        }
        out.push(*p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn rate_of_a_steady_counter() {
        let pts = [
            Cumulative {
                start: 1,
                t: 10 * S,
                v: 100.0,
            },
            Cumulative {
                start: 1,
                t: 20 * S,
                v: 150.0,
            },
            Cumulative {
                start: 1,
                t: 30 * S,
                v: 150.0,
            },
        ];
        let r = rate(&pts);
        assert_eq!(r, vec![Point::new(20 * S, 5.0), Point::new(30 * S, 0.0)]);
    }

    #[test]
    fn rate_across_a_reset_counts_from_the_new_start() {
        // Restarted at 25 s (after the 20 s observation), 12 by 30 s: 12 / 5 s.
        let pts = [
            Cumulative {
                start: S,
                t: 20 * S,
                v: 150.0,
            },
            Cumulative {
                start: 25 * S,
                t: 30 * S,
                v: 12.0,
            },
            Cumulative {
                start: 25 * S,
                t: 40 * S,
                v: 32.0,
            },
        ];
        let r = rate(&pts);
        assert!(close(r[0].v, 2.4), "{r:?}");
        assert!(close(r[1].v, 2.0), "{r:?}");
    }

    #[test]
    fn rate_across_a_reset_without_start_time_is_a_gap() {
        let pts = [
            Cumulative {
                start: 0,
                t: 10 * S,
                v: 50.0,
            },
            Cumulative {
                start: 0,
                t: 20 * S,
                v: 3.0,
            },
            Cumulative {
                start: 0,
                t: 30 * S,
                v: 13.0,
            },
        ];
        let r = rate(&pts);
        assert!(r[0].v.is_nan());
        assert!(close(r[1].v, 1.0));
    }

    #[test]
    fn gaps_break_lines() {
        let pts: Vec<Point> = [0, 10, 20, 30, 100, 110]
            .iter()
            .map(|&t| Point::new(t, 1.0))
            .collect();
        let out = mark_gaps(&pts);
        assert_eq!(out.len(), 7);
        assert_eq!(out[4].t, 31);
        assert!(out[4].v.is_nan());
        assert_eq!(mark_gaps(&pts[..4]).len(), 4);
    }

    #[test]
    fn explicit_percentiles_by_hand() {
        // Buckets: (-inf,10]: 10, (10,20]: 20, (20,40]: 10, (40,+inf): 10. Total 50.
        let b = [10.0, 20.0, 40.0];
        let c = [10, 20, 10, 10];
        // p50: rank 25 → 2nd bucket, 15 of its 20 → 10 + 10 * 0.75 = 17.5.
        assert!(close(
            explicit_quantile(&b, &c, 0.5, None, None).unwrap(),
            17.5
        ));
        // p10: rank 5 → 1st bucket [0,10], half → 5.
        assert!(close(
            explicit_quantile(&b, &c, 0.1, None, None).unwrap(),
            5.0
        ));
        // With min 2: 2 + 8 * 0.5 = 6.
        assert!(close(
            explicit_quantile(&b, &c, 0.1, Some(2.0), None).unwrap(),
            6.0
        ));
        // p70: rank 35 → 3rd bucket, 5 of 10 → 20 + 20 * 0.5 = 30.
        assert!(close(
            explicit_quantile(&b, &c, 0.7, None, None).unwrap(),
            30.0
        ));
        // p99: overflow bucket → its lower edge, or max when known.
        assert!(close(
            explicit_quantile(&b, &c, 0.99, None, None).unwrap(),
            40.0
        ));
        assert!(close(
            explicit_quantile(&b, &c, 0.99, None, Some(75.0)).unwrap(),
            75.0
        ));
        assert_eq!(explicit_quantile(&b, &[0, 0, 0, 0], 0.5, None, None), None);
        // No bounds: a single overflow bucket; the answer is max if known.
        assert_eq!(
            explicit_quantile(&[], &[4], 0.5, None, Some(9.0)),
            Some(9.0)
        );
        assert_eq!(explicit_quantile(&[], &[4], 0.5, None, None), None);
    }

    #[test]
    fn exponential_edges_and_percentiles_by_hand() {
        // Scale 0: base 2, bucket i = (2^i, 2^(i+1)].
        let h = ExpHistogram {
            scale: 0,
            zero_count: 0,
            positive: ExpBuckets {
                offset: 1,
                counts: vec![4, 4],
            }, // (2,4]: 4, (4,8]: 4
            negative: ExpBuckets::default(),
        };
        // p50: rank 4 → end of (2,4] → 4.
        assert!(close(exponential_quantile(&h, 0.5).unwrap(), 4.0));
        // p75: rank 6 → half of (4,8] → 6.
        assert!(close(exponential_quantile(&h, 0.75).unwrap(), 6.0));
        // Scale 1: base sqrt(2); bucket 2 = (2, 2*sqrt 2].
        let h1 = ExpHistogram {
            scale: 1,
            ..h.clone()
        };
        assert!(close(h1.lower_edge(2), 2.0));
        assert!(close(h1.lower_edge(3), 2.0 * 2f64.sqrt()));
        // Negative and zero buckets come first in value order.
        let h2 = ExpHistogram {
            scale: 0,
            zero_count: 2,
            positive: ExpBuckets {
                offset: 0,
                counts: vec![2],
            }, // (1,2]
            negative: ExpBuckets {
                offset: 0,
                counts: vec![4],
            }, // [-2,-1)
        };
        // Total 8; p25: rank 2 → half of [-2,-1) → -1.5.
        assert!(close(exponential_quantile(&h2, 0.25).unwrap(), -1.5));
        // p60: rank 4.8 → zero bucket (ranks 4..6) → 0.
        assert!(close(exponential_quantile(&h2, 0.6).unwrap(), 0.0));
        // p100: end of (1,2] → 2.
        assert!(close(exponential_quantile(&h2, 1.0).unwrap(), 2.0));
    }

    #[test]
    fn exponential_difference_and_sum() {
        let a = ExpHistogram {
            scale: 0,
            zero_count: 1,
            positive: ExpBuckets {
                offset: 1,
                counts: vec![1, 2],
            },
            negative: ExpBuckets::default(),
        };
        let b = ExpHistogram {
            scale: 0,
            zero_count: 3,
            positive: ExpBuckets {
                offset: 0,
                counts: vec![5, 2, 4],
            },
            negative: ExpBuckets::default(),
        };
        let d = b.minus(&a).unwrap();
        assert_eq!(d.zero_count, 2);
        assert_eq!(
            d.positive,
            ExpBuckets {
                offset: 0,
                counts: vec![5, 1, 2]
            }
        );
        assert!(a.minus(&b).is_none(), "counts going down are a reset");
        let mut s = a.clone();
        s.add(&b);
        assert_eq!(
            s.positive,
            ExpBuckets {
                offset: 0,
                counts: vec![5, 3, 6]
            }
        );
    }
}
