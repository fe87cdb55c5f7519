//! The head a prover proves against: the trail's tree (origin, size, root) at its last
//! durable record, with the chain checkpoint at the same record.
//!
//! The fast path reads `head.checkpoint` (a format-2 writer adds the tree root at its seq),
//! checks that the record at that seq carries the checkpoint's chain hash, and extends the
//! tree by the records written since (a live writer refreshes the file periodically): the
//! right edge at the checkpoint comes from O(log n) tiles and is accepted only when it gives
//! the checkpoint's root (see [`evident_core::prove::extend_head`]). Without a usable
//! `head.checkpoint` every record is read (O(n)). Either way the proofs made against this head
//! are checked against it, and the slow path of a proof recomputes it from the records.

use super::{DirSource, ProveError};
use crate::reader::Reader;
use evident_core::frame::KIND_ENTRY;
use evident_core::hash::{leaf_v2, payload_hash, Hash};
use evident_core::header::{FormatVersion, SegmentHeader, HEADER_LEN};
use evident_core::prove::TreeHead;
use evident_core::tree::CompactRange;
use evident_core::{naming, Checkpoint, LogId};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The default origin of a trail: `evident/<log id hex>`.
pub fn default_origin(log_id: &LogId) -> String {
    format!("evident/{}", log_id.to_hex())
}

/// The first segment's header: the trail's log id and format version.
fn first_header(dir: &Path, reader: &Reader) -> Result<SegmentHeader, ProveError> {
    let Some((_, name)) = reader.segments().first() else {
        return Err(ProveError::NoTree("the trail has no segment yet".into()));
    };
    let path = dir.join(name);
    let io = |error| ProveError::Io {
        path: path.clone(),
        error,
    };
    let f = std::fs::File::open(&path).map_err(io)?;
    let mut b = [0u8; HEADER_LEN];
    f.read_exact_at(&mut b, 0).map_err(io)?;
    SegmentHeader::decode(&b).map_err(|d| {
        ProveError::Trail(crate::Error::Trail(evident_core::Error::Corrupt {
            location: evident_core::Location::file(name.as_str()).at(0),
            what: d.to_string(),
        }))
    })
}

/// The trail's origin: its `origin` file (one line, written once when the trail was
/// created), or `evident/<log id hex>` for a trail without one.
fn read_origin(dir: &Path, log_id: &LogId) -> Result<String, ProveError> {
    let path = dir.join(naming::ORIGIN);
    let bytes = match crate::safe_fs::read_small(&path, 1024) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(default_origin(log_id)),
        Err(error) => return Err(ProveError::Io { path, error }),
    };
    let bad = || {
        ProveError::Trail(crate::Error::Trail(evident_core::Error::Corrupt {
            location: evident_core::Location::file(naming::ORIGIN),
            what: "not one line holding a valid origin".into(),
        }))
    };
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let line = text
        .strip_suffix('\n')
        .filter(|l| !l.contains('\n'))
        .ok_or_else(bad)?;
    evident_core::tree::check_origin(line).map_err(|_| bad())?;
    Ok(line.to_string())
}

/// The trail's origin.
pub fn origin_of(dir: &Path) -> Result<String, ProveError> {
    let reader = Reader::open(dir)?;
    read_origin(dir, &first_header(dir, &reader)?.log_id)
}

/// `head.checkpoint` with its tree root, when the file is there and has one.
fn own_checkpoint(dir: &Path) -> Option<(Checkpoint, Hash)> {
    let bytes = crate::safe_fs::read_small(
        &dir.join(naming::HEAD_CHECKPOINT),
        crate::safe_fs::MAX_CHECKPOINT_FILE,
    )
    .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    match Checkpoint::parse_own_file(&text).ok()? {
        (cp, Some(root)) => Some((cp, root)),
        _ => None,
    }
}

fn leaf_of(r: &crate::Record) -> Hash {
    leaf_v2(KIND_ENTRY, r.seq, r.ts, &payload_hash(&r.payload))
}

/// The trail's current head.
pub fn current(dir: &Path) -> Result<(TreeHead, Checkpoint), ProveError> {
    let mut reader = Reader::open(dir)?;
    let header = first_header(dir, &reader)?;
    if header.version == FormatVersion::V1 {
        return Err(ProveError::NoTree(
            "it is in format version 1, whose leaves the tree is not built over (a trail \
             created by this version has one)"
                .into(),
        ));
    }
    let log_id = header.log_id;
    let origin = read_origin(dir, &log_id)?;
    if let Some((cp, root)) = own_checkpoint(dir).filter(|(cp, _)| cp.log_id == log_id) {
        let at_checkpoint = if cp.seq == 0 {
            true
        } else {
            reader.get(cp.seq)?.is_some_and(|r| r.hash == cp.hash)
        };
        if at_checkpoint {
            reader.seek(cp.seq + 1)?;
            let mut more = Vec::new();
            let mut chain = cp;
            while let Some(r) = reader.next_available()? {
                more.push(leaf_of(&r));
                chain = Checkpoint {
                    log_id,
                    seq: r.seq,
                    hash: r.hash,
                };
            }
            let known = TreeHead {
                origin,
                size: cp.seq,
                root,
            };
            let mut src = DirSource::open(dir)?;
            let head = evident_core::prove::extend_head(&mut src, &known, &more)?;
            return Ok((head, chain));
        }
    }
    // No usable head.checkpoint: the tree from every record.
    reader.seek(1)?;
    let mut range = CompactRange::new();
    let mut chain = Checkpoint::empty(log_id);
    while let Some(r) = reader.next_available()? {
        range.push_leaf(&leaf_of(&r));
        chain = Checkpoint {
            log_id,
            seq: r.seq,
            hash: r.hash,
        };
    }
    Ok((
        TreeHead {
            origin,
            size: range.size(),
            root: range.root(),
        },
        chain,
    ))
}
