//! Transparency-log proofs for a trail directory, read-only: the trail's C2SP checkpoint,
//! inclusion bundles (`c2sp.org/tlog-proof@v1`) and consistency proofs, and their offline
//! check.
//!
//! ```no_run
//! # fn demo() -> Result<(), evident_native::prove::ProveError> {
//! use evident_native::prove::{check_proof_text, InclusionOptions, Prover};
//! let prover = Prover::open("/var/lib/agent-audit")?;
//! print!("{}", prover.checkpoint_note()); // origin, tree size, base64 root
//! let bundle = prover.prove(42, InclusionOptions::default())?; // checked before it is returned
//! let checked = check_proof_text(&bundle.text)?; // what a third party runs, offline
//! # Ok(()) }
//! ```
//!
//! A [`Prover`] reads only what a proof needs: the record (located by seq through the segment
//! names and the sealed segments' sparse indexes), and the O(log n) tiles the tree plan names.
//! The record's leaf is always recomputed from the segment, and every proof is checked
//! against the checkpoint it is shown with before it is returned; tiles are derived data, so
//! when one is missing, short or tampered the hashes are rebuilt from the segments in memory
//! and the proof made again (see [`evident_core::prove`]). Nothing here writes to the trail:
//! it works beside a live writer.

mod error;
mod head;
mod source;
mod text;

pub use error::ProveError;
pub use evident_core::prove::{Consistency, Inclusion, TreeHead};
pub use head::default_origin;
pub(crate) use head::origin_of;
pub use source::DirSource;
pub use text::{check_proof_text, parse_checkpoint_note, Checked, ProvenConsistency, ProvenRecord};

use evident_core::Checkpoint;
use std::path::{Path, PathBuf};

/// The largest proof file read: a bundle holds at most one payload (16 MiB - 1) in base64,
/// plus a few KiB of hashes and the checkpoint note.
pub const MAX_PROOF_FILE: usize = 24 << 20;

/// What an inclusion bundle covers.
#[derive(Debug, Clone, Copy)]
pub struct InclusionOptions {
    /// The tree size to prove against (default: the trail's head).
    pub size: Option<u64>,
    /// Whether the bundle carries the payload (default true).
    pub include_payload: bool,
}

impl Default for InclusionOptions {
    fn default() -> Self {
        InclusionOptions {
            size: None,
            include_payload: true,
        }
    }
}

/// An inclusion bundle: its text, and what it proves.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The `c2sp.org/tlog-proof@v1` text.
    pub text: String,
    /// The proof it holds.
    pub inclusion: Inclusion,
    /// Tile files opened to make it (O(log n); more when a tile had to be passed over).
    pub tiles_read: usize,
}

/// A read-only prover over one trail directory, at the head it found when opened.
#[derive(Debug)]
pub struct Prover {
    dir: PathBuf,
    head: TreeHead,
    chain: Checkpoint,
}

impl Prover {
    /// Opens the trail in `dir` and takes its current head: the tree its checkpoint states,
    /// extended by any records the writer has made durable since.
    pub fn open(dir: impl AsRef<Path>) -> Result<Prover, ProveError> {
        let dir = dir.as_ref().to_path_buf();
        let (head, chain) = head::current(&dir)?;
        Ok(Prover { dir, head, chain })
    }

    /// The tree this prover proves against (origin, size, root).
    pub fn checkpoint(&self) -> &TreeHead {
        &self.head
    }

    /// The chain checkpoint at the same record (`evident head`'s form).
    pub fn chain_head(&self) -> &Checkpoint {
        &self.chain
    }

    /// The C2SP tlog-checkpoint note of the head, unsigned (signatures come with witnesses).
    pub fn checkpoint_note(&self) -> String {
        text::checkpoint_note(&self.head)
    }

    /// An inclusion bundle for record `seq`, checked before it is returned.
    pub fn prove(&self, seq: u64, opts: InclusionOptions) -> Result<Bundle, ProveError> {
        let mut src = DirSource::open(&self.dir)?;
        let inclusion = evident_core::prove::prove_inclusion(
            &mut src,
            &self.head,
            seq,
            opts.size,
            opts.include_payload,
        )?;
        let text = text::bundle_text(&inclusion)?;
        Ok(Bundle {
            text,
            inclusion,
            tiles_read: src.tiles_read,
        })
    }

    /// A consistency proof from the older checkpoint note `old` to the head, checked before it
    /// is returned.
    pub fn prove_consistency(&self, old: &str) -> Result<String, ProveError> {
        let old = text::parse_checkpoint_note(old)?;
        let mut src = DirSource::open(&self.dir)?;
        let c = evident_core::prove::prove_consistency(&mut src, &self.head, &old)?;
        text::consistency_text(&c)
    }

    /// A consistency proof from the older checkpoint note `old` to the checkpoint note `new`
    /// of this log, at or below the head (the signed `checkpoint.note`, say, so the proof can
    /// carry its signatures). `new` is first proven consistent with the head, so a note that
    /// is not this trail's tree is refused; the proof is checked before it is returned.
    pub fn prove_consistency_to(&self, old: &str, new: &str) -> Result<String, ProveError> {
        let old = text::parse_checkpoint_note(old)?;
        let new = text::parse_checkpoint_note(new)?;
        let mut src = DirSource::open(&self.dir)?;
        evident_core::prove::prove_consistency(&mut src, &self.head, &new)?;
        let c = evident_core::prove::prove_consistency(&mut src, &new, &old)?;
        text::consistency_text(&c)
    }
}

/// Proves that the trail in `dir` still holds the tree of a C2SP checkpoint note: the same
/// origin, at least its size, and the root recomputed from the records (never from tiles)
/// at that size equal to its root. O(size): this is what `evident verify --checkpoint` runs.
pub fn check_tree_checkpoint(dir: impl AsRef<Path>, note: &str) -> Result<TreeHead, ProveError> {
    let want = text::parse_checkpoint_note(note)?;
    let ours = head::origin_of(dir.as_ref())?;
    if want.origin != ours {
        return Err(ProveError::OtherLog {
            ours,
            theirs: want.origin,
        });
    }
    let mut src = DirSource::open(dir.as_ref())?;
    let leaves = evident_core::prove::ProofSource::leaves(&mut src, want.size)?;
    if (leaves.len() as u64) < want.size {
        return Err(ProveError::Inconsistent(format!(
            "the checkpoint is of a tree of size {}, the trail holds {} records",
            want.size,
            leaves.len()
        )));
    }
    let mut range = evident_core::tree::CompactRange::new();
    for l in &leaves {
        range.push_leaf(l);
    }
    let root = range.root();
    if root != want.root {
        return Err(ProveError::Inconsistent(format!(
            "the trail's tree of size {} has root {}, the checkpoint says {}",
            want.size,
            TreeHead {
                root,
                ..want.clone()
            }
            .root_base64(),
            want.root_base64()
        )));
    }
    Ok(want)
}
