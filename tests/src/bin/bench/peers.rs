//! The peers evident is compared with, and the producer harnesses that drive every contender.
//!
//! - **SQLite** (rusqlite, bundled): WAL mode, `synchronous=FULL`, one `INSERT` per record in its
//!   own transaction (autocommit). Concurrent producers share one connection behind a mutex —
//!   SQLite's best case in one process: separate connections would add lock retries and
//!   busy-handler sleeps, and SQLite has no group commit either way.
//! - **JSON lines + fsync**: one file opened for append; per record one `write` of the line and
//!   one `fdatasync`. Concurrent producers share the file with no lock (an `O_APPEND` write of a
//!   line is atomic); the kernel may let concurrent fdatasyncs share a journal commit.
//! - **bare group-commit thread**: the physical best case: producers hand their payload to one
//!   thread, which writes whatever is pending with one `pwrite` into a preallocated file (as
//!   evident preallocates its segments) and calls `fdatasync` once per batch, then wakes the
//!   batch. No framing, no checksums, no hashing, no state machine; the same producer tasks and
//!   oneshot acknowledgements as evident's handle.

use crate::format_work::FormatWork;
use crate::report::Measure;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Barrier, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Runs `producers` OS threads, each calling `op(producer, i)` for i = 0, 1, ... until `dur`
/// has passed since they all started; collects every call's latency. The run ends when the
/// last call in flight at the deadline has returned.
pub fn threads(producers: usize, dur: Duration, op: impl Fn(usize, u64) + Sync) -> Measure {
    let barrier = Barrier::new(producers + 1);
    let start: OnceLock<Instant> = OnceLock::new();
    let mut lat = Vec::new();
    let mut ops = 0;
    let secs = std::thread::scope(|s| {
        let handles: Vec<_> = (0..producers)
            .map(|p| {
                let (barrier, start, op) = (&barrier, &start, &op);
                std::thread::Builder::new()
                    .stack_size(512 << 10)
                    .spawn_scoped(s, move || {
                        barrier.wait();
                        let deadline = *start.get().expect("set before the barrier") + dur;
                        let mut lat = Vec::with_capacity(1024);
                        let mut i = 0;
                        loop {
                            let t = Instant::now();
                            if t >= deadline {
                                break;
                            }
                            op(p, i);
                            lat.push(t.elapsed().as_nanos() as u64);
                            i += 1;
                        }
                        lat
                    })
                    .expect("spawning a producer thread")
            })
            .collect();
        let t0 = Instant::now();
        start.set(t0).expect("set once");
        barrier.wait();
        for h in handles {
            let l = h.join().expect("a producer panicked");
            ops += l.len() as u64;
            lat.extend(l);
        }
        t0.elapsed().as_secs_f64()
    });
    Measure {
        ops,
        secs,
        bytes: 0,
        lat_ns: lat,
        syncs: 0,
    }
}

/// Runs `producers` tokio tasks, each awaiting `op(producer, i)` for i = 0, 1, ... until `dur`
/// has passed; collects every call's latency.
pub async fn tasks<F, Fut>(producers: usize, dur: Duration, op: F) -> Measure
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let deadline = start + dur;
    let handles: Vec<_> = (0..producers)
        .map(|p| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(1024);
                let mut i = 0;
                loop {
                    let t = Instant::now();
                    if t >= deadline {
                        break;
                    }
                    op(p, i).await;
                    lat.push(t.elapsed().as_nanos() as u64);
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.expect("a producer task panicked"));
    }
    Measure::of_latencies(lat, start)
}

/// `producers` tasks appending the benchmark's events to `trail`, closed loop (each awaits its
/// receipt before its next append), measured as [`tasks`] measures.
pub async fn append_tasks(
    trail: &evident_native::Trail,
    events: &Arc<Vec<Vec<u8>>>,
    producers: usize,
    dur: Duration,
) -> Measure {
    let (t, events) = (trail.clone(), events.clone());
    tasks(producers, dur, move |p, i| {
        let (t, events) = (t.clone(), events.clone());
        async move {
            t.append(pick(&events, p, i).to_vec())
                .await
                .expect("append");
        }
    })
    .await
}

/// The event a producer appends as its `i`-th record.
pub fn pick(events: &[Vec<u8>], producer: usize, i: u64) -> &[u8] {
    &events[(producer.wrapping_mul(7919) + i as usize) % events.len()]
}

// ---------------------------------------------------------------------------------------------
// SQLite

/// An SQLite database in WAL mode with `synchronous=FULL` and an events table.
pub fn sqlite_open(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("audit.db")).expect("opening SQLite");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode.to_lowercase(), "wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("synchronous=FULL");
    conn.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, payload BLOB NOT NULL)",
    )
    .expect("creating the table");
    conn
}

/// Durable appends into SQLite: one INSERT (one transaction, one WAL fsync) per record.
pub fn sqlite(dir: &Path, producers: usize, dur: Duration, events: &[Vec<u8>]) -> Measure {
    let conn = Mutex::new(sqlite_open(dir));
    threads(producers, dur, |p, i| {
        let payload = pick(events, p, i);
        let ts = evident_native::now_ns() as i64;
        let c = conn.lock().expect("connection lock");
        c.prepare_cached("INSERT INTO events (ts, payload) VALUES (?1, ?2)")
            .expect("prepare")
            .execute(rusqlite::params![ts, payload])
            .expect("insert");
    })
}

// ---------------------------------------------------------------------------------------------
// pwrite + fdatasync in the producer's own thread

/// The floor for one producer: each record written with `pwrite` right after the previous one
/// into a zero-filled file and `fdatasync`ed, in the producer's thread (no hand-off to another
/// thread, no metadata to commit). Only meaningful for one producer.
pub fn inline_sync(dir: &Path, dur: Duration, events: &[Vec<u8>]) -> Measure {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("inline.log"))
        .expect("creating the inline log");
    let zeros = vec![0u8; 1 << 20];
    for i in 0..32u64 {
        file.write_all_at(&zeros, i << 20).expect("zero-filling");
    }
    file.sync_all().expect("syncing the inline log");
    File::open(dir)
        .and_then(|d| d.sync_all())
        .expect("syncing the directory");
    let offset = std::sync::atomic::AtomicU64::new(0);
    threads(1, dur, |p, i| {
        let payload = pick(events, p, i);
        let at = offset.fetch_add(payload.len() as u64, std::sync::atomic::Ordering::Relaxed);
        file.write_all_at(payload, at).expect("write");
        file.sync_data().expect("fdatasync");
    })
}

// ---------------------------------------------------------------------------------------------
// JSON lines + fsync

/// Durable appends to a JSON-lines file: one write and one fdatasync per record.
pub fn jsonl(dir: &Path, producers: usize, dur: Duration, events: &[Vec<u8>]) -> Measure {
    let lines: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let mut l = e.clone();
            l.push(b'\n');
            l
        })
        .collect();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("audit.jsonl"))
        .expect("opening the JSON-lines file");
    File::open(dir)
        .and_then(|d| d.sync_all())
        .expect("syncing the directory");
    threads(producers, dur, |p, i| {
        let line = pick(&lines, p, i);
        (&file).write_all(line).expect("write");
        file.sync_data().expect("fdatasync");
    })
}

// ---------------------------------------------------------------------------------------------
// The bare group-commit thread

struct Pending {
    buf: Vec<u8>,
    /// Each record's length in `buf` (the hashing variant hashes record by record).
    lens: Vec<u32>,
    acks: Vec<oneshot::Sender<()>>,
    stop: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    cv: Condvar,
}

/// A thread that writes whatever is pending and fdatasyncs once per batch.
pub struct BareWriter {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<(u64, u64)>>,
}

/// Bytes reserved up front in the bare writer's file.
const BARE_PREALLOCATE: u64 = 256 << 20;
/// Bytes written with zeros up front in the zero-filled variant, per producer up to a limit:
/// enough for a run's records (512 producers write about 320 MB in 2 s here).
fn bare_zeroed_bytes(producers: usize) -> u64 {
    ((producers as u64) << 25).clamp(32 << 20, 512 << 20)
}

/// What the bare writer does per record besides writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Nothing: the bytes are written as they came.
    None,
    /// The format's hashing ([`FormatWork`]) for every record of a batch, on the writer thread
    /// before the batch's write: the least work a log in evident's format must do.
    Hashing,
}

/// How the bare writer's file is prepared before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// `fallocate`d, as evident prepares its segments: blocks reserved but unwritten, so the
    /// first write into each block makes fdatasync commit an extent change to the journal.
    Fallocated,
    /// Written with zeros and synced (as PostgreSQL prepares WAL segments): fdatasync then
    /// flushes data only.
    Zeroed,
}

impl BareWriter {
    /// Creates `dir/bare.log`, prepared as `space` says and synced, and starts the thread,
    /// which does `work` per record (a zero-filled file is sized for `producers`).
    pub fn start(dir: &Path, space: Space, work: Work, producers: usize) -> BareWriter {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("bare.log"))
            .expect("creating the bare log");
        if space == Space::Zeroed {
            let zeros = vec![0u8; 1 << 20];
            for i in 0..bare_zeroed_bytes(producers) >> 20 {
                file.write_all_at(&zeros, i << 20)
                    .expect("zero-filling the bare log");
            }
        } else if rustix::fs::fallocate(
            &file,
            rustix::fs::FallocateFlags::empty(),
            0,
            BARE_PREALLOCATE,
        )
        .is_err()
        {
            file.set_len(BARE_PREALLOCATE)
                .expect("extending the bare log");
        }
        file.sync_all().expect("syncing the bare log");
        File::open(dir)
            .and_then(|d| d.sync_all())
            .expect("syncing the directory");
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(1 << 20),
                lens: Vec::new(),
                acks: Vec::new(),
                stop: false,
            }),
            cv: Condvar::new(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("bare-writer".into())
            .spawn(move || bare_loop(&s, &file, work))
            .expect("spawning the bare writer");
        BareWriter {
            shared,
            thread: Some(thread),
        }
    }

    /// Hands `payload` to the writer; returns once the fdatasync covering it has returned.
    pub async fn append(&self, payload: &[u8]) {
        let (tx, rx) = oneshot::channel();
        {
            let mut p = self.shared.pending.lock().expect("pending lock");
            p.buf.extend_from_slice(payload);
            p.lens.push(payload.len() as u32);
            p.acks.push(tx);
        }
        self.shared.cv.notify_one();
        rx.await.expect("the bare writer acknowledges");
    }

    /// Stops the thread; returns (batches, fdatasyncs).
    pub fn stop(mut self) -> (u64, u64) {
        self.shared.pending.lock().expect("pending lock").stop = true;
        self.shared.cv.notify_one();
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the bare writer")
    }
}

fn bare_loop(shared: &Shared, file: &File, work: Work) -> (u64, u64) {
    let mut offset = 0u64;
    let mut spare: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut spare_lens: Vec<u32> = Vec::new();
    let mut format = FormatWork::new();
    let mut batches = 0;
    loop {
        let (buf, lens, acks) = {
            let mut p = shared.pending.lock().expect("pending lock");
            while p.buf.is_empty() && !p.stop {
                p = shared.cv.wait(p).expect("pending lock");
            }
            if p.buf.is_empty() {
                break;
            }
            let buf = std::mem::replace(&mut p.buf, std::mem::take(&mut spare));
            let lens = std::mem::replace(&mut p.lens, std::mem::take(&mut spare_lens));
            (buf, lens, std::mem::take(&mut p.acks))
        };
        if work == Work::Hashing {
            let ts = evident_native::now_ns();
            let mut at = 0usize;
            for &len in &lens {
                let end = at + len as usize;
                std::hint::black_box(format.record(ts, &buf[at..end]));
                at = end;
            }
        }
        file.write_all_at(&buf, offset).expect("bare write");
        offset += buf.len() as u64;
        file.sync_data().expect("bare fdatasync");
        batches += 1;
        for a in acks {
            let _ = a.send(());
        }
        spare = buf;
        spare.clear();
        spare_lens = lens;
        spare_lens.clear();
    }
    std::hint::black_box(format.head());
    (batches, batches)
}

/// Durable appends through the bare group-commit thread, from `producers` tokio tasks.
pub fn bare(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    producers: usize,
    dur: Duration,
    events: &Arc<Vec<Vec<u8>>>,
    space: Space,
    work: Work,
) -> Measure {
    let writer = Arc::new(BareWriter::start(dir, space, work, producers));
    let w = writer.clone();
    let events = events.clone();
    let m = rt.block_on(tasks(producers, dur, move |p, i| {
        let (w, events) = (w.clone(), events.clone());
        async move { w.append(pick(&events, p, i)).await }
    }));
    let (_, syncs) = Arc::into_inner(writer)
        .expect("the producers are done")
        .stop();
    Measure { syncs, ..m }
}
