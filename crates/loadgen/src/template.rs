//! Pre-encoded export requests with patchable IDs.

use loupe_model::otlp::common::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use loupe_model::otlp::resource::Resource;
use loupe_model::otlp::trace::{
    span::SpanKind, status::StatusCode, ResourceSpans, ScopeSpans, Span, Status,
};
use loupe_model::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// A request encoded once, with the byte offsets of every trace and span ID.
pub struct Template {
    bytes: Vec<u8>,
    /// (offset, trace index) of each trace ID occurrence.
    trace_slots: Vec<(usize, u32)>,
    /// (offset, span index) of each span ID occurrence (span and parent IDs).
    span_slots: Vec<(usize, u32)>,
    pub spans: usize,
}

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::StringValue(v.into())
}

fn sentinel_trace(i: u32) -> [u8; 16] {
    let mut b = [0xA7u8; 16];
    b[4..8].copy_from_slice(&i.to_be_bytes());
    b
}

fn sentinel_span(i: u32) -> [u8; 8] {
    let mut b = [0xB9u8; 8];
    b[2..6].copy_from_slice(&i.to_be_bytes());
    b
}

/// A Kestra-style execution ID for trace `i` of a request.
pub fn execution_id(i: usize) -> String {
    format!("5{:021x}", (i as u128 + 1) * 0x9E37_79B9_7F4A_7C15)
}

impl Template {
    /// A request of `spans` spans, `per_trace` per trace, `attrs` attributes each.
    pub fn build(spans: usize, per_trace: usize, attrs: usize) -> Template {
        let now = loupe_model::time::now_ns();
        let mut out = Vec::with_capacity(spans);
        for i in 0..spans {
            let trace = (i / per_trace) as u32;
            let k = i % per_trace;
            let start = now + (k as u64) * 1_000_000;
            let exec = execution_id(trace as usize);
            let mut attributes = vec![
                kv("kestra.namespace", s(format!("company.ns{}", trace % 5))),
                kv("kestra.flowId", s(format!("flow_{}", trace % 20))),
                kv("kestra.executionId", s(exec.clone())),
                kv("kestra.taskId", s(format!("task_{}", k % 20))),
                kv("kestra.taskRunId", s(format!("{}{:06}", &exec[..16], k))),
                kv(
                    "http.request.method",
                    s(if k.is_multiple_of(3) { "POST" } else { "GET" }),
                ),
                kv(
                    "http.response.status_code",
                    Value::IntValue(if k % 17 == 5 { 500 } else { 200 }),
                ),
                kv("thread.name", s(format!("worker-{}", k % 8))),
                kv(
                    "code.function",
                    s(format!("io.kestra.core.runners.Worker.run{}", k % 4)),
                ),
                kv("kestra.attempt", Value::IntValue((k % 2) as i64 + 1)),
            ];
            attributes.truncate(attrs);
            while attributes.len() < attrs {
                let n = attributes.len();
                attributes.push(kv(
                    &format!("extra.attr{n}"),
                    s(format!("value-{}", k % 10)),
                ));
            }
            let error = k % 17 == 5;
            out.push(Span {
                trace_id: sentinel_trace(trace).to_vec(),
                span_id: sentinel_span(i as u32).to_vec(),
                parent_span_id: if k == 0 {
                    vec![]
                } else {
                    sentinel_span((i - k) as u32).to_vec()
                },
                name: if k == 0 {
                    "EXECUTOR - io.kestra.plugin.core.flow.Subflow".into()
                } else {
                    format!("WORKER - io.kestra.plugin.core.task{}", k % 8)
                },
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 500_000 + (k as u64 * 7919 % 1_000_000),
                attributes,
                status: error.then(|| Status {
                    code: StatusCode::Error as i32,
                    message: "task failed".into(),
                }),
                ..Default::default()
            });
        }
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", s("kestra")),
                        kv("service.version", s("0.21.0")),
                        kv("host.name", s("worker-host-1")),
                        kv("process.pid", Value::IntValue(4242)),
                        kv("telemetry.sdk.language", s("java")),
                        kv("telemetry.sdk.name", s("opentelemetry")),
                    ],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "io.kestra.core.runners.Worker".into(),
                        ..Default::default()
                    }),
                    spans: out,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let bytes = req.encode_to_vec();
        let mut trace_slots = Vec::new();
        let mut span_slots = Vec::new();
        let mut i = 0;
        while i + 8 <= bytes.len() {
            if i + 16 <= bytes.len()
                && bytes[i..i + 4] == [0xA7; 4]
                && bytes[i + 8..i + 16] == [0xA7; 8]
            {
                let idx = u32::from_be_bytes(bytes[i + 4..i + 8].try_into().unwrap());
                trace_slots.push((i, idx));
                i += 16;
                continue;
            }
            if bytes[i..i + 2] == [0xB9; 2] && bytes[i + 6..i + 8] == [0xB9; 2] {
                let idx = u32::from_be_bytes(bytes[i + 2..i + 6].try_into().unwrap());
                span_slots.push((i, idx));
                i += 8;
                continue;
            }
            i += 1;
        }
        Template {
            bytes,
            trace_slots,
            span_slots,
            spans,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The trace ID trace `idx` gets under `trace_key`.
    pub fn trace_id(&self, trace_key: u64, idx: u32) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[0] = 0x4c;
        id[4..12].copy_from_slice(&trace_key.to_be_bytes());
        id[12..16].copy_from_slice(&idx.to_be_bytes());
        id
    }

    /// Copies the template into `out` with fresh IDs: traces keyed by
    /// `trace_key`, spans by `span_key` (distinct keys, distinct IDs).
    pub fn stamp(&self, trace_key: u64, span_key: u32, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        for &(off, idx) in &self.trace_slots {
            out[off..off + 16].copy_from_slice(&self.trace_id(trace_key, idx));
        }
        for &(off, idx) in &self.span_slots {
            out[off..off + 4].copy_from_slice(&span_key.to_be_bytes());
            out[off + 4..off + 8].copy_from_slice(&(idx + 1).to_be_bytes());
        }
    }
}

/// Sends pre-encoded bytes as-is; decodes the Export response.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

pub struct RawEncoder;
pub struct ResponseDecoder;

impl Encoder for RawEncoder {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: bytes::Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put(item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, tonic::Status> {
        ExportTraceServiceResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamping_patches_every_id() {
        let t = Template::build(100, 20, 10);
        assert_eq!(t.trace_slots.len(), 100);
        assert_eq!(t.span_slots.len(), 100 + 95, "span IDs plus parent IDs");
        let mut buf = Vec::new();
        t.stamp(7, 3, &mut buf);
        let req = ExportTraceServiceRequest::decode(buf.as_slice()).unwrap();
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[0].trace_id, t.trace_id(7, 0).to_vec());
        assert_eq!(spans[21].trace_id, t.trace_id(7, 1).to_vec());
        assert_eq!(spans[21].parent_span_id, spans[20].span_id);
        assert_eq!(spans[20].span_id, [0, 0, 0, 3, 0, 0, 0, 21]);
    }
}
