//! Whether a writer is live on a trail directory, as readers need to know: beside a live
//! writer, the last segment's incomplete tail is its in-flight write, not damage.
//!
//! Today the writer holds an exclusive `flock` on the `LOCK` file. A reader must not take that
//! lock, even briefly and shared: a writer starting at that moment would find the trail locked.
//! So it looks the lock up in `/proc/locks` (Linux) by the `LOCK` file's device and inode,
//! which changes nothing. Where that is not available, no writer is assumed live (the verdicts
//! are then those of a quiescent trail). This is the one place to change when the writer's
//! lock scheme changes (a lease file, a directory lock).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether a process holds the writer lock of the trail in `dir`.
pub fn writer_is_live(dir: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(dir.join(crate::LOCK_FILE)) else {
        return false; // no lock file: no writer has ever opened it here
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return false;
    };
    let dev = meta.dev();
    // glibc's encoding of dev_t; /proc/locks prints "MAJOR:MINOR:INODE", the first two in hex.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    locks.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (blocked waiters carry "->").
        f.contains(&"FLOCK") && !f.contains(&"->") && f.iter().any(|x| *x == id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_seen_and_a_released_one_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!writer_is_live(tmp.path()), "no LOCK file");
        let lock = crate::lock_dir(tmp.path()).unwrap();
        assert!(writer_is_live(tmp.path()));
        drop(lock);
        assert!(!writer_is_live(tmp.path()));
    }
}
