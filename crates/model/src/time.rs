//! Timestamps: OTLP's unsigned 64-bit nanoseconds since the Unix epoch.
//!
//! SQLite integers are signed. The store keeps the exact `u64` bits by a
//! two's-complement cast (so nothing is ever lost or clamped); values above
//! `i64::MAX` (after the year 2262) become negative in SQL. Range filters go
//! through [`NanoRange`] so they still treat such values as "very late".

/// Bit-exact `u64` → `i64` for storage.
pub fn to_sql(ns: u64) -> i64 {
    ns as i64
}

/// Bit-exact `i64` → `u64` when reading back.
pub fn from_sql(v: i64) -> u64 {
    v as u64
}

/// An inclusive range of nanosecond timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NanoRange {
    pub start: u64,
    pub end: u64,
}

impl Default for NanoRange {
    fn default() -> Self {
        NanoRange {
            start: 0,
            end: u64::MAX,
        }
    }
}

impl NanoRange {
    pub fn contains(&self, ns: u64) -> bool {
        self.start <= ns && ns <= self.end
    }

    /// An SQL predicate over `column` (stored with [`to_sql`]) equivalent to
    /// [`NanoRange::contains`], with its two parameters.
    pub fn sql(&self, column: &str) -> (String, [i64; 2]) {
        let lo = to_sql(self.start);
        let hi = to_sql(self.end);
        let low_big = self.start > i64::MAX as u64;
        let high_big = self.end > i64::MAX as u64;
        let pred = match (low_big, high_big) {
            // Both bounds in the ordinary positive range.
            (false, false) => format!("({column} >= ? AND {column} <= ?)"),
            // From an ordinary start to beyond i64::MAX: positives ≥ lo, plus negatives ≤ hi.
            (false, true) => format!("({column} >= ? OR ({column} < 0 AND {column} <= ?))"),
            // Both bounds beyond i64::MAX: only negatives, compared as they are.
            (true, true) => format!("({column} < 0 AND {column} >= ? AND {column} <= ?)"),
            (true, false) => return ("(0)".to_string(), [lo, hi]),
        };
        (pred, [lo, hi])
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_is_bit_exact() {
        for v in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(from_sql(to_sql(v)), v);
        }
    }
}
