//! The web UI, embedded at build time (see `build.rs`), served at `/`.
//!
//! Any path that is not a file serves `index.html`, so the UI's own routes
//! (`/trace/<id>`) survive a reload or a shared link.

use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// Shown when the binary was built without `ui/dist`.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Loupe</title>\
<h1>Loupe</h1><p>This binary was built without its web UI. Build it with \
<code>npm ci --prefix ui &amp;&amp; npm run build --prefix ui</code>, then rebuild Loupe \
(<code>./scripts/run</code> does both). The JSON API is at <code>/api/v1/</code>.</p>";

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "map" => "application/json",
        _ => "application/octet-stream",
    }
}

fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Whether the binary carries a built UI.
pub fn is_built() -> bool {
    asset("/index.html").is_some()
}

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    if let Some(bytes) = asset(path) {
        // Vite's file names under /assets carry content hashes.
        let cache = if path.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, mime(path)),
                (header::CACHE_CONTROL, cache),
            ],
            bytes,
        )
            .into_response();
    }
    if path.starts_with("/assets/") {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    match asset("/index.html") {
        Some(index) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            index,
        )
            .into_response(),
        None => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            NOT_BUILT,
        )
            .into_response(),
    }
}
