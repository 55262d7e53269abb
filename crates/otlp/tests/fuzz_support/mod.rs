//! What the fuzz tests of every crate share (each includes this file with
//! `#[path]`): the case count, structure-aware mutations of valid inputs,
//! and an allocator that measures the memory a call takes.
//!
//! Fuzzing runs on stable Rust as proptest properties, inside the normal
//! test suite with few cases; `LOUPE_FUZZ_CASES=100000` makes a long run
//! (see docs/fuzzing.md).

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;

/// Cases per property: `LOUPE_FUZZ_CASES`, else `default` (small, so the
/// whole suite's fuzzing stays around a minute on two cores).
pub fn cases(default: u32) -> u32 {
    std::env::var("LOUPE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A proptest configuration with [`cases`] and no failure files (a failure
/// prints its minimal input; regressions become named tests).
pub fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One edit of a byte string: what a truncated upload, a flipped bit or a
/// hostile length prefix looks like.
#[derive(Debug, Clone)]
pub enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Set {
        at: usize,
        byte: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
    /// Repeats a slice in place (grows repeated fields, nesting).
    Repeat {
        at: usize,
        len: usize,
        times: usize,
    },
}

/// Bytes that mean something to the formats fuzzed: varint extremes,
/// protobuf tags and wire types, JSON and YAML structure, NUL, UTF-8 edges.
fn interesting() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        Just(vec![0xff; 10]),
        Just(vec![0x80; 11]),
        Just(vec![0x0a, 0x00]),
        Just(vec![0x12, 0x7f]),
        Just(vec![0x0b]),
        Just(vec![0x00]),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\\u0000".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"1e999".to_vec()),
        Just(b"-9223372036854775809".to_vec()),
        Just(b"18446744073709551616".to_vec()),
        Just(b"NaN".to_vec()),
        Just(b"&a *a".to_vec()),
        Just(b"!!binary".to_vec()),
        Just("é\u{feff}\u{10ffff}".as_bytes().to_vec()),
        Just(vec![0xc3]),
        proptest::collection::vec(any::<u8>(), 1..8),
    ]
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (at, any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (at, interesting()).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at, 1usize..16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        at.prop_map(|at| Mutation::Truncate { at }),
        (at, 1usize..64, 1usize..64).prop_map(|(at, len, times)| Mutation::Repeat {
            at,
            len,
            times
        }),
    ]
}

/// Applies mutations in order (positions wrap around the current length).
pub fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let n = b.len();
        let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
        match m {
            Mutation::Flip { at, bit } if n > 0 => b[at % n] ^= 1 << bit,
            Mutation::Set { at, byte } if n > 0 => b[at % n] = *byte,
            Mutation::Insert { at, bytes } => {
                let p = pos(*at);
                b.splice(p..p, bytes.iter().copied());
            }
            Mutation::Delete { at, len } if n > 0 => {
                let p = at % n;
                b.drain(p..(p + len).min(n));
            }
            Mutation::Truncate { at } => b.truncate(pos(*at)),
            Mutation::Repeat { at, len, times } if n > 0 => {
                let p = at % n;
                let slice = b[p..(p + len).min(n)].to_vec();
                let rep = slice.repeat(*times);
                b.splice(p..p, rep);
            }
            _ => {}
        }
    }
    b
}

/// A seed from `seeds` with up to `max` mutations applied.
pub fn mutated(seeds: Vec<Vec<u8>>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(seeds),
        proptest::collection::vec(mutation(), 0..=max),
    )
        .prop_map(|(seed, ms)| mutate(seed, &ms))
}

/// Text inputs for text parsers: arbitrary strings, and mutated seeds
/// turned back into text.
pub fn mutated_text(seeds: &[&str], max: usize) -> impl Strategy<Value = String> {
    let seeds: Vec<Vec<u8>> = seeds.iter().map(|s| s.as_bytes().to_vec()).collect();
    prop_oneof![
        any::<String>(),
        mutated(seeds, max).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

// ------------------------------------------------------------ memory

thread_local! {
    /// Bytes allocated minus freed by this thread (may go negative when it
    /// frees what another allocated).
    static NOW: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// The system allocator, counting per thread: tests run on several threads
/// at once, and each measures only its own allocations.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        add(new as isize - l.size() as isize);
        System.realloc(p, l, new)
    }
}

fn add(d: isize) {
    let _ = NOW.try_with(|n| {
        let v = n.get() + d;
        n.set(v);
        let _ = PEAK.try_with(|p| {
            if v > p.get() {
                p.set(v)
            }
        });
    });
}

/// Runs `f` and answers its result and the most memory it held at once
/// (bytes above what the thread held before), counting what it returns.
pub fn peak_memory<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let start = NOW.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    let peak = PEAK.with(Cell::get);
    (r, (peak - start).max(0) as usize)
}
