//! C2SP signed notes, Ed25519 keys, `cosignature/v1` cosignatures and tlog-policy quorums.
//!
//! Pure and sans-IO like the rest of the core: keys come from seeds the host supplies, time
//! (a cosignature's timestamp) is an input. Specs: c2sp.org/signed-note, tlog-checkpoint,
//! tlog-cosignature, tlog-policy.
//!
//! Rooms:
//! - [`key`]: key ids, verifier keys and private keys in their text forms;
//! - [`envelope`]: the note text and its signature lines (parse, format, limits);
//! - `grammar`: the blank-line split and signature-line syntax [`envelope`] and the tree
//!   room's checkpoint note share;
//! - [`sign`]: note signatures and timestamped cosignatures;
//! - [`open()`]: verifying a note against known keys (unknown keys ignored);
//! - [`policy`]: the tlog-policy file and its quorum;
//! - [`report`]: which signatures a checkpoint carries, which verified, the policy's verdict;
//! - [`error`]: why something was refused.

mod bridge;
pub mod envelope;
pub mod error;
pub(crate) mod grammar;
pub mod key;
pub mod open;
pub mod policy;
pub mod report;
pub mod sign;

pub use envelope::{Note, SignatureLine, MAX_NOTE_LEN, MAX_SIGNATURES};
pub use error::NoteError;
pub use key::{
    is_valid_key_name, KeyId, KeyKind, PrivateKeyText, SigningKey, VerifierKey,
    TYPE_COSIGNATURE_V1, TYPE_ED25519,
};
pub use open::{open, verify_note, OpenedNote, VerifiedSignature};
pub use policy::{
    Group, Member, Policy, PolicyError, PolicyLog, PolicyVerdict, PolicyWitness, Quorum,
};
pub use sign::{cosign, cosignature_message, sign_note, signature_line, MAX_TIMESTAMP};
