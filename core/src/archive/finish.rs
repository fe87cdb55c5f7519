//! Finishing, at open, a retention a crash interrupted, with the IO done by the host's
//! executor: the same steps for every host (the native adapter and the component), so both
//! leave a trail in the same state (FORMAT.md, "Retention: retained.checkpoint", cases b and
//! c: `retained.checkpoint` is in place but segments it vouched away are still present).

use super::plan::unfinished_retention;
use crate::agent_index;
use crate::checkpoint::Checkpoint;
use crate::header::{SegmentHeader, HEADER_LEN};
use crate::io::{IoDone, IoError, IoErrorKind, IoOp, IoResult};
use crate::naming;

/// The most bytes of `retained.checkpoint` read (a checkpoint is far shorter).
const RETAINED_MAX: u32 = 4096;

fn unexpected(op: &IoOp) -> IoError {
    IoError {
        kind: IoErrorKind::Other,
        message: format!(
            "unexpected answer to {} while finishing a retention",
            op.name()
        ),
    }
}

/// Bytes of `file` from 0, at most `len` (fewer when the file is shorter).
fn read(
    perform: &mut dyn FnMut(&IoOp) -> IoResult,
    file: &str,
    len: u32,
) -> Result<Vec<u8>, IoError> {
    let op = IoOp::Read {
        file: file.to_string(),
        offset: 0,
        len,
    };
    match perform(&op)? {
        IoDone::Read(b) => Ok(b),
        _ => Err(unexpected(&op)),
    }
}

/// Removes, oldest first, the segments `retained.checkpoint` says were removed but are still
/// present, then syncs the directory; returns their names. `perform` runs one request on the
/// trail's directory (the caller holds the writer lease). Nothing is removed unless a local
/// segment starts right after the checkpoint and its header (same log, read here) is anchored
/// at the checkpoint's hash; an unreadable or malformed `retained.checkpoint` removes nothing
/// (verification names it).
pub fn finish_interrupted_retention(
    perform: &mut dyn FnMut(&IoOp) -> IoResult,
) -> Result<Vec<String>, IoError> {
    let names = match perform(&IoOp::ListNames)? {
        IoDone::Names(n) => n,
        _ => return Err(unexpected(&IoOp::ListNames)),
    };
    if !names.iter().any(|n| n == naming::RETAINED_CHECKPOINT) {
        return Ok(Vec::new());
    }
    let text = match read(perform, naming::RETAINED_CHECKPOINT, RETAINED_MAX) {
        Ok(b) => b,
        Err(_) => return Ok(Vec::new()),
    };
    let Some(retained) = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| Checkpoint::parse(t).ok())
    else {
        return Ok(Vec::new());
    };
    let mut firsts: Vec<u64> = names
        .iter()
        .filter_map(|n| naming::parse_segment_name(n))
        .collect();
    firsts.sort_unstable();
    // The one header that matters: the segment that starts right after the checkpoint.
    let kept = retained.seq.checked_add(1);
    let kept_anchor = match kept.filter(|k| firsts.contains(k)) {
        Some(k) => read(perform, &naming::segment_name(k), HEADER_LEN as u32)
            .ok()
            .and_then(|b| SegmentHeader::decode(&b).ok())
            .filter(|h| h.log_id == retained.log_id && h.first_seq == k)
            .map(|h| h.anchor),
        None => None,
    };
    let stale = unfinished_retention(&retained, &firsts, |f| {
        (Some(f) == kept).then_some(kept_anchor).flatten()
    });
    let mut removed = Vec::new();
    for first in stale {
        let file = naming::segment_name(first);
        perform(&IoOp::Remove { file: file.clone() })?;
        removed.push(file);
    }
    // The agent indexes of the segments retention removed (derived data: a failure leaves a
    // file nothing reads, removed by the next run). Also those a retention interrupted between
    // a segment and its index left behind.
    for name in &names {
        let Some(first) = agent_index::parse_index_name(name) else {
            continue;
        };
        let gone = !firsts.contains(&first) || removed.contains(&naming::segment_name(first));
        if gone && first <= retained.seq {
            let _ = perform(&IoOp::Remove { file: name.clone() });
        }
    }
    if !removed.is_empty() {
        perform(&IoOp::SyncDir)?;
    }
    Ok(removed)
}
