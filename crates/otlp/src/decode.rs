//! Request bodies into OTLP messages: size-capped gzip, then protobuf or JSON.

use std::io::Write;

use prost::Message;
use serde::de::DeserializeOwned;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// Parses a `Content-Type`: media type case-insensitive, parameters
    /// (such as `charset`) allowed.
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let media = ct.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/x-protobuf")
            || media.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("request body exceeds the limit of {limit} bytes after decompression")]
    TooLarge { limit: usize },
    #[error("invalid gzip data: {0}")]
    BadGzip(String),
    #[error("invalid protobuf: {0}")]
    BadProtobuf(String),
    #[error("invalid OTLP/JSON: {0}")]
    BadJson(String),
    #[error("unsupported Content-Encoding {0:?}; use gzip or none")]
    UnsupportedCompression(String),
    #[error("reading the request body failed: {0}")]
    Body(String),
}

/// A `Write` that refuses to grow past `limit`: the decompressor stops the
/// moment the output would exceed it, so a gzip bomb never gets buffered.
/// Its capacity never exceeds `limit` either (a doubling `Vec` would have
/// reserved up to twice the limit).
pub struct CappedBuf {
    pub buf: Vec<u8>,
    limit: usize,
}

impl CappedBuf {
    pub fn new(limit: usize) -> Self {
        CappedBuf {
            buf: Vec::new(),
            limit,
        }
    }
}

impl Write for CappedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "size limit",
            ));
        }
        let needed = self.buf.len() + data.len();
        if needed > self.buf.capacity() {
            let grown = (self.buf.capacity() * 2).max(needed).min(self.limit);
            self.buf.reserve_exact(grown - self.buf.len());
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Incremental body decoder: feed it chunks as they arrive.
pub enum BodySink {
    Plain(CappedBuf),
    Gzip(Box<flate2::write::MultiGzDecoder<CappedBuf>>),
}

impl BodySink {
    pub fn new(content_encoding: Option<&str>, limit: usize) -> Result<BodySink, DecodeError> {
        match content_encoding.map(|s| s.trim().to_ascii_lowercase()) {
            None => Ok(BodySink::Plain(CappedBuf::new(limit))),
            Some(e) if e.is_empty() || e == "identity" => {
                Ok(BodySink::Plain(CappedBuf::new(limit)))
            }
            Some(e) if e == "gzip" || e == "x-gzip" => Ok(BodySink::Gzip(Box::new(
                flate2::write::MultiGzDecoder::new(CappedBuf::new(limit)),
            ))),
            Some(e) => Err(DecodeError::UnsupportedCompression(e)),
        }
    }

    fn map_err(e: std::io::Error, limit: usize) -> DecodeError {
        if e.kind() == std::io::ErrorKind::WriteZero {
            DecodeError::TooLarge { limit }
        } else {
            DecodeError::BadGzip(e.to_string())
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        match self {
            BodySink::Plain(b) => {
                let limit = b.limit;
                b.write_all(chunk).map_err(|e| Self::map_err(e, limit))
            }
            BodySink::Gzip(d) => {
                let limit = d.get_ref().limit;
                d.write_all(chunk).map_err(|e| Self::map_err(e, limit))
            }
        }
    }

    /// Bytes decoded so far (what the body takes in memory).
    pub fn len(&self) -> usize {
        match self {
            BodySink::Plain(b) => b.buf.len(),
            BodySink::Gzip(d) => d.get_ref().buf.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn finish(self) -> Result<Vec<u8>, DecodeError> {
        match self {
            BodySink::Plain(b) => Ok(b.buf),
            BodySink::Gzip(d) => {
                let limit = d.get_ref().limit;
                let out = d.finish().map_err(|e| Self::map_err(e, limit))?;
                Ok(out.buf)
            }
        }
    }
}

/// Decodes an OTLP message in the given encoding.
pub fn decode_message<M>(bytes: &[u8], encoding: Encoding) -> Result<M, DecodeError>
where
    M: Message + Default + DeserializeOwned,
{
    match encoding {
        Encoding::Protobuf => M::decode(bytes).map_err(|e| DecodeError::BadProtobuf(e.to_string())),
        Encoding::Json if crate::json_floats::mentions_non_finite(bytes) => {
            crate::json_floats::from_slice(bytes).map_err(|e| DecodeError::BadJson(e.to_string()))
        }
        Encoding::Json => {
            serde_json::from_slice(bytes).map_err(|e| DecodeError::BadJson(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_content_type("Application/X-Protobuf"),
            Some(Encoding::Protobuf)
        );
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
        assert_eq!(Encoding::from_content_type(""), None);
    }

    #[test]
    fn gzip_bomb_stops_at_limit() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 10 << 20]).unwrap();
        let gz = enc.finish().unwrap();
        let mut sink = BodySink::new(Some("gzip"), 1 << 20).unwrap();
        let err = gz
            .chunks(4096)
            .try_for_each(|c| sink.push(c))
            .expect_err("must exceed the limit");
        assert!(matches!(err, DecodeError::TooLarge { .. }), "{err}");
    }

    /// The buffer grew by doubling, so its capacity could reach almost
    /// twice the limit before the limit refused a write.
    #[test]
    fn capped_buf_capacity_overshoot_regression() {
        let limit = (1 << 20) + 1;
        let mut b = CappedBuf::new(limit);
        let chunk = vec![0u8; 4096];
        while b.write_all(&chunk).is_ok() {}
        assert!(b.buf.capacity() <= limit, "{}", b.buf.capacity());
        assert!(b.buf.len() > limit - 4096);
    }

    #[test]
    fn bad_gzip_is_reported() {
        let mut sink = BodySink::new(Some("gzip"), 1 << 20).unwrap();
        let r = sink
            .push(b"definitely not gzip")
            .and_then(|_| sink.finish().map(|_| ()));
        assert!(matches!(r, Err(DecodeError::BadGzip(_))), "{r:?}");
    }
}
