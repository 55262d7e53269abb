//! The threat model's defences (SECURITY.md) against the real binary over
//! real sockets: the one cross-site write guard on every route of the route
//! table, the `Host` check on every HTTP listener, and remote mode's access
//! token and OTLP API key. The browser side (a page on another origin
//! trying all of it in Chromium) is `tests/browser_security.rs`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::Value;

/// A concrete URL path for a route pattern (`{id}` → `1`).
fn concrete(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in pattern.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push('1');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// What a page on another site can send without a preflight, and a few
/// non-simple requests that still must not pass.
fn hostile_requests() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![
            ("origin", "http://evil.example"),
            ("content-type", "text/plain"),
        ],
        vec![
            ("origin", "http://127.0.0.1:1"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        vec![
            ("origin", "null"),
            ("content-type", "multipart/form-data; boundary=x"),
        ],
        vec![("content-type", "text/plain")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("content-type", "text/plain"),
        ],
        vec![
            ("origin", "http://localhost:1"),
            ("content-type", "application/json"),
        ],
        vec![("sec-fetch-site", "same-site"), ("x-loupe-request", "1")],
    ]
}

const CHANNEL: &str =
    r#"{"name":"exfil","kind":"webhook","url":"http://203.0.113.9/x","allowPrivate":true}"#;

#[test]
fn the_route_walk_finds_the_write_routes() {
    let routes = common::api_routes();
    let writes: Vec<_> = routes.iter().filter(|(_, m)| !m.is_empty()).collect();
    // The table as of this test's writing; more is fine, fewer means the
    // walk stopped seeing routes.
    assert!(writes.len() >= 12, "{writes:?}");
    for expected in [
        "/channels",
        "/rules",
        "/rules/import",
        "/imports",
        "/settings/filters",
        "/dashboard",
    ] {
        assert!(
            writes.iter().any(|(p, _)| p == expected),
            "{expected} not found in {writes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_refuses_cross_site_writes_and_nothing_changes() {
    let l = common::Loupe::start();
    let c = reqwest::Client::new();
    let before = state(&l).await;
    let mut tried = 0;
    for (pattern, _) in common::api_routes() {
        let path = concrete(&pattern);
        for prefix in ["", "/api/v1"] {
            for method in ["POST", "PUT", "DELETE", "PATCH"] {
                for headers in hostile_requests() {
                    let mut req = c
                        .request(
                            method.parse().expect("method"),
                            l.api_url(&format!("{prefix}{path}")),
                        )
                        .body(CHANNEL);
                    for (k, v) in &headers {
                        req = req.header(*k, *v);
                    }
                    let resp = req.send().await.expect("send");
                    assert_eq!(
                        resp.status(),
                        403,
                        "{method} {prefix}{path} with {headers:?} was not refused"
                    );
                    tried += 1;
                }
            }
        }
    }
    assert!(tried > 500, "{tried}");
    assert_eq!(state(&l).await, before, "a refused write changed state");
    // Loupe's own UI and programs still write.
    let resp = c
        .post(l.api_url("/api/v1/channels"))
        .header("origin", format!("http://{}", l.api))
        .header("content-type", "application/json")
        .body(r#"{"name":"ok","kind":"webhook","url":"http://203.0.113.9/x"}"#)
        .send()
        .await
        .expect("send");
    assert_ne!(
        resp.status(),
        403,
        "{}",
        resp.text().await.unwrap_or_default()
    );
}

/// What a cross-site write could change, read back.
async fn state(l: &common::Loupe) -> Value {
    let mut v = serde_json::Map::new();
    for p in [
        "/api/v1/rules",
        "/api/v1/channels",
        "/api/v1/imports",
        "/api/v1/settings/filters",
        "/api/v1/settings/log-level",
        "/api/v1/dashboard",
        "/api/v1/services",
    ] {
        v.insert(p.into(), l.get_json(p).await);
    }
    Value::Object(v)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_preflight_of_a_foreign_origin_is_never_granted() {
    let l = common::Loupe::start();
    let resp = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, l.api_url("/api/v1/channels"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-loupe-request",
        )
        .send()
        .await
        .expect("send");
    for h in resp.headers().keys() {
        assert!(!h.as_str().starts_with("access-control-"), "{h}");
    }
    // And a plain read carries no CORS header either: another origin cannot read it.
    let resp = reqwest::Client::new()
        .get(l.api_url("/api/v1/services"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("send");
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_http_listener_checks_host() {
    let l = common::Loupe::start();
    let c = reqwest::Client::new();
    for url in [
        l.api_url("/api/v1/services"),
        l.api_url("/health"),
        l.http_url("/v1/traces"),
    ] {
        let resp = c
            .post(&url)
            .header("host", "rebind.attacker.example")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 403, "{url}");
    }
    // A loopback name passes.
    let resp = c
        .post(l.http_url("/v1/traces"))
        .header("host", format!("localhost:{}", l.http.port()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
}

/// `loupe serve` in remote mode on all interfaces, and what it printed.
fn start_remote(extra: &[&str]) -> (std::process::Child, Vec<String>, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("tempdir");
    let mut cmd = common::loupe_command();
    cmd.env("XDG_CONFIG_HOME", data.path().join("config"))
        .args(["serve", "--data-dir"])
        .arg(data.path().join("data"))
        .args([
            "--allow-remote",
            "--grpc-addr",
            "0.0.0.0:0",
            "--http-addr",
            "0.0.0.0:0",
            "--api-addr",
            "0.0.0.0:0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen
        .iter()
        .any(|l: &String| l.starts_with("loupe: data in"))
    {
        assert!(Instant::now() < deadline, "did not start: {seen:?}");
        match lines.next() {
            Some(Ok(l)) => seen.push(l),
            _ => panic!("exited: {seen:?}"),
        }
    }
    // The login line follows the data line when there is one.
    if extra.is_empty() {
        if let Some(Ok(l)) = lines.next() {
            seen.push(l);
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, seen, data)
}

fn addr_of(lines: &[String], prefix: &str) -> u16 {
    let l = lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("{prefix} in {lines:?}"));
    l.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_mode_needs_the_token_and_the_otlp_key() {
    let (mut child, lines, dir) = start_remote(&[]);
    let api = addr_of(&lines, "loupe: API and UI on");
    let http = addr_of(&lines, "loupe: OTLP/HTTP on");
    let login = lines
        .iter()
        .find_map(|l| l.strip_prefix("loupe: the API and UI need a token: log in at "))
        .unwrap_or_else(|| panic!("no login URL in {lines:?}"))
        .to_string();
    let key = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix(
                "loupe: OTLP exports need the API key: OTEL_EXPORTER_OTLP_HEADERS=x-otlp-api-key=",
            )
        })
        .unwrap_or_else(|| panic!("no OTLP key in {lines:?}"))
        .to_string();
    let token = login.rsplit('=').next().expect("token").to_string();
    // The secrets are kept in 0600 files in the configuration directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["api-token", "otlp-api-key"] {
            let p = dir.path().join("config/loupe").join(name);
            let mode = std::fs::metadata(&p)
                .expect("secret file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("config/loupe/api-token"))
                .expect("token")
                .trim(),
            token
        );
    }
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let url = |p: &str| format!("http://127.0.0.1:{api}{p}");
    // No token: nothing, not even the UI.
    for p in [
        "/api/v1/services",
        "/",
        "/health",
        "/api/v1/export?format=jsonl&redact=false",
    ] {
        assert_eq!(
            c.get(url(p)).send().await.expect("send").status(),
            401,
            "{p}"
        );
    }
    let wrong = c
        .get(url("/api/v1/services"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), 401);
    // Bearer for programs.
    let ok = c
        .get(url("/api/v1/services"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    // The login URL sets an HttpOnly, SameSite=Strict cookie that then works.
    let resp = c.get(&login).send().await.expect("login");
    assert_eq!(resp.status(), 303);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_string();
    let ok = c
        .get(url("/api/v1/services"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("send");
    assert_eq!(ok.status(), 200);
    // A rebinding name is refused even with the token; an IP literal is fine.
    let rebinding = c
        .get(url("/api/v1/services"))
        .bearer_auth(&token)
        .header("host", format!("rebind.attacker.example:{api}"))
        .send()
        .await
        .expect("send");
    assert_eq!(rebinding.status(), 403);
    // OTLP needs the key.
    let otlp = |k: Option<&str>| {
        let mut r = c
            .post(format!("http://127.0.0.1:{http}/v1/traces"))
            .header("content-type", "application/json")
            .body("{}");
        if let Some(k) = k {
            r = r.header("x-otlp-api-key", k);
        }
        r.send()
    };
    assert_eq!(otlp(None).await.expect("send").status(), 401);
    assert_eq!(otlp(Some("wrong")).await.expect("send").status(), 401);
    assert_eq!(otlp(Some(&key)).await.expect("send").status(), 200);
    // The terminal commands and `loupe mcp` send the token from the file
    // (same configuration directory): "no match" (1), not an error (2).
    let out = common::loupe_command()
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .args(["traces", "--service", "nobody", "--api", &url("")])
        .output()
        .expect("loupe traces");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::loupe_command()
        .env("XDG_CONFIG_HOME", dir.path().join("elsewhere"))
        .args(["traces", "--api", &url("")])
        .output()
        .expect("loupe traces");
    assert_eq!(out.status.code(), Some(2), "without the token");
    // `loupe import --to` too.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let bundle = dir.path().join("bundle.json");
    std::fs::write(
        &bundle,
        format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"imported","startTimeUnixNano":"{now}","endTimeUnixNano":"{}"}}]}}]}}]}}"#,
            now + 1000
        ),
    )
    .expect("write bundle");
    let out = common::loupe_command()
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .args(["import", "--to", &url("")])
        .arg(&bundle)
        .output()
        .expect("loupe import --to");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And over gRPC, as metadata.
    let grpc = addr_of(&lines, "loupe: OTLP/gRPC on");
    let ch = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut client = TraceServiceClient::new(ch);
    let refused = client
        .export(ExportTraceServiceRequest::default())
        .await
        .expect_err("no key");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    let mut req = tonic::Request::new(ExportTraceServiceRequest::default());
    req.metadata_mut()
        .insert("x-otlp-api-key", key.parse().expect("metadata"));
    client.export(req).await.expect("with the key");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn turning_auth_off_warns_at_every_start() {
    let (mut child, lines, _dir) = start_remote(&["--no-api-auth", "--no-otlp-auth"]);
    assert!(!lines.iter().any(|l| l.contains("log in at")), "{lines:?}");
    let _ = child.kill();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .ok();
    let _ = child.wait();
    assert!(err.contains("WARNING: auth.api = false"), "{err}");
    assert!(err.contains("WARNING: auth.otlp = false"), "{err}");
}
