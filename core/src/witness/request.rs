//! The tlog-witness `add-checkpoint` request body.
//!
//! ```text
//! old <size>
//! <base64 consistency proof hash>      (0 to 63 lines)
//! <empty line>
//! <signed checkpoint note>
//! ```

use crate::hash::Hash;
use crate::tree::checkpoint::{base64_hash, canonical_u64};

/// At most this many proof lines (tlog-witness: clients send no more than 63).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body a witness reads: the old line, 63 proof lines and a note of
/// [`crate::note::MAX_NOTE_LEN`] bytes fit with room to spare.
pub const MAX_REQUEST_LEN: usize = crate::note::MAX_NOTE_LEN + 4096;

/// A parsed `add-checkpoint` request (the checkpoint note not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// The request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            out.extend_from_slice(crate::tree::base64::encode(&h.0).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parses a request body; the error is the reason for a 400 answer.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, String> {
        if body.len() > MAX_REQUEST_LEN {
            return Err(format!(
                "request of {} bytes is longer than the {MAX_REQUEST_LEN} allowed",
                body.len()
            ));
        }
        let mut rest = body;
        let old_line = cut_line(&mut rest, "the old size line")?;
        let old = std::str::from_utf8(old_line)
            .ok()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(canonical_u64)
            .ok_or("the first line is not `old <size>` in decimal")?;
        let mut proof = Vec::new();
        loop {
            let line = cut_line(&mut rest, "a consistency proof line")?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(format!(
                    "more than {MAX_PROOF_LINES} consistency proof lines"
                ));
            }
            let hash = std::str::from_utf8(line)
                .ok()
                .and_then(|l| base64_hash(l).ok())
                .ok_or_else(|| {
                    format!(
                        "consistency proof line {} is not a base64 SHA-256 hash",
                        proof.len() + 1
                    )
                })?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint: rest.to_vec(),
        })
    }
}

/// Cuts the next LF-terminated line off `rest`.
fn cut_line<'a>(rest: &mut &'a [u8], what: &str) -> Result<&'a [u8], String> {
    let nl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| format!("{what} does not end in a newline"))?;
    let line = &rest[..nl];
    *rest = &rest[nl + 1..];
    Ok(line)
}
