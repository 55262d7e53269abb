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

/// 2000-01-01T00:00:00Z in Unix nanoseconds: an item's own timestamp
/// before this is taken for a clock that was never set (or a unit mistake,
/// seconds sent as nanoseconds), not for real data.
pub const SANE_SINCE_NS: u64 = 946_684_800_000_000_000;

/// How long before the time Loupe received an item its own timestamp may
/// be before it looks wrong: a year (an exported bug report is weeks old; a
/// span from years back is a clock that was wrong, or old data replayed).
pub const PAST_SLACK_NS: u64 = 365 * 24 * 3600 * 1_000_000_000;

/// How far past the time Loupe received an item its own timestamp may be
/// before it looks wrong (clock skew between hosts stays well inside).
pub const FUTURE_SLACK_NS: u64 = 24 * 3600 * 1_000_000_000;

/// Loupe's own per-span flag bits, in the number the API answers as
/// `loupeFlags` beside each span (never in OTLP's `flags`, whose bits belong
/// to W3C and OTLP). They share one space with the UI's tree flags
/// (`ui/src/tree.ts`, `F`), so the UI can OR them in: each is a bit no UI
/// flag uses (`tests` below keeps the two lists apart).
pub mod span_flags {
    /// The span's own timestamps look wrong ([`super::TimeIssue`]): zero,
    /// before 2000 or more than a year before Loupe received it, or more
    /// than a day after. Stored and
    /// shown all the same.
    pub const TIME_SUSPECT: u32 = 2048;
    /// Every Loupe span flag, for the distinctness test.
    pub const ALL: &[u32] = &[TIME_SUSPECT];
}

/// Why an item's own timestamp looks wrong. Such items are stored and shown
/// (retention goes by arrival, never by these), flagged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeIssue {
    /// Zero: never set.
    Zero,
    /// Before 2000-01-01 ([`SANE_SINCE_NS`]), or more than a year
    /// ([`PAST_SLACK_NS`]) before it was received.
    TooOld,
    /// More than [`FUTURE_SLACK_NS`] after it was received (including
    /// values past `i64::MAX`, after the year 2262).
    Future,
}

impl TimeIssue {
    /// Of one timestamp, received at `received_ns`.
    pub fn of(ns: u64, received_ns: u64) -> Option<TimeIssue> {
        if ns == 0 {
            Some(TimeIssue::Zero)
        } else if ns > i64::MAX as u64 || ns > received_ns.saturating_add(FUTURE_SLACK_NS) {
            Some(TimeIssue::Future)
        } else if ns < SANE_SINCE_NS || ns < received_ns.saturating_sub(PAST_SLACK_NS) {
            Some(TimeIssue::TooOld)
        } else {
            None
        }
    }

    /// Of a span: its start, else its end (a span that ends before it
    /// starts is shown as such already; an end beyond the slack is
    /// suspect even when the start is fine).
    pub fn of_span(start_ns: u64, end_ns: u64, received_ns: u64) -> Option<TimeIssue> {
        TimeIssue::of(start_ns, received_ns).or_else(|| {
            (end_ns != 0)
                .then(|| TimeIssue::of(end_ns, received_ns))
                .flatten()
                .filter(|i| *i == TimeIssue::Future)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loupe's span flag bits are single bits, distinct from each other and
    /// from every flag of the UI's tree (`ui/src/tree.ts`, `F`, mirrored
    /// here; `ui/test/tree.test.ts` checks the other side).
    #[test]
    fn span_flag_bits_are_distinct() {
        const UI_TREE_FLAGS: &[u32] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
        let mut seen = 0u32;
        for &bit in UI_TREE_FLAGS.iter().chain(span_flags::ALL) {
            assert_eq!(bit.count_ones(), 1, "{bit} is one bit");
            assert_eq!(seen & bit, 0, "{bit} is used twice");
            seen |= bit;
        }
    }

    #[test]
    fn absurd_timestamps() {
        let now = 1_765_000_000_000_000_000; // December 2025
        assert_eq!(TimeIssue::of(0, now), Some(TimeIssue::Zero));
        let y2018 = 1_514_764_800_000_000_000;
        assert_eq!(TimeIssue::of(y2018, now), Some(TimeIssue::TooOld));
        assert_eq!(TimeIssue::of(now - PAST_SLACK_NS, now), None);
        assert_eq!(
            TimeIssue::of(now - PAST_SLACK_NS - 1, now),
            Some(TimeIssue::TooOld)
        );
        assert_eq!(
            TimeIssue::of(SANE_SINCE_NS - 1, now),
            Some(TimeIssue::TooOld)
        );
        assert_eq!(TimeIssue::of(SANE_SINCE_NS, SANE_SINCE_NS), None);
        assert_eq!(TimeIssue::of(now + FUTURE_SLACK_NS, now), None);
        assert_eq!(
            TimeIssue::of(now + FUTURE_SLACK_NS + 1, now),
            Some(TimeIssue::Future)
        );
        // No overflow near the top of the range, and past i64::MAX is future.
        assert_eq!(TimeIssue::of(u64::MAX, u64::MAX), Some(TimeIssue::Future));
        assert_eq!(
            TimeIssue::of(i64::MAX as u64 + 1, u64::MAX),
            Some(TimeIssue::Future)
        );
        // A span: the start decides, then an end far in the future.
        assert_eq!(TimeIssue::of_span(0, now, now), Some(TimeIssue::Zero));
        assert_eq!(TimeIssue::of_span(now, 0, now), None);
        assert_eq!(TimeIssue::of_span(now, now - 1, now), None);
        assert_eq!(
            TimeIssue::of_span(now, u64::MAX, now),
            Some(TimeIssue::Future)
        );
    }

    #[test]
    fn cast_is_bit_exact() {
        for v in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(from_sql(to_sql(v)), v);
        }
    }
}
