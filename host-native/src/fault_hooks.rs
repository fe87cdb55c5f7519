//! Test-only fault injection in the native executor (cargo feature `fault-hooks`, enabled by
//! this crate's own tests through its dev-dependency on itself; never in a normal build).
//!
//! Why a hook and not a real failing device: an fsync that fails while the process goes on
//! needs a device that fails writeback (dm-flakey, dm-error), and device-mapper is not
//! available in the containers the tests run in (no `/dev/mapper`, no dm modules). The hook
//! fails the real `fdatasync` call site with a real `EIO`, so everything above the syscall —
//! the core's health machine, the re-verification, the driver, the CLI — runs as in
//! production.
//!
//! `EVIDENT_FAULT_FAIL_SYNC=FROM:COUNT`: the FROM-th data sync of a segment (1-based, counted
//! in this process) and the COUNT-1 after it fail with EIO before reaching the disk.

use std::io;

/// The faults configured for one executor.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    data_syncs: u64,
    fail_from: u64,
    fail_count: u64,
}

impl Faults {
    /// Reads `EVIDENT_FAULT_FAIL_SYNC`; no faults when it is absent or malformed.
    pub(crate) fn from_env() -> Faults {
        let mut f = Faults::default();
        if let Ok(v) = std::env::var("EVIDENT_FAULT_FAIL_SYNC") {
            if let Some((from, count)) = v.split_once(':') {
                f.fail_from = from.parse().unwrap_or(0);
                f.fail_count = count.parse().unwrap_or(0);
            }
        }
        f
    }

    /// Called before each sync; an error when this one is to fail.
    pub(crate) fn before_sync(&mut self, metadata: bool) -> io::Result<()> {
        if metadata || self.fail_from == 0 {
            return Ok(());
        }
        self.data_syncs += 1;
        let n = self.data_syncs;
        if n >= self.fail_from && n < self.fail_from + self.fail_count {
            const EIO: i32 = 5;
            return Err(io::Error::from_raw_os_error(EIO));
        }
        Ok(())
    }
}
