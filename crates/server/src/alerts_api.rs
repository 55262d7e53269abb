//! `/api/v1/rules`, `/alerts`, `/channels`, `/deliveries`: alerting's part of
//! the API (documented in `docs/api.md`), over `loupe_alerting`'s service.
//! Rule text is parsed and rendered with the same code `loupe rules check`
//! uses, so the editor's YAML and tree never disagree. Webhook URLs are
//! answered only masked.

use std::sync::Arc;

use crate::api::{pairs, ApiError, ErrorDetail};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use loupe_alerting::service::{self, ChannelInput};
use loupe_alerting::{Alerting, AlertingError};
use loupe_alerts::{from_yaml, Rule};
use serde::{Deserialize, Serialize};

/// An alerting error as the API's one error body; `errors` holds the
/// line-numbered rule errors the editor shows beside its lines.
impl From<AlertingError> for ApiError {
    fn from(e: AlertingError) -> Self {
        let details: Vec<ErrorDetail> = e.rule_errors().iter().map(ErrorDetail::from).collect();
        let base = match e {
            AlertingError::Rule(_)
            | AlertingError::Rules(_)
            | AlertingError::Bad(_)
            | AlertingError::Target(_) => ApiError::bad_request(e.to_string()),
            AlertingError::NotFound(_) => ApiError::not_found(e.to_string()),
            AlertingError::Store(e) => ApiError::from(e),
            AlertingError::Interrupted => ApiError::interrupted(),
        };
        base.with_errors(details)
    }
}

type Res<T> = Result<Json<T>, ApiError>;
type S = State<Arc<Alerting>>;

/// Runs a store-bound service call on a blocking thread.
async fn blocking<T: Send + 'static>(
    a: &Arc<Alerting>,
    f: impl FnOnce(&Alerting) -> Result<T, AlertingError> + Send + 'static,
) -> Result<T, ApiError> {
    let a = a.clone();
    Ok(tokio::task::spawn_blocking(move || f(&a))
        .await
        .map_err(|_| AlertingError::Interrupted)??)
}

fn body<T: serde::de::DeserializeOwned>(b: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(b).map_err(|e| AlertingError::Bad(format!("bad JSON body: {e}")).into())
}

/// Alerting's routes, relative to `/api/v1`.
pub(crate) fn routes() -> Router<crate::AppState> {
    Router::new()
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
}

#[derive(Serialize, ts_rs::TS)]
pub struct RuleList {
    rules: Vec<service::RuleView>,
}

async fn list_rules(State(a): S) -> Res<RuleList> {
    let rules = blocking(&a, |a| Ok(a.list_rules())).await?;
    Ok(Json(RuleList { rules }))
}

/// A rule as YAML or as the tree.
#[derive(Deserialize)]
struct RuleBody {
    yaml: Option<String>,
    rule: Option<Rule>,
}

impl RuleBody {
    fn rule(self) -> Result<Rule, AlertingError> {
        match (self.yaml, self.rule) {
            (Some(y), _) => from_yaml(&y).map_err(AlertingError::Rule),
            (None, Some(r)) => {
                r.validate().map_err(AlertingError::Rule)?;
                Ok(r)
            }
            (None, None) => Err(AlertingError::Bad("send `yaml` or `rule`".into())),
        }
    }
}

async fn save(a: &Arc<Alerting>, id: Option<i64>, b: &Bytes) -> Res<service::RuleView> {
    let rule = body::<RuleBody>(b)?.rule()?;
    Ok(Json(blocking(a, move |a| a.save_rule(id, &rule)).await?))
}

async fn create_rule(State(a): S, b: Bytes) -> Res<service::RuleView> {
    save(&a, None, &b).await
}

async fn update_rule(State(a): S, Path(id): Path<i64>, b: Bytes) -> Res<service::RuleView> {
    save(&a, Some(id), &b).await
}

#[derive(Serialize, ts_rs::TS)]
pub struct DeletedId {
    deleted: i64,
}

async fn delete_rule(State(a): S, Path(id): Path<i64>) -> Res<DeletedId> {
    blocking(&a, move |a| a.delete_rule(id)).await?;
    Ok(Json(DeletedId { deleted: id }))
}

async fn set_enabled(State(a): S, Path(id): Path<i64>, b: Bytes) -> Res<service::RuleView> {
    #[derive(Deserialize)]
    struct E {
        enabled: bool,
    }
    let e: E = body(&b)?;
    Ok(Json(
        blocking(&a, move |a| a.set_enabled(id, e.enabled)).await?,
    ))
}

async fn duplicate(State(a): S, Path(id): Path<i64>) -> Res<service::RuleView> {
    Ok(Json(blocking(&a, move |a| a.duplicate_rule(id)).await?))
}

/// YAML → rule (the tree), canonical YAML and the never-matches analysis.
async fn parse(b: Bytes) -> Res<service::Rendered> {
    #[derive(Deserialize)]
    struct P {
        yaml: String,
    }
    let p: P = body(&b)?;
    Ok(Json(service::parse(&p.yaml)?))
}

/// Rule (the tree) → canonical YAML and the analysis.
async fn render_rule(b: Bytes) -> Res<service::Rendered> {
    Ok(Json(service::render(body::<RuleBody>(&b)?.rule()?)))
}

/// How often the rule would have fired over `[start, end]` (default: the
/// last hour), with the matches.
async fn backtest(State(a): S, b: Bytes) -> Res<service::BacktestReport> {
    #[derive(Deserialize)]
    struct B {
        yaml: Option<String>,
        rule: Option<Rule>,
        start: Option<String>,
        end: Option<String>,
    }
    let p: B = body(&b)?;
    let ns = |s: &Option<String>| -> Result<Option<u64>, AlertingError> {
        s.as_deref()
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| AlertingError::Bad(format!("{s:?} is not nanoseconds")))
            })
            .transpose()
    };
    let (start, end) = (ns(&p.start)?, ns(&p.end)?);
    let rule = RuleBody {
        yaml: p.yaml,
        rule: p.rule,
    }
    .rule()?;
    Ok(Json(
        blocking(&a, move |a| a.backtest(&rule, start, end)).await?,
    ))
}

/// Every rule as one YAML file (no channel URLs: rules only name channels).
async fn export(State(a): S) -> Result<Response, ApiError> {
    let text = blocking(&a, |a| Ok(a.export_rules())).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"loupe-rules.yaml\"",
            ),
        ],
        text,
    )
        .into_response())
}

#[derive(Serialize, ts_rs::TS)]
pub struct Imported {
    imported: usize,
}

/// Imports a YAML file of rules; a rule whose name exists replaces it.
async fn import(State(a): S, b: Bytes) -> Res<Imported> {
    let text = String::from_utf8(b.to_vec()).map_err(|_| AlertingError::Bad("not UTF-8".into()))?;
    let imported = blocking(&a, move |a| a.import_rules(&text)).await?;
    Ok(Json(Imported { imported }))
}

async fn alerts(State(a): S) -> Res<service::AlertsSummary> {
    Ok(Json(blocking(&a, |a| Ok(a.alerts())).await?))
}

#[derive(Serialize, ts_rs::TS)]
pub struct History {
    history: Vec<service::HistoryEntry>,
}

/// Most history entries answered at once.
const HISTORY_MAX: usize = 5000;

async fn history(State(a): S, RawQuery(raw): RawQuery) -> Res<History> {
    let q = pairs(raw);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let rule = get("rule")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| AlertingError::Bad("rule must be a number".into()))
        })
        .transpose()?;
    let limit = get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200usize)
        .min(HISTORY_MAX);
    let history = blocking(&a, move |a| a.history(rule, limit)).await?;
    Ok(Json(History { history }))
}

#[derive(Serialize, ts_rs::TS)]
pub struct Channels {
    channels: Vec<service::ChannelView>,
}

async fn list_channels(State(a): S) -> Res<Channels> {
    let channels = blocking(&a, |a| a.channels()).await?;
    Ok(Json(Channels { channels }))
}

async fn save_channel(a: &Arc<Alerting>, id: i64, b: &Bytes) -> Res<service::ChannelView> {
    let c: ChannelInput = body(b)?;
    service::check_channel_target(a, id, &c).await?;
    Ok(Json(blocking(a, move |a| a.save_channel(id, c)).await?))
}

async fn create_channel(State(a): S, b: Bytes) -> Res<service::ChannelView> {
    save_channel(&a, 0, &b).await
}

async fn update_channel(State(a): S, Path(id): Path<i64>, b: Bytes) -> Res<service::ChannelView> {
    save_channel(&a, id, &b).await
}

async fn delete_channel(State(a): S, Path(id): Path<i64>) -> Res<DeletedId> {
    blocking(&a, move |a| a.delete_channel(id)).await?;
    Ok(Json(DeletedId { deleted: id }))
}

#[derive(Serialize, ts_rs::TS)]
pub struct Queued {
    queued: bool,
}

async fn test_channel(State(a): S, Path(id): Path<i64>) -> Res<Queued> {
    let queued = blocking(&a, move |a| a.test_channel(id)).await?;
    Ok(Json(Queued { queued }))
}

#[derive(Serialize, ts_rs::TS)]
pub struct Deliveries {
    deliveries: Vec<loupe_store::alerts::DeliveryRow>,
}

async fn deliveries(State(a): S) -> Res<Deliveries> {
    let deliveries = blocking(&a, |a| a.deliveries()).await?;
    Ok(Json(Deliveries { deliveries }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::http::StatusCode;
    use http_body_util::BodyExt;
    use loupe_store::{Store, WriterConfig};
    use serde_json::{json, Value};
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
        let state = crate::AppState::standalone(store, api).unwrap();
        let app = crate::test_router(crate::AppState {
            alerting: a,
            ..state
        });
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

    /// History's parameters are percent-decoded like every route's
    /// (`api::pairs`), and a bad one gets the API's one error body.
    #[tokio::test]
    async fn history_parameters_are_decoded_and_refused_with_the_one_error_body() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), WriterConfig::default()).unwrap();
        let api: std::net::SocketAddr = "127.0.0.1:16686".parse().unwrap();
        let app = crate::test_router(crate::AppState::standalone(store, api).unwrap());
        let (s, v) = call(&app, "GET", "/api/v1/alerts/history?rule=x", Value::Null).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error"], "rule must be a number", "{v}");
        let (s, v) = call(&app, "GET", "/api/v1/alerts/history?rule=%31", Value::Null).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["history"], json!([]), "{v}");
    }
}
