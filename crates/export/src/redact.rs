//! Masking secrets before anything leaves the machine.
//!
//! A bug report travels: to a colleague, into a ticket, onto a forum. The
//! telemetry in it often carries credentials (an `Authorization` header
//! recorded by HTTP instrumentation, a connection string with a password), so
//! export masks them by default. Matching is deliberately broad (a substring
//! of the key, case and separator insensitive): a false positive costs one
//! masked value, a false negative leaks a secret.
//!
//! What is checked: every attribute (resource, scope, span, event, link, log
//! record, data point, exemplar), recursively inside maps and arrays, plus
//! log bodies. A key that matches masks its whole value; a string value that
//! looks like it carries a secret (`Bearer …`, `password=…`, `token: …`)
//! is masked whatever its key.

use std::collections::BTreeMap;

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::metrics::metric::Data;
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};

/// The patterns masked unless the user turns redaction off.
pub const DEFAULT_PATTERNS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "password",
    "passwd",
    "secret",
    "token",
    "api-key",
];

/// What a masked value becomes.
pub const MASK: &str = "[REDACTED]";

/// The key under which masked log bodies are counted.
pub const LOG_BODY: &str = "(log body)";

/// What was (or, in a preview, would be) masked: counts per attribute key.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactionReport {
    pub total: u64,
    pub by_key: BTreeMap<String, u64>,
}

impl RedactionReport {
    fn add(&mut self, key: &str) {
        self.total += 1;
        *self.by_key.entry(key.to_string()).or_default() += 1;
    }
}

/// A set of patterns, normalized once.
#[derive(Debug, Clone)]
pub struct Redactor {
    patterns: Vec<String>,
}

/// Lower case, with `_`, `.` and spaces read as `-`, so `API_KEY`,
/// `x.api-key` and `Api Key` all contain `api-key`.
fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '_' | '.' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl Redactor {
    /// The default patterns plus the user's (empty ones are ignored).
    pub fn new<S: AsRef<str>>(extra: &[S]) -> Redactor {
        let mut patterns: Vec<String> = DEFAULT_PATTERNS.iter().map(|p| normalize(p)).collect();
        for p in extra {
            let p = normalize(p.as_ref().trim());
            if !p.is_empty() && !patterns.contains(&p) {
                patterns.push(p);
            }
        }
        Redactor { patterns }
    }

    /// Whether an attribute key names a secret.
    pub fn key_matches(&self, key: &str) -> bool {
        let k = normalize(key);
        self.patterns.iter().any(|p| k.contains(p.as_str()))
    }

    /// Whether a string value looks like it carries a secret.
    pub fn value_matches(&self, value: &str) -> bool {
        let v = normalize(value);
        if v.starts_with("bearer-") || v.starts_with("basic-") {
            return true;
        }
        self.patterns.iter().any(|p| {
            v.match_indices(p.as_str()).any(|(i, _)| {
                // `password=…`, `token: …`, `"secret":"…"`: the pattern
                // followed by an assignment, not just the word.
                let rest = v[i + p.len()..].trim_start_matches(['"', '\'', '-']);
                rest.starts_with('=') || rest.starts_with(':')
            })
        })
    }

    fn attrs(&self, kvs: &mut [KeyValue], report: &mut RedactionReport) {
        for kv in kvs {
            if self.key_matches(&kv.key) {
                if kv.value.as_ref().is_some_and(|v| v.value.is_some()) {
                    kv.value = Some(masked());
                    report.add(&kv.key);
                }
            } else if let Some(v) = kv.value.as_mut() {
                self.any(v, &kv.key, report);
            }
        }
    }

    fn any(&self, v: &mut AnyValue, key: &str, report: &mut RedactionReport) {
        match v.value.as_mut() {
            Some(Value::StringValue(s)) if self.value_matches(s) => {
                *v = masked();
                report.add(key);
            }
            Some(Value::KvlistValue(kv)) => self.attrs(&mut kv.values, report),
            Some(Value::ArrayValue(a)) => {
                for item in &mut a.values {
                    self.any(item, key, report);
                }
            }
            _ => {}
        }
    }

    pub fn traces(&self, req: &mut ExportTraceServiceRequest, report: &mut RedactionReport) {
        for rs in &mut req.resource_spans {
            if let Some(r) = rs.resource.as_mut() {
                self.attrs(&mut r.attributes, report);
            }
            for ss in &mut rs.scope_spans {
                if let Some(s) = ss.scope.as_mut() {
                    self.attrs(&mut s.attributes, report);
                }
                for sp in &mut ss.spans {
                    self.attrs(&mut sp.attributes, report);
                    for e in &mut sp.events {
                        self.attrs(&mut e.attributes, report);
                    }
                    for l in &mut sp.links {
                        self.attrs(&mut l.attributes, report);
                    }
                    if let Some(st) = sp.status.as_mut() {
                        if self.value_matches(&st.message) {
                            st.message = MASK.to_string();
                            report.add("(status message)");
                        }
                    }
                }
            }
        }
    }

    pub fn logs(&self, req: &mut ExportLogsServiceRequest, report: &mut RedactionReport) {
        for rl in &mut req.resource_logs {
            if let Some(r) = rl.resource.as_mut() {
                self.attrs(&mut r.attributes, report);
            }
            for sl in &mut rl.scope_logs {
                if let Some(s) = sl.scope.as_mut() {
                    self.attrs(&mut s.attributes, report);
                }
                for lr in &mut sl.log_records {
                    self.attrs(&mut lr.attributes, report);
                    if let Some(b) = lr.body.as_mut() {
                        self.any(b, LOG_BODY, report);
                    }
                }
            }
        }
    }

    pub fn metrics(&self, req: &mut ExportMetricsServiceRequest, report: &mut RedactionReport) {
        macro_rules! points {
            ($dps:expr) => {
                for dp in $dps.iter_mut() {
                    self.attrs(&mut dp.attributes, report);
                    for ex in &mut dp.exemplars {
                        self.attrs(&mut ex.filtered_attributes, report);
                    }
                }
            };
        }
        for rm in &mut req.resource_metrics {
            if let Some(r) = rm.resource.as_mut() {
                self.attrs(&mut r.attributes, report);
            }
            for sm in &mut rm.scope_metrics {
                if let Some(s) = sm.scope.as_mut() {
                    self.attrs(&mut s.attributes, report);
                }
                for m in &mut sm.metrics {
                    self.attrs(&mut m.metadata, report);
                    match m.data.as_mut() {
                        Some(Data::Gauge(g)) => points!(g.data_points),
                        Some(Data::Sum(s)) => points!(s.data_points),
                        Some(Data::Histogram(h)) => points!(h.data_points),
                        Some(Data::ExponentialHistogram(h)) => points!(h.data_points),
                        Some(Data::Summary(s)) => {
                            for dp in &mut s.data_points {
                                self.attrs(&mut dp.attributes, report);
                            }
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

fn masked() -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(MASK.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_whatever_the_spelling() {
        let r = Redactor::new(&["ssn"]);
        for k in [
            "Authorization",
            "http.request.header.authorization",
            "http.response.header.set_cookie",
            "db.password",
            "X-API-Key",
            "api_key",
            "client_secret",
            "auth.token",
            "user.ssn",
        ] {
            assert!(r.key_matches(k), "{k}");
        }
        for k in ["http.method", "service.name", "db.statement", "key"] {
            assert!(!r.key_matches(k), "{k}");
        }
    }

    #[test]
    fn values_that_carry_secrets() {
        let r = Redactor::new::<&str>(&[]);
        for v in [
            "Bearer abc.def",
            "basic dXNlcjpwYXNz",
            "postgres://u@h/db?password=hunter2",
            "token: abc",
            "{\"secret\":\"x\"}",
            "API_KEY=1",
        ] {
            assert!(r.value_matches(v), "{v}");
        }
        for v in ["tokenizer failed", "the password was wrong", "GET /users"] {
            assert!(!r.value_matches(v), "{v}");
        }
    }
}
