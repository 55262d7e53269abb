//! URL parameters of each endpoint.

use loupe_model::ids::{SpanId, TraceId};
use loupe_model::query::{AttrCondition, AttrOp, LogQuery, TraceQuery};
use loupe_model::time::NanoRange;

use crate::time::{parse_duration, parse_time};
use crate::QueryError;

/// Raw `(name, value)` pairs in URL order; names may repeat (`attr`).
pub type Params = [(String, String)];

fn check_known(params: &Params, known: &[&str]) -> Result<(), QueryError> {
    for (k, _) in params {
        if !known.contains(&k.as_str()) {
            return Err(QueryError::new(
                k,
                format!(
                    "unknown parameter; this endpoint takes {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn range(params: &Params) -> Result<NanoRange, QueryError> {
    let mut r = NanoRange::default();
    for (k, v) in params {
        match k.as_str() {
            "start" => r.start = parse_time(v).map_err(|m| QueryError::new(k, m))?,
            "end" => r.end = parse_time(v).map_err(|m| QueryError::new(k, m))?,
            _ => {}
        }
    }
    if r.start > r.end {
        return Err(QueryError::new("start", "is after `end`"));
    }
    Ok(r)
}

fn limit(params: &Params, default: usize, max: usize) -> Result<usize, QueryError> {
    match params.iter().rev().find(|(k, _)| k == "limit") {
        None => Ok(default),
        Some((k, v)) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(QueryError::new(
                k,
                format!("{v:?} is not a number from 1 to {max}"),
            )),
        },
    }
}

fn nonempty(k: &str, v: &str) -> Result<String, QueryError> {
    if v.is_empty() {
        Err(QueryError::new(k, "is empty"))
    } else {
        Ok(v.to_string())
    }
}

fn boolean(k: &str, v: &str) -> Result<bool, QueryError> {
    match v {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(QueryError::new(k, format!("{v:?} is not true or false"))),
    }
}

/// Parses one `attr` condition: `key=value`, `key!=value`, `key>n`,
/// `key>=n`, `key<n`, `key<=n`, or a bare `key` (exists).
pub fn attr_condition(s: &str) -> Result<AttrCondition, QueryError> {
    let err = |m: String| QueryError::new("attr", m);
    let pos = s.find(['=', '!', '<', '>']);
    let Some(pos) = pos else {
        let key = s.trim();
        if key.is_empty() {
            return Err(err(
                "is empty; use key, key=value, key!=value or key>=number".into(),
            ));
        }
        return Ok(AttrCondition {
            key: key.to_string(),
            op: AttrOp::Exists,
        });
    };
    let key = s[..pos].trim().to_string();
    if key.is_empty() {
        return Err(err(format!(
            "{s:?} has no attribute key before the operator"
        )));
    }
    let rest = &s[pos..];
    let (op, value) = if let Some(v) = rest.strip_prefix("!=") {
        ("!=", v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (">=", v)
    } else if let Some(v) = rest.strip_prefix("<=") {
        ("<=", v)
    } else if let Some(v) = rest.strip_prefix('=') {
        ("=", v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (">", v)
    } else if let Some(v) = rest.strip_prefix('<') {
        ("<", v)
    } else {
        return Err(err(format!(
            "{s:?}: unknown operator; use =, !=, >, >=, < or <="
        )));
    };
    let number = || -> Result<f64, QueryError> {
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| err(format!("{s:?}: {op} compares with a number, not {value:?}")))
    };
    let op = match op {
        "=" => AttrOp::Eq(value.to_string()),
        "!=" => AttrOp::Ne(value.to_string()),
        ">" => AttrOp::Gt(number()?),
        ">=" => AttrOp::Ge(number()?),
        "<" => AttrOp::Lt(number()?),
        _ => AttrOp::Le(number()?),
    };
    Ok(AttrCondition { key, op })
}

/// `GET /api/v1/traces`.
pub fn trace_query(params: &Params) -> Result<TraceQuery, QueryError> {
    check_known(
        params,
        &[
            "service",
            "spanName",
            "attr",
            "q",
            "errors",
            "minDuration",
            "maxDuration",
            "start",
            "end",
            "limit",
        ],
    )?;
    let mut q = TraceQuery {
        range: range(params)?,
        limit: limit(params, 20, 1000)?,
        ..TraceQuery::default()
    };
    for (k, v) in params {
        match k.as_str() {
            "service" => q.service = Some(nonempty(k, v)?),
            "spanName" => q.span_name = Some(nonempty(k, v)?),
            "attr" => q.attrs.push(attr_condition(v)?),
            "q" if v.trim().is_empty() => {}
            "q" => {
                let e = crate::parse_expr(v).map_err(|e| QueryError {
                    param: k.clone(),
                    message: format!("{} (at character {})", e.message, e.position),
                    position: Some(e.position),
                })?;
                q.expr = Some(match q.expr.take() {
                    None => e,
                    Some(prev) => loupe_model::query::Expr::And(vec![prev, e]),
                });
            }
            "errors" => q.errors_only = boolean(k, v)?,
            "minDuration" => {
                q.min_duration_ns = Some(parse_duration(v).map_err(|m| QueryError::new(k, m))?)
            }
            "maxDuration" => {
                q.max_duration_ns = Some(parse_duration(v).map_err(|m| QueryError::new(k, m))?)
            }
            _ => {}
        }
    }
    if let (Some(a), Some(b)) = (q.min_duration_ns, q.max_duration_ns) {
        if a > b {
            return Err(QueryError::new(
                "minDuration",
                "is greater than `maxDuration`",
            ));
        }
    }
    Ok(q)
}

/// Severity numbers by name, per the OTLP log data model.
fn severity(v: &str) -> Option<i32> {
    if let Ok(n) = v.parse::<i32>() {
        return (1..=24).contains(&n).then_some(n);
    }
    Some(match v.to_ascii_uppercase().as_str() {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" | "WARNING" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        _ => return None,
    })
}

/// `GET /api/v1/logs`.
pub fn log_query(params: &Params) -> Result<LogQuery, QueryError> {
    check_known(
        params,
        &[
            "traceId",
            "spanId",
            "service",
            "minSeverity",
            "text",
            "start",
            "end",
            "limit",
        ],
    )?;
    let mut q = LogQuery {
        range: range(params)?,
        limit: limit(params, 100, 10_000)?,
        ..LogQuery::default()
    };
    for (k, v) in params {
        match k.as_str() {
            "traceId" => {
                q.trace_id =
                    Some(TraceId::parse_hex(v).map_err(|e| QueryError::new(k, e.to_string()))?)
            }
            "spanId" => {
                q.span_id =
                    Some(SpanId::parse_hex(v).map_err(|e| QueryError::new(k, e.to_string()))?)
            }
            "service" => q.service = Some(nonempty(k, v)?),
            "minSeverity" => {
                q.min_severity = Some(severity(v).ok_or_else(|| {
                    QueryError::new(
                        k,
                        format!(
                        "{v:?} is not a severity (1-24, or TRACE, DEBUG, INFO, WARN, ERROR, FATAL)"
                    ),
                    )
                })?)
            }
            "text" => q.text = Some(nonempty(k, v)?),
            _ => {}
        }
    }
    Ok(q)
}

/// `GET /api/v1/metrics/{name}`.
pub fn metric_range(params: &Params) -> Result<NanoRange, QueryError> {
    check_known(params, &["start", "end"])?;
    range(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn attr_syntax() {
        let c = |s| attr_condition(s).unwrap();
        assert_eq!(
            c("kestra.namespace=company.team").op,
            AttrOp::Eq("company.team".into())
        );
        assert_eq!(c("a!=b").op, AttrOp::Ne("b".into()));
        assert_eq!(c("http.status_code>=500").op, AttrOp::Ge(500.0));
        assert_eq!(c("x<1.5").op, AttrOp::Lt(1.5));
        assert_eq!(c("error.type").op, AttrOp::Exists);
        assert_eq!(
            c("url=http://x/?a=b").op,
            AttrOp::Eq("http://x/?a=b".into())
        );
        let e = attr_condition("n>abc").unwrap_err();
        assert_eq!(e.param, "attr");
        assert!(e.message.contains("compares with a number"), "{e}");
        assert!(attr_condition("=x").is_err());
    }

    #[test]
    fn trace_params() {
        let q = trace_query(&p(&[
            ("service", "kestra"),
            ("attr", "kestra.flowId=cleanup"),
            ("errors", "true"),
            ("minDuration", "10ms"),
            ("limit", "5"),
        ]))
        .unwrap();
        assert_eq!(q.service.as_deref(), Some("kestra"));
        assert!(q.errors_only);
        assert_eq!(q.min_duration_ns, Some(10_000_000));
        assert_eq!(q.limit, 5);
        let e = trace_query(&p(&[("limit", "0")])).unwrap_err();
        assert_eq!(e.param, "limit");
        let e = trace_query(&p(&[("sevice", "x")])).unwrap_err();
        assert_eq!(e.param, "sevice");
        let e = trace_query(&p(&[("start", "10"), ("end", "5")])).unwrap_err();
        assert_eq!(e.param, "start");
    }

    #[test]
    fn log_params() {
        let q = log_query(&p(&[
            ("minSeverity", "error"),
            ("traceId", "5B8EFFF798038103D269B633813FC60C"),
        ]))
        .unwrap();
        assert_eq!(q.min_severity, Some(17));
        assert!(q.trace_id.is_some());
        assert_eq!(
            log_query(&p(&[("traceId", "xyz")])).unwrap_err().param,
            "traceId"
        );
        assert_eq!(
            log_query(&p(&[("minSeverity", "loud")])).unwrap_err().param,
            "minSeverity"
        );
    }
}
