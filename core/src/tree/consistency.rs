//! evident's consistency-proof file: a proof that a newer checkpoint extends an older one,
//! checkable with nothing but the file.
//!
//! ```text
//! evident/tlog-consistency@v1\n
//! sizes <old size> <new size>\n
//! <proof hash, base64>\n        (zero or more, RFC 9162 §2.1.4 order)
//! \n
//! <the old checkpoint note, verbatim>
//! \n
//! <the new checkpoint note, verbatim>
//! ```
//!
//! The old note ends at the first blank line after its three body lines, unless what follows
//! that blank line is a signature line (`— ...`), in which case those signature lines are
//! part of it and the next blank line ends it. (An origin cannot start with `— `: it holds no
//! space.) Both checkpoints must name the same origin, `old size <= new size`, and the
//! `sizes` line must repeat the two checkpoints' sizes: the roots do not commit to the sizes
//! and a consistency proof often verifies unchanged under a neighbouring size, so until the
//! checkpoints are signed (next issue) this copy is what makes an edited size line fail.

use super::bundle::{next_line, proof_lines, BundleError};
use super::checkpoint::{canonical_u64, TreeCheckpoint};
use super::note::{Note, NoteError};
use super::verify::verify_consistency;
use crate::hash::Hash;

/// The first line of a consistency-proof file.
pub const CONSISTENCY_HEADER: &str = "evident/tlog-consistency@v1";

/// A parsed consistency-proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyFile {
    /// The proof hashes.
    pub proof: Vec<Hash>,
    /// The older checkpoint and its note.
    pub old: (TreeCheckpoint, Note),
    /// The newer checkpoint and its note.
    pub new: (TreeCheckpoint, Note),
}

/// What a verified consistency file proves: `new` extends `old`, same log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedConsistency {
    /// The log's origin.
    pub origin: String,
    /// The older tree size and root.
    pub old_size: u64,
    /// The older root.
    pub old_root: Hash,
    /// The newer tree size.
    pub new_size: u64,
    /// The newer root.
    pub new_root: Hash,
    /// The old checkpoint note (for its signatures).
    pub old_note: Note,
    /// The new checkpoint note (for its signatures).
    pub new_note: Note,
}

/// Writes a consistency file (does not check it; see [`prove_consistency_file`]).
pub fn format_consistency(proof: &[Hash], old: &Note, new: &Note) -> String {
    let sizes = |n: &Note| TreeCheckpoint::from_note(n).map_or(0, |c| c.size);
    let mut out = format!(
        "{CONSISTENCY_HEADER}\nsizes {} {}\n",
        sizes(old),
        sizes(new)
    );
    for h in proof {
        out.push_str(&super::base64::encode(&h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&old.to_text());
    out.push('\n');
    out.push_str(&new.to_text());
    out
}

/// Writes a consistency file and checks it as a verifier will.
pub fn prove_consistency_file(
    proof: &[Hash],
    old: &Note,
    new: &Note,
) -> Result<String, BundleError> {
    let text = format_consistency(proof, old, new);
    check_consistency_file(text.as_bytes())?;
    Ok(text)
}

fn in_old(e: NoteError) -> BundleError {
    BundleError::Checkpoint(NoteError::at(
        e.line,
        format!("old checkpoint: {}", e.reason),
    ))
}

fn in_new(e: NoteError) -> BundleError {
    BundleError::Checkpoint(NoteError::at(
        e.line,
        format!("new checkpoint: {}", e.reason),
    ))
}

/// Parses a consistency file without checking the proof.
pub fn parse_consistency(bytes: &[u8]) -> Result<ConsistencyFile, BundleError> {
    let s = std::str::from_utf8(bytes).map_err(|_| BundleError::Syntax {
        line: 0,
        reason: "not UTF-8".into(),
    })?;
    let (header, at) = next_line(s, 0, 1)?;
    if header != CONSISTENCY_HEADER {
        return Err(BundleError::Syntax {
            line: 1,
            reason: format!("the first line must be {CONSISTENCY_HEADER}"),
        });
    }
    let (sizes_line, at) = next_line(s, at, 2)?;
    let sizes = sizes_line
        .strip_prefix("sizes ")
        .and_then(|r| r.split_once(' '))
        .and_then(|(a, b)| Some((canonical_u64(a)?, canonical_u64(b)?)))
        .ok_or_else(|| BundleError::Syntax {
            line: 2,
            reason: "expected `sizes <old size> <new size>` (decimals without leading zeros)"
                .into(),
        })?;
    let (proof, old_start, mut line) = proof_lines(s, at, 3)?;
    // The old note: three body lines, then optionally a blank line and signature lines.
    let mut at = old_start;
    for _ in 0..3 {
        at = next_line(s, at, line)?.1;
        line += 1;
    }
    let (blank, mut after) = next_line(s, at, line)?;
    if !blank.is_empty() {
        return Err(BundleError::Syntax {
            line,
            reason: "expected the blank line after the old checkpoint's three lines".into(),
        });
    }
    line += 1;
    let mut old_end = at;
    if s[after..].starts_with("\u{2014} ") {
        loop {
            let (text, next) = next_line(s, after, line)?;
            line += 1;
            if text.is_empty() {
                old_end = next - 1;
                after = next;
                break;
            }
            after = next;
        }
    }
    let old = TreeCheckpoint::parse_note(&s.as_bytes()[old_start..old_end]).map_err(in_old)?;
    let new = TreeCheckpoint::parse_note(&s.as_bytes()[after..]).map_err(in_new)?;
    if sizes != (old.0.size, new.0.size) {
        return Err(BundleError::Syntax {
            line: 2,
            reason: format!(
                "the sizes line says {} and {}, the checkpoints {} and {}",
                sizes.0, sizes.1, old.0.size, new.0.size
            ),
        });
    }
    Ok(ConsistencyFile { proof, old, new })
}

/// Verifies a consistency file offline.
pub fn check_consistency_file(bytes: &[u8]) -> Result<CheckedConsistency, BundleError> {
    let f = parse_consistency(bytes)?;
    let ((old, old_note), (new, new_note)) = (f.old, f.new);
    if old.origin != new.origin {
        return Err(BundleError::OriginMismatch {
            extra: old.origin,
            checkpoint: new.origin,
        });
    }
    verify_consistency(old.size, new.size, &f.proof, &old.root, &new.root)
        .map_err(BundleError::Proof)?;
    Ok(CheckedConsistency {
        origin: old.origin,
        old_size: old.size,
        old_root: old.root,
        new_size: new.size,
        new_root: new.root,
        old_note,
        new_note,
    })
}
