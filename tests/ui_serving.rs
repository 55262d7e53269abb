//! The API address serves the web UI and guards both: the page comes with
//! a strict CSP, client routes fall back to the page, requests addressed to
//! other host names (DNS rebinding) are refused, and the API grants no CORS.

mod common;

use common::Loupe;

async fn get(l: &Loupe, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(l.api_url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("GET")
}

#[tokio::test]
async fn the_page_is_served_with_a_strict_csp() {
    let l = Loupe::start();
    for path in ["/", "/trace/5b8efff798038103d269b633813fc60c"] {
        let resp = get(&l, path, &[]).await;
        assert_eq!(resp.status(), 200, "{path}");
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let body = resp.text().await.unwrap();
        assert!(body.contains("<title>Loupe"), "{path}: {body}");
    }
    let resp = get(&l, "/assets/does-not-exist.js", &[]).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn other_host_names_are_refused() {
    let l = Loupe::start();
    for host in [
        "evil.example",
        "evil.example:16686",
        "127.0.0.1.evil.example",
    ] {
        let resp = get(&l, "/api/v1/services", &[("host", host)]).await;
        assert_eq!(resp.status(), 403, "{host}");
        let resp = get(&l, "/", &[("host", host)]).await;
        assert_eq!(resp.status(), 403, "{host}");
    }
    for host in ["localhost:16686", "127.0.0.1", "[::1]:80"] {
        let resp = get(&l, "/api/v1/services", &[("host", host)]).await;
        assert_eq!(resp.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn the_api_grants_no_cross_origin_access() {
    let l = Loupe::start();
    let resp = get(
        &l,
        "/api/v1/services",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, l.api_url("/api/v1/traces"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn q_errors_name_the_parameter_and_position() {
    let l = Loupe::start();
    let resp = get(
        &l,
        "/api/v1/traces?q=kestra.flowId%20%3D%20cleanup%20AND",
        &[],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["param"], "q");
    assert_eq!(
        body["position"], 27,
        "the end of `kestra.flowId = cleanup AND`"
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("expected a condition"),
        "{body}"
    );
}
