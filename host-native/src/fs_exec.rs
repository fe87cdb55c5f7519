//! Performs the core's IO requests on a real directory with `std::fs`, positional IO and the
//! fsync family. Runs on the driver thread (blocking calls, no async hop per operation).

use crate::safe_fs::TrailDir;
use evident_core::{DirEntry, IoDone, IoError, IoErrorKind, IoOp, IoResult};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::lease::NativeLease;

/// The most file handles an executor keeps open. Verification and queries read every segment
/// once: keeping each open would run out of descriptors (EMFILE) on a trail of more segments
/// than the process limit (1,024 usually), and an IO error is never damage — so the least
/// recently used handle is closed instead, except one written since its last sync (closing it
/// could lose a write-back error that its fsync must report).
pub const MAX_OPEN_FILES: usize = 64;

/// Executes [`IoOp`]s in one directory, keeping a bounded number of files open between
/// operations. Every file is opened relative to a handle on the directory, never through a
/// symlink, and only when it is a regular file (see [`crate::safe_fs`]).
#[derive(Debug)]
pub struct FsExecutor {
    dir: PathBuf,
    handle: Option<TrailDir>,
    open: HashMap<String, Handle>,
    /// Refuses every operation that changes the directory (read-only commands).
    read_only: bool,
    uses: u64,
    #[cfg(feature = "fault-hooks")]
    faults: crate::fault_hooks::Faults,
    /// The writer lease, checked before every change and after every sync (None: a reader).
    lease: Option<NativeLease>,
}

#[derive(Debug)]
struct Handle {
    file: File,
    writable: bool,
    /// Written (or resized) since its last sync: never closed to make room.
    unsynced: bool,
    last_use: u64,
    /// The file's length when last asked (a read inside it needs no `fstat`).
    len_seen: u64,
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
            handle: None,
            open: HashMap::new(),
            read_only: false,
            uses: 0,
            lease: None,
            #[cfg(feature = "fault-hooks")]
            faults: crate::fault_hooks::Faults::from_env(),
        }
    }

    /// An executor for read-only work (verify, query, export...): files are opened read-only,
    /// a missing directory is an error instead of being created, and every operation that would
    /// change the directory is refused. Works on a read-only mount and on files the user may
    /// only read.
    pub fn read_only(dir: impl Into<PathBuf>) -> FsExecutor {
        FsExecutor {
            read_only: true,
            ..FsExecutor::new(dir)
        }
    }

    /// Makes this executor a writer's: every change and every sync is checked against `lease`.
    pub fn with_lease(mut self, lease: NativeLease) -> FsExecutor {
        self.lease = Some(lease);
        self
    }

    /// The writer lease, for the driver's renewal timer.
    pub fn lease_mut(&mut self) -> Option<&mut NativeLease> {
        self.lease.as_mut()
    }

    /// Why the writer lease was lost, once it was (then nothing more is written).
    pub fn lease_lost(&self) -> Option<String> {
        self.lease.as_ref().and_then(|l| l.lost())
    }

    /// Releases the writer lease (after a clean close or a failed open).
    pub fn release_lease(&mut self) {
        if let Some(mut l) = self.lease.take() {
            l.release();
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn trail_dir(&mut self) -> io::Result<&TrailDir> {
        if self.handle.is_none() {
            self.handle = Some(TrailDir::open(&self.dir, !self.read_only)?);
        }
        Ok(self.handle.as_ref().expect("set above"))
    }

    /// Closes the least recently used handle that holds no unsynced write, while the table is
    /// full.
    fn make_room(&mut self) {
        while self.open.len() >= MAX_OPEN_FILES {
            let victim = self
                .open
                .iter()
                .filter(|(_, h)| !h.unsynced)
                .min_by_key(|(_, h)| h.last_use)
                .map(|(n, _)| n.clone());
            match victim {
                Some(name) => {
                    self.open.remove(&name);
                }
                None => break, // every handle holds unsynced data: keep them all
            }
        }
    }

    fn insert(&mut self, name: &str, file: File, writable: bool) {
        self.make_room();
        self.uses += 1;
        self.open.insert(
            name.to_string(),
            Handle {
                file,
                writable,
                unsynced: false,
                last_use: self.uses,
                len_seen: 0,
            },
        );
    }

    /// The open handle of `name`, opened (read-write when `write`) if needed.
    fn file(&mut self, name: &str, write: bool) -> io::Result<&mut Handle> {
        if write {
            self.refuse_if_read_only()?;
        }
        let reopen = match self.open.get(name) {
            None => true,
            Some(h) => write && !h.writable,
        };
        if reopen {
            // Read-only unless a write needs it: readers work on read-only mounts and files.
            let f = self.trail_dir()?.open_file(name, write)?;
            self.open.remove(name);
            self.insert(name, f, write);
        }
        self.uses += 1;
        let h = self.open.get_mut(name).expect("inserted above");
        h.last_use = self.uses;
        Ok(h)
    }

    fn refuse_if_read_only(&self) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "refused: this command only reads the trail",
            ));
        }
        Ok(())
    }

    /// Performs one request.
    pub fn perform(&mut self, op: &IoOp) -> IoResult {
        if let IoOp::PutFiles { .. } = op {
            return op.perform_put_files(|step| self.perform(step));
        }
        let guarded = self.lease.is_some();
        if guarded && op.changes_files() {
            self.lease_check(&self.what(op))?;
        }
        // The description is built only when needed (an error, a lease check): a query makes
        // one request per agent hit, and formatting a path each time showed in its profile.
        let done = match self.perform_inner(op) {
            Ok(done) => done,
            Err(e) => return Err(io_error(&e, &self.what(op))),
        };
        if guarded && op.acknowledges() {
            // The acknowledgement that follows a sync is ours to give only if the trail still
            // is: checked after the fsync.
            self.lease_check(&self.what(op))?;
        }
        Ok(done)
    }

    /// What `op` does and where, for errors.
    fn what(&self, op: &IoOp) -> String {
        match op.file() {
            Some(f) => format!("{} {}", op.name(), self.path(f).display()),
            None => format!("{} {}", op.name(), self.dir.display()),
        }
    }

    fn lease_check(&mut self, what: &str) -> Result<(), IoError> {
        match self.lease.as_mut().map(|l| l.check()) {
            Some(Err(why)) => Err(IoError::new(IoErrorKind::Other, format!("{what}: {why}"))),
            _ => Ok(()),
        }
    }

    /// The names of the directory's regular files (created empty if missing, unless
    /// read-only), with stale `*.tmp` symlinks so that the trail's open removes them. A
    /// non-regular entry with another trail name is an error naming it.
    fn entries(&mut self) -> io::Result<Vec<crate::safe_fs::Entry>> {
        self.trail_dir()?.entries()
    }

    fn perform_inner(&mut self, op: &IoOp) -> io::Result<IoDone> {
        for name in [op.file(), op.target()].into_iter().flatten() {
            crate::safe_fs::check_name(name)?;
        }
        match op {
            IoOp::List => {
                let mut out = Vec::new();
                for e in self.entries()? {
                    // Not through `self.file`: listing must not open every file.
                    let len = if e.regular {
                        match self.trail_dir()?.len_of(&e.name) {
                            Ok(len) => len,
                            // Renamed or removed since the directory was read (a writer's
                            // temporary file, say): the listing is as if taken just after.
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                            Err(e) => return Err(e),
                        }
                    } else {
                        0
                    };
                    out.push(DirEntry { name: e.name, len });
                }
                Ok(IoDone::Listed(out))
            }
            IoOp::ListNames => Ok(IoDone::Names(
                self.entries()?.into_iter().map(|e| e.name).collect(),
            )),
            IoOp::Length { file } => {
                // Through the handle the next read of the file uses anyway: an open and an
                // fstat instead of a stat and an open.
                Ok(IoDone::Length(
                    self.file(file, false)?.file.metadata()?.len(),
                ))
            }
            IoOp::Read { file, offset, len } => {
                let h = self.file(file, false)?;
                // Never allocate more than the file holds, whatever length is asked for; and
                // fallibly: under a tight memory limit (`ulimit -v`) a read that cannot get its
                // buffer is an error naming its size, not an abort. The length is asked again
                // only for a read past the one last seen (files only shrink by a cut, and a
                // read past the end just returns less).
                if offset.saturating_add(*len as u64) > h.len_seen {
                    h.len_seen = h.file.metadata()?.len();
                }
                let f = &h.file;
                let left = h.len_seen.saturating_sub(*offset);
                let want = (*len as u64).min(left) as usize;
                let mut buf = Vec::new();
                buf.try_reserve_exact(want).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        format!("cannot allocate {want} bytes for the read"),
                    )
                })?;
                buf.resize(want, 0);
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
                let h = self.file(file, true)?;
                h.unsynced = true;
                h.file.write_all_at(data, *offset)?;
                Ok(IoDone::Written(data.len() as u64))
            }
            IoOp::WriteZeros { file, offset, len } => {
                let h = self.file(file, true)?;
                h.unsynced = true;
                for (at, zeros) in evident_core::io::zero_pieces(*offset, *len) {
                    h.file.write_all_at(zeros, at)?;
                }
                Ok(IoDone::Written(*len))
            }
            IoOp::Sync { file, metadata } => {
                #[cfg(feature = "fault-hooks")]
                self.faults.before_sync(*metadata)?;
                let h = self.file(file, !self.read_only)?;
                if *metadata {
                    h.file.sync_all()?;
                } else {
                    h.file.sync_data()?;
                }
                h.unsynced = false;
                Ok(IoDone::Ok)
            }
            IoOp::Create { file } => {
                self.refuse_if_read_only()?;
                // Never through a symlink: new with O_EXCL, or an existing regular file cut
                // to zero (the operation's contract).
                let f = self.trail_dir()?.create_or_truncate(file)?;
                self.open.remove(file);
                self.insert(file, f, true);
                Ok(IoDone::Ok)
            }
            IoOp::Truncate { file, len } => {
                let h = self.file(file, true)?;
                h.unsynced = true;
                h.file.set_len(*len)?;
                Ok(IoDone::Ok)
            }
            IoOp::Preallocate { file, len } => {
                let h = self.file(file, true)?;
                if h.file.metadata()?.len() >= *len {
                    return Ok(IoDone::Ok);
                }
                h.unsynced = true;
                let f = &h.file;
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
                self.refuse_if_read_only()?;
                self.open.remove(file);
                self.trail_dir()?.remove(file)?;
                Ok(IoDone::Ok)
            }
            IoOp::Rename { from, to } => {
                self.refuse_if_read_only()?;
                self.trail_dir()?.rename(from, to)?;
                self.open.remove(to);
                if let Some(h) = self.open.remove(from) {
                    self.open.insert(to.clone(), h);
                }
                Ok(IoDone::Ok)
            }
            IoOp::Copy { from, to } => {
                self.refuse_if_read_only()?;
                let dir = self.trail_dir()?;
                let mut src = dir.open_file(from, false)?;
                // The copy must be new: O_EXCL, never over an existing entry or a symlink.
                let mut dst = dir.create_new(to)?;
                io::copy(&mut src, &mut dst)?;
                dst.sync_all()?;
                Ok(IoDone::Ok)
            }
            IoOp::SyncDir => {
                if self.read_only {
                    return Ok(IoDone::Ok); // nothing was changed
                }
                self.trail_dir()?.sync()?;
                Ok(IoDone::Ok)
            }
            // `perform` expands a put into its steps before it gets here.
            IoOp::PutFiles { .. } => Err(io::Error::other("put files: performed step by step")),
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
    verify_dir_with(
        dir,
        checkpoints,
        crate::read_ahead::default_threads(),
        progress,
    )
}

/// [`verify_dir`] with `threads` threads hashing record leaves (1: all work on the calling
/// thread). The verdict does not depend on `threads`.
///
/// Beside a live writer a read can race the writer's `pwrite`: both copy page by page, so a
/// reader may see a page of a batch still zero and a later page already written, which looks
/// like a hole with valid records after it. Damage found while a writer is live is therefore
/// checked again (up to `live::RECHECKS` more runs, `live::RECHECK_PAUSE`
/// apart): real damage stays where it
/// is and is reported; an in-flight write has landed by then.
pub fn verify_dir_with(
    dir: &Path,
    checkpoints: Vec<evident_core::Checkpoint>,
    threads: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<evident_core::verify::VerifyReport, evident_core::Error> {
    let mut attempt = 0;
    loop {
        let live = crate::live::writer_is_live(dir);
        let result = verify_once(dir, checkpoints.clone(), threads, live, &mut progress);
        match result {
            Err(ref e)
                if live
                    && attempt < crate::live::RECHECKS
                    && !matches!(e, evident_core::Error::Io { .. }) =>
            {
                attempt += 1;
                std::thread::sleep(crate::live::RECHECK_PAUSE);
            }
            other => return other,
        }
    }
}

fn verify_once(
    dir: &Path,
    checkpoints: Vec<evident_core::Checkpoint>,
    threads: usize,
    live: bool,
    progress: &mut impl FnMut(u64, u64),
) -> Result<evident_core::verify::VerifyReport, evident_core::Error> {
    let mut exec = FsExecutor::read_only(dir);
    if let Err(e) = exec.trail_dir() {
        return Err(evident_core::Error::Io {
            op: "open",
            location: evident_core::Location::file(dir.display().to_string()),
            error: io_error(&e, "open"),
        });
    }
    let mut reads = crate::read_ahead::ReadAhead::new(dir, threads);
    let mut task = evident_core::verify::VerifyTask::new(checkpoints, 1 << 20);
    task.set_live_writer(live);
    while let Some(op) = task.poll_io() {
        let (r, leaves) = reads.perform(&mut exec, &op);
        task.provide_leaves(leaves);
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
