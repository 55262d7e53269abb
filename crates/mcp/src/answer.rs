//! Budgets: every tool answer is one JSON text of at most `max_bytes`,
//! redacted, that says when it was cut and how to get the rest.
//!
//! Why a budget: an agent's context is small and costly; a 100k-span trace
//! dumped whole would fill it with noise. A [`Page`] is the fixed part of an
//! answer plus one list that may be cut; the cursor in a cut answer is the
//! list position to continue from, given back with the same arguments.

use serde_json::{Map, Value};

use crate::redact::redact;

/// About 16 KB of text: enough for a trace summary, small beside a context.
pub const DEFAULT_MAX_BYTES: usize = 16_000;
/// Below this not even a trace summary's header fits.
pub const MIN_MAX_BYTES: usize = 2_000;
pub const MAX_MAX_BYTES: usize = 1_000_000;
/// Longer strings (stack traces, log bodies) are clipped in answers.
const MAX_STRING: usize = 2_000;
/// Clipping when even one list item does not fit.
const TIGHT_STRING: usize = 200;

/// One answer before it is fitted.
#[derive(Debug, Default)]
pub struct Page {
    /// The fixed fields (summary, links, notes).
    pub body: Map<String, Value>,
    /// Fields of `body` that may be dropped, in this order, when even the
    /// fixed part does not fit.
    pub optional: Vec<&'static str>,
    /// The name of the list.
    pub list_key: &'static str,
    /// The list's items from `offset` on.
    pub items: Vec<Value>,
    /// The position of `items[0]` in the whole list (the cursor given).
    pub offset: usize,
}

impl Page {
    pub fn new(list_key: &'static str) -> Page {
        Page {
            list_key,
            ..Default::default()
        }
    }

    pub fn set(&mut self, key: &str, v: impl Into<Value>) {
        self.body.insert(key.to_string(), v.into());
    }
}

/// Parses a cursor (a list position); absent is 0.
pub fn cursor(c: Option<&str>) -> Result<usize, String> {
    match c {
        None | Some("") => Ok(0),
        Some(c) => c
            .parse()
            .map_err(|_| format!("cursor {c:?} is not one this server gave")),
    }
}

/// The page as JSON text of at most `max_bytes` bytes, redacted.
pub fn render(mut page: Page, max_bytes: usize) -> String {
    let max_bytes = max_bytes.clamp(MIN_MAX_BYTES, MAX_MAX_BYTES);
    for v in page.body.values_mut() {
        redact(v);
        clip_strings(v, MAX_STRING);
    }
    for v in &mut page.items {
        redact(v);
        clip_strings(v, MAX_STRING);
    }
    let mut omitted = Vec::new();
    let mut clipped = false;
    loop {
        if let Some(text) = fit(&page, max_bytes, &omitted) {
            return text;
        }
        // Even one item does not fit: clip harder (once), then drop optional parts.
        if !std::mem::replace(&mut clipped, true)
            && (page.items.iter().any(|v| longest(v) > TIGHT_STRING)
                || page.body.values().any(|v| longest(v) > TIGHT_STRING))
        {
            for v in page.items.iter_mut().chain(page.body.values_mut()) {
                clip_strings(v, TIGHT_STRING);
            }
            continue;
        }
        if let Some(k) = page.optional.first().copied() {
            page.optional.remove(0);
            if page.body.remove(k).is_some() {
                omitted.push(k);
            }
            continue;
        }
        // Nothing left to drop: the bare minimum.
        let mut o = Map::new();
        o.insert("truncated".into(), true.into());
        o.insert(
            "note".into(),
            format!("the answer does not fit in max_bytes={max_bytes}; call again with a larger max_bytes").into(),
        );
        return Value::Object(o).to_string();
    }
}

/// The most items from the start that fit, or `None` if not even one does
/// (or, for an empty list, the fixed part alone does not).
fn fit(page: &Page, max_bytes: usize, omitted: &[&str]) -> Option<String> {
    let build = |n: usize| -> String {
        let mut o = page.body.clone();
        if !omitted.is_empty() {
            o.insert(
                "omitted".into(),
                format!(
                    "{} left out to fit max_bytes; call again with a larger max_bytes to see them",
                    omitted.join(", ")
                )
                .into(),
            );
        }
        if page.offset > 0 {
            o.insert("from".into(), page.offset.into());
        }
        o.insert(page.list_key.into(), Value::Array(page.items[..n].to_vec()));
        if n < page.items.len() {
            let next = page.offset + n;
            o.insert("truncated".into(), true.into());
            o.insert("nextCursor".into(), next.to_string().into());
            o.insert(
                "more".into(),
                format!(
                    "{} more {} not shown to fit max_bytes={max_bytes}: call again with the same arguments and cursor=\"{next}\" (or a larger max_bytes)",
                    page.items.len() - n,
                    page.list_key
                )
                .into(),
            );
        }
        Value::Object(o).to_string()
    };
    // Item sizes once (a 100k-line tree must not be serialized per try).
    let sizes: Vec<usize> = page.items.iter().map(|v| v.to_string().len() + 1).collect();
    let fixed = build(0).len();
    if fixed + sizes.iter().sum::<usize>() <= max_bytes + 200 {
        let all = build(page.items.len());
        if all.len() <= max_bytes {
            return Some(all);
        }
    }
    if page.items.is_empty() {
        return None;
    }
    // The most items whose sizes fit beside the fixed part (which already
    // says "truncated"), with room for the cursor's digits; then checked.
    let mut n = 0;
    let mut used = fixed + 16;
    while n < sizes.len() && used + sizes[n] <= max_bytes {
        used += sizes[n];
        n += 1;
    }
    while n >= 1 {
        let text = build(n);
        if text.len() <= max_bytes {
            return Some(text);
        }
        n -= 1;
    }
    None
}

fn longest(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(longest).max().unwrap_or(0),
        Value::Object(o) => o.values().map(longest).max().unwrap_or(0),
        _ => 0,
    }
}

fn clip_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) if s.len() > max => {
            let extra = s.chars().count().saturating_sub(max);
            let mut t: String = s.chars().take(max).collect();
            t.push_str(&format!("…({extra} more characters)"));
            *s = t;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| clip_strings(x, max)),
        Value::Object(o) => o.values_mut().for_each(|x| clip_strings(x, max)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_the_list_and_gives_a_cursor_that_continues() {
        let mut seen = 0;
        let all: Vec<Value> = (0..1000)
            .map(|i| format!("row number {i}").into())
            .collect();
        let mut offset = 0;
        loop {
            let mut p = Page::new("rows");
            p.set("traceId", "abc");
            p.items = all[offset..].to_vec();
            p.offset = offset;
            let text = render(p, 2_000);
            assert!(text.len() <= 2_000, "{}", text.len());
            let v: Value = serde_json::from_str(&text).unwrap();
            seen += v["rows"].as_array().unwrap().len();
            match v["nextCursor"].as_str() {
                Some(c) => offset = cursor(Some(c)).unwrap(),
                None => break,
            }
        }
        assert_eq!(seen, 1000);
    }

    #[test]
    fn a_huge_fixed_part_is_clipped_then_dropped() {
        let mut p = Page::new("rows");
        p.set("errors", vec![Value::from("x".repeat(50_000)); 40]);
        p.optional = vec!["errors"];
        p.items = vec!["a".into()];
        let text = render(p, 2_000);
        assert!(text.len() <= 2_000);
        assert!(text.contains("omitted"), "{text}");
    }
}
