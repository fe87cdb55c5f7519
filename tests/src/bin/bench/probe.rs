//! The fdatasync probe: what one bare durable write costs on this disk right now.
//!
//! A probe writes 256 bytes with `pwrite` into a file whose blocks are already written and
//! synced (so no metadata has to reach the journal) and calls `fdatasync`, a number of times,
//! and reports the median. This machine's fdatasync flips between a fast state (~0.2 ms) and a
//! slow one (~4 ms) every few minutes; a run is labelled by the probes before and after it.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Probes at or above this median are the slow state.
pub const SLOW_THRESHOLD: Duration = Duration::from_millis(1);
const FILE_LEN: u64 = 4 << 20;
const SAMPLES: usize = 15;

/// The fsync state a run saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Both probes fast.
    Fast,
    /// Both probes slow.
    Slow,
    /// The state flipped during the run: its ratios are not reported.
    Mixed,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Fast => "fast",
            State::Slow => "slow",
            State::Mixed => "mixed",
        }
    }

    fn of(d: Duration) -> State {
        if d >= SLOW_THRESHOLD {
            State::Slow
        } else {
            State::Fast
        }
    }

    /// The label of a run from its probes before and after.
    pub fn between(before: Duration, after: Duration) -> State {
        let (a, b) = (State::of(before), State::of(after));
        if a == b {
            a
        } else {
            State::Mixed
        }
    }
}

/// The probe's file, kept open for the whole benchmark.
pub struct Probe {
    file: File,
    offset: u64,
}

impl Probe {
    /// Creates `dir/fsync-probe`, written with zeros and synced.
    pub fn new(dir: &Path) -> Probe {
        let path = dir.join("fsync-probe");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("creating the probe file");
        file.write_all_at(&vec![0u8; FILE_LEN as usize], 0)
            .expect("filling the probe file");
        file.sync_all().expect("syncing the probe file");
        File::open(dir)
            .and_then(|d| d.sync_all())
            .expect("syncing the directory");
        Probe { file, offset: 0 }
    }

    /// Median latency of one 256-byte pwrite + fdatasync, now.
    pub fn measure(&mut self) -> Duration {
        let buf = [0x5au8; 256];
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            // A new block each time, like an appending log, but inside written space.
            self.offset = (self.offset + 4096) % FILE_LEN;
            let t = Instant::now();
            self.file
                .write_all_at(&buf, self.offset)
                .expect("probe write");
            self.file.sync_data().expect("probe fdatasync");
            samples.push(t.elapsed());
        }
        samples.sort();
        samples[SAMPLES / 2]
    }
}

/// Median time to create, write (8 KiB, one tile's size) and close a new file in a fresh
/// directory under `dir`: what the tile lane pays per tile. On ext4 without a journal it depends
/// on how many inodes were freed nearby in the last minute (see [`crate::remove`]), so the
/// sections whose contenders create many files report it.
pub fn file_create_cost(dir: &Path) -> Duration {
    use std::io::Write;
    let d = dir.join(format!(
        "create-probe-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.as_nanos())
    ));
    std::fs::create_dir_all(&d).expect("creating the create probe's directory");
    let data = [0x5au8; 8192];
    let mut times: Vec<Duration> = (0..64)
        .map(|i| {
            let start = Instant::now();
            let mut f = std::fs::File::create_new(d.join(i.to_string())).expect("a probe file");
            f.write_all(&data).expect("writing a probe file");
            drop(f);
            start.elapsed()
        })
        .collect();
    crate::remove(&d);
    times.sort();
    times[times.len() / 2]
}
