//! Read-ahead for verification and scanning queries: while the calling thread checks one
//! chunk of a segment (CRC, seq, chain step, the tree's interior nodes: the sequential part,
//! see `evident_core::leaves`), a thread of its own reads the next chunk and hashes its
//! records' leaves, so the two halves of a scan overlap instead of taking turns.
//!
//! A query's scan may begin mid-segment (at a sparse-index entry or a resume position): the
//! host passes where ([`ReadAhead::scan_from`], from `QueryTask::scan_start`) so leaves are
//! planned from that frame. A query near its limit asks for less than a chunk; a request for
//! the start of the chunk read ahead is served from it.
//!
//! A pipeline rather than a fork-join per chunk: splitting each 1 MiB chunk's hashing across
//! freshly woken threads gained little on a 2-vCPU VM (BENCHMARKS.md, finding 6), while one
//! long-lived thread that is always a chunk ahead keeps both cores busy. With more cores the
//! read-ahead thread splits its chunk's hashing among `threads - 1` threads.
//!
//! Nothing here decides anything: the scanner uses a provided leaf only for the entry at
//! exactly that offset and seq, and hashes every other one itself. A chunk read ahead is used
//! only for a request it covers (same file and offset, as long or shorter), and then only the
//! leaves of frames wholly inside what is handed over. Any other read of a chunk's size is
//! read and hashed on the calling thread while the thread starts on the chunk after it, and a
//! smaller one (a header, a footer) is performed on the calling thread without reading ahead.
//! A chunk read ahead that does not come back whole (the end of the file, an error) is read
//! again on the calling thread when the scanner asks for it, and that result is what the
//! scanner gets. Dropping a `ReadAhead` closes the thread's queue: the thread finishes the
//! chunk it is on, if any, and exits.

use crate::fs_exec::FsExecutor;
use evident_core::frame::claimed_len;
use evident_core::header::FormatVersion;
use evident_core::leaves::{LeafJob, LeafPlanner, PrecomputedLeaf};
use evident_core::{naming, IoDone, IoOp, IoResult};
use std::path::Path;
use std::sync::mpsc;

/// Below this many frames in a chunk, splitting its hashing across threads costs more than
/// it saves.
const MIN_PARALLEL_JOBS: usize = 256;

/// The share of a chunk's leaves the read-ahead thread hashes when it has no helpers (2
/// cores): the rest are hashed by the scanner on the verifying thread, beside its sequential
/// checks. Measured on the 2-vCPU VM (`bench --sections 4`, MB/s with 2 threads): all 557,
/// 85% 657, 80% 674–687, 75% 621, 65% 619, 50% 514 (BENCHMARKS.md, finding 16).
const VERIFY_ALONE_SHARE_PERCENT: usize = 80;

/// The same share for a query's scan, whose calling thread has less to do per record than a
/// verification's (no tree to build) but copies each payload out. Measured on the 2-vCPU VM
/// (the export-like paged scan of `bench --sections 7`, 10 M records): 50% 4.65–4.72 s, 65%
/// 4.33–4.44 s, 80% 4.39–4.67 s.
const QUERY_ALONE_SHARE_PERCENT: usize = 65;

/// What the read-ahead thread hashes for the scan it serves.
#[derive(Debug, Clone, Copy)]
struct Hashing {
    /// The share of a chunk's leaves it hashes when alone (no helper threads).
    alone_share_percent: usize,
    /// Whether it hashes each leaf's tree node too (verification builds the tree).
    nodes: bool,
}

/// Reads shorter than this (headers, footers, agent-index windows, a query's last few records)
/// are performed on the calling thread and never read ahead of: a hand-off to the thread
/// costs more than hashing their few leaves.
const MIN_READ_AHEAD: u32 = 64 * 1024;

/// One chunk for the read-ahead thread, with the planner as it stands after the chunk before.
struct Job {
    file: String,
    offset: u64,
    len: u32,
    planner: LeafPlanner,
}

/// What the read-ahead thread made of a [`Job`].
struct Done {
    result: IoResult,
    leaves: Vec<PrecomputedLeaf>,
    planner: LeafPlanner,
}

/// The read-ahead thread's end held by the scanning thread.
struct Worker {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Done>,
}

/// Performs a scan's requests, reading segment chunks one ahead on another thread when it has
/// `threads` ≥ 2 (the caller's thread included); with fewer it performs every request in place
/// and hashes nothing ahead.
pub(crate) struct ReadAhead {
    threads: usize,
    hashing: Hashing,
    dir: std::path::PathBuf,
    /// `None` until the first segment read; stays `None` if the thread cannot be started.
    worker: Option<Worker>,
    started: bool,
    /// The segment being read and its planner after the last chunk handed to the scanner.
    planner: Option<(String, LeafPlanner)>,
    /// The chunk the thread is reading: file, offset, length.
    inflight: Option<(String, u64, u32)>,
    /// Where the current segment scan began (file, frame offset, version), if the scanner
    /// said so: its first read is planned from that frame.
    start: Option<(String, u64, FormatVersion)>,
}

impl ReadAhead {
    /// For a verification: leaves and their tree nodes.
    pub(crate) fn new(dir: &Path, threads: usize) -> ReadAhead {
        let hashing = Hashing {
            alone_share_percent: VERIFY_ALONE_SHARE_PERCENT,
            nodes: true,
        };
        ReadAhead::with(dir, threads, hashing)
    }

    /// For a query's scan, which builds no tree: leaves only.
    pub(crate) fn for_query(dir: &Path, threads: usize) -> ReadAhead {
        let hashing = Hashing {
            alone_share_percent: QUERY_ALONE_SHARE_PERCENT,
            nodes: false,
        };
        ReadAhead::with(dir, threads, hashing)
    }

    fn with(dir: &Path, threads: usize, hashing: Hashing) -> ReadAhead {
        ReadAhead {
            threads,
            hashing,
            dir: dir.to_path_buf(),
            worker: None,
            started: false,
            planner: None,
            inflight: None,
            start: None,
        }
    }

    /// Tells where the segment scan in progress began: the entry frame at `offset` of `file`,
    /// a segment of `version`. A scan that begins at offset 0 (verification) needs no hint.
    pub(crate) fn scan_from(&mut self, file: &str, offset: u64, version: FormatVersion) {
        if self
            .start
            .as_ref()
            .is_none_or(|(f, o, v)| (f.as_str(), *o, *v) != (file, offset, version))
        {
            self.start = Some((file.to_string(), offset, version));
        }
    }

    /// Performs `op` (through `exec` unless it is a segment chunk), returning its result and
    /// the leaves of the complete records it read, if they were hashed ahead.
    pub(crate) fn perform(
        &mut self,
        exec: &mut FsExecutor,
        op: &IoOp,
    ) -> (IoResult, Vec<PrecomputedLeaf>) {
        let IoOp::Read { file, offset, len } = op else {
            return (exec.perform(op), Vec::new());
        };
        if self.threads < 2 || naming::parse_segment_name(file).is_none() {
            return (exec.perform(op), Vec::new());
        }
        if let Some(served) = self.serve_from_inflight(exec, op) {
            return served;
        }
        if *len < MIN_READ_AHEAD {
            // Small: here, and whatever the thread reads ahead stays in flight.
            return (exec.perform(op), Vec::new());
        }
        if !self.started {
            self.started = true;
            self.worker = spawn(&self.dir, self.threads - 1, self.hashing);
        }
        let key = (file.clone(), *offset, *len);
        let anticipated = self.inflight.take();
        // (what the scanner gets, leaves hashed ahead, the planner after it, read here)
        let (result, leaves, planner, read_here) = match (&self.worker, anticipated) {
            (Some(w), Some(k)) if k == key => match w.done.recv() {
                Ok(Done {
                    result,
                    leaves,
                    planner,
                }) => (result, leaves, planner, false),
                Err(_) => {
                    // The thread is gone: everything here from now on.
                    self.worker = None;
                    self.planner = None;
                    return (exec.perform(op), Vec::new());
                }
            },
            (worker, other) => {
                if let (Some(w), Some(_)) = (worker, other) {
                    let _ = w.done.recv(); // read ahead for nothing: the scan went elsewhere
                }
                // Not anticipated: read here, and hash here (the thread would only make this
                // thread wait); the thread starts on the next chunk meanwhile. The planner
                // follows this chunk's frames so the next one is planned from where they end.
                let mut planner = match (&self.start, &self.planner) {
                    (Some((f, o, v)), _) if f == file && o == offset => LeafPlanner::at(*o, *v),
                    (_, Some((f, p))) if f == file && *offset != 0 => p.clone(),
                    _ => LeafPlanner::new(),
                };
                let result = exec.perform(op);
                if let Ok(IoDone::Read(d)) = &result {
                    planner.skip(*offset, d);
                }
                (result, Vec::new(), planner, true)
            }
        };
        let whole = matches!(&result, Ok(IoDone::Read(d)) if d.len() == *len as usize);
        if !whole {
            // The end of the file (or an error): nothing to read ahead. Read ahead of the
            // request, it is read again here, as the scanner would have read it now.
            self.planner = None;
            if read_here {
                return (result, leaves);
            }
            return (exec.perform(op), Vec::new());
        }
        if let Some(w) = &self.worker {
            let next = Job {
                file: file.clone(),
                offset: offset + u64::from(*len),
                len: *len,
                planner: planner.clone(),
            };
            if w.jobs.send(next).is_ok() {
                self.inflight = Some((file.clone(), offset + u64::from(*len), *len));
            }
        }
        self.planner = Some((file.clone(), planner));
        (result, leaves)
    }

    /// Serves `op` from the chunk the thread is reading when that chunk begins where `op`
    /// does and is longer: its first `len` bytes (a query near its limit), with only the
    /// leaves of frames wholly inside them; nothing more is read ahead, and a read that
    /// continues after them is planned on from where their frames end. `None` when the chunk
    /// in flight is not for `op` (or is exactly it: `perform` takes that); it then stays in
    /// flight.
    fn serve_from_inflight(
        &mut self,
        exec: &mut FsExecutor,
        op: &IoOp,
    ) -> Option<(IoResult, Vec<PrecomputedLeaf>)> {
        let IoOp::Read { file, offset, len } = op else {
            return None;
        };
        let (f, o, l) = self.inflight.as_ref()?;
        if f != file || o != offset || l <= len {
            return None; // an exact match is the anticipated path in `perform`
        }
        self.inflight = None;
        let done = self.worker.as_ref().and_then(|w| w.done.recv().ok());
        // The planner as it stood at the start of the chunk: it follows what is handed over.
        let before = self.planner.take();
        let Some(Done {
            result: Ok(IoDone::Read(mut data)),
            leaves,
            ..
        }) = done
        else {
            if done.is_none() {
                self.worker = None;
            }
            return Some((exec.perform(op), Vec::new()));
        };
        let want = *len as usize;
        if data.len() < want {
            return Some((exec.perform(op), Vec::new())); // short: read again here
        }
        data.truncate(want);
        if let Some((f, mut p)) = before.filter(|(f, _)| f == file) {
            p.skip(*offset, &data);
            self.planner = Some((f, p));
        }
        let end = *offset + u64::from(*len);
        let inside = leaves
            .into_iter()
            .filter(|leaf| frame_ends_by(&data, *offset, leaf.offset, end))
            .collect();
        Some((Ok(IoDone::Read(data)), inside))
    }
}

/// Whether the frame at file offset `at` (inside `data`, which holds the file from `base`
/// on) ends at or before `end`.
fn frame_ends_by(data: &[u8], base: u64, at: u64, end: u64) -> bool {
    let Some(i) = at.checked_sub(base).map(|i| i as usize) else {
        return false;
    };
    let Some(word) = data.get(i..i + 4) else {
        return false;
    };
    let word0 = u32::from_le_bytes(word.try_into().expect("4 bytes"));
    claimed_len(word0).is_ok_and(|n| at + n as u64 <= end)
}

/// How many threads a scan uses by default: every core, at most 8 (the calling thread is one
/// of them).
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// Starts the read-ahead thread, which hashes with `helpers` threads (itself included).
fn spawn(dir: &Path, helpers: usize, hashing: Hashing) -> Option<Worker> {
    let (jobs, job_rx) = mpsc::channel::<Job>();
    let (done_tx, done) = mpsc::channel::<Done>();
    let mut exec = FsExecutor::read_only(dir);
    std::thread::Builder::new()
        .name("evident-read-ahead".into())
        .spawn(move || {
            while let Ok(Job {
                file,
                offset,
                len,
                mut planner,
            }) = job_rx.recv()
            {
                let result = exec.perform(&IoOp::Read { file, offset, len });
                let leaves = match &result {
                    Ok(IoDone::Read(data)) => {
                        let jobs = planner.plan(offset, data);
                        // Alone, this thread leaves some of the leaves to the scanning
                        // thread: the two halves then take about as long.
                        let n = if helpers < 2 {
                            jobs.len() * hashing.alone_share_percent / 100
                        } else {
                            jobs.len()
                        };
                        hash_leaves(&jobs[..n], data, helpers, hashing.nodes)
                    }
                    _ => Vec::new(),
                };
                let reply = Done {
                    result,
                    leaves,
                    planner,
                };
                if done_tx.send(reply).is_err() {
                    return;
                }
            }
        })
        .ok()?;
    Some(Worker { jobs, done })
}

/// The leaves of `jobs` (planned from `data`), hashed on up to `threads` threads (this one
/// included). A thread that cannot be started (a tight `ulimit -u` or `-v`) leaves its part
/// to this one: hashing ahead only saves time, the verdict does not depend on it.
fn hash_leaves(jobs: &[LeafJob], data: &[u8], threads: usize, nodes: bool) -> Vec<PrecomputedLeaf> {
    let compute = |j: &LeafJob| {
        if nodes {
            j.compute(data)
        } else {
            j.compute_leaf(data)
        }
    };
    if threads < 2 || jobs.len() < MIN_PARALLEL_JOBS {
        return jobs.iter().map(compute).collect();
    }
    let per = jobs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let mut parts = jobs.chunks(per);
        let mine = parts.next().unwrap_or(&[]);
        let others: Vec<_> = parts
            .map(|part| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || part.iter().map(compute).collect::<Vec<_>>())
                    .map_err(|_| part)
            })
            .collect();
        let mut leaves: Vec<PrecomputedLeaf> = mine.iter().map(compute).collect();
        for h in others {
            match h {
                Ok(h) => match h.join() {
                    Ok(part) => leaves.extend(part),
                    Err(_) => return Vec::new(), // the scanner hashes them itself
                },
                Err(part) => leaves.extend(part.iter().map(compute)),
            }
        }
        leaves
    })
}
