//! Message templates: `{{ variable }}` replaced by values of the alert.
//!
//! A channel without a template of its own gets [`default_text`]: for a
//! Kestra execution (the evidence carries `kestra.namespace`,
//! `kestra.flowId` and `kestra.executionId`) the seed's Slack failure alert
//! — the flow, the execution, its error logs — plus a link to the trace in
//! Loupe; for anything else a text naming the service, the trace's root
//! operation and the trace.
//!
//! Variables: `rule`, `state`, `group`, `service`, `summary` (span name or
//! log body), `root_operation` (the trace's root span name), `value`
//! (metrics), `trace_id`, `trace_link`, `attributes`
//! (all, `k=v` joined by commas), `attributes.<key>`, `error_logs` (the
//! ERROR-or-worse log bodies of the trace, like the seed's `errorLogs()`).
//! Values are telemetry, so for Slack they are escaped (`&`, `<`, `>`): a
//! span name cannot inject a mention or a link. They can also carry
//! credentials (`password=…` in an error log, an `Authorization` attribute),
//! so a notice is masked with [`Notice::redact`] when it is built: every
//! channel (Slack, webhook JSON, desktop) and every variable then gets the
//! masked values, and no channel can forget to mask.

use std::collections::BTreeMap;

use loupe_redact::{Redactor, MASK};
use serde::Serialize;

use crate::eval::{Evidence, State};

/// The generic message as a template (what [`default_text`] writes when
/// the evidence is not a Kestra execution), for users who start their own
/// template from it.
pub const DEFAULT_TEMPLATE: &str = "[{{state}}] {{rule}}: `{{root_operation}}` in `{{service}}` failed (trace {{trace_link}}). Matched `{{summary}}`. Error logs: `{{error_logs}}`";

/// The seed's Slack failure alert as a template (what [`default_text`]
/// writes for a Kestra execution).
pub const KESTRA_TEMPLATE: &str = "Failure alert for flow `{{attributes.kestra.namespace}}.{{attributes.kestra.flowId}}` with ID `{{attributes.kestra.executionId}}`. Here is a bit more context about why the execution failed: `{{error_logs}}`";

/// Everything a notification says about one transition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub rule: String,
    pub rule_id: i64,
    pub state: State,
    pub group: String,
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    pub at_ns: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    pub error_logs: Vec<String>,
    /// A link to the trace in Loupe's UI, when there is a trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_link: Option<String>,
    /// The name of the trace's root span (the operation that started the
    /// work), when the trace is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_operation: Option<String>,
}

impl Notice {
    /// Masks every string that came from telemetry (group, labels, the
    /// evidence's summary, service and attributes, the error logs) with
    /// the one redactor used for exports: a secret key masks its whole
    /// value, anything else keeps all but the secret part.
    pub fn redact(&mut self, r: &Redactor) {
        fn text(r: &Redactor, s: &mut String) {
            if let std::borrow::Cow::Owned(o) = r.redact_str(s) {
                *s = o;
            }
        }
        fn map(r: &Redactor, m: &mut BTreeMap<String, String>) {
            let old = std::mem::take(m);
            for (mut k, mut v) in old {
                if r.key_matches(&k) {
                    v = MASK.to_string();
                } else {
                    text(r, &mut v);
                    text(r, &mut k);
                }
                m.insert(k, v);
            }
        }
        text(r, &mut self.rule);
        text(r, &mut self.group);
        map(r, &mut self.labels);
        if let Some(e) = self.evidence.as_mut() {
            text(r, &mut e.summary);
            if let Some(s) = e.service.as_mut() {
                text(r, s);
            }
            map(r, &mut e.attributes);
        }
        for l in &mut self.error_logs {
            text(r, l);
        }
        if let Some(o) = self.root_operation.as_mut() {
            text(r, o);
        }
    }

    /// The notice, masked ([`Notice::redact`]).
    pub fn redacted(mut self, r: &Redactor) -> Notice {
        self.redact(r);
        self
    }
}

const VARIABLES: &[&str] = &[
    "rule",
    "state",
    "group",
    "service",
    "summary",
    "root_operation",
    "value",
    "trace_id",
    "trace_link",
    "attributes",
    "error_logs",
];

/// Unknown variables in a template, to refuse it when it is saved.
pub fn unknown_variables(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, _) in placeholders(template) {
        if !VARIABLES.contains(&name.as_str()) && !name.starts_with("attributes.") {
            out.push(name);
        }
    }
    out
}

fn placeholders(t: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(a) = t[i..].find("{{") {
        let start = i + a;
        let Some(b) = t[start + 2..].find("}}") else {
            break;
        };
        let end = start + 2 + b + 2;
        out.push((t[start + 2..end - 2].trim().to_string(), start..end));
        i = end;
    }
    out
}

fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders `template` for `n`; `slack` escapes values and writes the trace
/// link in Slack's `<url|text>` form.
pub fn render(template: &str, n: &Notice, slack: bool) -> String {
    let ev = n.evidence.as_ref();
    let attrs: BTreeMap<String, String> = ev
        .map(|e| e.attributes.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(n.labels.clone())
        .collect();
    let esc = |s: &str| {
        if slack {
            slack_escape(s)
        } else {
            s.to_string()
        }
    };
    let mut out = String::with_capacity(template.len() + 64);
    let mut last = 0;
    for (name, range) in placeholders(template) {
        out.push_str(&template[last..range.start]);
        last = range.end;
        let trace_id = ev.and_then(|e| e.trace_id.clone());
        let v = match name.as_str() {
            "rule" => esc(&n.rule),
            "state" => n.state.as_str().to_string(),
            "group" => esc(&n.group),
            "service" => esc(ev.and_then(|e| e.service.as_deref()).unwrap_or("")),
            "summary" => esc(ev.map(|e| e.summary.as_str()).unwrap_or("")),
            "root_operation" => esc(n.root_operation.as_deref().unwrap_or("")),
            "value" => n.value.map(|v| v.to_string()).unwrap_or_default(),
            "trace_id" => trace_id.unwrap_or_default(),
            "trace_link" => match (&n.trace_link, trace_id) {
                (Some(url), Some(id)) if slack => format!("<{url}|{id}>"),
                (Some(url), _) => url.clone(),
                (None, Some(id)) => id,
                (None, None) => String::new(),
            },
            "attributes" => esc(&attrs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")),
            "error_logs" => esc(&n.error_logs.join(" | ")),
            other => match other.strip_prefix("attributes.") {
                Some(k) => esc(attrs.get(k).map(String::as_str).unwrap_or("")),
                None => String::new(),
            },
        };
        out.push_str(&v);
    }
    out.push_str(&template[last..]);
    out
}

/// The Kestra attributes that make a notice an execution's failure:
/// namespace, flow and execution ID, all present and not empty.
fn kestra(n: &Notice) -> Option<(&str, &str, &str)> {
    let a = &n.evidence.as_ref()?.attributes;
    let get = |k: &str| {
        a.get(k)
            .or_else(|| n.labels.get(k))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    Some((
        get("kestra.namespace")?,
        get("kestra.flowId")?,
        get("kestra.executionId")?,
    ))
}

/// The message of a channel without a template (see the module's doc):
/// the seed's Slack failure alert for a Kestra execution, else a generic
/// text naming the service, the root operation and the trace. `slack`
/// escapes values and writes links in Slack's `<url|text>` form. Built
/// from the notice's (masked) values only.
pub fn default_text(n: &Notice, slack: bool) -> String {
    let esc = |s: &str| {
        if slack {
            slack_escape(s)
        } else {
            s.to_string()
        }
    };
    // Inside `code`, a backtick in a value would end the code span.
    let code = |s: &str| format!("`{}`", esc(&s.replace('`', "'")));
    let ev = n.evidence.as_ref();
    let trace_id = ev.and_then(|e| e.trace_id.as_deref());
    let link = match (&n.trace_link, trace_id) {
        (Some(url), Some(id)) if slack => Some(format!("<{url}|{id}>")),
        (Some(url), _) => Some(url.clone()),
        (None, Some(id)) => Some(id.to_string()),
        (None, None) => None,
    };
    let logs = (!n.error_logs.is_empty()).then(|| n.error_logs.join(" | "));
    let mut out = String::new();
    if let Some((ns, flow, exec)) = kestra(n) {
        if n.state != State::Firing {
            out.push_str(&format!("[{}] ", n.state.as_str()));
        }
        out.push_str(&format!(
            "Failure alert for flow {} with ID {}.",
            code(&format!("{ns}.{flow}")),
            code(exec)
        ));
        match &logs {
            Some(l) => out.push_str(&format!(
                " Here is a bit more context about why the execution failed: {}",
                code(l)
            )),
            None => out.push_str(" No error logs were recorded for this execution."),
        }
        if let Some(link) = &link {
            out.push_str(&format!("\nTrace in Loupe: {link}"));
        }
        if let Some(e) = ev {
            out.push_str(&format!(
                " (rule {}, span {})",
                code(&n.rule),
                code(&e.summary)
            ));
        }
        return out;
    }
    out.push_str(&format!("[{}] {}: ", n.state.as_str(), esc(&n.rule)));
    match ev {
        Some(e) => {
            let service = e.service.as_deref().unwrap_or("an unknown service");
            let op = n.root_operation.as_deref().unwrap_or(e.summary.as_str());
            out.push_str(&format!("{} in {}", code(op), code(service)));
            if let Some(link) = &link {
                out.push_str(&format!(", trace {link}"));
            }
            out.push('.');
            if !e.summary.is_empty() && e.summary != op {
                out.push_str(&format!(" Matched {}.", code(&e.summary)));
            }
        }
        None => {
            if let Some(v) = n.value {
                out.push_str(&format!("value {v}"));
            }
            if !n.group.is_empty() {
                out.push_str(&format!(" for {}", code(&n.group)));
            }
            out.push('.');
        }
    }
    if let Some(v) = n.value.filter(|_| ev.is_some()) {
        out.push_str(&format!(" Value {v}."));
    }
    if let Some(l) = &logs {
        out.push_str(&format!(" Error logs: {}", code(l)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        let mut attributes = BTreeMap::new();
        attributes.insert("kestra.flowId".to_string(), "cleanup".to_string());
        Notice {
            rule: "failures".into(),
            rule_id: 1,
            state: State::Firing,
            group: "trace=ab".into(),
            labels: BTreeMap::new(),
            value: None,
            at_ns: 1,
            evidence: Some(Evidence {
                time_ns: 1,
                trace_id: Some("ab".into()),
                span_id: Some("cd".into()),
                service: Some("kestra".into()),
                summary: "task <fail>".into(),
                attributes,
            }),
            error_logs: vec!["exit code 1".into()],
            trace_link: Some("http://127.0.0.1:16686/trace/ab".into()),
            root_operation: Some("POST /api/v1/executions".into()),
        }
    }

    #[test]
    fn renders_variables_and_escapes_for_slack() {
        let n = notice();
        let t = "{{rule}} {{ state }}: {{summary}} {{attributes.kestra.flowId}} {{trace_link}} {{error_logs}}";
        assert_eq!(
            render(t, &n, true),
            "failures firing: task &lt;fail&gt; cleanup <http://127.0.0.1:16686/trace/ab|ab> exit code 1"
        );
        assert_eq!(
            render(t, &n, false),
            "failures firing: task <fail> cleanup http://127.0.0.1:16686/trace/ab exit code 1"
        );
        assert_eq!(
            unknown_variables("{{rule}} {{nope}} {{attributes.x}}"),
            vec!["nope"]
        );
    }

    /// A notice whose every telemetry string carries a marker secret.
    fn leaky() -> Notice {
        let mut n = notice();
        let e = n.evidence.as_mut().unwrap();
        e.summary = "GET https://bob:MARKER_URLPW@db/x failed".into();
        e.attributes.insert(
            "http.request.header.authorization".into(),
            "Bearer MARKER_AUTH".into(),
        );
        e.attributes
            .insert("db.password".into(), "MARKER_DBPW".into());
        e.attributes.insert(
            "http.url".into(),
            "https://x/cb?token=MARKER_QS&page=2".into(),
        );
        n.labels
            .insert("session.id".into(), "MARKER_SESSION".into());
        n.group = "url=https://x/?sig=MARKER_SIG".into();
        n.error_logs = vec![
            "connect with password=MARKER_LOGPW failed".into(),
            "key AKIAIOSFODNN7EXAMPLE rejected".into(),
        ];
        n
    }

    const TEMPLATE: &str = "{{rule}} {{group}} {{summary}} {{attributes}} \
        {{attributes.db.password}} {{attributes.session.id}} {{error_logs}}";

    #[test]
    fn a_rendered_notice_carries_no_secret() {
        let n = leaky().redacted(&Redactor::new::<&str>(&[]));
        let slack = serde_json::json!({ "text": render(TEMPLATE, &n, true) }).to_string();
        let mut hook = serde_json::to_value(&n).unwrap();
        hook["text"] = render(TEMPLATE, &n, false).into();
        let hook = hook.to_string();
        let default = render(DEFAULT_TEMPLATE, &n, true);
        let text = default_text(&n, true);
        let mut kestra = n.clone();
        let e = kestra.evidence.as_mut().unwrap();
        e.attributes
            .insert("kestra.namespace".into(), "company.product".into());
        e.attributes
            .insert("kestra.executionId".into(), "x?token=MARKER_EXEC".into());
        let kestra = kestra.redacted(&Redactor::new::<&str>(&[]));
        let kestra = default_text(&kestra, true);
        assert!(kestra.starts_with("Failure alert"), "{kestra}");
        for out in [&slack, &hook, &default, &text, &kestra] {
            for marker in ["MARKER", "AKIAIOSFODNN7EXAMPLE"] {
                assert!(!out.contains(marker), "{marker} in {out}");
            }
        }
        // Only the secret part goes: the messages keep their words.
        assert!(
            slack.contains("connect with password=[REDACTED] failed"),
            "{slack}"
        );
        assert!(
            hook.contains("https://bob:[REDACTED]@db/x failed"),
            "{hook}"
        );
        assert!(hook.contains("page=2"), "{hook}");
        // The test is not vacuous: unmasked, the markers are there.
        let raw = render(TEMPLATE, &leaky(), true);
        assert!(
            raw.contains("MARKER_LOGPW") && raw.contains("MARKER_DBPW"),
            "{raw}"
        );
    }

    /// A notice from a Kestra execution: the seed's Slack text, with the
    /// flow, the execution, the error logs and the trace in Loupe.
    fn kestra_notice() -> Notice {
        let mut n = notice();
        let e = n.evidence.as_mut().unwrap();
        e.summary = "WORKER - io.kestra.plugin.scripts.shell.Commands".into();
        for (k, v) in [
            ("kestra.namespace", "company.product"),
            ("kestra.flowId", "billing"),
            ("kestra.executionId", "4Fy`x<1>"),
        ] {
            e.attributes.insert(k.into(), v.into());
        }
        n.error_logs = vec!["exit code 1".into(), "retry <failed>".into()];
        n
    }

    #[test]
    fn the_default_for_a_kestra_execution_is_the_seeds_failure_alert() {
        let n = kestra_notice();
        assert_eq!(
            default_text(&n, true),
            "Failure alert for flow `company.product.billing` with ID `4Fy'x&lt;1&gt;`. \
             Here is a bit more context about why the execution failed: \
             `exit code 1 | retry &lt;failed&gt;`\n\
             Trace in Loupe: <http://127.0.0.1:16686/trace/ab|ab> \
             (rule `failures`, span `WORKER - io.kestra.plugin.scripts.shell.Commands`)"
        );
        let plain = default_text(&n, false);
        assert!(plain.contains("with ID `4Fy'x<1>`"), "{plain}");
        assert!(
            plain.contains("Trace in Loupe: http://127.0.0.1:16686/trace/ab "),
            "{plain}"
        );
        let mut resolved = n.clone();
        resolved.state = State::Resolved;
        resolved.error_logs.clear();
        let t = default_text(&resolved, true);
        assert!(
            t.starts_with("[resolved] Failure alert for flow `company.product.billing`"),
            "{t}"
        );
        assert!(t.contains("No error logs were recorded"), "{t}");
        // The same template is offered to start from, and renders alike.
        assert!(render(KESTRA_TEMPLATE, &n, true)
            .starts_with("Failure alert for flow `company.product.billing` with ID"));
    }

    #[test]
    fn the_generic_default_names_service_root_operation_and_trace() {
        let mut n = notice();
        // Without all three Kestra attributes it is not an execution.
        n.evidence
            .as_mut()
            .unwrap()
            .attributes
            .insert("kestra.namespace".into(), "company.product".into());
        assert_eq!(
            default_text(&n, true),
            "[firing] failures: `POST /api/v1/executions` in `kestra`, trace \
             <http://127.0.0.1:16686/trace/ab|ab>. Matched `task &lt;fail&gt;`. \
             Error logs: `exit code 1`"
        );
        // No stored root: the matched span stands in for it.
        n.root_operation = None;
        let t = default_text(&n, false);
        assert!(
            t.starts_with("[firing] failures: `task <fail>` in `kestra`, trace http://127.0.0.1:16686/trace/ab."),
            "{t}"
        );
        // A metric without an exemplar: the value and the group.
        let mut m = notice();
        m.evidence = None;
        m.trace_link = None;
        m.error_logs.clear();
        m.value = Some(0.93);
        m.group = "service.name=api".into();
        assert_eq!(
            default_text(&m, true),
            "[firing] failures: value 0.93 for `service.name=api`."
        );
    }
}
