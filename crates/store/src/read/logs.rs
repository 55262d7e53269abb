//! Log records: by time, trace, span, severity, service and text; with
//! words to find through the full-text index (`logsearch`).

use std::collections::HashMap;

use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::ExportLogsServiceRequest;
use loupe_model::query::{AttrCondition, AttrOp, LogQuery};
use prost::Message;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection};

use super::Reader;
use crate::error::StoreError;

impl Reader {
    pub fn logs(&self, q: &LogQuery) -> Result<ExportLogsServiceRequest, StoreError> {
        self.with(|c| {
            let rows = select_logs(c, q)?;
            let mut out: Vec<ResourceLogs> = Vec::new();
            let mut index: HashMap<(i64, i64), (usize, usize)> = HashMap::new();
            let mut res_index: HashMap<i64, usize> = HashMap::new();
            for (r, s, record) in rows {
                let (ri, si) = match index.get(&(r, s)) {
                    Some(x) => *x,
                    None => {
                        let ri = match res_index.get(&r) {
                            Some(i) => *i,
                            None => {
                                let env = self.resource(c, r)?;
                                out.push(ResourceLogs {
                                    resource: env.resource,
                                    scope_logs: Vec::new(),
                                    schema_url: env.schema_url,
                                });
                                res_index.insert(r, out.len() - 1);
                                out.len() - 1
                            }
                        };
                        let env = self.scope(c, s)?;
                        out[ri].scope_logs.push(ScopeLogs {
                            scope: env.scope,
                            log_records: Vec::new(),
                            schema_url: env.schema_url,
                        });
                        let si = out[ri].scope_logs.len() - 1;
                        index.insert((r, s), (ri, si));
                        (ri, si)
                    }
                };
                out[ri].scope_logs[si].log_records.push(record);
            }
            Ok(ExportLogsServiceRequest { resource_logs: out })
        })
    }
}

/// Records examined at most by one log search before it answers with what
/// it found: bounds the time of a search whose conditions the index cannot
/// narrow.
const LOG_SCAN_LIMIT: usize = 200_000;

/// (resource id, scope id, record), newest first.
type LogRow = (i64, i64, LogRecord);

/// The records a log query selects. With words to find (or attribute
/// equality conditions) the full-text index drives: matches are walked in
/// arrival order, newest first, filtered and checked exactly, until `limit`
/// are found; the page is then ordered by time. Without, records are
/// walked by time, newest first.
fn select_logs(c: &Connection, q: &LogQuery) -> Result<Vec<LogRow>, StoreError> {
    let mut filter = String::new();
    let (range, [lo, hi]) = q.range.sql("l.time_ns");
    filter.push_str(&range);
    let mut args: Vec<SqlValue> = vec![lo.into(), hi.into()];
    if let Some(t) = &q.trace_id {
        filter.push_str(" AND l.trace_id = ?");
        args.push(t.0.to_vec().into());
    }
    if let Some(s) = &q.span_id {
        filter.push_str(" AND l.span_id = ?");
        args.push(s.0.to_vec().into());
    }
    if let Some(sev) = q.min_severity {
        filter.push_str(" AND l.severity >= ?");
        args.push(i64::from(sev).into());
    }
    if let Some(svc) = &q.service {
        filter.push_str(" AND l.resource IN (SELECT id FROM resources WHERE service = ?)");
        args.push(svc.clone().into());
    }
    if let Some(text) = &q.text {
        filter.push_str(" AND l.body_text LIKE ? ESCAPE '\\'");
        args.push(format!("%{}%", like_escape(text)).into());
    }
    let indexable: Vec<(String, Option<String>)> = q
        .attrs
        .iter()
        .filter_map(|a| match &a.op {
            AttrOp::Eq(v) => Some((a.key.clone(), Some(v.clone()))),
            AttrOp::Exists => Some((a.key.clone(), None)),
            _ => None,
        })
        .collect();
    let fts = crate::logsearch::match_query(q.search.as_deref().unwrap_or(""), &indexable)?;
    let limit = q.limit.max(1);
    let sql = match &fts {
        Some(_) => format!(
            "SELECT l.resource, l.scope, l.record FROM logs_fts JOIN logs l ON l.seq = logs_fts.rowid
             WHERE logs_fts MATCH ? AND {filter} ORDER BY logs_fts.rowid DESC"
        ),
        None => format!(
            "SELECT l.resource, l.scope, l.record FROM logs l WHERE {filter} ORDER BY l.time_ns DESC, l.hash"
        ),
    };
    if let Some(m) = fts {
        args.insert(0, m.into());
    }
    let mut st = c.prepare(&sql)?;
    // FTS5 parses the MATCH text when the statement runs: its syntax
    // errors surface here and are the query's fault (`fts_error`).
    let fts_error = crate::logsearch::fts_error;
    let mut rows = st.query(params_from_iter(args)).map_err(fts_error)?;
    let mut out: Vec<LogRow> = Vec::new();
    let mut examined = 0;
    while let Some(row) = rows.next().map_err(fts_error)? {
        examined += 1;
        let record = LogRecord::decode(row.get_ref(2)?.as_blob()?)?;
        if q.attrs.iter().all(|a| log_attr_matches(&record, a)) {
            out.push((row.get(0)?, row.get(1)?, record));
            if out.len() >= limit {
                break;
            }
        }
        if examined >= LOG_SCAN_LIMIT {
            break;
        }
    }
    out.sort_by_key(|(_, _, r)| {
        std::cmp::Reverse(if r.time_unix_nano != 0 {
            r.time_unix_nano
        } else {
            r.observed_time_unix_nano
        })
    });
    Ok(out)
}

/// Whether a record's attributes meet a condition (text compared exactly,
/// numbers numerically, like trace search).
fn log_attr_matches(r: &LogRecord, cond: &AttrCondition) -> bool {
    use loupe_model::otlp::common::any_value::Value;
    let values = r.attributes.iter().filter(|kv| kv.key == cond.key);
    let num = |v: Option<&Value>| -> Option<f64> {
        match v? {
            Value::IntValue(i) => Some(*i as f64),
            Value::DoubleValue(d) => Some(*d),
            _ => None,
        }
    };
    let text = |kv: &loupe_model::otlp::common::KeyValue| {
        loupe_model::otlp::any_value_text(kv.value.as_ref())
    };
    let mut values = values.peekable();
    match &cond.op {
        AttrOp::Exists => values.peek().is_some(),
        AttrOp::Eq(v) => values.any(|kv| {
            text(kv) == *v
                || v.parse::<f64>()
                    .ok()
                    .zip(num(kv.value.as_ref().and_then(|x| x.value.as_ref())))
                    .is_some_and(|(a, b)| a == b)
        }),
        AttrOp::Ne(v) => values.any(|kv| text(kv) != *v),
        AttrOp::Gt(x) | AttrOp::Ge(x) | AttrOp::Lt(x) | AttrOp::Le(x) => values.any(|kv| {
            num(kv.value.as_ref().and_then(|v| v.value.as_ref())).is_some_and(|n| match &cond.op {
                AttrOp::Gt(_) => n > *x,
                AttrOp::Ge(_) => n >= *x,
                AttrOp::Lt(_) => n < *x,
                _ => n <= *x,
            })
        }),
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
