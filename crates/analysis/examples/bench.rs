//! Prints how long each analysis takes on generated traces:
//! `cargo run -p loupe-analysis --release --example bench`.
//! Targets (issue 15): ≤ 200 ms per analysis of a 100k-span trace,
//! ≤ 100 ms to compare two 10k-span traces.

use std::time::Instant;

use loupe_analysis::{
    compare, critical, runs, servicemap, stats, tree::Tree, Span, SpanId, TraceId,
};

/// A workflow-shaped trace: a root, `n / 100` tasks of ~100 spans each
/// (nested 3 deep, some parallel), 8 services; `seed` varies durations.
fn generate(n: usize, t: u8, seed: u64) -> Vec<Span> {
    let mut spans = Vec::with_capacity(n);
    let mut rng = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let id = |i: usize| {
        let mut b = [0u8; 8];
        b[0] = 1;
        b[2..].copy_from_slice(&(i as u64).to_be_bytes()[2..]);
        SpanId(b)
    };
    let span = |i: usize, p: Option<usize>, svc: usize, name: String, start: u64, end: u64| Span {
        trace_id: TraceId([t; 16]),
        span_id: id(i),
        parent_id: p.map(id),
        service: format!("service-{svc}"),
        name,
        start,
        end,
        error: false,
        kind: 1,
        links: vec![],
        attrs: vec![],
    };
    spans.push(span(0, None, 0, "flow".into(), 0, 0));
    let mut at = 1_000u64;
    let mut k = 1;
    let mut task = 0;
    while k < n {
        let task_id = k;
        let tstart = at;
        spans.push(span(
            k,
            Some(0),
            1,
            format!("task-{}", task % 50),
            tstart,
            0,
        ));
        k += 1;
        let mut cursor = tstart + 10;
        let mut sub = 0;
        while k < n && sub < 33 {
            // A step with two parallel calls under it.
            let step = k;
            let d = 1_000 + next() % 50_000;
            spans.push(span(
                k,
                Some(task_id),
                2 + sub % 6,
                format!("step-{}", sub % 10),
                cursor,
                cursor + d,
            ));
            k += 1;
            for j in 0..2 {
                if k >= n {
                    break;
                }
                let cd = 100 + next() % (d - 200);
                spans.push(span(
                    k,
                    Some(step),
                    2 + (sub + j + 1) % 6,
                    "call".into(),
                    cursor + 50,
                    cursor + 50 + cd,
                ));
                k += 1;
            }
            cursor += d;
            sub += 1;
        }
        spans[task_id].end = cursor + 10;
        at = cursor + 100;
        task += 1;
    }
    spans[0].end = at;
    spans
}

/// This thread's CPU time in nanoseconds (Linux), so the figures mean
/// something on a machine shared with other builds; `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let c = cpu_ns();
    let t = Instant::now();
    let v = f();
    let wall = t.elapsed().as_secs_f64() * 1e3;
    match (c, cpu_ns()) {
        (Some(a), Some(b)) => println!(
            "{label:<44} {wall:>8.1} ms wall {:>8.1} ms CPU",
            (b - a) as f64 / 1e6
        ),
        _ => println!("{label:<44} {wall:>8.1} ms wall"),
    }
    v
}

fn main() {
    let big = generate(100_000, 1, 1);
    println!("spans: {}", big.len());
    let tree = time("tree build (100k)", || Tree::build(&big, None));
    time("critical path (100k, incl. tree build)", || {
        critical::critical_path(&Tree::build(&big, None))
            .unwrap()
            .segments
            .len()
    });
    time("statistics (100k, incl. tree build)", || {
        stats::statistics(&Tree::build(&big, None)).operations.len()
    });
    time("service map (100k, incl. tree build)", || {
        servicemap::service_map(&Tree::build(&big, None))
            .edges
            .len()
    });
    time("run key (100k, tree built)", || {
        runs::run_key(&tree, &["kestra.flowId".to_string()]).unwrap()
    });
    let other = generate(100_000, 2, 2);
    time("compare 100k with 100k (incl. tree builds)", || {
        compare::compare(&Tree::build(&big, None), &Tree::build(&other, None))
            .unwrap()
            .nodes
            .len()
    });
    let a = generate(10_000, 1, 1);
    let mut b = generate(10_000, 2, 2);
    b.truncate(9_900);
    time("compare 10k with 10k (incl. tree builds)", || {
        compare::compare(&Tree::build(&a, None), &Tree::build(&b, None))
            .unwrap()
            .summary
            .matched
    });
    let c = compare::compare(&Tree::build(&a, None), &Tree::build(&b, None)).unwrap();
    time("compare 10k answer as JSON", || {
        serde_json::to_vec(&c).unwrap().len()
    });
}
