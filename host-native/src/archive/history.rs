//! The whole history of a retained trail: the archive (records 1..=A) and the local trail
//! (F..=H, F ≤ A + 1) verified separately, then joined: the local trail's retention anchor must
//! be an archived segment's end, and a segment both local and archived must be the same bytes.

use super::local::read_segment;
use super::objects::load_history;
use super::verify_bucket::{verify_bucket, BucketReport};
use super::{ArchiveError, ArchiveTarget};
use crate::fs_exec::verify_dir;
use evident_core::archive::sha256_hex;
use evident_core::verify::VerifyReport;
use evident_core::{naming, Checkpoint};
use std::path::Path;

/// The verdict on a trail and its archive together.
#[derive(Debug)]
pub struct HistoryReport {
    /// The archive's verdict.
    pub archive: BucketReport,
    /// The local trail's verdict.
    pub local: Result<VerifyReport, evident_core::Error>,
    /// Where the two do not join (each naming the seq or segment), besides the problems each
    /// verdict holds.
    pub join_problems: Vec<String>,
}

impl HistoryReport {
    /// Whether the whole history (1..=local head) verified.
    pub fn ok(&self) -> bool {
        self.archive.problems.is_empty() && self.local.is_ok() && self.join_problems.is_empty()
    }
}

/// Verifies the trail at `dir` with its archive in `target`. Each checkpoint is proven by the
/// part that holds its seq: the archive up to its head, the local trail after it.
pub async fn verify_with_archive(
    dir: &Path,
    target: &ArchiveTarget,
    checkpoints: Vec<Checkpoint>,
) -> Result<HistoryReport, ArchiveError> {
    let log_id = super::read_log_id(dir)?;
    let archived_head = match load_history(target, &log_id).await {
        Ok((h, _)) => h.head.seq,
        Err(ArchiveError::Chain(_)) => 0,
        Err(e) => return Err(e),
    };
    let (old, new): (Vec<Checkpoint>, Vec<Checkpoint>) = checkpoints
        .into_iter()
        .partition(|c| c.log_id == log_id && c.seq <= archived_head);
    let archive = verify_bucket(target, &log_id, old, &mut |_, _| {}).await?;
    let local = verify_dir(dir, new, |_, _| {});
    let mut join_problems = Vec::new();
    if let Ok(r) = &local {
        if let Some(anchor) = r.anchored_by {
            let joined = archive.head.is_some_and(|h| h.seq >= anchor.seq);
            let history = load_history(target, &log_id).await.ok().map(|(h, _)| h);
            let matches = history.as_ref().is_some_and(|h| {
                h.segments.iter().any(|(_, e)| {
                    e.last_seq == anchor.seq && e.last_hash_value() == Some(anchor.hash)
                })
            });
            if !(joined && matches) {
                join_problems.push(format!(
                    "the local trail starts at seq {} (retained.checkpoint seq {} hash {}) but no archived segment ends there with that hash: records 1..={} are not proven by the archive",
                    r.first_seq, anchor.seq, anchor.hash, anchor.seq
                ));
            }
            if let Some(h) = &history {
                for (first, name) in super::local_segments(dir)? {
                    if let Some(e) = h.segment(first) {
                        let bytes = read_segment(dir, &name)?;
                        if sha256_hex(&bytes) != e.sha256 {
                            join_problems.push(format!(
                                "local segment {name} (seq {}..={}) differs from its archived copy {}",
                                e.first_seq, e.last_seq, e.key
                            ));
                        }
                    }
                }
            }
        } else if archive.head.is_some() {
            // Nothing retained: the archive's segments must be the local ones.
            let h = load_history(target, &log_id).await.ok().map(|(h, _)| h);
            for (_, e) in h.iter().flat_map(|h| h.segments.iter()) {
                let name = naming::segment_name(e.first_seq);
                if let Ok(bytes) = read_segment(dir, &name) {
                    if sha256_hex(&bytes) != e.sha256 {
                        join_problems.push(format!(
                            "local segment {name} (seq {}..={}) differs from its archived copy {}",
                            e.first_seq, e.last_seq, e.key
                        ));
                    }
                }
            }
        }
    }
    Ok(HistoryReport {
        archive,
        local,
        join_problems,
    })
}
