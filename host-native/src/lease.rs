//! The native side of the writer lease (see `evident_core::lease` and FORMAT.md, "The writer
//! lease (LOCK)"): a `flock` on the trail directory itself, held for the writer's lifetime (so
//! native writers exclude each other whatever happens to `LOCK`), plus the `LOCK` lease that
//! component writers read, renewed on a timer and checked before every write and every
//! acknowledgement.

use crate::error::{Error, Result};
use evident_core::lease::{
    decide, Decision, Holder, Lease, LockContent, Observed, Timing, LOCK_FILE, MAX_LEASE_BYTES,
};
use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn io(path: &Path, error: impl Into<std::io::Error>) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        error: error.into(),
    }
}

fn other(path: &Path, msg: String) -> Error {
    io(path, std::io::Error::other(msg))
}

/// A random lease token from the operating system.
fn random_token() -> [u8; 16] {
    let mut t = [0u8; 16];
    if File::open("/dev/urandom")
        .and_then(|f| f.read_exact_at(&mut t, 0))
        .is_err()
    {
        use std::hash::{BuildHasher, Hasher};
        for chunk in t.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(crate::now_ns());
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    t
}

/// What `LOCK` holds now, read without following a symlink and bounded; a non-regular `LOCK`
/// is an error naming it.
fn observe(dir_fd: &OwnedFd, path: &Path) -> Result<Observed> {
    let fd = match rustix::fs::openat(
        dir_fd,
        LOCK_FILE,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(Observed::Missing),
        Err(rustix::io::Errno::LOOP) => {
            return Err(other(
                path,
                "is a symbolic link, not a writer lease: refused (remove it)".into(),
            ))
        }
        Err(e) => return Err(io(path, e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| io(path, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(other(
            path,
            "is not a regular file, not a writer lease: refused (remove it)".into(),
        ));
    }
    let file = File::from(fd);
    let mut buf = vec![0u8; MAX_LEASE_BYTES + 1];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(path, e)),
        }
    }
    buf.truncate(got);
    Ok(Observed::Bytes(buf))
}

/// Whether the directory holds trail files (segments or checkpoints) besides `LOCK`.
fn has_trail_files(dir: &Path) -> Result<bool> {
    let entries = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".evseg") || name.ends_with(".checkpoint") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `LOCK` holds a released lease.
fn released(observed: &Observed) -> bool {
    matches!(observed, Observed::Bytes(b)
        if matches!(Lease::decode(b), Ok(LockContent::Lease(l)) if l.is_released()))
}

/// Opens the trail directory and takes its `flock` without waiting; `false`: another native
/// writer holds it.
fn lock_directory(dir: &Path) -> Result<(OwnedFd, bool)> {
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(dir, e))?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok((fd, true)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok((fd, false)),
        Err(e) => Err(io(dir, e)),
    }
}

/// What `LOCK` says, for `inspect` and `break-lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    /// The holder, since when, until when; or why the file is not a lease.
    pub text: String,
    /// Whether the lease is unexpired (beyond its grace): a writer may be alive.
    pub live: bool,
    /// Whether it is a component's unexpired lease (only its expiry tells whether it lives).
    pub live_component: bool,
}

/// What `LOCK` in `dir` says (`None`: no `LOCK`). Opens nothing for writing, follows no
/// symlink, reads a bounded prefix.
pub fn lease_state(dir: &Path) -> Result<Option<LeaseState>> {
    let dir_fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(dir, e))?;
    let path = dir.join(LOCK_FILE);
    let bytes = match observe(&dir_fd, &path)? {
        Observed::Missing => return Ok(None),
        Observed::Bytes(b) => b,
    };
    let now = crate::now_ns();
    Ok(Some(match Lease::decode(&bytes) {
        Ok(LockContent::Empty) => LeaseState {
            text: "empty (an earlier version's lock file)".to_string(),
            live: false,
            live_component: false,
        },
        Ok(LockContent::Lease(l)) => {
            let live = !l.is_released() && now <= l.expires;
            LeaseState {
                text: l.describe(now),
                live,
                live_component: live && matches!(l.holder, Holder::Component { .. }),
            }
        }
        Err(e) => LeaseState {
            text: format!("not a writer lease: {e}"),
            live: false,
            live_component: false,
        },
    }))
}

/// `evident break-lock`: removes `LOCK` so the next writer opens at once. Refused while a
/// native writer holds the directory's `flock`; an unexpired component lease only with
/// `force` (the operator knows that writer is gone). Returns what `LOCK` said.
pub fn break_lock(dir: &Path, force: bool) -> Result<String> {
    let path = dir.join(LOCK_FILE);
    let (dir_fd, flocked) = lock_directory(dir)?;
    let state = lease_state(dir)?;
    let text = state
        .as_ref()
        .map_or_else(|| "no LOCK file".to_string(), |s| s.text.clone());
    if !flocked {
        return Err(Error::Locked {
            dir: dir.to_path_buf(),
            holder: format!("a live native writer holds the directory; LOCK: {text}"),
        });
    }
    if let Some(s) = &state {
        if s.live_component && !force {
            return Err(Error::Locked {
                dir: dir.to_path_buf(),
                holder: format!(
                    "{text}; its lease has not lapsed: use --force only if you know that writer is gone"
                ),
            });
        }
        match rustix::fs::unlinkat(&dir_fd, LOCK_FILE, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(io(&path, e)),
        }
    }
    Ok(text)
}

/// Whether a native writer holds the directory's `flock` right now. Read from `/proc/locks`
/// where it exists (no lock taken, so a writer starting at this moment is never refused);
/// elsewhere probed without writing: a shared lock on a read-only directory handle, released
/// at once.
pub fn native_writer_active(dir: &Path) -> Result<bool> {
    if let Some(held) = crate::live::dir_flock_held(dir) {
        return Ok(held);
    }
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(dir, e))?;
    match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared) {
        Ok(()) => Ok(false),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(true),
        Err(e) => Err(io(dir, e)),
    }
}

/// The lease a native writer holds: the directory's `flock` and `LOCK`, ours while `lost` is
/// `None`. Dropping it releases `LOCK` (if still ours) and the `flock`.
#[derive(Debug)]
pub struct NativeLease {
    path: PathBuf,
    /// Holds the directory `flock`.
    _dir_fd: OwnedFd,
    dir_fd_for_stat: OwnedFd,
    file: File,
    dev: u64,
    ino: u64,
    lease: Lease,
    timing: Timing,
    lost: Option<String>,
}

impl NativeLease {
    /// Takes the trail directory `dir` for writing: its `flock`, then `LOCK` (created, or taken
    /// over from a holder that released it, died, or let its lease lapse). [`Error::Locked`]
    /// names the holder otherwise.
    pub fn acquire(dir: &Path, timing: Timing) -> Result<NativeLease> {
        let path = dir.join(LOCK_FILE);
        let (mut dir_fd, mut flocked) = lock_directory(dir)?;
        let mut observed = observe(&dir_fd, &path)?;
        // A writer releases `LOCK` just before it closes the descriptor that holds the
        // `flock`; and a child process that another thread of the writer's process is starting
        // holds a copy of that descriptor until it execs (close-on-exec), so the lock can
        // outlive the writer's close by a moment. A released `LOCK` under a held lock is
        // therefore waited for briefly (up to 500 ms) rather than refused at once.
        for _ in 0..50 {
            if flocked || !released(&observed) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            (dir_fd, flocked) = lock_directory(dir)?;
            observed = observe(&dir_fd, &path)?;
        }
        if !flocked {
            let holder = match &observed {
                Observed::Bytes(b) => match Lease::decode(b) {
                    Ok(LockContent::Lease(l)) if l.is_released() => format!(
                        "LOCK says {}, but a process still holds the directory's flock after \
                         500 ms: a writer that inherited or kept the descriptor",
                        l.describe(crate::now_ns())
                    ),
                    Ok(LockContent::Lease(l)) => l.describe(crate::now_ns()),
                    _ => "a native writer".to_string(),
                },
                Observed::Missing => "a native writer (LOCK was removed)".to_string(),
            };
            return Err(Error::Locked {
                dir: dir.to_path_buf(),
                holder,
            });
        }
        let segments = has_trail_files(dir)?;
        let now = crate::now_ns();
        let settle = match decide(&observed, now, timing, true, segments) {
            Decision::Create { settle_ns } => settle_ns,
            Decision::TakeOver { .. } => {
                match rustix::fs::unlinkat(&dir_fd, LOCK_FILE, AtFlags::empty()) {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => return Err(io(&path, e)),
                }
                timing.confirm()
            }
            Decision::Locked(holder) => {
                return Err(Error::Locked {
                    dir: dir.to_path_buf(),
                    holder,
                })
            }
            Decision::Invalid(msg) => return Err(other(&path, msg)),
        };
        let lease = Lease {
            token: random_token(),
            holder: Holder::Native {
                pid: std::process::id(),
            },
            acquired: now,
            expires: now + timing.lease_ns,
        };
        let fd = match rustix::fs::openat(
            &dir_fd,
            LOCK_FILE,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => {
                // A component writer created it between our read and our create.
                let holder = match observe(&dir_fd, &path)? {
                    Observed::Bytes(b) => match Lease::decode(&b) {
                        Ok(LockContent::Lease(l)) => l.describe(crate::now_ns()),
                        _ => "another writer".into(),
                    },
                    Observed::Missing => "another writer".into(),
                };
                return Err(Error::Locked {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(e) => return Err(io(&path, e)),
        };
        let file = File::from(fd);
        file.write_all_at(&lease.encode(), 0)
            .map_err(|e| io(&path, e))?;
        let st = rustix::fs::fstat(&file).map_err(|e| io(&path, e))?;
        let dir_fd_for_stat = dir_fd.try_clone().map_err(|e| io(dir, e))?;
        let mut held = NativeLease {
            path: path.clone(),
            _dir_fd: dir_fd,
            dir_fd_for_stat,
            file,
            dev: st.st_dev,
            ino: st.st_ino,
            lease,
            timing,
            lost: None,
        };
        if settle > 0 {
            std::thread::sleep(Duration::from_nanos(settle));
        }
        // Confirm: a rival that read the same lapsed lease may have replaced our file.
        if let Err(why) = held.still_ours() {
            held.lost = Some(why.clone());
            return Err(Error::Locked {
                dir: dir.to_path_buf(),
                holder: why,
            });
        }
        let now = crate::now_ns();
        held.renew(now);
        Ok(held)
    }

    /// Whether `LOCK` at its path is still the file we created (cheap: one `fstatat`).
    fn still_ours(&self) -> std::result::Result<(), String> {
        match rustix::fs::statat(&self.dir_fd_for_stat, LOCK_FILE, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_dev == self.dev && st.st_ino == self.ino => Ok(()),
            Ok(_) => Err(format!(
                "another writer took the trail: {} was replaced{}",
                self.path.display(),
                self.foreign_holder()
            )),
            Err(rustix::io::Errno::NOENT) => Err(format!(
                "another writer may take the trail: {} was removed",
                self.path.display()
            )),
            Err(e) => Err(format!("cannot check {}: {e}", self.path.display())),
        }
    }

    /// ", now held by ..." from the current `LOCK`, if it reads as a lease.
    fn foreign_holder(&self) -> String {
        match observe(&self.dir_fd_for_stat, &self.path) {
            Ok(Observed::Bytes(b)) => match Lease::decode(&b) {
                Ok(LockContent::Lease(l)) => {
                    format!(", now held by {}", l.describe(crate::now_ns()))
                }
                _ => String::new(),
            },
            _ => String::new(),
        }
    }

    /// `LOCK` vanished (`rm LOCK`) while we hold the directory `flock`: we are still the only
    /// native writer, so we put our lease back with an exclusive create. If another writer
    /// (a component) created it first, the create fails and the lease is lost.
    fn recreate(&mut self) -> bool {
        let fd = match rustix::fs::openat(
            &self.dir_fd_for_stat,
            LOCK_FILE,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        ) {
            Ok(fd) => fd,
            Err(_) => return false,
        };
        let file = File::from(fd);
        let Ok(st) = rustix::fs::fstat(&file) else {
            return false;
        };
        self.lease.expires = crate::now_ns() + self.timing.lease_ns;
        if file.write_all_at(&self.lease.encode(), 0).is_err() {
            return false;
        }
        self.file = file;
        self.dev = st.st_dev;
        self.ino = st.st_ino;
        true
    }

    fn renew(&mut self, now: u64) {
        self.lease.expires = now + self.timing.lease_ns;
        if let Err(e) = self.file.write_all_at(&self.lease.encode(), 0) {
            self.lost = Some(format!("cannot renew {}: {e}", self.path.display()));
        }
    }

    /// The check before a write or an acknowledgement: `LOCK` is still ours, and the lease has
    /// time left (renewed first when due). Once lost, always lost: nothing more is written or
    /// acknowledged by this writer.
    pub fn check(&mut self) -> std::result::Result<(), String> {
        if let Some(why) = &self.lost {
            return Err(why.clone());
        }
        if let Err(why) = self.still_ours() {
            if !self.recreate() {
                self.lost = Some(why.clone());
                return Err(why);
            }
        }
        let now = crate::now_ns();
        if self.timing.renewal_due(self.lease.expires, now) {
            self.renew(now);
        }
        match &self.lost {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// Why the lease was lost (`None` while it is held).
    pub fn lost(&self) -> Option<String> {
        self.lost.clone()
    }

    /// Renews if due (the driver's timer); a lost lease stays lost.
    pub fn tick(&mut self) {
        let _ = self.check();
    }

    /// Nanoseconds (wall clock) until the next renewal is due.
    pub fn next_renewal_in(&self) -> u64 {
        let due_at = self.lease.expires - (self.timing.lease_ns - self.timing.renew_every());
        due_at.saturating_sub(crate::now_ns())
    }

    /// Writes the released state into `LOCK` if it is still ours (the file stays).
    pub fn release(&mut self) {
        if self.lost.is_none() && self.still_ours().is_ok() {
            self.lease.expires = 0;
            let _ = self.file.write_all_at(&self.lease.encode(), 0);
        }
        self.lost = Some("the lease was released".into());
    }
}

impl Drop for NativeLease {
    fn drop(&mut self) {
        if self.lost.is_none() {
            self.release();
        }
    }
}
