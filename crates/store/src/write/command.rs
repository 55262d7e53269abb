//! What the writer thread is asked to do. Every write to the database
//! (telemetry, the dashboard, imports) is one of these commands, queued
//! with the sender its acknowledgement goes to.

use std::time::Instant;

use loupe_model::query::DashboardPanel;
use loupe_model::sink::SinkError;
use tokio::sync::oneshot;

use super::imports::ImportRecord;
use crate::prepare::Prepared;

pub(crate) enum Command {
    /// A telemetry batch, prepared on the submitting thread.
    Batch(Prepared),
    /// The dashboard's panels, replacing the stored ones.
    SaveDashboard(Vec<DashboardPanel>),
    /// An import to add to the list of imports (after its data was stored).
    RecordImport(ImportRecord),
    /// Everything imported from this source, and its entry in the list.
    DeleteImport(String),
}

impl Command {
    /// Approximate memory held, for the writer queue's byte budget.
    pub(super) fn weight(&self) -> usize {
        match self {
            Command::Batch(p) => p.weight(),
            Command::SaveDashboard(d) => d.iter().map(|p| p.title.len() + p.chart.len() + 64).sum(),
            Command::RecordImport(_) | Command::DeleteImport(_) => 0,
        }
    }
}

/// A queued command.
pub(super) struct Job {
    pub command: Command,
    pub weight: usize,
    pub queued_at: Instant,
    pub ack: oneshot::Sender<Result<(), SinkError>>,
}
