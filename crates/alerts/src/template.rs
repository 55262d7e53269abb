//! Message templates: `{{ variable }}` replaced by values of the alert.
//!
//! Variables: `rule`, `state`, `group`, `service`, `summary` (span name or
//! log body), `value` (metrics), `trace_id`, `trace_link`, `attributes`
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

/// The default message, shaped like the seed's Slack failure alert.
pub const DEFAULT_TEMPLATE: &str = "[{{state}}] {{rule}}: {{summary}} in `{{service}}` (trace {{trace_link}}). Error logs: `{{error_logs}}`";

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
        for out in [&slack, &hook, &default] {
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
}
