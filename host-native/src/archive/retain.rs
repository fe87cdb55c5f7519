//! Retention behind the archive: delete local sealed segments that a manifest lists, whose
//! object was read back from the bucket and matched, keeping the newest ones, with
//! `retained.checkpoint` written first (FORMAT.md, "Retention: retained.checkpoint").
//!
//! Retention deletes files of the trail, so it holds the writer lease (`LOCK` and the
//! directory `flock`) for its whole run: it never runs beside a writer, and a writer never
//! opens beside it.

use super::local::{local_segments, read_header, read_segment};
use super::objects::load_history;
use super::{ArchiveError, ArchiveTarget};
use crate::lease::NativeLease;
use crate::safe_fs::TrailDir;
use crate::Error;
use evident_core::archive::plan::{plan_retention, LocalSegment};
use evident_core::archive::sha256_hex;
use evident_core::lease::Timing;
use evident_core::{naming, Checkpoint};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// What a retention run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetainReport {
    /// Segments an interrupted earlier run had left, removed first.
    pub finished: Vec<String>,
    /// Segments deleted by this run, oldest first.
    pub deleted: Vec<String>,
    /// The retention checkpoint written, if any.
    pub retained: Option<Checkpoint>,
    /// Sealed segments kept locally.
    pub kept_sealed: u64,
}

fn io(dir: &Path, error: std::io::Error) -> Error {
    Error::Io {
        path: dir.to_path_buf(),
        error,
    }
}

/// Finishes a retention a crash interrupted: removes the segments `retained.checkpoint` says
/// were removed (oldest first, then fsyncs the directory), with the core's steps
/// ([`evident_core::archive::finish`], which the component runs too). The caller holds the
/// lease. Returns the names removed.
pub fn finish_interrupted_retention(dir: &Path) -> Result<Vec<String>, Error> {
    let mut exec = crate::fs_exec::FsExecutor::new(dir);
    evident_core::archive::finish::finish_interrupted_retention(&mut |op| exec.perform(op)).map_err(
        |error| {
            Error::Trail(evident_core::Error::Io {
                op: "finish an interrupted retention",
                location: evident_core::Location::file(dir.display().to_string()),
                error,
            })
        },
    )
}

/// Writes `retained.checkpoint` atomically: the temporary file, fsync, rename, fsync the
/// directory.
fn write_retained(d: &TrailDir, cp: &Checkpoint) -> Result<(), Error> {
    let tmp = d.path().join(naming::RETAINED_CHECKPOINT_TMP);
    let mut f = d
        .create_or_truncate(naming::RETAINED_CHECKPOINT_TMP)
        .map_err(|e| io(&tmp, e))?;
    f.write_all(cp.to_text().as_bytes())
        .map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    drop(f);
    fault_halt("tmp-synced");
    d.rename(naming::RETAINED_CHECKPOINT_TMP, naming::RETAINED_CHECKPOINT)
        .map_err(|e| io(&tmp, e))?;
    d.sync().map_err(|e| io(d.path(), e))
}

/// Deletes local sealed segments of the trail at `dir` that are safely in `target`, keeping the
/// newest `keep_local` sealed segments (at least 1: a writer reopening the trail reads the
/// footer of the segment before the active one) and the active one.
///
/// A segment goes only when a manifest of the validated chain lists it, its object was read
/// back from the bucket just now and its SHA-256 matched the manifest, and the local file's
/// SHA-256 is the same. `retained.checkpoint` is written (durably) before the first deletion;
/// a crash at any point leaves a trail that verifies, or that the next writer's open (or the
/// next `retain`) finishes.
pub async fn retain(
    dir: &Path,
    target: &ArchiveTarget,
    keep_local: usize,
) -> Result<RetainReport, ArchiveError> {
    let mut lease = NativeLease::acquire(dir, Timing::default())?;
    let report = retain_as_writer(dir, target, keep_local, &mut || lease.check()).await?;
    lease.release();
    Ok(report)
}

/// [`retain`] run by the trail's writer itself (an open [`crate::Trail`] with
/// `BackgroundArchive::keep_local`): the caller holds the writer lease, and `still_writer`
/// says whether it still does (an error stops retention before its next change of the
/// directory). The active segment and the newest `keep_local` sealed ones are never touched,
/// so the writer appending meanwhile is unaffected.
pub(crate) async fn retain_as_writer(
    dir: &Path,
    target: &ArchiveTarget,
    keep_local: usize,
    still_writer: &mut (dyn FnMut() -> Result<(), String> + Send),
) -> Result<RetainReport, ArchiveError> {
    let mut check =
        || still_writer().map_err(|e| ArchiveError::Config(format!("{}: {e}", dir.display())));
    let mut report = RetainReport {
        finished: finish_interrupted_retention(dir)?,
        ..Default::default()
    };
    let local = local_segments(dir)?;
    let keep = keep_local.max(1);
    let sealed = local.len().saturating_sub(1);
    let candidates = sealed.saturating_sub(keep);
    if local.is_empty() || candidates == 0 {
        report.kept_sealed = sealed as u64;
        return Ok(report);
    }
    let log_id = read_header(dir, &local[0].1)?.log_id;
    let (history, _) = load_history(target, &log_id).await?;
    let mut segs = Vec::new();
    let mut verified = BTreeSet::new();
    for (i, (first, name)) in local.iter().enumerate() {
        // Headers of the candidates and of the oldest kept segment only: the newest files may
        // be a segment the writer is creating right now.
        let anchor = if i <= candidates {
            Some(read_header(dir, name)?.anchor)
        } else {
            None
        };
        let mut seg = LocalSegment {
            first_seq: *first,
            sha256: None,
            anchor,
        };
        if i < candidates {
            if let Some(entry) = history.segment(*first) {
                seg.sha256 = Some(sha256_hex(&read_segment(dir, name)?));
                // Read back from the bucket: the copy there is what the manifest says.
                let key = target.key(&log_id, &entry.key);
                let remote = target.get(&key).await?;
                check()?;
                if sha256_hex(&remote) == entry.sha256 {
                    verified.insert(*first);
                } else {
                    return Err(ArchiveError::Tamper {
                        key,
                        what: format!(
                            "the object's SHA-256 is not its manifest's ({}): local segment {name} kept",
                            entry.sha256
                        ),
                    });
                }
            }
        }
        segs.push(seg);
    }
    let Some(plan) = plan_retention(&history, &segs, keep, |s| verified.contains(&s)) else {
        report.kept_sealed = sealed as u64;
        return Ok(report);
    };
    let d = TrailDir::open(dir, false).map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        error: e,
    })?;
    check()?;
    write_retained(&d, &plan.retained)?;
    fault_halt("renamed");
    report.retained = Some(plan.retained);
    for first in &plan.delete {
        check()?;
        let name = naming::segment_name(*first);
        d.remove(&name).map_err(|e| Error::Io {
            path: dir.join(&name),
            error: e,
        })?;
        report.deleted.push(name.clone());
        // Its agent index too (derived data, best effort: one left behind by a failure or a
        // crash here is removed by the next retention or open, `finish_interrupted_retention`).
        let _ = d.remove(&evident_core::agent_index::index_name(&name));
        fault_pause();
        fault_halt("deleted-one");
    }
    fault_halt("deleted-all");
    d.sync().map_err(|e| Error::Io {
        path: dir.to_path_buf(),
        error: e,
    })?;
    report.kept_sealed = (sealed - plan.delete.len()) as u64;
    Ok(report)
}

/// Test-only: `EVIDENT_FAULT_RETAIN_HALT=STEP` stops retention at one step (`tmp-synced`: the
/// temporary checkpoint written and synced, not renamed; `renamed`: `retained.checkpoint` in
/// place, nothing deleted; `deleted-one`: the first segment deleted; `deleted-all`: every one
/// deleted, the directory not synced), says so on stderr and waits there, so a test can kill -9
/// the process in that state.
fn fault_halt(step: &str) {
    #[cfg(feature = "fault-hooks")]
    if std::env::var("EVIDENT_FAULT_RETAIN_HALT").is_ok_and(|s| s == step) {
        eprintln!("evident fault hook: retention halted at {step}");
        std::thread::sleep(std::time::Duration::from_secs(600));
    }
    let _ = step;
}

/// Test-only: `EVIDENT_FAULT_RETAIN_PAUSE_MS` pauses after each deletion, so a test can kill
/// retention between two of them.
fn fault_pause() {
    #[cfg(feature = "fault-hooks")]
    if let Some(ms) = std::env::var("EVIDENT_FAULT_RETAIN_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
