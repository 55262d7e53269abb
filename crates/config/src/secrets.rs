//! The secret files of remote mode: the access token of the UI and API and
//! the OTLP API key. Created on first use with random content, readable by
//! the user alone (0600 in a 0700 directory), and reused after that so a
//! logged-in browser and configured exporters keep working across restarts.

use std::io;
use std::path::Path;

/// The UI and API access token.
pub const API_TOKEN_FILE: &str = "api-token";
/// The key OTLP exporters send.
pub const OTLP_KEY_FILE: &str = "otlp-api-key";

/// The secret in `path` if it was made already (the CLI reads the access
/// token this way; it never creates one).
pub fn load_existing(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Remote mode's access token for a client of the running Loupe (the CLI,
/// `loupe mcp`, `loupe import --to`): `LOUPE_TOKEN`, else the `api-token`
/// file in `dir` if Loupe made one.
pub fn client_token(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    env("LOUPE_TOKEN")
        .filter(|t| !t.is_empty())
        .or_else(|| load_existing(&dir.join(API_TOKEN_FILE)))
}

/// The secret in `path`, made on first use: 32 random bytes, hex.
pub fn load_or_create(path: &Path) -> io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        loupe_store::files::ensure_private_dir(dir)?.warn();
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    let secret = hex::encode(bytes);
    loupe_store::files::write_private_file(path, secret.as_bytes())?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join(API_TOKEN_FILE);
        let a = load_or_create(&path).expect("create");
        assert_eq!(a.len(), 64);
        assert_eq!(load_or_create(&path).expect("reuse"), a);
        let other = load_or_create(&dir.path().join(OTLP_KEY_FILE)).expect("other");
        assert_ne!(other, a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().expect("dir")), 0o700);
        }
    }
}
