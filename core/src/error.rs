//! Errors, each with the place it concerns.

use crate::checkpoint::Checkpoint;
use crate::hash::LogId;
use crate::io::IoError;

/// Where something is: a file of the trail, an offset in it, a seq.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// File name inside the trail directory.
    pub file: Option<String>,
    /// Segment number, when known.
    pub segment: Option<u64>,
    /// Byte offset inside the file.
    pub offset: Option<u64>,
    /// The seq concerned (for corruption: the first bad seq, the one expected there).
    pub seq: Option<u64>,
}

impl Location {
    /// A location in `file`.
    pub fn file(file: impl Into<String>) -> Location {
        Location {
            file: Some(file.into()),
            ..Location::default()
        }
    }

    /// Adds the byte offset.
    pub fn at(mut self, offset: u64) -> Location {
        self.offset = Some(offset);
        self
    }

    /// Adds the seq.
    pub fn seq(mut self, seq: u64) -> Location {
        self.seq = Some(seq);
        self
    }

    /// Adds the segment number.
    pub fn segment(mut self, segno: u64) -> Location {
        self.segment = Some(segno);
        self
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(file) = &self.file {
            parts.push(format!("file {file}"));
        }
        if let Some(s) = self.segment {
            parts.push(format!("segment {s}"));
        }
        if let Some(o) = self.offset {
            parts.push(format!("offset {o}"));
        }
        if let Some(s) = self.seq {
            parts.push(format!("seq {s}"));
        }
        if parts.is_empty() {
            f.write_str("trail")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// Everything that can go wrong with a trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An IO operation failed.
    Io {
        /// The operation, e.g. "write", "sync".
        op: &'static str,
        /// Where.
        location: Location,
        /// The host's error.
        error: IoError,
    },
    /// Data on disk is damaged or was changed: refused, never cut silently.
    Corrupt {
        /// Where the first bad byte or record is.
        location: Location,
        /// What is wrong.
        what: String,
    },
    /// The last segment ends in a torn write and the recovery mode forbids cutting it.
    TornTail {
        /// Where the torn tail starts.
        location: Location,
        /// Its length in bytes.
        len: u64,
    },
    /// The trail holds fewer records than a checkpoint of it says: records were removed.
    BehindCheckpoint {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// The last seq actually present (0 when none).
        last_seq: u64,
    },
    /// The record at the checkpoint's seq does not have the checkpoint's hash, or the log ids
    /// differ: the trail was rewritten or is another trail.
    CheckpointMismatch {
        /// The checkpoint.
        checkpoint: Checkpoint,
        /// What differs.
        what: String,
    },
    /// The tree recomputed from the records does not have `root` at `size` (another root, or
    /// fewer records than `size`): the trail does not hold the tree a tree checkpoint (a C2SP
    /// checkpoint) describes.
    TreeMismatch {
        /// The tree size the checkpoint names.
        size: u64,
        /// The root it names.
        root: crate::hash::Hash,
        /// What differs.
        what: String,
    },
    /// A segment of a format version this build reads and verifies but does not append to
    /// (version 1): a writer refuses to open the trail.
    UnsupportedVersion {
        /// The segment file.
        file: String,
        /// Its format version.
        version: u32,
    },
    /// A payload larger than the configured maximum.
    TooLarge {
        /// Payload length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The next append would need seq `u64::MAX`, after which the sequence would wrap: the
    /// trail is full and takes no more records.
    SeqExhausted {
        /// Seq the append would have received.
        next_seq: u64,
    },
    /// An option or argument outside its allowed range; `what` names it and the range.
    InvalidArgument {
        /// What is wrong, with the allowed range.
        what: String,
    },
    /// The trail is *failed* (a sync or a repair step failed) and could not re-verify its
    /// durable data yet; the next append tries again. When the reason says the durable data
    /// failed re-verification, the trail must be reopened.
    Failed {
        /// Why.
        reason: String,
    },
    /// The trail is closed (or closing) and accepts no more appends.
    Closed,
    /// Opening the trail failed earlier; this trail cannot be used.
    NotOpen,
}

impl Error {
    /// A segment of log `found` in a trail of log `trail` (its header's log id, offset 16 of
    /// the segment, says another log): the one wording every reader of segments uses.
    pub fn other_log(location: Location, found: LogId, trail: LogId) -> Error {
        Error::Corrupt {
            location,
            what: format!("segment belongs to log {found} but the trail is log {trail}"),
        }
    }

    /// The location the error concerns, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Io { location, .. }
            | Error::Corrupt { location, .. }
            | Error::TornTail { location, .. } => Some(location),
            _ => None,
        }
    }

    /// Whether the error is damage or tampering found on disk (as opposed to an IO failure or
    /// a misuse).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Corrupt { .. }
                | Error::BehindCheckpoint { .. }
                | Error::CheckpointMismatch { .. }
                | Error::TreeMismatch { .. }
                | Error::TornTail { .. }
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io { op, location, error } => write!(f, "{op} failed at {location}: {error}"),
            Error::Corrupt { location, what } => write!(f, "corruption at {location}: {what}"),
            Error::TornTail { location, len } => {
                write!(f, "torn tail of {len} bytes at {location} (recovery mode forbids cutting it)")
            }
            Error::BehindCheckpoint { checkpoint, last_seq } => write!(
                f,
                "trail ends at seq {last_seq} but a checkpoint says it held {} records: records were removed",
                checkpoint.seq
            ),
            Error::CheckpointMismatch { checkpoint, what } => {
                write!(f, "trail does not match checkpoint at seq {}: {what}", checkpoint.seq)
            }
            Error::TreeMismatch { size, root, what } => {
                write!(f, "trail does not hold the tree of size {size} with root {root}: {what}")
            }
            Error::UnsupportedVersion { file, version } => write!(
                f,
                "{file} is format version {version}: this build reads and verifies version-{version} trails but appends only to version {} (start a new trail to append)",
                crate::header::FORMAT_VERSION
            ),
            Error::TooLarge { len, max } => write!(f, "payload of {len} bytes exceeds the maximum of {max}"),
            Error::SeqExhausted { next_seq } => write!(
                f,
                "seq space exhausted: the next record would get seq {next_seq}, the last seq is never assigned (the sequence would wrap)"
            ),
            Error::InvalidArgument { what } => write!(f, "invalid argument: {what}"),
            Error::Failed { reason } => write!(f, "trail is failed: {reason}"),
            Error::Closed => write!(f, "trail is closed"),
            Error::NotOpen => write!(f, "trail failed to open"),
        }
    }
}

impl std::error::Error for Error {}

/// The refusal of a trail marked [`crate::naming::NO_MERKLE_TREE`]: written with the tree
/// turned off (a benchmark option), so its footers carry no tree edge and its checkpoint no
/// root. Opening and verifying it both refuse it with this error, naming the mark.
pub(crate) fn no_merkle_tree() -> Error {
    Error::Corrupt {
        location: Location::file(crate::naming::NO_MERKLE_TREE),
        what: "this trail was written with the Merkle tree turned off (Options::merkle_tree, a benchmark option): its footers have no tree edge and its checkpoint no root, so it is not a trail that can be opened, proven or verified".into(),
    }
}
