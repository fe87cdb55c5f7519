//! Never sign a fork: the log's own check before it signs a checkpoint.
//!
//! The log keeps a record of the last (size, root) it signed, written durably *before* the
//! signature is made. A new checkpoint is signed only if it extends that record: a larger
//! size whose tree, at the recorded size, has the recorded root (checked with a consistency
//! proof the host makes from the trail's current records), or the same size and root. A
//! smaller size (a cut tail, a restored backup) or another root (a different history) is
//! refused, naming both: that is the evidence witnesses exist to catch, and the log must never
//! produce it itself.

use super::body::CheckpointBody;
use crate::hash::Hash;
use crate::tree::verify_consistency;

/// Why the log refuses to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForkRefusal {
    /// The record is of another origin.
    OtherOrigin {
        /// The recorded origin.
        signed: String,
        /// The origin now.
        now: String,
    },
    /// The tree is smaller than one already signed.
    Rollback {
        /// Size already signed.
        signed_size: u64,
        /// Its root.
        signed_root: Hash,
        /// Size now.
        size: u64,
        /// Root now.
        root: Hash,
    },
    /// The tree at the signed size is not the one signed.
    Fork {
        /// Size already signed.
        signed_size: u64,
        /// The root signed at that size.
        signed_root: Hash,
        /// The size now.
        size: u64,
        /// The root now.
        root: Hash,
        /// Why the check failed.
        reason: String,
    },
}

fn b64(h: &Hash) -> String {
    crate::tree::base64::encode(&h.0)
}

impl std::fmt::Display for ForkRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForkRefusal::OtherOrigin { signed, now } => write!(
                f,
                "refusing to sign: the key signed checkpoints of origin {signed:?}, this trail is {now:?}"
            ),
            ForkRefusal::Rollback {
                signed_size,
                signed_root,
                size,
                root,
            } => write!(
                f,
                "refusing to sign a fork: size {signed_size} (root {}) was signed, the trail now has only {size} records (root {}); its tail was cut or an older backup restored",
                b64(signed_root),
                b64(root)
            ),
            ForkRefusal::Fork {
                signed_size,
                signed_root,
                size,
                root,
                reason,
            } => write!(
                f,
                "refusing to sign a fork: size {signed_size} was signed with root {}, the trail's tree of size {size} (root {}) does not extend it: {reason}",
                b64(signed_root),
                b64(root)
            ),
        }
    }
}

/// Checks that `new` may be signed after `signed` (the record; `None` if nothing was signed
/// yet). `proof` is the consistency proof from `signed.size` to `new.size` computed from the
/// trail (ignored when the sizes are equal or nothing was signed).
pub fn check_before_signing(
    signed: Option<&CheckpointBody>,
    new: &CheckpointBody,
    proof: &[Hash],
) -> Result<(), ForkRefusal> {
    let Some(s) = signed else {
        return Ok(());
    };
    if s.origin != new.origin {
        return Err(ForkRefusal::OtherOrigin {
            signed: s.origin.clone(),
            now: new.origin.clone(),
        });
    }
    if new.size < s.size {
        return Err(ForkRefusal::Rollback {
            signed_size: s.size,
            signed_root: s.root,
            size: new.size,
            root: new.root,
        });
    }
    if new.size == s.size {
        if new.root != s.root {
            return Err(ForkRefusal::Fork {
                signed_size: s.size,
                signed_root: s.root,
                size: new.size,
                root: new.root,
                reason: "same size, another root".into(),
            });
        }
        return Ok(());
    }
    verify_consistency(s.size, new.size, proof, &s.root, &new.root).map_err(|e| ForkRefusal::Fork {
        signed_size: s.size,
        signed_root: s.root,
        size: new.size,
        root: new.root,
        reason: e.to_string(),
    })
}
