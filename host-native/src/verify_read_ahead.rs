//! Verification's read-ahead: while the calling thread checks one chunk of a segment (CRC,
//! seq, chain step, the tree's interior nodes: the sequential part, see
//! `evident_core::leaves`), a thread of its own reads the next chunk and hashes its records'
//! leaves, so the two halves of a verification overlap instead of taking turns.
//!
//! A pipeline rather than a fork-join per chunk: splitting each 1 MiB chunk's hashing across
//! freshly woken threads gained little on a 2-vCPU VM (BENCHMARKS.md, finding 6), while one
//! long-lived thread that is always a chunk ahead keeps both cores busy. With more cores the
//! read-ahead thread splits its chunk's hashing among `threads - 1` threads.
//!
//! Nothing here decides anything: the scanner uses a provided leaf only for the entry at
//! exactly that offset and seq, and hashes every other one itself. A chunk read ahead is used
//! only for the very request it anticipated (same file, offset and length); any other segment
//! read is handed to the thread and waited for. A chunk read ahead that does not come back
//! whole (the end of the file, an error) is read again on the calling thread when the verifier
//! asks for it, and that result is what the verifier gets.

use crate::fs_exec::FsExecutor;
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
const ALONE_SHARE_PERCENT: usize = 80;

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

/// The read-ahead thread's end held by the verifying thread.
struct Worker {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Done>,
}

/// Performs a verification's requests, reading segment chunks one ahead on another thread.
pub(crate) struct ReadAhead {
    threads: usize,
    dir: std::path::PathBuf,
    /// `None` until the first segment read; stays `None` if the thread cannot be started.
    worker: Option<Worker>,
    started: bool,
    /// The segment being read and its planner after the last chunk handed to the verifier.
    planner: Option<(String, LeafPlanner)>,
    /// The chunk the thread is reading: file, offset, length.
    inflight: Option<(String, u64, u32)>,
}

impl ReadAhead {
    /// Reads ahead and hashes leaves when `threads` ≥ 2 (the caller's thread included);
    /// otherwise performs every request in place and hashes nothing ahead.
    pub(crate) fn new(dir: &Path, threads: usize) -> ReadAhead {
        ReadAhead {
            threads,
            dir: dir.to_path_buf(),
            worker: None,
            started: false,
            planner: None,
            inflight: None,
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
        if !self.started {
            self.started = true;
            self.worker = spawn(&self.dir, self.threads - 1);
        }
        let key = (file.clone(), *offset, *len);
        let anticipated = self.inflight.take();
        // Whether the thread reads it now, on this request's behalf (not ahead of it).
        let read_now = anticipated.as_ref() != Some(&key);
        let done = match (&self.worker, anticipated) {
            (Some(w), Some(k)) if k == key => w.done.recv().ok(),
            (Some(w), other) => {
                if other.is_some() {
                    let _ = w.done.recv(); // read ahead for nothing: the verifier went elsewhere
                }
                let planner = match &self.planner {
                    Some((f, p)) if f == file && *offset != 0 => p.clone(),
                    _ => LeafPlanner::new(),
                };
                let job = Job {
                    file: file.clone(),
                    offset: *offset,
                    len: *len,
                    planner,
                };
                w.jobs.send(job).ok().and_then(|()| w.done.recv().ok())
            }
            (None, _) => None,
        };
        let Some(Done {
            result,
            leaves,
            planner,
        }) = done
        else {
            // No thread (or it is gone): everything here, nothing ahead.
            self.worker = None;
            self.planner = None;
            return (exec.perform(op), Vec::new());
        };
        let whole = matches!(&result, Ok(IoDone::Read(d)) if d.len() == *len as usize);
        if !whole {
            // The end of the file (or an error): nothing to read ahead. Read ahead of the
            // request, it is read again here, as the verifier would have read it now.
            self.planner = None;
            if read_now {
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
}

/// Starts the read-ahead thread, which hashes with `helpers` threads (itself included).
fn spawn(dir: &Path, helpers: usize) -> Option<Worker> {
    let (jobs, job_rx) = mpsc::channel::<Job>();
    let (done_tx, done) = mpsc::channel::<Done>();
    let mut exec = FsExecutor::read_only(dir);
    std::thread::Builder::new()
        .name("evident-verify-read".into())
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
                        // Alone, this thread leaves a fifth of the leaves to the verifying
                        // thread: the two halves then take about as long.
                        let n = if helpers < 2 {
                            jobs.len() * ALONE_SHARE_PERCENT / 100
                        } else {
                            jobs.len()
                        };
                        hash_leaves(&jobs[..n], data, helpers)
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
fn hash_leaves(jobs: &[LeafJob], data: &[u8], threads: usize) -> Vec<PrecomputedLeaf> {
    if threads < 2 || jobs.len() < MIN_PARALLEL_JOBS {
        return jobs.iter().map(|j| j.compute(data)).collect();
    }
    let per = jobs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let mut parts = jobs.chunks(per);
        let mine = parts.next().unwrap_or(&[]);
        let others: Vec<_> = parts
            .map(|part| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || {
                        part.iter().map(|j| j.compute(data)).collect::<Vec<_>>()
                    })
                    .map_err(|_| part)
            })
            .collect();
        let mut leaves: Vec<PrecomputedLeaf> = mine.iter().map(|j| j.compute(data)).collect();
        for h in others {
            match h {
                Ok(h) => match h.join() {
                    Ok(part) => leaves.extend(part),
                    Err(_) => return Vec::new(), // the scanner hashes them itself
                },
                Err(part) => leaves.extend(part.iter().map(|j| j.compute(data))),
            }
        }
        leaves
    })
}
