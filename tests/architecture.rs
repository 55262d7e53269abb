//! Invariants from ARCHITECTURE.md that a machine can check, in the spirit
//! of rust-analyzer's `tidy.rs`: cheap, textual, and failing with a message
//! that says which rule broke and where.

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
