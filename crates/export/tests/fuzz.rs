//! Fuzzing imports (proptest, stable Rust): arbitrary bytes and mutated
//! valid files of every format the importer reads (OTLP JSON, JSON Lines,
//! JSON arrays, protobuf of each signal, Loupe HTML reports, gzip of
//! them). Every input must give a report or a typed error, never a panic,
//! within a memory bound. Long run: `LOUPE_FUZZ_CASES=100000 cargo test
//! -p loupe-export --test fuzz --release` (docs/fuzzing.md).

#[path = "../../otlp/tests/fuzz_support/mod.rs"]
mod fuzz_support;
#[path = "../../otlp/tests/fuzz_support/otlp.rs"]
mod otlp;

use std::io::Write;
use std::time::{Duration, Instant};

use fuzz_support::{config, mutated, peak_memory, Counting};
use loupe_export::import::{import, ImportError, MAX_LISTED, MAX_UNITS};
use loupe_export::ExportSummary;
use loupe_model::sink::{Batch, DropSink};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use prost::Message;

#[global_allocator]
static ALLOC: Counting = Counting;

/// Memory an import may take per byte of file (the file itself is the
/// caller's), plus slack: one decoded unit at a time, the list of units.
const PER_BYTE: usize = 160;
const SLACK: usize = 1 << 20;

fn run(bytes: &[u8], name: &str) -> Result<(), TestCaseError> {
    let (r, peak) = peak_memory(|| import(&DropSink, bytes, name, &mut |_| true));
    prop_assert!(
        peak <= PER_BYTE * bytes.len() + SLACK,
        "{peak} bytes allocated importing {} bytes",
        bytes.len()
    );
    match r {
        Ok(report) => {
            prop_assert!(report.skipped.len() <= MAX_LISTED);
            prop_assert!(report.skipped_count as usize >= report.skipped.len());
            prop_assert!(report.requests > 0);
        }
        Err(ImportError::Sink(_) | ImportError::Cancelled) => {
            return Err(TestCaseError::fail("the sink accepts everything"))
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(())
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(b).expect("gzip");
    enc.finish().expect("gzip")
}

/// A valid file of every format, from generated requests.
fn seeds() -> Vec<Vec<u8>> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut batches = Vec::new();
    for _ in 0..3 {
        batches.push(Batch::Traces(
            otlp::traces().new_tree(&mut runner).expect("gen").current(),
        ));
        batches.push(Batch::Logs(
            otlp::logs().new_tree(&mut runner).expect("gen").current(),
        ));
        batches.push(Batch::Metrics(
            otlp::metrics()
                .new_tree(&mut runner)
                .expect("gen")
                .current(),
        ));
    }
    let mut jsonl = Vec::new();
    for b in &batches {
        loupe_export::jsonl::write_line(&mut jsonl, b).expect("jsonl");
    }
    let lines: Vec<&[u8]> = jsonl
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let array = format!(
        "[{}]",
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(l))
            .collect::<Vec<_>>()
            .join(",\n")
    )
    .into_bytes();
    let mut html = Vec::new();
    loupe_export::html::write_report(&jsonl, &ExportSummary::default(), &mut html).expect("html");
    let mut out = vec![jsonl.clone(), array, html, lines[0].to_vec(), gzip(&jsonl)];
    for b in &batches[..3] {
        out.push(match b {
            Batch::Traces(r) => r.encode_to_vec(),
            Batch::Logs(r) => r.encode_to_vec(),
            Batch::Metrics(r) => r.encode_to_vec(),
        });
    }
    out
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn arbitrary_files_import_or_fail_typed(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        run(&bytes, "x")?;
        run(&bytes, "traces.pb")?;
    }

    #[test]
    fn mutated_files_import_or_fail_typed(
        bytes in mutated(seeds(), 8),
        name in proptest::sample::select(vec!["bug.jsonl", "logs.binpb", "metrics.pb", "spans.pb", "report.html"]),
    ) {
        run(&bytes, name)?;
        run(&gzip(&bytes), name)?;
    }

    /// Generated requests with arbitrary values, as JSON Lines and as
    /// protobuf: what the receiver accepts, the importer accepts.
    #[test]
    fn generated_requests_import(t in otlp::traces(), l in otlp::logs(), m in otlp::metrics()) {
        let mut jsonl = Vec::new();
        for b in [Batch::Traces(t.clone()), Batch::Logs(l), Batch::Metrics(m)] {
            loupe_export::jsonl::write_line(&mut jsonl, &b).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        run(&jsonl, "g.jsonl")?;
        run(&t.encode_to_vec(), "traces.pb")?;
    }
}

/// Line and column of each array element were found by scanning the file
/// from its start, once per element: quadratic, minutes for a large file of
/// small elements. Now counted incrementally.
#[test]
fn quadratic_array_positions_regression() {
    let n = 300_000;
    let file = format!("[{}]", vec!["{}"; n].join(",\n"));
    let started = Instant::now();
    let e = import(&DropSink, file.as_bytes(), "a.json", &mut |_| true).unwrap_err();
    assert!(matches!(e, ImportError::NothingValid { .. }), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// Units are two bytes at the least (`{}` and a comma, an empty protobuf
/// entry): the list of them was unbounded (24 bytes per 2-byte entry).
/// Over [`MAX_UNITS`] the file is refused before anything is stored.
#[test]
fn unbounded_unit_list_regression() {
    let pb = [0x0a, 0x00].repeat(MAX_UNITS + 1);
    let array = format!("[{}]", vec!["{}"; MAX_UNITS + 1].join(","));
    let lines = "{}\n".repeat(MAX_UNITS + 1);
    for (name, file) in [
        ("x.pb", pb),
        ("x.json", array.into_bytes()),
        ("x.jsonl", lines.into_bytes()),
    ] {
        let e = import(&DropSink, &file, name, &mut |_| true).unwrap_err();
        assert!(matches!(e, ImportError::TooManyUnits { .. }), "{name}: {e}");
        assert!(e.is_too_large());
    }
}

/// A small gzip that inflates past the limit is refused while inflating.
#[test]
fn gzip_bomb_import_is_refused_while_inflating() {
    let limit = loupe_export::import::MAX_FILE_BYTES;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mb = vec![b'{'; 1 << 20];
    for _ in 0..=(limit >> 20) {
        enc.write_all(&mb).expect("gzip");
    }
    let bomb = enc.finish().expect("gzip");
    let (r, peak) = peak_memory(|| import(&DropSink, &bomb, "b.gz", &mut |_| true));
    let e = r.unwrap_err();
    assert!(matches!(e, ImportError::Inflated { .. }), "{e}");
    assert!(peak <= limit + (4 << 20), "{peak}");
}
