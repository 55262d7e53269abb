//! Service map: caller → callee service edges with counts, errors and
//! latency percentiles, from parent/child pairs whose services differ.
//!
//! Built incrementally ([`ServiceMap::add`]) so one trace and a time
//! window of many traces share the code.

use std::collections::HashMap;

use serde::Serialize;

use crate::ns;
use crate::tree::Tree;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "ServiceEdge")]
pub struct Edge {
    pub caller: String,
    pub callee: String,
    /// Child spans (the calls) on this edge.
    pub count: u64,
    /// Calls whose callee span has status ERROR.
    pub errors: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub p50: u64,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub p95: u64,
    /// Up to 20 traces behind this edge (for "list the traces").
    pub traces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "ServiceMap")]
pub struct ServiceMapAnswer {
    pub services: Vec<String>,
    pub edges: Vec<Edge>,
}

#[derive(Default)]
struct Acc {
    errors: u64,
    latencies: Vec<u64>,
    traces: Vec<String>,
}

/// Edges gathered so far.
#[derive(Default)]
pub struct ServiceMap {
    edges: HashMap<(String, String), Acc>,
    services: std::collections::BTreeSet<String>,
}

impl ServiceMap {
    pub fn new() -> ServiceMap {
        ServiceMap::default()
    }

    /// Adds one tree (a trace or a stitched view).
    pub fn add(&mut self, tree: &Tree) {
        for (i, s) in tree.spans.iter().enumerate() {
            if !self.services.contains(&s.service) {
                self.services.insert(s.service.clone());
            }
            let Some(p) = tree.parent(i) else { continue };
            let ps = &tree.spans[p];
            if ps.service == s.service {
                continue;
            }
            let acc = self
                .edges
                .entry((ps.service.clone(), s.service.clone()))
                .or_default();
            acc.errors += u64::from(s.error);
            acc.latencies.push(s.duration());
            let t = s.trace_id.to_string();
            if acc.traces.len() < 20 && !acc.traces.contains(&t) {
                acc.traces.push(t);
            }
        }
    }

    pub fn finish(self) -> ServiceMapAnswer {
        let mut edges: Vec<Edge> = self
            .edges
            .into_iter()
            .map(|((caller, callee), mut a)| {
                a.latencies.sort_unstable();
                Edge {
                    caller,
                    callee,
                    count: a.latencies.len() as u64,
                    errors: a.errors,
                    p50: percentile(&a.latencies, 50),
                    p95: percentile(&a.latencies, 95),
                    traces: a.traces,
                }
            })
            .collect();
        edges.sort_by(|x, y| (&x.caller, &x.callee).cmp(&(&y.caller, &y.callee)));
        ServiceMapAnswer {
            services: self.services.into_iter().collect(),
            edges,
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// The service map of one tree.
pub fn service_map(tree: &Tree) -> ServiceMapAnswer {
    let mut m = ServiceMap::new();
    m.add(tree);
    m.finish()
}
