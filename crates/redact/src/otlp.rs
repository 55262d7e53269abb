//! Walking OTLP requests: every string a person or an SDK wrote passes
//! through the redactor (attribute keys and values at any depth, bytes
//! values, log bodies, span, event and log event names, status messages).
//! IDs, times and numbers are left alone: they cannot hold a secret that
//! any rule would recognise.

use std::borrow::Cow;

use loupe_model::otlp::common::{any_value::Value, AnyValue, KeyValue};
use loupe_model::otlp::metrics::metric::Data;
use loupe_model::otlp::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};

use crate::{RedactionReport, Redactor, LOG_BODY, MASK};

/// Field names under which non-attribute strings are counted.
pub const SPAN_NAME: &str = "(span name)";
pub const EVENT_NAME: &str = "(event name)";
pub const STATUS_MESSAGE: &str = "(status message)";
pub const LOG_EVENT_NAME: &str = "(log event name)";

/// Nested arrays and maps deeper than this are masked whole (the receiver
/// and the importer bound nesting too; this keeps the walk's stack bounded
/// for values built some other way).
const MAX_DEPTH: u32 = 64;

fn masked() -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(MASK.to_string())),
    }
}

impl Redactor {
    fn string(&self, field: &str, s: &mut String, report: &mut RedactionReport) {
        if let Cow::Owned(o) = self.redact_field(field, s, report) {
            *s = o;
        }
    }

    /// Masks attributes in place: a secret key masks its whole value,
    /// other values are searched.
    pub fn attributes(&self, kvs: &mut [KeyValue], report: &mut RedactionReport) {
        self.attrs(kvs, report, 0);
    }

    fn attrs(&self, kvs: &mut [KeyValue], report: &mut RedactionReport, depth: u32) {
        for kv in kvs {
            if self.key_matches(&kv.key) {
                if let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    let is_mask = matches!(v, Value::StringValue(s) if s == MASK);
                    if !is_mask {
                        let shown = match v {
                            Value::StringValue(s) => s.clone(),
                            Value::BytesValue(b) => String::from_utf8_lossy(b).into_owned(),
                            _ => "…".to_string(),
                        };
                        self.mask_whole(&kv.key, &shown, report);
                        kv.value = Some(masked());
                    }
                }
            } else {
                let mut key = std::mem::take(&mut kv.key);
                self.string("(attribute key)", &mut key, report);
                kv.key = key;
                if let Some(v) = kv.value.as_mut() {
                    self.any(v, &kv.key, report, depth + 1);
                }
            }
        }
    }

    /// Masks an `AnyValue` in place (strings, bytes, arrays and maps).
    pub fn any_value(&self, v: &mut AnyValue, field: &str, report: &mut RedactionReport) {
        self.any(v, field, report, 0);
    }

    fn any(&self, v: &mut AnyValue, field: &str, report: &mut RedactionReport, depth: u32) {
        if depth > MAX_DEPTH {
            if v.value.is_some() {
                *v = masked();
                report.add(field);
            }
            return;
        }
        match v.value.as_mut() {
            Some(Value::StringValue(s)) => self.string(field, s, report),
            Some(Value::BytesValue(b)) => match std::str::from_utf8(b) {
                Ok(text) => {
                    if let Cow::Owned(o) = self.redact_field(field, text, report) {
                        *b = o.into_bytes();
                    }
                }
                // Binary: if its readable parts hold a secret, the whole
                // value goes (there is no text to keep intact).
                Err(_) => {
                    let lossy = String::from_utf8_lossy(b).into_owned();
                    if self.value_matches(&lossy) {
                        let mut scratch = RedactionReport::default();
                        let _ = self.redact_field(field, &lossy, &mut scratch);
                        report.merge(scratch);
                        *v = masked();
                    }
                }
            },
            Some(Value::KvlistValue(kv)) => self.attrs(&mut kv.values, report, depth + 1),
            Some(Value::ArrayValue(a)) => {
                for item in &mut a.values {
                    self.any(item, field, report, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Masks every string of a traces request in place.
    pub fn traces(&self, req: &mut ExportTraceServiceRequest, report: &mut RedactionReport) {
        for rs in &mut req.resource_spans {
            if let Some(r) = rs.resource.as_mut() {
                self.attributes(&mut r.attributes, report);
            }
            for ss in &mut rs.scope_spans {
                if let Some(s) = ss.scope.as_mut() {
                    self.attributes(&mut s.attributes, report);
                }
                for sp in &mut ss.spans {
                    self.string(SPAN_NAME, &mut sp.name, report);
                    self.attributes(&mut sp.attributes, report);
                    for e in &mut sp.events {
                        self.string(EVENT_NAME, &mut e.name, report);
                        self.attributes(&mut e.attributes, report);
                    }
                    for l in &mut sp.links {
                        self.attributes(&mut l.attributes, report);
                    }
                    if let Some(st) = sp.status.as_mut() {
                        self.string(STATUS_MESSAGE, &mut st.message, report);
                    }
                }
            }
        }
    }

    /// Masks every string of a logs request in place, bodies included
    /// (string and structured).
    pub fn logs(&self, req: &mut ExportLogsServiceRequest, report: &mut RedactionReport) {
        for rl in &mut req.resource_logs {
            if let Some(r) = rl.resource.as_mut() {
                self.attributes(&mut r.attributes, report);
            }
            for sl in &mut rl.scope_logs {
                if let Some(s) = sl.scope.as_mut() {
                    self.attributes(&mut s.attributes, report);
                }
                for lr in &mut sl.log_records {
                    self.attributes(&mut lr.attributes, report);
                    self.string(LOG_EVENT_NAME, &mut lr.event_name, report);
                    if let Some(b) = lr.body.as_mut() {
                        self.any_value(b, LOG_BODY, report);
                    }
                }
            }
        }
    }

    /// Masks every attribute of a metrics request in place (resource,
    /// scope, metadata, data points, exemplars).
    pub fn metrics(&self, req: &mut ExportMetricsServiceRequest, report: &mut RedactionReport) {
        macro_rules! points {
            ($dps:expr) => {
                for dp in $dps.iter_mut() {
                    self.attributes(&mut dp.attributes, report);
                    for ex in &mut dp.exemplars {
                        self.attributes(&mut ex.filtered_attributes, report);
                    }
                }
            };
        }
        for rm in &mut req.resource_metrics {
            if let Some(r) = rm.resource.as_mut() {
                self.attributes(&mut r.attributes, report);
            }
            for sm in &mut rm.scope_metrics {
                if let Some(s) = sm.scope.as_mut() {
                    self.attributes(&mut s.attributes, report);
                }
                for m in &mut sm.metrics {
                    self.attributes(&mut m.metadata, report);
                    match m.data.as_mut() {
                        Some(Data::Gauge(g)) => points!(g.data_points),
                        Some(Data::Sum(s)) => points!(s.data_points),
                        Some(Data::Histogram(h)) => points!(h.data_points),
                        Some(Data::ExponentialHistogram(h)) => points!(h.data_points),
                        Some(Data::Summary(s)) => {
                            for dp in &mut s.data_points {
                                self.attributes(&mut dp.attributes, report);
                            }
                        }
                        None => {}
                    }
                }
            }
        }
    }
}
