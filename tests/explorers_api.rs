//! The metric and log explorers' API on the real binary: the catalogue
//! filtered by name and service, a chart split by an attribute (SVG, plot
//! area, axis ranges, lines and exemplars), a histogram's percentiles and
//! distribution, bad chart parameters, and full-text log search.

mod common;

use common::Loupe;
use serde_json::{json, Value};

const S: u64 = 1_000_000_000;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn attr(k: &str, v: &str) -> Value {
    json!({"key": k, "value": {"stringValue": v}})
}

async fn post(l: &Loupe, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(l.http_url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

fn resource(service: &str, metrics: Value) -> Value {
    json!({"resourceMetrics": [{
        "resource": {"attributes": [attr("service.name", service)]},
        "scopeMetrics": [{"scope": {"name": "io.kestra"}, "metrics": metrics}]
    }]})
}

#[tokio::test]
async fn metric_catalogue_chart_and_log_search() {
    let l = Loupe::start();
    let t0 = now() - 600 * S;
    // A cumulative counter per flow: orders at 2/s, cleanup at 0.5/s, one
    // point every 10 s for 5 minutes; an exemplar on the orders series.
    let mut points = Vec::new();
    for i in 0..30u64 {
        for (flow, rate) in [("orders", 2.0), ("cleanup", 0.5)] {
            let mut p = json!({
                "attributes": [attr("flowId", flow)],
                "startTimeUnixNano": t0.to_string(),
                "timeUnixNano": (t0 + i * 10 * S).to_string(),
                "asDouble": rate * (i * 10) as f64,
            });
            if flow == "orders" && i == 15 {
                p["exemplars"] = json!([{"timeUnixNano": (t0 + 150 * S).to_string(), "asDouble": 1.0,
                    "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "51a2c8e0d3f47b96"}]);
            }
            points.push(p);
        }
    }
    post(&l, "/v1/metrics", resource("kestra", json!([{
        "name": "kestra.executions", "unit": "{execution}", "description": "Executions started",
        "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": points}
    }]))).await;
    // A delta histogram from another service: 10 values per interval.
    let hist: Vec<Value> = (1..=30u64)
        .map(|i| {
            json!({
                "startTimeUnixNano": (t0 + (i - 1) * 10 * S).to_string(),
                "timeUnixNano": (t0 + i * 10 * S).to_string(),
                "count": "10", "explicitBounds": [10.0, 100.0], "bucketCounts": ["5", "4", "1"],
            })
        })
        .collect();
    post(
        &l,
        "/v1/metrics",
        resource(
            "worker",
            json!([{
                "name": "kestra.job.duration", "unit": "ms",
                "histogram": {"aggregationTemporality": 1, "dataPoints": hist}
            }]),
        ),
    )
    .await;

    // Catalogue, filtered.
    let all = l.get_json("/api/v1/metrics").await;
    assert_eq!(all["metrics"].as_array().unwrap().len(), 2);
    let by_name = l.get_json("/api/v1/metrics?name=JOB").await;
    assert_eq!(by_name["metrics"][0]["name"], "kestra.job.duration");
    assert_eq!(by_name["metrics"].as_array().unwrap().len(), 1);
    let by_service = l.get_json("/api/v1/metrics?service=kestra").await;
    assert_eq!(by_service["metrics"].as_array().unwrap().len(), 1);
    assert_eq!(by_service["metrics"][0]["name"], "kestra.executions");
    assert_eq!(by_service["metrics"][0]["series"], 2);

    // The counter as a rate, split by flow.
    let range = format!("start={}&end={}", t0, t0 + 300 * S);
    let c = l
        .get_json(&format!(
            "/api/v1/metrics/kestra.executions/chart?{range}&split=flowId&width=600&height=240"
        ))
        .await;
    assert!(
        c["svg"].as_str().unwrap().starts_with("<svg"),
        "{}",
        c["svg"]
    );
    assert_eq!(c["meaning"], "rate per second");
    assert_eq!(c["plot"]["x"], 56);
    assert_eq!(c["xStart"], t0.to_string());
    assert_eq!(c["xEnd"], (t0 + 300 * S).to_string());
    let labels: Vec<&str> = c["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["flowId=cleanup", "flowId=orders"]);
    for (s, rate) in c["series"].as_array().unwrap().iter().zip([0.5, 2.0]) {
        let vals: Vec<f64> = s["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p[1].as_f64())
            .collect();
        assert!(!vals.is_empty());
        assert!(
            vals.iter().all(|v| (v - rate).abs() < 1e-9),
            "{} {vals:?}",
            s["label"]
        );
    }
    assert!(c["yMax"].as_f64().unwrap() >= 2.0);
    let ex = &c["exemplars"][0];
    assert_eq!(ex["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(ex["spanId"], "51a2c8e0d3f47b96");
    let x = ex["x"].as_i64().unwrap();
    assert!(
        (56 + 260..=56 + 270).contains(&x),
        "the exemplar at +150 s of 300 s is mid-plot: {x}"
    );
    // Aggregated across flows: one line at 2.5/s; a filter keeps one flow.
    let c = l
        .get_json(&format!(
            "/api/v1/metrics/kestra.executions/chart?{range}&split=&agg=sum"
        ))
        .await;
    assert_eq!(c["series"].as_array().unwrap().len(), 1);
    let vals: Vec<f64> = c["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[1].as_f64())
        .collect();
    assert!(vals.iter().all(|v| (v - 2.5).abs() < 1e-9), "{vals:?}");
    let c = l
        .get_json(&format!(
            "/api/v1/metrics/kestra.executions/chart?{range}&attr=flowId%3Dorders"
        ))
        .await;
    assert_eq!(c["series"].as_array().unwrap().len(), 1);

    // The histogram: percentiles and the window's distribution.
    let c = l
        .get_json(&format!(
            "/api/v1/metrics/kestra.job.duration/chart?{range}"
        ))
        .await;
    let labels: Vec<&str> = c["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["p50", "p90", "p99"]);
    // p50 of 5/4/1 over (0,10], (10,100], (100,inf): rank 5 → 10.
    assert_eq!(c["series"][0]["points"][0][1], 10.0);
    assert!(c["distribution"]["svg"]
        .as_str()
        .unwrap()
        .starts_with("<svg"));
    assert_eq!(c["distribution"]["buckets"][1]["count"], 4 * 30);

    // Bad parameters name themselves.
    let r = reqwest::get(l.api_url("/api/v1/metrics/x/chart?agg=median"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["param"], "agg");

    // Logs: full-text search, newest first, with attribute conditions.
    let t = now();
    let rec = |dt: u64, sev: i32, body: &str, task: &str| {
        json!({
            "timeUnixNano": (t + dt).to_string(), "severityNumber": sev, "body": {"stringValue": body},
            "attributes": [attr("kestra.taskId", task)],
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "51a2c8e0d3f47b96"
        })
    };
    post(
        &l,
        "/v1/logs",
        json!({"resourceLogs": [{
            "resource": {"attributes": [attr("service.name", "kestra")]},
            "scopeLogs": [{"logRecords": [
                rec(1, 17, "Payment gateway refused order 1042", "charge"),
                rec(2, 9, "Execution started", "extract"),
                rec(3, 13, "Retrying the gateway", "charge"),
            ]}]
        }]}),
    )
    .await;
    let bodies = |doc: &Value| -> Vec<String> {
        doc["resourceLogs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["scopeLogs"].as_array().unwrap().iter())
            .flat_map(|s| s["logRecords"].as_array().unwrap().iter())
            .map(|r| r["body"]["stringValue"].as_str().unwrap().to_string())
            .collect()
    };
    let doc = l.get_json("/api/v1/logs?q=gateway").await;
    assert_eq!(
        bodies(&doc),
        ["Retrying the gateway", "Payment gateway refused order 1042"]
    );
    let doc = l.get_json("/api/v1/logs?q=gateway&minSeverity=error").await;
    assert_eq!(bodies(&doc), ["Payment gateway refused order 1042"]);
    let doc = l
        .get_json("/api/v1/logs?attr=kestra.taskId%3Dextract")
        .await;
    assert_eq!(bodies(&doc), ["Execution started"]);

    // The dashboard: empty, saved through the writer, read back in order, kept over a restart.
    assert_eq!(l.get_json("/api/v1/dashboard").await, json!({"panels": []}));
    let panels = json!({"panels": [
        {"title": "executions by flow", "chart": "metric=kestra.executions&split=flowId"},
        {"title": "job duration", "chart": "metric=kestra.job.duration"}
    ]});
    let put = |body: String| {
        reqwest::Client::new()
            .put(l.api_url("/api/v1/dashboard"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = put(panels.to_string()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), panels);
    let r = put("{\"panels\": 3}".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let dir = l.stop();
    let l = Loupe::start_in(&dir, &[]);
    assert_eq!(l.get_json("/api/v1/dashboard").await, panels);
    drop(l);
    let _ = std::fs::remove_dir_all(&dir);
}
