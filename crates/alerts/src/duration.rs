//! Durations as rules write them (`90s`, `5m`, `1h30m`, `250ms`):
//! `loupe_model::duration`'s grammar, written back in the largest exact
//! unit so YAML round trips stay canonical. Conditions compare span
//! durations written the same way.

use std::fmt;

use loupe_model::duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in nanoseconds, written like `90s`, `5m`, `1h30m`, `250ms`:
/// `loupe_model::duration`'s grammar, printed in its largest exact unit so
/// the canonical YAML is stable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub u64);

impl Dur {
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }

    pub fn secs(s: u64) -> Dur {
        Dur(s.saturating_mul(1_000_000_000))
    }

    /// Parses `5m`, `1h30m`, `250ms`, `0`. A bare number other than 0 is
    /// refused: in a rule it is a forgotten unit, not nanoseconds.
    pub fn parse(s: &str) -> Result<Dur, String> {
        duration::parse_with_unit(s)
            .map(Dur)
            .map_err(|e| e.to_string())
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        duration::Exact(self.0).fmt(f)
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
