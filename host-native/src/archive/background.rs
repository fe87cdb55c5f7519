//! Archiving in the background of an open [`crate::Trail`]: a round every `interval` on a tokio
//! task of its own. It only reads sealed segments (immutable), so it never takes the driver's
//! time nor delays an append; when the store is down or slow, rounds fail, the lag grows (seen
//! in [`crate::Trail::archive_status`]), and rounds are retried with backoff until the store is
//! back, then the archive catches up.

use super::local::local_segments;
use super::{archive_round, ArchiveTarget};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where and how often an open trail archives (`TrailOptions::archive`).
#[derive(Debug, Clone)]
pub struct BackgroundArchive {
    /// The destination.
    pub target: ArchiveTarget,
    /// Time between rounds when the last one succeeded (default 60 s).
    pub interval: Duration,
}

impl BackgroundArchive {
    /// Archive to `target` every `interval`.
    pub fn new(target: ArchiveTarget, interval: Duration) -> BackgroundArchive {
        BackgroundArchive { target, interval }
    }
}

/// The archive lag of an open trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveStatus {
    /// Seq of the last archived record (0 before the first successful round).
    pub archived_seq: u64,
    /// Sealed local segments not yet archived.
    pub pending_segments: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// Rounds that succeeded.
    pub rounds_ok: u64,
    /// Rounds that failed since the last success (the backoff grows with them).
    pub failures: u64,
    /// The last round's error, `None` once a round succeeds again.
    pub last_error: Option<String>,
}

/// The running archiver; dropping it stops the task.
#[derive(Debug)]
pub struct Background {
    task: tokio::task::JoinHandle<()>,
    status: Arc<Mutex<ArchiveStatus>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Longest wait between two attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// First wait after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(200);

fn pending(dir: &Path, archived_seq: u64) -> (u64, u64) {
    let Ok(local) = local_segments(dir) else {
        return (0, 0);
    };
    let sealed = local.len().saturating_sub(1);
    let mut n = 0;
    let mut bytes = 0;
    for (i, (_, name)) in local[..sealed].iter().enumerate() {
        // Not archived when its successor starts after the archived head.
        if local[i + 1].0 > archived_seq + 1 {
            n += 1;
            bytes += std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
        }
    }
    (n, bytes)
}

impl Background {
    /// Starts archiving the trail at `dir`.
    pub fn start(dir: PathBuf, opts: BackgroundArchive) -> Background {
        let status = Arc::new(Mutex::new(ArchiveStatus::default()));
        let st = status.clone();
        let task = tokio::spawn(async move {
            let mut wait = Duration::ZERO;
            loop {
                tokio::time::sleep(wait).await;
                let r = archive_round(&dir, &opts.target, &mut |_, _| {}).await;
                let mut s = st.lock().expect("archive status");
                match r {
                    Ok(report) => {
                        s.archived_seq = report.head.seq;
                        s.rounds_ok += 1;
                        s.failures = 0;
                        s.last_error = None;
                        wait = opts.interval;
                    }
                    Err(e) => {
                        s.failures += 1;
                        s.last_error = Some(e.to_string());
                        let exp = MIN_BACKOFF.saturating_mul(1 << s.failures.min(16));
                        wait = exp.min(opts.interval.max(MIN_BACKOFF)).min(MAX_BACKOFF);
                    }
                }
                let (n, bytes) = pending(&dir, s.archived_seq);
                s.pending_segments = n;
                s.pending_bytes = bytes;
            }
        });
        Background { task, status }
    }

    /// The current lag.
    pub fn status(&self) -> ArchiveStatus {
        self.status.lock().expect("archive status").clone()
    }
}
