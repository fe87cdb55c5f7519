//! What a round uploads, and what retention may delete.

use super::chain::ArchiveHistory;
use crate::checkpoint::Checkpoint;
use crate::hash::Hash;

/// Why no round can be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// The local trail does not continue the archive: its sealed segments start after the
    /// archived head (the records between are neither local nor archived).
    Gap {
        /// The seq the archive expects next.
        archived_next: u64,
        /// The first seq of the oldest local segment.
        local_first: u64,
    },
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Gap {
                archived_next,
                local_first,
            } => write!(
                f,
                "the archive ends before seq {archived_next} but the oldest local segment starts at seq {local_first}: records {archived_next}..{local_first} are in neither"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

/// The local segments a round uploads, by first seq: every sealed segment (all but the last,
/// the active one, of `local_first_seqs` in seq order) not yet archived. Already archived ones
/// are skipped; the first one uploaded must start right after the archived head.
pub fn segments_to_upload(
    history: &ArchiveHistory,
    local_first_seqs: &[u64],
) -> Result<Vec<u64>, PlanError> {
    let sealed = &local_first_seqs[..local_first_seqs.len().saturating_sub(1)];
    let next = history.head.seq + 1;
    // A sealed segment not yet archived is one whose successor starts after the archived head.
    let mut out = Vec::new();
    for (i, &first) in sealed.iter().enumerate() {
        let successor = local_first_seqs[i + 1];
        if successor <= next {
            continue; // wholly archived
        }
        if out.is_empty() && first != next {
            return Err(PlanError::Gap {
                archived_next: next,
                local_first: first,
            });
        }
        out.push(first);
    }
    Ok(out)
}

/// One local segment as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSegment {
    /// Its first seq (from its name).
    pub first_seq: u64,
    /// Lower-case hex SHA-256 of the local file, when it was read (sealed segments that are
    /// candidates for deletion).
    pub sha256: Option<String>,
    /// Its anchor (from its header), when it was read (the oldest kept one).
    pub anchor: Option<Hash>,
}

/// What retention does: write `retained` as `retained.checkpoint`, then delete `delete` (first
/// seqs, oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPlan {
    /// The checkpoint of the last record removed: the anchor of the oldest kept segment.
    pub retained: Checkpoint,
    /// Segments to delete, oldest first.
    pub delete: Vec<u64>,
}

/// Decides which local segments may be deleted, keeping the newest `keep_local` sealed ones and
/// the active one (the last of `local`, never deleted). A segment may go only when all of these
/// hold, else it and everything after it stay:
/// - it is listed by a manifest of the validated `history`;
/// - `verified_in_bucket(first_seq)` says its object was read back from the bucket and its
///   SHA-256 matched the manifest;
/// - its local file's SHA-256 is the manifest's (the archived copy is this segment).
///
/// The plan is `None` when nothing may be deleted. The oldest kept segment's anchor must be
/// known (read from its header) and equal the last deleted segment's last hash in the manifest,
/// which is what `retained.checkpoint` will say.
pub fn plan_retention(
    history: &ArchiveHistory,
    local: &[LocalSegment],
    keep_local: usize,
    verified_in_bucket: impl Fn(u64) -> bool,
) -> Option<RetentionPlan> {
    let sealed = local.len().saturating_sub(1);
    let deletable = sealed.saturating_sub(keep_local);
    let mut delete = Vec::new();
    for seg in &local[..deletable] {
        let Some(entry) = history.segment(seg.first_seq) else {
            break;
        };
        if !verified_in_bucket(seg.first_seq) || seg.sha256.as_deref() != Some(&entry.sha256) {
            break;
        }
        delete.push(seg.first_seq);
    }
    let last = *delete.last()?;
    let entry = history.segment(last)?;
    let kept = &local[delete.len()];
    let last_hash = entry.last_hash_value()?;
    if kept.first_seq != entry.last_seq + 1 || kept.anchor != Some(last_hash) {
        return None;
    }
    Some(RetentionPlan {
        retained: Checkpoint {
            log_id: history.log_id,
            seq: entry.last_seq,
            hash: last_hash,
        },
        delete,
    })
}

/// After a crash during retention (FORMAT.md, "Retention: retained.checkpoint", case b or c):
/// the segments `retained` says were removed that are still present, oldest first, which the
/// writer removes before appending. Only when a local segment starts right after `retained`
/// and its anchor (`anchor_of(first_seq)`, read from its header) is `retained`'s hash;
/// otherwise nothing is removed (the verifier reports what is wrong).
pub fn unfinished_retention(
    retained: &Checkpoint,
    local_first_seqs: &[u64],
    anchor_of: impl Fn(u64) -> Option<Hash>,
) -> Vec<u64> {
    let Some(k) = local_first_seqs
        .iter()
        .position(|&f| Some(f) == retained.seq.checked_add(1))
    else {
        return Vec::new();
    };
    if k == 0 || anchor_of(local_first_seqs[k]) != Some(retained.hash) {
        return Vec::new();
    }
    local_first_seqs[..k].to_vec()
}
