//! The C2SP tlog-checkpoint body as the witness reads it: origin, decimal size, base64 root,
//! optional non-empty extension lines.
//!
//! The tree room is growing its own checkpoint type for the log side; this is the witness's
//! strict reader, kept here until the two are reconciled.

use crate::hash::Hash;

/// The three lines every checkpoint starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The tree root at that size.
    pub root: Hash,
}

/// A decimal with no leading zeroes (`0` alone allowed), within u64.
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// One base64 hash of 32 bytes.
pub(crate) fn parse_hash(s: &str) -> Option<Hash> {
    let raw = crate::tree::base64::decode(s).ok()?;
    let arr: [u8; 32] = raw.try_into().ok()?;
    Some(Hash(arr))
}

impl CheckpointBody {
    /// Parses a note text as a checkpoint: at least three lines, each ending in LF, the
    /// extension lines (if any) non-empty.
    pub fn parse(text: &str) -> Result<CheckpointBody, String> {
        let body = text
            .strip_suffix('\n')
            .ok_or("the checkpoint does not end in a newline")?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or("");
        if origin.is_empty() {
            return Err("the checkpoint's origin line is empty".into());
        }
        let size = lines
            .next()
            .and_then(parse_size)
            .ok_or("the checkpoint's second line is not a tree size in decimal")?;
        let root = lines
            .next()
            .and_then(parse_hash)
            .ok_or("the checkpoint's third line is not a base64 SHA-256 root")?;
        if lines.any(str::is_empty) {
            return Err("the checkpoint has an empty extension line".into());
        }
        Ok(CheckpointBody {
            origin: origin.to_string(),
            size,
            root,
        })
    }

    /// The body text (no extension lines).
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            crate::tree::base64::encode(&self.root.0)
        )
    }
}
