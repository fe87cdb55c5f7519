//! Whether a writer is live on a trail directory, as readers need to know: beside a live
//! writer, the last segment's incomplete tail is its in-flight write, not damage.
//!
//! A native writer holds an exclusive `flock` on the trail directory itself; a component writer
//! holds an unexpired lease in `LOCK` (see [`crate::lease`]). A reader must not take the flock,
//! even briefly and shared: a writer starting at that moment would find the trail locked. So
//! it looks the lock up in `/proc/locks` (Linux) by the directory's device and inode, which
//! changes nothing, and reads `LOCK` without writing. Where `/proc/locks` is not available, only
//! the lease tells.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// How often a reader that found damage beside a live writer reads again before reporting it
/// (verify and query alike): a read racing the writer's `pwrite` can see one page of a batch
/// still zero and a later one written; real damage stays where it is.
pub(crate) const RECHECKS: u32 = 4;
/// The pause before each of those reads: long enough for an in-flight write to land.
pub(crate) const RECHECK_PAUSE: Duration = Duration::from_millis(50);

/// Whether a process holds the writer lock of the trail in `dir`: a native writer's directory
/// `flock`, or an unexpired lease in `LOCK`.
pub fn writer_is_live(dir: &Path) -> bool {
    let lease = crate::lease::lease_state(dir).ok().flatten();
    match dir_flock_held(dir) {
        Some(true) => true,
        // No flock: a native holder's unexpired lease is a dead writer's (its flock died with
        // it), so only a component's unexpired lease still says a writer may be live.
        Some(false) => lease.is_some_and(|s| s.live_component),
        None => lease.is_some_and(|s| s.live),
    }
}

/// Whether some process holds a `flock` on the directory `dir`, read from `/proc/locks`
/// without locking anything; `None` where that file cannot be read.
pub fn dir_flock_held(dir: &Path) -> Option<bool> {
    let meta = std::fs::metadata(dir).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    // glibc's encoding of dev_t; /proc/locks prints "MAJOR:MINOR:INODE", the first two in hex.
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    Some(locks.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (blocked waiters carry "->").
        f.contains(&"FLOCK") && !f.contains(&"->") && f.iter().any(|x| *x == id)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_seen_and_a_released_one_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(!writer_is_live(tmp.path()), "no writer yet");
        let lock = crate::lock_dir(tmp.path()).unwrap();
        assert_eq!(dir_flock_held(tmp.path()), Some(true));
        assert!(writer_is_live(tmp.path()));
        drop(lock);
        assert_eq!(dir_flock_held(tmp.path()), Some(false));
        assert!(!writer_is_live(tmp.path()), "released lease, no flock");
    }
}
