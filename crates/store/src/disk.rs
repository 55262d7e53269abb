//! Free space under the data directory, and what the writer does when it
//! runs low (issue 13, "Nothing lost — disk and memory bounded"):
//!
//! 1. below the threshold (`--min-free-disk`), retention deletes the
//!    oldest-arrived data worth the shortfall, gives the freed pages back
//!    to the file system (incremental vacuum) and truncates the WAL;
//! 2. if free space is still below the threshold once that is done (or
//!    after 10 s of it, when heavy ingest reuses the pages as fast as they
//!    are given back), the writer refuses telemetry with the retryable
//!    answer (HTTP 503 + `Retry-After`, gRPC `UNAVAILABLE` + `RetryInfo`),
//!    as for a full disk, and `/health` says why;
//! 3. once free space is back above the threshold with some room to spare
//!    ([`resume_at`]), it accepts again by itself.
//!
//! When the shortfall is larger than the whole database, nothing is
//! deleted: deleting everything could not bring the space back (something
//! else filled the disk), so the data is kept and ingest refused.
//!
//! The probe is a function so tests can simulate a low disk without
//! filling a real one ([`DiskProbe::fixed`]).

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Total and available bytes of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    pub total: u64,
    pub free: u64,
}

/// How the free space under a path is measured: `statvfs` by default, a
/// value set by a test with [`DiskProbe::fixed`].
#[derive(Clone)]
pub struct DiskProbe(Arc<ProbeFn>);

type ProbeFn = dyn Fn(&Path) -> Option<DiskSpace> + Send + Sync;

impl fmt::Debug for DiskProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DiskProbe")
    }
}

impl Default for DiskProbe {
    fn default() -> Self {
        DiskProbe(Arc::new(disk_space))
    }
}

impl DiskProbe {
    pub fn new(f: impl Fn(&Path) -> Option<DiskSpace> + Send + Sync + 'static) -> DiskProbe {
        DiskProbe(Arc::new(f))
    }

    /// A probe answering `free` bytes free (of 1 TiB), whatever the path:
    /// the test changes `free` to simulate the disk filling and emptying.
    pub fn fixed(free: Arc<AtomicU64>) -> DiskProbe {
        DiskProbe::new(move |_| {
            Some(DiskSpace {
                total: 1 << 40,
                free: free.load(Ordering::SeqCst),
            })
        })
    }

    pub fn space(&self, path: &Path) -> Option<DiskSpace> {
        (self.0)(path)
    }
}

/// What the writer does about free space (`WriterConfig::low_disk`).
#[derive(Debug, Clone, Default)]
pub struct LowDisk {
    /// Below this many free bytes the oldest data goes, then ingest is
    /// refused (`--min-free-disk`); 0: never.
    pub min_free: u64,
    pub probe: DiskProbe,
}

/// Total and available bytes of the file system holding `path`.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // field types differ between platforms
pub fn disk_space(path: &Path) -> Option<DiskSpace> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` only writes into the struct we own, and `c` is a
    // valid NUL-terminated path for the duration of the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    Some(DiskSpace {
        total: (st.f_blocks as u64).saturating_mul(unit),
        free: (st.f_bavail as u64).saturating_mul(unit),
    })
}

/// Unknown elsewhere: never low.
#[cfg(not(unix))]
pub fn disk_space(_path: &Path) -> Option<DiskSpace> {
    None
}

/// The writer's answer while free space is low, for `submit` and `/health`:
/// the free bytes it measured last (0: not refusing).
#[derive(Debug, Default)]
pub(crate) struct Refusal {
    free: AtomicU64,
    refusing: std::sync::atomic::AtomicBool,
}

impl Refusal {
    pub(crate) fn set(&self, free: Option<u64>) {
        if let Some(f) = free {
            self.free.store(f, Ordering::SeqCst);
        }
        self.refusing.store(free.is_some(), Ordering::SeqCst);
    }

    /// Free bytes, when ingest is refused for lack of space.
    pub(crate) fn get(&self) -> Option<u64> {
        self.refusing
            .load(Ordering::SeqCst)
            .then(|| self.free.load(Ordering::SeqCst))
    }
}

/// The free space at which a writer that refuses telemetry accepts it
/// again: the threshold plus a tenth of it (at least 1 MiB). Free space
/// that hovers at the threshold, as another program writes and deletes,
/// would otherwise turn ingest on and off every few hundred milliseconds.
pub fn resume_at(min_free: u64) -> u64 {
    min_free.saturating_add((min_free / 10).max(1 << 20))
}

/// The reason given to senders and in `/health`.
pub fn low_disk_reason(free: u64, min_free: u64) -> String {
    format!(
        "low disk space: {} MiB free under the data directory, below the {} MiB threshold \
         (--min-free-disk): telemetry is refused until {} MiB are free (the oldest data went \
         first, unless the database is smaller than the shortfall)",
        free >> 20,
        min_free >> 20,
        resume_at(min_free).div_ceil(1 << 20)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_at_leaves_room_above_the_threshold() {
        assert_eq!(resume_at(100 << 20), 110 << 20);
        assert_eq!(resume_at(4 << 20), 5 << 20, "at least 1 MiB");
        assert_eq!(resume_at(u64::MAX), u64::MAX, "saturates");
    }
}
