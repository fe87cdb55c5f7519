//! Making signatures: a log's Ed25519 signature over note text, and a witness's timestamped
//! `cosignature/v1` over a checkpoint.
//!
//! ```text
//! note signature     = Ed25519(text)                                        (type 0x01)
//! cosignature/v1     = timestamp (u64 BE) || Ed25519(message)               (type 0x04)
//!   message          = "cosignature/v1\n" || "time " || decimal(timestamp) || "\n" || text
//! ```
//!
//! The timestamp is an input (seconds since the epoch, from the host's clock): the core
//! reads no clock.

use super::envelope::{Note, SignatureLine};
use super::error::NoteError;
use super::key::{KeyKind, SigningKey, VerifierKey};

/// The largest cosignature timestamp tlog-cosignature allows (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The signature line `key` makes over `text` with an Ed25519 (type 0x01) key.
pub fn signature_line(key: &SigningKey, text: &str) -> Result<SignatureLine, NoteError> {
    if key.kind() != KeyKind::Ed25519 {
        return Err(NoteError::WrongKeyKind {
            name: key.name().to_string(),
        });
    }
    Ok(SignatureLine {
        name: key.name().to_string(),
        id: key.id(),
        signature: key.sign_raw(text.as_bytes()).to_vec(),
    })
}

/// A note over `text` signed by `key` (type 0x01).
pub fn sign_note(text: &str, key: &SigningKey) -> Result<Note, NoteError> {
    let mut note = Note::new(text)?;
    note.add_signature(signature_line(key, text)?)?;
    Ok(note)
}

/// The message a `cosignature/v1` signs: the header line, the time line, then the text.
pub fn cosignature_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// The `cosignature/v1` line a witness key (type 0x04) makes over the checkpoint `text` at
/// `timestamp` (seconds since the epoch, at most 2^63 - 1).
pub fn cosign(key: &SigningKey, text: &str, timestamp: u64) -> Result<SignatureLine, NoteError> {
    if key.kind() != KeyKind::CosignatureV1 {
        return Err(NoteError::WrongKeyKind {
            name: key.name().to_string(),
        });
    }
    if timestamp > MAX_TIMESTAMP {
        return Err(NoteError::BadTimestamp { timestamp });
    }
    let sig = key.sign_raw(&cosignature_message(text, timestamp));
    let mut signature = Vec::with_capacity(72);
    signature.extend_from_slice(&timestamp.to_be_bytes());
    signature.extend_from_slice(&sig);
    Ok(SignatureLine {
        name: key.name().to_string(),
        id: key.id(),
        signature,
    })
}

/// Checks `line` (already matched to `key` by name and id) over `text`. `Ok(None)` for a
/// verified note signature, `Ok(Some(timestamp))` for a verified cosignature.
pub(crate) fn verify_line(
    key: &VerifierKey,
    text: &str,
    line: &SignatureLine,
) -> Result<Option<u64>, NoteError> {
    let invalid = || NoteError::InvalidSignature {
        name: line.name.clone(),
        id: line.id,
    };
    match key.kind() {
        KeyKind::Ed25519 => {
            if key.verify_raw(text.as_bytes(), &line.signature) {
                Ok(None)
            } else {
                Err(invalid())
            }
        }
        KeyKind::CosignatureV1 => {
            if line.signature.len() != 72 {
                return Err(invalid());
            }
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&line.signature[..8]);
            let timestamp = u64::from_be_bytes(ts);
            if timestamp > MAX_TIMESTAMP {
                return Err(invalid());
            }
            if key.verify_raw(&cosignature_message(text, timestamp), &line.signature[8..]) {
                Ok(Some(timestamp))
            } else {
                Err(invalid())
            }
        }
    }
}
