//! How OTLP pieces are encoded into blobs and index values, and decoded back:
//! span chunks, posting lists, hashes, the index form of attribute values,
//! and the SQL order of stored timestamps.

use loupe_model::otlp::common::{any_value::Value, AnyValue};
use loupe_model::otlp::trace::{ScopeSpans, Span};
use prost::Message;

use crate::error::StoreError;

/// zstd level for span chunks: level 1 keeps the prepare step well under the
/// cost of decoding the request, and still compresses repetitive spans 4-6x.
const ZSTD_LEVEL: i32 = 1;

/// Longest string attribute value that goes into the attribute index. Longer
/// values are indexed by key only (they still match `exists`).
pub(crate) const MAX_INDEXED_VALUE: usize = 4096;

pub(crate) fn hash(bytes: &[u8]) -> i64 {
    xxhash_rust::xxh3::xxh3_64(bytes) as i64
}

thread_local! {
    /// One compression context per thread: creating a context per chunk
    /// showed up in profiles.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

pub(crate) fn compress(bytes: &[u8]) -> Vec<u8> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        match c.as_mut().map(|c| c.compress(bytes)) {
            Some(Ok(out)) => out,
            // Compressing a memory buffer only fails on allocation failure.
            _ => zstd::bulk::compress(bytes, ZSTD_LEVEL)
                .expect("zstd compression of a memory buffer"),
        }
    })
}

pub(crate) fn decompress(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    zstd::stream::decode_all(bytes).map_err(|e| StoreError::Corrupt(format!("span chunk: {e}")))
}

/// Largest chunk decompressed into the thread's buffer (Loupe writes chunks
/// of a few hundred KB at most). A frame that declares more, or no size,
/// goes through the streaming decoder, which allocates only as much as the
/// data really holds: a corrupt size field cannot make it reserve gigabytes.
const BUFFERED_MAX: u64 = 16 << 20;

thread_local! {
    /// One decompression context and output buffer per thread. A streaming
    /// decoder per chunk allocated its window afresh every time, and with
    /// mimalloc giving freed memory straight back (src-tauri/src/main.rs)
    /// each window was faulted in and zeroed again: loading a million-span
    /// trace's 1,600 chunks spent most of its time in the kernel clearing
    /// pages.
    static DECOMPRESSOR: std::cell::RefCell<Option<(zstd::bulk::Decompressor<'static>, Vec<u8>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` on a chunk's decompressed bytes, decompressed into the thread's
/// reused buffer when the frame declares a size of at most [`BUFFERED_MAX`].
pub(crate) fn with_decompressed<T>(
    bytes: &[u8],
    f: impl FnOnce(&[u8]) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(n)) if n <= BUFFERED_MAX => n as usize,
        _ => return f(&decompress(bytes)?),
    };
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            let ctx = zstd::bulk::Decompressor::new()
                .map_err(|e| StoreError::Corrupt(format!("span chunk: {e}")))?;
            *d = Some((ctx, Vec::new()));
        }
        let Some((ctx, buf)) = d.as_mut() else {
            return f(&decompress(bytes)?);
        };
        buf.clear();
        buf.reserve(size);
        let n = ctx
            .decompress_to_buffer(bytes, buf)
            .map_err(|e| StoreError::Corrupt(format!("span chunk: {e}")))?;
        let out = f(&buf[..n]);
        // A rare big chunk does not keep its buffer for the thread's life.
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new();
        }
        out
    })
}

/// Decodes a stored span chunk (zstd of `ScopeSpans.spans` fields) back
/// into spans.
pub(crate) fn decode_chunk(chunk: &[u8]) -> Result<Vec<Span>, StoreError> {
    with_decompressed(chunk, |raw| Ok(ScopeSpans::decode(raw)?.spans))
}

/// Appends a stored span chunk's spans to `into.spans` (decoded in place:
/// no vector of its own to move them out of). The chunk holds only the
/// `spans` field, so `into`'s scope is left as it is.
pub(crate) fn merge_chunk(chunk: &[u8], into: &mut ScopeSpans) -> Result<(), StoreError> {
    with_decompressed(chunk, |raw| Ok(into.merge(raw)?))
}

pub(crate) fn encode<M: Message>(m: &M) -> Vec<u8> {
    m.encode_to_vec()
}

/// An attribute value as it goes into `attr_index.value`: numbers as
/// themselves (so ranges work), text as a 64-bit hash in an 8-byte blob
/// (compact, exact in practice, and never equal to or ordered among numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum IndexValue {
    Hash([u8; 8]),
    Int(i64),
    Real(f64),
    /// Not indexable by value (array, map, bytes, too long): key only.
    /// Stored as an empty blob.
    Null,
}

impl IndexValue {
    /// A 64-bit identity of `(key, self)` that is equal exactly when SQLite
    /// would find the two values equal in `attr_index`.
    pub(crate) fn pair_hash(&self, key: &str) -> u64 {
        let k = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        let v = match self {
            IndexValue::Hash(h) => u64::from_be_bytes(*h),
            IndexValue::Int(i) => (*i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x1,
            IndexValue::Real(f) => f.to_bits().wrapping_mul(0xC2B2_AE3D_27D4_EB4F) ^ 0x2,
            IndexValue::Null => 0x4E55_4C4C,
        };
        k.rotate_left(29) ^ v.wrapping_mul(0x1656_67B1_9E37_79F9)
    }
}

/// The index form of a text value.
pub(crate) fn text_hash(s: &str) -> [u8; 8] {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes()).to_be_bytes()
}

/// Encodes ascending IDs as varint deltas.
pub(crate) fn encode_ids(ids: &[i64], out: &mut Vec<u8>) {
    let mut prev = 0i64;
    for &id in ids {
        prost::encoding::encode_varint(id.wrapping_sub(prev) as u64, out);
        prev = id;
    }
}

/// Decodes what [`encode_ids`] wrote, appending to `out`.
pub(crate) fn decode_ids(mut bytes: &[u8], out: &mut Vec<i64>) -> Result<(), StoreError> {
    let mut prev = 0i64;
    while !bytes.is_empty() {
        let d = prost::encoding::decode_varint(&mut bytes)
            .map_err(|e| StoreError::Corrupt(format!("posting list: {e}")))?;
        prev = prev.wrapping_add(d as i64);
        out.push(prev);
    }
    Ok(())
}

impl rusqlite::ToSql for IndexValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            IndexValue::Hash(h) => ToSqlOutput::Borrowed(ValueRef::Blob(h)),
            IndexValue::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            IndexValue::Real(f) if f.is_nan() => ToSqlOutput::Borrowed(ValueRef::Blob(b"")),
            IndexValue::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            // An empty blob, not NULL: NULLs would break the index sweep's
            // row-value comparisons and `NOT IN`.
            IndexValue::Null => ToSqlOutput::Borrowed(ValueRef::Blob(b"")),
        })
    }
}

/// A borrowed index value: hashed to de-duplicate before anything is
/// allocated, because most pairs repeat many times within a trace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum IndexRef<'a> {
    Text(&'a str),
    Bool(bool),
    Int(i64),
    Real(f64),
    Null,
}

impl IndexRef<'_> {
    pub(crate) fn of(v: Option<&AnyValue>) -> IndexRef<'_> {
        match v.and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) if s.len() <= MAX_INDEXED_VALUE => IndexRef::Text(s),
            Some(Value::BoolValue(b)) => IndexRef::Bool(*b),
            Some(Value::IntValue(i)) => IndexRef::Int(*i),
            Some(Value::DoubleValue(d)) => IndexRef::Real(*d),
            _ => IndexRef::Null,
        }
    }

    pub(crate) fn into_value(self) -> IndexValue {
        match self {
            IndexRef::Text(s) => IndexValue::Hash(text_hash(s)),
            IndexRef::Bool(b) => IndexValue::Hash(text_hash(if b { "true" } else { "false" })),
            IndexRef::Int(i) => IndexValue::Int(i),
            IndexRef::Real(f) if f.is_nan() => IndexValue::Null,
            // SQLite compares 1 and 1.0 as equal: store integral doubles as
            // integers so one (key, value) never becomes two postings.
            IndexRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => IndexValue::Int(f as i64),
            IndexRef::Real(f) => IndexValue::Real(f),
            IndexRef::Null => IndexValue::Null,
        }
    }
}

/// Pseudo attribute keys for span fields searched like attributes. The colon
/// keeps them apart from real attribute keys, which by convention never start
/// with one.
pub(crate) const KEY_SPAN_NAME: &str = loupe_model::query::SPAN_NAME_KEY;
pub(crate) const KEY_SCOPE_NAME: &str = loupe_model::query::SCOPE_NAME_KEY;

/// A hasher for keys that are already hashes: no need to hash them again
/// (std's SipHash showed up in profiles of the prepare step).
#[derive(Default, Clone, Copy)]
pub(crate) struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ *b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(5) ^ n;
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(5) ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) type PreHashedBuild = std::hash::BuildHasherDefault<PreHashed>;

/// An SQL expression that orders stored nanosecond timestamps (bit-cast
/// `u64`) correctly as unsigned: it flips the sign bit, `x XOR i64::MIN`,
/// written with the operators SQLite has.
pub(crate) fn unsigned_order(x: &str) -> String {
    format!("(({x} | -9223372036854775808) & ~({x} & -9223372036854775808))")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str) -> Span {
        Span {
            name: name.into(),
            span_id: vec![1; 8],
            ..Default::default()
        }
    }

    fn chunk_of(spans: &[Span]) -> Vec<u8> {
        encode(&ScopeSpans {
            spans: spans.to_vec(),
            ..Default::default()
        })
    }

    #[test]
    fn merge_chunk_appends_to_the_spans_already_there() {
        let mut into = ScopeSpans {
            spans: vec![span("first")],
            schema_url: "kept".into(),
            ..Default::default()
        };
        merge_chunk(&compress(&chunk_of(&[span("a"), span("b")])), &mut into).unwrap();
        merge_chunk(&compress(&chunk_of(&[span("c")])), &mut into).unwrap();
        let names: Vec<_> = into.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["first", "a", "b", "c"]);
        assert_eq!(into.schema_url, "kept");
    }

    #[test]
    fn a_frame_without_a_declared_size_is_decoded_by_the_stream() {
        // The streaming encoder does not know the size up front, so its frame does not declare one.
        let raw = chunk_of(&[span("streamed")]);
        let frame = zstd::stream::encode_all(raw.as_slice(), 1).unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&frame).unwrap(),
            None
        );
        assert_eq!(decode_chunk(&frame).unwrap()[0].name, "streamed");
    }

    #[test]
    fn a_corrupt_chunk_is_an_error_not_a_panic() {
        let mut frame = compress(&chunk_of(&vec![span("x"); 50]));
        let n = frame.len();
        frame.truncate(n / 2);
        assert!(matches!(decode_chunk(&frame), Err(StoreError::Corrupt(_))));
        assert!(decode_chunk(b"not zstd at all").is_err());
    }
}
