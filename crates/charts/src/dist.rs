//! Histogram distributions: one interval's buckets ([`Dist`]), adding them
//! up across intervals and series — explicit buckets with different bounds
//! are re-bucketed onto their common bounds, never dropped — and the
//! cumulative-to-interval differencing.

use serde::Serialize;

use crate::math::{self, ExpHistogram};

/// Most bars of the distribution: more buckets are merged, adjacent ones
/// together, so the bars span the same range with coarser resolution.
pub const MAX_DISTRIBUTION_BUCKETS: usize = 512;

/// One bucket of a histogram's distribution over the selected window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ts_rs::TS)]
pub struct Bucket {
    /// JSON has no infinities: an open first or last bucket's bound is `null`.
    #[ts(type = "number | null")]
    pub lower: f64,
    #[ts(type = "number | null")]
    pub upper: f64,
    pub count: u64,
}

/// What adding one distribution to another did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Added {
    /// Same layout: counts added.
    Same,
    /// Different explicit bounds: both moved onto their common bounds.
    Rebucketed,
    /// Explicit and exponential buckets: cannot be added; the second is
    /// left out (and counted in the note).
    Incompatible,
}

/// A sum of distributions with what it took to add them, for the note that
/// says how series with different bucket layouts were combined.
#[derive(Debug, Clone, Default)]
pub(crate) struct Merged {
    pub dist: Option<Dist>,
    pub rebucketed: bool,
    /// Intervals left out because their buckets are of the other kind.
    pub incompatible: usize,
}

impl Merged {
    pub(crate) fn add(&mut self, d: &Dist) {
        match &mut self.dist {
            None => self.dist = Some(d.clone()),
            Some(acc) => match acc.add(d) {
                Added::Same => {}
                Added::Rebucketed => self.rebucketed = true,
                Added::Incompatible => self.incompatible += 1,
            },
        }
    }

    /// One sentence on how the distribution was combined; `None` when every
    /// part had the same layout.
    pub(crate) fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.rebucketed {
            let n = self.dist.as_ref().and_then(Dist::bounds).unwrap_or(0);
            parts.push(if n == 0 {
                "series with different bucket bounds share no bound: combined into one bucket; split or filter to see each".to_string()
            } else {
                format!("series with different bucket bounds combined on their {n} common bounds")
            });
        }
        if self.incompatible > 0 {
            parts.push(format!(
                "{} intervals with exponential buckets not combinable with explicit ones are left out",
                self.incompatible
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// `counts` over `bounds` moved onto `common` (a subset of `bounds`): each
/// bucket goes into the common bucket that holds its upper edge.
fn rebucket(bounds: &[f64], counts: &[u64], common: &[f64]) -> Vec<u64> {
    let mut out = vec![0u64; common.len() + 1];
    for (i, &c) in counts.iter().enumerate() {
        let upper = bounds.get(i).copied().unwrap_or(f64::INFINITY);
        let j = common.partition_point(|x| *x < upper).min(common.len());
        out[j] = out[j].saturating_add(c);
    }
    out
}

/// A bucket distribution of one interval.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dist {
    Explicit { bounds: Vec<f64>, counts: Vec<u64> },
    Exp(ExpHistogram),
}

impl Dist {
    /// Adds `other`'s counts. Explicit buckets with different bounds are
    /// first re-bucketed onto the bounds both have (exact: every bucket of
    /// either lies inside one bucket of the common layout, so no count is
    /// guessed, only resolution lost); the outcome says so, for the note.
    pub(crate) fn add(&mut self, other: &Dist) -> Added {
        match (self, other) {
            (
                Dist::Explicit { bounds, counts },
                Dist::Explicit {
                    bounds: b,
                    counts: c,
                },
            ) => {
                if bounds == b {
                    for (x, y) in counts.iter_mut().zip(c) {
                        *x = x.saturating_add(*y);
                    }
                    return Added::Same;
                }
                let common: Vec<f64> = bounds
                    .iter()
                    .copied()
                    .filter(|x| b.iter().any(|y| y.to_bits() == x.to_bits()))
                    .collect();
                let mut merged = rebucket(bounds, counts, &common);
                for (x, y) in merged.iter_mut().zip(rebucket(b, c, &common)) {
                    *x = x.saturating_add(y);
                }
                *bounds = common;
                *counts = merged;
                Added::Rebucketed
            }
            (Dist::Exp(a), Dist::Exp(b)) => {
                a.add(b);
                Added::Same
            }
            _ => Added::Incompatible,
        }
    }

    /// How many bucket bounds an explicit distribution has.
    pub(crate) fn bounds(&self) -> Option<usize> {
        match self {
            Dist::Explicit { bounds, .. } => Some(bounds.len()),
            Dist::Exp(_) => None,
        }
    }

    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        match self {
            Dist::Explicit { bounds, counts } => {
                math::explicit_quantile(bounds, counts, q, None, None)
            }
            Dist::Exp(h) => math::exponential_quantile(h, q),
        }
    }

    pub(crate) fn buckets(&self) -> Vec<Bucket> {
        match self {
            Dist::Explicit { bounds, counts } => counts
                .iter()
                .enumerate()
                .map(|(i, &count)| Bucket {
                    lower: i
                        .checked_sub(1)
                        .and_then(|j| bounds.get(j))
                        .copied()
                        .unwrap_or(f64::NEG_INFINITY),
                    upper: bounds.get(i).copied().unwrap_or(f64::INFINITY),
                    count,
                })
                .collect(),
            Dist::Exp(h) => h
                .buckets()
                .into_iter()
                .map(|(lower, upper, count)| Bucket {
                    lower,
                    upper,
                    count,
                })
                .collect(),
        }
    }
}

/// Merges adjacent buckets until at most [`MAX_DISTRIBUTION_BUCKETS`] are
/// left; `None` when nothing had to be merged.
pub(crate) fn coarsen(buckets: &mut Vec<Bucket>) -> Option<String> {
    let n = buckets.len();
    if n <= MAX_DISTRIBUTION_BUCKETS {
        return None;
    }
    let per = n.div_ceil(MAX_DISTRIBUTION_BUCKETS);
    *buckets = buckets
        .chunks(per)
        .filter_map(|c| {
            let (first, last) = (c.first()?, c.last()?);
            Some(Bucket {
                lower: first.lower,
                upper: last.upper,
                count: c.iter().fold(0u64, |a, b| a.saturating_add(b.count)),
            })
        })
        .collect();
    Some(format!(
        "the distribution's {n} buckets are shown as {} bars of {per} (at most {MAX_DISTRIBUTION_BUCKETS})",
        buckets.len()
    ))
}

/// Interval distributions of a histogram series (points sorted by time):
/// delta points as they are; cumulative points differenced, a reset (a
/// count going down or a new start) starting over from that point.
pub(crate) fn intervals(
    points: Vec<(u64, u64, Dist)>,
    cumulative: bool,
    window_start: u64,
) -> Vec<(u64, Dist)> {
    if !cumulative {
        return points.into_iter().map(|(_, t, d)| (t, d)).collect();
    }
    let mut out = Vec::new();
    let mut prev: Option<(u64, Dist)> = None;
    let mut last_time = None;
    for (start, t, d) in points {
        last_time = Some(t);
        let delta = match &prev {
            Some((pstart, pd)) if *pstart == start => match (&d, pd) {
                (
                    Dist::Explicit { bounds, counts },
                    Dist::Explicit {
                        bounds: pb,
                        counts: pc,
                    },
                ) if bounds == pb => {
                    let diff: Option<Vec<u64>> = counts
                        .iter()
                        .zip(pc)
                        .map(|(a, b)| a.checked_sub(*b))
                        .collect();
                    diff.map(|counts| Dist::Explicit {
                        bounds: bounds.clone(),
                        counts,
                    })
                }
                (Dist::Exp(a), Dist::Exp(b)) => a.minus(b).map(Dist::Exp),
                _ => None,
            },
            _ => None,
        };
        match delta {
            Some(dd) => out.push((t, dd)),
            // First point or a reset: counts since the series' start, if that
            // start is in the window (else it holds unknown history).
            None if prev.is_some() || start >= window_start => out.push((t, d.clone())),
            None => {}
        }
        prev = Some((start, d));
    }
    // A single point whose start lies before the window (an exporter every
    // 60 s seen once in a short window): its counts since that start are
    // all there is to show; better a dot than an empty chart.
    if out.is_empty() {
        if let Some((_, d)) = prev {
            out.extend(last_time.map(|t| (t, d)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit(bounds: &[f64], counts: &[u64]) -> Dist {
        Dist::Explicit {
            bounds: bounds.to_vec(),
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn different_bounds_are_combined_on_common_bounds_without_loss() {
        let mut m = Merged::default();
        // 10 values: 2 ≤ 0.1, 5 in (0.1, 0.5], 3 in (0.5, 1]; none above.
        m.add(&explicit(&[0.1, 0.5, 1.0], &[2, 5, 3, 0]));
        // 100 values: 40 ≤ 0.25, 50 in (0.25, 1], 10 above 1.
        m.add(&explicit(&[0.25, 1.0], &[40, 50, 10]));
        let Some(Dist::Explicit { bounds, counts }) = &m.dist else {
            panic!("explicit")
        };
        assert_eq!(bounds, &[1.0]);
        assert_eq!(counts, &[10 + 90, 10]);
        assert_eq!(counts.iter().sum::<u64>(), 110, "every observation is kept");
        assert_eq!(
            m.note().as_deref(),
            Some("series with different bucket bounds combined on their 1 common bounds")
        );
    }

    #[test]
    fn same_bounds_add_without_a_note() {
        let mut m = Merged::default();
        m.add(&explicit(&[1.0], &[1, 2]));
        m.add(&explicit(&[1.0], &[3, 4]));
        assert_eq!(m.dist, Some(explicit(&[1.0], &[4, 6])));
        assert_eq!(m.note(), None);
    }

    #[test]
    fn explicit_and_exponential_are_counted_when_left_out() {
        let mut m = Merged::default();
        m.add(&explicit(&[1.0], &[1, 2]));
        m.add(&Dist::Exp(ExpHistogram::default()));
        assert!(m
            .note()
            .unwrap()
            .contains("1 intervals with exponential buckets"));
    }
}
