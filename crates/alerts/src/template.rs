//! Message templates: `{{ variable }}` replaced by values of the alert.
//!
//! Variables: `rule`, `state`, `group`, `service`, `summary` (span name or
//! log body), `value` (metrics), `trace_id`, `trace_link`, `attributes`
//! (all, `k=v` joined by commas), `attributes.<key>`, `error_logs` (the
//! ERROR-or-worse log bodies of the trace, like the seed's `errorLogs()`).
//! Values are telemetry, so for Slack they are escaped (`&`, `<`, `>`): a
//! span name cannot inject a mention or a link.

use std::collections::BTreeMap;

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
}
