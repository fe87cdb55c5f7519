//! The IO vocabulary between the core and a host.
//!
//! The core asks for one operation at a time ([`IoRequest`]); the host performs it in the trail's
//! directory and answers with [`crate::Trail::handle_io`]. Files are named relative to that
//! directory and never contain a path separator, except the tree's tiles: a path under `tile/`
//! accepted by [`crate::naming::is_tile_path`], whose directories the host creates (without
//! following a symlink) when it creates or renames a file there. The host keeps open handles as it sees fit:
//! [`IoOp::Close`] says a file will not be used again soon.

/// Identifies one IO request, so its completion can be matched to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IoId(pub u64);

/// One operation for the host to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoRequest {
    /// Pass back to [`crate::Trail::handle_io`] with the result.
    pub id: IoId,
    /// What to do.
    pub op: IoOp,
}

/// What the host must do. Each answer is an [`IoDone`] variant named in the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoOp {
    /// List the directory's regular files with their lengths → [`IoDone::Listed`]. A missing
    /// directory is created first (empty listing). Costs a stat per file: for tasks that read
    /// every file anyway (verification, queries).
    List,
    /// List the names of the directory's regular files, without their lengths
    /// → [`IoDone::Names`]. A missing directory is created first (empty listing). A host should
    /// not stat each file for it (the directory entry's type suffices): opening a trail uses it
    /// so that its cost does not grow with the number of sealed segments.
    ListNames,
    /// The current length of one file → [`IoDone::Length`]; a missing file is a
    /// [`IoErrorKind::NotFound`] error.
    Length {
        /// File name.
        file: String,
    },
    /// Read up to `len` bytes at `offset` → [`IoDone::Read`] (shorter only at end of file).
    Read {
        /// File name.
        file: String,
        /// Byte offset.
        offset: u64,
        /// Bytes wanted.
        len: u32,
    },
    /// Write all of `data` at `offset` (extending the file if needed) → [`IoDone::Written`]
    /// with the number of bytes written. A short count is treated as a failed write.
    Write {
        /// File name.
        file: String,
        /// Byte offset.
        offset: u64,
        /// Bytes to write.
        data: Vec<u8>,
    },
    /// Write `len` zero bytes at `offset` → [`IoDone::Written`] with `len`. The writer asks for
    /// it only over bytes that already read as zero (preallocated space after the last record,
    /// inside the file's length), so that the file system allocates and writes those blocks
    /// now, between appends, instead of inside the `fdatasync` of a later append (see
    /// [`crate::Options::zero_fill_ahead`]). Nothing is made durable. A host may answer
    /// `Written(len)` without writing anything: the format does not depend on it.
    WriteZeros {
        /// File name.
        file: String,
        /// Byte offset.
        offset: u64,
        /// Number of zero bytes.
        len: u64,
    },
    /// Make the file's data durable: `fdatasync` when `metadata` is false, `fsync` otherwise
    /// → [`IoDone::Ok`]. A failure must be reported, never retried silently.
    Sync {
        /// File name.
        file: String,
        /// Whether all metadata must be flushed too.
        metadata: bool,
    },
    /// Create the file empty, or truncate it to zero if it exists → [`IoDone::Ok`].
    Create {
        /// File name.
        file: String,
    },
    /// Set the file's length (cutting or zero-extending) → [`IoDone::Ok`].
    Truncate {
        /// File name.
        file: String,
        /// New length.
        len: u64,
    },
    /// Reserve space so that writes up to `len` overwrite allocated zeros instead of extending
    /// the file → [`IoDone::Ok`]. The file's logical length becomes at least `len` and the new
    /// bytes read as zero. A host may answer Ok without doing anything; the format does not
    /// depend on it.
    Preallocate {
        /// File name.
        file: String,
        /// Length to reserve.
        len: u64,
    },
    /// Release the host's handle on the file → [`IoDone::Ok`].
    Close {
        /// File name.
        file: String,
    },
    /// Delete the file → [`IoDone::Ok`] (also when it does not exist).
    Remove {
        /// File name.
        file: String,
    },
    /// Rename `from` to `to`, replacing `to` → [`IoDone::Ok`].
    Rename {
        /// Current name.
        from: String,
        /// New name.
        to: String,
    },
    /// Copy `from` to a new file `to` and make the copy durable → [`IoDone::Ok`].
    Copy {
        /// Source name.
        from: String,
        /// Destination name.
        to: String,
    },
    /// Make the directory's entries (creations, renames, removals) durable → [`IoDone::Ok`].
    SyncDir,
    /// Put each file in place whole, in order, through `tmp`: as [`IoOp::Create`] of `tmp`,
    /// [`IoOp::Write`] of the bytes at offset 0 (a short count is a failure), [`IoOp::Close`],
    /// [`IoOp::Rename`] of `tmp` over the file's name → [`IoDone::Ok`] once every file is in
    /// place. Nothing is made durable. A reader sees a file's old content or its new one,
    /// never part of one. At the first failure the host stops and reports it: the files
    /// before it are in place, `tmp` may hold part of the failing one, the rest are not
    /// tried. One request for many files, so a host that performs requests on another thread
    /// pays one hand-off for them (the tile lane writes its tiles this way).
    PutFiles {
        /// The temporary name each file is written under before its rename.
        tmp: String,
        /// The files, each a name and its whole content.
        files: Vec<(String, Vec<u8>)>,
    },
}

impl IoOp {
    /// A short name of the operation, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            IoOp::List => "list",
            IoOp::ListNames => "list names",
            IoOp::Length { .. } => "length",
            IoOp::Read { .. } => "read",
            IoOp::Write { .. } => "write",
            IoOp::WriteZeros { .. } => "write zeros",
            IoOp::Sync { .. } => "sync",
            IoOp::Create { .. } => "create",
            IoOp::Truncate { .. } => "truncate",
            IoOp::Preallocate { .. } => "preallocate",
            IoOp::Close { .. } => "close",
            IoOp::Remove { .. } => "remove",
            IoOp::Rename { .. } => "rename",
            IoOp::Copy { .. } => "copy",
            IoOp::SyncDir => "sync directory",
            IoOp::PutFiles { .. } => "put files",
        }
    }

    /// Whether the operation changes a file or the directory's entries: a writer that holds a
    /// lease on the directory checks that it still does before performing it. A sync changes
    /// nothing (see [`IoOp::acknowledges`]).
    pub fn changes_files(&self) -> bool {
        !matches!(
            self,
            IoOp::List
                | IoOp::ListNames
                | IoOp::Length { .. }
                | IoOp::Read { .. }
                | IoOp::Close { .. }
                | IoOp::Sync { .. }
                | IoOp::SyncDir
        )
    }

    /// Whether the operation's success lets the core acknowledge records (a sync): a writer
    /// that holds a lease checks that it still does after performing it.
    pub fn acknowledges(&self) -> bool {
        matches!(self, IoOp::Sync { .. } | IoOp::SyncDir)
    }

    /// The file the operation concerns, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            IoOp::Length { file }
            | IoOp::Read { file, .. }
            | IoOp::Write { file, .. }
            | IoOp::WriteZeros { file, .. }
            | IoOp::Sync { file, .. }
            | IoOp::Create { file }
            | IoOp::Truncate { file, .. }
            | IoOp::Preallocate { file, .. }
            | IoOp::Close { file }
            | IoOp::Remove { file } => Some(file),
            IoOp::Rename { from, .. } | IoOp::Copy { from, .. } => Some(from),
            IoOp::PutFiles { tmp, .. } => Some(tmp),
            IoOp::List | IoOp::ListNames | IoOp::SyncDir => None,
        }
    }
}

impl IoOp {
    /// The second file an operation concerns: the new name of a rename, the copy of a copy.
    /// ([`IoOp::PutFiles`] concerns more: see [`IoOp::names`].)
    pub fn target(&self) -> Option<&str> {
        match self {
            IoOp::Rename { to, .. } | IoOp::Copy { to, .. } => Some(to),
            _ => None,
        }
    }

    /// Every file name the operation concerns: [`IoOp::file`], [`IoOp::target`] and the
    /// names of [`IoOp::PutFiles`].
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let put: &[(String, Vec<u8>)] = match self {
            IoOp::PutFiles { files, .. } => files,
            _ => &[],
        };
        [self.file(), self.target()]
            .into_iter()
            .flatten()
            .chain(put.iter().map(|(name, _)| name.as_str()))
    }

    /// Performs an [`IoOp::PutFiles`] as the requests it stands for, one after the other with
    /// `perform` (a host's own executor), stopping at the first failure: hosts implement the
    /// put with it, so that it fails, and a fault injected in one of its steps acts, exactly
    /// like those requests would. Any other operation is handed to `perform` as it is.
    pub fn perform_put_files(&self, mut perform: impl FnMut(&IoOp) -> IoResult) -> IoResult {
        let IoOp::PutFiles { tmp, files } = self else {
            return perform(self);
        };
        // Every name first, so that a put with a bad name changes nothing on any host.
        if let Some(bad) = self.names().find(|n| !name_stays_inside(n)) {
            return Err(IoError::new(
                IoErrorKind::Other,
                format!("put files refused: {bad:?} is outside the trail directory"),
            ));
        }
        for (name, data) in files {
            let within = |e: IoError| IoError::new(e.kind, format!("put {name}: {}", e.message));
            let mut step = |op: &IoOp| perform(op).map_err(within);
            step(&IoOp::Create { file: tmp.into() })?;
            let want = data.len() as u64;
            match step(&IoOp::Write {
                file: tmp.into(),
                offset: 0,
                data: data.clone(),
            })? {
                IoDone::Written(n) if n == want => {}
                IoDone::Written(n) => {
                    return Err(IoError::new(
                        IoErrorKind::Other,
                        format!("writing {tmp} for {name}: short write, {n} of {want} bytes"),
                    ))
                }
                _ => {
                    return Err(IoError::new(
                        IoErrorKind::Other,
                        format!("writing {tmp} for {name}: not a write's answer"),
                    ))
                }
            }
            step(&IoOp::Close { file: tmp.into() })?;
            step(&IoOp::Rename {
                from: tmp.into(),
                to: name.clone(),
            })?;
        }
        Ok(IoDone::Ok)
    }

    /// How many basic requests the operation stands for: four per file of an
    /// [`IoOp::PutFiles`] (create, write, close, rename), one for any other. Hosts that bound
    /// the tile work done inside a call count in these.
    pub fn steps(&self) -> usize {
        match self {
            IoOp::PutFiles { files, .. } => 4 * files.len(),
            _ => 1,
        }
    }

    /// Whether every file name in the operation stays inside the trail directory: not empty,
    /// not `.` or `..`, no path separator, no NUL — or a tile path
    /// ([`crate::naming::is_tile_path`]: `tile/` and checked components). The core only ever
    /// asks for such names; executors and the simulation check it ("no IO outside the trail
    /// directory").
    pub fn names_stay_inside(&self) -> bool {
        self.names().all(name_stays_inside)
    }
}

/// The pieces an [`IoOp::WriteZeros`] of `len` bytes at `offset` is written in: (offset, zeros)
/// of at most 64 KiB each, all from one static buffer, so a host allocates nothing per request.
pub fn zero_pieces(offset: u64, len: u64) -> impl Iterator<Item = (u64, &'static [u8])> {
    static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
    let end = offset.saturating_add(len);
    (offset..end).step_by(ZEROS.len()).map(move |at| {
        let n = (end - at).min(ZEROS.len() as u64) as usize;
        (at, &ZEROS[..n])
    })
}

/// A file in a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// File name.
    pub name: String,
    /// Length in bytes.
    pub len: u64,
}

/// A successful completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoDone {
    /// The operation succeeded and returns nothing.
    Ok,
    /// Answer to [`IoOp::List`].
    Listed(Vec<DirEntry>),
    /// Answer to [`IoOp::ListNames`]: the regular files' names, in any order.
    Names(Vec<String>),
    /// Answer to [`IoOp::Length`]: the file's length in bytes.
    Length(u64),
    /// Answer to [`IoOp::Read`].
    Read(Vec<u8>),
    /// Answer to [`IoOp::Write`]: bytes written.
    Written(u64),
}

/// Classes of IO failure the core reacts to differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoErrorKind {
    /// The file or directory does not exist.
    NotFound,
    /// No space left on the device (ENOSPC, EDQUOT).
    NoSpace,
    /// Permission denied.
    PermissionDenied,
    /// The operation is not supported by this host or file system.
    Unsupported,
    /// Any other failure (EIO, ...).
    Other,
}

/// A failed operation, as reported by the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoError {
    /// The class of failure.
    pub kind: IoErrorKind,
    /// The host's description (for humans).
    pub message: String,
}

impl IoError {
    /// An error of `kind` with a message.
    pub fn new(kind: IoErrorKind, message: impl Into<String>) -> IoError {
        IoError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

/// Whether one file name stays inside the trail directory (see [`IoOp::names_stay_inside`]).
fn name_stays_inside(n: &str) -> bool {
    crate::naming::is_tile_path(n)
        || (!n.is_empty() && n != "." && n != ".." && !n.contains(['/', '\\', '\0']))
}

/// The host's answer to one request.
pub type IoResult = Result<IoDone, IoError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_the_directory_are_caught() {
        let read = |f: &str| IoOp::Read {
            file: f.into(),
            offset: 0,
            len: 1,
        };
        assert!(read("00000000000000000001.evseg").names_stay_inside());
        for bad in ["", ".", "..", "../x", "a/b", "a\0b", "a\\b"] {
            assert!(!read(bad).names_stay_inside(), "{bad:?}");
        }
        let rename = IoOp::Rename {
            from: "head.checkpoint.tmp".into(),
            to: "../head.checkpoint".into(),
        };
        assert!(!rename.names_stay_inside());
        assert!(IoOp::List.names_stay_inside());
        // Every file of a put is checked, not only its temporary name.
        let put = |name: &str| IoOp::PutFiles {
            tmp: "tile/pending.tmp".into(),
            files: vec![("tile/0/000".into(), vec![1]), (name.into(), vec![2])],
        };
        assert!(put("tile/size").names_stay_inside());
        assert!(!put("tile/../x").names_stay_inside());
        assert!(!put("../x").names_stay_inside());
        // Performed, a put with a bad name does nothing at all (not even its good files).
        let mut steps = 0;
        let e = put("../x")
            .perform_put_files(|_| {
                steps += 1;
                Ok(IoDone::Ok)
            })
            .unwrap_err();
        assert_eq!(steps, 0);
        assert!(e.message.contains("\"../x\""), "{e}");
        assert_eq!(put("tile/size").steps(), 8);
        // Tile paths: under `tile/` only, every component checked.
        assert!(read("tile/0/x001/234.p/7").names_stay_inside());
        assert!(read("tile/pending.tmp").names_stay_inside());
        for bad in [
            "tile/",
            "tile//0",
            "tile/../x",
            "tile/0/../../x",
            "tile/./0",
            "tiles/0/000",
            "/tile/0/000",
            "tile/0\\000",
            "tile/0/0\u{0}",
        ] {
            assert!(!read(bad).names_stay_inside(), "{bad:?}");
        }
    }
}
