//! Trace and span IDs: the fixed-size binary identifiers of OTLP.
//!
//! OTLP carries IDs as `bytes`; a valid trace ID is 16 bytes and a valid span
//! ID 8 bytes, neither all zero (W3C Trace Context). Anything else is rejected
//! per item, never per request.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

/// Why an ID was rejected; the text ends up in `partial_success.error_message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} has {len} bytes, expected {expected}")]
    WrongLength {
        what: &'static str,
        len: usize,
        expected: usize,
    },
    #[error("{what} is all zeroes")]
    AllZero { what: &'static str },
    #[error("{what} is not {expected} hex digits")]
    BadHex { what: &'static str, expected: usize },
}

fn check<const N: usize>(what: &'static str, bytes: &[u8]) -> Result<[u8; N], IdError> {
    if bytes.is_empty() {
        return Err(IdError::Empty { what });
    }
    let arr: [u8; N] = bytes.try_into().map_err(|_| IdError::WrongLength {
        what,
        len: bytes.len(),
        expected: N,
    })?;
    if arr.iter().all(|b| *b == 0) {
        return Err(IdError::AllZero { what });
    }
    Ok(arr)
}

fn parse_hex<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], IdError> {
    let bad = IdError::BadHex {
        what,
        expected: N * 2,
    };
    if s.len() != N * 2 {
        return Err(bad);
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| bad)?;
    check::<N>(what, &out)
}

impl TraceId {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        check("trace_id", bytes).map(TraceId)
    }
    /// Parses 32 hex digits, either case.
    pub fn parse_hex(s: &str) -> Result<Self, IdError> {
        parse_hex("trace id", s).map(TraceId)
    }
}

impl SpanId {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        check("span_id", bytes).map(SpanId)
    }
    /// Parses 16 hex digits, either case.
    pub fn parse_hex(s: &str) -> Result<Self, IdError> {
        parse_hex("span id", s).map(SpanId)
    }
    /// The ID as a signed integer, the form the store keys spans by.
    pub fn to_i64(self) -> i64 {
        i64::from_be_bytes(self.0)
    }
    pub fn from_i64(v: i64) -> Self {
        SpanId(v.to_be_bytes())
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}
impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_ids() {
        assert_eq!(
            TraceId::from_bytes(&[]),
            Err(IdError::Empty { what: "trace_id" })
        );
        assert!(matches!(
            TraceId::from_bytes(&[1; 8]),
            Err(IdError::WrongLength { len: 8, .. })
        ));
        assert!(matches!(
            SpanId::from_bytes(&[0; 8]),
            Err(IdError::AllZero { .. })
        ));
        assert!(SpanId::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 1]).is_ok());
    }

    #[test]
    fn hex_is_case_insensitive() {
        let a = TraceId::parse_hex("5B8EFFF798038103D269B633813FC60C").unwrap();
        let b = TraceId::parse_hex("5b8efff798038103d269b633813fc60c").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "5b8efff798038103d269b633813fc60c");
        assert!(TraceId::parse_hex("zz8efff798038103d269b633813fc60c").is_err());
        assert!(SpanId::parse_hex("0000000000000000").is_err());
    }

    #[test]
    fn span_id_integer_round_trip() {
        let s = SpanId([0xff, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(SpanId::from_i64(s.to_i64()), s);
    }
}
