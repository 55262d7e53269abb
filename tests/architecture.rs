//! Invariants from ARCHITECTURE.md that a machine can check, in the spirit
//! of rust-analyzer's `tidy.rs`: cheap, and failing with a message that
//! says which rule broke and where. The crate graph comes from `cargo
//! metadata` and is compared with ARCHITECTURE.md's tables, so the document
//! and the manifests cannot drift apart; module cycles and the line budget
//! are read from the sources.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library crates under `crates/`.
fn crates() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root().join("crates"))
        .expect("crates/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    v.sort();
    assert!(v.len() >= 5, "expected the library crates under crates/");
    v
}

/// `[dependencies]`-like sections of a manifest (not `[workspace.dependencies]`).
fn dependency_sections(manifest: &str) -> String {
    let mut out = String::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t.contains("dependencies") && !t.starts_with("[workspace");
        }
        if in_deps {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn code_without_tests(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("read");
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[test]
fn no_tauri_outside_the_app_package() {
    for krate in crates() {
        let manifest = fs::read_to_string(krate.join("Cargo.toml")).expect("manifest");
        assert!(
            !dependency_sections(&manifest).contains("tauri"),
            "{} depends on tauri: the core must build without a display (ARCHITECTURE.md)",
            krate.display()
        );
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        for f in files {
            let text = fs::read_to_string(&f).expect("read");
            assert!(
                !text.contains("tauri::"),
                "{} uses tauri: only src-tauri/ may",
                f.display()
            );
        }
    }
}

#[test]
fn rusqlite_only_in_the_store() {
    let store = root().join("crates/store");
    let mut manifests = vec![root().join("Cargo.toml")];
    manifests.extend(crates().into_iter().map(|c| c.join("Cargo.toml")));
    for m in manifests {
        if m.starts_with(&store) {
            continue;
        }
        let text = fs::read_to_string(&m).expect("manifest");
        assert!(
            !dependency_sections(&text).contains("rusqlite"),
            "{} depends on rusqlite: only crates/store may (ARCHITECTURE.md)",
            m.display()
        );
    }
    let mut files = Vec::new();
    for dir in ["crates", "src-tauri", "tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    for f in files {
        if f.starts_with(&store) || f.ends_with("tests/architecture.rs") {
            continue;
        }
        let text = fs::read_to_string(&f).expect("read");
        assert!(
            !text.contains("rusqlite"),
            "{} names rusqlite: SQL belongs in crates/store",
            f.display()
        );
    }
}

#[test]
fn no_panics_reachable_from_the_network() {
    // The receiver decodes untrusted bytes; a panic there would drop every
    // connection of the task. Errors go through `status.rs` instead.
    let mut files = Vec::new();
    rust_files(&root().join("crates/ingest/src"), &mut files);
    rust_files(&root().join("crates/otlp/src"), &mut files);
    for f in files {
        let code = code_without_tests(&f);
        for banned in [
            ".unwrap()",
            ".expect(",
            "panic!(",
            "unreachable!(",
            "todo!(",
            "unimplemented!(",
        ] {
            assert!(
                !code.contains(banned),
                "{} contains `{banned}` outside tests: return an IngestError instead",
                f.display()
            );
        }
    }
}

#[test]
fn every_crate_says_what_it_is_for() {
    let mut roots: Vec<PathBuf> = crates()
        .into_iter()
        .map(|c| {
            let lib = c.join("src/lib.rs");
            if lib.exists() {
                lib
            } else {
                c.join("src/main.rs")
            }
        })
        .collect();
    roots.push(root().join("src-tauri/src/main.rs"));
    for r in roots {
        let text = fs::read_to_string(&r).expect("read");
        assert!(
            text.trim_start().starts_with("//!"),
            "{} lacks a crate doc comment (`//!`) saying what the crate is for",
            r.display()
        );
    }
}

#[test]
fn architecture_md_maps_every_crate() {
    let doc = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    for krate in crates() {
        let name = krate
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        assert!(
            doc.contains(&format!("crates/{name}")),
            "ARCHITECTURE.md's code map does not mention crates/{name}"
        );
    }
}

#[test]
fn tauri_is_optional_in_the_app_package() {
    // `cargo build --no-default-features` must give a headless binary
    // without WebKit: every tauri dependency sits behind `desktop`.
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    for line in dependency_sections(&manifest).lines() {
        let t = line.trim();
        if t.starts_with("tauri") {
            assert!(
                t.contains("optional = true"),
                "Cargo.toml: `{t}` must be optional (enabled by the `desktop` feature)"
            );
        }
    }
}

/// The workspace's packages: name → (normal dependencies on our crates,
/// all normal dependencies), from `cargo metadata`. Dev-dependencies are
/// free: tests may use anything.
fn crate_graph() -> std::collections::BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut graph = std::collections::BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = short(p["name"].as_str().expect("name"));
        let mut ours = BTreeSet::new();
        let mut all = BTreeSet::new();
        for d in p["dependencies"].as_array().expect("dependencies") {
            if !d["kind"].is_null() {
                continue;
            }
            let dep = d["name"].as_str().expect("dependency name").to_string();
            if dep.starts_with("loupe-") {
                ours.insert(short(&dep));
            }
            all.insert(dep);
        }
        graph.insert(name, (ours, all));
    }
    graph
}

/// `loupe-store` → `store`; the app package stays `loupe`.
fn short(name: &str) -> String {
    name.strip_prefix("loupe-").unwrap_or(name).to_string()
}

/// The rows of the first Markdown table after `heading` in
/// ARCHITECTURE.md whose header starts with `first_column`: (first cell,
/// backticked names of the second cell).
fn table(heading: &str, first_column: &str) -> Vec<(String, BTreeSet<String>)> {
    let doc = fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no section {heading:?}"));
    let mut rows = Vec::new();
    let mut inside = false;
    for line in doc[start..].lines() {
        let t = line.trim();
        if !inside {
            inside = t.starts_with(&format!("| {first_column}"));
            continue;
        }
        if !t.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = t.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 2 || cells[0].starts_with("---") {
            continue;
        }
        let names = |cell: &str| -> BTreeSet<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(|s| s.to_string())
                .collect()
        };
        let first = names(cells[0]).into_iter().next().unwrap_or_default();
        rows.push((first, names(cells[1])));
    }
    assert!(
        !rows.is_empty(),
        "ARCHITECTURE.md: the table under {heading:?} is empty"
    );
    rows
}

#[test]
fn the_crate_graph_is_the_documented_one() {
    let graph = crate_graph();
    let documented: std::collections::BTreeMap<String, BTreeSet<String>> =
        table("## Dependencies between crates", "crate")
            .into_iter()
            .collect();
    let mut wrong = Vec::new();
    for (name, (ours, _)) in &graph {
        match documented.get(name) {
            None => wrong.push(format!("`{name}` has no row in the table")),
            Some(allowed) if allowed != ours => {
                let extra: Vec<_> = ours.difference(allowed).collect();
                let missing: Vec<_> = allowed.difference(ours).collect();
                wrong.push(format!(
                    "`{name}`: depends on {extra:?} beyond its row; its row lists {missing:?} it does not use"
                ));
            }
            Some(_) => {}
        }
    }
    for name in documented.keys() {
        if !graph.contains_key(name) {
            wrong.push(format!(
                "the table lists `{name}`, which is not a workspace crate"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md's dependency table and the manifests disagree: change the code or, if the new edge is right, the table (and say why):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn outside_crates_only_where_the_table_allows() {
    let graph = crate_graph();
    let mut wrong = Vec::new();
    for (external, allowed) in table("## Dependencies between crates", "external crate") {
        for (name, (_, all)) in &graph {
            let uses = all
                .iter()
                .any(|d| d == &external || d.starts_with(&format!("{external}-")));
            if uses && !allowed.contains(name) {
                wrong.push(format!(
                    "`{name}` depends on `{external}`, which only {allowed:?} may know"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A crate's source root and the files of each top-level module.
fn source_roots() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = crates().into_iter().map(|c| c.join("src")).collect();
    v.push(root().join("src-tauri/src"));
    v
}

/// The top-level module a file belongs to (`api/analysis.rs` → `api`);
/// `None` for the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (!matches!(name.as_str(), "lib" | "main")).then_some(name)
}

/// The top-level modules a piece of code names through `crate::`
/// (comments, doc links included, are not uses).
fn crate_paths(code: &str) -> BTreeSet<String> {
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.as_str();
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `loupe_crate::`, `$crate::`
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b};`: every first segment in the group.
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name = ident(part.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn no_import_cycles_between_modules() {
    let mut cycles = Vec::new();
    for src in source_roots() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut edges: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        for f in &files {
            let Some(module) = module_of(&src, f) else {
                continue;
            };
            let uses = crate_paths(&code_without_tests(f));
            let entry = edges.entry(module.clone()).or_default();
            entry.extend(uses.into_iter().filter(|m| m != &module));
        }
        let modules: BTreeSet<String> = edges.keys().cloned().collect();
        for targets in edges.values_mut() {
            targets.retain(|t| modules.contains(t));
        }
        // Depth-first search; a back edge closes a cycle.
        fn visit(
            m: &str,
            edges: &std::collections::BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
            found: &mut Vec<String>,
        ) {
            if let Some(i) = path.iter().position(|p| p == m) {
                let mut cycle = path[i..].to_vec();
                cycle.push(m.to_string());
                found.push(cycle.join(" → "));
                return;
            }
            if done.contains(m) {
                return;
            }
            path.push(m.to_string());
            for next in edges.get(m).into_iter().flatten() {
                visit(next, edges, path, done, found);
            }
            path.pop();
            done.insert(m.to_string());
        }
        let mut done = BTreeSet::new();
        let mut found = Vec::new();
        for m in edges.keys() {
            visit(m, &edges, &mut Vec::new(), &mut done, &mut found);
        }
        for c in found {
            cycles.push(format!("{}: {c}", src.display()));
        }
    }
    assert!(
        cycles.is_empty(),
        "modules of one crate import each other in a circle: move what both need into a module of its own (ARCHITECTURE.md, invariants):\n{}",
        cycles.join("\n")
    );
}

/// Lines of code (before a file's `#[cfg(test)]` module) a Rust source
/// file may have: past it, a file holds more than one job.
const LINE_BUDGET: usize = 900;

#[test]
fn source_files_within_the_line_budget() {
    let mut over = Vec::new();
    for src in source_roots() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let text = code_without_tests(&f);
            if text.contains("@generated") {
                continue;
            }
            let n = text.lines().count();
            if n > LINE_BUDGET {
                over.push(format!("{}: {n} lines", f.display()));
            }
        }
    }
    assert!(
        over.is_empty(),
        "over the budget of {LINE_BUDGET} lines of code per file (tests excluded): split by job (ARCHITECTURE.md):\n{}",
        over.join("\n")
    );
}
