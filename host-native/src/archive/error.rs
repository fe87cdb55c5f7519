//! What archiving can report.

use evident_core::archive::plan::PlanError;
use evident_core::archive::ChainError;

/// An archive operation's failure. None of them prints a credential: store errors carry the
/// operation, the key and the store's answer, never the request's signature.
#[derive(Debug)]
pub enum ArchiveError {
    /// The destination or the credentials are unusable.
    Config(String),
    /// The store refused or failed a request (after its retries).
    Store {
        /// What was being done (`PUT`, `GET`, `LIST`).
        op: &'static str,
        /// The object key or prefix.
        key: String,
        /// The store's answer.
        source: object_store::Error,
    },
    /// An object already in the bucket differs from what it must hold: tampering (or another
    /// trail with the same log id). Never overwritten.
    Tamper {
        /// The key.
        key: String,
        /// What differs.
        what: String,
    },
    /// The bucket's manifests are refused.
    Chain(ChainError),
    /// The local trail does not continue the archive.
    Plan(PlanError),
    /// The local trail (a segment that does not verify, an unreadable file).
    Trail(crate::Error),
    /// Another archiver keeps winning the race for the next manifest.
    Race(String),
}

impl ArchiveError {
    /// Whether this is damage or tampering (exit code 3 in the CLI).
    pub fn is_corruption(&self) -> bool {
        match self {
            ArchiveError::Tamper { .. } | ArchiveError::Chain(_) => true,
            ArchiveError::Trail(e) => e.is_corruption(),
            _ => false,
        }
    }
}

impl std::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveError::Config(s) => write!(f, "archive destination: {s}"),
            ArchiveError::Store { op, key, source } => {
                let text = source.to_string();
                let denied = matches!(
                    source,
                    object_store::Error::PermissionDenied { .. }
                        | object_store::Error::Unauthenticated { .. }
                ) || [
                    "403 Forbidden",
                    "SignatureDoesNotMatch",
                    "InvalidAccessKeyId",
                ]
                .iter()
                .any(|s| text.contains(s));
                let hint = if denied {
                    " (access denied: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                } else {
                    ""
                };
                write!(f, "{op} {key}: {text}{hint}")
            }
            ArchiveError::Tamper { key, what } => {
                write!(f, "tamper alarm: {key}: {what} (not overwritten)")
            }
            ArchiveError::Chain(e) => write!(f, "archive refused: {e}"),
            ArchiveError::Plan(e) => write!(f, "cannot archive: {e}"),
            ArchiveError::Trail(e) => write!(f, "{e}"),
            ArchiveError::Race(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

impl From<ChainError> for ArchiveError {
    fn from(e: ChainError) -> Self {
        ArchiveError::Chain(e)
    }
}

impl From<PlanError> for ArchiveError {
    fn from(e: PlanError) -> Self {
        ArchiveError::Plan(e)
    }
}

impl From<crate::Error> for ArchiveError {
    fn from(e: crate::Error) -> Self {
        ArchiveError::Trail(e)
    }
}

impl From<evident_core::Error> for ArchiveError {
    fn from(e: evident_core::Error) -> Self {
        ArchiveError::Trail(e.into())
    }
}
