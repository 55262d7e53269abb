//! Axis ticks and labels: time ticks on round clock values (in the viewer's
//! UTC offset) and value ticks on round numbers of the printed unit
//! ([`crate::unit`] prints the labels).

use crate::unit::Unit;

const S: u64 = 1_000_000_000;

/// Tick steps a time axis may use, in nanoseconds.
const STEPS: &[u64] = &[
    1_000_000,
    10_000_000,
    100_000_000,
    S,
    2 * S,
    5 * S,
    10 * S,
    15 * S,
    30 * S,
    60 * S,
    2 * 60 * S,
    5 * 60 * S,
    10 * 60 * S,
    15 * 60 * S,
    30 * 60 * S,
    3600 * S,
    2 * 3600 * S,
    3 * 3600 * S,
    6 * 3600 * S,
    12 * 3600 * S,
    86400 * S,
    2 * 86400 * S,
    7 * 86400 * S,
];

/// Ticks inside `[start, end]`, at most about `max_ticks`, on multiples of a
/// round step in local time (`offset_s` seconds east of UTC). Returns the
/// step too, which decides the label format.
pub fn time_ticks(start: u64, end: u64, max_ticks: usize, offset_s: i64) -> (u64, Vec<u64>) {
    let span = end.saturating_sub(start).max(1);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= max_ticks.max(1) as u64)
        .unwrap_or(30 * 86400 * S);
    let shift = offset_s.rem_euclid(86400) as u64 * S;
    let local = start.saturating_add(shift);
    // Checked: a range near u64::MAX has no round tick past its start.
    let Some(mut t) = local
        .div_ceil(step)
        .checked_mul(step)
        .and_then(|f| f.checked_sub(shift))
    else {
        return (step, Vec::new());
    };
    let mut out = Vec::new();
    while t <= end && out.len() < 64 {
        if t >= start {
            out.push(t);
        }
        match t.checked_add(step) {
            Some(next) => t = next,
            None => break,
        }
    }
    (step, out)
}

/// A time label for a tick: `HH:MM:SS.mmm`, `HH:MM:SS`, `HH:MM` or `MM-DD`
/// depending on the step, in local time (`offset_s` east of UTC).
pub fn time_label(t: u64, step: u64, offset_s: i64) -> String {
    let secs = (t / S) as i64 + offset_s;
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let (h, m, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
    if step < S {
        format!("{h:02}:{m:02}:{s:02}.{:03}", (t % S) / 1_000_000)
    } else if step < 60 * S {
        format!("{h:02}:{m:02}:{s:02}")
    } else if step < 86400 * S && (h, m) != (0, 0) {
        format!("{h:02}:{m:02}")
    } else {
        let (_, mo, d) = civil_from_days(days);
        format!("{mo:02}-{d:02}")
    }
}

/// Days since 1970-01-01 into (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// [`value_ticks`] on round numbers of the unit that is printed: a range of
/// 0 to 900 KiB gets ticks at 0, 200 KiB, 400 KiB… rather than at round
/// byte counts.
pub fn unit_ticks(lo: f64, hi: f64, max_ticks: usize, unit: &Unit) -> (f64, f64, Vec<f64>) {
    let a = if lo.is_finite() && hi.is_finite() {
        lo.abs().max(hi.abs())
    } else {
        1.0
    };
    let size = unit.step_size(a);
    if !(size.is_finite() && size > 0.0) {
        return value_ticks(lo, hi, max_ticks);
    }
    let (l, h, t) = value_ticks(lo / size, hi / size, max_ticks);
    (
        l * size,
        h * size,
        t.into_iter().map(|v| v * size).collect(),
    )
}

/// A "nice" value range covering `[lo, hi]` (starting at 0 when all values
/// are positive and near enough to it), and ticks on round steps.
pub fn value_ticks(lo: f64, hi: f64, max_ticks: usize) -> (f64, f64, Vec<f64>) {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    if lo >= 0.0 && lo <= hi * 0.5 {
        lo = 0.0;
    }
    if hi == lo {
        let pad = if hi == 0.0 { 1.0 } else { hi.abs() * 0.1 };
        hi += pad;
        if lo != 0.0 {
            lo -= pad;
        }
    }
    let raw = (hi - lo) / max_ticks.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let lo = (lo / step).floor() * step;
    let hi = (hi / step).ceil() * step;
    let mut ticks = Vec::new();
    let mut i = 0;
    loop {
        let t = lo + step * i as f64;
        if t > hi + step * 1e-9 || i > 50 {
            break;
        }
        ticks.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        i += 1;
    }
    (lo, hi, ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ticks_fall_on_round_local_times() {
        // 2026-11-21T10:07:13Z .. +1h, at most 4 ticks: 15-minute ticks at :15, :30, :45, :00.
        let start = 1_795_255_633 * S;
        let (step, ticks) = time_ticks(start, start + 3600 * S, 4, 0);
        assert_eq!(step, 15 * 60 * S);
        let labels: Vec<String> = ticks.iter().map(|t| time_label(*t, step, 0)).collect();
        assert_eq!(labels, ["10:15", "10:30", "10:45", "11:00"]);
        // The same instants one hour east of UTC; 5.5 hours (India) keeps them round.
        let labels: Vec<String> = ticks.iter().map(|t| time_label(*t, step, 3600)).collect();
        assert_eq!(labels, ["11:15", "11:30", "11:45", "12:00"]);
        let (_, ticks) = time_ticks(start, start + 3600 * S, 4, 19800);
        let labels: Vec<String> = ticks.iter().map(|t| time_label(*t, step, 19800)).collect();
        assert_eq!(labels, ["15:45", "16:00", "16:15", "16:30"]);
        assert_eq!(time_label(1_795_219_200 * S, 86400 * S, 0), "11-21");
    }

    #[test]
    fn byte_ticks_fall_on_binary_units() {
        let (lo, hi, t) = unit_ticks(0.0, 900.0 * 1024.0, 5, &Unit::parse("By"));
        assert_eq!((lo, hi), (0.0, 1000.0 * 1024.0));
        let labels: Vec<String> = t.iter().map(|v| Unit::parse("By").format(*v, 4)).collect();
        assert_eq!(
            labels,
            ["0 B", "200 KiB", "400 KiB", "600 KiB", "800 KiB", "1000 KiB"]
        );
        let (_, _, t) = unit_ticks(0.0, 0.9, 5, &Unit::parse("s"));
        let labels: Vec<String> = t.iter().map(|v| Unit::parse("s").format(*v, 4)).collect();
        assert_eq!(
            labels,
            ["0 s", "200 ms", "400 ms", "600 ms", "800 ms", "1 s"]
        );
    }

    #[test]
    fn value_ticks_are_round() {
        let (lo, hi, t) = value_ticks(3.0, 97.0, 5);
        assert_eq!((lo, hi), (0.0, 100.0));
        assert_eq!(t, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        let (lo, hi, _) = value_ticks(5.0, 5.0, 5);
        assert!(lo < 5.0 && hi > 5.0, "{lo}..{hi}");
    }
}
