//! The witness's durable state: one file per log origin in the state directory, named by the
//! hex SHA-256 of the origin, holding the latest checkpoint the witness cosigned (see
//! [`evident_core::witness::state`]).
//!
//! A new state is written to `<name>.tmp`, synced, renamed over `<name>`, and the directory
//! synced, all before the witness answers: after a crash (kill -9 at any point) the file holds
//! either the old state or the new one, never a mix and never an older one. One process owns
//! a state directory at a time (an exclusive `flock` on its `LOCK` file).

use evident_core::note::VerifierKey;
use evident_core::witness::{state_file_name, LogState};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The state directory, locked for this process.
pub struct StateStore {
    dir: PathBuf,
    own: VerifierKey,
    _lock: File,
}

fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl StateStore {
    /// Opens (creating if needed) the state directory and takes its lock. `own` is the
    /// witness's verifier key, which checks every state file read.
    pub fn open(dir: &Path, own: VerifierKey) -> io::Result<StateStore> {
        std::fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| at(&lock_path, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "{}: another witness process holds this state directory",
                        dir.display()
                    ),
                )
            },
        )?;
        Ok(StateStore {
            dir: dir.to_path_buf(),
            own,
            _lock: lock,
        })
    }

    /// The stored state of `origin`; `None` if the witness never cosigned for it. A file that
    /// is damaged (its cosignature fails) is an error, never "never cosigned".
    pub fn load(&self, origin: &str) -> io::Result<Option<LogState>> {
        let path = self.dir.join(state_file_name(origin));
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(at(&path, e)),
        };
        LogState::load(&bytes, origin, &self.own)
            .map(Some)
            .map_err(|r| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("witness state {}: {r}", path.display()),
                )
            })
    }

    /// Stores `state` durably (temp, fsync, rename, directory fsync).
    pub fn store(&self, state: &LogState) -> io::Result<()> {
        let name = state_file_name(&state.origin);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let dst = self.dir.join(&name);
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| at(&tmp, e))?;
        f.write_all(&state.note)
            .and_then(|_| f.sync_all())
            .map_err(|e| at(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &dst).map_err(|e| at(&dst, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| at(&self.dir, e))
    }
}
