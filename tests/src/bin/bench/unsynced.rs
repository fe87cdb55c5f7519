//! Section 3: unsynced append throughput (framing + CRC32C + BLAKE3 chain, written to the OS
//! but not fsynced) against the bare cost of the hashing the format requires per record.

use crate::format_work::FormatWork;
use crate::peers;
use crate::probe::State;
use crate::report::{Compare, Measure};
use crate::{remove, Ctx};
use evident_core::frame::{encode_entry, entry_frame_len, KIND_ENTRY};
use evident_core::hash::{chain, leaf, leaf_v2, payload_hash, Hash};
use evident_core::tree::CompactRange;
use evident_core::{Durability, IoDone, IoOp, LogId, Options};
use evident_native::{Trail, TrailOptions};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const NAMES: [&str; 10] = [
    "bare: the format's hashing (payload hash, leaf, chain step, tree nodes, CRC32C)",
    "bare: BLAKE3 only (payload hash, leaf, chain step)",
    "bare: CRC32C only (frame)",
    "bare: the format's hashing + pwrite of the frames (page cache, 1024 per write)",
    "core: leaf + chain + tree node + encode_entry",
    "core: Trail state machine, IO discarded (batches of 1024)",
    "native: append_batch(1024), Durability::Os",
    "native: append, 1 task, Durability::Os",
    "native: append, 64 tasks, Durability::Os",
    "native: append_batch(1024) from 2 tasks (one builds while the driver writes), Durability::Os",
];
const BASE: usize = 0;
const CORE_SM: usize = 5;
const NATIVE_BATCH: usize = 6;
const NATIVE_BATCH_2: usize = 9;

/// Runs `step(i)` for i = 0, 1, ... in blocks of 1024 until `dur` has passed.
fn for_time(dur: Duration, mut step: impl FnMut(u64)) -> Measure {
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < dur {
        for _ in 0..1024 {
            step(i);
            i += 1;
        }
    }
    Measure::timed(i, 0, start)
}

/// The bare cost of the format's hashing for one record, with no framing or bookkeeping:
/// everything [`FormatWork`] does (`b3` and `crc` both), or only its BLAKE3 part (payload hash,
/// leaf, chain step), or only CRC32C of a frame-sized buffer holding the same bytes.
fn bare(events: &[Vec<u8>], frames: &[Vec<u8>], dur: Duration, b3: bool, crc: bool) -> Measure {
    let mut work = FormatWork::new();
    let mut head = Hash::default();
    let ts = evident_native::now_ns();
    let m = for_time(dur, |i| {
        let k = i as usize % events.len();
        match (b3, crc) {
            (true, true) => {
                black_box(work.record(ts, &events[k]));
            }
            (true, false) => {
                let l = leaf_v2(KIND_ENTRY, i + 1, ts, &payload_hash(&events[k]));
                head = chain(&head, &l);
            }
            _ => {
                black_box(crc32c::crc32c(&frames[k]));
            }
        }
    });
    black_box((head, work.head()));
    m
}

/// The bare hashing plus the write the format needs: the frames copied into one buffer per
/// 1024 records and written with one `pwrite` at the end of a preallocated file, unsynced (what
/// an unsynced append costs physically, without framing logic or a state machine).
fn bare_write(ctx: &mut Ctx, events: &[Vec<u8>], frames: &[Vec<u8>], dur: Duration) -> Measure {
    use std::os::unix::fs::FileExt;
    let dir = ctx.scratch("bare-write");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("bare.log"))
        .expect("creating the file");
    let _ = rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, 1 << 30);
    let mut work = FormatWork::new();
    let ts = evident_native::now_ns();
    let mut buf = Vec::with_capacity(1 << 20);
    let mut offset = 0u64;
    let start = Instant::now();
    let mut i = 0usize;
    while start.elapsed() < dur {
        buf.clear();
        for _ in 0..1024 {
            let k = i % events.len();
            black_box(work.record(ts, &events[k]));
            buf.extend_from_slice(&frames[k]);
            i += 1;
        }
        file.write_all_at(&buf, offset).expect("write");
        offset += buf.len() as u64;
    }
    let m = Measure::timed(i as u64, 0, start);
    drop(file);
    remove(&dir);
    m
}

fn core_encode(events: &[Vec<u8>], dur: Duration) -> Measure {
    let mut head = Hash::default();
    let mut tree = CompactRange::new();
    let mut buf = Vec::with_capacity(2 << 20);
    let ts = evident_native::now_ns();
    let m = for_time(dur, |i| {
        let p = &events[i as usize % events.len()];
        let seq = i + 1;
        let l = leaf(KIND_ENTRY, seq, ts, p);
        head = chain(&head, &l);
        tree.push_leaf(&l);
        encode_entry(&mut buf, seq, ts, &head, p);
        if buf.len() > 1 << 20 {
            black_box(&buf);
            buf.clear();
        }
    });
    black_box((head, tree.root()));
    m
}

/// Small files (LOCK, head.checkpoint, origin, ...) the null driver keeps so that the core can
/// read back what it wrote (the writer lease is checked against LOCK before every write);
/// segments grow past this and are discarded.
const NULL_KEEP: usize = 1 << 20;

/// Answers the core's IO requests without doing the segment IO: the cost of the state machine
/// itself. Files that stay small are kept in `small` (names to bytes) and read back from it.
fn drive_null(core: &mut evident_core::Trail, small: &mut HashMap<String, Vec<u8>>) -> u64 {
    let mut appended = 0;
    loop {
        let mut progressed = false;
        while let Some(req) = core.poll_io() {
            let r = null_io(req.op, small);
            core.handle_io(req.id, r);
            progressed = true;
        }
        while let Some(e) = core.poll_event() {
            match e {
                evident_core::Event::Appended { .. } => appended += 1,
                evident_core::Event::OpenFailed(e) => panic!("the core's open failed: {e}"),
                _ => {}
            }
            progressed = true;
        }
        if !progressed {
            return appended;
        }
    }
}

fn null_io(op: IoOp, small: &mut HashMap<String, Vec<u8>>) -> evident_core::IoResult {
    let not_found = || {
        Err(evident_core::IoError {
            kind: evident_core::IoErrorKind::NotFound,
            message: "no such file".into(),
        })
    };
    Ok(match op {
        IoOp::List => IoDone::Listed(Vec::new()),
        IoOp::ListNames => IoDone::Names(small.keys().cloned().collect()),
        IoOp::Length { file } => match small.get(&file) {
            Some(d) => IoDone::Length(d.len() as u64),
            None => IoDone::Length(0),
        },
        IoOp::Read { file, offset, len } => match small.get(&file) {
            Some(d) => {
                let from = (offset as usize).min(d.len());
                let to = (from + len as usize).min(d.len());
                IoDone::Read(d[from..to].to_vec())
            }
            None => return not_found(),
        },
        IoOp::Write { file, offset, data } => {
            let n = data.len() as u64;
            let end = offset as usize + data.len();
            if end <= NULL_KEEP {
                let d = small.entry(file).or_default();
                if d.len() < end {
                    d.resize(end, 0);
                }
                d[offset as usize..end].copy_from_slice(&data);
            } else {
                small.remove(&file);
            }
            IoDone::Written(n)
        }
        IoOp::Create { file } => {
            small.insert(file, Vec::new());
            IoDone::Ok
        }
        IoOp::Remove { file } => {
            small.remove(&file);
            IoDone::Ok
        }
        IoOp::Rename { from, to } => {
            if let Some(d) = small.remove(&from) {
                small.insert(to, d);
            }
            IoDone::Ok
        }
        IoOp::Truncate { file, len } => {
            if let Some(d) = small.get_mut(&file) {
                d.resize(len as usize, 0);
            }
            IoDone::Ok
        }
        _ => IoDone::Ok,
    })
}

fn core_state_machine(events: &[Vec<u8>], dur: Duration) -> Measure {
    let opts = Options {
        durability: Durability::Os,
        preallocate: false,
        segment_bytes: 1 << 40, // the largest allowed: no rotation (the IO is discarded)
        ..Options::default()
    };
    let mut core = evident_core::Trail::open(opts, LogId([7; 16]), evident_native::now_ns());
    let mut small = HashMap::new();
    drive_null(&mut core, &mut small);
    assert!(core.is_open(), "the core opens on an empty directory");
    let start = Instant::now();
    let mut n = 0u64;
    let mut token = 0u64;
    while start.elapsed() < dur {
        let ts = evident_native::now_ns();
        for _ in 0..1024 {
            token += 1;
            let p = events[token as usize % events.len()].clone();
            core.handle_append(token, p, ts).expect("append");
        }
        n += drive_null(&mut core, &mut small);
    }
    Measure::timed(n, 0, start)
}

/// Default options but `Durability::Os`.
pub fn os_options() -> TrailOptions {
    TrailOptions {
        core: Options {
            durability: Durability::Os,
            ..Options::default()
        },
        ..TrailOptions::default()
    }
}

/// The 1024 payloads of a batch: the events from the `k`-th on, round the list.
fn batch_from(events: &[Vec<u8>], k: usize) -> Vec<Vec<u8>> {
    (0..1024)
        .map(|j| events[(k + j) % events.len()].clone())
        .collect()
}

/// `append_batch(1024)` from one task to a fresh trail opened with `opts` (section 3's native
/// figure with [`os_options`]; section 9 compares it with and without the tree).
pub fn native_batch(ctx: &mut Ctx, opts: TrailOptions, dur: Duration) -> Measure {
    let dir = ctx.scratch("unsynced-batch");
    let events = ctx.events.clone();
    let m = ctx.rt.block_on(async {
        let trail = Trail::open(&dir, opts).await.expect("open");
        let start = Instant::now();
        let mut n = 0u64;
        let mut k = 0usize;
        while start.elapsed() < dur {
            let batch = batch_from(&events, k);
            k += 1024;
            n += trail.append_batch(batch).await.expect("append_batch").len() as u64;
        }
        let m = Measure::timed(n, 0, start);
        if std::env::var_os("EVIDENT_BENCH_TILES").is_some() {
            eprintln!("tiles at the end: {:?}", trail.tile_status());
        }
        trail.close().await.expect("close");
        m
    });
    remove(&dir);
    m
}

/// Like [`native_batch`] with `tasks` tasks appending batches concurrently, so that building
/// a batch (the caller's work) overlaps with the driver hashing and writing the previous one.
fn native_batch_tasks(ctx: &mut Ctx, tasks: usize, dur: Duration) -> Measure {
    let dir = ctx.scratch("unsynced-batch-tasks");
    let events = ctx.events.clone();
    let m = ctx.rt.block_on(async {
        let trail = Trail::open(&dir, os_options()).await.expect("open");
        let start = Instant::now();
        let mut handles = Vec::new();
        for t in 0..tasks {
            let (trail, events) = (trail.clone(), events.clone());
            handles.push(tokio::spawn(async move {
                let mut n = 0u64;
                let mut k = t * 1024;
                while start.elapsed() < dur {
                    let batch = batch_from(&events, k);
                    k += 1024 * tasks;
                    n += trail.append_batch(batch).await.expect("append_batch").len() as u64;
                }
                n
            }));
        }
        let mut n = 0;
        for h in handles {
            n += h.await.expect("task");
        }
        let m = Measure::timed(n, 0, start);
        trail.close().await.expect("close");
        m
    });
    remove(&dir);
    m
}

fn native_single(ctx: &mut Ctx, producers: usize, dur: Duration) -> Measure {
    let dir = ctx.scratch("unsynced-single");
    let events = ctx.events.clone();
    let m = ctx.rt.block_on(async {
        let trail = Trail::open(&dir, os_options()).await.expect("open");
        let m = peers::append_tasks(&trail, &events, producers, dur).await;
        trail.close().await.expect("close");
        m
    });
    remove(&dir);
    m
}

/// Section 3.
pub fn section3(ctx: &mut Ctx) {
    eprintln!("section 3: unsynced appends vs bare hashing");
    ctx.report.line(
        "\n## 3. Unsynced appends vs the bare cost of the format's hashing\n\n\
         The same records (the benchmark's audit events) through: the bare hashing the format \
         requires per record (the payload hash, the leaf and one chain step in keyed BLAKE3, the \
         tree's level-0 node and the interior nodes its edge merges in SHA-256, CRC32C of the \
         frame's head and payload); the core's framing; the core's state machine with its IO answered \
         but not performed; and the native adapter with `Durability::Os` (written to the page \
         cache, acknowledged without fsync; a rotation every 64 MiB still syncs). One thread \
         unless stated; the machine has 2 cores.",
    );
    let events = ctx.events.clone();
    let frames: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let mut f = Vec::with_capacity(entry_frame_len(e.len()));
            encode_entry(&mut f, 1, 1, &Hash::default(), e);
            f
        })
        .collect();
    let rounds = ctx.rounds(5);
    let short = ctx.run_time(1000);
    let long = ctx.run_time(1500);
    let s = ctx.interleave(
        &format!("Unsynced appends ({rounds} rounds)"),
        &NAMES,
        rounds,
        Compare::VsBase(BASE),
        |ctx, c| match c {
            0 => bare(&events, &frames, short, true, true),
            1 => bare(&events, &frames, short, true, false),
            2 => bare(&events, &frames, short, false, true),
            3 => bare_write(ctx, &events, &frames, short),
            4 => core_encode(&events, short),
            5 => core_state_machine(&events, short),
            6 => native_batch(ctx, os_options(), long),
            7 => native_single(ctx, 1, long),
            8 => native_single(ctx, 64, long),
            _ => native_batch_tasks(ctx, 2, long),
        },
    );
    ctx.report.series(&s);
    for st in [State::Fast, State::Slow, State::Mixed] {
        if s.median_rate(NATIVE_BATCH, st).is_none() || st == State::Mixed {
            continue;
        }
        ctx.report.target(
            "unsynced append_batch(1024), Os ≥ 0.6× the bare format hashing per record",
            st,
            s.rate_ratio(NATIVE_BATCH, BASE, st),
            0.6,
            true,
            "",
        );
        ctx.report.target(
            "… the same with 2 tasks calling append_batch(1024)",
            st,
            s.rate_ratio(NATIVE_BATCH_2, BASE, st),
            0.6,
            true,
            "",
        );
        ctx.report.target(
            "… the same for the core state machine alone (IO discarded)",
            st,
            s.rate_ratio(CORE_SM, BASE, st),
            0.6,
            true,
            "",
        );
    }
}
