//! Durations as rules write them (`90s`, `5m`, `1h30m`, `250ms`): parsed
//! and written back in their largest exact unit, so YAML round trips stay
//! canonical. Conditions compare span durations written the same way.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in nanoseconds, written like `90s`, `5m`, `1h`, `250ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub u64);

const UNITS: &[(&str, u64)] = &[
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

impl Dur {
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }

    pub fn secs(s: u64) -> Dur {
        Dur(s * 1_000_000_000)
    }

    /// Parses `5m`, `1h30m`, `250ms`, `0`.
    pub fn parse(s: &str) -> Result<Dur, String> {
        let t = s.trim();
        if t == "0" {
            return Ok(Dur(0));
        }
        let bad = || format!("{s:?} is not a duration like 30s, 5m, 1h or 250ms");
        let mut rest = t;
        let mut total: u64 = 0;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let num: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let mult = UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, m)| *m)
                .ok_or_else(bad)?;
            let add = num * mult as f64;
            if !add.is_finite() || add < 0.0 || add > u64::MAX as f64 {
                return Err(bad());
            }
            total = total.checked_add(add.round() as u64).ok_or_else(bad)?;
        }
        Ok(Dur(total))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for (u, m) in UNITS {
            if self.0.is_multiple_of(*m) {
                return write!(f, "{}{u}", self.0 / m);
            }
        }
        write!(f, "{}ns", self.0)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurVisitor)
    }
}

/// Errors raised inside the visitor carry the value's line.
struct DurVisitor;

impl serde::de::Visitor<'_> for DurVisitor {
    type Value = Dur;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration like 30s, 5m or 1h")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Dur, E> {
        Dur::parse(s).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Dur, E> {
        if n == 0 {
            Ok(Dur(0))
        } else {
            Err(E::custom(format!("{n} needs a unit, like {n}s or {n}m")))
        }
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Dur, E> {
        if n >= 0 {
            self.visit_u64(n as u64)
        } else {
            Err(E::custom(format!("{n} is negative")))
        }
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Dur, E> {
        Err(E::custom(format!("{n} needs a unit, like {n}s")))
    }
}
