//! Saving the dashboard: its panels replace the stored ones whole.

use loupe_model::query::DashboardPanel;
use rusqlite::{params, Connection};

use crate::error::StoreError;

pub(super) fn save(conn: &Connection, panels: &[DashboardPanel]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM dashboard_panels", [])?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO dashboard_panels(position, title, chart) VALUES (?1, ?2, ?3)",
    )?;
    for (i, p) in panels.iter().enumerate() {
        ins.execute(params![i as i64, p.title, p.chart])?;
    }
    Ok(())
}
