//! How OTLP pieces are encoded into blobs and index values.

use loupe_model::otlp::common::{any_value::Value, AnyValue};
use prost::Message;

use crate::StoreError;

/// zstd level for span chunks: level 1 keeps the prepare step well under the
/// cost of decoding the request, and still compresses repetitive spans 4-6x.
const ZSTD_LEVEL: i32 = 1;

/// Longest string attribute value that goes into the attribute index. Longer
/// values are indexed by key only (they still match `exists`).
pub(crate) const MAX_INDEXED_VALUE: usize = 256;

pub(crate) fn hash(bytes: &[u8]) -> i64 {
    xxhash_rust::xxh3::xxh3_64(bytes) as i64
}

pub(crate) fn compress(bytes: &[u8]) -> Vec<u8> {
    // Compressing an in-memory slice cannot fail short of allocation failure.
    zstd::bulk::compress(bytes, ZSTD_LEVEL).expect("zstd compression of a memory buffer")
}

pub(crate) fn decompress(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    zstd::stream::decode_all(bytes).map_err(|e| StoreError::Corrupt(format!("span chunk: {e}")))
}

pub(crate) fn encode<M: Message>(m: &M) -> Vec<u8> {
    m.encode_to_vec()
}

/// An attribute value as it goes into `trace_attrs.value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IndexValue {
    Text(String),
    Int(i64),
    Real(f64),
    /// Not indexable by value (array, map, bytes, too long): key only.
    Null,
}

impl rusqlite::ToSql for IndexValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            IndexValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            IndexValue::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            IndexValue::Real(f) if f.is_nan() => ToSqlOutput::Borrowed(ValueRef::Null),
            IndexValue::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            IndexValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
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

    /// A 64-bit identity of `(key, self)`.
    pub(crate) fn pair_hash(&self, key: &str) -> u64 {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(key.as_bytes());
        match self {
            IndexRef::Text(s) => {
                h.update(&[0]);
                h.update(s.as_bytes());
            }
            IndexRef::Bool(b) => h.update(&[1, *b as u8]),
            IndexRef::Int(i) => {
                h.update(&[2]);
                h.update(&i.to_le_bytes());
            }
            IndexRef::Real(f) => {
                h.update(&[3]);
                h.update(&f.to_bits().to_le_bytes());
            }
            IndexRef::Null => h.update(&[4]),
        }
        h.digest()
    }

    pub(crate) fn into_value(self) -> IndexValue {
        match self {
            IndexRef::Text(s) => IndexValue::Text(s.to_string()),
            IndexRef::Bool(b) => IndexValue::Text(b.to_string()),
            IndexRef::Int(i) => IndexValue::Int(i),
            IndexRef::Real(f) => IndexValue::Real(f),
            IndexRef::Null => IndexValue::Null,
        }
    }
}

/// Pseudo attribute keys for span fields searched like attributes. The colon
/// keeps them apart from real attribute keys, which by convention never start
/// with one.
pub(crate) const KEY_SPAN_NAME: &str = ":name";
pub(crate) const KEY_SCOPE_NAME: &str = ":scope";
