//! `GET /traces/{traceId}/columns`: one trace for the trace page, as
//! newline-delimited JSON columns (shape: [`crate::columns_types`]).
//!
//! The OTLP/JSON answer repeats every span's keys, its resource's place and
//! every attribute in full: 50 MB for 100k spans, which the page's worker
//! parsed only to throw most of it away. Here a head line carries the
//! resources and scopes once, and each later line is one chunk of at most
//! [`CHUNK`] spans as columns, with names, status messages and attributes
//! interned (a chunk adds only the strings and attributes it is the first
//! to use). Chunks are written one at a time and sent as they are made, so
//! the worker parses one while the next is on the wire, and the server
//! holds at most a few encoded chunks beside the decoded trace.

use foldhash::HashMap;
use foldhash::HashMapExt;

use loupe_model::otlp::common::KeyValue;
use loupe_model::otlp::trace::Span;
use loupe_model::otlp::ExportTraceServiceRequest;

use loupe_model::time::{span_flags, TimeIssue};

use crate::otlp_json::W;

/// Spans a chunk: about 0.5 MB of JSON, a few ms to parse in the worker.
pub const CHUNK: usize = 4096;

/// Writes a trace's head line, then its chunks one at a time.
pub struct Encoder<'t> {
    trace: &'t ExportTraceServiceRequest,
    /// Every span with its resource and (global) scope index, in answer order.
    spans: Vec<(u32, u32, &'t Span)>,
    /// Interned: hashed with foldhash, as SipHash over a million
    /// attributes was most of the encoding.
    strings: HashMap<&'t str, u32>,
    /// Attributes by their encoded JSON.
    attributes: HashMap<Vec<u8>, u32>,
    next: usize,
    /// When the trace last received a span: spans whose own timestamps look
    /// wrong next to it are flagged (`loupeFlags`), as in the OTLP answer.
    received: u64,
}

impl<'t> Encoder<'t> {
    pub fn new(trace: &'t ExportTraceServiceRequest, received: u64) -> Self {
        let mut spans = Vec::new();
        let mut scope = 0u32;
        for (r, rs) in trace.resource_spans.iter().enumerate() {
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().map(|s| (r as u32, scope, s)));
                scope += 1;
            }
        }
        // About one attribute a span is new (typically an ID or a counter).
        let attributes = HashMap::with_capacity(spans.len().min(1 << 20));
        let mut strings = HashMap::with_capacity(64);
        strings.insert("", 0);
        Self {
            trace,
            spans,
            strings,
            attributes,
            next: 0,
            received,
        }
    }

    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The head line (with its newline).
    pub fn head(&self, trace_id: &str, out: &mut Vec<u8>) {
        let mut w = W(out, Some(self.received));
        w.raw("{\"traceId\":");
        w.str(trace_id);
        w.raw(",\"spanCount\":");
        w.num(self.spans.len());
        w.raw(",\"chunkSize\":");
        w.num(CHUNK);
        w.raw(",\"resources\":[");
        for (i, rs) in self.trace.resource_spans.iter().enumerate() {
            if i > 0 {
                w.0.push(b',');
            }
            match &rs.resource {
                Some(r) => w.resource(r),
                None => w.raw("{}"),
            }
        }
        w.raw("],\"scopes\":[");
        let mut first = true;
        for ss in self
            .trace
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
        {
            if !first {
                w.0.push(b',');
            }
            first = false;
            match &ss.scope {
                Some(s) => w.scope(s),
                None => w.raw("{}"),
            }
        }
        w.raw("]}\n");
    }

    /// The next chunk's line (with its newline); false when every span is written.
    pub fn chunk(&mut self, out: &mut Vec<u8>) -> bool {
        let from = self.next;
        let to = self.spans.len().min(from + CHUNK);
        if from >= to {
            return false;
        }
        self.next = to;
        let spans: Vec<(u32, u32, &'t Span)> = self.spans[from..to].to_vec();

        // The tables first: what this chunk is the first to use.
        let mut new_strings: Vec<&'t str> = Vec::new();
        let mut names = Vec::with_capacity(spans.len());
        let mut messages = Vec::with_capacity(spans.len());
        for (_, _, s) in &spans {
            names.push(self.intern(&s.name, &mut new_strings));
            let m = s.status.as_ref().map_or("", |st| st.message.as_str());
            messages.push(self.intern(m, &mut new_strings));
        }
        let mut new_attributes: Vec<&'t KeyValue> = Vec::new();
        let mut ids = Vec::new();
        let mut scratch = Vec::new();
        for (_, _, s) in &spans {
            for kv in &s.attributes {
                scratch.clear();
                W(&mut scratch, None).kv(kv);
                let id = match self.attributes.get(&scratch[..]) {
                    Some(&id) => id,
                    None => {
                        let id = self.attributes.len() as u32;
                        self.attributes.insert(scratch.clone(), id);
                        new_attributes.push(kv);
                        id
                    }
                };
                ids.push(id);
            }
        }

        let mut w = W(out, Some(self.received));
        w.raw("{\"strings\":[");
        list(&mut w, &new_strings, |w, s| w.str(s));
        w.raw("],\"attributes\":[");
        list(&mut w, &new_attributes, |w, kv| w.kv(kv));
        w.raw("],\"spanId\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.hex(&s.span_id));
        w.raw("],\"parentSpanId\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.hex(&s.parent_span_id));
        w.raw("],\"name\":[");
        list(&mut w, &names, |w, i| w.num(i));
        w.raw("],\"kind\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.num(s.kind));
        w.raw("],\"flags\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.num(s.flags));
        w.raw("],\"loupeFlags\":[");
        let received = self.received;
        list(&mut w, &spans, |w, (_, _, s)| {
            let suspect =
                TimeIssue::of_span(s.start_time_unix_nano, s.end_time_unix_nano, received)
                    .is_some();
            w.num(if suspect { span_flags::TIME_SUSPECT } else { 0 })
        });
        w.raw("],\"start\":[");
        list(&mut w, &spans, |w, (_, _, s)| {
            w.u64s(s.start_time_unix_nano)
        });
        w.raw("],\"end\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.u64s(s.end_time_unix_nano));
        w.raw("],\"resource\":[");
        list(&mut w, &spans, |w, (r, _, _)| w.num(r));
        w.raw("],\"scope\":[");
        list(&mut w, &spans, |w, (_, sc, _)| w.num(sc));
        w.raw("],\"statusCode\":[");
        list(&mut w, &spans, |w, (_, _, s)| {
            w.num(s.status.as_ref().map_or(-1, |st| st.code))
        });
        w.raw("],\"statusMessage\":[");
        list(&mut w, &messages, |w, i| w.num(i));
        w.raw("],\"attributeCount\":[");
        list(&mut w, &spans, |w, (_, _, s)| w.num(s.attributes.len()));
        w.raw("],\"attributeIds\":[");
        list(&mut w, &ids, |w, i| w.num(i));
        w.raw("],\"extras\":[");
        let mut first = true;
        for (i, (_, _, s)) in spans.iter().enumerate() {
            if !needs_whole(s) {
                continue;
            }
            if !first {
                w.0.push(b',');
            }
            first = false;
            w.raw("{\"index\":");
            w.num(i);
            w.raw(",\"span\":");
            w.span(s);
            w.0.push(b'}');
        }
        w.raw("]}\n");
        true
    }

    fn intern(&mut self, s: &'t str, new: &mut Vec<&'t str>) -> u32 {
        let next = self.strings.len() as u32;
        *self.strings.entry(s).or_insert_with(|| {
            new.push(s);
            next
        })
    }
}

/// What the columns do not carry: such a span goes whole in `extras`.
fn needs_whole(s: &Span) -> bool {
    !s.events.is_empty()
        || !s.links.is_empty()
        || !s.trace_state.is_empty()
        || s.dropped_attributes_count != 0
        || s.dropped_events_count != 0
        || s.dropped_links_count != 0
}

/// `[a,b,…]`'s inside.
fn list<T>(w: &mut W<'_>, items: &[T], mut each: impl FnMut(&mut W<'_>, &T)) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            w.0.push(b',');
        }
        each(w, x);
    }
}
