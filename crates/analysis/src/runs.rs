//! Runs of the same thing: a trace's run key, and which earlier trace is
//! its previous run.
//!
//! A workflow engine names each execution's flow in attributes (Kestra:
//! `kestra.namespace` and `kestra.flowId`), and its root span name often
//! carries the execution ID, so the attributes are the better key when the
//! spans carry them; otherwise the root's (service, span name) is. Which
//! attributes is configuration (`analysis.run_keys`, default
//! [`DEFAULT_KEYS`]); the `runKeys` parameter of a request overrides it.

use serde::Serialize;

use crate::tree::Tree;
use crate::{ns, AnalysisError};

/// The attributes that name a run by default (the seed engine, Kestra).
pub const DEFAULT_KEYS: [&str; 2] = ["kestra.namespace", "kestra.flowId"];

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum RunKey {
    /// The configured attributes, all present on one span.
    Attributes { values: Vec<(String, String)> },
    /// The main root's service and span name.
    Root { service: String, name: String },
}

impl RunKey {
    /// Why this key, in words for the UI.
    pub fn describe(&self) -> String {
        match self {
            RunKey::Attributes { values } => values
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            RunKey::Root { service, name } => format!("root span {service} - {name}"),
        }
    }
}

/// The run key of a trace: the first span in pre-order (the root first)
/// that carries every one of `keys`, else the root's (service, name).
/// `Span::attrs` must hold the `keys` attributes (see `otlp::spans_of`).
pub fn run_key(tree: &Tree, keys: &[String]) -> Result<RunKey, AnalysisError> {
    let root = tree.main_root.ok_or(AnalysisError::Empty)?;
    if !keys.is_empty() {
        // The main trace only: a linked subflow has its own flow ID.
        let main = tree.spans[root].trace_id;
        for &i in &tree.order {
            let s = &tree.spans[i];
            if s.trace_id != main {
                continue;
            }
            let values: Option<Vec<(String, String)>> = keys
                .iter()
                .map(|k| {
                    s.attrs
                        .iter()
                        .find(|(ak, _)| ak == k)
                        .map(|(_, v)| (k.clone(), v.clone()))
                })
                .collect();
            if let Some(values) = values {
                return Ok(RunKey::Attributes { values });
            }
        }
    }
    let r = &tree.spans[root];
    Ok(RunKey::Root {
        service: r.service.clone(),
        name: r.name.clone(),
    })
}

/// A trace that may be the previous run, as the store lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub trace_id: String,
    pub start: u64,
    /// Its run key, when the caller computed it; `None` means "the search
    /// that found it already matched the key".
    pub key: Option<RunKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename = "PreviousRun")]
pub struct Previous {
    pub trace_id: String,
    #[ts(type = "string")]
    #[serde(serialize_with = "ns")]
    pub start: u64,
    pub run_key: RunKey,
    /// Why it was chosen, in words.
    pub reason: String,
}

/// The latest candidate that started before `start` with the same key
/// (ties: the greater trace ID, so the answer is stable).
pub fn previous_run(
    current_id: &str,
    start: u64,
    key: &RunKey,
    candidates: &[Candidate],
) -> Option<Previous> {
    let c = candidates
        .iter()
        .filter(|c| c.trace_id != current_id && c.start < start)
        .filter(|c| c.key.as_ref().is_none_or(|k| k == key))
        .max_by(|x, y| x.start.cmp(&y.start).then(x.trace_id.cmp(&y.trace_id)))?;
    Some(Previous {
        trace_id: c.trace_id.clone(),
        start: c.start,
        run_key: key.clone(),
        reason: format!(
            "the latest trace before this one with the same run key ({})",
            key.describe()
        ),
    })
}
