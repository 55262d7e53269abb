//! Collectors `/metrics` renders that belong to no single layer: the
//! database's size on disk and the build.

use loupe_ops::{Collect, Exposition, Kind};
use loupe_store::Store;

/// Gauges read at scrape time: the database's and its WAL's sizes on disk.
pub struct StoreSize(pub Store);

impl Collect for StoreSize {
    fn collect(&self, out: &mut Exposition) {
        out.family(
            "store_database_bytes",
            "Size of the database file (its write-ahead log not included).",
            Kind::Gauge,
        )
        .sample("", &[], self.0.db_bytes() as f64);
        out.family(
            "store_wal_bytes",
            "Size of the database's write-ahead log.",
            Kind::Gauge,
        )
        .sample("", &[], self.0.wal_bytes() as f64);
    }
}

/// Which Loupe this is.
pub struct BuildInfo;

impl Collect for BuildInfo {
    fn collect(&self, out: &mut Exposition) {
        out.family(
            "build_info",
            "Always 1; the labels say which Loupe is running.",
            Kind::Gauge,
        )
        .sample("", &[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    }
}
