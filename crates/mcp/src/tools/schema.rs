//! The JSON Schemas of the tools' inputs: the arguments every listing
//! takes (budget, cursor) and the time range, written once so that every
//! tool describes them alike.

use serde_json::{json, Value};

use crate::answer::{DEFAULT_MAX_BYTES, MAX_MAX_BYTES, MIN_MAX_BYTES};

fn budget_props() -> Value {
    json!({
        "max_bytes": {"type": "integer", "minimum": MIN_MAX_BYTES, "maximum": MAX_MAX_BYTES,
            "description": format!("Largest answer in bytes of text (default {DEFAULT_MAX_BYTES}). Longer answers are cut and give a cursor.")},
        "cursor": {"type": "string", "description": "From a previous answer's nextCursor: continue the same list (give the same other arguments)."}
    })
}

fn time_props() -> Value {
    json!({
        "since": {"type": "string", "description": "Only the last … : a duration such as 15m, 2h, 1d (same as start=now-15m).", "examples": ["15m"]},
        "start": {"type": "string", "description": "Range start: Unix nanoseconds, RFC 3339 (2026-11-21T10:00:00Z) or now-15m."},
        "end": {"type": "string", "description": "Range end, same forms as start."}
    })
}

/// An object schema of `props` plus the budget arguments; nothing else
/// is accepted.
pub(super) fn schema(props: Value, required: &[&str]) -> Value {
    let mut p = props.as_object().cloned().unwrap_or_default();
    if let Some(b) = budget_props().as_object() {
        p.extend(b.clone());
    }
    json!({"type": "object", "properties": p, "required": required, "additionalProperties": false})
}

/// `props` plus the time range arguments.
pub(super) fn with_time(props: Value) -> Value {
    let mut p = props.as_object().cloned().unwrap_or_default();
    if let Some(t) = time_props().as_object() {
        p.extend(t.clone());
    }
    Value::Object(p)
}
