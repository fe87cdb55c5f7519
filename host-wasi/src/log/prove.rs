//! `checkpoint-note`, `prove` and `prove-consistency` of the `log` resource: the same
//! [`evident_core::prove`] glue the native prover runs, over the component's own reads, so
//! both emit the same bytes for the same trail.

use super::State;
use crate::bindings::evident::log::types as wit;
use evident_core::frame::KIND_ENTRY;
use evident_core::hash::{leaf_v2, payload_hash, Hash};
use evident_core::prove::{ProofSource, ProveError, TreeHead};
use evident_core::{IoDone, IoErrorKind, IoOp};

/// Reads for the prover through the component's executor.
pub(super) struct Source<'a> {
    state: &'a mut State,
}

impl<'a> Source<'a> {
    /// A source reading through `state`'s executor.
    pub(super) fn new(state: &'a mut State) -> Source<'a> {
        Source { state }
    }
}

/// Records read per call on the slow path.
const LEAF_BATCH: u32 = 4096;

impl ProofSource for Source<'_> {
    type Error = wit::Error;

    fn record(&mut self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, wit::Error> {
        let mut got = self.state.read(seq, 1)?;
        Ok(match got.pop() {
            Some(e) if e.seq == seq => Some((e.timestamp, e.payload)),
            _ => None,
        })
    }

    fn read_tile(&mut self, path: &str, max_len: usize) -> Result<Option<Vec<u8>>, wit::Error> {
        let op = IoOp::Read {
            file: path.to_string(),
            offset: 0,
            len: max_len as u32 + 1,
        };
        match self.state.exec.perform(&op) {
            Ok(IoDone::Read(d)) => Ok(Some(d)),
            Ok(_) => Ok(None),
            // Tiles are derived data: one that cannot be read is rebuilt from the records.
            Err(e) if e.kind == IoErrorKind::NotFound => Ok(None),
            Err(_) => Ok(None),
        }
    }

    fn leaves(&mut self, size: u64) -> Result<Vec<Hash>, wit::Error> {
        let mut out = Vec::new();
        while (out.len() as u64) < size {
            let from = out.len() as u64 + 1;
            let want = (size - out.len() as u64).min(u64::from(LEAF_BATCH)) as u32;
            let got = self.state.read(from, want)?;
            if got.is_empty() {
                break;
            }
            for e in got {
                out.push(leaf_v2(
                    KIND_ENTRY,
                    e.seq,
                    e.timestamp,
                    &payload_hash(&e.payload),
                ));
            }
        }
        Ok(out)
    }
}

pub(super) fn prove_error(e: ProveError<wit::Error>) -> wit::Error {
    match e {
        ProveError::Source(e) => e,
        e @ (ProveError::NoSuchRecord { .. }
        | ProveError::BeyondTree { .. }
        | ProveError::BadSize { .. }) => wit::Error::InvalidArgument(e.to_string()),
        e => wit::Error::CheckpointMismatch(wit::Corruption {
            location: crate::convert::location(None),
            message: e.to_string(),
        }),
    }
}

impl State {
    /// The tree at the durable head (the writer keeps it in group commit).
    pub(super) fn tree_head(&self) -> Result<TreeHead, wit::Error> {
        self.core
            .tree_checkpoint()
            .ok_or_else(|| wit::Error::Failed("the trail is not open".into()))
    }

    /// The C2SP checkpoint body of the durable head.
    pub(super) fn checkpoint_note(&mut self) -> Result<String, wit::Error> {
        let head = self.tree_head()?;
        Ok(evident_core::prove::checkpoint_note(&head))
    }

    /// An inclusion bundle, checked before it is returned.
    pub(super) fn prove(
        &mut self,
        seq: u64,
        size: Option<u64>,
        include_payload: bool,
    ) -> Result<String, wit::Error> {
        let head = self.tree_head()?;
        let mut src = Source { state: self };
        let inclusion =
            evident_core::prove::prove_inclusion(&mut src, &head, seq, size, include_payload)
                .map_err(prove_error)?;
        evident_core::prove::bundle_text(&inclusion)
            .map_err(|e| prove_error(ProveError::Inconsistent(e.to_string())))
    }

    /// A consistency proof from `old` (a checkpoint note) to the durable head.
    pub(super) fn prove_consistency(&mut self, old: &str) -> Result<String, wit::Error> {
        let old = evident_core::prove::parse_checkpoint_note(old)
            .map_err(|e| wit::Error::InvalidArgument(e.to_string()))?;
        let head = self.tree_head()?;
        let mut src = Source { state: self };
        let c =
            evident_core::prove::prove_consistency(&mut src, &head, &old).map_err(prove_error)?;
        evident_core::prove::consistency_text(&c)
            .map_err(|e| prove_error(ProveError::Inconsistent(e.to_string())))
    }
}
