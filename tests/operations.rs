//! Operating Loupe, against the real binary: `/health` (store and disk,
//! DOWN below the free-space threshold), `/metrics` (parsed by an
//! independent Prometheus text-format parser, counters moving as
//! telemetry arrives), ingest filters from the configuration file and the
//! settings API, the run-time log level, and `loupe config`.

mod common;
mod fixtures;

use common::{loupe_command, Loupe};
use fixtures::*;
use loupe_model::otlp::trace::Span;
use prost::Message;

/// POSTs an OTLP/HTTP protobuf request; asserts a 200.
async fn post(l: &Loupe, path: &str, msg: &impl Message) {
    let resp = reqwest::Client::new()
        .post(l.http_url(path))
        .header("content-type", "application/x-protobuf")
        .body(msg.encode_to_vec())
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 200, "{path}");
}

async fn get(l: &Loupe, path: &str) -> (u16, String) {
    let resp = reqwest::get(l.api_url(path)).await.expect("GET");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

/// A strict reading of the text format (0.0.4): every line is a HELP, a
/// TYPE, or a sample `name{label="value",…} number`; a family's TYPE comes
/// once and before its samples; names are valid. Returns the sample lines.
fn strict_check(text: &str) -> usize {
    fn valid_name(n: &str) -> bool {
        let mut c = n.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut typed = std::collections::HashMap::new();
    let mut samples = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            assert!(valid_name(name), "HELP name: {line}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap_or("");
            let kind = parts.next().unwrap_or("");
            assert!(valid_name(name), "TYPE name: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "TYPE: {line}"
            );
            assert!(
                typed.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {line}"
            );
        } else {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("sample: {line:?}"));
            assert!(
                value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
                "value: {line}"
            );
            let name = series.split('{').next().unwrap_or("");
            assert!(valid_name(name), "name: {line}");
            let family = ["_bucket", "_sum", "_count", "_total"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains_key(*f)))
                .unwrap_or(name);
            assert!(
                typed.contains_key(family) || typed.contains_key(name),
                "sample before its TYPE: {line}"
            );
            if let Some(labels) = series.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(
                        labels.starts_with('{') && labels.ends_with('}'),
                        "labels: {line}"
                    );
                }
            }
            samples += 1;
        }
    }
    samples
}

/// `/metrics`, checked strictly and parsed by `prometheus-parse`.
async fn scrape(l: &Loupe) -> prometheus_parse::Scrape {
    let resp = reqwest::get(l.api_url("/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.expect("body");
    assert!(strict_check(&text) > 10, "{text}");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses")
}

/// The value of the sample `name` whose labels include `labels`.
fn value(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .find(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .and_then(|x| match &x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(*v),
            _ => None,
        })
}

#[tokio::test]
async fn health_reports_the_store_and_goes_down_below_the_disk_threshold() {
    let l = Loupe::start();
    let (code, body) = get(&l, "/health").await;
    assert_eq!(code, 200, "{body}");
    let h: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(h["status"], "UP", "{h}");
    let store = &h["details"]["store"];
    assert_eq!(store["status"], "UP");
    assert_eq!(store["reachable"], true);
    assert!(store["fileBytes"].as_u64().expect("fileBytes") > 0);
    assert!(store["lastCommit"].is_null(), "nothing committed yet: {h}");
    assert_eq!(store["queue"]["batches"], 0);
    let disk = &h["details"]["disk"];
    assert_eq!(disk["status"], "UP");
    assert!(disk["free"].as_u64().expect("free") >= disk["threshold"].as_u64().expect("threshold"));
    assert!(disk["total"].as_u64().expect("total") >= disk["free"].as_u64().expect("free"));
    let rec = &h["details"]["receivers"];
    assert_eq!(rec["grpc"]["address"], l.grpc.to_string());
    assert_eq!(rec["http"]["address"], l.http.to_string());
    assert_eq!(rec["http"]["accepted"], 0);

    let (_, req) = trace_request("health", 3);
    post(&l, "/v1/traces", &req).await;
    let h = l.get_json("/health").await;
    assert_eq!(h["details"]["receivers"]["http"]["accepted"], 3, "{h}");
    assert_eq!(h["details"]["receivers"]["grpc"]["accepted"], 0, "{h}");
    let last: u64 = h["details"]["store"]["lastCommit"]
        .as_str()
        .expect("a commit happened")
        .parse()
        .expect("nanoseconds");
    assert!(last > 0 && last <= now_ns());

    // A threshold above the disk's free space: DOWN, 503, the store still UP.
    let full = Loupe::start_with(&["--min-free-disk", "16000000TB"]);
    let (code, body) = get(&full, "/health").await;
    assert_eq!(code, 503, "{body}");
    let h: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(h["status"], "DOWN", "{h}");
    assert_eq!(h["details"]["disk"]["status"], "DOWN", "{h}");
    assert_eq!(
        h["details"]["disk"]["threshold"],
        16_000_000_000_000_000_000u64
    );
    assert_eq!(h["details"]["store"]["status"], "UP", "{h}");
}

#[tokio::test]
async fn metrics_parse_and_move_as_telemetry_arrives() {
    let l = Loupe::start();
    let before = scrape(&l).await;
    let accepted = |s: &prometheus_parse::Scrape, signal: &str, transport: &str| {
        value(
            s,
            "loupe_ingest_items_accepted_total",
            &[("signal", signal), ("transport", transport)],
        )
        .expect("accepted counter")
    };
    assert_eq!(accepted(&before, "traces", "http"), 0.0);
    assert_eq!(value(&before, "loupe_build_info", &[]), Some(1.0));

    // 3 spans and 4 points over HTTP, 2 spans and 1 log record over gRPC.
    let (_, req) = trace_request("metrics", 3);
    post(&l, "/v1/traces", &req).await;
    post(&l, "/v1/metrics", &metrics_request("metrics", "m1", 4)).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", l.grpc))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let (tid, req) = trace_request("metrics", 2);
    TraceServiceClient::new(channel.clone())
        .export(req)
        .await
        .expect("gRPC export");
    LogsServiceClient::new(channel)
        .export(logs("metrics", vec![log_record("hello", &tid)]))
        .await
        .expect("gRPC export");
    // An undecodable HTTP request counts as refused.
    let resp = reqwest::Client::new()
        .post(l.http_url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), 400);

    let after = scrape(&l).await;
    assert_eq!(accepted(&after, "traces", "http"), 3.0);
    assert_eq!(accepted(&after, "metrics", "http"), 4.0);
    assert_eq!(accepted(&after, "traces", "grpc"), 2.0);
    assert_eq!(accepted(&after, "logs", "grpc"), 1.0);
    assert_eq!(
        value(
            &after,
            "loupe_ingest_requests_total",
            &[
                ("signal", "traces"),
                ("transport", "http"),
                ("outcome", "invalid")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &after,
            "loupe_ingest_requests_total",
            &[
                ("signal", "traces"),
                ("transport", "grpc"),
                ("outcome", "ok")
            ]
        ),
        Some(1.0)
    );
    let commits = value(&after, "loupe_store_commits_total", &[]).expect("commits");
    assert!(commits >= 1.0, "{commits}");
    assert!(value(&after, "loupe_store_database_bytes", &[]).expect("db size") > 0.0);
    assert_eq!(value(&after, "loupe_store_queue_batches", &[]), Some(0.0));
    // Histograms: the parser groups their buckets; count the commits' batches.
    let hist = |name: &str| {
        after
            .samples
            .iter()
            .find(|x| x.metric == name)
            .map(|x| match &x.value {
                prometheus_parse::Value::Histogram(b) => b.last().map_or(0.0, |b| b.count),
                _ => panic!("{name} is not a histogram"),
            })
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert!(hist("loupe_store_commit_batches") >= 1.0);
    assert_eq!(
        hist("loupe_store_queue_wait_seconds"),
        4.0,
        "four batches were queued"
    );
    assert!(
        hist("loupe_api_request_duration_seconds") >= 1.0,
        "the first scrape was measured"
    );

    // A custom prefix names every family.
    let p = Loupe::start_with(&["--metrics-prefix", "kestra_loupe_"]);
    let s = scrape(&p).await;
    assert!(s
        .samples
        .iter()
        .all(|x| x.metric.starts_with("kestra_loupe_")));
    assert!(value(&s, "kestra_loupe_store_commits_total", &[]).is_some());
}

/// Spans named `names`, one trace, each in its own instrumentation scope
/// `scope:<name>` when the name says so.
fn scoped_trace(
    service: &str,
    spans: &[(&str, &str)],
) -> ([u8; 16], loupe_model::otlp::ExportTraceServiceRequest) {
    use loupe_model::otlp::trace::{ResourceSpans, ScopeSpans};
    let tid = new_trace_id();
    let scope_spans = spans
        .iter()
        .map(|(scope, name)| ScopeSpans {
            scope: Some(loupe_model::otlp::common::InstrumentationScope {
                name: scope.to_string(),
                ..Default::default()
            }),
            spans: vec![Span {
                attributes: if name.starts_with("health") {
                    vec![string_kv("http.route", "/health")]
                } else {
                    vec![]
                },
                ..span(name, &tid, &new_span_id())
            }],
            ..Default::default()
        })
        .collect();
    (
        tid,
        loupe_model::otlp::ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource(service)),
                scope_spans,
                ..Default::default()
            }],
        },
    )
}

#[tokio::test]
async fn filters_drop_exactly_what_they_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("loupe.toml");
    std::fs::write(
        &config,
        r#"
[[filters]]
name = "executor off"
scope = "io.kestra.core.runners.Executor"

[[filters]]
attribute = { key = "http.route", value = "/health" }

[[filters]]
name = "kestra logs only"
action = "keep"
signals = ["logs"]
service = "kestra"
"#,
    )
    .expect("write config");
    let l = Loupe::start_with(&["--config", config.to_str().expect("utf-8")]);
    let (tid, req) = scoped_trace(
        "kestra",
        &[
            ("io.kestra.core.runners.Executor", "execute"),
            ("io.kestra.core.runners.Executor", "poll"),
            (
                "io.kestra.core.runners.ExecutorService",
                "kept-by-exact-scope",
            ),
            ("io.kestra.core.runners.Worker", "task"),
            ("io.kestra.webserver", "health-check"),
            ("io.kestra.webserver", "GET /api"),
        ],
    );
    post(&l, "/v1/traces", &req).await;
    let t = l
        .get_json(&format!("/api/v1/traces/{}", hex::encode(tid)))
        .await;
    assert_eq!(span_names(&t), ["GET /api", "kept-by-exact-scope", "task"]);

    post(
        &l,
        "/v1/logs",
        &logs("kestra", vec![log_record("kept", &tid)]),
    )
    .await;
    post(
        &l,
        "/v1/logs",
        &logs("other", vec![log_record("dropped", &tid)]),
    )
    .await;
    let logs = l.get_json("/api/v1/logs").await;
    assert_eq!(count_log_records(&logs), 1, "{logs}");
    assert!(logs.to_string().contains("\"kept\""), "{logs}");

    let s = scrape(&l).await;
    let filtered = |rule: &str, signal: &str| {
        value(
            &s,
            "loupe_ingest_items_filtered_total",
            &[("rule", rule), ("signal", signal)],
        )
    };
    assert_eq!(filtered("executor off", "traces"), Some(2.0));
    assert_eq!(filtered("1", "traces"), Some(1.0));
    assert_eq!(filtered("no keep rule matched", "logs"), Some(1.0));
    assert_eq!(
        value(
            &s,
            "loupe_ingest_items_accepted_total",
            &[("signal", "traces"), ("transport", "http")]
        ),
        Some(3.0),
        "filtered items are not counted as stored"
    );

    // Rules replaced at run time through the API.
    let client = reqwest::Client::new();
    let resp = client
        .put(l.api_url("/api/v1/settings/filters"))
        .json(&serde_json::json!({ "filters": [{ "span_name": "task" }] }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), 200);
    let now: serde_json::Value = l.get_json("/api/v1/settings/filters").await;
    assert_eq!(now["filters"][0]["span_name"], "task", "{now}");
    let (tid, req) = scoped_trace(
        "kestra",
        &[
            ("io.kestra.core.runners.Executor", "execute"),
            ("w", "task"),
        ],
    );
    post(&l, "/v1/traces", &req).await;
    let t = l
        .get_json(&format!("/api/v1/traces/{}", hex::encode(tid)))
        .await;
    assert_eq!(span_names(&t), ["execute"]);
    // An invalid rule set is refused and the current one stays.
    for bad in [
        serde_json::json!({ "filters": [{ "scope": "x", "colour": "red" }] }),
        serde_json::json!({ "filters": [{ "action": "drop" }] }),
    ] {
        let resp = client
            .put(l.api_url("/api/v1/settings/filters"))
            .json(&bad)
            .send()
            .await
            .expect("PUT");
        assert_eq!(resp.status(), 400);
        let e: serde_json::Value = resp.json().await.expect("json");
        assert!(e["error"].is_string(), "{e}");
    }
    let now: serde_json::Value = l.get_json("/api/v1/settings/filters").await;
    assert_eq!(now["filters"].as_array().map(|a| a.len()), Some(1));
}

#[tokio::test]
async fn log_level_changes_at_run_time() {
    let l = Loupe::start_with(&["--log", "warn"]);
    assert_eq!(
        l.get_json("/api/v1/settings/log-level").await["filter"],
        "warn"
    );
    let client = reqwest::Client::new();
    let resp = client
        .put(l.api_url("/api/v1/settings/log-level"))
        .json(&serde_json::json!({ "filter": "info,loupe_store=debug" }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        l.get_json("/api/v1/settings/log-level").await["filter"],
        "info,loupe_store=debug"
    );
    let resp = client
        .put(l.api_url("/api/v1/settings/log-level"))
        .json(&serde_json::json!({ "filter": "info,[[" }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(resp.status(), 400);
    assert_eq!(
        l.get_json("/api/v1/settings/log-level").await["filter"],
        "info,loupe_store=debug"
    );
}

#[test]
fn loupe_config_prints_values_with_their_sources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("loupe.toml");
    std::fs::write(
        &file,
        "grpc_addr = \"127.0.0.1:1111\"\nhttp_addr = \"127.0.0.1:2222\"\n[metrics]\nprefix = \"x_\"\n",
    )
    .expect("write");
    let out = loupe_command()
        .args(["config", "--config"])
        .arg(&file)
        .args(["--api-addr", "127.0.0.1:3333"])
        .env("LOUPE_HTTP_ADDR", "127.0.0.1:4444")
        .env("LOUPE_MAX_AGE", "2d")
        .output()
        .expect("run loupe config");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} in {text}"))
            .to_string()
    };
    assert!(
        line("grpc_addr").contains("\"127.0.0.1:1111\"  # file "),
        "{text}"
    );
    assert!(
        line("http_addr").contains("\"127.0.0.1:4444\"  # env LOUPE_HTTP_ADDR"),
        "{text}"
    );
    assert!(
        line("api_addr").contains("\"127.0.0.1:3333\"  # flag --api-addr"),
        "{text}"
    );
    assert!(
        line("max_age").contains("\"2d\"  # env LOUPE_MAX_AGE"),
        "{text}"
    );
    assert!(line("max_db_size").contains("# default"), "{text}");
    assert!(line("prefix").contains("\"x_\"  # file"), "{text}");

    // Unknown keys are errors that name the key; so is a bad value.
    std::fs::write(
        &file,
        "[forward]\nendpoint = \"http://x:4317\"\nretries = 3\n",
    )
    .expect("write");
    let out = loupe_command()
        .args(["config", "--config"])
        .arg(&file)
        .output()
        .expect("run loupe config");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("retries"), "{err}");
    let out = loupe_command()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .expect("run loupe serve");
    assert_eq!(out.status.code(), Some(2));
    let out = loupe_command()
        .args(["config"])
        .env("LOUPE_MAX_DB_SIZE", "lots")
        .output()
        .expect("run loupe config");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("LOUPE_MAX_DB_SIZE"), "{err}");
}

#[tokio::test]
async fn received_metrics_are_exposed_for_prometheus() {
    use loupe_model::otlp::metrics::{
        metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric,
        NumberDataPoint, Sum,
    };
    let off = Loupe::start();
    assert_eq!(get(&off, "/metrics/received").await.0, 404, "opt-in");

    let l = Loupe::start_with(&["--received-metrics"]);
    // A gauge "m1" (unit 1) whose last point is 3.5, from the fixtures.
    post(&l, "/v1/metrics", &metrics_request("kestra", "m1", 4)).await;
    let now = now_ns();
    let mut req = metrics_request("kestra", "unused", 1);
    let sm = &mut req.resource_metrics[0].scope_metrics[0];
    sm.metrics = vec![
        Metric {
            name: "kestra.executions.started".into(),
            unit: "{execution}".into(),
            description: "Executions started.".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    attributes: vec![string_kv("flow", "hello-world")],
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsInt(7)),
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        },
        Metric {
            name: "http.server.request.duration".into(),
            unit: "s".into(),
            description: "Request durations.".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: vec![string_kv("http.route", "/api/v1/flows")],
                    time_unix_nano: now,
                    count: 6,
                    sum: Some(1.5),
                    explicit_bounds: vec![0.1, 1.0],
                    bucket_counts: vec![2, 3, 1],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        },
    ];
    req.resource_metrics[0]
        .resource
        .as_mut()
        .expect("resource")
        .attributes
        .push(string_kv("service.instance.id", "node-1"));
    post(&l, "/v1/metrics", &req).await;

    let (code, text) = get(&l, "/metrics/received").await;
    assert_eq!(code, 200, "{text}");
    strict_check(&text);
    let s =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    assert_eq!(
        value(
            &s,
            "m1_ratio",
            &[
                ("job", "kestra"),
                ("host", "a"),
                ("otel_scope_name", "loupe-tests")
            ]
        ),
        Some(3.5),
        "{text}"
    );
    assert_eq!(
        value(
            &s,
            "kestra_executions_started_total",
            &[
                ("job", "kestra"),
                ("instance", "node-1"),
                ("flow", "hello-world")
            ]
        ),
        Some(7.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE kestra_executions_started_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE http_server_request_duration_seconds histogram"),
        "{text}"
    );
    for line in [
        "http_server_request_duration_seconds_bucket{http_route=\"/api/v1/flows\",instance=\"node-1\",job=\"kestra\",otel_scope_name=\"loupe-tests\",le=\"0.1\"} 2",
        "http_server_request_duration_seconds_bucket{http_route=\"/api/v1/flows\",instance=\"node-1\",job=\"kestra\",otel_scope_name=\"loupe-tests\",le=\"1\"} 5",
        "http_server_request_duration_seconds_bucket{http_route=\"/api/v1/flows\",instance=\"node-1\",job=\"kestra\",otel_scope_name=\"loupe-tests\",le=\"+Inf\"} 6",
        "http_server_request_duration_seconds_sum{http_route=\"/api/v1/flows\",instance=\"node-1\",job=\"kestra\",otel_scope_name=\"loupe-tests\"} 1.5",
        "http_server_request_duration_seconds_count{http_route=\"/api/v1/flows\",instance=\"node-1\",job=\"kestra\",otel_scope_name=\"loupe-tests\"} 6",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
    }
}

#[tokio::test]
async fn retention_deletions_are_counted() {
    let l = Loupe::start_with(&["--max-age", "2s"]);
    // A trace from an hour ago by its own timestamps. Retention goes by
    // arrival: it is deleted once it has been stored longer than --max-age.
    let (tid, mut req) = trace_request("old", 2);
    let hour = 3_600_000_000_000;
    for s in req.resource_spans[0].scope_spans[0].spans.iter_mut() {
        s.start_time_unix_nano -= hour;
        s.end_time_unix_nano -= hour;
    }
    post(&l, "/v1/traces", &req).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = scrape(&l).await;
        let deleted = value(&s, "loupe_store_retention_deleted_rows_total", &[]).expect("counter");
        if deleted >= 1.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "retention never counted a deletion"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (code, _) = get(&l, &format!("/api/v1/traces/{}", hex::encode(tid))).await;
    assert_eq!(code, 404, "the old trace is gone");
}
