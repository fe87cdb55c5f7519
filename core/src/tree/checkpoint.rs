//! The C2SP tlog-checkpoint body (c2sp.org/tlog-checkpoint): the tree head as note text.
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <root hash, standard base64 of 32 bytes>\n
//! ```
//!
//! evident writes no extension lines and parses strictly: one spelling per tree head (no
//! leading zeros, canonical base64, LF endings, nothing after the root line), so a change to
//! any byte changes what the checkpoint says or is refused. The origin follows the key-name
//! rules (non-empty, no spaces, no `+`), since the log's signature line names it, and is at
//! most [`MAX_ORIGIN_LEN`] bytes.
//!
//! The witness reads other logs' checkpoints with the same parser under [`BodyRules::Witness`]:
//! the spec lets a log add extension lines and asks nothing of the origin but that it is there.

use super::base64;
use super::note::{check_key_name, Note, NoteError, NoteSigner};
use crate::hash::Hash;

/// Longest origin line, in bytes (it is also written, length-prefixed, in a bundle's extra).
pub const MAX_ORIGIN_LEN: usize = 255;

/// A tree head: the log's origin, the tree size and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeCheckpoint {
    /// The log's identity (evident's default: `evident/<log id hex>`).
    pub origin: String,
    /// Number of entries (records).
    pub size: u64,
    /// The RFC 6962 root at that size.
    pub root: Hash,
}

/// Checks an origin line: the key-name rules and [`MAX_ORIGIN_LEN`].
pub fn check_origin(origin: &str) -> Result<(), String> {
    check_key_name(origin).map_err(|e| format!("origin: {e}"))?;
    if origin.len() > MAX_ORIGIN_LEN {
        return Err(format!(
            "origin of {} bytes (at most {MAX_ORIGIN_LEN})",
            origin.len()
        ));
    }
    Ok(())
}

/// Parses the canonical decimal spelling of a u64 (no sign, no leading zero but for `0`).
pub(crate) fn canonical_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parses a hash written as standard base64 (44 characters).
pub(crate) fn base64_hash(s: &str) -> Result<Hash, String> {
    let bytes = base64::decode(s)?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("a hash is 32 bytes, this is {}", b.len()))?;
    Ok(Hash(arr))
}

/// Which checkpoint bodies a reader accepts.
///
/// Why two: c2sp.org/tlog-checkpoint lets a log write extension lines after the root and
/// asks of the origin only that it is non-empty. evident's log writes no extension lines
/// and an origin that is also its key name, so reading its own checkpoints strictly keeps
/// one spelling per tree head; a witness cosigns other logs' checkpoints and must accept
/// what the spec allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRules {
    /// evident's own checkpoints: the origin passes [`check_origin`], no extension lines.
    Log,
    /// Any log's checkpoint as a witness reads it: a non-empty origin, then optional
    /// non-empty extension lines.
    Witness,
}

/// The three body lines of a checkpoint, each ending in `\n` (no extension lines).
pub(crate) fn body_text(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", base64::encode(&root.0))
}

impl TreeCheckpoint {
    /// A checkpoint; refuses an origin [`check_origin`] refuses.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<TreeCheckpoint, String> {
        check_origin(origin)?;
        Ok(TreeCheckpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// The checkpoint of a tree's current size and root, as the writer's compact range
    /// holds them.
    pub fn of_range(origin: &str, range: &super::CompactRange) -> Result<TreeCheckpoint, String> {
        TreeCheckpoint::new(origin, range.size(), range.root())
    }

    /// The note text: three lines, each ending in `\n`.
    pub fn body(&self) -> String {
        body_text(&self.origin, self.size, &self.root)
    }

    /// The unsigned checkpoint note (its body alone; see [`super::note`]). Refuses an
    /// origin [`check_origin`] refuses (the fields are public).
    pub fn unsigned_note(&self) -> Result<Note, NoteError> {
        check_origin(&self.origin).map_err(|e| NoteError::at(1, e))?;
        Note::unsigned(&self.body())
    }

    /// The checkpoint note signed by `signers` (the hook the signing issue fills).
    pub fn signed_note(&self, signers: &[&dyn NoteSigner]) -> Result<Note, NoteError> {
        check_origin(&self.origin).map_err(|e| NoteError::at(1, e))?;
        Note::signed(&self.body(), signers)
    }

    /// Parses a checkpoint body (exactly three lines, see the module docs).
    pub fn parse_body(text: &str) -> Result<TreeCheckpoint, NoteError> {
        TreeCheckpoint::parse_body_as(text, BodyRules::Log)
    }

    /// Parses a checkpoint body under `rules` (see [`BodyRules`]); extension lines, where
    /// they are allowed, are checked and not kept. Errors name the 1-based line.
    pub fn parse_body_as(text: &str, rules: BodyRules) -> Result<TreeCheckpoint, NoteError> {
        let Some(rest) = text.strip_suffix('\n') else {
            return Err(NoteError::at(0, "a checkpoint ends with a newline"));
        };
        let lines: Vec<&str> = rest.split('\n').collect();
        if lines.len() < 3 {
            return Err(NoteError::at(
                lines.len() + 1,
                "a checkpoint has three lines: origin, tree size, root hash",
            ));
        }
        match rules {
            BodyRules::Log => {
                if lines.len() > 3 {
                    return Err(NoteError::at(
                        4,
                        "extension lines after the root hash (evident checkpoints have none)",
                    ));
                }
                check_origin(lines[0]).map_err(|e| NoteError::at(1, e))?;
            }
            BodyRules::Witness => {
                if lines[0].is_empty() {
                    return Err(NoteError::at(1, "the origin line is empty"));
                }
            }
        }
        let size = canonical_u64(lines[1]).ok_or_else(|| {
            NoteError::at(
                2,
                format!(
                    "tree size {:?} is not a decimal without leading zeros",
                    lines[1]
                ),
            )
        })?;
        let root =
            base64_hash(lines[2]).map_err(|e| NoteError::at(3, format!("root hash: {e}")))?;
        if let Some(i) = lines[3..].iter().position(|l| l.is_empty()) {
            return Err(NoteError::at(4 + i, "an empty extension line"));
        }
        Ok(TreeCheckpoint {
            origin: lines[0].to_string(),
            size,
            root,
        })
    }

    /// The checkpoint a note carries (its signatures are not checked here).
    pub fn from_note(note: &Note) -> Result<TreeCheckpoint, NoteError> {
        TreeCheckpoint::parse_body(note.text())
    }

    /// Parses a checkpoint note from bytes (unsigned or signed).
    pub fn parse_note(bytes: &[u8]) -> Result<(TreeCheckpoint, Note), NoteError> {
        let note = Note::parse(bytes)?;
        Ok((TreeCheckpoint::from_note(&note)?, note))
    }
}
