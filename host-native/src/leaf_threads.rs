//! Hashes the leaves of a chunk of records on several threads before the core's verifier
//! checks the chain (see `evident_core::leaves`): the only part of verification that parallel
//! cores can share, and most of its hashing.

use evident_core::leaves::{LeafPlanner, PrecomputedLeaf};
use evident_core::{naming, IoDone, IoOp, IoResult};

/// Plans and hashes the leaves of each segment chunk a verification reads.
#[derive(Debug)]
pub(crate) struct LeafThreads {
    threads: usize,
    /// The segment being read and its planner.
    planner: Option<(String, LeafPlanner)>,
}

/// Below this many frames in a chunk, starting threads costs more than it saves.
const MIN_PARALLEL_JOBS: usize = 256;

impl LeafThreads {
    /// Uses up to `threads` threads (the caller's included); 1 or 0 hashes nothing ahead.
    pub(crate) fn new(threads: usize) -> LeafThreads {
        LeafThreads {
            threads,
            planner: None,
        }
    }

    /// The leaves of the complete records in the answer to `op`, when it read a segment chunk.
    pub(crate) fn leaves_for(&mut self, op: &IoOp, result: &IoResult) -> Vec<PrecomputedLeaf> {
        let (IoOp::Read { file, offset, .. }, Ok(IoDone::Read(data))) = (op, result) else {
            return Vec::new();
        };
        if self.threads < 2 || naming::parse_segment_name(file).is_none() {
            return Vec::new();
        }
        if *offset == 0 || self.planner.as_ref().is_none_or(|(f, _)| f != file) {
            self.planner = Some((file.clone(), LeafPlanner::new()));
        }
        let (_, planner) = self.planner.as_mut().expect("just set");
        let jobs = planner.plan(*offset, data);
        if jobs.len() < MIN_PARALLEL_JOBS {
            return Vec::new(); // the scanner hashes these few itself
        }
        let per = jobs.len().div_ceil(self.threads);
        std::thread::scope(|s| {
            let mut parts = jobs.chunks(per);
            let mine = parts.next().unwrap_or(&[]);
            let mut leaves: Vec<PrecomputedLeaf> = mine.iter().map(|j| j.compute(data)).collect();
            // A thread that cannot be started (a tight `ulimit -u` or `-v`) leaves its part to
            // this one: hashing ahead only saves time, the verdict does not depend on it.
            let others: Vec<_> = parts
                .map(|part| {
                    std::thread::Builder::new()
                        .spawn_scoped(s, move || {
                            part.iter().map(|j| j.compute(data)).collect::<Vec<_>>()
                        })
                        .map_err(|_| part)
                })
                .collect();
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
}
