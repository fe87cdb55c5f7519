//! The signed-note envelope: text, a blank line, signature lines.
//!
//! ```text
//! <text, one or more lines, each ending in LF>
//! <empty line>
//! — <key name> <base64(key id || signature)>      (one or more)
//! ```
//!
//! The text is separated from the signatures by the *last* empty line. Parsing is linear in
//! the note's length: the signature block is found with one backward search and its lines
//! are counted as they are cut, so a note with more than [`MAX_SIGNATURES`] lines is refused
//! at the first line over the limit, before any is decoded or verified.

use super::error::NoteError;
use super::grammar::{
    format_signature_line, parse_signature_line, signature_lines, split_at_last_blank, LineFault,
};
use super::key::KeyId;

/// The most signature lines a note may carry. The signed-note spec asks verifiers to accept
/// at least 16; more are refused (a checkpoint has one log signature and a few witnesses).
pub const MAX_SIGNATURES: usize = 16;
/// The longest note accepted, in bytes: a checkpoint with 16 Ed25519 signature lines fits
/// in well under 4 KiB, so 64 KiB leaves room for long origins and extension lines.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// One signature line: key name, key id and the signature bytes after the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine {
    /// Key name.
    pub name: String,
    /// Key id (the first four bytes of the base64 payload).
    pub id: KeyId,
    /// The signature proper (what follows the key id): 64 bytes for Ed25519, 8 + 64 for a
    /// timestamped cosignature.
    pub signature: Vec<u8>,
}

impl SignatureLine {
    /// Parses one line (without its newline); `line_no` (1-based) names it in errors.
    pub fn parse(line: &str, line_no: usize) -> Result<SignatureLine, NoteError> {
        let raw = parse_signature_line(line).map_err(|fault| NoteError::BadSignatureLine {
            line: line_no,
            reason: match fault {
                LineFault::NoPrefix => "does not start with an em dash and a space",
                LineFault::NoSpace => "expected a key name, a space and a base64 signature",
                LineFault::BadName(_) => "bad key name",
                LineFault::BadBase64 { .. } => "the signature is not standard base64",
                LineFault::TooShort { .. } => "the signature is shorter than a key id and one byte",
            }
            .to_string(),
        })?;
        Ok(SignatureLine {
            name: raw.name.to_string(),
            id: KeyId(raw.id),
            signature: raw.signature,
        })
    }

    /// The line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = format_signature_line(&self.name, self.id.0, &self.signature);
        line.push('\n');
        line
    }
}

/// A parsed signed note: its text (what was signed) and its signature lines, unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<SignatureLine>,
}

/// Checks the rules both the text and a whole note obey: UTF-8 (the caller has a `str`),
/// no control character but LF, bounded length.
fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.len() > MAX_NOTE_LEN {
        return Err(NoteError::TooLong { len: s.len() });
    }
    if let Some(pos) = s.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::Malformed {
            reason: format!("control character at byte {pos}"),
        });
    }
    Ok(())
}

impl Note {
    /// An unsigned note over `text`, which must end in a newline and obey the character rules.
    pub fn new(text: &str) -> Result<Note, NoteError> {
        check_chars(text)?;
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed {
                reason: "the text does not end in a newline".into(),
            });
        }
        Ok(Note {
            text: text.to_string(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note (text, blank line, at least one and at most [`MAX_SIGNATURES`]
    /// signature lines). Signatures are not verified here: see [`super::open()`].
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLong { len: bytes.len() });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| NoteError::Malformed {
            reason: format!("not UTF-8 at byte {}", e.valid_up_to()),
        })?;
        check_chars(s)?;
        let (text, block) = split_at_last_blank(s).ok_or_else(|| NoteError::Malformed {
            reason: "no blank line before the signatures".into(),
        })?;
        if block.is_empty() {
            return Err(NoteError::Malformed {
                reason: "no signature lines".into(),
            });
        }
        let block = block
            .strip_suffix('\n')
            .ok_or_else(|| NoteError::Malformed {
                reason: "the last signature line does not end in a newline".into(),
            })?;
        let mut signatures = Vec::new();
        for (i, line) in signature_lines(block, MAX_SIGNATURES).enumerate() {
            let line = line.map_err(|limit| NoteError::TooManySignatures { limit })?;
            signatures.push(SignatureLine::parse(line, i + 1)?);
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[SignatureLine] {
        &self.signatures
    }

    /// Adds a signature line. A line from the same key (name and id) replaces the old one,
    /// so re-signing or re-cosigning never duplicates a key. Refused past [`MAX_SIGNATURES`].
    pub fn add_signature(&mut self, line: SignatureLine) -> Result<(), NoteError> {
        self.signatures
            .retain(|s| !(s.name == line.name && s.id == line.id));
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                limit: MAX_SIGNATURES,
            });
        }
        self.signatures.push(line);
        Ok(())
    }

    /// Removes the last signature lines not named `keep` until at most `room` remain (the
    /// lines named `keep` stay, whatever their number). Returns how many were removed.
    pub fn drop_signatures_for_room(&mut self, keep: &str, room: usize) -> usize {
        let mut removed = 0;
        while self.signatures.len() > room {
            let Some(i) = self.signatures.iter().rposition(|s| s.name != keep) else {
                break;
            };
            self.signatures.remove(i);
            removed += 1;
        }
        removed
    }

    /// The whole note: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone().into_bytes();
        out.push(b'\n');
        for s in &self.signatures {
            out.extend_from_slice(s.to_line().as_bytes());
        }
        out
    }
}
