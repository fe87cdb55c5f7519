//! The inclusion proof bundle, in the C2SP `tlog-proof@v1` form (c2sp.org/tlog-proof):
//!
//! ```text
//! c2sp.org/tlog-proof@v1\n
//! extra <base64 of evident's extra, see super::extra>\n
//! index <entry index, decimal, no leading zeros>\n
//! <proof hash, base64>\n        (zero or more, leaf's sibling first)
//! \n
//! <the checkpoint note, verbatim>
//! ```
//!
//! evident always writes the `extra` line (the spec makes it optional; an evident bundle
//! without it cannot name its record and is refused). [`check_bundle`] needs nothing but the
//! bundle: it recomputes the payload hash from the payload when present, the leaf from the
//! extra, checks `seq == index + 1` and the origin, and verifies the inclusion proof against
//! the checkpoint's root. Checking the checkpoint's signatures is the next issue's (the
//! [`CheckedBundle::note`] is returned for it).

use super::base64;
use super::checkpoint::{base64_hash, canonical_u64, TreeCheckpoint};
use super::extra::RecordExtra;
use super::hash::leaf_node;
use super::note::{Note, NoteError};
use super::proof::{ProofError, MAX_PROOF_HASHES};
use super::verify::verify_inclusion;
use crate::hash::{payload_hash, Hash};
use std::fmt;

/// The first line of a bundle.
pub const BUNDLE_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Why a bundle is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// The text does not follow the grammar (1-based line of the bundle).
    Syntax {
        /// Bundle line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The extra bytes do not parse.
    Extra(String),
    /// The checkpoint note or its body is refused (line numbers are the note's).
    Checkpoint(NoteError),
    /// The payload does not hash to the payload hash the extra states.
    PayloadMismatch {
        /// Hash of the payload carried.
        computed: Hash,
        /// Hash the extra states.
        stated: Hash,
    },
    /// The record's seq is not the entry index + 1.
    SeqNotIndex {
        /// The extra's seq.
        seq: u64,
        /// The bundle's index.
        index: u64,
    },
    /// The extra names another tree size than the checkpoint.
    SizeMismatch {
        /// Size in the extra.
        extra: u64,
        /// Size of the checkpoint.
        checkpoint: u64,
    },
    /// The extra names another log than the checkpoint.
    OriginMismatch {
        /// Origin in the extra.
        extra: String,
        /// Origin of the checkpoint.
        checkpoint: String,
    },
    /// The inclusion proof does not verify.
    Proof(ProofError),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Syntax { line, reason } => write!(f, "bundle line {line}: {reason}"),
            BundleError::Extra(e) => write!(f, "bundle {e}"),
            BundleError::Checkpoint(e) => write!(f, "bundle checkpoint: {e}"),
            BundleError::PayloadMismatch { computed, stated } => write!(
                f,
                "the payload hashes to {computed}, the record states payload hash {stated}"
            ),
            BundleError::SeqNotIndex { seq, index } => write!(
                f,
                "the record's seq {seq} is not the entry index {index} + 1"
            ),
            BundleError::SizeMismatch { extra, checkpoint } => write!(
                f,
                "the proof was made for tree size {extra}, the checkpoint says {checkpoint}"
            ),
            BundleError::OriginMismatch { extra, checkpoint } => write!(
                f,
                "the record names log {extra:?}, the checkpoint is of log {checkpoint:?}"
            ),
            BundleError::Proof(e) => write!(f, "bundle proof: {e}"),
        }
    }
}

impl std::error::Error for BundleError {}

/// A parsed (not yet checked) bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The extra bytes, decoded.
    pub extra: RecordExtra,
    /// The entry index (`seq - 1`).
    pub index: u64,
    /// The inclusion proof.
    pub proof: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub note: Note,
    /// The checkpoint it carries.
    pub checkpoint: TreeCheckpoint,
}

/// What a verified bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBundle {
    /// The log's origin.
    pub origin: String,
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// The entry index.
    pub index: u64,
    /// Record kind.
    pub kind: u8,
    /// Record seq.
    pub seq: u64,
    /// Record timestamp.
    pub ts: u64,
    /// The payload hash (checked against the payload when it is present).
    pub payload_hash: Hash,
    /// The payload, unless the bundle left it out.
    pub payload: Option<Vec<u8>>,
    /// The checkpoint note (for checking its signatures).
    pub note: Note,
}

fn syntax(line: usize, reason: impl Into<String>) -> BundleError {
    BundleError::Syntax {
        line,
        reason: reason.into(),
    }
}

/// Writes a bundle (does not check it; see [`prove_bundle`]). The extra's origin and tree
/// size are taken from the checkpoint note (see [`super::extra`]).
pub fn format_bundle(
    extra: &RecordExtra,
    index: u64,
    proof: &[Hash],
    note: &Note,
) -> Result<String, BundleError> {
    let checkpoint = TreeCheckpoint::from_note(note).map_err(BundleError::Checkpoint)?;
    let mut extra = extra.clone();
    extra.origin = checkpoint.origin;
    extra.tree_size = checkpoint.size;
    let bytes = extra.encode().map_err(BundleError::Extra)?;
    let mut out = format!(
        "{BUNDLE_HEADER}\nextra {}\nindex {index}\n",
        base64::encode(&bytes)
    );
    for h in proof {
        out.push_str(&base64::encode(&h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&note.to_text());
    Ok(out)
}

/// Writes a bundle and checks it as a verifier will, so a prover never emits one that does
/// not verify (a tampered tile gives a proof that fails here).
pub fn prove_bundle(
    extra: &RecordExtra,
    index: u64,
    proof: &[Hash],
    note: &Note,
) -> Result<String, BundleError> {
    let text = format_bundle(extra, index, proof, note)?;
    check_bundle(text.as_bytes())?;
    Ok(text)
}

/// Splits off one line ending in `\n` starting at byte `at`.
pub(crate) fn next_line(s: &str, at: usize, line: usize) -> Result<(&str, usize), BundleError> {
    match s[at..].find('\n') {
        Some(n) => Ok((&s[at..at + n], at + n + 1)),
        None => Err(syntax(
            line,
            "the text ends before this line does (no newline)",
        )),
    }
}

/// Reads proof lines up to the blank line; returns the hashes and the byte after the blank.
pub(crate) fn proof_lines(
    s: &str,
    mut at: usize,
    mut line: usize,
) -> Result<(Vec<Hash>, usize, usize), BundleError> {
    let mut proof = Vec::new();
    loop {
        let (text, next) = next_line(s, at, line)?;
        at = next;
        if text.is_empty() {
            return Ok((proof, at, line + 1));
        }
        if proof.len() == MAX_PROOF_HASHES {
            return Err(syntax(
                line,
                format!("more than {MAX_PROOF_HASHES} proof hashes"),
            ));
        }
        proof.push(base64_hash(text).map_err(|e| syntax(line, format!("proof hash: {e}")))?);
        line += 1;
    }
}

/// Parses a bundle without checking the proof.
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle, BundleError> {
    let s = std::str::from_utf8(bytes).map_err(|e| {
        syntax(
            1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            "not UTF-8",
        )
    })?;
    let (header, at) = next_line(s, 0, 1)?;
    if header != BUNDLE_HEADER {
        return Err(syntax(1, format!("the first line must be {BUNDLE_HEADER}")));
    }
    let (extra_line, at) = next_line(s, at, 2)?;
    let extra_b64 = extra_line.strip_prefix("extra ").ok_or_else(|| {
        syntax(
            2,
            "no `extra <base64>` line (evident bundles carry the record there)",
        )
    })?;
    let extra_bytes = base64::decode(extra_b64).map_err(|e| syntax(2, format!("extra: {e}")))?;
    let extra = RecordExtra::decode(&extra_bytes).map_err(BundleError::Extra)?;
    let (index_line, at) = next_line(s, at, 3)?;
    let index = index_line
        .strip_prefix("index ")
        .and_then(canonical_u64)
        .ok_or_else(|| syntax(3, "expected `index <decimal without leading zeros>`"))?;
    let (proof, at, _) = proof_lines(s, at, 4)?;
    let (checkpoint, note) =
        TreeCheckpoint::parse_note(&s.as_bytes()[at..]).map_err(BundleError::Checkpoint)?;
    Ok(Bundle {
        extra,
        index,
        proof,
        note,
        checkpoint,
    })
}

/// Verifies a bundle offline (see the module docs).
pub fn check_bundle(bytes: &[u8]) -> Result<CheckedBundle, BundleError> {
    let b = parse_bundle(bytes)?;
    if let Some(p) = &b.extra.payload {
        let computed = payload_hash(p);
        if computed != b.extra.payload_hash {
            return Err(BundleError::PayloadMismatch {
                computed,
                stated: b.extra.payload_hash,
            });
        }
    }
    if b.extra.seq.checked_sub(1) != Some(b.index) {
        return Err(BundleError::SeqNotIndex {
            seq: b.extra.seq,
            index: b.index,
        });
    }
    if b.extra.origin != b.checkpoint.origin {
        return Err(BundleError::OriginMismatch {
            extra: b.extra.origin,
            checkpoint: b.checkpoint.origin,
        });
    }
    if b.extra.tree_size != b.checkpoint.size {
        return Err(BundleError::SizeMismatch {
            extra: b.extra.tree_size,
            checkpoint: b.checkpoint.size,
        });
    }
    let node = leaf_node(&b.extra.leaf());
    verify_inclusion(
        &node,
        b.index,
        b.checkpoint.size,
        &b.proof,
        &b.checkpoint.root,
    )
    .map_err(BundleError::Proof)?;
    Ok(CheckedBundle {
        origin: b.checkpoint.origin,
        size: b.checkpoint.size,
        root: b.checkpoint.root,
        index: b.index,
        kind: b.extra.kind,
        seq: b.extra.seq,
        ts: b.extra.ts,
        payload_hash: b.extra.payload_hash,
        payload: b.extra.payload,
        note: b.note,
    })
}
