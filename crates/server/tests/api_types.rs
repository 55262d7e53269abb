//! The UI's TypeScript types are generated from the API's Rust types
//! (`loupe_server::contract`). This test fails when `ui/src/generated/api.ts`
//! is stale; with `LOUPE_WRITE_TYPES=1` it writes the file instead:
//!
//! ```sh
//! LOUPE_WRITE_TYPES=1 cargo test -p loupe-server --test api_types
//! ```

use std::path::PathBuf;

#[test]
fn generated_typescript_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/generated/api.ts");
    let want = loupe_server::contract::typescript();
    if std::env::var_os("LOUPE_WRITE_TYPES").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is stale (the API's Rust types changed): run\n    \
         LOUPE_WRITE_TYPES=1 cargo test -p loupe-server --test api_types\n\
         and commit the result",
        path.display()
    );
}
