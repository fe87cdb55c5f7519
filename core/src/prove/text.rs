//! The text forms a prover writes and a verifier reads, over the tree room's formats
//! ([`crate::tree::checkpoint`], [`crate::tree::bundle`], [`crate::tree::consistency`]): the
//! C2SP checkpoint note, the `c2sp.org/tlog-proof@v1` inclusion bundle and evident's
//! consistency-proof file, and their offline checks. Checkpoints are unsigned until the
//! signing issue passes signers through [`crate::tree::NoteSigner`].

use super::{Consistency, Inclusion, TreeHead};
use crate::tree::bundle::{check_bundle, prove_bundle, BundleError};
use crate::tree::consistency::CONSISTENCY_HEADER;
use crate::tree::consistency::{check_consistency_file, prove_consistency_file};
use crate::tree::{base64, Note, RecordExtra};

/// Why a text does not parse or does not verify: the line (1-based, when one is at fault) and
/// the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// The line at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for TextError {}

impl From<BundleError> for TextError {
    fn from(e: BundleError) -> TextError {
        match e {
            BundleError::Syntax { line, reason } if line > 0 => TextError {
                line: Some(line),
                reason,
            },
            e => TextError {
                line: None,
                reason: e.to_string(),
            },
        }
    }
}

impl From<crate::tree::NoteError> for TextError {
    fn from(e: crate::tree::NoteError) -> TextError {
        TextError {
            line: (e.line > 0).then_some(e.line),
            reason: e.reason,
        }
    }
}

impl TreeHead {
    /// The root in standard base64, as the checkpoint note writes it.
    pub fn root_base64(&self) -> String {
        base64::encode(&self.root.0)
    }
}

fn note_of(head: &TreeHead) -> Result<Note, TextError> {
    Ok(head.unsigned_note()?)
}

/// The C2SP tlog-checkpoint note of a tree (unsigned: its body, origin, size and base64 root,
/// each line ending in LF).
pub fn checkpoint_note(head: &TreeHead) -> String {
    note_of(head).map_or_else(|_| head.body(), |n| n.to_text())
}

/// Parses a checkpoint note (its signatures, if any, are not checked yet).
pub fn parse_checkpoint_note(text: &str) -> Result<TreeHead, TextError> {
    Ok(TreeHead::parse_note(text.as_bytes())?.0)
}

/// The inclusion bundle text of a proof, checked as a verifier will check it.
pub fn bundle_text(i: &Inclusion) -> Result<String, TextError> {
    let extra = RecordExtra {
        kind: i.kind,
        seq: i.seq,
        ts: i.ts,
        payload_hash: i.payload_hash,
        origin: i.tree.origin.clone(),
        tree_size: i.tree.size,
        payload: i.payload.clone(),
    };
    Ok(prove_bundle(
        &extra,
        i.seq - 1,
        &i.proof,
        &note_of(&i.tree)?,
    )?)
}

/// The consistency-proof text, checked as a verifier will check it.
pub fn consistency_text(c: &Consistency) -> Result<String, TextError> {
    Ok(prove_consistency_file(
        &c.proof,
        &note_of(&c.old)?,
        &note_of(&c.new)?,
    )?)
}

/// Whether `text` is a consistency proof (by its first line).
pub fn is_consistency_text(text: &str) -> bool {
    text.split('\n').next() == Some(CONSISTENCY_HEADER)
}

/// Checks an inclusion bundle with nothing but its text.
pub fn check_bundle_text(text: &str) -> Result<Inclusion, TextError> {
    let b = check_bundle(text.as_bytes())?;
    Ok(Inclusion {
        kind: b.kind,
        seq: b.seq,
        ts: b.ts,
        payload_hash: b.payload_hash,
        payload: b.payload,
        tree: TreeHead {
            origin: b.origin,
            size: b.size,
            root: b.root,
        },
        proof: Vec::new(),
        rebuilt: false,
    })
}

/// Checks a consistency proof with nothing but its text.
pub fn check_consistency_text(text: &str) -> Result<Consistency, TextError> {
    let c = check_consistency_file(text.as_bytes())?;
    Ok(Consistency {
        old: TreeHead {
            origin: c.origin.clone(),
            size: c.old_size,
            root: c.old_root,
        },
        new: TreeHead {
            origin: c.origin,
            size: c.new_size,
            root: c.new_root,
        },
        proof: Vec::new(),
        rebuilt: false,
    })
}
