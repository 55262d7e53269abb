//! Trace analysis routes (docs/api.md, "Trace analysis"): read the trace
//! (and, with `linked=true`, the traces joined to it by span links), turn it
//! into `loupe_analysis` spans and answer what the analysis says. All the
//! logic is in `loupe-analysis`; these handlers only parse, read and call.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Router;
use loupe_analysis::compare::{Node as CompareNode, Summary as CompareSummary};
use loupe_analysis::critical::CriticalPath;
use loupe_analysis::runs::{self, Candidate, Previous as PreviousRun, RunKey};
use loupe_analysis::stats::Statistics;
use loupe_analysis::tree::Tree;
use loupe_analysis::{compare, critical, servicemap, stats, Span};
use loupe_model::ids::TraceId;
use loupe_model::query::{AttrCondition, AttrOp, TraceQuery};
use loupe_model::time::NanoRange;
use loupe_query::QueryError;
use loupe_store::{Reader, StoreError};
use serde::Serialize;
use ts_rs::TS;

use super::{blocking, json_sorted, pairs, trace_id, ApiError, ApiResult};
use crate::state::{AppState, RunKeys};

// The answers. Every one goes through `json_sorted`: keys in alphabetical
// order, as when they were built with `json!`.

/// `GET /traces/{traceId}/critical-path`.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CriticalPathAnswer<'a> {
    pub trace_id: String,
    pub linked: bool,
    /// Traces read (more than one with `linked`).
    pub traces: usize,
    pub critical_path: CriticalPath<'a>,
}

/// `GET /traces/{traceId}/statistics`.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct StatisticsAnswer {
    pub trace_id: String,
    pub linked: bool,
    pub traces: usize,
    pub statistics: Statistics,
}

/// `GET /traces/{traceId}/service-map`.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMapAnswer {
    pub trace_id: String,
    pub linked: bool,
    pub traces: usize,
    pub service_map: servicemap::ServiceMapAnswer,
}

/// `GET /compare?a=…&b=…`.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CompareAnswer<'a> {
    pub a: String,
    pub b: String,
    pub linked: bool,
    pub summary: CompareSummary,
    pub nodes: Vec<CompareNode<'a>>,
}

/// `GET /traces/{traceId}/previous`.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PreviousAnswer {
    pub trace_id: String,
    pub linked: bool,
    pub run_key: Option<RunKey>,
    pub previous: Option<PreviousRun>,
    /// What changed since the previous run.
    pub comparison: Option<CompareSummary>,
}

/// `GET /topology`.
#[derive(Debug, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TopologyAnswer {
    /// Traces read.
    pub traces: usize,
    pub linked: bool,
    pub service_map: servicemap::ServiceMapAnswer,
}

/// What every one-trace answer starts with.
struct Head {
    trace_id: String,
    linked: bool,
    traces: usize,
}

/// Traces in one stitched view (the main one included), as in the UI.
const MAX_LINKED: usize = 20;
/// Traces read for one `/topology` answer.
const MAX_TOPOLOGY: usize = 200;
/// Earlier traces looked at when choosing the previous run.
const MAX_CANDIDATES: usize = 50;
/// Spans each of two runs may have for `previous` to compare them on its
/// own. The trace page asks for `previous` whenever a trace opens: two
/// million-span runs took 9 s of CPU to read, build and match behind every
/// open, and slowed whatever the user did next. Bigger runs are compared
/// when the user asks (the compare page).
const MAX_AUTO_COMPARE_SPANS: u64 = 200_000;

/// Whether `previous` compares runs of these sizes itself.
fn compares_on_its_own(now_spans: u64, before_spans: u64) -> bool {
    now_spans <= MAX_AUTO_COMPARE_SPANS && before_spans <= MAX_AUTO_COMPARE_SPANS
}

/// The analysis routes, merged into `/api/v1`.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/traces/{trace_id}/critical-path", get(critical_path))
        .route("/traces/{trace_id}/statistics", get(statistics))
        .route("/traces/{trace_id}/service-map", get(service_map))
        .route("/traces/{trace_id}/previous", get(previous))
        .route("/compare", get(compare_traces))
        .route("/topology", get(topology))
}

/// `linked` and `runKeys`, the options every analysis route shares.
struct Opts {
    linked: bool,
    keys: Vec<String>,
    rest: Vec<(String, String)>,
}

fn opts(raw: Option<String>, allowed: &[&str], keys: &[String]) -> Result<Opts, ApiError> {
    let mut o = Opts {
        linked: false,
        keys: keys.to_vec(),
        rest: Vec::new(),
    };
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "linked" => {
                o.linked = match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" | "" => false,
                    _ => return Err(QueryError::new("linked", "true or false").into()),
                }
            }
            "runKeys" => {
                o.keys = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if o.keys.len() > 8 {
                    return Err(QueryError::new("runKeys", "at most 8 attribute keys").into());
                }
            }
            _ if allowed.contains(&k.as_str()) => o.rest.push((k, v)),
            _ => {
                return Err(QueryError::new(&k, "unknown parameter for this analysis").into());
            }
        }
    }
    Ok(o)
}

/// The spans of a trace, and with `linked` of the traces joined to it by
/// links (breadth-first, both directions, at most [`MAX_LINKED`] traces).
fn load(
    r: &Reader,
    id: TraceId,
    linked: bool,
    keep: &[String],
) -> Result<Option<(Vec<Span>, usize)>, StoreError> {
    let Some(req) = r.trace(id)? else {
        return Ok(None);
    };
    let mut spans = loupe_analysis::otlp::spans_of(&req, keep);
    drop(req);
    let mut traces = 1;
    if linked {
        let mut placed = HashSet::from([id]);
        let mut queue = VecDeque::from([id]);
        'walk: while let Some(t) = queue.pop_front() {
            for rel in r.related(t)? {
                let Ok(other) = TraceId::parse_hex(&rel.trace_id) else {
                    continue;
                };
                // Inferred links (a shared business identifier) are for
                // the reader to follow; the analyses walk real links only.
                if rel.inferred.is_some() || rel.summary.is_none() || placed.contains(&other) {
                    continue;
                }
                if placed.len() >= MAX_LINKED {
                    break 'walk;
                }
                if let Some(req) = r.trace(other)? {
                    spans.extend(loupe_analysis::otlp::spans_of(&req, keep));
                    placed.insert(other);
                    queue.push_back(other);
                    traces += 1;
                }
            }
        }
    }
    Ok(Some((spans, traces)))
}

fn missing(id: TraceId) -> ApiError {
    ApiError::not_found(format!("no trace {id}"))
}

fn empty(id: TraceId) -> ApiError {
    ApiError::not_found(format!("trace {id} has no spans"))
}

/// The one-trace analyses (`/traces/{id}/…`) share this: parse the ID and
/// the options, read the trace (and with `linked` the traces joined to
/// it), build its tree, hand it to `answer`.
async fn one_trace(
    r: Arc<Reader>,
    id: String,
    q: Option<String>,
    answer: impl FnOnce(&Tree, TraceId, Head) -> ApiResult,
) -> ApiResult {
    let id = trace_id(&id)?;
    let o = opts(q, &[], &[])?;
    let (spans, traces) = blocking(&r, move |r| load(r, id, o.linked, &[]))
        .await?
        .ok_or_else(|| missing(id))?;
    let head = Head {
        trace_id: id.to_string(),
        linked: o.linked,
        traces,
    };
    answer(&Tree::build(&spans, Some(id)), id, head)
}

async fn critical_path(
    State(r): State<Arc<Reader>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    one_trace(r, id, q, |t, id, h| {
        let critical_path = critical::critical_path(t).map_err(|_| empty(id))?;
        let a = CriticalPathAnswer {
            trace_id: h.trace_id,
            linked: h.linked,
            traces: h.traces,
            critical_path,
        };
        json_sorted(&a, 4096)
    })
    .await
}

async fn statistics(
    State(r): State<Arc<Reader>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    one_trace(r, id, q, |t, _, h| {
        let a = StatisticsAnswer {
            trace_id: h.trace_id,
            linked: h.linked,
            traces: h.traces,
            statistics: stats::statistics(t),
        };
        json_sorted(&a, 4096)
    })
    .await
}

async fn service_map(
    State(r): State<Arc<Reader>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    one_trace(r, id, q, |t, _, h| {
        let a = ServiceMapAnswer {
            trace_id: h.trace_id,
            linked: h.linked,
            traces: h.traces,
            service_map: servicemap::service_map(t),
        };
        json_sorted(&a, 4096)
    })
    .await
}

/// `a` and `b` as trace IDs.
fn two_ids(rest: &[(String, String)]) -> Result<(TraceId, TraceId), ApiError> {
    let get = |name: &str| -> Result<TraceId, ApiError> {
        let v = rest
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| QueryError::new(name, "a trace ID is required"))?;
        TraceId::parse_hex(v).map_err(|e| QueryError::new(name, e.to_string()).into())
    };
    Ok((get("a")?, get("b")?))
}

async fn compare_traces(State(r): State<Arc<Reader>>, RawQuery(q): RawQuery) -> ApiResult {
    let o = opts(q, &["a", "b"], &[])?;
    let (a, b) = two_ids(&o.rest)?;
    let linked = o.linked;
    let (sa, sb) = blocking(&r, move |r| {
        Ok((load(r, a, linked, &[])?, load(r, b, linked, &[])?))
    })
    .await?;
    let (sa, _) = sa.ok_or_else(|| missing(a))?;
    let (sb, _) = sb.ok_or_else(|| missing(b))?;
    let c = compare::compare(&Tree::build(&sa, Some(a)), &Tree::build(&sb, Some(b)))
        .map_err(|_| ApiError::not_found("a trace to compare has no spans"))?;
    let answer = CompareAnswer {
        a: a.to_string(),
        b: b.to_string(),
        linked,
        summary: c.summary,
        nodes: c.nodes,
    };
    json_sorted(&answer, 64 * 1024)
}

/// Earlier traces that may share the run key: found by the key's
/// attributes, or by the root's service and name (then checked against the
/// summary's root, since the search matches any span).
fn candidates(r: &Reader, key: &RunKey, before: u64) -> Result<Vec<Candidate>, StoreError> {
    let Some(end) = before.checked_sub(1) else {
        return Ok(Vec::new());
    };
    let mut q = TraceQuery {
        range: NanoRange { start: 0, end },
        limit: MAX_CANDIDATES,
        ..TraceQuery::default()
    };
    match key {
        RunKey::Attributes { values } => {
            q.attrs = values
                .iter()
                .map(|(k, v)| AttrCondition {
                    key: k.clone(),
                    op: AttrOp::Eq(v.clone()),
                })
                .collect();
        }
        RunKey::Root { service, name } => {
            q.service = Some(service.clone());
            q.span_name = Some(name.clone());
        }
    }
    Ok(r.search_traces(&q)?
        .into_iter()
        .filter(|t| match key {
            RunKey::Attributes { .. } => true,
            RunKey::Root { service, name } => {
                t.root_service.as_deref() == Some(service.as_str())
                    && t.root_name.as_deref() == Some(name.as_str())
            }
        })
        .map(|t| Candidate {
            trace_id: t.trace_id,
            start: t.start_time_unix_nano,
            key: None,
        })
        .collect())
}

async fn previous(
    State(r): State<Arc<Reader>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    State(RunKeys(run_keys)): State<RunKeys>,
) -> ApiResult {
    let id = trace_id(&id)?;
    let o = opts(q, &[], &run_keys)?;
    let linked = o.linked;
    let answer = blocking(&r, move |r| {
        let Some((spans, _)) = load(r, id, false, &o.keys)? else {
            return Ok(None);
        };
        let Some(summary) = r.trace_summary(id)? else {
            return Ok(None);
        };
        let tree = Tree::build(&spans, Some(id));
        let Ok(key) = runs::run_key(&tree, &o.keys) else {
            return Ok(Some((None, None, None)));
        };
        let start = summary.start_time_unix_nano;
        let cands = candidates(r, &key, start)?;
        let prev = runs::previous_run(&id.to_string(), start, &key, &cands);
        // What changed the most since then: the summary of the comparison.
        let mut cmp = None;
        if let Some(p) = &prev {
            let pid = TraceId::parse_hex(&p.trace_id).ok();
            let before = match pid {
                Some(pid) => r.trace_summary(pid)?.map_or(0, |s| s.span_count),
                None => 0,
            };
            if let Some(pid) = pid.filter(|_| compares_on_its_own(summary.span_count, before)) {
                let (now, _) = if linked {
                    load(r, id, true, &[])?.unwrap_or_default()
                } else {
                    (spans, 1)
                };
                if let Some((before, _)) = load(r, pid, linked, &[])? {
                    cmp = compare::compare(
                        &Tree::build(&before, Some(pid)),
                        &Tree::build(&now, Some(id)),
                    )
                    .ok()
                    .map(|c| c.summary);
                }
            }
        }
        Ok(Some((Some(key), prev, cmp)))
    })
    .await?
    .ok_or_else(|| missing(id))?;
    let (run_key, previous, comparison) = answer;
    let answer = PreviousAnswer {
        trace_id: id.to_string(),
        linked,
        run_key,
        previous,
        comparison,
    };
    json_sorted(&answer, 4096)
}

/// The service map of the traces a search finds (the `/traces` search
/// parameters; at most [`MAX_TOPOLOGY`] traces, the newest first).
async fn topology(State(r): State<Arc<Reader>>, RawQuery(q): RawQuery) -> ApiResult {
    let params = pairs(q);
    let linked = params
        .iter()
        .any(|(k, v)| k == "linked" && (v == "true" || v == "1"));
    let params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k != "linked").collect();
    let mut tq = loupe_query::trace_query(&params)?;
    if !params.iter().any(|(k, _)| k == "limit") {
        tq.limit = MAX_TOPOLOGY;
    }
    tq.limit = tq.limit.min(MAX_TOPOLOGY);
    let (m, n) = blocking(&r, move |r| {
        let found = r.search_traces(&tq)?;
        let mut m = servicemap::ServiceMap::new();
        let mut n = 0;
        for t in &found {
            let Ok(id) = TraceId::parse_hex(&t.trace_id) else {
                continue;
            };
            if let Some((spans, _)) = load(r, id, linked, &[])? {
                m.add(&Tree::build(&spans, Some(id)));
                n += 1;
            }
        }
        Ok((m.finish(), n))
    })
    .await?;
    let answer = TopologyAnswer {
        traces: n,
        linked,
        service_map: m,
    };
    json_sorted(&answer, 16 * 1024)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
    use loupe_model::otlp::resource::Resource;
    use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans, Span as OtlpSpan};
    use loupe_model::otlp::ExportTraceServiceRequest;
    use loupe_model::sink::{Batch, Sink};
    use tower::ServiceExt;

    const MS: u64 = 1_000_000;
    const T0: u64 = 1_795_292_629_000_000_000;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    /// A Kestra-shaped run: an execution and three sequential tasks.
    fn run(t: u8, shell_ms: u64, start: u64) -> ExportTraceServiceRequest {
        let span = |id: u8, parent: Option<u8>, name: &str, s: u64, e: u64| OtlpSpan {
            trace_id: vec![t; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: name.into(),
            start_time_unix_nano: s,
            end_time_unix_nano: e,
            attributes: vec![
                kv("kestra.namespace", "company"),
                kv("kestra.flowId", "nightly"),
            ],
            ..Default::default()
        };
        let a = start + 10 * MS;
        let b = a + 10 * MS;
        let c = b + shell_ms * MS;
        let d = c + 10 * MS;
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "kestra")],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(1, None, &format!("Execution {t}"), start, d + 10 * MS),
                        span(2, Some(1), "log", a, b),
                        span(3, Some(1), "shell.Commands", b, c),
                        span(4, Some(1), "end", c, d),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    async fn get(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let res = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn previous_compares_runs_of_up_to_200k_spans_on_its_own() {
        use super::{compares_on_its_own, MAX_AUTO_COMPARE_SPANS as MAX};
        assert!(compares_on_its_own(1, 1));
        assert!(compares_on_its_own(MAX, MAX));
        assert!(!compares_on_its_own(MAX + 1, 10));
        assert!(!compares_on_its_own(10, MAX + 1));
        assert!(!compares_on_its_own(1_000_000, 1_000_000));
    }

    #[tokio::test]
    async fn analysis_routes_answer_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = loupe_store::Store::open(dir.path(), Default::default()).unwrap();
        for req in [run(1, 100, T0), run(2, 310, T0 + 3600 * 1000 * MS)] {
            store
                .writer
                .submit(Batch::Traces(req))
                .unwrap()
                .wait()
                .await
                .unwrap();
        }
        let state =
            crate::AppState::standalone(store.clone(), "127.0.0.1:4317".parse().unwrap()).unwrap();
        let app = crate::test_router(state.clone());
        let (a, b) = ("01".repeat(16), "02".repeat(16));

        let (s, v) = get(&app, &format!("/api/v1/traces/{b}/critical-path")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let segs = v["criticalPath"]["segments"].as_array().unwrap();
        assert!(segs.iter().any(|x| x["name"] == "shell.Commands"), "{v}");

        let (s, v) = get(&app, &format!("/api/v1/traces/{b}/statistics?linked=true")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["statistics"]["spanCount"], 4);

        let (s, v) = get(&app, &format!("/api/v1/traces/{b}/previous")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["previous"]["traceId"], a.as_str(), "{v}");
        assert_eq!(v["runKey"]["kind"], "attributes");
        assert_eq!(
            v["comparison"]["regressions"][0]["name"], "shell.Commands",
            "{v}"
        );
        let (_, v) = get(&app, &format!("/api/v1/traces/{a}/previous")).await;
        assert!(v["previous"].is_null(), "{v}");

        // Configured run keys (`analysis.run_keys`): none → the root names the run.
        let mut info = (*state.info).clone();
        info.run_keys = Vec::new();
        let by_root = crate::test_router(crate::AppState {
            info: std::sync::Arc::new(info),
            ..state
        });
        let (_, v) = get(&by_root, &format!("/api/v1/traces/{b}/previous")).await;
        assert_eq!(v["runKey"]["kind"], "root", "{v}");
        assert!(v["previous"].is_null(), "root names differ: {v}");
        let (_, v) = get(
            &by_root,
            &format!("/api/v1/traces/{b}/previous?runKeys=kestra.flowId"),
        )
        .await;
        assert_eq!(v["previous"]["traceId"], a.as_str(), "{v}");

        let (s, v) = get(&app, &format!("/api/v1/compare?a={a}&b={b}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["summary"]["matched"], 4, "{v}");
        assert_eq!(v["summary"]["delta"], (210 * MS).to_string());

        let (s, v) = get(&app, "/api/v1/topology?limit=10").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["traces"], 2);

        let (s, v) = get(&app, &format!("/api/v1/traces/{b}/service-map")).await;
        assert_eq!(s, StatusCode::OK, "{v}");

        let (s, _) = get(
            &app,
            &format!("/api/v1/traces/{}/critical-path", "03".repeat(16)),
        )
        .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, v) = get(&app, &format!("/api/v1/compare?a={a}")).await;
        assert_eq!(
            (s, v["param"].as_str()),
            (StatusCode::BAD_REQUEST, Some("b"))
        );
        let (s, v) = get(&app, &format!("/api/v1/traces/{a}/statistics?linked=maybe")).await;
        assert_eq!(
            (s, v["param"].as_str()),
            (StatusCode::BAD_REQUEST, Some("linked"))
        );
    }
}
