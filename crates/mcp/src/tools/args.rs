//! A call's arguments, checked against the tool's schema before any
//! request: an agent that misspells an argument hears which one and what
//! the tool takes, instead of getting an answer that ignored it.

use serde_json::{Map, Value};

use super::{definitions, ToolError};
use crate::answer::{self, DEFAULT_MAX_BYTES, MAX_MAX_BYTES, MIN_MAX_BYTES};

/// The arguments of one call, checked against what the tool takes.
pub(super) struct Args {
    pub(super) m: Map<String, Value>,
}

impl Args {
    pub(super) fn new(tool: &str, m: Map<String, Value>) -> Result<Args, ToolError> {
        let def = definitions()
            .into_iter()
            .find(|d| d.name == tool)
            .ok_or_else(|| ToolError::Unknown(tool.to_string()))?;
        let props = &def.schema["properties"];
        for k in m.keys() {
            if props.get(k).is_none() {
                let known: Vec<&String> = props
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                return Err(ToolError::Invalid(format!(
                    "{tool} takes no argument {k:?}; it takes {known:?}"
                )));
            }
        }
        for r in def.schema["required"].as_array().into_iter().flatten() {
            if let Some(r) = r.as_str() {
                if m.get(r).is_none_or(Value::is_null) {
                    return Err(ToolError::Invalid(format!("{tool} needs {r:?}")));
                }
            }
        }
        Ok(Args { m })
    }

    pub(super) fn str(&self, k: &str) -> Result<Option<String>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(ToolError::Invalid(format!(
                "{k} must be a string, not {other}"
            ))),
        }
    }

    pub(super) fn bool(&self, k: &str) -> Result<Option<bool>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(ToolError::Invalid(format!(
                "{k} must be true or false, not {other}"
            ))),
        }
    }

    pub(super) fn uint(&self, k: &str, min: u64, max: u64) -> Result<Option<u64>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ToolError::Invalid(format!(
                    "{k} must be an integer from {min} to {max}, not {v}"
                ))),
            },
        }
    }

    pub(super) fn strs(&self, k: &str) -> Result<Vec<String>, ToolError> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| ToolError::Invalid(format!("{k} must be a list of strings")))
                })
                .collect(),
            Some(other) => Err(ToolError::Invalid(format!(
                "{k} must be a list of strings, not {other}"
            ))),
        }
    }

    pub(super) fn max_bytes(&self) -> Result<usize, ToolError> {
        Ok(self
            .uint("max_bytes", MIN_MAX_BYTES as u64, MAX_MAX_BYTES as u64)?
            .map_or(DEFAULT_MAX_BYTES, |n| n as usize))
    }

    pub(super) fn cursor(&self) -> Result<usize, ToolError> {
        answer::cursor(self.str("cursor")?.as_deref()).map_err(ToolError::Invalid)
    }

    pub(super) fn hex(&self, k: &str, len: usize) -> Result<Option<String>, ToolError> {
        match self.str(k)? {
            None => Ok(None),
            Some(s) if s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Some(s.to_ascii_lowercase()))
            }
            Some(s) => Err(ToolError::Invalid(format!(
                "{k} must be {len} hex digits, not {s:?}"
            ))),
        }
    }

    /// `since`, `start`, `end` as API parameters.
    pub(super) fn time_pairs(&self, out: &mut Vec<(String, String)>) -> Result<(), ToolError> {
        if let Some(s) = self.str("since")? {
            if self.str("start")?.is_some() {
                return Err(ToolError::Invalid("give since or start, not both".into()));
            }
            out.push(("start".into(), format!("now-{s}")));
        }
        for k in ["start", "end"] {
            if let Some(v) = self.str(k)? {
                out.push((k.into(), v));
            }
        }
        Ok(())
    }
}

/// Adds the API parameter `k` when the argument was given.
pub(super) fn pair(out: &mut Vec<(String, String)>, k: &str, v: Option<String>) {
    if let Some(v) = v {
        out.push((k.to_string(), v));
    }
}
