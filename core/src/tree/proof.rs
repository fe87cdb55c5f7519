//! Inclusion and consistency proofs (RFC 9162 §2.1.3.1 and §2.1.4.1), generated from a
//! source of stored node hashes.
//!
//! A *stored* node is the root of a complete subtree: node `(level, index)` covers entries
//! `index * 2^level .. (index + 1) * 2^level`. Every hash a proof needs is such a node or the
//! hash of a right-edge range that decomposes into at most 64 of them, so the host only has
//! to answer [`HashReader::stored`] (from tiles, see [`super::tileset`], or memory, see
//! [`super::memory`]). The work is O(log n) reads for any size: the descent below visits one
//! subtree per level, and at most one of its siblings is incomplete.
//!
//! Proof hashes are ordered as RFC 9162 and C2SP tlog-proof write them: from the leaf's
//! sibling (or the old tree's side) up to the root's child.

use super::hash::{interior, largest_power_of_two_below, EMPTY_ROOT};
use super::range::TreeError;
use crate::hash::Hash;
use std::fmt;

/// The most hashes a proof can hold: one per level of a tree of up to 2^64 - 1 entries, plus
/// the extra node a consistency proof can carry.
pub const MAX_PROOF_HASHES: usize = 130;

/// A source of stored (complete-subtree) node hashes.
pub trait HashReader {
    /// The root of the complete subtree at `level` (0 = the entries' leaf nodes) and `index`
    /// within that level. Errors say which node could not be read and why.
    fn stored(&self, level: u8, index: u64) -> Result<Hash, TreeError>;
}

/// One stored node: the complete subtree at `level` and `index` (see [`HashReader`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Tree level, 0 for the entries' leaf nodes.
    pub level: u8,
    /// Index within the level.
    pub index: u64,
}

/// Why a proof could not be made or did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// An inclusion proof was asked or checked in a tree of size 0 (it has no entries).
    EmptyTree,
    /// The entry index is not below the tree size.
    IndexBeyondSize {
        /// The entry's 0-based index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    OldBeyondNew {
        /// The old (claimed smaller) size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// The proof holds a different number of hashes than these sizes need.
    WrongLength {
        /// Hashes the sizes call for.
        expected: usize,
        /// Hashes the proof holds.
        got: usize,
    },
    /// The inclusion proof leads to another root: wrong entry, index, size, proof or root.
    RootMismatch {
        /// The root the proof and entry give.
        computed: Hash,
        /// The root it was checked against.
        expected: Hash,
    },
    /// The consistency proof does not lead to the old root.
    OldRootMismatch {
        /// The old root the proof gives.
        computed: Hash,
        /// The old root it was checked against.
        expected: Hash,
    },
    /// The consistency proof does not lead to the new root.
    NewRootMismatch {
        /// The new root the proof gives.
        computed: Hash,
        /// The new root it was checked against.
        expected: Hash,
    },
    /// A stored hash could not be read (generation only).
    Read(TreeError),
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::EmptyTree => f.write_str("a tree of size 0 has no entries to prove"),
            ProofError::IndexBeyondSize { index, size } => write!(
                f,
                "entry index {index} is beyond the tree of size {size} (indexes run 0..{size})"
            ),
            ProofError::OldBeyondNew { old, new } => write!(
                f,
                "the old tree size {old} is larger than the new tree size {new}"
            ),
            ProofError::WrongLength { expected, got } => write!(
                f,
                "the proof has {got} hashes; these sizes need exactly {expected}"
            ),
            ProofError::RootMismatch { computed, expected } => write!(
                f,
                "the inclusion proof leads to root {} (base64), not the checkpoint's {}",
                super::base64::encode(&computed.0),
                super::base64::encode(&expected.0)
            ),
            ProofError::OldRootMismatch { computed, expected } => write!(
                f,
                "the consistency proof leads to old root {}, not {}",
                super::base64::encode(&computed.0),
                super::base64::encode(&expected.0)
            ),
            ProofError::NewRootMismatch { computed, expected } => write!(
                f,
                "the consistency proof leads to new root {}, not {}",
                super::base64::encode(&computed.0),
                super::base64::encode(&expected.0)
            ),
            ProofError::Read(e) => write!(f, "reading a tree hash: {e}"),
        }
    }
}

impl std::error::Error for ProofError {}

impl From<TreeError> for ProofError {
    fn from(e: TreeError) -> ProofError {
        ProofError::Read(e)
    }
}

/// The stored nodes whose hashes make up entries `lo..hi`, left to right, when `lo` is a
/// multiple of a power of two at least `hi - lo` (true of every range a proof descent
/// visits and of `0..size`): the complete subtrees of the range, largest first.
pub fn range_nodes(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut lo = lo;
    while lo < hi {
        let fits = 63 - (hi - lo).leading_zeros();
        let level = lo.trailing_zeros().min(fits);
        out.push(NodeId {
            level: level as u8,
            index: lo >> level,
        });
        lo += 1u64 << level;
    }
    out
}

/// The Merkle tree hash of entries `lo..hi` (`lo < hi`, aligned as [`range_nodes`] needs).
pub fn range_hash(lo: u64, hi: u64, reader: &dyn HashReader) -> Result<Hash, TreeError> {
    let nodes = range_nodes(lo, hi);
    let mut hashes = Vec::with_capacity(nodes.len());
    for n in &nodes {
        hashes.push(reader.stored(n.level, n.index)?);
    }
    let mut it = hashes.into_iter().rev();
    let Some(mut root) = it.next() else {
        return Ok(EMPTY_ROOT);
    };
    for left in it {
        root = interior(&left, &root);
    }
    Ok(root)
}

/// The root of the tree of `size` entries.
pub fn root_at(size: u64, reader: &dyn HashReader) -> Result<Hash, ProofError> {
    Ok(range_hash(0, size, reader)?)
}

/// The entry ranges whose hashes form the inclusion proof of `index` in a tree of `size`,
/// in proof order (leaf's sibling first).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if size == 0 {
        return Err(ProofError::EmptyTree);
    }
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut lo, mut hi) = (0u64, size);
    let mut top_down = Vec::new();
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if index < lo + k {
            top_down.push((lo + k, hi));
            hi = lo + k;
        } else {
            top_down.push((lo, lo + k));
            lo += k;
        }
    }
    top_down.reverse();
    Ok(top_down)
}

/// The entry ranges whose hashes form the consistency proof from size `old` to size `new`,
/// in proof order. Empty when `old == new` or `old == 0` (every tree extends the empty one).
pub fn consistency_ranges(old: u64, new: u64) -> Result<Vec<(u64, u64)>, ProofError> {
    if old > new {
        return Err(ProofError::OldBeyondNew { old, new });
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    let (mut lo, mut hi, mut m) = (0u64, new, old);
    let mut whole_old_tree = true;
    let mut top_down = Vec::new();
    loop {
        let n = hi - lo;
        if m == n {
            // The old tree's own root is known to the verifier only when this subtree is it.
            if !whole_old_tree {
                top_down.push((lo, hi));
            }
            break;
        }
        let k = largest_power_of_two_below(n);
        if m <= k {
            top_down.push((lo + k, hi));
            hi = lo + k;
        } else {
            top_down.push((lo, lo + k));
            lo += k;
            m -= k;
            whole_old_tree = false;
        }
    }
    top_down.reverse();
    Ok(top_down)
}

/// The inclusion proof of entry `index` (0-based) in the tree of `size` entries.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    reader: &dyn HashReader,
) -> Result<Vec<Hash>, ProofError> {
    inclusion_ranges(index, size)?
        .into_iter()
        .map(|(lo, hi)| Ok(range_hash(lo, hi, reader)?))
        .collect()
}

/// The consistency proof that the tree of size `new` extends the tree of size `old`.
pub fn consistency_proof(
    old: u64,
    new: u64,
    reader: &dyn HashReader,
) -> Result<Vec<Hash>, ProofError> {
    consistency_ranges(old, new)?
        .into_iter()
        .map(|(lo, hi)| Ok(range_hash(lo, hi, reader)?))
        .collect()
}
