//! Sizes (`500MB`, `2GiB`) and ages (`7d`, `90m`) as people write them.
//! Both keep the text they were written as, so `loupe config` prints the
//! value the user chose, not a number of bytes.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses a size: an integer with an optional unit (B, KB, MB, GB, TB in
/// powers of 1000; KiB, MiB, GiB, TiB or K, M, G, T in powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 500MB or 2GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" | "t" => 1 << 40,
        u => {
            return Err(format!(
                "unknown size unit {u:?}; use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Parses a duration like `7d`, `24h`, `1h30m`, `1.5s`, `250ms`
/// (`loupe_model::duration`'s grammar, as everywhere else).
pub fn parse_age(s: &str) -> Result<Duration, String> {
    loupe_model::duration::parse(s)
        .map(Duration::from_nanos)
        .map_err(|e| e.to_string())
}

/// A size in bytes, written as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    pub text: String,
    pub bytes: u64,
}

impl Size {
    pub fn new(text: &str) -> Result<Size, String> {
        Ok(Size {
            text: text.to_string(),
            bytes: parse_size(text)?,
        })
    }
}

/// A duration, written as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Age {
    pub text: String,
    pub duration: Duration,
}

impl Age {
    pub fn new(text: &str) -> Result<Age, String> {
        Ok(Age {
            text: text.to_string(),
            duration: parse_age(text)?,
        })
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrNumber {
    Text(String),
    Number(u64),
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match TextOrNumber::deserialize(d)? {
            TextOrNumber::Text(t) => t,
            TextOrNumber::Number(n) => n.to_string(),
        };
        Size::new(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Age {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Age {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Age::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999TB").is_err());
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_age("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_age("soon").is_err());
    }
}
