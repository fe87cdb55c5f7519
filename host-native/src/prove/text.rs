//! The text forms, shared with the component through [`evident_core::prove`]: checkpoint
//! notes, inclusion bundles and consistency proofs, and telling the two proofs apart.

use super::ProveError;
use evident_core::prove::{Consistency, Inclusion, TreeHead};

pub(super) fn checkpoint_note(head: &TreeHead) -> String {
    evident_core::prove::checkpoint_note(head)
}

/// A proof made from the trail that does not check as a verifier checks it is never
/// returned: the trail disagrees with itself then.
pub(super) fn bundle_text(i: &Inclusion) -> Result<String, ProveError> {
    evident_core::prove::bundle_text(i).map_err(|e| ProveError::Inconsistent(e.to_string()))
}

pub(super) fn consistency_text(c: &Consistency) -> Result<String, ProveError> {
    evident_core::prove::consistency_text(c).map_err(|e| ProveError::Inconsistent(e.to_string()))
}

/// Parses a checkpoint note (signatures, if any, not checked); an error names the line.
pub fn parse_checkpoint_note(text: &str) -> Result<TreeHead, ProveError> {
    evident_core::prove::parse_checkpoint_note(text).map_err(text_error)
}

fn text_error(e: evident_core::prove::TextError) -> ProveError {
    ProveError::Invalid {
        file: None,
        line: e.line,
        reason: e.reason,
    }
}

/// What a checked proof file proves.
#[derive(Debug, Clone)]
pub enum Checked {
    /// An inclusion bundle: the record it proves, and the tree.
    Inclusion(ProvenRecord),
    /// A consistency proof: the two trees.
    Consistency(ProvenConsistency),
}

/// A checked inclusion bundle.
pub type ProvenRecord = Inclusion;
/// A checked consistency proof.
pub type ProvenConsistency = Consistency;

/// Checks an inclusion bundle or a consistency proof with nothing but its text (which one is
/// told by its first line); the error names the line and what fails.
pub fn check_proof_text(text: &str) -> Result<Checked, ProveError> {
    if evident_core::prove::is_consistency_text(text) {
        evident_core::prove::check_consistency_text(text)
            .map(Checked::Consistency)
            .map_err(text_error)
    } else {
        evident_core::prove::check_bundle_text(text)
            .map(Checked::Inclusion)
            .map_err(text_error)
    }
}
