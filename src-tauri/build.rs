fn main() {
    println!("cargo:rerun-if-changed=tauri.conf.json");
}
