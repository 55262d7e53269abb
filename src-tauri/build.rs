//! With the `desktop` feature, tauri-build reads `tauri.conf.json` (at the
//! repository root, beside the app package's manifest), the capabilities in
//! `src-tauri/capabilities/`, the app's permissions in `src-tauri/permissions/`
//! and the icons, and generates what
//! `tauri::generate_context!` embeds. Without it (a headless build) there is
//! nothing to do.

fn main() {
    println!("cargo:rerun-if-changed=tauri.conf.json");
    #[cfg(feature = "desktop")]
    desktop();
}

#[cfg(feature = "desktop")]
fn desktop() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    println!("cargo:rerun-if-changed=src-tauri/permissions");
    println!("cargo:rerun-if-changed=src-tauri/shell");
    println!("cargo:rerun-if-changed=src-tauri/icons");
    // The start-up page's commands each need a permission
    // (src-tauri/permissions/), granted to that page only by a capability
    // (src-tauri/capabilities/main.json): the remote UI page gets none.
    let manifest =
        tauri_build::AppManifest::new().permissions_path_pattern("src-tauri/permissions/**/*.toml");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*.json")
        .app_manifest(manifest);
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build: {e:#}");
    }
    // tauri-build writes the capability JSON schemas (for editors) to
    // `gen/schemas` under the working directory, the repository root here;
    // they belong beside the shell, in the ignored `src-tauri/gen/`.
    let generated = std::path::Path::new("gen");
    if generated.join("schemas").is_dir() {
        let target = std::path::Path::new("src-tauri/gen");
        let _ = std::fs::remove_dir_all(target.join("schemas"));
        let _ = std::fs::create_dir_all(target);
        if std::fs::rename(generated.join("schemas"), target.join("schemas")).is_ok() {
            let _ = std::fs::remove_dir(generated);
        }
    }
}
