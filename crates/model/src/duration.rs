//! Durations as people type them, one grammar for every place that takes
//! one: query parameters (`minDuration`, `now-15m`), alert rules (`window`,
//! `for`), configuration (`max_age`), the command line and the terminal
//! commands (`--since`, `--interval`).
//!
//! Grammar: one or more `<number><unit>` terms, summed (`1h30m`, `1.5s`,
//! `2m30.5s`), where a number is decimal digits with an optional fraction
//! and a unit is `ns`, `us` or `µs`, `ms`, `s`, `m`, `h` or `d`; or a bare
//! integer, which is nanoseconds (`0`, `42`). Arithmetic is exact and
//! checked: a value past `u64::MAX` nanoseconds (about 584 years) is an
//! error, never a wrap or a panic; fractions below a nanosecond are
//! dropped. Inputs are bounded ([`MAX_LEN`]) because they come from the
//! network.

use std::fmt;

/// Longest input accepted, in bytes (after trimming): far more than any
/// real duration, little enough that a hostile one costs nothing.
pub const MAX_LEN: usize = 64;

/// Units from largest to smallest: the printer takes the first that
/// divides a value exactly.
const UNITS: [(&str, u64); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Why a text is not a duration. Each message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("an empty text is not a duration; write one like 30s, 5m, 1h30m or 250ms")]
    Empty,
    #[error("a duration of {len} bytes is longer than the limit of {MAX_LEN}")]
    TooLong { len: usize },
    #[error("{input:?} is not a duration (like 250ms, 1.5s, 5m or 1h30m)")]
    Syntax { input: String },
    #[error("unknown unit {unit:?} in {input:?}; use ns, us, ms, s, m, h or d")]
    UnknownUnit { unit: String, input: String },
    #[error("{input:?} needs a unit, like {input}s or {input}m")]
    NoUnit { input: String },
    #[error("{input:?} is out of range (at most about 584 years)")]
    Overflow { input: String },
}

/// Parses a duration into nanoseconds; a bare integer is nanoseconds.
pub fn parse(s: &str) -> Result<u64, DurationError> {
    let t = checked_input(s)?;
    if let Some(n) = bare(t)? {
        return Ok(n);
    }
    terms(t)
}

/// Like [`parse`], but a bare number other than `0` is refused: where a
/// duration is written in a file (alert rules), `5` is more likely a
/// forgotten unit than five nanoseconds.
pub fn parse_with_unit(s: &str) -> Result<u64, DurationError> {
    let t = checked_input(s)?;
    match bare(t)? {
        Some(0) => Ok(0),
        Some(_) => Err(DurationError::NoUnit { input: t.into() }),
        None => terms(t),
    }
}

/// Prints nanoseconds in the largest unit that divides them exactly
/// (`90m`, `1500ms`, `0s`), which [`parse`] reads back to the same value.
pub fn format(ns: u64) -> String {
    Exact(ns).to_string()
}

/// [`format`] as a `Display` value, for `write!` and `collect_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact(pub u64);

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for (unit, mult) in UNITS {
            if self.0.is_multiple_of(mult) {
                return write!(f, "{}{unit}", self.0 / mult);
            }
        }
        write!(f, "{}ns", self.0)
    }
}

fn checked_input(s: &str) -> Result<&str, DurationError> {
    let t = s.trim();
    if t.len() > MAX_LEN {
        return Err(DurationError::TooLong { len: t.len() });
    }
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    Ok(t)
}

/// A text of digits only, as nanoseconds; `None` when it has anything else.
fn bare(t: &str) -> Result<Option<u64>, DurationError> {
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| DurationError::Overflow { input: t.into() })
}

/// `<number><unit>` terms, summed.
fn terms(t: &str) -> Result<u64, DurationError> {
    let syntax = || DurationError::Syntax { input: t.into() };
    let overflow = || DurationError::Overflow { input: t.into() };
    let mut rest = t;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if num.is_empty() {
            return Err(syntax());
        }
        if unit.is_empty() {
            return Err(DurationError::NoUnit { input: t.into() });
        }
        let mult = match unit {
            "µs" => 1_000,
            u => UNITS
                .iter()
                .find(|(name, _)| *name == u)
                .map(|(_, m)| *m)
                .ok_or_else(|| DurationError::UnknownUnit {
                    unit: u.into(),
                    input: t.into(),
                })?,
        };
        total = total
            .checked_add(term(num, mult).ok_or_else(overflow)?.ok_or_else(syntax)?)
            .ok_or_else(overflow)?;
        rest = after;
    }
    Ok(total)
}

/// One number times its unit: `None` on overflow, `Some(None)` when the
/// number is malformed (no digits, or more than one `.`).
fn term(num: &str, mult: u64) -> Option<Option<u64>> {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Some(None);
    }
    let whole = if int.is_empty() {
        0
    } else {
        // Only digits here, so a failure is a number too large for u64.
        int.parse::<u64>().ok()?.checked_mul(mult)?
    };
    // Digits past the 19th are below a nanosecond for every unit (a day is
    // 8.64e13 ns), and 19 digits times a unit fit in u128.
    let frac = &frac[..frac.len().min(19)];
    let part = if frac.is_empty() {
        0
    } else {
        let digits: u128 = frac.parse().ok()?;
        let scale = 10u128.pow(frac.len() as u32);
        u64::try_from(digits * mult as u128 / scale).ok()?
    };
    Some(Some(whole.checked_add(part)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn single_and_compound_units() {
        for (text, ns) in [
            ("250ms", 250_000_000),
            ("1.5s", 1_500_000_000),
            ("100us", 100_000),
            ("100µs", 100_000),
            ("10ns", 10),
            ("5m", 300 * S),
            ("2h", 7200 * S),
            ("1d", 86_400 * S),
            ("1h30m", 5400 * S),
            ("2m30.5s", 150 * S + S / 2),
            (".5s", S / 2),
            ("1.s", S),
            ("  7d ", 7 * 86_400 * S),
            ("42", 42),
            ("0", 0),
            ("0s", 0),
            ("1.1s", 1_100_000_000),
            ("0.5ns", 0),
            ("1.0000000000000000000001h", 3600 * S),
        ] {
            assert_eq!(parse(text), Ok(ns), "{text}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            "", " ", "m", "5 m", "5parsecs", "-1s", "+1s", "1e3s", "1..5s", ".s", "1h30", "s5",
            "5M", "1,5s", "∞", "NaN", "5ms5", "1h 30m",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse("12parsecs"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(parse("1h30"), Err(DurationError::NoUnit { .. })));
        assert_eq!(parse(""), Err(DurationError::Empty));
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        for big in [
            "18446744073709551616",
            "18446744073709551616ns",
            "213504d",
            "99999999999999999999999d",
            "5124096h",
            "584y",
            "150000d150000d",
            "18446744073709551615ns1ns",
        ] {
            assert!(parse(big).is_err(), "{big}");
        }
        assert!(matches!(
            parse("213504d"),
            Err(DurationError::Overflow { .. })
        ));
        assert_eq!(parse("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse("18446744073709551615ns"), Ok(u64::MAX));
        assert_eq!(parse("213503d"), Ok(213_503 * 86_400 * S));
    }

    #[test]
    fn input_is_bounded() {
        let long = "1s".repeat(MAX_LEN);
        assert_eq!(
            parse(&long),
            Err(DurationError::TooLong { len: long.len() })
        );
        assert_eq!(parse(&"1s".repeat(MAX_LEN / 2)), Ok(MAX_LEN as u64 / 2 * S));
    }

    #[test]
    fn unit_required_where_asked() {
        assert_eq!(parse_with_unit("0"), Ok(0));
        assert_eq!(parse_with_unit("5m"), Ok(300 * S));
        assert!(matches!(
            parse_with_unit("5"),
            Err(DurationError::NoUnit { .. })
        ));
    }

    #[test]
    fn printer_uses_the_largest_exact_unit_and_round_trips() {
        for (ns, text) in [
            (0, "0s"),
            (300 * S, "5m"),
            (5400 * S, "90m"),
            (1_500_000_000, "1500ms"),
            (86_400 * S, "1d"),
            (1, "1ns"),
            (u64::MAX, "18446744073709551615ns"),
        ] {
            assert_eq!(format(ns), text);
            assert_eq!(parse(text), Ok(ns));
        }
    }
}
