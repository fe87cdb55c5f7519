//! The archive's lag in the trail's health: the host that archives reports what it measured
//! (with the time on its clock), the trail adds what only it knows (its durable head).

use super::Trail;
use crate::health::{ArchiveLag, ArchiveReport, Health};

impl Trail {
    /// Takes in what the host that archives this trail reports (after each round, and between
    /// rounds to refresh the lag); [`Trail::health`] shows it in [`Health::archive`] from then
    /// on. Time is the report's `now`: the core reads no clock.
    pub fn handle_archive_report(&mut self, report: ArchiveReport) {
        self.health
            .health
            .archive
            .get_or_insert_with(ArchiveLag::default)
            .apply(report);
    }

    /// Health with the archive's records behind measured against the durable head now.
    pub(super) fn health_with_archive_lag(&self) -> Health {
        let mut h = self.health.health.clone();
        if let Some(lag) = h.archive.as_mut() {
            lag.records_behind = self.durable_seq.saturating_sub(lag.archived_seq);
        }
        h
    }
}
