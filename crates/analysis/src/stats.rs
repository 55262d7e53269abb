//! Per (service, span name) and per service statistics of one trace.
//!
//! Self time is a span's duration minus the union of its children's
//! intervals clipped to it: overlapping (parallel) children count once, and
//! a child outliving its parent only covers the part inside it, so the
//! self times of a trace never add up to more than its spans' time.

use std::collections::HashMap;

use serde::Serialize;

use crate::ns;
use crate::tree::Tree;

/// Each span's self time, by span index.
pub fn self_times(tree: &Tree) -> Vec<u64> {
    let spans = tree.spans;
    (0..spans.len())
        .map(|i| {
            let s = &spans[i];
            let (ps, pe) = (s.start, s.end.max(s.start));
            let mut covered = 0u64;
            let mut run: Option<(u64, u64)> = None;
            // Children are ordered by start: one sweep merges them.
            for &c in tree.children(i) {
                let cs = spans[c].start.clamp(ps, pe);
                let ce = spans[c].end.clamp(ps, pe);
                if ce <= cs {
                    continue;
                }
                match run {
                    Some((rs, re)) if cs <= re => run = Some((rs, re.max(ce))),
                    Some((rs, re)) => {
                        covered += re - rs;
                        run = Some((cs, ce));
                    }
                    None => run = Some((cs, ce)),
                }
            }
            if let Some((rs, re)) = run {
                covered += re - rs;
            }
            (pe - ps).saturating_sub(covered)
        })
        .collect()
}

/// Totals for one group of spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Stat {
    pub service: String,
    /// `None` in the per-service table.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    pub count: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub total: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub self_time: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub min: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub avg: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub max: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub span_count: u64,
    /// By total time, largest first.
    pub operations: Vec<Stat>,
    pub services: Vec<Stat>,
}

#[derive(Default)]
struct Acc {
    count: u64,
    total: u128,
    self_time: u128,
    min: u64,
    max: u64,
    errors: u64,
}

impl Acc {
    fn add(&mut self, d: u64, st: u64, err: bool) {
        if self.count == 0 || d < self.min {
            self.min = d;
        }
        self.max = self.max.max(d);
        self.count += 1;
        self.total += u128::from(d);
        self.self_time += u128::from(st);
        self.errors += u64::from(err);
    }

    fn stat(&self, service: &str, name: Option<&str>) -> Stat {
        let sat = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        Stat {
            service: service.to_string(),
            name: name.map(str::to_string),
            count: self.count,
            total: sat(self.total),
            self_time: sat(self.self_time),
            min: self.min,
            avg: sat(self.total / u128::from(self.count.max(1))),
            max: self.max,
            errors: self.errors,
        }
    }
}

/// The statistics of every span in the tree (all traces of a stitched view).
pub fn statistics(tree: &Tree) -> Statistics {
    let spans = tree.spans;
    let st = self_times(tree);
    let mut ops: HashMap<(&str, &str), Acc> = HashMap::new();
    let mut svcs: HashMap<&str, Acc> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        let d = s.duration();
        ops.entry((&s.service, &s.name))
            .or_default()
            .add(d, st[i], s.error);
        svcs.entry(&s.service).or_default().add(d, st[i], s.error);
    }
    let mut operations: Vec<Stat> = ops
        .iter()
        .map(|((svc, name), a)| a.stat(svc, Some(name)))
        .collect();
    let mut services: Vec<Stat> = svcs.iter().map(|(svc, a)| a.stat(svc, None)).collect();
    let order = |a: &Stat, b: &Stat| {
        b.total
            .cmp(&a.total)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.name.cmp(&b.name))
    };
    operations.sort_by(order);
    services.sort_by(order);
    Statistics {
        span_count: spans.len() as u64,
        operations,
        services,
    }
}
