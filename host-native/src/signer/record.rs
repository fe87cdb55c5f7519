//! The signing record: what a log key last signed, kept beside the key.
//!
//! The record is the checkpoint body (origin, size, root) of the last checkpoint the key
//! signed, written durably (temp, fsync, rename, directory fsync) *before* the signature is
//! made. It lives with the key (`<KEYFILE>.signed` by default), not in the trail directory:
//! restoring a backup of the trail, or cutting its tail, leaves the record as it was, so the
//! next signature is refused instead of forking the log. Every signer (a live trail, `evident
//! publish`) takes an exclusive `flock` on `<record>.lock` across check, record and sign, so two
//! processes signing with one key never interleave.

use evident_core::witness::CheckpointBody;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The default record of what `key_file`'s key signed: `<key_file>.signed`.
pub fn default_record(key_file: &Path) -> PathBuf {
    with_suffix(key_file, ".signed")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// The record's lock, held while it is checked, rewritten and signed after.
pub struct RecordLock {
    _file: File,
}

/// Takes the exclusive lock of `record` (blocking: other signers hold it for one signature).
pub fn lock(record: &Path) -> io::Result<RecordLock> {
    let path = with_suffix(record, ".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| io::Error::other(format!("{}: cannot lock: {e}", path.display())))?;
    Ok(RecordLock { _file: f })
}

/// The checkpoint the record holds; `None` when the key never signed. A record that cannot be
/// read as a checkpoint is an error: signing without knowing what was signed could fork.
pub fn read(record: &Path) -> io::Result<Option<CheckpointBody>> {
    match std::fs::read(record) {
        Ok(b) => std::str::from_utf8(&b)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(CheckpointBody::parse)
            .map(Some)
            .map_err(|r| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "signing record {}: {r} (refusing to sign without knowing what was signed)",
                        record.display()
                    ),
                )
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("signing record {}: {e}", record.display()),
        )),
    }
}

/// Records `head` durably as signed (call with the lock held, after the fork check).
pub fn write(record: &Path, head: &CheckpointBody) -> io::Result<()> {
    crate::publish::write_atomic(record, head.to_text().as_bytes())
}
