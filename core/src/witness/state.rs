//! The witness's record of one log: the latest checkpoint it cosigned.
//!
//! The state file is that checkpoint as a signed note (the log's signature and the witness's
//! cosignature), so it is also what the monitoring endpoint serves. On load the witness's own
//! cosignature must verify: a damaged state file is refused loudly rather than read as
//! "never cosigned" (which would let the log roll back).

use super::body::CheckpointBody;
use crate::hash::Hash;
use crate::note::{verify_note, Note, VerifierKey};
use sha2::{Digest, Sha256};

/// The latest checkpoint cosigned for one origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// The log's origin.
    pub origin: String,
    /// Tree size cosigned.
    pub size: u64,
    /// Root at that size.
    pub root: Hash,
    /// The cosigned checkpoint note (the state file's bytes).
    pub note: Vec<u8>,
}

/// The state file's name for `origin`: the lowercase hex SHA-256 of the origin (the same hash
/// tlog-witness uses in its monitoring path), so any origin maps to a safe file name.
pub fn state_file_name(origin: &str) -> String {
    let d = Sha256::digest(origin.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

impl LogState {
    /// Reads a state file for `origin`, checking the witness's own cosignature with `own`.
    pub fn load(bytes: &[u8], origin: &str, own: &VerifierKey) -> Result<LogState, String> {
        let note = Note::parse(bytes).map_err(|e| format!("not a signed note: {e}"))?;
        let body = CheckpointBody::parse(note.text())?;
        if body.origin != origin {
            return Err(format!("holds origin {:?}, not {origin:?}", body.origin));
        }
        verify_note(note, std::slice::from_ref(own))
            .map_err(|e| format!("the witness's own cosignature: {e}"))?;
        Ok(LogState {
            origin: body.origin,
            size: body.size,
            root: body.root,
            note: bytes.to_vec(),
        })
    }
}
