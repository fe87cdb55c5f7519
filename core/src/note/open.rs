//! Opening a signed note: verify every signature from a known key, ignore the others.
//!
//! The signed-note rules: a signature line whose key name *and* key id match a known key
//! must verify, or the whole note is refused; a line matching no known key (even one sharing
//! a name or an id with a known key, but not both) is ignored; a note with no verified
//! signature is refused. evident also refuses a known key that signed twice, so that every
//! line of a note it accepts has been checked.

use super::envelope::{Note, SignatureLine};
use super::error::NoteError;
use super::key::{KeyId, KeyKind, VerifierKey};
use super::sign::verify_line;

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Key name.
    pub name: String,
    /// Key id.
    pub id: KeyId,
    /// Note signer (a log) or cosigner (a witness).
    pub kind: KeyKind,
    /// The cosignature's timestamp (seconds since the epoch); `None` for a note signature.
    pub timestamp: Option<u64>,
}

/// A note whose signatures from known keys all verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The note as parsed (all its lines, the unknown ones too).
    pub note: Note,
    /// The signatures that verified, in note order.
    pub verified: Vec<VerifiedSignature>,
    /// The lines from keys the caller does not know (ignored, kept for reporting).
    pub unknown: Vec<SignatureLine>,
}

/// Parses and verifies a signed note against `known` keys.
pub fn open(bytes: &[u8], known: &[VerifierKey]) -> Result<OpenedNote, NoteError> {
    verify_note(Note::parse(bytes)?, known)
}

/// Verifies an already parsed note against `known` keys. Linear in lines × known keys
/// (both small: at most [`super::MAX_SIGNATURES`] lines).
pub fn verify_note(note: Note, known: &[VerifierKey]) -> Result<OpenedNote, NoteError> {
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    let mut unknown = Vec::new();
    for line in note.signatures() {
        let Some(key) = known
            .iter()
            .find(|k| k.name() == line.name && k.id() == line.id)
        else {
            unknown.push(line.clone());
            continue;
        };
        // A repeated signature by one key is dropped, as Go's `note.Open` does: it cannot
        // count twice, and refusing it would refuse a note the ecosystem accepts.
        if verified
            .iter()
            .any(|v| v.name == line.name && v.id == line.id)
        {
            continue;
        }
        let timestamp = verify_line(key, note.text(), line)?;
        verified.push(VerifiedSignature {
            name: line.name.clone(),
            id: line.id,
            kind: key.kind(),
            timestamp,
        });
    }
    if verified.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(OpenedNote {
        note,
        verified,
        unknown,
    })
}
