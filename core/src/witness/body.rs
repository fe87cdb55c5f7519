//! The C2SP tlog-checkpoint body as the witness reads it: origin, decimal size, base64 root,
//! optional non-empty extension lines.
//!
//! The parsing is the tree room's ([`TreeCheckpoint::parse_body_as`]) under
//! [`BodyRules::Witness`]: a witness cosigns any log's checkpoints, so it accepts the extension
//! lines and origins the spec allows, which evident's own log never writes.

use crate::hash::Hash;
use crate::tree::checkpoint::{body_text, BodyRules, TreeCheckpoint};

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

impl CheckpointBody {
    /// Parses a note text as a checkpoint: at least three lines, each ending in LF, the
    /// extension lines (if any) non-empty. The error names the note line at fault.
    pub fn parse(text: &str) -> Result<CheckpointBody, String> {
        let c =
            TreeCheckpoint::parse_body_as(text, BodyRules::Witness).map_err(|e| e.to_string())?;
        Ok(CheckpointBody {
            origin: c.origin,
            size: c.size,
            root: c.root,
        })
    }

    /// The body text (no extension lines).
    pub fn to_text(&self) -> String {
        body_text(&self.origin, self.size, &self.root)
    }
}
