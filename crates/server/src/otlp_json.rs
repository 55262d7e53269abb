//! A direct OTLP/JSON writer for traces and logs, the API's largest answers.
//!
//! serde's derived encoding of the protobuf types writes every field, even
//! defaults (`"events":[]`, `"status":null`, …), and goes through generic
//! machinery; for a 10k-span trace that was most of the request's time.
//! This writer emits the same OTLP/JSON (lowerCamelCase keys, hex IDs,
//! 64-bit integers as strings, enums as integers) but omits default values,
//! as the OTLP/JSON encoding allows, straight into one buffer.

use std::io::Write;

use loupe_model::otlp::common::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use loupe_model::otlp::logs::{LogRecord, ResourceLogs};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{span, ResourceSpans, Span};
use loupe_model::otlp::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use loupe_model::time::{span_flags, TimeIssue};

/// The output, and the time the data was received when spans and log
/// records whose own timestamps look wrong are to be flagged
/// (`loupeFlags`, `loupe_model::time::span_flags`). `trace_columns`
/// reuses it for the trace page's columns.
pub(crate) struct W<'a>(pub(crate) &'a mut Vec<u8>, pub(crate) Option<u64>);

impl W<'_> {
    pub(crate) fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    pub(crate) fn str(&mut self, s: &str) {
        let out = &mut *self.0;
        out.push(b'"');
        let bytes = s.as_bytes();
        // Most strings need no escaping; this check vectorizes (no early exit).
        let needs_escape = bytes.iter().fold(false, |acc, &b| {
            acc | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if !needs_escape {
            out.extend_from_slice(bytes);
            out.push(b'"');
            return;
        }
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => b"",
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                let _ = write!(out, "\\u{:04x}", b);
            } else {
                out.extend_from_slice(esc);
            }
            start = i + 1;
        }
        out.extend_from_slice(&bytes[start..]);
        out.push(b'"');
    }

    pub(crate) fn hex(&mut self, bytes: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.0.push(b'"');
        for b in bytes {
            self.0.push(HEX[(b >> 4) as usize]);
            self.0.push(HEX[(b & 15) as usize]);
        }
        self.0.push(b'"');
    }

    pub(crate) fn u64s(&mut self, mut v: u64) {
        // Timestamps are most of the numbers: format them without `fmt`.
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.0.push(b'"');
        self.0.extend_from_slice(&buf[i..]);
        self.0.push(b'"');
    }

    pub(crate) fn num(&mut self, v: impl std::fmt::Display) {
        let _ = write!(self.0, "{v}");
    }

    pub(crate) fn key(&mut self, first: &mut bool, k: &str) {
        if !*first {
            self.0.push(b',');
        }
        *first = false;
        self.0.push(b'"');
        self.raw(k);
        self.raw("\":");
    }

    fn f64(&mut self, f: f64) {
        if f.is_nan() {
            self.raw("\"NaN\"");
        } else if f.is_infinite() {
            self.raw(if f > 0.0 {
                "\"Infinity\""
            } else {
                "\"-Infinity\""
            });
        } else {
            let _ = write!(self.0, "{f:?}");
        }
    }

    fn any(&mut self, v: &AnyValue) {
        match &v.value {
            None => self.raw("{}"),
            Some(Value::StringValue(s)) => {
                self.raw("{\"stringValue\":");
                self.str(s);
                self.raw("}");
            }
            Some(Value::BoolValue(b)) => self.raw(if *b {
                "{\"boolValue\":true}"
            } else {
                "{\"boolValue\":false}"
            }),
            Some(Value::IntValue(i)) => {
                let _ = write!(self.0, "{{\"intValue\":\"{i}\"}}");
            }
            Some(Value::DoubleValue(d)) => {
                self.raw("{\"doubleValue\":");
                self.f64(*d);
                self.raw("}");
            }
            Some(Value::BytesValue(b)) => {
                self.raw("{\"bytesValue\":\"");
                self.base64(b);
                self.raw("\"}");
            }
            Some(Value::ArrayValue(a)) => {
                self.raw("{\"arrayValue\":{\"values\":[");
                for (i, v) in a.values.iter().enumerate() {
                    if i > 0 {
                        self.0.push(b',');
                    }
                    self.any(v);
                }
                self.raw("]}}");
            }
            Some(Value::StringValueStrindex(i)) => {
                let _ = write!(self.0, "{{\"stringValueStrindex\":{i}}}");
            }
            Some(Value::KvlistValue(kv)) => {
                self.raw("{\"kvlistValue\":{\"values\":");
                self.attrs(&kv.values);
                self.raw("}}");
            }
        }
    }

    fn base64(&mut self, bytes: &[u8]) {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for c in bytes.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            self.0.push(T[(n >> 18) as usize & 63]);
            self.0.push(T[(n >> 12) as usize & 63]);
            self.0.push(if c.len() > 1 {
                T[(n >> 6) as usize & 63]
            } else {
                b'='
            });
            self.0.push(if c.len() > 2 {
                T[n as usize & 63]
            } else {
                b'='
            });
        }
    }

    fn attrs(&mut self, kvs: &[KeyValue]) {
        self.0.push(b'[');
        for (i, kv) in kvs.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.kv(kv);
        }
        self.0.push(b']');
    }

    /// One attribute, as an element of `attributes`.
    pub(crate) fn kv(&mut self, kv: &KeyValue) {
        self.raw("{\"key\":");
        self.str(&kv.key);
        if kv.key_strindex != 0 {
            let _ = write!(self.0, ",\"keyStrindex\":{}", kv.key_strindex);
        }
        if let Some(v) = &kv.value {
            self.raw(",\"value\":");
            self.any(v);
        }
        self.0.push(b'}');
    }

    /// `attributes` and `droppedAttributesCount`, when not default.
    fn attrs_fields(&mut self, first: &mut bool, kvs: &[KeyValue], dropped: u32) {
        if !kvs.is_empty() {
            self.key(first, "attributes");
            self.attrs(kvs);
        }
        if dropped != 0 {
            self.key(first, "droppedAttributesCount");
            self.num(dropped);
        }
    }

    pub(crate) fn resource(&mut self, r: &Resource) {
        let mut first = true;
        self.0.push(b'{');
        self.attrs_fields(&mut first, &r.attributes, r.dropped_attributes_count);
        self.0.push(b'}');
    }

    pub(crate) fn scope(&mut self, s: &InstrumentationScope) {
        let mut first = true;
        self.0.push(b'{');
        if !s.name.is_empty() {
            self.key(&mut first, "name");
            self.str(&s.name);
        }
        if !s.version.is_empty() {
            self.key(&mut first, "version");
            self.str(&s.version);
        }
        self.attrs_fields(&mut first, &s.attributes, s.dropped_attributes_count);
        self.0.push(b'}');
    }

    pub(crate) fn span(&mut self, s: &Span) {
        let mut f = true;
        let first = &mut f;
        self.0.push(b'{');
        self.key(first, "traceId");
        self.hex(&s.trace_id);
        self.key(first, "spanId");
        self.hex(&s.span_id);
        if !s.trace_state.is_empty() {
            self.key(first, "traceState");
            self.str(&s.trace_state);
        }
        if !s.parent_span_id.is_empty() {
            self.key(first, "parentSpanId");
            self.hex(&s.parent_span_id);
        }
        if s.flags != 0 {
            self.key(first, "flags");
            self.num(s.flags);
        }
        self.key(first, "name");
        self.str(&s.name);
        if s.kind != 0 {
            self.key(first, "kind");
            self.num(s.kind);
        }
        self.key(first, "startTimeUnixNano");
        self.u64s(s.start_time_unix_nano);
        self.key(first, "endTimeUnixNano");
        self.u64s(s.end_time_unix_nano);
        if let Some(received) = self.1 {
            if TimeIssue::of_span(s.start_time_unix_nano, s.end_time_unix_nano, received).is_some()
            {
                self.key(first, "loupeFlags");
                self.num(span_flags::TIME_SUSPECT);
            }
        }
        self.attrs_fields(first, &s.attributes, s.dropped_attributes_count);
        if !s.events.is_empty() {
            self.key(first, "events");
            self.0.push(b'[');
            for (i, e) in s.events.iter().enumerate() {
                if i > 0 {
                    self.0.push(b',');
                }
                self.event(e);
            }
            self.0.push(b']');
        }
        if s.dropped_events_count != 0 {
            self.key(first, "droppedEventsCount");
            self.num(s.dropped_events_count);
        }
        if !s.links.is_empty() {
            self.key(first, "links");
            self.0.push(b'[');
            for (i, l) in s.links.iter().enumerate() {
                if i > 0 {
                    self.0.push(b',');
                }
                self.link(l);
            }
            self.0.push(b']');
        }
        if s.dropped_links_count != 0 {
            self.key(first, "droppedLinksCount");
            self.num(s.dropped_links_count);
        }
        if let Some(st) = &s.status {
            self.key(first, "status");
            let mut f2 = true;
            self.0.push(b'{');
            if !st.message.is_empty() {
                self.key(&mut f2, "message");
                self.str(&st.message);
            }
            if st.code != 0 {
                self.key(&mut f2, "code");
                self.num(st.code);
            }
            self.0.push(b'}');
        }
        self.0.push(b'}');
    }

    fn event(&mut self, e: &span::Event) {
        let mut first = true;
        self.0.push(b'{');
        self.key(&mut first, "timeUnixNano");
        self.u64s(e.time_unix_nano);
        self.key(&mut first, "name");
        self.str(&e.name);
        self.attrs_fields(&mut first, &e.attributes, e.dropped_attributes_count);
        self.0.push(b'}');
    }

    fn link(&mut self, l: &span::Link) {
        let mut first = true;
        self.0.push(b'{');
        self.key(&mut first, "traceId");
        self.hex(&l.trace_id);
        self.key(&mut first, "spanId");
        self.hex(&l.span_id);
        if !l.trace_state.is_empty() {
            self.key(&mut first, "traceState");
            self.str(&l.trace_state);
        }
        self.attrs_fields(&mut first, &l.attributes, l.dropped_attributes_count);
        if l.flags != 0 {
            self.key(&mut first, "flags");
            self.num(l.flags);
        }
        self.0.push(b'}');
    }

    fn resource_spans(&mut self, rs: &ResourceSpans) {
        let mut first = true;
        self.0.push(b'{');
        if let Some(r) = &rs.resource {
            self.key(&mut first, "resource");
            self.resource(r);
        }
        self.key(&mut first, "scopeSpans");
        self.0.push(b'[');
        for (i, ss) in rs.scope_spans.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            let mut f2 = true;
            self.0.push(b'{');
            if let Some(s) = &ss.scope {
                self.key(&mut f2, "scope");
                self.scope(s);
            }
            self.key(&mut f2, "spans");
            self.0.push(b'[');
            for (j, sp) in ss.spans.iter().enumerate() {
                if j > 0 {
                    self.0.push(b',');
                }
                self.span(sp);
            }
            self.0.push(b']');
            if !ss.schema_url.is_empty() {
                self.key(&mut f2, "schemaUrl");
                self.str(&ss.schema_url);
            }
            self.0.push(b'}');
        }
        self.0.push(b']');
        if !rs.schema_url.is_empty() {
            self.key(&mut first, "schemaUrl");
            self.str(&rs.schema_url);
        }
        self.0.push(b'}');
    }
}

impl W<'_> {
    fn log_record(&mut self, l: &LogRecord) {
        let mut f = true;
        let first = &mut f;
        self.0.push(b'{');
        if l.time_unix_nano != 0 {
            self.key(first, "timeUnixNano");
            self.u64s(l.time_unix_nano);
        }
        if l.observed_time_unix_nano != 0 {
            self.key(first, "observedTimeUnixNano");
            self.u64s(l.observed_time_unix_nano);
        }
        if let Some(received) = self.1 {
            let own = if l.time_unix_nano != 0 {
                l.time_unix_nano
            } else {
                l.observed_time_unix_nano
            };
            if TimeIssue::of(own, received).is_some() {
                self.key(first, "loupeFlags");
                self.num(span_flags::TIME_SUSPECT);
            }
        }
        if l.severity_number != 0 {
            self.key(first, "severityNumber");
            self.num(l.severity_number);
        }
        if !l.severity_text.is_empty() {
            self.key(first, "severityText");
            self.str(&l.severity_text);
        }
        if let Some(b) = &l.body {
            self.key(first, "body");
            self.any(b);
        }
        self.attrs_fields(first, &l.attributes, l.dropped_attributes_count);
        if l.flags != 0 {
            self.key(first, "flags");
            self.num(l.flags);
        }
        if !l.trace_id.is_empty() {
            self.key(first, "traceId");
            self.hex(&l.trace_id);
        }
        if !l.span_id.is_empty() {
            self.key(first, "spanId");
            self.hex(&l.span_id);
        }
        if !l.event_name.is_empty() {
            self.key(first, "eventName");
            self.str(&l.event_name);
        }
        self.0.push(b'}');
    }

    fn resource_logs(&mut self, rl: &ResourceLogs) {
        let mut first = true;
        self.0.push(b'{');
        if let Some(r) = &rl.resource {
            self.key(&mut first, "resource");
            self.resource(r);
        }
        self.key(&mut first, "scopeLogs");
        self.0.push(b'[');
        for (i, sl) in rl.scope_logs.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            let mut f2 = true;
            self.0.push(b'{');
            if let Some(s) = &sl.scope {
                self.key(&mut f2, "scope");
                self.scope(s);
            }
            self.key(&mut f2, "logRecords");
            self.0.push(b'[');
            for (j, l) in sl.log_records.iter().enumerate() {
                if j > 0 {
                    self.0.push(b',');
                }
                self.log_record(l);
            }
            self.0.push(b']');
            if !sl.schema_url.is_empty() {
                self.key(&mut f2, "schemaUrl");
                self.str(&sl.schema_url);
            }
            self.0.push(b'}');
        }
        self.0.push(b']');
        if !rl.schema_url.is_empty() {
            self.key(&mut first, "schemaUrl");
            self.str(&rl.schema_url);
        }
        self.0.push(b'}');
    }
}

/// `{"resourceLogs": […]}`: the same encoding as [`traces`] (defaults
/// omitted, non-finite doubles by name, where serde's encoding of the
/// protobuf types wrote `null` and lost them).
pub fn logs(req: &ExportLogsServiceRequest, out: &mut Vec<u8>) {
    logs_flagged(req, None, out)
}

/// [`logs`], each record whose own time looks wrong next to `received`
/// (`TimeIssue`) with `"loupeFlags"` (`span_flags::TIME_SUSPECT`).
pub fn logs_flagged(req: &ExportLogsServiceRequest, received: Option<u64>, out: &mut Vec<u8>) {
    let mut w = W(out, received);
    w.raw("{\"resourceLogs\":[");
    for (i, rl) in req.resource_logs.iter().enumerate() {
        if i > 0 {
            w.0.push(b',');
        }
        w.resource_logs(rl);
    }
    w.raw("]}");
}

/// `{"resourceSpans": […]}` for a trace.
pub fn traces(req: &ExportTraceServiceRequest, out: &mut Vec<u8>) {
    traces_flagged(req, None, out)
}

/// [`traces`], each span whose own timestamps look wrong next to
/// `received` (`TimeIssue`) with `"loupeFlags"` (`span_flags::TIME_SUSPECT`).
pub fn traces_flagged(req: &ExportTraceServiceRequest, received: Option<u64>, out: &mut Vec<u8>) {
    let mut w = W(out, received);
    w.raw("{\"resourceSpans\":[");
    for (i, rs) in req.resource_spans.iter().enumerate() {
        if i > 0 {
            w.0.push(b',');
        }
        w.resource_spans(rs);
    }
    w.raw("]}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use loupe_model::otlp::common::{ArrayValue, KeyValueList};
    use loupe_model::otlp::trace::{ScopeSpans, Status};

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    /// What this writer emits must decode, with the OTLP/JSON decoder the
    /// receiver uses, into exactly the message it was given.
    #[test]
    fn round_trips_through_the_receivers_decoder() {
        let span = Span {
            trace_id: vec![0xAB; 16],
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            parent_span_id: vec![9; 8],
            trace_state: "k=v".into(),
            flags: 257,
            name: "EXECUTOR - \"quoted\" \\ \n\t\u{1} ünï".into(),
            kind: 2,
            start_time_unix_nano: u64::MAX,
            end_time_unix_nano: i64::MAX as u64 + 1,
            attributes: vec![
                kv("s", Value::StringValue("x".into())),
                kv("b", Value::BoolValue(true)),
                kv("i", Value::IntValue(i64::MIN)),
                kv("d", Value::DoubleValue(-0.5e-300)),
                kv("bytes", Value::BytesValue(vec![0, 1, 2, 250, 251])),
                kv(
                    "arr",
                    Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(Value::IntValue(3)),
                        }],
                    }),
                ),
                kv(
                    "kv",
                    Value::KvlistValue(KeyValueList {
                        values: vec![kv("n", Value::StringValue("m".into()))],
                    }),
                ),
            ],
            dropped_attributes_count: 3,
            events: vec![span::Event {
                time_unix_nano: 5,
                name: "exception".into(),
                attributes: vec![kv("exception.message", Value::StringValue("boom".into()))],
                dropped_attributes_count: 1,
            }],
            dropped_events_count: 2,
            links: vec![span::Link {
                trace_id: vec![7; 16],
                span_id: vec![8; 8],
                trace_state: "a=b".into(),
                attributes: vec![kv("kestra.link", Value::StringValue("foreach".into()))],
                dropped_attributes_count: 0,
                flags: 1,
            }],
            dropped_links_count: 4,
            status: Some(Status {
                message: "failed".into(),
                code: 2,
            }),
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue("kestra".into()))],
                    dropped_attributes_count: 1,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "io.kestra.core.runners.Executor".into(),
                        version: "1".into(),
                        attributes: vec![kv("a", Value::IntValue(1))],
                        dropped_attributes_count: 2,
                    }),
                    spans: vec![
                        span.clone(),
                        Span {
                            status: None,
                            ..span
                        },
                    ],
                    schema_url: "https://opentelemetry.io/schemas/1.0".into(),
                }],
                schema_url: "https://opentelemetry.io/schemas/1.1".into(),
            }],
        };
        let mut out = Vec::new();
        traces(&req, &mut out);
        let back: ExportTraceServiceRequest = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
        assert_eq!(back, req);
    }

    #[test]
    fn non_finite_doubles_use_proto3_json_strings() {
        let mut out = Vec::new();
        let mut w = W(&mut out, None);
        for f in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1.5] {
            w.f64(f);
            w.raw(" ");
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"Infinity\" \"-Infinity\" \"NaN\" 1.5 "
        );
    }
}
