//! `/api/v1/rules`, `/alerts`, `/channels`, `/deliveries`: alerting's part of
//! the API (documented in `docs/api.md`). Rule text is parsed and rendered
//! here with the same code `loupe rules check` uses, so the editor's YAML
//! and tree never disagree. Webhook URLs are answered only masked.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use loupe_alerts::deliver::{mask_url, ChannelKind};
use loupe_alerts::eval::{self, Matcher};
use loupe_alerts::rule::{file_from_yaml, file_to_yaml};
use loupe_alerts::target::{check_target, TargetError};
use loupe_alerts::{analyse, from_yaml, to_yaml, Rule, RuleError, Signal};
use loupe_model::time::NanoRange;
use loupe_store::alerts::ChannelRow;
use loupe_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::alerting::{log_items, span_items, Alerting};

/// What an alerting call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AlertApiError {
    #[error("{0}")]
    Rule(RuleError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Rules(Vec<RuleError>),
    #[error("{0}")]
    Bad(String),
    /// A webhook target refused when the channel is saved.
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the request was interrupted")]
    Interrupted,
}

impl IntoResponse for AlertApiError {
    fn into_response(self) -> Response {
        let (status, errors) = match &self {
            AlertApiError::Rule(e) => (StatusCode::BAD_REQUEST, vec![e.clone()]),
            AlertApiError::Rules(v) => (StatusCode::BAD_REQUEST, v.clone()),
            AlertApiError::Bad(m) => (StatusCode::BAD_REQUEST, vec![RuleError::msg(m.clone())]),
            AlertApiError::Target(e) => {
                (StatusCode::BAD_REQUEST, vec![RuleError::msg(e.to_string())])
            }
            AlertApiError::Store(StoreError::Conflict(m)) => {
                (StatusCode::CONFLICT, vec![RuleError::msg(m.clone())])
            }
            AlertApiError::Store(StoreError::NotFound(m)) => (
                StatusCode::NOT_FOUND,
                vec![RuleError::msg(format!("{m} not found"))],
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, Vec::new()),
        };
        (
            status,
            Json(json!({ "error": self.to_string(), "errors": errors })),
        )
            .into_response()
    }
}

type Res = Result<Response, AlertApiError>;
type S = State<Arc<Alerting>>;

async fn blocking<T: Send + 'static>(
    a: &Arc<Alerting>,
    f: impl FnOnce(&Alerting) -> Result<T, AlertApiError> + Send + 'static,
) -> Result<T, AlertApiError> {
    let a = a.clone();
    tokio::task::spawn_blocking(move || f(&a))
        .await
        .map_err(|_| AlertApiError::Interrupted)?
}

fn ok(v: Value) -> Res {
    Ok(Json(v).into_response())
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `/api/v1/…` routes for alerting.
pub fn router(a: Arc<Alerting>) -> Router {
    let api = Router::new()
        .route("/rules", get(list_rules).post(create_rule))
        .route("/rules/parse", post(parse))
        .route("/rules/render", post(render_rule))
        .route("/rules/backtest", post(backtest))
        .route("/rules/export", get(export))
        .route("/rules/import", post(import))
        .route("/rules/{id}", put(update_rule).delete(delete_rule))
        .route("/rules/{id}/enabled", post(set_enabled))
        .route("/rules/{id}/duplicate", post(duplicate))
        .route("/alerts", get(alerts))
        .route("/alerts/history", get(history))
        .route("/channels", get(list_channels).post(create_channel))
        .route("/channels/{id}", put(update_channel).delete(delete_channel))
        .route("/channels/{id}/test", post(test_channel))
        .route("/deliveries", get(deliveries))
        .with_state(a);
    Router::new().nest("/api/v1", api)
}

fn rule_view(id: i64, yaml: &str, a: &Alerting) -> Value {
    let groups: Vec<Value> = a
        .groups()
        .into_iter()
        .filter(|(r, _, _)| *r == id)
        .map(|(_, _, g)| serde_json::to_value(g).unwrap_or_default())
        .collect();
    let firing = groups.iter().filter(|g| g["state"] == "firing").count();
    match from_yaml(yaml) {
        Ok(rule) => json!({
            "id": id,
            "name": rule.name,
            "enabled": rule.enabled,
            "signal": rule.signal,
            "yaml": yaml,
            "rule": rule,
            "analysis": analyse(rule.when.as_ref(), rule.signal),
            "firing": firing,
            "groups": groups,
        }),
        Err(e) => json!({ "id": id, "yaml": yaml, "error": e, "firing": firing, "groups": groups }),
    }
}

async fn list_rules(State(a): S) -> Res {
    let v = blocking(&a, |a| {
        Ok(a.rules()
            .iter()
            .map(|l| rule_view(l.id, &l.yaml, a))
            .collect::<Vec<_>>())
    })
    .await?;
    ok(json!({ "rules": v }))
}

#[derive(Deserialize)]
struct RuleBody {
    yaml: Option<String>,
    rule: Option<Rule>,
}

impl RuleBody {
    fn rule(self) -> Result<Rule, AlertApiError> {
        match (self.yaml, self.rule) {
            (Some(y), _) => from_yaml(&y).map_err(AlertApiError::Rule),
            (None, Some(r)) => {
                r.validate().map_err(AlertApiError::Rule)?;
                Ok(r)
            }
            (None, None) => Err(AlertApiError::Bad("send `yaml` or `rule`".into())),
        }
    }
}

fn body<T: serde::de::DeserializeOwned>(b: &Bytes) -> Result<T, AlertApiError> {
    serde_json::from_slice(b).map_err(|e| AlertApiError::Bad(format!("bad JSON body: {e}")))
}

async fn save(a: &Arc<Alerting>, id: Option<i64>, rule: Rule) -> Res {
    let v = blocking(a, move |a| {
        let yaml = to_yaml(&rule);
        let id =
            a.db.save_rule(id, &rule.name, &yaml, rule.enabled, now_ns())?;
        a.reset(id)?;
        a.reload()?;
        Ok(rule_view(id, &yaml, a))
    })
    .await?;
    ok(v)
}

async fn create_rule(State(a): S, b: Bytes) -> Res {
    let rule = body::<RuleBody>(&b)?.rule()?;
    save(&a, None, rule).await
}

async fn update_rule(State(a): S, Path(id): Path<i64>, b: Bytes) -> Res {
    let rule = body::<RuleBody>(&b)?.rule()?;
    save(&a, Some(id), rule).await
}

async fn delete_rule(State(a): S, Path(id): Path<i64>) -> Res {
    let found = blocking(&a, move |a| {
        let f = a.db.delete_rule(id)?;
        a.reload()?;
        Ok(f)
    })
    .await?;
    if !found {
        return Err(StoreError::NotFound(format!("rule {id}")).into());
    }
    ok(json!({ "deleted": id }))
}

fn stored_rule(a: &Alerting, id: i64) -> Result<Rule, AlertApiError> {
    let l = a
        .rules()
        .into_iter()
        .find(|l| l.id == id)
        .ok_or_else(|| StoreError::NotFound(format!("rule {id}")))?;
    l.rule.map_err(|e| AlertApiError::Bad(e.to_string()))
}

async fn set_enabled(State(a): S, Path(id): Path<i64>, b: Bytes) -> Res {
    #[derive(Deserialize)]
    struct E {
        enabled: bool,
    }
    let e: E = body(&b)?;
    let mut rule = blocking(&a, move |a| stored_rule(a, id)).await?;
    rule.enabled = e.enabled;
    save(&a, Some(id), rule).await
}

async fn duplicate(State(a): S, Path(id): Path<i64>) -> Res {
    let names: Vec<String> = blocking(&a, |a| {
        Ok(a.rules()
            .into_iter()
            .filter_map(|l| l.rule.ok().map(|r| r.name))
            .collect())
    })
    .await?;
    let mut rule = blocking(&a, move |a| stored_rule(a, id)).await?;
    let base = format!("{} (copy)", rule.name);
    let mut name = base.clone();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base} {n}");
        n += 1;
    }
    rule.name = name;
    rule.enabled = false;
    save(&a, None, rule).await
}

/// YAML → rule (the tree), canonical YAML and the never-matches analysis.
async fn parse(b: Bytes) -> Res {
    #[derive(Deserialize)]
    struct P {
        yaml: String,
    }
    let p: P = body(&b)?;
    let rule = from_yaml(&p.yaml).map_err(AlertApiError::Rule)?;
    ok(json!({
        "rule": rule,
        "yaml": to_yaml(&rule),
        "analysis": analyse(rule.when.as_ref(), rule.signal),
    }))
}

/// Rule (the tree) → canonical YAML and the analysis.
async fn render_rule(b: Bytes) -> Res {
    let rule = body::<RuleBody>(&b)?.rule()?;
    ok(json!({
        "rule": rule,
        "yaml": to_yaml(&rule),
        "analysis": analyse(rule.when.as_ref(), rule.signal),
    }))
}

/// How often the rule would have fired over `[start, end]` (default: the
/// last hour), with the matches.
async fn backtest(State(a): S, b: Bytes) -> Res {
    #[derive(Deserialize)]
    struct B {
        yaml: Option<String>,
        rule: Option<Rule>,
        start: Option<String>,
        end: Option<String>,
    }
    let p: B = body(&b)?;
    let parse_ns = |s: &Option<String>| -> Result<Option<u64>, AlertApiError> {
        s.as_deref()
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| AlertApiError::Bad(format!("{s:?} is not nanoseconds")))
            })
            .transpose()
    };
    let end = parse_ns(&p.end)?.unwrap_or_else(now_ns);
    let start = parse_ns(&p.start)?.unwrap_or(end.saturating_sub(3_600_000_000_000));
    let rule = RuleBody {
        yaml: p.yaml,
        rule: p.rule,
    }
    .rule()?;
    let v = blocking(&a, move |a| {
        let m = Matcher::new(&rule).map_err(AlertApiError::Bad)?;
        let (bt, matches) = match rule.signal {
            Signal::Spans | Signal::Traces => {
                let batches = a.reader.spans_between(start, end, 20_000)?;
                let items: Vec<_> = span_items(&batches)
                    .into_iter()
                    .filter(|s| s.end_ns.max(s.start_ns) >= start && s.start_ns <= end)
                    .collect();
                let matches = m.span_matches(&items);
                (eval::backtest_events(&rule, matches.clone(), end), matches)
            }
            Signal::Logs => {
                let rows = a.reader.logs_between(start, end, 100_000)?;
                let matches = m.log_matches(&log_items(&rows));
                (eval::backtest_events(&rule, matches.clone(), end), matches)
            }
            Signal::Metrics => {
                let Some(spec) = &rule.metric else {
                    return Err(AlertApiError::Bad("no metric".into()));
                };
                let req = a.reader.metric_points(
                    &spec.name,
                    NanoRange {
                        start: start.saturating_sub(spec.window.0),
                        end,
                    },
                )?;
                let series = eval::series_from_otlp(&req);
                let tick = (spec.window.0 / 2).clamp(1_000_000_000, 60_000_000_000);
                (
                    eval::backtest_metric(&rule, &series, start, end, tick),
                    Vec::new(),
                )
            }
        };
        let shown: Vec<Value> = matches
            .iter()
            .rev()
            .take(200)
            .map(|m| json!({ "group": m.group, "evidence": m.evidence }))
            .collect();
        Ok(json!({
            "start": start.to_string(),
            "end": end.to_string(),
            "fired": bt.fired,
            "groups": bt.groups,
            "transitions": bt.transitions,
            "matchCount": matches.len(),
            "matches": shown,
        }))
    })
    .await?;
    ok(v)
}

/// Every rule as one YAML file (no channel URLs: rules only name channels).
async fn export(State(a): S) -> Res {
    let rules: Vec<Rule> = blocking(&a, |a| {
        Ok(a.rules().into_iter().filter_map(|l| l.rule.ok()).collect())
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"loupe-rules.yaml\"",
            ),
        ],
        file_to_yaml(&rules),
    )
        .into_response())
}

/// Imports a YAML file of rules; a rule whose name exists replaces it.
async fn import(State(a): S, b: Bytes) -> Res {
    let text = String::from_utf8(b.to_vec()).map_err(|_| AlertApiError::Bad("not UTF-8".into()))?;
    let rules = file_from_yaml(&text).map_err(AlertApiError::Rules)?;
    let n = rules.len();
    blocking(&a, move |a| {
        let existing = a.db.rules()?;
        for r in rules {
            let id = existing.iter().find(|e| e.name == r.name).map(|e| e.id);
            let id =
                a.db.save_rule(id, &r.name, &to_yaml(&r), r.enabled, now_ns())?;
            a.reset(id)?;
        }
        a.reload()?;
        Ok(())
    })
    .await?;
    ok(json!({ "imported": n }))
}

async fn alerts(State(a): S) -> Res {
    let groups: Vec<Value> = a
        .groups()
        .into_iter()
        .map(|(id, name, g)| {
            let mut v = serde_json::to_value(&g).unwrap_or_default();
            v["ruleId"] = id.into();
            v["rule"] = name.into();
            v
        })
        .collect();
    let firing = groups.iter().filter(|g| g["state"] == "firing").count();
    let pending = groups.iter().filter(|g| g["state"] == "pending").count();
    ok(json!({ "firing": firing, "pending": pending, "groups": groups }))
}

fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

async fn history(State(a): S, RawQuery(raw): RawQuery) -> Res {
    let q = query_pairs(raw);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let rule = get("rule")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| AlertApiError::Bad("rule must be a number".into()))
        })
        .transpose()?;
    let limit = get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200usize)
        .min(5000);
    let rows = blocking(&a, move |a| Ok(a.db.history(rule, limit)?)).await?;
    let v: Vec<Value> = rows
        .into_iter()
        .map(|h| {
            let mut v = serde_json::to_value(&h).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.remove("body");
            }
            v["transition"] = serde_json::from_str(&h.body).unwrap_or(Value::Null);
            v
        })
        .collect();
    ok(json!({ "history": v }))
}

fn channel_view(c: &ChannelRow) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "kind": c.kind,
        "url": if c.url.is_empty() { String::new() } else { mask_url(&c.url) },
        "allowPrivate": c.allow_private,
        "template": c.template,
    })
}

async fn list_channels(State(a): S) -> Res {
    let rows = blocking(&a, |a| Ok(a.db.channels()?)).await?;
    ok(json!({ "channels": rows.iter().map(channel_view).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelBody {
    name: String,
    kind: ChannelKind,
    #[serde(default)]
    url: String,
    #[serde(default)]
    allow_private: bool,
    #[serde(default)]
    template: String,
}

fn check_channel(c: &ChannelBody, creating: bool) -> Result<(), AlertApiError> {
    if c.name.trim().is_empty() {
        return Err(AlertApiError::Bad("a channel needs a name".into()));
    }
    let unknown = loupe_alerts::template::unknown_variables(&c.template);
    if !unknown.is_empty() {
        return Err(AlertApiError::Bad(format!(
            "unknown template variables: {}",
            unknown.join(", ")
        )));
    }
    if c.kind == ChannelKind::Desktop {
        return Ok(());
    }
    if c.url.is_empty() && !creating {
        return Ok(());
    }
    let u = url::Url::parse(&c.url)
        .map_err(|_| AlertApiError::Bad("the webhook URL is not a valid URL".into()))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(AlertApiError::Bad(
            "the webhook URL must be http(s)://host/…".into(),
        ));
    }
    Ok(())
}

/// The webhook target check, at save time: a channel that delivery would
/// refuse (private or special-use without permission, Loupe's own
/// listeners always) is not stored, and the answer says why. Delivery
/// checks again on the addresses the name then resolves to. An update
/// without a URL keeps the stored one, which is checked against the new
/// `allowPrivate`.
async fn check_channel_target(
    a: &Arc<Alerting>,
    id: i64,
    c: &ChannelBody,
) -> Result<(), AlertApiError> {
    if c.kind == ChannelKind::Desktop {
        return Ok(());
    }
    let url = if c.url.is_empty() {
        let stored = blocking(a, move |a| {
            Ok(a.db.channels()?.into_iter().find(|r| r.id == id))
        })
        .await?;
        match stored {
            Some(r) if !r.url.is_empty() => r.url,
            // Unknown: the save answers 404. No URL: nothing to reach.
            _ => return Ok(()),
        }
    } else {
        c.url.clone()
    };
    check_target(&url, c.allow_private, &a.own).await?;
    Ok(())
}

async fn save_channel(a: &Arc<Alerting>, id: i64, c: ChannelBody) -> Res {
    check_channel(&c, id == 0)?;
    check_channel_target(a, id, &c).await?;
    let row = ChannelRow {
        id,
        name: c.name,
        kind: match c.kind {
            ChannelKind::Slack => "slack",
            ChannelKind::Desktop => "desktop",
            ChannelKind::Webhook => "webhook",
        }
        .into(),
        url: c.url,
        allow_private: c.allow_private,
        template: c.template,
    };
    let saved = blocking(a, move |a| {
        let id = a.db.save_channel(&row)?;
        let rows = a.db.channels()?;
        rows.into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("channel {id}")).into())
    })
    .await?;
    ok(channel_view(&saved))
}

async fn create_channel(State(a): S, b: Bytes) -> Res {
    save_channel(&a, 0, body(&b)?).await
}

async fn update_channel(State(a): S, Path(id): Path<i64>, b: Bytes) -> Res {
    save_channel(&a, id, body(&b)?).await
}

async fn delete_channel(State(a): S, Path(id): Path<i64>) -> Res {
    let found = blocking(&a, move |a| Ok(a.db.delete_channel(id)?)).await?;
    if !found {
        return Err(StoreError::NotFound(format!("channel {id}")).into());
    }
    ok(json!({ "deleted": id }))
}

async fn test_channel(State(a): S, Path(id): Path<i64>) -> Res {
    let queued = blocking(&a, move |a| {
        let row =
            a.db.channels()?
                .into_iter()
                .find(|r| r.id == id)
                .ok_or_else(|| StoreError::NotFound(format!("channel {id}")))?;
        Ok(a.send_test(&row))
    })
    .await?;
    ok(json!({ "queued": queued }))
}

async fn deliveries(State(a): S) -> Res {
    let rows = blocking(&a, |a| Ok(a.db.deliveries(200)?)).await?;
    ok(json!({ "deliveries": rows }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use loupe_store::{Store, WriterConfig};
    use tower::ServiceExt;

    async fn call(app: &Router, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Saving a channel runs the target check: 400 naming the reason,
    /// nothing stored; Loupe's own listeners are refused even with
    /// `allowPrivate`; an update without a URL checks the stored one.
    #[tokio::test]
    async fn saving_a_channel_refuses_targets_delivery_would_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
        let api: std::net::SocketAddr = "127.0.0.1:16686".parse().unwrap();
        let a = Alerting::start(
            store.alerts.clone(),
            store.reader.clone(),
            api,
            vec![api, "0.0.0.0:4318".parse().unwrap()],
            Arc::new(loupe_alerts::NoNotifier),
        )
        .unwrap();
        let app = router(a);
        let post = |name: &str, url: &str, allow: bool| json!({"name": name, "kind": "webhook", "url": url, "allowPrivate": allow});
        for (url, allow, reason) in [
            (
                "http://10.0.0.5/hook",
                false,
                "private-use (10.0.0.0/8, RFC 1918)",
            ),
            ("http://[fec0::1]/hook", false, "site-local"),
            (
                "http://198.18.0.1/hook",
                false,
                "benchmarking (198.18.0.0/15, RFC 2544)",
            ),
            (
                "http://[2002:c0a8:101::1]/hook",
                false,
                "embedding 192.168.1.1",
            ),
            ("http://localhost:9/hook", false, "loopback"),
            ("http://127.0.0.1:16686/api/v1/rules", true, "Loupe itself"),
            ("http://0.0.0.0:16686/api/v1/rules", true, "Loupe itself"),
            (
                "http://[::ffff:127.0.0.1]:4318/v1/traces",
                true,
                "Loupe itself",
            ),
            ("http://127.0.0.2:4318/v1/traces", true, "Loupe itself"),
        ] {
            let (s, v) = call(&app, "POST", "/api/v1/channels", post("x", url, allow)).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{url}: {v}");
            let text = v["error"].as_str().unwrap_or_default();
            assert!(text.contains(reason), "{url}: {v}");
            assert!(
                !text.contains("/hook") && !text.contains("/api/v1"),
                "URL leaked: {v}"
            );
        }
        let (_, v) = call(&app, "GET", "/api/v1/channels", Value::Null).await;
        assert_eq!(v["channels"], json!([]), "{v}");

        let (s, v) = call(
            &app,
            "POST",
            "/api/v1/channels",
            post("ok", "http://10.0.0.5/h", true),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let id = v["id"].as_i64().unwrap();
        // Withdrawing the permission without resending the URL checks the
        // stored URL.
        let (s, v) = call(
            &app,
            "PUT",
            &format!("/api/v1/channels/{id}"),
            json!({"name": "ok", "kind": "webhook", "allowPrivate": false}),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"].as_str().unwrap().contains("10.0.0.5"), "{v}");
    }
}
