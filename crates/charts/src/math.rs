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
/// known, else its lower edge. `None` when there are no values.
pub fn explicit_quantile(
    bounds: &[f64],
    counts: &[u64],
    q: f64,
    min: Option<f64>,
    max: Option<f64>,
) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 || counts.len() != bounds.len() + 1 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut seen = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let before = seen as f64;
        seen += c;
        if (seen as f64) < rank {
            continue;
        }
        if i == bounds.len() {
            // The overflow bucket has no upper edge.
            return max.or_else(|| bounds.last().copied());
        }
        let upper = bounds[i];
        let lower = if i == 0 {
            match min {
                Some(m) if m <= upper => m,
                _ if upper > 0.0 => 0.0,
                _ => upper,
            }
        } else {
            bounds[i - 1]
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

/// One side (positive or negative) of an exponential histogram's buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpBuckets {
    pub offset: i32,
    pub counts: Vec<u64>,
}

/// An exponential histogram's buckets, as OTLP sends them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpHistogram {
    pub scale: i32,
    pub zero_count: u64,
    pub positive: ExpBuckets,
    pub negative: ExpBuckets,
}

impl ExpHistogram {
    /// `base^index`, the lower edge of positive bucket `index` (which holds
    /// `(base^index, base^(index+1)]`, with `base = 2^(2^-scale)`).
    pub fn lower_edge(&self, index: i32) -> f64 {
        (f64::from(index) * (-f64::from(self.scale)).exp2()).exp2()
    }

    /// Every bucket in value order as (lower, upper, count): negative buckets
    /// from the most negative, the zero bucket, then positive ones.
    pub fn buckets(&self) -> Vec<(f64, f64, u64)> {
        let mut out = Vec::new();
        for (i, &c) in self.negative.counts.iter().enumerate().rev() {
            let idx = self.negative.offset + i as i32;
            out.push((-self.lower_edge(idx + 1), -self.lower_edge(idx), c));
        }
        if self.zero_count > 0 {
            out.push((0.0, 0.0, self.zero_count));
        }
        for (i, &c) in self.positive.counts.iter().enumerate() {
            let idx = self.positive.offset + i as i32;
            out.push((self.lower_edge(idx), self.lower_edge(idx + 1), c));
        }
        out
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
                let j = b.offset + i as i32 - a.offset;
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

    /// Adds another histogram of the same scale into this one.
    pub fn add(&mut self, other: &ExpHistogram) {
        fn side(a: &mut ExpBuckets, b: &ExpBuckets) {
            if b.counts.is_empty() {
                return;
            }
            if a.counts.is_empty() {
                *a = b.clone();
                return;
            }
            let lo = a.offset.min(b.offset);
            let hi = (a.offset + a.counts.len() as i32).max(b.offset + b.counts.len() as i32);
            let mut counts = vec![0u64; (hi - lo) as usize];
            for (i, c) in a.counts.iter().enumerate() {
                counts[(a.offset - lo) as usize + i] += c;
            }
            for (i, c) in b.counts.iter().enumerate() {
                counts[(b.offset - lo) as usize + i] += c;
            }
            *a = ExpBuckets { offset: lo, counts };
        }
        self.zero_count += other.zero_count;
        side(&mut self.positive, &other.positive);
        side(&mut self.negative, &other.negative);
    }
}

/// Estimates quantile `q` from an exponential histogram, interpolating
/// linearly inside the bucket that holds the rank. `None` when empty.
pub fn exponential_quantile(h: &ExpHistogram, q: f64) -> Option<f64> {
    let buckets = h.buckets();
    let total: u64 = buckets.iter().map(|b| b.2).sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut seen = 0u64;
    for (lower, upper, c) in buckets {
        if c == 0 {
            continue;
        }
        let before = seen as f64;
        seen += c;
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
            out.push(Point::new(points[i - 1].t + 1, f64::NAN));
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
