//! Health with hysteresis, and the trail's counters.
//!
//! ```text
//!   healthy --write failure--> degraded --N consecutive durable writes--> healthy
//!      |                          |
//!      +------sync failure--------+-----> failed --re-read and re-verified--> degraded
//! ```
//!
//! A failed sync latches *failed*: the kernel may have dropped the dirty pages while marking
//! them clean (PostgreSQL's "fsyncgate"), so nothing more is acknowledged until the trail has
//! read back what it believed durable, checked it, cut what was not, and synced again.

/// The three health states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthState {
    /// Writes and syncs succeed.
    Healthy,
    /// A write failed recently; appends still work, and the trail is healthy again after
    /// `healthy_after` consecutive successful durable writes.
    Degraded,
    /// A sync failed (or a repair step did): nothing is acknowledged until the trail has
    /// re-verified what it believed durable.
    Failed,
}

impl HealthState {
    /// Lower-case name (`healthy`, `degraded`, `failed`).
    pub fn as_str(&self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Failed => "failed",
        }
    }
}

/// A snapshot of the trail's health and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Current state.
    pub state: HealthState,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// Successful durable writes since the last failure.
    pub consecutive_successes: u64,
    /// Failures since open.
    pub total_failures: u64,
    /// Write failures since open (ENOSPC, EIO, short writes).
    pub write_failures: u64,
    /// Sync failures since open.
    pub sync_failures: u64,
    /// Records acknowledged since open.
    pub records: u64,
    /// Bytes of frames written since open.
    pub bytes: u64,
    /// Successful syncs since open.
    pub fsyncs: u64,
    /// Batches written since open.
    pub batches: u64,
    /// Records in the largest batch.
    pub max_batch: u64,
    /// Records in the most recent batch.
    pub last_batch: u64,
    /// The most recent failure, for humans.
    pub last_error: Option<String>,
    /// How far archiving lags, once the host that archives has reported it
    /// ([`crate::Trail::handle_archive_report`]); `None` for a trail that is not archived.
    pub archive: Option<ArchiveLag>,
}

impl Health {
    fn new() -> Health {
        Health {
            state: HealthState::Healthy,
            consecutive_failures: 0,
            consecutive_successes: 0,
            total_failures: 0,
            write_failures: 0,
            sync_failures: 0,
            records: 0,
            bytes: 0,
            fsyncs: 0,
            batches: 0,
            max_batch: 0,
            last_batch: 0,
            last_error: None,
            archive: None,
        }
    }

    /// Mean records per batch.
    pub fn mean_batch(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.records as f64 / self.batches as f64
        }
    }
}

/// What the host that archives a trail reports (after each round, and between rounds to refresh
/// the lag): facts it measured and the time on its clock. The core keeps the history (failed
/// rounds in a row, the time of the last success) and derives the records behind from its own
/// durable head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Host time in nanoseconds since the Unix epoch.
    pub now: u64,
    /// Seq of the last archived record (the archive's head).
    pub archived_seq: u64,
    /// Sealed local segments not yet archived.
    pub pending_segments: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// The round that just ended: `Ok` when it succeeded, `Err` with its error when it failed;
    /// `None` for a refresh between rounds.
    pub round: Option<Result<(), String>>,
}

/// How far archiving lags behind the trail (part of [`Health`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveLag {
    /// Seq of the last archived record (0 before the first successful round).
    pub archived_seq: u64,
    /// Durable records not yet archived (the durable head's seq minus `archived_seq`), the
    /// active segment's included.
    pub records_behind: u64,
    /// Sealed local segments not yet archived.
    pub pending_segments: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// Rounds that failed since the last success.
    pub failed_rounds: u64,
    /// The last failed round's error; `None` once a round succeeds again.
    pub last_error: Option<String>,
    /// Host time (ns since the Unix epoch) of the last successful round.
    pub last_success_at: Option<u64>,
    /// Host time of the last report.
    pub updated_at: u64,
}

impl ArchiveLag {
    /// Takes in one report. The archived seq never goes backwards (a report can arrive late).
    pub(crate) fn apply(&mut self, r: ArchiveReport) {
        self.archived_seq = self.archived_seq.max(r.archived_seq);
        self.pending_segments = r.pending_segments;
        self.pending_bytes = r.pending_bytes;
        self.updated_at = r.now;
        match r.round {
            Some(Ok(())) => {
                self.failed_rounds = 0;
                self.last_error = None;
                self.last_success_at = Some(r.now);
            }
            Some(Err(e)) => {
                self.failed_rounds += 1;
                self.last_error = Some(e);
            }
            None => {}
        }
    }
}

/// The hysteresis rules; returns a transition when the state changes.
#[derive(Debug, Clone)]
pub(crate) struct HealthTracker {
    healthy_after: u32,
    pub(crate) health: Health,
}

/// A state change, for the `HealthChanged` event.
pub(crate) type Transition = (HealthState, HealthState);

impl HealthTracker {
    pub(crate) fn new(healthy_after: u32) -> HealthTracker {
        HealthTracker {
            healthy_after: healthy_after.max(1),
            health: Health::new(),
        }
    }

    fn set(&mut self, to: HealthState) -> Option<Transition> {
        let from = self.health.state;
        self.health.state = to;
        (from != to).then_some((from, to))
    }

    /// A durable write succeeded (a batch synced, or written under a non-fsync policy).
    pub(crate) fn success(&mut self) -> Option<Transition> {
        let h = &mut self.health;
        h.consecutive_failures = 0;
        h.consecutive_successes += 1;
        if h.state == HealthState::Degraded && h.consecutive_successes >= self.healthy_after as u64
        {
            return self.set(HealthState::Healthy);
        }
        None
    }

    fn failure(&mut self, error: String) {
        let h = &mut self.health;
        h.consecutive_failures += 1;
        h.consecutive_successes = 0;
        h.total_failures += 1;
        h.last_error = Some(error);
    }

    /// A write (or another step that does not put durable data in doubt) failed.
    pub(crate) fn write_failed(&mut self, error: String) -> Option<Transition> {
        self.failure(error);
        self.health.write_failures += 1;
        if self.health.state == HealthState::Failed {
            return None;
        }
        self.set(HealthState::Degraded)
    }

    /// A sync failed, or the trail's position on disk is no longer known: latch failed.
    pub(crate) fn sync_failed(&mut self, error: String) -> Option<Transition> {
        self.failure(error);
        self.health.sync_failures += 1;
        self.set(HealthState::Failed)
    }

    /// A step of the re-verification failed: stay failed.
    pub(crate) fn resync_failed(&mut self, error: String) {
        self.failure(error);
    }

    /// What was believed durable has been re-read, re-verified and synced again.
    pub(crate) fn resynced(&mut self) -> Option<Transition> {
        self.health.consecutive_successes = 0;
        self.set(HealthState::Degraded)
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.health.state == HealthState::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthState::*;

    #[test]
    fn degraded_needs_n_consecutive_successes() {
        let mut t = HealthTracker::new(3);
        assert_eq!(t.write_failed("enospc".into()), Some((Healthy, Degraded)));
        assert_eq!(t.success(), None);
        assert_eq!(t.success(), None);
        assert_eq!(
            t.write_failed("enospc".into()),
            None,
            "still degraded, counter reset"
        );
        assert_eq!(t.success(), None);
        assert_eq!(t.success(), None);
        assert_eq!(t.success(), Some((Degraded, Healthy)));
        assert_eq!(t.health.total_failures, 2);
        assert_eq!(t.health.consecutive_failures, 0);
    }

    #[test]
    fn archive_lag_keeps_the_failure_history_and_never_goes_backwards() {
        let mut lag = ArchiveLag::default();
        let report = |now, seq, round| ArchiveReport {
            now,
            archived_seq: seq,
            pending_segments: 2,
            pending_bytes: 100,
            round,
        };
        lag.apply(report(10, 5, Some(Ok(()))));
        assert_eq!(lag.last_success_at, Some(10));
        lag.apply(report(20, 5, Some(Err("store down".into()))));
        lag.apply(report(30, 3, None));
        lag.apply(report(40, 5, Some(Err("still down".into()))));
        assert_eq!(lag.failed_rounds, 2);
        assert_eq!(lag.last_error.as_deref(), Some("still down"));
        assert_eq!(lag.archived_seq, 5, "a late report does not move it back");
        assert_eq!((lag.last_success_at, lag.updated_at), (Some(10), 40));
        lag.apply(report(50, 9, Some(Ok(()))));
        assert_eq!((lag.failed_rounds, lag.last_error.clone()), (0, None));
        assert_eq!((lag.archived_seq, lag.last_success_at), (9, Some(50)));
    }

    #[test]
    fn failed_latches_until_resynced() {
        let mut t = HealthTracker::new(2);
        assert_eq!(t.sync_failed("eio".into()), Some((Healthy, Failed)));
        assert_eq!(
            t.write_failed("eio".into()),
            None,
            "a write failure does not unlatch"
        );
        for _ in 0..10 {
            assert_eq!(t.success(), None);
        }
        assert!(t.is_failed(), "successes alone never leave failed");
        assert_eq!(t.resynced(), Some((Failed, Degraded)));
        assert_eq!(t.success(), None);
        assert_eq!(t.success(), Some((Degraded, Healthy)));
    }
}
