//! Hand-built traces for the golden tests.
#![allow(dead_code)]

use loupe_analysis::{Span, SpanId, TraceId};

pub fn tid(t: u8) -> TraceId {
    TraceId([t; 16])
}

pub fn sid(i: u32) -> SpanId {
    let mut b = [0u8; 8];
    b[0] = 0xaa;
    b[4..].copy_from_slice(&i.to_be_bytes());
    SpanId(b)
}

/// A span of trace `t` with ID `id`, parent `parent`.
pub fn sp(
    t: u8,
    id: u32,
    parent: Option<u32>,
    service: &str,
    name: &str,
    start: u64,
    end: u64,
) -> Span {
    Span {
        trace_id: tid(t),
        span_id: sid(id),
        parent_id: parent.map(sid),
        service: service.into(),
        name: name.into(),
        start,
        end,
        error: false,
        kind: 1,
        links: vec![],
        attrs: vec![],
    }
}
