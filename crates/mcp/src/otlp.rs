//! Reading the API's OTLP/JSON answers (traces, logs) into flat records the
//! tools and tables work with. Values become plain JSON (`{"stringValue":
//! "x"}` → `"x"`), so answers stay small.

use serde_json::{Map, Value};

use crate::fmt::ns;

/// One span of a trace answer, with its resource's service.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent: String,
    pub name: String,
    pub service: String,
    pub start: u64,
    pub end: u64,
    /// 2 = ERROR (OTLP `Status.code`).
    pub status_code: i64,
    pub status_message: String,
    /// The whole span as the API gave it (OTLP/JSON).
    pub raw: Value,
    /// The resource's attributes, flattened.
    pub resource: Map<String, Value>,
    pub scope: String,
}

impl Span {
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn is_error(&self) -> bool {
        self.status_code == 2
    }

    /// The span's own attributes, flattened.
    pub fn attributes(&self) -> Map<String, Value> {
        kvs(&self.raw["attributes"])
    }

    /// The span's attribute `key`, else its resource's.
    pub fn attribute(&self, key: &str) -> Option<Value> {
        self.attributes()
            .get(key)
            .cloned()
            .or_else(|| self.resource.get(key).cloned())
    }
}

/// An OTLP/JSON `AnyValue` as plain JSON.
pub fn any(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return Value::Null;
    };
    if let Some(s) = o.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = o.get("intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(i.clone()),
            other => other.clone(),
        };
    }
    if let Some(d) = o.get("doubleValue") {
        return d.clone();
    }
    if let Some(b) = o.get("boolValue") {
        return b.clone();
    }
    if let Some(b) = o.get("bytesValue") {
        return b.clone();
    }
    if let Some(a) = o.get("arrayValue") {
        return Value::Array(
            a["values"]
                .as_array()
                .map(|xs| xs.iter().map(any).collect())
                .unwrap_or_default(),
        );
    }
    if let Some(k) = o.get("kvlistValue") {
        return Value::Object(kvs(&k["values"]));
    }
    Value::Null
}

/// An OTLP/JSON `KeyValue` list as an object.
pub fn kvs(list: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for kv in list.as_array().into_iter().flatten() {
        if let Some(k) = kv["key"].as_str() {
            out.insert(k.to_string(), any(&kv["value"]));
        }
    }
    out
}

/// Every span of a `GET /api/v1/traces/{id}` answer.
pub fn spans(doc: &Value) -> Vec<Span> {
    let mut out = Vec::new();
    for rs in doc["resourceSpans"].as_array().into_iter().flatten() {
        let resource = kvs(&rs["resource"]["attributes"]);
        let service = resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            let scope = ss["scope"]["name"].as_str().unwrap_or("").to_string();
            for s in ss["spans"].as_array().into_iter().flatten() {
                out.push(Span {
                    trace_id: s["traceId"].as_str().unwrap_or("").to_string(),
                    span_id: s["spanId"].as_str().unwrap_or("").to_string(),
                    parent: s["parentSpanId"].as_str().unwrap_or("").to_string(),
                    name: s["name"].as_str().unwrap_or("").to_string(),
                    service: service.clone(),
                    start: ns(&s["startTimeUnixNano"]),
                    end: ns(&s["endTimeUnixNano"]),
                    status_code: s["status"]["code"].as_i64().unwrap_or(0),
                    status_message: s["status"]["message"].as_str().unwrap_or("").to_string(),
                    raw: s.clone(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    out
}

/// One log record of a `GET /api/v1/logs` answer.
#[derive(Debug, Clone)]
pub struct Log {
    pub time: u64,
    pub severity: String,
    pub severity_number: i64,
    pub service: String,
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Map<String, Value>,
}

/// Every record of a logs answer, newest first.
pub fn logs(doc: &Value) -> Vec<Log> {
    let mut out = Vec::new();
    for rl in doc["resourceLogs"].as_array().into_iter().flatten() {
        let resource = kvs(&rl["resource"]["attributes"]);
        let service = resource
            .get("service.name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
            for r in sl["logRecords"].as_array().into_iter().flatten() {
                let t = ns(&r["timeUnixNano"]);
                let time = if t == 0 {
                    ns(&r["observedTimeUnixNano"])
                } else {
                    t
                };
                let body = match any(&r["body"]) {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let number = r["severityNumber"].as_i64().unwrap_or(0);
                let text = r["severityText"].as_str().unwrap_or("");
                out.push(Log {
                    time,
                    severity: if text.is_empty() {
                        loupe_model::severity::name(number).to_string()
                    } else {
                        text.to_string()
                    },
                    severity_number: number,
                    service: service.clone(),
                    body,
                    trace_id: r["traceId"].as_str().unwrap_or("").to_string(),
                    span_id: r["spanId"].as_str().unwrap_or("").to_string(),
                    attributes: kvs(&r["attributes"]),
                });
            }
        }
    }
    out.sort_by_key(|l| std::cmp::Reverse(l.time));
    out
}

impl Log {
    /// The record as a tool or NDJSON answer gives it.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("time".into(), crate::fmt::time(self.time).into());
        o.insert("severity".into(), self.severity.clone().into());
        o.insert("service".into(), self.service.clone().into());
        o.insert("body".into(), self.body.clone().into());
        if !self.trace_id.is_empty() {
            o.insert("traceId".into(), self.trace_id.clone().into());
        }
        if !self.span_id.is_empty() {
            o.insert("spanId".into(), self.span_id.clone().into());
        }
        if !self.attributes.is_empty() {
            o.insert("attributes".into(), Value::Object(self.attributes.clone()));
        }
        Value::Object(o)
    }
}
