//! The adapter's error type: the core's errors (each with its file, segment, offset or seq), and
//! what only a host can get wrong.

use std::path::PathBuf;

/// Everything `evident-native` can report.
#[derive(Debug)]
pub enum Error {
    /// An error from the trail itself: IO with its location, corruption with its location,
    /// a torn tail the recovery mode refuses to cut, a trail shorter than its checkpoint...
    Trail(evident_core::Error),
    /// Another process (or another `Trail` in this one) has the directory open.
    Locked {
        /// The trail directory.
        dir: PathBuf,
        /// Who holds it, since when, until when (from `LOCK`), as far as it can be known.
        holder: String,
    },
    /// A host-side IO failure outside the trail's own operations.
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The trail was closed (or its driver stopped) before the request was answered.
    Closed,
    /// An event could not be encoded.
    Encode(serde_json::Error),
}

impl Error {
    /// The core error, if this is one.
    pub fn as_trail(&self) -> Option<&evident_core::Error> {
        match self {
            Error::Trail(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this is damage or tampering found on disk.
    pub fn is_corruption(&self) -> bool {
        self.as_trail().is_some_and(|e| e.is_corruption())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Trail(e) => write!(f, "{e}"),
            Error::Locked { dir, holder } => {
                write!(
                    f,
                    "{} is locked: already open by another writer ({holder})",
                    dir.display()
                )
            }
            Error::Io { path, error } => write!(f, "{}: {error}", path.display()),
            Error::Closed => write!(f, "the trail is closed"),
            Error::Encode(e) => write!(f, "cannot encode the event: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<evident_core::Error> for Error {
    fn from(e: evident_core::Error) -> Error {
        match e {
            evident_core::Error::Closed => Error::Closed,
            e => Error::Trail(e),
        }
    }
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
