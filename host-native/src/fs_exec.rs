//! Performs the core's IO requests on a real directory with `std::fs`, positional IO and the
//! fsync family. Runs on the driver thread (blocking calls, no async hop per operation).

use evident_core::{DirEntry, IoDone, IoError, IoErrorKind, IoOp, IoResult};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Executes [`IoOp`]s in one directory, keeping files open between operations.
#[derive(Debug)]
pub struct FsExecutor {
    dir: PathBuf,
    open: HashMap<String, File>,
}

/// Maps a std IO error to the core's classes.
pub fn io_error(e: &io::Error, context: &str) -> IoError {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    let kind = match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::NotFound, _) => IoErrorKind::NotFound,
        (io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded, _)
        | (_, Some(ENOSPC | EDQUOT)) => IoErrorKind::NoSpace,
        (io::ErrorKind::PermissionDenied, _) => IoErrorKind::PermissionDenied,
        (io::ErrorKind::Unsupported, _) => IoErrorKind::Unsupported,
        _ => IoErrorKind::Other,
    };
    IoError::new(kind, format!("{context}: {e}"))
}

impl FsExecutor {
    /// An executor for the trail directory `dir` (created on the first listing if missing).
    pub fn new(dir: impl Into<PathBuf>) -> FsExecutor {
        FsExecutor {
            dir: dir.into(),
            open: HashMap::new(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn file(&mut self, name: &str) -> io::Result<&File> {
        if !self.open.contains_key(name) {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(self.path(name))?;
            self.open.insert(name.to_string(), f);
        }
        Ok(&self.open[name])
    }

    /// Performs one request.
    pub fn perform(&mut self, op: &IoOp) -> IoResult {
        let what = match op.file() {
            Some(f) => format!("{} {}", op.name(), self.path(f).display()),
            None => format!("{} {}", op.name(), self.dir.display()),
        };
        self.perform_inner(op).map_err(|e| io_error(&e, &what))
    }

    /// The names of the directory's regular files (created empty if missing). The type comes
    /// with the directory entry (d_type) on Linux: no stat per file, and symlinks are not
    /// followed.
    fn regular_file_names(&self) -> io::Result<Vec<String>> {
        std::fs::create_dir_all(&self.dir)?;
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    out.push(name.to_string());
                }
            }
        }
        Ok(out)
    }

    fn perform_inner(&mut self, op: &IoOp) -> io::Result<IoDone> {
        match op {
            IoOp::List => {
                let mut out = Vec::new();
                for name in self.regular_file_names()? {
                    // Not through `self.file`: listing must not open every file.
                    let len = std::fs::symlink_metadata(self.path(&name))?.len();
                    out.push(DirEntry { name, len });
                }
                Ok(IoDone::Listed(out))
            }
            IoOp::ListNames => Ok(IoDone::Names(self.regular_file_names()?)),
            IoOp::Length { file } => {
                // Through the handle the next read of the file uses anyway: an open and an
                // fstat instead of a stat and an open.
                Ok(IoDone::Length(self.file(file)?.metadata()?.len()))
            }
            IoOp::Read { file, offset, len } => {
                let f = self.file(file)?;
                let mut buf = vec![0u8; *len as usize];
                let mut got = 0;
                while got < buf.len() {
                    match f.read_at(&mut buf[got..], offset + got as u64) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                buf.truncate(got);
                Ok(IoDone::Read(buf))
            }
            IoOp::Write { file, offset, data } => {
                self.file(file)?.write_all_at(data, *offset)?;
                Ok(IoDone::Written(data.len() as u64))
            }
            IoOp::Sync { file, metadata } => {
                let f = self.file(file)?;
                if *metadata {
                    f.sync_all()?;
                } else {
                    f.sync_data()?;
                }
                Ok(IoDone::Ok)
            }
            IoOp::Create { file } => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(self.path(file))?;
                self.open.insert(file.clone(), f);
                Ok(IoDone::Ok)
            }
            IoOp::Truncate { file, len } => {
                self.file(file)?.set_len(*len)?;
                Ok(IoDone::Ok)
            }
            IoOp::Preallocate { file, len } => {
                let f = self.file(file)?;
                if f.metadata()?.len() >= *len {
                    return Ok(IoDone::Ok);
                }
                // Real blocks, so that appends overwrite allocated space instead of extending
                // the file; fall back to a sparse extension where fallocate is unsupported.
                match rustix::fs::fallocate(f, rustix::fs::FallocateFlags::empty(), 0, *len) {
                    Ok(()) => Ok(IoDone::Ok),
                    Err(e)
                        if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS =>
                    {
                        f.set_len(*len)?;
                        Ok(IoDone::Ok)
                    }
                    Err(e) => Err(io::Error::from(e)),
                }
            }
            IoOp::Close { file } => {
                self.open.remove(file);
                Ok(IoDone::Ok)
            }
            IoOp::Remove { file } => {
                self.open.remove(file);
                match std::fs::remove_file(self.path(file)) {
                    Ok(()) => Ok(IoDone::Ok),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(IoDone::Ok),
                    Err(e) => Err(e),
                }
            }
            IoOp::Rename { from, to } => {
                std::fs::rename(self.path(from), self.path(to))?;
                self.open.remove(to);
                if let Some(f) = self.open.remove(from) {
                    self.open.insert(to.clone(), f);
                }
                Ok(IoDone::Ok)
            }
            IoOp::Copy { from, to } => {
                std::fs::copy(self.path(from), self.path(to))?;
                File::open(self.path(to))?.sync_all()?;
                Ok(IoDone::Ok)
            }
            IoOp::SyncDir => {
                File::open(&self.dir)?.sync_all()?;
                Ok(IoDone::Ok)
            }
        }
    }
}

/// Runs a core verification of `dir` to the end (blocking), hashing record leaves on every
/// available core (up to 8).
pub fn verify_dir(
    dir: &Path,
    checkpoints: Vec<evident_core::Checkpoint>,
    progress: impl FnMut(u64, u64),
) -> Result<evident_core::verify::VerifyReport, evident_core::Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    verify_dir_with(dir, checkpoints, cores.min(8), progress)
}

/// [`verify_dir`] with `threads` threads hashing record leaves (1: all work on the calling
/// thread). The verdict does not depend on `threads`.
pub fn verify_dir_with(
    dir: &Path,
    checkpoints: Vec<evident_core::Checkpoint>,
    threads: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<evident_core::verify::VerifyReport, evident_core::Error> {
    if !dir.is_dir() {
        return Err(evident_core::Error::Io {
            op: "open",
            location: evident_core::Location::file(dir.display().to_string()),
            error: IoError::new(
                IoErrorKind::NotFound,
                format!("{}: not a directory", dir.display()),
            ),
        });
    }
    let mut exec = FsExecutor::new(dir);
    let mut leaves = crate::leaf_threads::LeafThreads::new(threads);
    let mut task = evident_core::verify::VerifyTask::new(checkpoints, 1 << 20);
    task.set_live_writer(crate::live::writer_is_live(dir));
    while let Some(op) = task.poll_io() {
        let r = exec.perform(&op);
        task.provide_leaves(leaves.leaves_for(&op, &r));
        task.handle_io(&op, r);
        let (done, total) = task.progress();
        progress(done, total);
    }
    task.take_result().expect("the task ends with a result")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_and_length() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("trail");
        let mut exec = FsExecutor::new(&dir);
        // A missing directory is created, and listed empty.
        assert_eq!(exec.perform(&IoOp::ListNames), Ok(IoDone::Names(vec![])));
        assert!(dir.is_dir());
        std::fs::write(dir.join("a"), b"12345").unwrap();
        std::fs::write(dir.join("b"), b"").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::os::unix::fs::symlink(dir.join("a"), dir.join("link")).unwrap();
        let mut names = match exec.perform(&IoOp::ListNames) {
            Ok(IoDone::Names(n)) => n,
            other => panic!("{other:?}"),
        };
        names.sort();
        assert_eq!(names, ["a", "b"], "regular files only, as `List`");
        let length = |exec: &mut FsExecutor, file: &str| {
            exec.perform(&IoOp::Length {
                file: file.to_string(),
            })
        };
        assert_eq!(length(&mut exec, "a"), Ok(IoDone::Length(5)));
        assert_eq!(length(&mut exec, "b"), Ok(IoDone::Length(0)));
        // The length follows writes through the executor's open handle.
        exec.perform(&IoOp::Write {
            file: "b".into(),
            offset: 0,
            data: vec![1; 7],
        })
        .unwrap();
        assert_eq!(length(&mut exec, "b"), Ok(IoDone::Length(7)));
        let missing = length(&mut exec, "missing").unwrap_err();
        assert_eq!(missing.kind, IoErrorKind::NotFound);
    }
}
