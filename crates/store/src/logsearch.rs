//! Full-text search of log records: what goes into the index and how a
//! search box's text becomes an FTS5 query.
//!
//! `logs_fts` is a contentless FTS5 table (the text itself lives only in
//! `logs.record`) whose rowid is the record's `logs.seq`. Two columns are
//! indexed: the body (structured bodies flattened to their keys and
//! values) and the attributes as `key value` lines, so a word finds a
//! record whether it is in the message or in an attribute. Each attribute
//! also gets two opaque tokens, a hash of `key=value` and one of `key`, so
//! an attribute condition is narrowed by one term lookup (a phrase over
//! tokens like `kestra`, which every record has, was the slowest search in
//! the benchmark) before it is checked exactly.

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::logs::LogRecord;
use prost::Message;
use rusqlite::Connection;

use crate::error::StoreError;

/// The migration (1-based) that creates `logs_fts`; its existing records are
/// indexed right after its SQL runs.
pub(crate) const FTS_MIGRATION: usize = 2;

/// Recursive over nested values: their depth is bounded where they were
/// decoded (prost's recursion limit of 100 messages, serde_json's of 128).
fn flatten(v: &AnyValue, out: &mut String) {
    match v.value.as_ref() {
        None => {}
        Some(Value::StringValue(s)) => push(out, s),
        Some(Value::BoolValue(b)) => push(out, &b.to_string()),
        Some(Value::IntValue(i)) => push(out, &i.to_string()),
        Some(Value::DoubleValue(d)) => push(out, &d.to_string()),
        Some(Value::BytesValue(b)) => push(out, &hex::encode(b)),
        Some(Value::ArrayValue(a)) => a.values.iter().for_each(|v| flatten(v, out)),
        Some(Value::KvlistValue(kv)) => kv.values.iter().for_each(|kv| pair(kv, out)),
        Some(Value::StringValueStrindex(_)) => {}
    }
}

fn push(out: &mut String, s: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(s);
}

fn pair(kv: &KeyValue, out: &mut String) {
    push(out, &kv.key);
    if let Some(v) = &kv.value {
        flatten(v, out);
    }
}

/// The index term of an attribute condition: `key=value` (equality) or
/// `key` (existence), hashed into one alphanumeric token.
/// Numbers are written one way (`2`, `2.0` and `"2"` all as `2`), so the
/// token of `n=2` finds the integer, the double and the string; the exact
/// check afterwards tells them apart where it matters.
fn attr_token(key: &str, value: Option<&str>) -> String {
    let norm = |v: &str| match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => f.to_string(),
        _ => v.to_string(),
    };
    match value {
        Some(v) => format!(
            "a{:016x}",
            crate::codec::hash(format!("{key}={}", norm(v)).as_bytes()) as u64
        ),
        None => format!("k{:016x}", crate::codec::hash(key.as_bytes()) as u64),
    }
}

/// The indexed text of a record: (body, attributes).
pub(crate) fn index_text(r: &LogRecord) -> (String, String) {
    let mut body = String::new();
    if let Some(b) = &r.body {
        flatten(b, &mut body);
    }
    let mut attrs = String::new();
    for kv in &r.attributes {
        pair(kv, &mut attrs);
        let text = loupe_model::otlp::any_value_text(kv.value.as_ref());
        push(&mut attrs, &attr_token(&kv.key, Some(&text)));
        push(&mut attrs, &attr_token(&kv.key, None));
        attrs.push('\n');
    }
    (body, attrs)
}

/// Indexes every record already stored (the migration that adds the index).
pub(crate) fn backfill(conn: &Connection) -> Result<(), StoreError> {
    let mut read = conn.prepare("SELECT seq, record FROM logs")?;
    let mut ins = conn.prepare("INSERT INTO logs_fts(rowid, body, attrs) VALUES (?1, ?2, ?3)")?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let record = LogRecord::decode(row.get_ref(1)?.as_blob()?)?;
        let (body, attrs) = index_text(&record);
        ins.execute(rusqlite::params![seq, body, attrs])?;
    }
    Ok(())
}

/// Quotes one term for FTS5 (a phrase of whatever tokens it holds).
fn quote(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The FTS5 query for a search box's text: every whitespace-separated word
/// must occur (in the body or an attribute); a word ending in `*` matches as
/// a prefix. Words are quoted, so FTS5 operators typed by the user are just
/// words. `None` when there is no word.
///
/// A NUL byte is refused ([`StoreError::BadQuery`]): SQLite reads the
/// MATCH text as a C string, so a NUL inside a quoted word would cut it into
/// an unterminated phrase, a syntax error. (The length is bounded by the
/// query crate; this function is iterative.)
pub(crate) fn match_query(
    text: &str,
    conditions: &[(String, Option<String>)],
) -> Result<Option<String>, StoreError> {
    if text.contains('\0') {
        return Err(StoreError::BadQuery(
            "the log search contains a NUL character".into(),
        ));
    }
    let mut parts: Vec<String> = Vec::new();
    for w in text.split_whitespace() {
        match w.strip_suffix('*') {
            Some(p) if !p.trim_matches('*').is_empty() => {
                parts.push(format!("{}*", quote(p.trim_matches('*'))))
            }
            Some(_) => {}
            None => parts.push(quote(w)),
        }
    }
    // Attribute conditions narrow through the attributes column; they are
    // checked exactly on the records afterwards.
    for (key, value) in conditions {
        parts.push(format!("attrs : {}", attr_token(key, value.as_deref())));
    }
    Ok((!parts.is_empty()).then(|| parts.join(" AND ")))
}

/// A full-text query the engine refused (an `fts5: syntax error …`) is the
/// query's fault, not the store's: [`StoreError::BadQuery`]. Any other
/// error stays what it is.
pub(crate) fn fts_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(_, Some(m)) if m.starts_with("fts5:") => {
            StoreError::BadQuery(format!("the log search cannot be run ({m})"))
        }
        _ => StoreError::Sql(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_becomes_quoted_terms() {
        let match_query = |t: &str, c: &[(String, Option<String>)]| match_query(t, c).unwrap();
        assert_eq!(match_query("  ", &[]), None);
        assert_eq!(
            match_query("payment refused", &[]).unwrap(),
            "\"payment\" AND \"refused\""
        );
        assert_eq!(
            match_query("pay* \"x", &[]).unwrap(),
            "\"pay\"* AND \"\"\"x\""
        );
        assert_eq!(match_query("OR NOT", &[]).unwrap(), "\"OR\" AND \"NOT\"");
        let q = match_query("", &[("kestra.flowId".into(), Some("orders".into()))]).unwrap();
        assert_eq!(
            q,
            format!("attrs : {}", attr_token("kestra.flowId", Some("orders")))
        );
        assert!(
            q.starts_with("attrs : a") && q.len() == "attrs : a".len() + 16,
            "{q}"
        );
    }

    #[test]
    fn nul_in_log_search_is_a_bad_query() {
        let e = match_query("pay\0ment", &[]).unwrap_err();
        assert!(matches!(e, StoreError::BadQuery(_)), "{e}");
        assert!(e.to_string().contains("NUL"), "{e}");
    }

    #[test]
    fn structured_bodies_flatten_to_keys_and_values() {
        let kv = |k: &str, v: Value| KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        };
        let r = LogRecord {
            body: Some(AnyValue {
                value: Some(Value::KvlistValue(
                    loupe_model::otlp::common::KeyValueList {
                        values: vec![
                            kv("order", Value::IntValue(1042)),
                            kv("state", Value::StringValue("refused".into())),
                        ],
                    },
                )),
            }),
            attributes: vec![kv("kestra.taskId", Value::StringValue("charge".into()))],
            ..Default::default()
        };
        let (body, attrs) = index_text(&r);
        assert_eq!(body, "order 1042 state refused");
        assert_eq!(
            attrs,
            format!(
                "kestra.taskId charge {} {}\n",
                attr_token("kestra.taskId", Some("charge")),
                attr_token("kestra.taskId", None)
            )
        );
    }
}
