//! What can stop a proof from being made or checked, each naming what is wrong and where.

use std::path::PathBuf;

/// Why a proof cannot be made, or why a proof does not verify.
#[derive(Debug)]
pub enum ProveError {
    /// Reading the trail failed (IO with its path, or damage with its file, offset and seq).
    Trail(crate::Error),
    /// A file named by the caller could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The trail has no record with this seq.
    NoSuchRecord {
        /// The seq asked for.
        seq: u64,
    },
    /// The seq lies beyond the tree the proof is asked against.
    BeyondTree {
        /// The seq asked for.
        seq: u64,
        /// The tree size.
        size: u64,
    },
    /// A tree size the trail cannot prove against: 0, or larger than its head.
    BadSize {
        /// The size asked for.
        size: u64,
        /// The size of the trail's head.
        head: u64,
    },
    /// The checkpoint or proof is of another log (its origin), not the one expected.
    OtherLog {
        /// The origin expected (this trail's, or the one given to check against).
        ours: String,
        /// The origin found.
        theirs: String,
    },
    /// The trail has no tree to prove against (why).
    NoTree(String),
    /// The trail's records do not prove its own checkpoint, even with every hash rebuilt from
    /// the segments: the trail or its checkpoint was changed.
    Inconsistent(String),
    /// A bundle, checkpoint or consistency-proof text that does not verify or does not parse:
    /// the file (when known), the line (1-based, when known) and the reason.
    Invalid {
        /// The file it was read from.
        file: Option<PathBuf>,
        /// The line of the text where the problem is.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
}

impl ProveError {
    /// A verification failure without a location yet.
    pub fn invalid(reason: impl Into<String>) -> ProveError {
        ProveError::Invalid {
            file: None,
            line: None,
            reason: reason.into(),
        }
    }

    /// The same error, naming the file the text came from.
    pub fn in_file(self, path: &std::path::Path) -> ProveError {
        match self {
            ProveError::Invalid { line, reason, .. } => ProveError::Invalid {
                file: Some(path.to_path_buf()),
                line,
                reason,
            },
            e @ ProveError::OtherLog { .. } => ProveError::Invalid {
                file: Some(path.to_path_buf()),
                line: None,
                reason: e.to_string(),
            },
            other => other,
        }
    }

    /// Whether this is a verdict (a proof that fails, a trail that disagrees with its own
    /// checkpoint) rather than an operational error: the CLI exits 3 for these.
    pub fn is_verdict(&self) -> bool {
        match self {
            ProveError::Invalid { .. }
            | ProveError::Inconsistent(_)
            | ProveError::OtherLog { .. } => true,
            ProveError::Trail(e) => e.is_corruption(),
            _ => false,
        }
    }
}

impl std::fmt::Display for ProveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProveError::Trail(e) => write!(f, "{e}"),
            ProveError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            ProveError::NoSuchRecord { seq } => write!(f, "the trail has no record seq {seq}"),
            ProveError::BeyondTree { seq, size } => write!(
                f,
                "seq {seq} is beyond the tree of size {size} (it holds seqs 1..={size})"
            ),
            ProveError::BadSize { size, head } => write!(
                f,
                "cannot prove against a tree of size {size}: the trail's head has size {head} \
                 (sizes 1..={head} can be proven)"
            ),
            ProveError::OtherLog { ours, theirs } => write!(
                f,
                "proof or checkpoint of another log: its origin is `{theirs}`, expected `{ours}`"
            ),
            ProveError::NoTree(why) => write!(f, "the trail has no tree to prove against: {why}"),
            ProveError::Inconsistent(why) => {
                write!(f, "the trail does not prove its own checkpoint: {why}")
            }
            ProveError::Invalid { file, line, reason } => {
                if let Some(file) = file {
                    write!(f, "{}: ", file.display())?;
                }
                if let Some(line) = line {
                    write!(f, "line {line}: ")?;
                }
                f.write_str(reason)
            }
        }
    }
}

impl std::error::Error for ProveError {}

impl From<crate::Error> for ProveError {
    fn from(e: crate::Error) -> ProveError {
        ProveError::Trail(e)
    }
}

impl From<evident_core::prove::ProveError<crate::Error>> for ProveError {
    fn from(e: evident_core::prove::ProveError<crate::Error>) -> ProveError {
        use evident_core::prove::ProveError as P;
        match e {
            P::Source(e) => ProveError::Trail(e),
            P::NoSuchRecord { seq } => ProveError::NoSuchRecord { seq },
            P::BeyondTree { seq, size } => ProveError::BeyondTree { seq, size },
            P::BadSize { size, head } => ProveError::BadSize { size, head },
            P::OtherLog { ours, theirs } => ProveError::OtherLog { ours, theirs },
            e @ P::NotExtended { .. } => ProveError::invalid(e.to_string()),
            P::Inconsistent(why) => ProveError::Inconsistent(why),
        }
    }
}

impl From<evident_core::Error> for ProveError {
    fn from(e: evident_core::Error) -> ProveError {
        ProveError::Trail(crate::Error::from(e))
    }
}
