//! The end-to-end benchmark of evident against the peers a user would pick instead, run in one
//! process on one disk, contenders interleaved (A B A B ...), each run labelled by an fdatasync
//! probe taken before and after it (this kind of machine flips between a fast and a slow fsync
//! state every few minutes), ratios reported only between runs of the same state.
//!
//! ```text
//! cargo run --release -p evident-tests --bin bench -- [--quick] [--sections 1,2,...] [--out FILE]
//!                                                     [--dir DIR] [--keep] [--records N]
//!                                                     [--s3-dir DIR] [--s3-nice N]
//! ```
//!
//! Sections:
//! 1. durable appends, 1 producer: evident vs SQLite vs JSON lines + fsync vs a bare thread;
//! 2. durable appends under 8, 64 and 512 producers (group commit), same contenders;
//! 3. unsynced append throughput vs the bare cost of BLAKE3 and CRC32C over the same records;
//! 4. verify throughput vs single-core BLAKE3; open time vs the number of sealed segments;
//! 5. p50/p99 acknowledgement latency (reported inside sections 1, 2, 3 and 6);
//! 6. the WASI component under wasmtime vs the native adapter, durable and not;
//! 7. a trail of 10 million records: time-range query vs full scans, open time, peak memory,
//!    and the proofs (prove time, tiles read, bundle and consistency sizes, checks per second);
//! 8. agent queries through the agent index (1,000 agents, Zipf-like share; `--records N`
//!    sizes its trail too): agent vs time-range query, a rare agent, `exists`, index size;
//! 9. what the Merkle tree and signing with two witnesses cost durable and unsynced appends
//!    (each against the same build without it), and a witness's `add-checkpoint` handling
//!    (needs the release `evident` binary beside this one);
//! 10. archiving to a real S3 server (SeaweedFS on loopback, from `scripts/seaweedfs`):
//!     durable appends while archiving vs without, an archive round vs plain PUTs.
//!
//! Section 7 runs its phases in child processes (this binary with `__child ...`) so that each
//! phase's peak RSS (VmHWM) is its own.

mod agents;
mod archiving;
mod costs;
mod durable;
mod events;
mod format_work;
mod large;
mod peers;
mod probe;
mod profile;
mod proofs;
mod report;
mod s3;
mod unsynced;
mod verify;
mod wasm;
mod witnesses;

use report::Report;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything a section needs.
pub struct Ctx {
    /// A smoke run: short runs, few rounds, a small large trail.
    pub quick: bool,
    /// Scratch space on the disk under test; every run gets a fresh subdirectory.
    pub dir: PathBuf,
    /// Keep section 7's large trail.
    pub keep: bool,
    /// Records in section 7's large trail.
    pub large_records: u64,
    /// The runtime the native trail's producers run on.
    pub rt: tokio::runtime::Runtime,
    /// Where section 10's S3 server keeps its data (default: the scratch directory, on the
    /// disk under test).
    pub s3_dir: Option<PathBuf>,
    /// The nice value section 10's S3 server runs at (`--s3-nice`; default 0).
    pub s3_nice: i32,
    /// Realistic audit events, about 250 bytes each.
    pub events: Arc<Vec<Vec<u8>>>,
    /// The fdatasync probe.
    pub probe: probe::Probe,
    /// The Markdown being written.
    pub report: Report,
    next_scratch: u64,
}

impl Ctx {
    /// A fresh, empty scratch directory.
    pub fn scratch(&mut self, what: &str) -> PathBuf {
        self.next_scratch += 1;
        let d = self.dir.join(format!("{what}-{}", self.next_scratch));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("creating a scratch directory");
        d
    }

    /// Rounds of interleaved runs: fewer in a quick run.
    pub fn rounds(&self, full: usize) -> usize {
        if self.quick {
            2
        } else {
            full
        }
    }

    /// Length of one timed run.
    pub fn run_time(&self, full_ms: u64) -> Duration {
        if self.quick {
            Duration::from_millis((full_ms / 8).max(100))
        } else {
            Duration::from_millis(full_ms)
        }
    }
}

/// Where [`remove`] moves finished scratch directories (inside the run directory, deleted at
/// the end of the process); unset: `remove` deletes at once.
static TRASH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Retires a scratch directory: deletes its large files (segments, logs, databases: few
/// inodes, most of the bytes) at once and moves the rest into the run's trash, which is deleted
/// when the benchmark ends; a directory elsewhere is deleted at once (errors ignored).
///
/// Why not delete everything at once: on ext4 without a journal (this machine's root
/// filesystem) the inode allocator skips inodes freed in the last minute or so, looking each one
/// up on every file creation. A run that deletes the previous run's thousands of tile files
/// makes every file the next run creates cost hundreds of microseconds instead of ~30
/// (measured: 33 µs per 8 KiB file in a quiet directory, 530-920 µs next to freshly deleted
/// ones), and only the contenders that create many files (the tree's tiles) pay it. Why not
/// keep everything: the preallocated segments of a full run fill the disk.
pub fn remove(dir: &std::path::Path) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if let Some(trash) = TRASH.get() {
        if dir.starts_with(trash.parent().unwrap_or(trash)) {
            remove_large_files(dir);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if std::fs::rename(dir, trash.join(n.to_string())).is_ok() {
                return;
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Deletes the files of 1 MiB or more under `dir` (recursively).
fn remove_large_files(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            remove_large_files(&e.path());
        } else if meta.len() >= 1 << 20 {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

struct Args {
    quick: bool,
    sections: Vec<u32>,
    out: Option<PathBuf>,
    dir: PathBuf,
    keep: bool,
    records: Option<u64>,
    s3_dir: Option<PathBuf>,
    s3_nice: i32,
    profile: Option<String>,
    profile_secs: u64,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench [--quick] [--sections 1,2,3,4,5,6,7,8,9,10] [--out FILE] [--dir DIR] [--keep] \
         [--records N] [--s3-dir DIR] [--s3-nice N] [--profile WHAT [--profile-secs S]]\n\
         \n  --quick      a smoke run (well under a minute)\
         \n  --sections   which sections to run (default: all; 5, the latencies, is part of 1, 2, 3, 6)\
         \n  --out FILE   also write the Markdown report to FILE\
         \n  --dir DIR    scratch directory on the disk under test (default: .bench in the workspace)\
         \n  --keep       keep section 7's large trail\
         \n  --records N  records in section 7's large trail (default 10,000,000; quick 200,000)\
         \n  --s3-dir DIR where section 10's S3 server keeps its data (default: under --dir)\
         \n  --s3-nice N  run section 10's S3 server at nice N (default 0)\
         \n  --profile W  run one contender alone for --profile-secs (default 10), for perf record:\
         \n               durable:N, durable-no-tree:N, bare:N, bare-hashing:N, batch, batch-no-tree"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        quick: false,
        sections: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        out: None,
        // Not under target/: cargo deletes thousands of files there on each build, and on ext4
        // without a journal new files next to freshly freed inodes are slow to create (see
        // `remove`), which only the contenders that create many files (tiles) would pay.
        dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.bench")),
        keep: false,
        records: None,
        s3_dir: None,
        s3_nice: 0,
        profile: None,
        profile_secs: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--keep" => a.keep = true,
            "--sections" => {
                let v = it.next().unwrap_or_else(|| usage());
                a.sections = v
                    .split(',')
                    .map(|s| s.trim().parse().unwrap_or_else(|_| usage()))
                    .collect();
            }
            "--out" => a.out = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--dir" => a.dir = it.next().unwrap_or_else(|| usage()).into(),
            "--s3-dir" => a.s3_dir = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--s3-nice" => {
                a.s3_nice = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--records" => {
                a.records = Some(
                    it.next()
                        .and_then(|v| v.replace('_', "").parse().ok())
                        .unwrap_or_else(|| usage()),
                )
            }
            "--profile" => a.profile = Some(it.next().unwrap_or_else(|| usage())),
            "--profile-secs" => {
                a.profile_secs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    a
}

fn main() {
    let raw: Vec<String> = std::env::args().collect();
    if raw.get(1).map(String::as_str) == Some("__child") {
        large::child(&raw[2..]);
        return;
    }
    let args = parse_args();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful numbers");
    }
    std::fs::create_dir_all(&args.dir).expect("creating the scratch directory");
    let dir = args
        .dir
        .canonicalize()
        .expect("the scratch directory exists")
        .join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the run directory");
    let trash = dir.join("trash");
    std::fs::create_dir_all(&trash).expect("creating the run's trash directory");
    let _ = TRASH.set(trash);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let events = Arc::new(events::generate(4096));
    let probe = probe::Probe::new(&dir);
    let mut report = Report::new(args.out.clone());
    let started = std::time::Instant::now();
    report.header(&raw, args.quick, &dir, &events);
    let mut ctx = Ctx {
        quick: args.quick,
        dir: dir.clone(),
        keep: args.keep,
        large_records: args
            .records
            .unwrap_or(if args.quick { 200_000 } else { 10_000_000 }),
        rt,
        s3_dir: args.s3_dir.clone(),
        s3_nice: args.s3_nice,
        events,
        probe,
        report,
        next_scratch: 0,
    };
    if let Some(what) = &args.profile {
        profile::run(&mut ctx, what, args.profile_secs);
        // Left in place: deleting its files would make the next run's file creations slow
        // (see `remove`); delete the scratch directory when done profiling.
        eprintln!("left {} in place (delete it when done)", dir.display());
        return;
    }
    let want = |n: u32| args.sections.contains(&n);
    if want(1) || (want(5) && !want(2)) {
        durable::section1(&mut ctx);
    }
    if want(2) {
        durable::section2(&mut ctx);
    }
    if want(3) {
        unsynced::section3(&mut ctx);
    }
    if want(4) {
        verify::section4(&mut ctx);
    }
    if want(6) {
        wasm::section6(&mut ctx);
    }
    if want(8) {
        agents::section8(&mut ctx);
    }
    if want(9) {
        costs::section9(&mut ctx);
    }
    if want(10) {
        archiving::section10(&mut ctx);
    }
    if want(7) {
        large::section7(&mut ctx);
    }
    ctx.report.targets();
    ctx.report.line(&format!(
        "\nTotal wall time: {:.0} s.\n",
        started.elapsed().as_secs_f64()
    ));
    ctx.report.finish();
    let _ = std::fs::remove_dir_all(&dir);
}
