//! URL parameters of each endpoint.

use loupe_model::ids::{SpanId, TraceId};
use loupe_model::query::{
    AttrCondition, AttrOp, ChartQuery, LogQuery, MetricFilter, SummaryDetails, TraceQuery,
    MAX_CONTEXT_KEYS, MAX_CONTEXT_KEY_LEN,
};
use loupe_model::severity;
use loupe_model::time::NanoRange;

use crate::time::{parse_duration, parse_time};
use crate::QueryError;

/// Raw `(name, value)` pairs in URL order; names may repeat (`attr`).
pub type Params = [(String, String)];

/// Most `attr` conditions one query takes: each is an index lookup, and a
/// URL can carry thousands of them.
pub const MAX_ATTRS: usize = 64;

/// Longest log search text (`q` of `/api/v1/logs`), in bytes: every word
/// becomes an FTS5 term, so it is bounded like a trace expression.
pub const MAX_LOG_SEARCH_LEN: usize = crate::MAX_EXPR_LEN;

/// Counts `attr` parameters against [`MAX_ATTRS`].
fn check_attrs(params: &Params) -> Result<(), QueryError> {
    let n = params.iter().filter(|(k, _)| k == "attr").count();
    if n > MAX_ATTRS {
        return Err(QueryError::new(
            "attr",
            format!("{n} conditions, more than the limit of {MAX_ATTRS}"),
        ));
    }
    Ok(())
}

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

/// `context=k1,k2,…`: the attribute keys whose values the summaries carry
/// (comma-separated, blanks and repeats dropped).
fn context_keys(param: &str, v: &str) -> Result<Vec<String>, QueryError> {
    let mut keys: Vec<String> = Vec::new();
    for k in v.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if k.len() > MAX_CONTEXT_KEY_LEN {
            return Err(QueryError::new(
                param,
                format!("a key is longer than {MAX_CONTEXT_KEY_LEN} bytes"),
            ));
        }
        if !keys.iter().any(|x| x == k) {
            keys.push(k.to_string());
        }
        if keys.len() > MAX_CONTEXT_KEYS {
            return Err(QueryError::new(
                param,
                format!("names more than {MAX_CONTEXT_KEYS} keys"),
            ));
        }
    }
    Ok(keys)
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
            "context",
        ],
    )?;
    check_attrs(params)?;
    // Repeated `q`s are ANDed: one flat AND, so their number adds no
    // nesting, and their lengths count together against the one limit.
    let q_len: usize = params
        .iter()
        .filter(|(k, _)| k == "q")
        .map(|(_, v)| v.len())
        .sum();
    if q_len > crate::MAX_EXPR_LEN {
        return Err(QueryError {
            param: "q".into(),
            message: format!(
                "the expression is {q_len} bytes long, more than the limit of {} bytes",
                crate::MAX_EXPR_LEN
            ),
            position: Some(0),
        });
    }
    let mut exprs = Vec::new();
    let mut q = TraceQuery {
        range: range(params)?,
        limit: limit(params, 20, 1000)?,
        // The list's answer: context values, error message, links.
        details: Some(SummaryDetails::default()),
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
                exprs.push(e);
            }
            "context" => {
                if let Some(d) = q.details.as_mut() {
                    d.context_keys = context_keys(k, v)?;
                }
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
    q.expr = match exprs.len() {
        0 => None,
        1 => exprs.pop(),
        _ => Some(loupe_model::query::Expr::And(exprs)),
    };
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
            "q",
            "attr",
            "start",
            "end",
            "limit",
        ],
    )?;
    check_attrs(params)?;
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
                q.min_severity = Some(severity::parse(v).ok_or_else(|| {
                    QueryError::new(k, format!("{v:?} is not a severity ({})", severity::EXPECTED))
                })?)
            }
            "text" => q.text = Some(nonempty(k, v)?),
            "q" if v.trim().is_empty() => {}
            "q" if v.len() > MAX_LOG_SEARCH_LEN => {
                return Err(QueryError::new(
                    k,
                    format!(
                        "the search is {} bytes long, more than the limit of {MAX_LOG_SEARCH_LEN} bytes",
                        v.len()
                    ),
                ))
            }
            "q" => q.search = Some(v.trim().to_string()),
            "attr" => q.attrs.push(attr_condition(v)?),
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

/// `GET /api/v1/metrics`.
pub fn metric_filter(params: &Params) -> Result<MetricFilter, QueryError> {
    check_known(params, &["name", "service"])?;
    let mut f = MetricFilter::default();
    for (k, v) in params {
        match k.as_str() {
            "name" if !v.trim().is_empty() => f.name = Some(v.trim().to_string()),
            "service" if !v.is_empty() => f.service = Some(v.clone()),
            _ => {}
        }
    }
    Ok(f)
}

fn int_in<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    k: &str,
    v: &str,
    lo: T,
    hi: T,
) -> Result<T, QueryError> {
    match v.trim().parse::<T>() {
        Ok(n) if n >= lo && n <= hi => Ok(n),
        _ => Err(QueryError::new(
            k,
            format!("{v:?} is not a number from {lo} to {hi}"),
        )),
    }
}

/// `GET /api/v1/metrics/{name}/chart`.
pub fn chart_query(params: &Params) -> Result<ChartQuery, QueryError> {
    check_known(
        params,
        &[
            "start",
            "end",
            "width",
            "height",
            "split",
            "agg",
            "attr",
            "quantiles",
            "tz",
            "hide",
            "theme",
        ],
    )?;
    check_attrs(params)?;
    let mut q = ChartQuery {
        range: range(params)?,
        width: 800,
        height: 260,
        split: None,
        aggregate: "sum".into(),
        filters: Vec::new(),
        quantiles: vec![0.5, 0.9, 0.99],
        utc_offset_s: 0,
        hidden: Vec::new(),
        theme: "light".into(),
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    for (k, v) in params {
        match k.as_str() {
            "width" => q.width = int_in(k, v, 200, 4000)?,
            "height" => q.height = int_in(k, v, 100, 2000)?,
            "split" => q.split = Some(list(v)),
            "agg" => {
                if !["sum", "avg", "min", "max"].contains(&v.as_str()) {
                    return Err(QueryError::new(
                        k,
                        format!("{v:?} is not sum, avg, min or max"),
                    ));
                }
                q.aggregate = v.clone();
            }
            "attr" => {
                let c = attr_condition(v)?;
                match c.op {
                    AttrOp::Eq(val) => q.filters.push((c.key, val)),
                    _ => {
                        return Err(QueryError::new(
                            k,
                            format!("{v:?}: charts filter with key=value only"),
                        ))
                    }
                }
            }
            "quantiles" => {
                let mut qs = Vec::new();
                for s in list(v) {
                    // 0.99, or by name: p99, p99.9, max.
                    let named = match s.as_str() {
                        "max" => Some(1.0),
                        "min" => Some(0.0),
                        n => n
                            .strip_prefix('p')
                            .and_then(|p| p.parse::<f64>().ok())
                            .map(|p| p / 100.0),
                    };
                    let x: f64 = named
                        .or_else(|| s.parse().ok())
                        .filter(|x: &f64| (0.0..=1.0).contains(x))
                        .ok_or_else(|| {
                            QueryError::new(
                                k,
                                format!("{s:?} is not a quantile from 0 to 1 (or p50, p99, max)"),
                            )
                        })?;
                    qs.push(x);
                }
                if qs.is_empty() || qs.len() > 8 {
                    return Err(QueryError::new(
                        k,
                        "takes 1 to 8 quantiles, like 0.5,0.9,0.99",
                    ));
                }
                q.quantiles = qs;
            }
            "theme" => {
                if !["light", "dark"].contains(&v.as_str()) {
                    return Err(QueryError::new(k, format!("{v:?} is not light or dark")));
                }
                q.theme = v.clone();
            }
            "tz" => q.utc_offset_s = int_in::<i64>(k, v, -14 * 60, 14 * 60)? * 60,
            "hide" => {
                q.hidden = list(v)
                    .iter()
                    .map(|s| int_in::<usize>(k, s, 0, 10_000))
                    .collect::<Result<_, _>>()?
            }
            _ => {}
        }
    }
    Ok(q)
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
    fn chart_params() {
        let q = chart_query(&p(&[
            ("split", "flow, task"),
            ("agg", "max"),
            ("attr", "service.name=kestra"),
            ("quantiles", "0.5,0.99"),
            ("tz", "-60"),
            ("hide", "1,3"),
            ("width", "640"),
        ]))
        .unwrap();
        assert_eq!(q.split, Some(vec!["flow".to_string(), "task".to_string()]));
        assert_eq!(q.aggregate, "max");
        assert_eq!(
            q.filters,
            vec![("service.name".to_string(), "kestra".to_string())]
        );
        assert_eq!(q.quantiles, vec![0.5, 0.99]);
        assert_eq!(q.utc_offset_s, -3600);
        assert_eq!(q.hidden, vec![1, 3]);
        assert_eq!(q.width, 640);
        assert_eq!(
            chart_query(&p(&[("agg", "median")])).unwrap_err().param,
            "agg"
        );
        assert_eq!(
            chart_query(&p(&[("width", "10")])).unwrap_err().param,
            "width"
        );
        assert_eq!(
            chart_query(&p(&[("quantiles", "2")])).unwrap_err().param,
            "quantiles"
        );
        let q = chart_query(&p(&[("quantiles", "p50,p95,p99,max"), ("theme", "dark")])).unwrap();
        assert_eq!(q.quantiles, vec![0.5, 0.95, 0.99, 1.0]);
        assert_eq!(q.theme, "dark");
        assert_eq!(
            chart_query(&p(&[("quantiles", "p200")])).unwrap_err().param,
            "quantiles"
        );
        assert_eq!(
            chart_query(&p(&[("theme", "blue")])).unwrap_err().param,
            "theme"
        );
        assert_eq!(
            chart_query(&p(&[("attr", "x>1")])).unwrap_err().param,
            "attr"
        );
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
        let q = log_query(&p(&[
            ("q", " payment refused "),
            ("attr", "kestra.taskId=charge"),
            ("q", ""),
        ]))
        .unwrap();
        assert_eq!(q.search.as_deref(), Some("payment refused"));
        assert_eq!(q.attrs.len(), 1);
        let long = "w ".repeat(MAX_LOG_SEARCH_LEN);
        let e = log_query(&p(&[("q", &long)])).unwrap_err();
        assert_eq!(e.param, "q");
        assert!(e.message.contains("limit of 4096 bytes"), "{e}");
    }

    /// Repeating `q` used to nest one AND per repetition, so 10,000 `q=a`
    /// built a 10,000-deep expression (a stack overflow when evaluated or
    /// dropped); now they form one flat AND, and their lengths add up.
    #[test]
    fn repeated_q_nests_nothing() {
        let three = p(&[("q", "a=1"), ("q", "b"), ("q", "NOT c")]);
        let q = trace_query(&three).unwrap();
        match q.expr {
            Some(loupe_model::query::Expr::And(v)) => assert_eq!(v.len(), 3),
            e => panic!("{e:?}"),
        }
        let many: Vec<(String, String)> = (0..10_000)
            .map(|_| ("q".to_string(), "a".to_string()))
            .collect();
        let e = trace_query(&many).unwrap_err();
        assert_eq!(e.param, "q");
        assert!(e.message.contains("limit of 4096 bytes"), "{e}");
    }

    #[test]
    fn attr_count_is_bounded() {
        let many: Vec<(String, String)> = (0..=MAX_ATTRS)
            .map(|i| ("attr".to_string(), format!("k{i}=v")))
            .collect();
        for e in [
            trace_query(&many).unwrap_err(),
            log_query(&many).unwrap_err(),
            chart_query(&many).unwrap_err(),
        ] {
            assert_eq!(e.param, "attr");
            assert!(e.message.contains("limit of 64"), "{e}");
        }
        assert!(trace_query(&many[..MAX_ATTRS]).is_ok());
    }
}
