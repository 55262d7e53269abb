//! Golden output of the terminal tables: fixed answers in, exact text out.
//! A change in layout shows up here as a readable diff.

use loupe_mcp::otlp;
use loupe_mcp::term::{
    alerts_table, logs_table, metrics_table, series_table, trace_text, traces_table,
};
use serde_json::json;

#[test]
fn traces() {
    let items = vec![
        json!({"traceId": "5b8efff798038103d269b633813fc60c", "root": "upstream: GET /orders", "start": "2026-11-21T20:23:49.616Z",
               "duration": "9.98s", "spans": 31, "errors": 1, "services": ["kestra"], "run": {"kestra.flowId": "orders_pipeline"}}),
        json!({"traceId": "7f3a9c2e41d84b6f9a0e2c5d8b1f4a38", "root": "kestra: EXECUTOR - io.kestra.plugin.core.flow.Sequential",
               "start": "2026-11-21T20:23:49.956Z", "duration": "950ms", "spans": 2, "errors": 0}),
    ];
    assert_eq!(
        traces_table(&items),
        "\
TRACE                             START                     DURATION  SPANS  ERRORS  ROOT
5b8efff798038103d269b633813fc60c  2026-11-21T20:23:49.616Z  9.98s     31     1       upstream: GET /orders (orders_pipeline)
7f3a9c2e41d84b6f9a0e2c5d8b1f4a38  2026-11-21T20:23:49.956Z  950ms     2      0       kestra: EXECUTOR - io.kestra.plugin.core.flow.Sequential
"
    );
}

#[test]
fn logs() {
    let items = vec![
        json!({"time": "2026-11-21T20:23:50.566Z", "severity": "ERROR", "service": "kestra", "body": "Command failed with exit code 1\n\tat x"}),
        json!({"time": "2026-11-21T20:23:51.000Z", "severity": "INFO", "service": "kestra-webserver", "body": "done"}),
    ];
    assert_eq!(
        logs_table(&items),
        "\
TIME                      SEVERITY  SERVICE           BODY
2026-11-21T20:23:50.566Z  ERROR     kestra            Command failed with exit code 1 \tat x
2026-11-21T20:23:51.000Z  INFO      kestra-webserver  done
"
    );
}

#[test]
fn metrics_and_series() {
    let items = vec![
        json!({"name": "kestra.worker.job.duration", "type": "histogram", "unit": "s", "series": 2, "lastPoint": "2026-11-21T20:24:19.616Z"}),
    ];
    assert_eq!(
        metrics_table(&items),
        "\
NAME                        TYPE       UNIT  SERIES  LAST POINT
kestra.worker.job.duration  histogram  s     2       2026-11-21T20:24:19.616Z
"
    );
    let lines = vec![
        json!({"label": "p50", "stats": {"points": 12, "min": 0.5, "avg": 1.25, "max": 2.0, "last": 1.0}}),
        json!({"label": "", "stats": {"points": 3, "min": 1, "avg": 2, "max": 3, "last": 3}}),
    ];
    assert_eq!(
        series_table("p50, p90, p99 of the interval", &lines),
        "\
values: p50, p90, p99 of the interval
MIN  AVG   MAX  LAST  POINTS  LINE
0.5  1.25  2.0  1.0   12      p50
1    2     3    3     3       (all)
"
    );
}

#[test]
fn alerts() {
    let items = vec![
        json!({"state": "firing", "rule": "Failed executions", "group": "orders_pipeline", "since": "2026-11-21T20:23:50.000Z",
                            "evidence": {"traceId": "5b8efff798038103d269b633813fc60c", "summary": "export_report failed"}}),
    ];
    assert_eq!(
        alerts_table(&items),
        "\
STATE   RULE               GROUP            SINCE                     EVIDENCE
firing  Failed executions  orders_pipeline  2026-11-21T20:23:50.000Z  export_report failed
"
    );
}

#[test]
fn trace_tree() {
    let t = "5b8efff798038103d269b633813fc60c";
    let span = |id: &str, parent: &str, name: &str, svc: &str, s: u64, e: u64, err: bool| {
        json!({"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
               "scopeSpans": [{"scope": {"name": "x"}, "spans": [{
                   "traceId": t, "spanId": id, "parentSpanId": parent, "name": name,
                   "startTimeUnixNano": s.to_string(), "endTimeUnixNano": e.to_string(),
                   "status": if err { json!({"code": 2, "message": "Command failed with exit code 1"}) } else { json!(null) }}]}]})
    };
    let base = 1_795_292_629_616_000_000u64;
    let doc = json!({"resourceSpans": [
        span("00000000000000a1", "", "GET /orders", "upstream", base, base + 9_980_000_000, false),
        span("00000000000000b2", "00000000000000a1", "EXECUTOR orders_pipeline", "kestra", base + 10_000_000, base + 9_900_000_000, false),
        span("00000000000000c3", "00000000000000b2", "WORKER export_report", "kestra", base + 7_540_000_000, base + 9_912_700_000, true),
        span("00000000000000d4", "00000000000000b2", "WORKER load_batch", "kestra", base + 80_000_000, base + 120_000_000, false),
    ]});
    let spans = otlp::spans(&doc);
    assert_eq!(
        trace_text(t, "http://127.0.0.1:16686", &spans),
        "\
trace 5b8efff798038103d269b633813fc60c  2026-11-21T20:23:49.616Z  9.98s  4 spans, 1 error
http://127.0.0.1:16686/trace/5b8efff798038103d269b633813fc60c

GET /orders [upstream] 9.98s
  EXECUTOR orders_pipeline [kestra] 9.89s
    WORKER load_batch [kestra] 40ms
    WORKER export_report [kestra] 2.37s ERROR: Command failed with exit code 1
"
    );
}
