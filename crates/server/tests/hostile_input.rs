//! Hostile input through the real API router (the routes `serve` mounts:
//! the query API, export and import, alerting), with a store in a temporary
//! directory: deep nesting in every expression, log searches the full-text
//! engine cannot run, oversized rule text and oversized imports. Each must
//! be a 4xx that names the limit, and the next request must still answer.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use loupe_store::{Store, WriterConfig};
use tower::ServiceExt;

struct App {
    router: Router,
    _store: Store,
    _dir: tempfile::TempDir,
}

fn app() -> App {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), WriterConfig::default()).expect("store");
    let addr: std::net::SocketAddr = "127.0.0.1:16686".parse().expect("addr");
    let state = loupe_server::AppState::standalone(store.clone(), addr).expect("state");
    let router = axum::Router::new()
        .nest("/api/v1", loupe_server::api_routes())
        .with_state(state);
    App {
        router,
        _store: store,
        _dir: dir,
    }
}

async fn call(app: &App, method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("x-loupe-request", "1")
        .body(Body::from(body))
        .expect("request");
    let resp = app.router.clone().oneshot(req).await.expect("answer");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn get(app: &App, uri: &str) -> (StatusCode, String) {
    call(app, Method::GET, uri, Vec::new()).await
}

/// `application/x-www-form-urlencoded` for a query value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            // Parentheses are allowed as they are in a query string (and
            // keep 10,000 levels within the 64 KiB a URI may have).
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'(' | b')' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Expressions that used to overflow the parser's stack.
fn deep_expressions() -> Vec<(&'static str, String)> {
    vec![
        (
            "10,000 parentheses",
            format!("{}a=1{}", "(".repeat(10_000), ")".repeat(10_000)),
        ),
        ("10,000 NOTs", format!("{}a", "NOT ".repeat(10_000))),
        ("10,000 NOT (", format!("{}a", "NOT (".repeat(10_000))),
        (
            "65 parentheses (within the length limit)",
            format!("{}a{}", "(".repeat(65), ")".repeat(65)),
        ),
        (
            "65 NOTs (within the length limit)",
            format!("{}a", "not ".repeat(65)),
        ),
    ]
}

/// Every endpoint that takes an expression answers deep nesting with a 400
/// naming the limit, and the process keeps answering.
#[tokio::test]
async fn stack_overflow_in_q_is_a_400_on_every_endpoint() {
    let app = app();
    for (what, q) in deep_expressions() {
        for path in ["/api/v1/traces", "/api/v1/export", "/api/v1/export/preview"] {
            let (status, body) = get(&app, &format!("{path}?q={}", enc(&q))).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{path} with {what}: {body}"
            );
            let v: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
            assert_eq!(v["param"], "q", "{path} with {what}: {body}");
            let msg = v["error"].as_str().unwrap_or_default();
            assert!(
                msg.contains("limit of 64 levels") || msg.contains("limit of 4096 bytes"),
                "{path} with {what}: {msg}"
            );
        }
        // The log search takes words, not an expression: deep "nesting" is
        // text, bounded by length, and must never be a 500.
        let (status, body) = get(&app, &format!("/api/v1/logs?q={}", enc(&q))).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "/api/v1/logs with {what}: {status} {body}"
        );
    }
    // 10,000 repeated `q`s used to nest 10,000 ANDs.
    let many = "q=a&".repeat(10_000);
    let (status, body) = get(&app, &format!("/api/v1/traces?{many}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("limit of 4096 bytes"), "{body}");
    let (status, body) = get(&app, "/api/v1/traces?q=a%3D1").await;
    assert_eq!(status, StatusCode::OK, "still answering: {body}");
}

/// Rules (the alerting condition tree) take the same kind of nesting from
/// YAML and JSON: a 400 naming the limit on save, parse, render, backtest
/// and import; the rules list still answers.
#[tokio::test]
async fn deep_rule_conditions_are_a_400() {
    let app = app();
    let pred = "{field: a, op: exists}";
    let yaml_not = |n: usize| {
        format!(
            "name: deep\nsignal: spans\nwhen: {}{pred}{}\n",
            "{not: ".repeat(n),
            "}".repeat(n)
        )
    };
    let yaml_all = |n: usize| {
        format!(
            "name: deep\nsignal: spans\nwhen: {}{pred}{}\n",
            "{all: [".repeat(n),
            "]}".repeat(n)
        )
    };
    let json_not = |n: usize| {
        format!(
            r#"{{"rule": {{"name": "deep", "signal": "spans", "when": {}{{"field": "a", "op": "exists"}}{}}}}}"#,
            r#"{"not": "#.repeat(n),
            "}".repeat(n)
        )
    };
    for n in [33, 100, 10_000] {
        for yaml in [yaml_not(n), yaml_all(n)] {
            let body = serde_json::to_vec(&serde_json::json!({ "yaml": yaml })).expect("json");
            for path in [
                "/api/v1/rules",
                "/api/v1/rules/parse",
                "/api/v1/rules/render",
                "/api/v1/rules/backtest",
            ] {
                let (status, text) = call(&app, Method::POST, path, body.clone()).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path} depth {n}: {text}");
                assert!(
                    text.contains("limit of 32 levels") || text.contains("recursion limit"),
                    "{path} depth {n}: {text}"
                );
            }
            let (status, text) = call(
                &app,
                Method::POST,
                "/api/v1/rules/import",
                yaml.into_bytes(),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "import depth {n}: {text}");
        }
        let (status, text) = call(
            &app,
            Method::POST,
            "/api/v1/rules/render",
            json_not(n).into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "JSON depth {n}: {text}");
    }
    let ok = serde_json::to_vec(&serde_json::json!({ "yaml": yaml_not(31) })).expect("json");
    let (status, text) = call(&app, Method::POST, "/api/v1/rules/parse", ok).await;
    assert_eq!(status, StatusCode::OK, "32 levels are allowed: {text}");
    let (status, _) = get(&app, "/api/v1/rules").await;
    assert_eq!(status, StatusCode::OK);
}

/// A log search with a NUL byte, or text FTS5 cannot parse, was a 500.
#[tokio::test]
async fn nul_in_log_search_is_a_400_not_a_500() {
    let app = app();
    for q in ["pay%00ment", "%00", "a%00*", "%22%00%22"] {
        let (status, body) = get(&app, &format!("/api/v1/logs?q={q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "q={q}: {body}");
        assert!(body.contains("bad query"), "{body}");
    }
    // Operators and quotes typed by the user are words, not syntax.
    for q in [
        "NEAR(a b)",
        "a OR b",
        "\"",
        "*",
        "a:b",
        "^x",
        "-x",
        "(((",
        "a\"*",
    ] {
        let (status, body) = get(&app, &format!("/api/v1/logs?q={}", enc(q))).await;
        assert_eq!(status, StatusCode::OK, "q={q}: {body}");
    }
}

/// The body limit layer's refusal is JSON naming the limit, like the
/// importer's own size errors.
#[tokio::test]
async fn oversized_import_is_a_json_413() {
    let app = app();
    let limit = loupe_export::import::MAX_FILE_BYTES;
    let big = vec![b' '; limit + 1];
    let (status, body) = call(&app, Method::POST, "/api/v1/imports?name=big.jsonl", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON, not plain text");
    assert_eq!(v["limit"], limit);
    assert!(
        v["error"].as_str().unwrap_or_default().contains("256 MiB"),
        "{body}"
    );

    // A gzip bomb: small upload, inflates past the limit.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..=(limit >> 20) {
        std::io::Write::write_all(&mut gz, &zeros).expect("gzip");
    }
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let (status, body) = call(&app, Method::POST, "/api/v1/imports?name=bomb.gz", bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("inflates"), "{body}");

    // More units than the limit: a million and one empty protobuf entries.
    let units = [0x0a, 0x00].repeat(loupe_export::import::MAX_UNITS + 1);
    let (status, body) = call(&app, Method::POST, "/api/v1/imports?name=x.pb", units).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body.contains("units"), "{body}");

    let (status, _) = get(&app, "/api/v1/imports").await;
    assert_eq!(status, StatusCode::OK);
}
