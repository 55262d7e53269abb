//! What the trace list shows beyond a trace's summary row: the first value
//! of each asked context attribute (a Kestra namespace, flow, execution…),
//! the first error span's status message, the trace it links to (a child
//! execution's parent) and how many traces link to it. Values are read from
//! each trace's first chunks only, under a byte budget for the whole
//! answer, so a list of big traces costs a bounded amount of decoding.

use loupe_model::otlp::any_value_text;
use loupe_model::query::{ContextValue, SummaryDetails, TraceSummary};
use rusqlite::{Connection, OptionalExtension};

use crate::codec::decode_chunk;
use crate::error::StoreError;

/// Chunks decoded per trace at most (its first ones: where its root and the
/// spans that carry its context usually are).
const CHUNKS_PER_TRACE: i64 = 4;

/// Compressed chunk bytes read for one answer at most; past it, the
/// remaining summaries get their links but no values from chunks.
const BYTES_PER_ANSWER: usize = 4 << 20;

/// Characters kept of a value or message (the list shows a short cell).
const MAX_TEXT: usize = 256;

/// `s` cut to [`MAX_TEXT`] characters.
fn short(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_TEXT) {
        s.truncate(i);
        s.push('…');
    }
    s
}

/// Fills the details of `out`'s summaries.
pub(crate) fn fill(
    c: &Connection,
    out: &mut [TraceSummary],
    d: &SummaryDetails,
) -> Result<(), StoreError> {
    let mut budget = BYTES_PER_ANSWER;
    let mut row_of = c.prepare_cached("SELECT id FROM traces WHERE trace_id = ?1")?;
    let mut links_to = c.prepare_cached(
        "SELECT linked_trace FROM span_links WHERE trace = ?1 AND linked_trace != ?2 ORDER BY span_id LIMIT 1",
    )?;
    let mut linked_from = c.prepare_cached(
        "SELECT count(DISTINCT l.trace) FROM span_links l WHERE l.linked_trace = ?1 AND l.trace != ?2",
    )?;
    let mut chunks =
        c.prepare_cached("SELECT body FROM span_chunks WHERE trace = ?1 ORDER BY id LIMIT ?2")?;
    for s in out.iter_mut() {
        let Ok(tid) = hex::decode(&s.trace_id) else {
            continue;
        };
        let Some(row) = row_of
            .query_row([&tid[..]], |r| r.get::<_, i64>(0))
            .optional()?
        else {
            continue;
        };
        s.links_to = links_to
            .query_row(rusqlite::params![row, &tid[..]], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(hex::encode);
        let n: i64 = linked_from.query_row(rusqlite::params![&tid[..], row], |r| r.get(0))?;
        s.linked_from = Some(n.max(0) as u64);
        let want_error = s.error_count > 0;
        if d.context_keys.is_empty() && !want_error {
            continue;
        }
        let mut found: Vec<Option<String>> = vec![None; d.context_keys.len()];
        let mut error: Option<String> = None;
        let mut rows = chunks.query(rusqlite::params![row, CHUNKS_PER_TRACE])?;
        while let Some(r) = rows.next()? {
            let body = r.get_ref(0)?.as_blob()?;
            if body.len() > budget {
                break;
            }
            budget -= body.len();
            for span in decode_chunk(body)? {
                for kv in &span.attributes {
                    if let Some(i) = d.context_keys.iter().position(|k| *k == kv.key) {
                        if found[i].is_none() {
                            found[i] = Some(short(any_value_text(kv.value.as_ref())));
                        }
                    }
                }
                if want_error && error.is_none() {
                    if let Some(st) = &span.status {
                        // STATUS_CODE_ERROR = 2.
                        if st.code == 2 && !st.message.is_empty() {
                            error = Some(short(st.message.clone()));
                        }
                    }
                }
            }
            if found.iter().all(Option::is_some) && (!want_error || error.is_some()) {
                break;
            }
        }
        if !d.context_keys.is_empty() {
            s.context = Some(
                d.context_keys
                    .iter()
                    .zip(found)
                    .filter_map(|(k, v)| {
                        v.map(|value| ContextValue {
                            key: k.clone(),
                            value,
                        })
                    })
                    .collect(),
            );
        }
        s.error_message = error;
    }
    Ok(())
}
