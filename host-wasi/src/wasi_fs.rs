//! Performs the core's IO requests through `wasi:filesystem` descriptors.
//!
//! Every path is opened relative to the preopened directory that contains the trail, with
//! exactly the rights it needs: files are opened read-write without `mutate-directory` (which
//! jco's preview2-shim refuses and Rust std asks for), creations, renames and removals go
//! through the preopen itself. Writes are positional (`descriptor.write(buf, offset)`), the
//! cheapest write WASI offers.
//!
//! Directory sync: where the host cannot fsync a directory (it refuses to open a directory for
//! sync, or `sync` on it is unsupported), the operation is reported as done and
//! `directory_sync` turns false; new segment names then rely on the host file system's own
//! ordering. wasmtime supports it; the README lists what each host does.

use crate::lease::{AcquireError, ComponentLease};
use evident_core::lease::Timing;
use evident_core::{DirEntry, IoDone, IoError, IoErrorKind, IoOp, IoResult};
use std::collections::HashMap;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

/// IO in one trail directory under a preopen.
pub struct WasiExecutor {
    base: Descriptor,
    /// The trail directory relative to the preopen ("" when it is the preopen itself).
    rel: String,
    files: HashMap<String, Descriptor>,
    /// Whether directory fsync works on this host.
    pub directory_sync: bool,
    /// The writer lease, checked before every change and after every sync.
    lease: Option<ComponentLease>,
}

impl Drop for WasiExecutor {
    fn drop(&mut self) {
        self.release_lease();
    }
}

fn kind(e: ErrorCode) -> IoErrorKind {
    match e {
        ErrorCode::NoEntry => IoErrorKind::NotFound,
        ErrorCode::InsufficientSpace | ErrorCode::Quota => IoErrorKind::NoSpace,
        ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => {
            IoErrorKind::PermissionDenied
        }
        ErrorCode::Unsupported => IoErrorKind::Unsupported,
        _ => IoErrorKind::Other,
    }
}

fn err(e: ErrorCode, what: &str) -> IoError {
    IoError::new(kind(e), format!("{what}: {e:?}"))
}

/// An open failure; a symlink (never followed: no `symlink-follow` flag) is named as such.
fn refused(e: ErrorCode, name: &str, what: &str) -> IoError {
    match e {
        ErrorCode::Loop => IoError::new(
            IoErrorKind::Other,
            format!("{what} {name}: is a symbolic link (refused: a trail directory's files are never followed)"),
        ),
        e => err(e, &format!("{what} {name}")),
    }
}

/// Refuses a descriptor that is not a regular file (a FIFO, directory, device...).
fn regular(d: &Descriptor, name: &str) -> Result<(), IoError> {
    let t = d.get_type().map_err(|e| err(e, &format!("stat {name}")))?;
    if t != DescriptorType::RegularFile {
        return Err(not_regular(name, t));
    }
    Ok(())
}

fn not_regular(name: &str, t: DescriptorType) -> IoError {
    IoError::new(
        IoErrorKind::Other,
        format!("{name}: is {t:?} where the trail expects a regular file (refused: a trail directory's files are never followed or read through another type)"),
    )
}

/// Whether `name` is one the trail uses (the symlink rule covers all of them).
fn is_trail_name(name: &str) -> bool {
    evident_core::naming::parse_segment_name(name).is_some()
        || name == evident_core::naming::HEAD_CHECKPOINT
        || name == evident_core::naming::RETAINED_CHECKPOINT
        || name.ends_with(".tmp")
        || name == "LOCK"
}

impl WasiExecutor {
    /// Finds the preopen containing `dir` (an absolute path, or relative to a preopen named
    /// `.`) and creates the directory if needed.
    pub fn new(dir: &str) -> Result<WasiExecutor, String> {
        let preopens = wasip2::filesystem::preopens::get_directories();
        let norm = |p: &str| p.trim_end_matches('/').to_string();
        let want = norm(dir);
        let mut best: Option<(usize, Descriptor, String)> = None;
        for (d, path) in preopens {
            let p = norm(&path);
            let rel = if p == "." && !want.starts_with('/') {
                Some(want.trim_start_matches("./").to_string())
            } else if want == p {
                Some(String::new())
            } else if p.is_empty() && want.starts_with('/') {
                Some(want.trim_start_matches('/').to_string())
            } else {
                want.strip_prefix(&format!("{p}/")).map(|r| r.to_string())
            };
            if let Some(rel) = rel {
                if best.as_ref().is_none_or(|(len, _, _)| p.len() > *len) {
                    best = Some((p.len(), d, rel));
                }
            }
        }
        let Some((_, base, rel)) = best else {
            return Err(format!(
                "`{dir}` is not under any directory the host preopened"
            ));
        };
        if rel.split('/').any(|c| c == "..") {
            return Err(format!("`{dir}`: `..` is not allowed"));
        }
        let mut sofar = String::new();
        for comp in rel.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if !sofar.is_empty() {
                sofar.push('/');
            }
            sofar.push_str(comp);
            match base.create_directory_at(&sofar) {
                Ok(()) | Err(ErrorCode::Exist) => {}
                Err(e) => return Err(format!("cannot create `{sofar}` under the preopen: {e:?}")),
            }
        }
        Ok(WasiExecutor {
            base,
            rel: sofar,
            files: HashMap::new(),
            directory_sync: true,
            lease: None,
        })
    }

    /// Takes the trail's writer lease (see `crate::lease`); from now on every change and every
    /// sync is checked against it.
    pub fn take_lease(
        &mut self,
        timing: Timing,
        label: Option<String>,
    ) -> Result<(), AcquireError> {
        let segments_exist = self
            .regular_file_names()
            .map_err(|e| AcquireError::Other(e.message.clone()))?
            .iter()
            .any(|n| n.ends_with(".evseg") || n.ends_with(".checkpoint"));
        let path = self.path(crate::lease::FILE);
        self.lease = Some(ComponentLease::acquire(
            &self.base,
            path,
            timing,
            label,
            segments_exist,
        )?);
        Ok(())
    }

    /// Why the lease was lost, once it was (nothing more is written then).
    pub fn lease_lost(&self) -> Option<String> {
        self.lease
            .as_ref()
            .and_then(|l| l.lost().map(str::to_string))
    }

    /// Releases the lease (after a clean close); also done when the executor is dropped.
    pub fn release_lease(&mut self) {
        if let Some(mut l) = self.lease.take() {
            if l.lost().is_none() {
                l.release(&self.base);
            }
        }
    }

    /// Renews the lease when due, or notices it is lost: what each call of the log does first.
    pub fn lease_check(&mut self) -> Result<(), String> {
        match self.lease.as_mut() {
            Some(l) => l.check(&self.base),
            None => Ok(()),
        }
    }

    fn path(&self, name: &str) -> String {
        if self.rel.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.rel)
        }
    }

    fn file(&mut self, name: &str) -> Result<&Descriptor, IoError> {
        if !self.files.contains_key(name) {
            let d = self
                .base
                .open_at(
                    PathFlags::empty(),
                    &self.path(name),
                    OpenFlags::empty(),
                    DescriptorFlags::READ | DescriptorFlags::WRITE,
                )
                .map_err(|e| refused(e, name, "open"))?;
            regular(&d, name)?;
            self.files.insert(name.to_string(), d);
        }
        Ok(&self.files[name])
    }

    /// Creates `name` empty without ever following a symlink: new (`EXCLUSIVE`), or an
    /// existing regular file cut to zero (the operation's contract). `exclusive_only`: the file
    /// must be new (a repair copy).
    fn create(&mut self, name: &str, exclusive_only: bool) -> Result<(), IoError> {
        let rw = DescriptorFlags::READ | DescriptorFlags::WRITE;
        let path = self.path(name);
        let d = match self.base.open_at(
            PathFlags::empty(),
            &path,
            OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
            rw,
        ) {
            Ok(d) => d,
            Err(ErrorCode::Exist) if !exclusive_only => {
                let d = self
                    .base
                    .open_at(PathFlags::empty(), &path, OpenFlags::empty(), rw)
                    .map_err(|e| refused(e, name, "create"))?;
                regular(&d, name)?;
                d.set_size(0)
                    .map_err(|e| err(e, &format!("create {name}")))?;
                d
            }
            Err(e) => return Err(refused(e, name, "create")),
        };
        // A file made by an exclusive create is a new regular file; an existing one was checked
        // above before it was cut.
        self.files.insert(name.to_string(), d);
        Ok(())
    }

    /// The trail directory opened for listing and sync. For a trail at the preopen's root this
    /// opens `.` under it: some hosts (jco's preview2-shim) cannot list or sync the preopen
    /// descriptor itself. `None` means: use the preopen.
    fn dir(&self) -> Result<Option<Descriptor>, ErrorCode> {
        let path = if self.rel.is_empty() {
            "."
        } else {
            self.rel.as_str()
        };
        match self.base.open_at(
            PathFlags::empty(),
            path,
            OpenFlags::DIRECTORY,
            DescriptorFlags::READ,
        ) {
            Ok(d) => Ok(Some(d)),
            Err(_) if self.rel.is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn write_all(
        d: &Descriptor,
        mut data: &[u8],
        mut offset: u64,
        name: &str,
    ) -> Result<(), IoError> {
        while !data.is_empty() {
            let n = d
                .write(data, offset)
                .map_err(|e| err(e, &format!("write {name}")))? as usize;
            if n == 0 {
                return Err(IoError::new(
                    IoErrorKind::Other,
                    format!("write {name}: wrote nothing"),
                ));
            }
            data = &data[n..];
            offset += n as u64;
        }
        Ok(())
    }

    fn read_all(d: &Descriptor, len: u64, offset: u64, name: &str) -> Result<Vec<u8>, IoError> {
        let mut out = Vec::with_capacity(len as usize);
        while (out.len() as u64) < len {
            let (chunk, eof) = d
                .read(len - out.len() as u64, offset + out.len() as u64)
                .map_err(|e| err(e, &format!("read {name}")))?;
            out.extend_from_slice(&chunk);
            if eof || chunk.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// The names of the directory's regular files. Each entry carries its type: no stat per
    /// file.
    fn regular_file_names(&mut self) -> Result<Vec<String>, IoError> {
        let stream = match self.dir().map_err(|e| err(e, "open directory"))? {
            Some(d) => d.read_directory(),
            None => self.base.read_directory(),
        }
        .map_err(|e| err(e, "list directory"))?;
        let mut out = Vec::new();
        while let Some(entry) = stream
            .read_directory_entry()
            .map_err(|e| err(e, "list directory"))?
        {
            let t = entry.type_;
            if t == DescriptorType::RegularFile {
                out.push(entry.name);
            } else if !is_trail_name(&entry.name) {
                // not the trail's (a FIFO shows as `Unknown` under wasmtime: refused below)
            } else if t == DescriptorType::SymbolicLink && entry.name.ends_with(".tmp") {
                out.push(entry.name); // a stale temporary link: listed so open removes it
            } else {
                return Err(not_regular(&entry.name, t));
            }
        }
        Ok(out)
    }

    /// Performs one request; a change (or a sync, whose success acknowledges) only while the
    /// lease is ours.
    pub fn perform(&mut self, op: &IoOp) -> IoResult {
        if let IoOp::PutFiles { .. } = op {
            return op.perform_put_files(|step| self.perform(step));
        }
        if !op.names_stay_inside() {
            return Err(IoError::new(
                IoErrorKind::Other,
                format!(
                    "{} refused: a file name outside the trail directory",
                    op.name()
                ),
            ));
        }
        let guarded = self.lease.is_some();
        if guarded && op.changes_files() {
            self.guard(op)?;
        }
        let done = self.perform_unguarded(op)?;
        if guarded && op.acknowledges() {
            self.guard(op)?;
        }
        Ok(done)
    }

    /// The directories of a tile path (`tile/...`), each checked to be a directory and not a
    /// symlink (`stat-at` without `symlink-follow` reports the link itself), created first when
    /// `create`. Flat names have none. A missing one without `create` is `NotFound`.
    fn tile_dirs(&self, name: &str, create: bool) -> Result<(), IoError> {
        let Some((dirs, _)) = name.rsplit_once('/') else {
            return Ok(());
        };
        let mut sofar = String::new();
        for comp in dirs.split('/') {
            if !sofar.is_empty() {
                sofar.push('/');
            }
            sofar.push_str(comp);
            let path = self.path(&sofar);
            if create {
                match self.base.create_directory_at(&path) {
                    Ok(()) | Err(ErrorCode::Exist) => {}
                    Err(e) => return Err(err(e, &format!("create directory {sofar}"))),
                }
            }
            let t = self
                .base
                .stat_at(PathFlags::empty(), &path)
                .map_err(|e| err(e, &format!("stat {sofar}")))?
                .type_;
            if t != DescriptorType::Directory {
                return Err(IoError::new(
                    IoErrorKind::Other,
                    format!("{sofar}: is {t:?} where a tile directory belongs (refused: never followed)"),
                ));
            }
        }
        Ok(())
    }

    fn guard(&mut self, op: &IoOp) -> Result<(), IoError> {
        self.lease_check().map_err(|why| {
            IoError::new(
                IoErrorKind::Other,
                format!("{} {}: {why}", op.name(), op.file().unwrap_or("")),
            )
        })
    }

    fn perform_unguarded(&mut self, op: &IoOp) -> IoResult {
        // A tile path's directories: created for a new file (or a rename's new name), checked
        // for everything else.
        if let Some(f) = op.file() {
            let creates = matches!(op, IoOp::Create { .. } | IoOp::Copy { .. });
            if let Err(e) = self.tile_dirs(f, creates) {
                if matches!(op, IoOp::Remove { .. }) && e.kind == IoErrorKind::NotFound {
                    return Ok(IoDone::Ok);
                }
                return Err(e);
            }
        }
        if let Some(t) = op.target() {
            self.tile_dirs(t, true)?;
        }
        match op {
            IoOp::List => {
                let mut out = Vec::new();
                for name in self.regular_file_names()? {
                    let stat = self
                        .base
                        .stat_at(PathFlags::empty(), &self.path(&name))
                        .map_err(|e| err(e, &format!("stat {name}")))?;
                    out.push(DirEntry {
                        name,
                        len: stat.size,
                    });
                }
                Ok(IoDone::Listed(out))
            }
            IoOp::ListNames => Ok(IoDone::Names(self.regular_file_names()?)),
            IoOp::Length { file } => {
                let stat = self
                    .base
                    .stat_at(PathFlags::empty(), &self.path(file))
                    .map_err(|e| err(e, &format!("stat {file}")))?;
                Ok(IoDone::Length(stat.size))
            }
            IoOp::Read { file, offset, len } => {
                let d = self.file(file)?;
                Ok(IoDone::Read(Self::read_all(d, *len as u64, *offset, file)?))
            }
            IoOp::Write { file, offset, data } => {
                let d = self.file(file)?;
                Self::write_all(d, data, *offset, file)?;
                Ok(IoDone::Written(data.len() as u64))
            }
            IoOp::WriteZeros { file, offset, len } => {
                let d = self.file(file)?;
                // The component has no `fallocate`: its segments are sparse, and these zeros
                // are what gives the space real blocks before appends land in it.
                for (at, zeros) in evident_core::io::zero_pieces(*offset, *len) {
                    Self::write_all(d, zeros, at, file)?;
                }
                Ok(IoDone::Written(*len))
            }
            IoOp::Sync { file, metadata } => {
                let d = self.file(file)?;
                if *metadata { d.sync() } else { d.sync_data() }
                    .map_err(|e| err(e, &format!("sync {file}")))?;
                Ok(IoDone::Ok)
            }
            IoOp::Create { file } => {
                self.files.remove(file);
                self.create(file, false)?;
                Ok(IoDone::Ok)
            }
            IoOp::Truncate { file, len } => {
                self.file(file)?
                    .set_size(*len)
                    .map_err(|e| err(e, &format!("truncate {file}")))?;
                Ok(IoDone::Ok)
            }
            IoOp::Preallocate { file, len } => {
                let d = self.file(file)?;
                let size = d.stat().map_err(|e| err(e, &format!("stat {file}")))?.size;
                if size < *len {
                    d.set_size(*len)
                        .map_err(|e| err(e, &format!("preallocate {file}")))?;
                }
                Ok(IoDone::Ok)
            }
            IoOp::Close { file } => {
                self.files.remove(file);
                Ok(IoDone::Ok)
            }
            IoOp::Remove { file } => {
                self.files.remove(file);
                match self.base.unlink_file_at(&self.path(file)) {
                    Ok(()) | Err(ErrorCode::NoEntry) => Ok(IoDone::Ok),
                    Err(e) => Err(err(e, &format!("remove {file}"))),
                }
            }
            IoOp::Rename { from, to } => {
                self.base
                    .rename_at(&self.path(from), &self.base, &self.path(to))
                    .map_err(|e| err(e, &format!("rename {from} to {to}")))?;
                self.files.remove(to);
                if let Some(d) = self.files.remove(from) {
                    self.files.insert(to.clone(), d);
                }
                Ok(IoDone::Ok)
            }
            IoOp::Copy { from, to } => {
                let src = self.file(from)?;
                let size = src
                    .stat()
                    .map_err(|e| err(e, &format!("stat {from}")))?
                    .size;
                let data = Self::read_all(src, size, 0, from)?;
                self.create(to, true)?; // the copy must be new
                let d = self.file(to)?;
                Self::write_all(d, &data, 0, to)?;
                d.sync().map_err(|e| err(e, &format!("sync {to}")))?;
                Ok(IoDone::Ok)
            }
            IoOp::SyncDir => {
                let r = match self.dir() {
                    Ok(Some(d)) => d.sync(),
                    Ok(None) => self.base.sync(),
                    Err(e) => Err(e),
                };
                match r {
                    Ok(()) => Ok(IoDone::Ok),
                    Err(
                        ErrorCode::Unsupported
                        | ErrorCode::Invalid
                        | ErrorCode::BadDescriptor
                        | ErrorCode::NotPermitted
                        | ErrorCode::Access
                        | ErrorCode::IsDirectory,
                    ) => {
                        self.directory_sync = false;
                        Ok(IoDone::Ok)
                    }
                    Err(e) => Err(err(e, "sync directory")),
                }
            }
            // `perform` expands a put into its steps before it gets here.
            IoOp::PutFiles { .. } => Err(IoError::new(
                IoErrorKind::Other,
                "put files: performed step by step",
            )),
        }
    }
}
