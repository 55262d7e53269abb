//! The workload's clock: spans are written as millisecond offsets from
//! their trace's start, OTLP wants Unix nanoseconds.

const NS_PER_MS: u64 = 1_000_000;
pub(crate) const NS_PER_S: u64 = 1_000_000_000;

pub(crate) fn at(base: u64, ms: f64) -> u64 {
    base + (ms * NS_PER_MS as f64).round() as u64
}
