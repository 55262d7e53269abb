//! The dashboard's panels (saved through `Writer::save_dashboard`).

use loupe_model::query::DashboardPanel;

use super::Reader;
use crate::error::StoreError;

impl Reader {
    /// The dashboard's panels, in grid order.
    pub fn dashboard(&self) -> Result<Vec<DashboardPanel>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT title, chart FROM dashboard_panels ORDER BY position, id",
            )?;
            let rows = st.query_map([], |r| {
                Ok(DashboardPanel {
                    title: r.get(0)?,
                    chart: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}
