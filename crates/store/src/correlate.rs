//! Inferred correlation at ingest: the values of the join rules' keys and
//! references each trace of a batch carries (`loupe_model::correlation`),
//! collected while the batch is prepared and written to `corr_values`
//! with the traces, so the traces sharing a value are index lookups when
//! `/related` is asked, never a scan.

use std::borrow::Cow;
use std::collections::HashSet;

use loupe_model::correlation::JoinRule;
use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};

use crate::codec::text_hash;

/// Values longer than this are not identifiers; they are not joined on.
const MAX_VALUE_BYTES: usize = 512;

/// Role of a value in `corr_values`: the trace carries the key…
pub(crate) const ROLE_KEY: i64 = 0;
/// …or names it (a child-to-parent reference).
pub(crate) const ROLE_REFERENCE: i64 = 1;

/// One (rule, role, value) a trace of the batch carries, with the first
/// span that carried it (where an inferred link hangs in the stitched view).
pub(crate) struct CorrValue {
    pub rule: String,
    pub role: i64,
    pub value: [u8; 8],
    /// Index into the batch's traces.
    pub trace: usize,
    pub span: i64,
}

/// Text of an identifier-like value: strings and integers.
fn value_text(v: Option<&AnyValue>) -> Option<Cow<'_, str>> {
    match v?.value.as_ref()? {
        Value::StringValue(s) if !s.is_empty() && s.len() <= MAX_VALUE_BYTES => {
            Some(Cow::Borrowed(s))
        }
        Value::IntValue(i) => Some(Cow::Owned(i.to_string())),
        _ => None,
    }
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<Cow<'a, str>> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| value_text(kv.value.as_ref()))
}

/// Collects a batch's values, each (rule, role, value, trace) once.
pub(crate) struct Correlator<'r> {
    rules: &'r [JoinRule],
    seen: HashSet<(usize, i64, [u8; 8], usize)>,
    pub out: Vec<CorrValue>,
}

impl<'r> Correlator<'r> {
    pub(crate) fn new(rules: &'r [JoinRule]) -> Correlator<'r> {
        Correlator {
            rules,
            seen: HashSet::new(),
            out: Vec::new(),
        }
    }

    /// One span: its attributes first, then its resource's.
    pub(crate) fn span(
        &mut self,
        attrs: &[KeyValue],
        resource: &[KeyValue],
        trace: usize,
        span: i64,
    ) {
        for (i, rule) in self.rules.iter().enumerate() {
            let keys = std::iter::once((ROLE_KEY, rule.key.as_str()))
                .chain(rule.reference.as_deref().map(|r| (ROLE_REFERENCE, r)));
            for (role, key) in keys {
                let Some(v) = find(attrs, key).or_else(|| find(resource, key)) else {
                    continue;
                };
                let value = text_hash(&v);
                if self.seen.insert((i, role, value, trace)) {
                    self.out.push(CorrValue {
                        rule: rule.name.clone(),
                        role,
                        value,
                        trace,
                        span,
                    });
                }
            }
        }
    }
}
