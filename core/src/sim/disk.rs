//! A fake disk with a page cache: what a crash keeps, what a failed fsync drops, how writes
//! tear. It performs [`IoOp`]s exactly as a host would, so the real state machine runs on it.
//!
//! Model (after ALICE and LazyFS):
//! - every file has a cached content (what reads see) and a durable content (what survives a
//!   power loss); `Sync` makes the cached content durable;
//! - file changes since the last sync are kept as an ordered list; a crash keeps a random
//!   prefix of it, and may tear the next change (a prefix of its bytes, sector-granular or not);
//! - directory changes (create, rename, remove) are durable after `SyncDir`; a crash keeps a
//!   random prefix of the ones since;
//! - a failed sync drops the pending changes from durability while reads still see them (the
//!   Linux behaviour behind PostgreSQL's "fsyncgate");
//! - writes can fail with ENOSPC or EIO, or be short; syncs and reads can fail; bits can flip.

use super::rng::SimRng;
use crate::io::{DirEntry, IoDone, IoError, IoErrorKind, IoOp, IoResult};
use std::collections::BTreeMap;

/// Probabilities of injected faults, per operation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// A write fails with ENOSPC (nothing written).
    pub write_nospace: f64,
    /// A write fails with EIO after writing a random prefix.
    pub write_eio: f64,
    /// A write is short (a random prefix written, success reported with the short count).
    pub short_write: f64,
    /// A sync fails (and its pending changes are dropped).
    pub sync_fail: f64,
    /// A read, or a length request, fails with EIO.
    pub read_fail: f64,
    /// Another operation (create, truncate, rename, ...) fails with EIO.
    pub other_fail: f64,
}

#[derive(Debug, Clone)]
enum Change {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Clone, Default)]
struct Inode {
    cache: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<Change>,
}

#[derive(Debug, Clone)]
enum DirChange {
    Link(String, usize),
    Unlink(String),
    Rename(String, String),
}

/// A fault scheduled for a specific upcoming operation (see [`FakeDisk::script`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripted {
    /// Fail with ENOSPC, writing nothing.
    NoSpace,
    /// Fail with EIO (a write writes nothing; a sync drops the pending changes).
    Eio,
    /// A write reports success for only `n` bytes (and writes only those).
    Short(u64),
}

/// Which operations a scripted fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `IoOp::Write` to a segment file.
    SegmentWrite,
    /// `IoOp::Sync` with `metadata: false` (a group-commit sync).
    BatchSync,
    /// Any `IoOp::Sync`.
    AnySync,
    /// `IoOp::SyncDir`.
    SyncDir,
    /// `IoOp::Create`.
    Create,
    /// `IoOp::Truncate`.
    Truncate,
    /// `IoOp::Read`.
    Read,
    /// `IoOp::Rename`.
    Rename,
    /// `IoOp::ListNames`.
    ListNames,
    /// `IoOp::Length`.
    Length,
    /// Any operation on a tile path (`tile/...`, the tile lane's files).
    Tile,
}

impl OpKind {
    fn matches(&self, op: &IoOp) -> bool {
        match (self, op) {
            (OpKind::SegmentWrite, IoOp::Write { file, .. }) => {
                crate::naming::parse_segment_name(file).is_some()
            }
            (
                OpKind::BatchSync,
                IoOp::Sync {
                    metadata: false, ..
                },
            ) => true,
            (OpKind::AnySync, IoOp::Sync { .. }) => true,
            (OpKind::SyncDir, IoOp::SyncDir) => true,
            (OpKind::Create, IoOp::Create { .. }) => true,
            (OpKind::Truncate, IoOp::Truncate { .. }) => true,
            (OpKind::Read, IoOp::Read { .. }) => true,
            (OpKind::Rename, IoOp::Rename { .. }) => true,
            (OpKind::ListNames, IoOp::ListNames) => true,
            (OpKind::Length, IoOp::Length { .. }) => true,
            (OpKind::Tile, op) => [op.file(), op.target()]
                .into_iter()
                .flatten()
                .any(crate::naming::is_tile_path),
            _ => false,
        }
    }
}

/// Counts of what happened, for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Operations performed.
    pub ops: u64,
    /// Faults injected.
    pub faults: u64,
    /// Successful syncs.
    pub syncs: u64,
    /// Crashes simulated.
    pub crashes: u64,
}

/// The fake disk: one directory of files.
#[derive(Debug, Clone)]
pub struct FakeDisk {
    inodes: Vec<Inode>,
    dir: BTreeMap<String, usize>,
    durable_dir: BTreeMap<String, usize>,
    dir_pending: Vec<DirChange>,
    /// Fault probabilities in force.
    pub faults: Faults,
    rng: SimRng,
    /// What happened.
    pub stats: DiskStats,
    /// Whether the last operation had a fault injected.
    pub last_faulted: bool,
    script: Vec<(OpKind, Scripted)>,
}

fn apply(content: &mut Vec<u8>, change: &Change) {
    match change {
        Change::Write { offset, data } => {
            let end = *offset as usize + data.len();
            if content.len() < end {
                content.resize(end, 0);
            }
            content[*offset as usize..end].copy_from_slice(data);
        }
        Change::SetLen(len) => content.resize(*len as usize, 0),
    }
}

fn eio(what: &str) -> IoError {
    IoError::new(IoErrorKind::Other, format!("injected EIO: {what}"))
}

impl FakeDisk {
    /// An empty disk whose random choices come from `seed`.
    pub fn new(seed: u64, faults: Faults) -> FakeDisk {
        FakeDisk {
            inodes: Vec::new(),
            dir: BTreeMap::new(),
            durable_dir: BTreeMap::new(),
            dir_pending: Vec::new(),
            faults,
            rng: SimRng::new(seed),
            stats: DiskStats::default(),
            last_faulted: false,
            script: Vec::new(),
        }
    }

    /// Schedules `fault` for the next operation of `kind` (scripted faults apply in order,
    /// before the random ones).
    pub fn script(&mut self, kind: OpKind, fault: Scripted) {
        self.script.push((kind, fault));
    }

    /// Scripted faults not yet fired.
    pub fn scripted_pending(&self) -> usize {
        self.script.len()
    }

    fn scripted(&mut self, op: &IoOp) -> Option<Scripted> {
        let i = self.script.iter().position(|(k, _)| k.matches(op))?;
        self.stats.faults += 1;
        self.last_faulted = true;
        Some(self.script.remove(i).1)
    }

    fn inode(&mut self, file: &str) -> Result<&mut Inode, IoError> {
        match self.dir.get(file) {
            Some(&i) => Ok(&mut self.inodes[i]),
            None => Err(IoError::new(
                IoErrorKind::NotFound,
                format!("{file}: no such file"),
            )),
        }
    }

    fn change(&mut self, file: &str, change: Change) -> Result<(), IoError> {
        let inode = self.inode(file)?;
        apply(&mut inode.cache, &change);
        inode.pending.push(change);
        Ok(())
    }

    fn fault(&mut self, p: f64) -> bool {
        let hit = self.rng.chance(p);
        if hit {
            self.stats.faults += 1;
            self.last_faulted = true;
        }
        hit
    }

    /// Performs one operation, possibly injecting a fault.
    ///
    /// Checks the invariant "no IO outside the trail directory" on every request (and so in
    /// every simulation and fuzz run): the core must only name files inside the directory.
    pub fn perform(&mut self, op: &IoOp) -> IoResult {
        assert!(
            op.names_stay_inside(),
            "invariant broken: the core asked for IO outside the trail directory: {op:?}"
        );
        if let IoOp::PutFiles { .. } = op {
            // As the steps it stands for: each can fault, and a crash keeps a prefix of them.
            return op.perform_put_files(|step| self.perform(step));
        }
        self.stats.ops += 1;
        self.last_faulted = false;
        if let Some(fault) = self.scripted(op) {
            return self.perform_scripted(op, fault);
        }
        let f = self.faults;
        match op {
            // The trail directory's own files: a tile path (`tile/...`) lies in a directory
            // below it, as on a real file system.
            IoOp::List => Ok(IoDone::Listed(
                self.dir
                    .iter()
                    .filter(|(name, _)| !name.contains('/'))
                    .map(|(name, &i)| DirEntry {
                        name: name.clone(),
                        len: self.inodes[i].cache.len() as u64,
                    })
                    .collect(),
            )),
            IoOp::ListNames => Ok(IoDone::Names(
                self.dir
                    .keys()
                    .filter(|name| !name.contains('/'))
                    .cloned()
                    .collect(),
            )),
            IoOp::Length { file } => {
                if self.fault(f.read_fail) {
                    return Err(eio("length"));
                }
                Ok(IoDone::Length(self.inode(file)?.cache.len() as u64))
            }
            IoOp::Read { file, offset, len } => {
                if self.fault(f.read_fail) {
                    return Err(eio("read"));
                }
                let inode = self.inode(file)?;
                let start = (*offset as usize).min(inode.cache.len());
                let end = (start + *len as usize).min(inode.cache.len());
                Ok(IoDone::Read(inode.cache[start..end].to_vec()))
            }
            IoOp::Write { file, offset, data } => {
                self.inode(file)?;
                if self.fault(f.write_nospace) {
                    return Err(IoError::new(IoErrorKind::NoSpace, "injected ENOSPC"));
                }
                if self.fault(f.write_eio) {
                    let n = self.rng.below(data.len() as u64 + 1) as usize;
                    self.change(
                        file,
                        Change::Write {
                            offset: *offset,
                            data: data[..n].to_vec(),
                        },
                    )?;
                    return Err(eio("write"));
                }
                if !data.is_empty() && self.fault(f.short_write) {
                    let n = self.rng.below(data.len() as u64) as usize;
                    self.change(
                        file,
                        Change::Write {
                            offset: *offset,
                            data: data[..n].to_vec(),
                        },
                    )?;
                    return Ok(IoDone::Written(n as u64));
                }
                self.change(
                    file,
                    Change::Write {
                        offset: *offset,
                        data: data.clone(),
                    },
                )?;
                Ok(IoDone::Written(data.len() as u64))
            }
            IoOp::WriteZeros { file, offset, len } => {
                self.inode(file)?;
                if self.fault(f.write_nospace) {
                    return Err(IoError::new(IoErrorKind::NoSpace, "injected ENOSPC"));
                }
                // A failed zero write may have written a prefix of its zeros.
                let n = if self.fault(f.write_eio) {
                    self.rng.below(*len + 1)
                } else {
                    *len
                };
                self.change(
                    file,
                    Change::Write {
                        offset: *offset,
                        data: vec![0; n as usize],
                    },
                )?;
                if n < *len {
                    return Err(eio("write zeros"));
                }
                Ok(IoDone::Written(*len))
            }
            IoOp::Sync { file, .. } => {
                let fail = self.fault(f.sync_fail);
                let inode = self.inode(file)?;
                if fail {
                    // The kernel forgets the dirty pages' error and their data will never be
                    // written, yet reads still return them.
                    inode.pending.clear();
                    return Err(eio("fsync"));
                }
                // Only what was written since the last sync reaches the disk: pages an earlier
                // failed sync dropped stay clean in the cache and are never written, however
                // many later syncs succeed, unless something writes them again ("fsyncgate").
                for c in std::mem::take(&mut inode.pending) {
                    apply(&mut inode.durable, &c);
                }
                self.stats.syncs += 1;
                Ok(IoDone::Ok)
            }
            IoOp::Create { file } => {
                if self.fault(f.other_fail) {
                    return Err(eio("create"));
                }
                if self.dir.contains_key(file) {
                    self.change(file, Change::SetLen(0))?;
                } else {
                    self.inodes.push(Inode::default());
                    let i = self.inodes.len() - 1;
                    self.dir.insert(file.clone(), i);
                    self.dir_pending.push(DirChange::Link(file.clone(), i));
                }
                Ok(IoDone::Ok)
            }
            IoOp::Truncate { file, len } => {
                if self.fault(f.other_fail) {
                    return Err(eio("truncate"));
                }
                self.change(file, Change::SetLen(*len))?;
                Ok(IoDone::Ok)
            }
            IoOp::Preallocate { file, len } => {
                if self.fault(f.write_nospace) {
                    return Err(IoError::new(IoErrorKind::NoSpace, "injected ENOSPC"));
                }
                let cur = self.inode(file)?.cache.len() as u64;
                if *len > cur {
                    self.change(file, Change::SetLen(*len))?;
                }
                Ok(IoDone::Ok)
            }
            IoOp::Close { .. } => Ok(IoDone::Ok),
            IoOp::Remove { file } => {
                if self.fault(f.other_fail) {
                    return Err(eio("remove"));
                }
                if self.dir.remove(file).is_some() {
                    self.dir_pending.push(DirChange::Unlink(file.clone()));
                }
                Ok(IoDone::Ok)
            }
            IoOp::Rename { from, to } => {
                if self.fault(f.other_fail) {
                    return Err(eio("rename"));
                }
                let i = *self
                    .dir
                    .get(from)
                    .ok_or_else(|| IoError::new(IoErrorKind::NotFound, from.clone()))?;
                self.dir.remove(from);
                self.dir.insert(to.clone(), i);
                self.dir_pending
                    .push(DirChange::Rename(from.clone(), to.clone()));
                Ok(IoDone::Ok)
            }
            IoOp::Copy { from, to } => {
                if self.fault(f.other_fail) {
                    return Err(eio("copy"));
                }
                let content = self.inode(from)?.cache.clone();
                self.inodes.push(Inode {
                    cache: content.clone(),
                    durable: content,
                    pending: Vec::new(),
                });
                let i = self.inodes.len() - 1;
                self.dir.insert(to.clone(), i);
                self.dir_pending.push(DirChange::Link(to.clone(), i));
                Ok(IoDone::Ok)
            }
            IoOp::SyncDir => {
                if self.fault(f.sync_fail) {
                    return Err(eio("directory fsync"));
                }
                self.durable_dir = self.dir.clone();
                self.dir_pending.clear();
                Ok(IoDone::Ok)
            }
            // Expanded into its steps at the top of `perform`.
            IoOp::PutFiles { .. } => Err(IoError::new(
                IoErrorKind::Other,
                "put files: performed step by step",
            )),
        }
    }

    fn perform_scripted(&mut self, op: &IoOp, fault: Scripted) -> IoResult {
        match (op, fault) {
            (IoOp::Write { file, offset, data }, Scripted::Short(n)) => {
                let n = (n as usize).min(data.len());
                self.change(
                    file,
                    Change::Write {
                        offset: *offset,
                        data: data[..n].to_vec(),
                    },
                )?;
                Ok(IoDone::Written(n as u64))
            }
            (IoOp::Sync { file, .. }, Scripted::Eio) => {
                self.inode(file)?.pending.clear();
                Err(eio("fsync"))
            }
            (_, Scripted::NoSpace) => Err(IoError::new(IoErrorKind::NoSpace, "scripted ENOSPC")),
            _ => Err(eio("scripted")),
        }
    }

    /// A process crash: the page cache survives, so everything written stays (and is flushed
    /// eventually). Pending changes become durable; what a failed sync dropped stays readable
    /// in the cache but never reaches the disk (a power loss later loses it).
    pub fn process_crash(&mut self) {
        self.stats.crashes += 1;
        for inode in &mut self.inodes {
            for c in std::mem::take(&mut inode.pending) {
                apply(&mut inode.durable, &c);
            }
        }
        self.durable_dir = self.dir.clone();
        self.dir_pending.clear();
    }

    /// A power loss: each file keeps its durable content plus a random prefix of its pending
    /// changes, the next one possibly torn; the directory keeps a random prefix of its pending
    /// changes.
    pub fn power_loss(&mut self) {
        self.stats.crashes += 1;
        for i in 0..self.inodes.len() {
            let pending = std::mem::take(&mut self.inodes[i].pending);
            let keep = self.rng.below(pending.len() as u64 + 1) as usize;
            let mut content = self.inodes[i].durable.clone();
            for c in &pending[..keep] {
                apply(&mut content, c);
            }
            if let Some(Change::Write { offset, data }) = pending.get(keep) {
                if !data.is_empty() && self.rng.chance(0.5) {
                    let mut n = self.rng.below(data.len() as u64) as usize;
                    if self.rng.chance(0.5) {
                        n -= n % 512; // sector-granular tear
                    }
                    apply(
                        &mut content,
                        &Change::Write {
                            offset: *offset,
                            data: data[..n].to_vec(),
                        },
                    );
                }
            }
            self.inodes[i].durable = content.clone();
            self.inodes[i].cache = content;
        }
        let pending = std::mem::take(&mut self.dir_pending);
        let keep = self.rng.below(pending.len() as u64 + 1) as usize;
        let mut dir = self.durable_dir.clone();
        for c in &pending[..keep] {
            match c {
                DirChange::Link(name, i) => {
                    dir.insert(name.clone(), *i);
                }
                DirChange::Unlink(name) => {
                    dir.remove(name);
                }
                DirChange::Rename(from, to) => {
                    if let Some(i) = dir.remove(from) {
                        dir.insert(to.clone(), i);
                    }
                }
            }
        }
        self.durable_dir = dir.clone();
        self.dir = dir;
    }

    /// Flips one bit of a file's content (cached and durable alike: the medium changed).
    pub fn flip_bit(&mut self, file: &str, bit: u64) {
        if let Ok(inode) = self.inode(file) {
            let byte = (bit / 8) as usize;
            if byte < inode.cache.len() {
                inode.cache[byte] ^= 1 << (bit % 8);
            }
            if byte < inode.durable.len() {
                inode.durable[byte] ^= 1 << (bit % 8);
            }
        }
    }

    /// Current content of a file.
    pub fn read_file(&self, file: &str) -> Option<&[u8]> {
        self.dir.get(file).map(|&i| &self.inodes[i].cache[..])
    }

    /// Replaces a file's content (cached and durable), creating it durably if needed.
    pub fn write_file(&mut self, file: &str, content: Vec<u8>) {
        match self.dir.get(file) {
            Some(&i) => {
                self.inodes[i] = Inode {
                    cache: content.clone(),
                    durable: content,
                    pending: Vec::new(),
                };
            }
            None => {
                self.inodes.push(Inode {
                    cache: content.clone(),
                    durable: content,
                    pending: Vec::new(),
                });
                let i = self.inodes.len() - 1;
                self.dir.insert(file.to_string(), i);
                self.durable_dir.insert(file.to_string(), i);
            }
        }
    }

    /// Removes a file at once and durably.
    pub fn delete_file(&mut self, file: &str) {
        self.dir.remove(file);
        self.durable_dir.remove(file);
    }

    /// Names of the files, sorted.
    pub fn file_names(&self) -> Vec<String> {
        self.dir.keys().cloned().collect()
    }
}
