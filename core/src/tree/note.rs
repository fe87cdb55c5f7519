//! The C2SP signed-note envelope (c2sp.org/signed-note): a text, a blank line, signature
//! lines `— <key name> <base64(key id || signature)>`.
//!
//! Signing is a hook ([`NoteSigner`]) the next issue fills with Ed25519 and witness
//! cosignatures; this module only parses and formats. Signature lines are kept verbatim (a
//! verifier must check the exact bytes it was given; unknown keys are the verifier's to
//! ignore).
//!
//! **Unsigned notes.** Until evident signs, a checkpoint note is its text alone: no blank
//! line and no signature line (a signed note needs at least one signature, and "text, blank
//! line, nothing" would be a second spelling of the same thing, so it is refused). Parsing
//! splits at the last blank line; a note without one is unsigned. So an unsigned note's text
//! must not contain an empty line ([`Note::unsigned`] refuses one).

use crate::note::grammar::{
    format_signature_line, parse_signature_line, signature_lines, split_at_last_blank, LineFault,
};
pub(crate) use crate::note::key::check_key_name;
use std::fmt;

/// Most signature lines a note may carry (the spec asks verifiers to accept at least 16).
pub const MAX_SIGNATURES: usize = 64;

/// Why a note (or the checkpoint inside it) is refused: the 1-based line and the reason
/// (line 0 when the fault is not one line's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteError {
    /// 1-based line of the note where the fault is, 0 for the note as a whole.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl NoteError {
    pub(crate) fn at(line: usize, reason: impl Into<String>) -> NoteError {
        NoteError {
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "note: {}", self.reason)
        } else {
            write!(f, "note line {}: {}", self.line, self.reason)
        }
    }
}

impl std::error::Error for NoteError {}

/// Something that signs note texts: the next issue's Ed25519 log key and witnesses.
pub trait NoteSigner {
    /// The key name written in the signature line (for a log: its origin).
    fn name(&self) -> &str;
    /// The 32-bit key id (C2SP: the first 4 bytes of SHA-256(name || 0x0A || type || key)).
    fn key_id(&self) -> u32;
    /// Signs the note text (the bytes up to and including its final newline).
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, String>;
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id (first 4 bytes of the decoded signature, big-endian).
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
    line: String,
}

impl NoteSignature {
    /// The signature line verbatim, without its newline.
    pub fn line(&self) -> &str {
        &self.line
    }

    fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<NoteSignature, NoteError> {
        check_key_name(name).map_err(|r| NoteError::at(0, r))?;
        Ok(NoteSignature {
            line: format_signature_line(name, key_id, &signature),
            name: name.to_string(),
            key_id,
            signature,
        })
    }

    fn parse(line: &str, number: usize) -> Result<NoteSignature, NoteError> {
        let raw = parse_signature_line(line).map_err(|fault| {
            NoteError::at(
                number,
                match fault {
                    LineFault::NoPrefix => {
                        "a signature line must start with an em dash and a space".to_string()
                    }
                    LineFault::NoSpace => "a signature line is `— <name> <base64>`".to_string(),
                    LineFault::BadName(reason) => reason,
                    LineFault::BadBase64 { name, reason } => {
                        format!("signature of {name}: {reason}")
                    }
                    LineFault::TooShort { name, len } => format!(
                        "signature of {name} is {len} bytes; a key id and a signature are at least 5"
                    ),
                },
            )
        })?;
        Ok(NoteSignature {
            name: raw.name.to_string(),
            key_id: raw.id,
            signature: raw.signature,
            line: line.to_string(),
        })
    }
}

/// A note: its text (ending in a newline) and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note of `text` (which must end in a newline, hold no control character but
    /// newlines and no empty line).
    pub fn unsigned(text: &str) -> Result<Note, NoteError> {
        check_text(text, 1)?;
        if text.starts_with('\n') || text.contains("\n\n") {
            return Err(NoteError::at(
                0,
                "an unsigned note's text cannot hold an empty line",
            ));
        }
        Ok(Note {
            text: text.to_string(),
            signatures: Vec::new(),
        })
    }

    /// A note of `text` signed by each of `signers`, in order.
    pub fn signed(text: &str, signers: &[&dyn NoteSigner]) -> Result<Note, NoteError> {
        check_text(text, 1)?;
        let mut note = Note {
            text: text.to_string(),
            signatures: Vec::new(),
        };
        for s in signers {
            note.add_signature(*s)?;
        }
        Ok(note)
    }

    /// Adds one signature line by `signer` over the text.
    pub fn add_signature(&mut self, signer: &dyn NoteSigner) -> Result<(), NoteError> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::at(
                0,
                format!("more than {MAX_SIGNATURES} signatures"),
            ));
        }
        let sig = signer
            .sign(self.text.as_bytes())
            .map_err(|e| NoteError::at(0, format!("signing as {}: {e}", signer.name())))?;
        self.signatures
            .push(NoteSignature::new(signer.name(), signer.key_id(), sig)?);
        Ok(())
    }

    /// The text, up to and including its final newline (what signatures sign).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in note order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The note as written: the text alone when unsigned, else the text, a blank line and one
    /// line per signature.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        if !self.signatures.is_empty() {
            out.push('\n');
            for s in &self.signatures {
                out.push_str(&s.line);
                out.push('\n');
            }
        }
        out
    }

    /// Parses a note; `to_text` of the result gives back exactly `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        let s = std::str::from_utf8(bytes).map_err(|e| {
            NoteError::at(
                1 + bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count(),
                "not UTF-8",
            )
        })?;
        check_text(s, 1)?;
        let Some((text, block)) = split_at_last_blank(s) else {
            return Ok(Note {
                text: s.to_string(),
                signatures: Vec::new(),
            });
        };
        let first_sig_line = 2 + text.matches('\n').count();
        if block.is_empty() {
            return Err(NoteError::at(
                first_sig_line - 1,
                "a blank line with no signature line after it (an unsigned note ends with its text)",
            ));
        }
        let mut signatures = Vec::new();
        let lines = signature_lines(block.trim_end_matches('\n'), MAX_SIGNATURES);
        for (i, line) in lines.enumerate() {
            let line = line.map_err(|limit| {
                NoteError::at(first_sig_line + i, format!("more than {limit} signatures"))
            })?;
            signatures.push(NoteSignature::parse(line, first_sig_line + i)?);
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }
}

/// UTF-8 is given; checks the controls and the final newline, numbering lines from `first`.
fn check_text(s: &str, first: usize) -> Result<(), NoteError> {
    if s.is_empty() {
        return Err(NoteError::at(0, "the note is empty"));
    }
    let mut line = first;
    for c in s.chars() {
        if c == '\n' {
            line += 1;
        } else if c.is_control() && (c as u32) < 0x20 || c == '\u{7f}' {
            return Err(NoteError::at(line, format!("control character {c:?}")));
        }
    }
    if !s.ends_with('\n') {
        return Err(NoteError::at(line, "the note does not end with a newline"));
    }
    Ok(())
}
