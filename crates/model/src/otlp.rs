//! The OTLP messages Loupe receives, stores and answers with.
//!
//! Re-exported from `opentelemetry-proto` so that the whole workspace agrees on
//! one version of the generated types.

pub use opentelemetry_proto::tonic::collector::logs::v1 as logs_service;
pub use opentelemetry_proto::tonic::collector::metrics::v1 as metrics_service;
pub use opentelemetry_proto::tonic::collector::trace::v1 as trace_service;
pub use opentelemetry_proto::tonic::common::v1 as common;
pub use opentelemetry_proto::tonic::logs::v1 as logs;
pub use opentelemetry_proto::tonic::metrics::v1 as metrics;
pub use opentelemetry_proto::tonic::resource::v1 as resource;
pub use opentelemetry_proto::tonic::trace::v1 as trace;

pub use logs_service::ExportLogsServiceRequest;
pub use metrics_service::ExportMetricsServiceRequest;
pub use trace_service::ExportTraceServiceRequest;

/// The `service.name` resource attribute, or `None` when the resource has none.
pub fn service_name(resource: Option<&resource::Resource>) -> Option<&str> {
    resource?.attributes.iter().find_map(|kv| {
        if kv.key != "service.name" {
            return None;
        }
        match kv.value.as_ref()?.value.as_ref()? {
            common::any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Renders an `AnyValue` as the plain text a person would search for:
/// strings as themselves, scalars in their usual form, structured values as
/// compact JSON.
pub fn any_value_text(value: Option<&common::AnyValue>) -> String {
    use common::any_value::Value;
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex::encode(b),
        Some(other) => serde_json::to_string(&common::AnyValue {
            value: Some(other.clone()),
        })
        .unwrap_or_default(),
    }
}
