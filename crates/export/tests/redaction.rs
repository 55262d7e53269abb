//! An exported bundle (JSON Lines and HTML) holds no marker secret from any
//! string field, keeps the words around each secret, and the preview shows
//! findings without the secret.

use loupe_export::export::{preview, write};
use loupe_export::{import_into, ExportSpec, Format, Redactor, Selection};
use loupe_model::ids::TraceId;
use loupe_model::time::now_ns;

const TRACE: &str = "5b8efff798038103d269b633813fc60c";

/// Markers: every one must be gone from the export.
const MARKERS: &[&str] = &[
    "MKSPANNAME",
    "MKEVENTNAME",
    "MKEVENTATTR",
    "MKATTR",
    "MKNESTED",
    "MKARRAY",
    "MKCMDLINE",
    "MKRESOURCE",
    "MKLINK",
    "MKBODY",
    "MKSTRUCT",
    "MKLOGATTR",
    "MKSTATUS",
];

fn file() -> String {
    let t = now_ns() - 5_000_000_000;
    let e = t + 1_000_000;
    let s = |v: &str| format!(r#"{{"stringValue":{}}}"#, serde_json::to_string(v).unwrap());
    let spans = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[
            {{"key":"service.name","value":{svc}}},
            {{"key":"process.command_line","value":{cmd}}},
            {{"key":"deployment.api_key","value":{res}}}]}},
          "scopeSpans":[{{"spans":[{{"traceId":"{TRACE}","spanId":"eee19b7ec3c1b174",
            "name":"GET /login?token=MKSPANNAME",
            "startTimeUnixNano":"{t}","endTimeUnixNano":"{e}",
            "status":{{"code":2,"message":"failed: Bearer MKSTATUS0123.xyz"}},
            "attributes":[
              {{"key":"http.request.header.authorization","value":{auth}}},
              {{"key":"note","value":{note}}},
              {{"key":"nested","value":{{"kvlistValue":{{"values":[{{"key":"client_secret","value":{nested}}}]}}}}}},
              {{"key":"urls","value":{{"arrayValue":{{"values":[{arr}]}}}}}}],
            "events":[{{"timeUnixNano":"{t}","name":"retry with password=MKEVENTNAME now",
              "attributes":[{{"key":"set-cookie","value":{evattr}}}]}}],
            "links":[{{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
              "attributes":[{{"key":"session.id","value":{link}}}]}}]
          }}]}}]}}]}}"#,
        svc = s("auth"),
        cmd = s("/usr/bin/app --password MKCMDLINE --verbose"),
        res = s("MKRESOURCE"),
        auth = s("Bearer MKATTR"),
        note = s("connect with password=MKATTR failed"),
        nested = s("MKNESTED"),
        arr = s("https://bob:MKARRAY@db.internal/x"),
        evattr = s("MKEVENTATTR"),
        link = s("MKLINK"),
    );
    let logs = format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{svc}}}]}},
          "scopeLogs":[{{"logRecords":[
            {{"timeUnixNano":"{t}","traceId":"{TRACE}","spanId":"eee19b7ec3c1b174","severityNumber":17,
              "body":{body},"attributes":[{{"key":"db.password","value":{la}}}]}},
            {{"timeUnixNano":"{e}","traceId":"{TRACE}","spanId":"eee19b7ec3c1b174","severityNumber":17,
              "body":{{"kvlistValue":{{"values":[{{"key":"msg","value":{sm}}},{{"key":"token","value":{st}}}]}}}}}}
          ]}}]}}]}}"#,
        svc = s("auth"),
        body = s("connect with password=MKBODY failed after 3 tries"),
        la = s("MKLOGATTR"),
        sm = s("login ok"),
        st = s("MKSTRUCT"),
    );
    // JSON Lines: one request per line.
    format!(
        "{}\n{}\n",
        spans.replace('\n', " "),
        logs.replace('\n', " ")
    )
}

#[test]
fn exported_bundles_hold_no_marker_and_keep_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = loupe_store::Store::open(dir.path(), Default::default()).unwrap();
    import_into(&store, file().as_bytes(), "secrets.jsonl", &mut |_| true).unwrap();
    let spec = |format, redact: bool| ExportSpec {
        selection: Selection::Traces {
            ids: vec![TraceId::parse_hex(TRACE).unwrap()],
            linked: false,
        },
        logs: true,
        metrics: false,
        redact: redact.then(|| Redactor::new::<&str>(&[])),
        format,
    };

    // Not vacuous: unmasked, every marker is in the export.
    let mut raw = Vec::new();
    write(
        &store.reader,
        &spec(Format::JsonLines, false),
        &mut raw,
        &mut |_| true,
    )
    .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    for m in MARKERS {
        assert!(
            raw.contains(m),
            "{m} missing from the raw export: the test would prove nothing"
        );
    }

    for format in [Format::JsonLines, Format::Html] {
        let mut out = Vec::new();
        let summary = write(&store.reader, &spec(format, true), &mut out, &mut |_| true).unwrap();
        let text = String::from_utf8(out).unwrap();
        for m in MARKERS {
            assert!(!text.contains(m), "{m} leaks into the {format:?} export");
        }
        // Only the secret part of a log body goes.
        assert!(
            text.contains("connect with password=[REDACTED] failed after 3 tries"),
            "{format:?}: the log body lost its message"
        );
        assert!(text.contains("GET /login?token=[REDACTED]"), "{format:?}");
        assert!(
            summary.redaction.total >= MARKERS.len() as u64,
            "{:?}",
            summary.redaction
        );
    }

    // The preview lists findings: context, never the secret.
    let p = preview(&store.reader, &spec(Format::JsonLines, true)).unwrap();
    assert!(!p.redaction.findings.is_empty());
    let answer = serde_json::to_string(&p).unwrap();
    for m in MARKERS {
        assert!(!answer.contains(m), "{m} in the preview answer");
    }
    assert!(
        p.redaction
            .findings
            .iter()
            .any(|f| f.field == "(log body)" && f.before.contains("password=MK…[masked] failed")),
        "{:#?}",
        p.redaction.findings
    );
}
