//! A traces rule with a linked condition (`query: linked_from(…)`) on a
//! Kestra-shaped workload in a real store: the API calls arrive first,
//! their executions (traces linking back to them) later, and the rule
//! fires for the one API call whose execution failed, and for no other.

#[path = "../../store/tests/support/kestra.rs"]
mod kestra;

use std::sync::Arc;

use loupe_alerts::eval::State;
use loupe_alerts::from_yaml;
use loupe_model::otlp::ExportTraceServiceRequest;
use loupe_model::sink::{Batch, Sink};
use loupe_model::time::now_ns;
use loupe_store::{Retention, Store, WriterConfig};

const RULE: &str = r#"
name: API calls whose execution failed
signal: traces
when: {field: span.name, op: equals, value: "POST /api/v1/executions/{namespace}/{id}"}
query: linked_from(span.status = error)
"#;

async fn send(store: &Store, resource_spans: Vec<loupe_model::otlp::trace::ResourceSpans>) {
    store
        .writer
        .submit(Batch::Traces(ExportTraceServiceRequest { resource_spans }))
        .unwrap()
        .wait()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn linked_rule_fires_for_the_api_call_whose_execution_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        dir.path(),
        WriterConfig {
            retention: Retention::unlimited(),
            ..Default::default()
        },
    )
    .unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:16686".parse().unwrap();
    let alerting = loupe_alerting::Alerting::start(
        store.alerts.clone(),
        store.reader.clone(),
        addr,
        vec![addr],
        Arc::new(loupe_alerts::NoNotifier),
    )
    .unwrap();
    let rule = from_yaml(RULE).unwrap();
    assert_eq!(
        rule.query.as_deref(),
        Some("linked_from(span.status = error)")
    );
    alerting.save_rule(None, &rule).unwrap();

    let t0 = now_ns() - 60_000_000_000;
    let executions: Vec<_> = (0..10u64)
        .map(|i| kestra::execution(i, t0 + i * 1_000_000))
        .collect();
    // The API calls: matching `when`, but no execution has failed yet.
    send(
        &store,
        executions.iter().flat_map(|e| e[..2].to_vec()).collect(),
    )
    .await;
    let firing = |ts: &[(loupe_alerts::Rule, i64, loupe_alerts::eval::Transition)]| -> Vec<String> {
        ts.iter()
            .filter(|(_, _, t)| t.to == State::Firing)
            .map(|(_, _, t)| t.group.clone())
            .collect()
    };
    let first = alerting.tick(now_ns()).unwrap();
    assert_eq!(firing(&first), Vec::<String>::new());

    // The executions arrive; execution 7 fails. Its trace links back to
    // API call 7, which got no new span but now matches.
    assert!(kestra::execution_fails(7));
    send(
        &store,
        executions.iter().flat_map(|e| e[2..].to_vec()).collect(),
    )
    .await;
    let second = alerting.tick(now_ns()).unwrap();
    let api7 = hex::encode(kestra::trace_id(7, 0));
    assert_eq!(firing(&second), vec![format!("trace={api7}")]);
    let evidence = second[0].2.evidence.clone().unwrap();
    assert_eq!(evidence.trace_id.as_deref(), Some(api7.as_str()));
    assert_eq!(evidence.summary, kestra::API_NAME);
    // Nothing new: nothing fires again.
    assert_eq!(
        firing(&alerting.tick(now_ns()).unwrap()),
        Vec::<String>::new()
    );

    // A backtest over the same data agrees.
    let bt = alerting
        .backtest(&rule, Some(t0 - 1), Some(now_ns()))
        .unwrap();
    assert_eq!(bt.groups, vec![format!("trace={api7}")]);
    // The same rule without its query fires for every API call.
    let plain = loupe_alerts::Rule {
        query: None,
        ..rule.clone()
    };
    let bt = alerting
        .backtest(&plain, Some(t0 - 1), Some(now_ns()))
        .unwrap();
    assert_eq!(bt.groups.len(), 10);
}

#[test]
fn a_query_is_checked_when_the_rule_is_read() {
    let bad = RULE.replace(
        "linked_from(span.status = error)",
        "linked_from(span.status = ok)",
    );
    let e = from_yaml(&bad).unwrap_err();
    assert!(e.message.contains("query: `span.status`"), "{e}");
    let spans = RULE.replace("signal: traces", "signal: spans");
    let e = from_yaml(&spans).unwrap_err();
    assert!(e.message.contains("only for traces rules"), "{e}");
    let deep = RULE.replace(
        "linked_from(span.status = error)",
        "linked(linked(linked(linked(a))))",
    );
    assert!(from_yaml(&deep)
        .unwrap_err()
        .message
        .contains("limit of 3 levels"));
}
