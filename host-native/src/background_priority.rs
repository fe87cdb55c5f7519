//! The priority of the trail's background threads (the tile lane, the archiver): the lowest,
//! so that their CPU work takes only what the driver and the caller's producers leave idle.
//! On a machine with few cores, a tile file's creation (kernel inode work) or an archive
//! round's hashing would otherwise come out of the appenders' time (BENCHMARKS.md, sections 9
//! and 10).

/// The nice value of a background thread.
pub(crate) const BACKGROUND_NICE: i32 = 19;

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`] (Linux: per thread; threads it
/// starts inherit it). A failure only costs the appenders some CPU, so it is ignored.
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), BACKGROUND_NICE);
}
