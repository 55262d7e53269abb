//! Loupe's files are readable by their user only, whatever the umask: the
//! data directory 0700, the database and its WAL and shared memory 0600,
//! private files written by the helpers 0600; wider existing ones are
//! tightened. Unix only (elsewhere the profile directory's ACL applies).
#![cfg(unix)]

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use loupe_store::files::{
    create_private_file, ensure_private_dir, private_database, write_private_file, Tightened,
};
use loupe_store::{Store, WriterConfig, DB_FILE};

/// The most permissive umask: what Loupe creates must not depend on it.
/// Every test here sets the same value, so running them in parallel is
/// fine.
fn open_umask() {
    // SAFETY: umask has no preconditions and cannot fail.
    unsafe {
        libc::umask(0);
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn with_suffix(p: &Path, s: &str) -> std::path::PathBuf {
    let mut o = p.as_os_str().to_os_string();
    o.push(s);
    o.into()
}

#[test]
fn a_new_store_is_private_with_its_wal_and_shm() {
    open_umask();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join("data");
    let store = Store::open(&dir, WriterConfig::default()).unwrap();
    let db = dir.join(DB_FILE);
    // The migrations ran in WAL mode, so SQLite created both.
    let (wal, shm) = (with_suffix(&db, "-wal"), with_suffix(&db, "-shm"));
    assert!(wal.exists() && shm.exists());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(dir.parent().unwrap()), 0o700);
    for f in [&db, &wal, &shm] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    drop(store);
}

#[test]
fn an_existing_open_store_is_tightened() {
    open_umask();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    drop(Store::open(&dir, WriterConfig::default()).unwrap());
    let db = dir.join(DB_FILE);
    let wal = with_suffix(&db, "-wal");
    std::fs::write(&wal, b"").unwrap();
    for (p, m) in [(&dir, 0o755), (&db, 0o644), (&wal, 0o666)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let store = Store::open(&dir, WriterConfig::default()).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&wal), 0o600);
    drop(store);
}

#[test]
fn the_helpers_write_private_files_and_report_what_they_changed() {
    open_umask();
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("config").join("loupe");
    assert_eq!(ensure_private_dir(&conf).unwrap(), Tightened::No);
    assert_eq!(mode(&conf), 0o700);

    let token = conf.join("token");
    write_private_file(&token, b"s3cret").unwrap();
    assert_eq!(mode(&token), 0o600);
    assert_eq!(std::fs::read(&token).unwrap(), b"s3cret");
    // Replacing keeps it private, atomically, with no temporary left.
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_private_file(&token, b"new").unwrap();
    assert_eq!(mode(&token), 0o600);
    assert_eq!(std::fs::read(&token).unwrap(), b"new");
    assert_eq!(std::fs::read_dir(&conf).unwrap().count(), 1);

    let export = tmp.path().join("bundle.jsonl");
    drop(create_private_file(&export).unwrap());
    assert_eq!(mode(&export), 0o600);

    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = ensure_private_dir(&conf).unwrap();
    assert!(
        matches!(
            t,
            Tightened::From {
                from: 0o755,
                to: 0o700,
                ..
            }
        ),
        "{t:?}"
    );
    assert!(t.warning().unwrap().contains("755"));
    assert_eq!(mode(&conf), 0o700);

    let db = tmp.path().join("x.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let t = private_database(&db).unwrap();
    assert!(matches!(t[0], Tightened::From { from: 0o640, .. }), "{t:?}");
    assert_eq!(mode(&db), 0o600);
}

/// A shared directory such as /tmp (sticky bit) is never narrowed: that
/// would break every other user of it.
#[test]
fn a_shared_directory_is_left_alone_with_a_warning() {
    open_umask();
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    std::fs::DirBuilder::new()
        .mode(0o1777)
        .create(&shared)
        .unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let t = ensure_private_dir(&shared).unwrap();
    assert!(matches!(t, Tightened::Left { mode: 0o1777, .. }), "{t:?}");
    assert_eq!(mode(&shared), 0o1777);
}
