//! Archiving in the background of an open [`crate::Trail`]: a round every `interval` on a
//! low-priority thread of its own, then (with [`BackgroundArchive::keep_local`]) retention. It
//! only reads sealed segments (immutable), so it never takes the driver's time nor delays an
//! append; when the store is down or slow, rounds fail, the lag grows (seen in the trail's
//! [`evident_core::Health::archive`] and in [`crate::Trail::archive_status`]), and rounds are
//! retried with backoff until the store is back, then the archive catches up.

use super::local::local_segments;
use super::objects::KnownChain;
use super::retain::retain_as_writer;
use super::round::archive_round_incremental;
use super::ArchiveTarget;
use crate::driver::{Cmd, Snapshot};
use evident_core::ArchiveReport;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Where and how often an open trail archives (`TrailOptions::archive`).
#[derive(Debug, Clone)]
pub struct BackgroundArchive {
    /// The destination.
    pub target: ArchiveTarget,
    /// Time between rounds when the last one succeeded (default 60 s).
    pub interval: Duration,
    /// Retention after each successful round: keep this many sealed segments locally besides
    /// the active one (one at least), and delete older ones with the guarantees of
    /// [`super::retain`] (listed by a manifest, read back from the bucket and matched,
    /// `retained.checkpoint` durable first). `None` (the default): nothing is deleted.
    pub keep_local: Option<usize>,
}

impl BackgroundArchive {
    /// Archive to `target` every `interval`.
    pub fn new(target: ArchiveTarget, interval: Duration) -> BackgroundArchive {
        BackgroundArchive {
            target,
            interval,
            keep_local: None,
        }
    }

    /// After each successful round, keep only the newest `n` sealed segments locally.
    pub fn keep_local(mut self, n: usize) -> BackgroundArchive {
        self.keep_local = Some(n);
        self
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
    /// Local segments retention deleted since the trail was opened.
    pub retained_segments: u64,
    /// The last `retained.checkpoint` retention wrote (records up to it are only in the
    /// archive).
    pub retained: Option<evident_core::Checkpoint>,
    /// Where the rounds' time went, summed over the rounds since the trail was opened.
    pub timings: super::RoundTimings,
}

/// The running archiver; dropping it stops it (at its next await, as an aborted task).
#[derive(Debug)]
pub struct Background {
    /// Dropped to stop the archiver's thread.
    _stop: tokio::sync::oneshot::Sender<()>,
    status: Arc<Mutex<ArchiveStatus>>,
}

/// Longest wait between two attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// First wait after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// How often the lag is measured again while waiting for the next round.
const REFRESH: Duration = Duration::from_millis(500);

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

/// The archiver's way to the trail's driver: reports for the core's health, and whether the
/// driver still holds the writer lease (retention deletes files only while it does).
pub(crate) struct DriverLink {
    /// Weak: the archiver never keeps the driver running after the last handle is gone.
    pub tx: mpsc::WeakSender<Cmd>,
    pub snapshot: Arc<Mutex<Snapshot>>,
}

impl DriverLink {
    fn still_writer(&self) -> Result<(), String> {
        if let Some(why) = &self.snapshot.lock().expect("snapshot lock").lost {
            return Err(format!("the writer lease was lost: {why}"));
        }
        match self.tx.upgrade() {
            Some(tx) if !tx.is_closed() => Ok(()),
            _ => Err("the trail is closed".into()),
        }
    }

    async fn report(&self, report: ArchiveReport) {
        if let Some(tx) = self.tx.upgrade() {
            let _ = tx.send(Cmd::ArchiveReport(report)).await;
        }
    }
}

/// One round, then retention when it is asked for.
async fn round_and_retain(
    dir: &Path,
    opts: &BackgroundArchive,
    link: &DriverLink,
    st: &Mutex<ArchiveStatus>,
    known: &mut Option<KnownChain>,
) -> Result<u64, String> {
    let report = archive_round_incremental(dir, &opts.target, &mut |_, _| {}, known)
        .await
        .map_err(|e| e.to_string())?;
    {
        let mut s = st.lock().expect("archive status");
        s.archived_seq = report.head.seq;
        let (t, r) = (&mut s.timings, report.timings);
        t.history += r.history;
        t.manifests_fetched += r.manifests_fetched;
        t.verify += r.verify;
        t.upload += r.upload;
    }
    if let Some(keep) = opts.keep_local {
        let r = retain_as_writer(dir, &opts.target, keep, &mut || link.still_writer())
            .await
            .map_err(|e| format!("retention: {e}"))?;
        let mut s = st.lock().expect("archive status");
        s.retained_segments += (r.finished.len() + r.deleted.len()) as u64;
        if r.retained.is_some() {
            s.retained = r.retained;
        }
    }
    Ok(report.head.seq)
}

impl Background {
    /// Starts archiving the trail at `dir`, reporting to its driver through `link`.
    ///
    /// It runs on a thread of its own with a single-threaded runtime, at the lowest priority
    /// (`background_priority`): on a busy machine (measured on 2 cores with 64 durable
    /// producers, BENCHMARKS.md section 10) its rounds compete for CPU with the producers' tasks and the
    /// driver, and on the trail's runtime the SHA-256 of each PUT held up a worker the
    /// producers need.
    pub(crate) fn start(dir: PathBuf, opts: BackgroundArchive, link: DriverLink) -> Background {
        let status = Arc::new(Mutex::new(ArchiveStatus::default()));
        let st = status.clone();
        let st_thread = status.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let work = async move {
            let mut wait = Duration::ZERO;
            // The manifests validated by earlier rounds: each round fetches only new ones.
            let mut known = None;
            loop {
                // Wait for the next round, measuring the lag meanwhile: segments sealed while
                // the store is down show in health before the next attempt.
                let until = Instant::now() + wait;
                loop {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    tokio::time::sleep(left.min(REFRESH)).await;
                    let report = Self::measure(&dir, &st, None);
                    link.report(report).await;
                }
                let r = round_and_retain(&dir, &opts, &link, &st, &mut known).await;
                {
                    let mut s = st.lock().expect("archive status");
                    match &r {
                        Ok(seq) => {
                            s.archived_seq = *seq;
                            s.rounds_ok += 1;
                            s.failures = 0;
                            s.last_error = None;
                            wait = opts.interval;
                        }
                        Err(e) => {
                            s.failures += 1;
                            s.last_error = Some(e.clone());
                            let exp = MIN_BACKOFF.saturating_mul(1 << s.failures.min(16));
                            wait = exp.min(opts.interval.max(MIN_BACKOFF)).min(MAX_BACKOFF);
                        }
                    }
                }
                let report = Self::measure(&dir, &st, Some(r.map(|_| ())));
                link.report(report).await;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("evident-archive".into())
            .spawn(move || {
                crate::background_priority::lower_priority();
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        st_thread.lock().expect("archive status").last_error = Some(format!(
                            "the background archiver's runtime did not start: {e}"
                        ));
                        return;
                    }
                };
                rt.block_on(async move {
                    tokio::select! {
                        _ = stopped => {}
                        () = work => {}
                    }
                });
                // Stopped: a verification still running on a blocking thread is not waited for
                // (it only reads sealed segments).
                rt.shutdown_background();
            });
        if let Err(e) = spawned {
            status.lock().expect("archive status").last_error = Some(format!(
                "the background archiver's thread did not start: {e}"
            ));
        }
        Background {
            _stop: stop,
            status,
        }
    }

    /// Measures the pending segments into the status; the report for the core's health.
    fn measure(
        dir: &Path,
        st: &Mutex<ArchiveStatus>,
        round: Option<Result<(), String>>,
    ) -> ArchiveReport {
        let archived_seq = st.lock().expect("archive status").archived_seq;
        let (n, bytes) = pending(dir, archived_seq);
        let mut s = st.lock().expect("archive status");
        s.pending_segments = n;
        s.pending_bytes = bytes;
        ArchiveReport {
            now: crate::driver::now_ns(),
            archived_seq,
            pending_segments: n,
            pending_bytes: bytes,
            round,
        }
    }

    /// The current lag.
    pub fn status(&self) -> ArchiveStatus {
        self.status.lock().expect("archive status").clone()
    }
}
