//! The head a prover proves against: the trail's tree (origin, size, root) at its last
//! durable record, with the chain checkpoint at the same record.

use super::ProveError;
use crate::reader::Reader;
use evident_core::frame::KIND_ENTRY;
use evident_core::hash::{leaf_v2, payload_hash};
use evident_core::prove::TreeHead;
use evident_core::tree::CompactRange;
use evident_core::{Checkpoint, LogId};
use std::path::Path;

/// The default origin of a trail: `evident/<log id hex>`.
pub fn default_origin(log_id: &LogId) -> String {
    format!("evident/{}", log_id.to_hex())
}

/// The trail's current head.
pub fn current(dir: &Path) -> Result<(TreeHead, Checkpoint), ProveError> {
    let mut reader = Reader::open(dir)?;
    reader.seek(1)?;
    let mut range = CompactRange::new();
    let mut last = None;
    while let Some(r) = reader.next_available()? {
        range.push_leaf(&leaf_v2(KIND_ENTRY, r.seq, r.ts, &payload_hash(&r.payload)));
        last = Some((r.seq, r.hash));
    }
    let log_id = reader
        .log_id()
        .ok_or_else(|| ProveError::NoTree("the trail has no segment yet".into()))?;
    let chain = match last {
        Some((seq, hash)) => Checkpoint { log_id, seq, hash },
        None => Checkpoint::empty(log_id),
    };
    Ok((
        TreeHead {
            origin: default_origin(&log_id),
            size: range.size(),
            root: range.root(),
        },
        chain,
    ))
}

/// The trail's origin.
pub fn origin_of(dir: &Path) -> Result<String, ProveError> {
    let reader = Reader::open(dir)?;
    let mut reader = reader;
    reader.seek(1)?;
    let _ = reader.next_available()?;
    let log_id = reader
        .log_id()
        .ok_or_else(|| ProveError::NoTree("the trail has no segment yet".into()))?;
    Ok(default_origin(&log_id))
}
