//! The component's side of the writer lease (see `evident_core::lease` and FORMAT.md, "The
//! writer lease (LOCK)"). WASI has no `flock`: the component creates `LOCK` with an exclusive
//! create, takes over only a lease that was released, is empty (an earlier version's) or has
//! lapsed, renews it on calls (it has no thread of its own), and re-reads the token by path
//! before every write and after every sync.

use evident_core::lease::{
    decide, Decision, Holder, Lease, LockContent, Observed, Timing, LOCK_FILE, MAX_LEASE_BYTES,
};
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

fn now() -> u64 {
    let t = wasip2::clocks::wall_clock::now();
    t.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(t.nanoseconds as u64)
}

fn sleep(ns: u64) {
    wasip2::clocks::monotonic_clock::subscribe_duration(ns).block();
}

/// Why a lease could not be taken.
pub enum AcquireError {
    /// Another writer holds it (the message names it).
    Locked(String),
    /// `LOCK` is not a lease, or IO failed (the message names the file).
    Other(String),
}

/// Reads `LOCK` by path, bounded, without following a symlink (no `symlink-follow` flag); a
/// non-regular entry is an error naming it.
fn observe(base: &Descriptor, path: &str) -> Result<Observed, String> {
    let d = match base.open_at(
        PathFlags::empty(),
        path,
        OpenFlags::empty(),
        DescriptorFlags::READ,
    ) {
        Ok(d) => d,
        Err(ErrorCode::NoEntry) => return Ok(Observed::Missing),
        Err(ErrorCode::Loop) => {
            return Err(format!(
                "{path} is a symbolic link, not a writer lease: refused (remove it)"
            ))
        }
        Err(e) => return Err(format!("open {path}: {e:?}")),
    };
    match d.get_type() {
        Ok(DescriptorType::RegularFile) => {}
        Ok(t) => {
            return Err(format!(
                "{path} is not a regular file ({t:?}), not a writer lease: refused (remove it)"
            ))
        }
        Err(e) => return Err(format!("stat {path}: {e:?}")),
    }
    let mut out = Vec::new();
    while out.len() <= MAX_LEASE_BYTES {
        let (chunk, eof) = d
            .read((MAX_LEASE_BYTES + 1 - out.len()) as u64, out.len() as u64)
            .map_err(|e| format!("read {path}: {e:?}"))?;
        out.extend_from_slice(&chunk);
        if eof || chunk.is_empty() {
            break;
        }
    }
    Ok(Observed::Bytes(out))
}

fn describe(observed: &Observed) -> String {
    match observed {
        Observed::Bytes(b) => match Lease::decode(b) {
            Ok(LockContent::Lease(l)) => l.describe(now()),
            _ => "another writer".into(),
        },
        Observed::Missing => "another writer (LOCK was removed)".into(),
    }
}

/// The lease this instance holds while `lost` is `None`.
pub struct ComponentLease {
    /// `LOCK`'s path relative to the preopen.
    path: String,
    /// Our `LOCK` (the file we created), for renewals.
    file: Descriptor,
    lease: Lease,
    timing: Timing,
    lost: Option<String>,
}

impl ComponentLease {
    /// Takes the trail whose `LOCK` is at `path` under `base`; `segments_exist` says whether the
    /// directory already holds trail files.
    pub fn acquire(
        base: &Descriptor,
        path: String,
        timing: Timing,
        label: Option<String>,
        segments_exist: bool,
    ) -> Result<ComponentLease, AcquireError> {
        let observed = observe(base, &path).map_err(AcquireError::Other)?;
        let wait = match decide(&observed, now(), timing, false, segments_exist) {
            Decision::Create { settle_ns } => settle_ns,
            Decision::TakeOver { .. } => {
                match base.unlink_file_at(&path) {
                    Ok(()) | Err(ErrorCode::NoEntry) => {}
                    Err(e) => return Err(AcquireError::Other(format!("remove {path}: {e:?}"))),
                }
                timing.confirm()
            }
            Decision::Locked(m) => return Err(AcquireError::Locked(m)),
            Decision::Invalid(m) => return Err(AcquireError::Other(m)),
        };
        let t = now();
        let lease = Lease {
            token: token(),
            holder: Holder::Component {
                label: label.as_deref().and_then(evident_core::lease::clean_label),
            },
            acquired: t,
            expires: t + timing.lease_ns,
        };
        let file = match base.open_at(
            PathFlags::empty(),
            &path,
            OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
            DescriptorFlags::READ | DescriptorFlags::WRITE,
        ) {
            Ok(d) => d,
            Err(ErrorCode::Exist) => {
                let now_there = observe(base, &path).map_err(AcquireError::Other)?;
                return Err(AcquireError::Locked(format!(
                    "held by {}",
                    describe(&now_there)
                )));
            }
            Err(e) => return Err(AcquireError::Other(format!("create {path}: {e:?}"))),
        };
        write_all(&file, &lease.encode(), &path).map_err(AcquireError::Other)?;
        let mut held = ComponentLease {
            path,
            file,
            lease,
            timing,
            lost: None,
        };
        if wait > 0 {
            sleep(wait);
        }
        // Confirm: a rival that read the same lapsed lease may have replaced our file.
        if let Err(why) = held.still_ours(base) {
            held.lost = Some(why.clone());
            return Err(AcquireError::Locked(why));
        }
        held.renew();
        Ok(held)
    }

    fn still_ours(&self, base: &Descriptor) -> Result<(), String> {
        let observed = observe(base, &self.path)?;
        match &observed {
            Observed::Bytes(b) => match Lease::decode(b) {
                Ok(LockContent::Lease(l)) if l.token == self.lease.token => Ok(()),
                _ => Err(format!(
                    "another writer took the trail: {} is now {}",
                    self.path,
                    describe(&observed)
                )),
            },
            Observed::Missing => Err(format!(
                "another writer may take the trail: {} was removed",
                self.path
            )),
        }
    }

    fn renew(&mut self) {
        self.lease.expires = now() + self.timing.lease_ns;
        if let Err(e) = write_all(&self.file, &self.lease.encode(), &self.path) {
            self.lost = Some(format!("cannot renew the lease: {e}"));
        }
    }

    /// The check before a write and after a sync: `LOCK` at its path still carries our token;
    /// renewed when due. Once lost, always lost.
    pub fn check(&mut self, base: &Descriptor) -> Result<(), String> {
        if let Some(why) = &self.lost {
            return Err(why.clone());
        }
        if let Err(why) = self.still_ours(base) {
            self.lost = Some(why.clone());
            return Err(why);
        }
        if self.timing.renewal_due(self.lease.expires, now()) {
            self.renew();
        }
        match &self.lost {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// Why the lease was lost (`None` while held).
    pub fn lost(&self) -> Option<&str> {
        self.lost.as_deref()
    }

    /// Writes the released state into `LOCK` if it is still ours (the file stays).
    pub fn release(&mut self, base: &Descriptor) {
        if self.lost.is_none() && self.still_ours(base).is_ok() {
            self.lease.expires = 0;
            let _ = write_all(&self.file, &self.lease.encode(), &self.path);
        }
        self.lost = Some("the lease was released: the trail is closed".into());
    }
}

fn token() -> [u8; 16] {
    let bytes = wasip2::random::random::get_random_bytes(16);
    let mut t = [0u8; 16];
    t.copy_from_slice(&bytes[..16]);
    t
}

fn write_all(d: &Descriptor, mut data: &[u8], path: &str) -> Result<(), String> {
    let mut offset = 0;
    while !data.is_empty() {
        let n = d
            .write(data, offset)
            .map_err(|e| format!("write {path}: {e:?}"))? as usize;
        if n == 0 {
            return Err(format!("write {path}: wrote nothing"));
        }
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

/// `LOCK`'s file name (for the executor's path building).
pub const FILE: &str = LOCK_FILE;
