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
use super::key::{is_valid_key_name, KeyId};

/// The most signature lines a note may carry. The signed-note spec asks verifiers to accept
/// at least 16; more are refused (a checkpoint has one log signature and a few witnesses).
pub const MAX_SIGNATURES: usize = 16;
/// The longest note accepted, in bytes: a checkpoint with 16 Ed25519 signature lines fits
/// in well under 4 KiB, so 64 KiB leaves room for long origins and extension lines.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// The prefix of every signature line: an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

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
        let bad = |reason: &str| NoteError::BadSignatureLine {
            line: line_no,
            reason: reason.to_string(),
        };
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("does not start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("expected a key name, a space and a base64 signature"))?;
        if !is_valid_key_name(name) {
            return Err(bad("bad key name"));
        }
        let raw = crate::tree::base64::decode(b64)
            .map_err(|_| bad("the signature is not standard base64"))?;
        if raw.len() < 5 {
            return Err(bad("the signature is shorter than a key id and one byte"));
        }
        Ok(SignatureLine {
            name: name.to_string(),
            id: KeyId(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]])),
            signature: raw[4..].to_vec(),
        })
    }

    /// The line, newline included.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.id.to_bytes());
        raw.extend_from_slice(&self.signature);
        format!(
            "{SIG_PREFIX}{} {}\n",
            self.name,
            crate::tree::base64::encode(&raw)
        )
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
    /// signature lines). Signatures are not verified here: see [`super::open`].
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLong { len: bytes.len() });
        }
        let s = std::str::from_utf8(bytes).map_err(|e| NoteError::Malformed {
            reason: format!("not UTF-8 at byte {}", e.valid_up_to()),
        })?;
        check_chars(s)?;
        let split = s.rfind("\n\n").ok_or_else(|| NoteError::Malformed {
            reason: "no blank line before the signatures".into(),
        })?;
        let text = &s[..split + 1];
        let block = &s[split + 2..];
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
        for (i, line) in block.split('\n').enumerate() {
            if i == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    limit: MAX_SIGNATURES,
                });
            }
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
