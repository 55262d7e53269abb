//! Fuzzing the store's query paths (proptest, stable Rust) on a real
//! database: log searches (the full-text index's query text, built from
//! what users type) and attribute conditions, trace searches from any `q=`
//! expression the query crate accepts. A query the store cannot run is
//! `StoreError::BadQuery` (a 400), never an SQL error (a 500), never a
//! panic. Long run: `LOUPE_FUZZ_CASES=100000 cargo test -p loupe-store
//! --test fuzz --release` (docs/fuzzing.md).

#[path = "../../otlp/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::sync::OnceLock;

use fuzz_support::{config, mutated_text};
use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
use loupe_model::otlp::ExportLogsServiceRequest;
use loupe_model::query::{AttrCondition, AttrOp, LogQuery};
use loupe_model::sink::{Batch, Sink};
use loupe_store::{Store, StoreError, WriterConfig};
use proptest::prelude::*;

/// One store for every case: opening one per case would dominate the time.
fn store() -> &'static Store {
    static STORE: OnceLock<(Store, tempfile::TempDir)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path(), WriterConfig::default()).expect("store");
            let kv = |k: &str, v: &str| KeyValue {
                key: k.into(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(v.into())),
                }),
                ..Default::default()
            };
            let records = [
                "payment refused",
                "NEAR \"quoted\" * words",
                "ünïcode 日本 \u{0}nul",
            ]
            .iter()
            .enumerate()
            .map(|(i, b)| LogRecord {
                time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                body: Some(AnyValue {
                    value: Some(Value::StringValue(b.to_string())),
                }),
                attributes: vec![kv("k", b), kv("n", "2")],
                ..Default::default()
            })
            .collect();
            let req = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    scope_logs: vec![ScopeLogs {
                        log_records: records,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            let ticket = store.writer.submit(Batch::Logs(req)).expect("submit");
            ticket.wait_blocking().expect("commit");
            (store, dir)
        })
        .0
}

const SEARCHES: &[&str] = &[
    "payment refused",
    "pay* \"x",
    "NEAR(a b) OR NOT c AND d",
    "k:payment ^start col : x",
    "\"\" * ** -x +y {a b}",
    "\u{0}",
];

fn ok_or_bad_query<T>(r: Result<T, StoreError>) -> Result<(), TestCaseError> {
    match r {
        Ok(_) | Err(StoreError::BadQuery(_)) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("{e:?}"))),
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn log_searches_are_answered_or_bad_queries(
        text in mutated_text(SEARCHES, 6),
        key in mutated_text(&["k", "n", "a.b"], 2),
        value in mutated_text(&["payment refused", "2", "2.0"], 2),
        exists in any::<bool>(),
    ) {
        let q = LogQuery {
            search: Some(text.clone()),
            attrs: vec![AttrCondition {
                key,
                op: if exists { AttrOp::Exists } else { AttrOp::Eq(value) },
            }],
            text: Some(text.clone()),
            limit: 10,
            ..Default::default()
        };
        let r = store().reader.logs(&q);
        if text.contains('\u{0}') {
            prop_assert!(matches!(r, Err(StoreError::BadQuery(_))), "{:?}", r);
        }
        ok_or_bad_query(r)?;
        let plain = LogQuery { search: Some(text), limit: 10, ..Default::default() };
        ok_or_bad_query(store().reader.logs(&plain))?;
    }

    /// Any expression the query crate accepts runs on the store.
    #[test]
    fn trace_searches_run(q in mutated_text(&["a=1 AND NOT (b OR c>=2)", "service=x OR name=\"y\"", "k = \"payment refused\""], 8)) {
        let params = vec![("q".to_string(), q)];
        if let Ok(tq) = loupe_query::trace_query(&params) {
            ok_or_bad_query(store().reader.search_traces(&tq))?;
        }
    }
}

/// SQLite reads the MATCH text as a C string: a NUL cut a quoted word into
/// an unterminated phrase, an FTS5 syntax error answered as a 500.
#[test]
fn nul_byte_in_log_search_regression() {
    for text in ["pay\u{0}ment", "\u{0}", "a \u{0}*", "\"\u{0}\""] {
        let r = store().reader.logs(&LogQuery {
            search: Some(text.into()),
            limit: 10,
            ..Default::default()
        });
        assert!(matches!(r, Err(StoreError::BadQuery(_))), "{text:?}: {r:?}");
    }
}
