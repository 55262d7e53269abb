//! Log severities: the OTLP log data model's numbers (1-24) in six named
//! ranges of four. Query parameters, alert conditions, the MCP tools and the
//! terminal all read and print severities through this one table, so
//! `ERROR` means 17 everywhere.

/// The named ranges, lowest number first: (name, first number).
const RANGES: [(&str, i32); 6] = [
    ("TRACE", TRACE),
    ("DEBUG", DEBUG),
    ("INFO", INFO),
    ("WARN", WARN),
    ("ERROR", ERROR),
    ("FATAL", FATAL),
];

pub const TRACE: i32 = 1;
pub const DEBUG: i32 = 5;
pub const INFO: i32 = 9;
pub const WARN: i32 = 13;
/// The lowest error severity: "has errors" means a record at or above it.
pub const ERROR: i32 = 17;
pub const FATAL: i32 = 21;
/// The highest severity number the data model defines.
pub const MAX: i32 = 24;

/// The first number of a named range (`error` → 17), any case;
/// `WARNING` is accepted for `WARN`.
pub fn from_name(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let upper = if upper == "WARNING" { "WARN" } else { &upper };
    RANGES.iter().find(|(n, _)| *n == upper).map(|(_, v)| *v)
}

/// A severity as people type it: a name ([`from_name`]) or a number 1-24.
pub fn parse(s: &str) -> Option<i32> {
    match s.trim().parse::<i32>() {
        Ok(n) => (TRACE..=MAX).contains(&n).then_some(n),
        Err(_) => from_name(s),
    }
}

/// The name of the range a number falls in (`19` → `ERROR`), or `""`
/// for 0 (unspecified) and numbers outside 1-24.
pub fn name(n: i64) -> &'static str {
    if !(TRACE as i64..=MAX as i64).contains(&n) {
        return "";
    }
    RANGES
        .iter()
        .rev()
        .find(|(_, first)| n >= *first as i64)
        .map_or("", |(name, _)| name)
}

/// What [`parse`] accepts, for error messages.
pub const EXPECTED: &str = "1-24, or TRACE, DEBUG, INFO, WARN, ERROR, FATAL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(from_name("error"), Some(17));
        assert_eq!(from_name("Warning"), Some(13));
        assert_eq!(from_name("loud"), None);
        assert_eq!(parse("24"), Some(24));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("25"), None);
        assert_eq!(parse("fatal"), Some(21));
        for (n, want) in [
            (0, ""),
            (1, "TRACE"),
            (4, "TRACE"),
            (5, "DEBUG"),
            (12, "INFO"),
            (13, "WARN"),
            (17, "ERROR"),
            (20, "ERROR"),
            (24, "FATAL"),
            (25, ""),
            (-3, ""),
        ] {
            assert_eq!(name(n), want, "{n}");
        }
        for (n, first) in RANGES {
            assert_eq!(parse(n), Some(first));
            assert_eq!(name(first as i64), n);
        }
    }
}
