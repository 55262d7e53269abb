//! Private files: what Loupe keeps on disk is readable by its user only.
//!
//! The database holds every span and log record received, with whatever
//! credentials and customer data they carry, and the webhook URLs (secrets);
//! the configuration may hold forwarding headers; exports are telemetry;
//! tokens are tokens. Other local users must not read any of them, whatever
//! the umask: directories are made 0700 and files 0600 by an explicit
//! `chmod` after creation, not by the mode passed to `open` (which the umask
//! can only narrow, but a umask of 0 would leave a default 0644 open).
//!
//! SQLite creates `-wal`, `-shm` and `-journal` itself, later, with the
//! database file's permission bits (its unix VFS copies them, and resets them
//! with `fchmod` if the umask changed them), so making the database 0600
//! before SQLite first opens it covers them; [`private_database`] also
//! tightens ones left by an older Loupe.
//!
//! Reusable by every crate that writes such a file (the store names them
//! here because every other crate depends on it; `loupe-config` re-exports
//! them): [`ensure_private_dir`], [`write_private_file`] (atomic) and
//! [`create_private_file`].
//!
//! An existing directory or file with wider permissions is tightened when
//! this user owns it (it is then Loupe's, or the user's own choice of a
//! place for Loupe's data), and the caller gets a [`Tightened`] to warn
//! about. A directory with the sticky bit (`/tmp` and the like, shared by
//! design) or one owned by another user is left as it is, with a warning:
//! the files inside are 0600 anyway.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Mode of Loupe's directories: the owner only.
pub const DIR_MODE: u32 = 0o700;
/// Mode of Loupe's files: the owner reads and writes.
pub const FILE_MODE: u32 = 0o600;

/// What was done to an existing path, for a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tightened {
    /// Nothing to do (or not a unix system).
    No,
    /// Its permissions were `from` and are now private.
    From { path: PathBuf, from: u32, to: u32 },
    /// Readable by others, and left so (shared directory or another
    /// owner): `mode` is what it is.
    Left {
        path: PathBuf,
        mode: u32,
        why: &'static str,
    },
}

impl Tightened {
    /// A line for the log, or `None` when there is nothing to say.
    pub fn warning(&self) -> Option<String> {
        match self {
            Tightened::No => None,
            Tightened::From { path, from, to } => Some(format!(
                "{} was readable by other users (mode {from:o}); its mode is now {to:o}",
                path.display()
            )),
            Tightened::Left { path, mode, why } => Some(format!(
                "{} is open to other users (mode {mode:o}) and was left so: {why}",
                path.display()
            )),
        }
    }

    /// Logs the warning, if any.
    pub fn warn(&self) {
        if let Some(w) = self.warning() {
            tracing::warn!("loupe: {w}");
        }
    }
}

#[cfg(unix)]
mod imp {
    use super::*;
    use std::fs::{DirBuilder, OpenOptions, Permissions};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};

    fn ours(meta: &std::fs::Metadata) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        meta.uid() == unsafe { libc::geteuid() }
    }

    /// Removes group and other bits from `path` if this user owns it.
    pub fn tighten(path: &Path, target: u32) -> io::Result<Tightened> {
        let meta = std::fs::metadata(path)?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 == 0 {
            return Ok(Tightened::No);
        }
        if meta.is_dir() && mode & 0o1000 != 0 {
            return Ok(Tightened::Left {
                path: path.into(),
                mode,
                why: "a shared directory (sticky bit); use a directory of your own",
            });
        }
        if !ours(&meta) {
            return Ok(Tightened::Left {
                path: path.into(),
                mode,
                why: "owned by another user",
            });
        }
        let to = (mode & 0o700) | (target & 0o700);
        std::fs::set_permissions(path, Permissions::from_mode(to))?;
        Ok(Tightened::From {
            path: path.into(),
            from: mode,
            to,
        })
    }

    pub fn ensure_private_dir(path: &Path) -> io::Result<Tightened> {
        if path.is_dir() {
            return tighten(path, DIR_MODE);
        }
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(path)?;
        // The umask may have narrowed the owner's bits; never widened.
        std::fs::set_permissions(path, Permissions::from_mode(DIR_MODE))?;
        Ok(Tightened::No)
    }

    pub fn open_private(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
        let f = opts.mode(FILE_MODE).open(path)?;
        f.set_permissions(Permissions::from_mode(FILE_MODE))?;
        Ok(f)
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    use std::fs::OpenOptions;

    // Elsewhere files inherit the ACL of the user's profile directory,
    // which is already private to the user.
    pub fn tighten(_path: &Path, _target: u32) -> io::Result<Tightened> {
        Ok(Tightened::No)
    }

    pub fn ensure_private_dir(path: &Path) -> io::Result<Tightened> {
        std::fs::create_dir_all(path)?;
        Ok(Tightened::No)
    }

    pub fn open_private(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
        opts.open(path)
    }
}

/// Creates `path` (and its parents) as 0700, or tightens an existing
/// directory (see the module's notes for when it is left as it is).
pub fn ensure_private_dir(path: &Path) -> io::Result<Tightened> {
    imp::ensure_private_dir(path)
}

/// Makes an existing file 0600 if this user owns it.
pub fn tighten_private_file(path: &Path) -> io::Result<Tightened> {
    imp::tighten(path, FILE_MODE)
}

/// Creates (or truncates) `path` as a 0600 file, for writing a stream such
/// as an export. An existing file is made 0600 too.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    imp::open_private(
        path,
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
    )
}

/// Writes `contents` to `path` as a 0600 file, atomically: a temporary
/// file beside it (0600 from its creation, so the contents are never
/// readable by others, not even for a moment) is synced and renamed over
/// `path`. For tokens, keys and other small secrets.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = imp::open_private(
            &tmp,
            std::fs::OpenOptions::new().write(true).create_new(true),
        )?;
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Prepares the database file `db` before SQLite opens it: creates it
/// empty as 0600 if it does not exist (SQLite then gives its `-wal`,
/// `-shm` and `-journal` the same mode), and tightens it and any journal
/// an older Loupe left readable. Returns what to warn about.
pub fn private_database(db: &Path) -> io::Result<Vec<Tightened>> {
    if !db.exists() {
        // An empty file is a valid empty database to SQLite.
        match imp::open_private(db, std::fs::OpenOptions::new().write(true).create_new(true)) {
            Ok(_) => {}
            // Created meanwhile by another process: tightened below.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_os_string();
        p.push(suffix);
        let p = PathBuf::from(p);
        match imp::tighten(&p, FILE_MODE) {
            Ok(t) => out.push(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
