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
