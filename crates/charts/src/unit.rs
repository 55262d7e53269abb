//! Values with their units: the metric's UCUM unit (OTLP's `unit` field,
//! e.g. `s`, `ms`, `By`, `{request}`, `%`, `1`) read once into a [`Unit`],
//! and values printed the way people read them: `812.5 ms` rather than
//! `812.5m` for 0.8125 s, `1.5 MiB` rather than `1.57M` for bytes, `0.1/s`
//! rather than `100m` for a rate.
//!
//! The UI prints its read-outs with the same rules (`formatUnit` in
//! `ui/src/explore.ts`, from the [`Unit`] the chart answer carries); both
//! are tested against the same examples.

use serde::Serialize;

/// What kind of quantity a unit measures, which decides how values scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub enum UnitKind {
    /// Durations: printed in ns, µs, ms, s, min or h.
    Time,
    /// Sizes: printed in B, KiB, MiB, GiB, TiB (binary multiples).
    Bytes,
    /// Percentages (`%`): printed as they are, with `%`.
    Percent,
    /// Anything else: counts, ratios (`1`), annotations (`{request}`) and
    /// units we do not scale (`m`, `Cel`…): decimals, then k, M, G, T for
    /// large values; never a milli prefix, which would read as a unit.
    Plain,
}

/// A metric's unit, as the chart prints it.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Unit {
    pub kind: UnitKind,
    /// A value times `scale` is in the kind's base unit (seconds, bytes):
    /// `ms` is 0.001.
    pub scale: f64,
    /// For [`UnitKind::Plain`]: what follows the number (empty for counts,
    /// ratios and annotations).
    pub symbol: String,
    /// The values are rates: `/s` follows the unit.
    pub per_second: bool,
}

impl Default for Unit {
    fn default() -> Self {
        Unit {
            kind: UnitKind::Plain,
            scale: 1.0,
            symbol: String::new(),
            per_second: false,
        }
    }
}

/// Longest symbol of an unknown unit shown beside values.
const MAX_SYMBOL_CHARS: usize = 12;

impl Unit {
    /// Reads an OTLP metric's UCUM unit. Unknown units keep their text as a
    /// symbol (cut to a few characters); annotations (`{request}`) and `1`
    /// are dimensionless; a `/s` suffix means a rate.
    pub fn parse(ucum: &str) -> Unit {
        let u = ucum.trim();
        let (base, per_second) = match u.strip_suffix("/s") {
            Some(b) => (b, true),
            None => (u, false),
        };
        let mut unit = Unit::base(base);
        unit.per_second = per_second;
        unit
    }

    fn base(u: &str) -> Unit {
        let of = |kind, scale: f64| Unit {
            kind,
            scale,
            symbol: String::new(),
            per_second: false,
        };
        match u {
            "ns" => of(UnitKind::Time, 1e-9),
            "us" | "µs" => of(UnitKind::Time, 1e-6),
            "ms" => of(UnitKind::Time, 1e-3),
            "s" => of(UnitKind::Time, 1.0),
            "min" => of(UnitKind::Time, 60.0),
            "h" => of(UnitKind::Time, 3600.0),
            "d" => of(UnitKind::Time, 86400.0),
            "By" => of(UnitKind::Bytes, 1.0),
            "kBy" => of(UnitKind::Bytes, 1e3),
            "KiBy" => of(UnitKind::Bytes, 1024.0),
            "MBy" => of(UnitKind::Bytes, 1e6),
            "MiBy" => of(UnitKind::Bytes, 1024.0 * 1024.0),
            "GBy" => of(UnitKind::Bytes, 1e9),
            "GiBy" => of(UnitKind::Bytes, 1024.0 * 1024.0 * 1024.0),
            "bit" => of(UnitKind::Bytes, 0.125),
            "%" => of(UnitKind::Percent, 1.0),
            "" | "1" => of(UnitKind::Plain, 1.0),
            // An annotation alone (`{request}`) is a count.
            a if a.starts_with('{') && a.ends_with('}') => of(UnitKind::Plain, 1.0),
            "Cel" => Unit {
                symbol: "°C".into(),
                ..of(UnitKind::Plain, 1.0)
            },
            other => Unit {
                symbol: other.chars().take(MAX_SYMBOL_CHARS).collect(),
                ..of(UnitKind::Plain, 1.0)
            },
        }
    }

    /// The same unit per second (a counter's rate).
    pub fn rate(mut self) -> Unit {
        self.per_second = true;
        self
    }

    /// `v` with its unit, at most `digits` significant digits (trailing
    /// zeros dropped). NaN prints as `–`.
    pub fn format(&self, v: f64, digits: usize) -> String {
        if v.is_nan() {
            return "–".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
        }
        let per = if self.per_second { "/s" } else { "" };
        let base = v * self.scale;
        let (size, sym) = self.pick(base.abs());
        let num = significant(base / size, digits);
        match self.kind {
            UnitKind::Percent => format!("{num}%{per}"),
            UnitKind::Plain => {
                let space = if self.symbol.is_empty() { "" } else { " " };
                format!("{num}{sym}{space}{}{per}", self.symbol)
            }
            _ => format!("{num} {sym}{per}"),
        }
    }

    /// The printed unit for a magnitude `a` in the base unit: its size in
    /// the base unit and its symbol (for plain values the k/M/G/T suffix).
    fn pick(&self, a: f64) -> (f64, &'static str) {
        const K: f64 = 1024.0;
        match self.kind {
            UnitKind::Time => match a {
                0.0 => (1.0, "s"),
                a if a < 1e-6 => (1e-9, "ns"),
                a if a < 1e-3 => (1e-6, "µs"),
                a if a < 1.0 => (1e-3, "ms"),
                a if a < 60.0 => (1.0, "s"),
                a if a < 3600.0 => (60.0, "min"),
                _ => (3600.0, "h"),
            },
            UnitKind::Bytes => match a {
                a if a < K => (1.0, "B"),
                a if a < K * K => (K, "KiB"),
                a if a < K * K * K => (K * K, "MiB"),
                a if a < K * K * K * K => (K * K * K, "GiB"),
                _ => (K * K * K * K, "TiB"),
            },
            UnitKind::Percent => (1.0, "%"),
            UnitKind::Plain => match a {
                a if a >= 1e12 => (1e12, "T"),
                a if a >= 1e9 => (1e9, "G"),
                a if a >= 1e6 => (1e6, "M"),
                a if a >= 1e4 => (1e3, "k"),
                _ => (1.0, ""),
            },
        }
    }

    /// The size, in this unit, of the printed unit chosen for magnitude `a`
    /// (in this unit): axis ticks fall on round numbers of what is printed
    /// (0, 256 KiB, 512 KiB rather than 0, 500000 B).
    pub fn step_size(&self, a: f64) -> f64 {
        let base = a * self.scale;
        let (size, _) = self.pick(base);
        if self.scale > 0.0 && self.scale.is_finite() {
            size / self.scale
        } else {
            1.0
        }
    }
}

/// `v` with at most `digits` significant digits (at least one), as a plain
/// decimal for magnitudes from 1e-4 up, else in exponent form; trailing
/// zeros dropped.
pub fn significant(v: f64, digits: usize) -> String {
    let digits = digits.clamp(1, 12);
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a < 1e-4 {
        let s = format!("{:.*e}", digits - 1, v);
        // 1.50e-5 → 1.5e-5
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            _ => s,
        };
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples `ui/src/explore.test.ts` checks `formatUnit` against.
    pub const EXAMPLES: &[(&str, f64, &str)] = &[
        ("s", 0.8125, "812.5 ms"),
        ("s", 0.81, "810 ms"),
        ("s", 12.0, "12 s"),
        ("s", 90.0, "1.5 min"),
        ("s", 0.000_25, "250 µs"),
        ("ms", 1500.0, "1.5 s"),
        ("ns", 42.0, "42 ns"),
        ("By", 512.0, "512 B"),
        ("By", 1536.0, "1.5 KiB"),
        ("By", 5.0 * 1024.0 * 1024.0, "5 MiB"),
        ("MiBy", 2048.0, "2 GiB"),
        ("%", 42.5, "42.5%"),
        ("1", 0.25, "0.25"),
        ("{request}", 15000.0, "15k"),
        ("1/s", 0.1, "0.1/s"),
        ("{request}/s", 2.5, "2.5/s"),
        ("By/s", 2048.0, "2 KiB/s"),
        ("m", 3.0, "3 m"),
        ("Cel", 21.5, "21.5 °C"),
    ];

    #[test]
    fn values_read_with_their_units() {
        for (u, v, want) in EXAMPLES {
            assert_eq!(Unit::parse(u).format(*v, 4), *want, "{v} {u}");
        }
        assert_eq!(Unit::parse("{request}").rate().format(0.1, 4), "0.1/s");
        assert_eq!(Unit::parse("s").rate().format(0.25, 3), "250 ms/s");
        assert_eq!(Unit::parse("").format(0.000_012, 3), "1.2e-5");
        assert_eq!(Unit::parse("").format(f64::NAN, 3), "–");
        assert_eq!(Unit::parse("s").format(0.0, 3), "0 s");
        assert_eq!(Unit::parse("s").format(-0.5, 3), "-500 ms");
    }

    #[test]
    fn p50_and_p99_differ_in_print() {
        let u = Unit::parse("s");
        assert_ne!(u.format(0.8125, 4), u.format(0.8375, 4));
        assert_eq!(u.format(0.8375, 4), "837.5 ms");
    }

    #[test]
    fn unknown_units_are_cut() {
        let u = Unit::parse(&"x".repeat(1000));
        assert_eq!(u.symbol.chars().count(), MAX_SYMBOL_CHARS);
    }
}
