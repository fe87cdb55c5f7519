//! Forward agent queries on several threads: the query's seq range is cut at segment starts
//! into parts, threads answer the parts (each a whole agent query of its own, through the agent
//! indexes, on one thread), and the parts' answers are joined in seq order.
//!
//! Per hit an agent query reads the hit's window, hashes the record and decodes its event: work
//! that does not depend on other segments, so the parts share nothing. The joined answer is the
//! one query on one thread gives: records in seq order, the head furthest on, the resume point
//! of the last record, the stale indexes of every part. Only queries without a limit are split
//! (a limit would have later parts read records that are never returned), and a directory whose
//! parts disagree on the log id is answered on one thread, so its error is the one a
//! single-threaded query reports. Where two parts meet, neither part reads both sides: the join
//! checks that link from what each side read (the end of the last segment before the cut, the
//! anchor of the first after it), and a part whose time range ended stops the join there, as
//! one query stops.

use super::{query_once, Answer};
use evident_core::agent_query::Edges;
use evident_core::naming::{parse_segment_name, segment_name};
use evident_core::query::{QueryResult, QuerySpec};
use evident_core::segment_links::{Listed, SegmentLinks};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A part's answer, and what it learnt about its range's edges.
type PartAnswer = (Result<Answer, evident_core::Error>, Option<Edges>);

/// Parts per thread: enough that threads finish together when the agent's records are unevenly
/// spread, few enough that each part's directory listing costs nothing next to its reads.
pub(super) const PARTS_PER_THREAD: usize = 4;

/// Whether [`run`] answers `spec` (a forward agent query without a limit, more than one thread).
pub(super) fn applies(spec: &QuerySpec, threads: usize) -> bool {
    threads > 1
        && spec.agent.is_some()
        && !spec.newest
        && spec.resume_at.is_none()
        && spec.limit.is_none()
}

/// A query's range cut into parts, and where each part meets the next.
pub(super) struct Parts {
    /// The parts, in seq order.
    pub specs: Vec<QuerySpec>,
    /// Between part `j` and `j + 1`: the first segment file of part `j + 1` and its first seq.
    cuts: Vec<(String, u64)>,
}

/// `spec`'s seq range cut at segment starts into at most `n` parts (each one or more whole
/// segments, the first and last cut to the range); no parts when the range lies in one segment.
pub(super) fn split(dir: &Path, spec: &QuerySpec, n: usize) -> Parts {
    let none = Parts {
        specs: Vec::new(),
        cuts: Vec::new(),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return none;
    };
    let mut firsts: Vec<u64> = entries
        .flatten()
        .filter_map(|e| parse_segment_name(&e.file_name().to_string_lossy()))
        .collect();
    firsts.sort_unstable();
    // The segments an agent query reads: from the one holding `from_seq` to the last whose
    // first seq is at most `to_seq` (as `AgentQuery` picks them).
    let lo = spec
        .from_seq
        .map_or(0, |f| firsts.partition_point(|&s| s <= f).saturating_sub(1));
    let hi = spec
        .to_seq
        .map_or(firsts.len(), |t| firsts.partition_point(|&s| s <= t).max(1))
        .min(firsts.len());
    let segs = firsts.get(lo..hi).unwrap_or_default();
    let k = n.min(segs.len());
    if k < 2 {
        return none;
    }
    // Cut before segment j * len / k: each cut is the first seq of a segment after the one
    // holding `from_seq` and at most `to_seq`, and the cuts increase.
    let cuts: Vec<u64> = (1..k).map(|j| segs[j * segs.len() / k]).collect();
    let specs = (0..k)
        .map(|j| QuerySpec {
            from_seq: if j == 0 {
                spec.from_seq
            } else {
                Some(cuts[j - 1])
            },
            to_seq: if j + 1 == k {
                spec.to_seq
            } else {
                Some(cuts[j] - 1)
            },
            ..spec.clone()
        })
        .collect();
    Parts {
        specs,
        cuts: cuts.iter().map(|&c| (segment_name(c), c)).collect(),
    }
}

/// Answers `parts` (from [`split`]) on `threads` threads and joins their answers; `None` when
/// the parts' answers do not belong to one log (the caller answers on one thread instead).
pub(super) fn run(
    dir: &Path,
    all: &Parts,
    threads: usize,
) -> Option<Result<Answer, evident_core::Error>> {
    let parts = &all.specs;
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<Option<PartAnswer>>> =
        Mutex::new((0..parts.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.min(parts.len()) {
            s.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(part) = parts.get(j) else { break };
                // No part after an error is needed: the query fails with the first error.
                if first_error_before(&answers, j) {
                    break;
                }
                let r = query_once(dir, part.clone(), 1);
                lock(&answers)[j] = Some(r);
            });
        }
    });
    let answers = answers.into_inner().unwrap_or_else(|p| p.into_inner());
    join(all, answers)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A part that panicked left nothing half-written here (each slot is set whole).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a part before `j` has failed.
fn first_error_before(answers: &Mutex<Vec<Option<PartAnswer>>>, j: usize) -> bool {
    lock(answers)[..j]
        .iter()
        .any(|a| matches!(a, Some((Err(_), _))))
}

/// The parts' answers joined in seq order (see the module documentation).
fn join(
    parts: &Parts,
    answers: Vec<Option<PartAnswer>>,
) -> Option<Result<Answer, evident_core::Error>> {
    let mut out = QueryResult {
        records: Vec::new(),
        head: None,
        segments_read: 0,
        bytes_read: 0,
        resume: None,
    };
    let mut stale = Vec::new();
    let mut log_id = None;
    let mut before: Option<Edges> = None;
    for (j, a) in answers.into_iter().enumerate() {
        // A part is missing only after an earlier one failed (see `run`).
        let (answer, edges) = a?;
        let edges = edges.unwrap_or_default();
        // Where this part meets the one before, checked in seq order: after everything in the
        // part before, before anything in this one (its first segment's header is read first).
        if let (Some(b), Some(cut)) = (before, j.checked_sub(1).and_then(|c| parts.cuts.get(c))) {
            if let Err(e) = check_cut(cut, &b, &edges) {
                return Some(Err(e));
            }
        }
        let (r, part_stale) = match answer {
            Ok(a) => a,
            Err(e) => return Some(Err(e)),
        };
        if let Some(h) = r.head {
            if log_id.is_some_and(|id| id != h.log_id) {
                return None;
            }
            log_id = Some(h.log_id);
            if out.head.is_none_or(|c| h.seq > c.seq) {
                out.head = Some(h);
            }
        }
        out.segments_read += r.segments_read;
        out.bytes_read += r.bytes_read;
        if !r.records.is_empty() {
            out.resume = r.resume;
        }
        out.records.extend(r.records);
        stale.extend(part_stale);
        if edges.stopped_early {
            // Its time range ended in this part: one query would have stopped here too, so
            // what later parts read is none of the answer.
            break;
        }
        before = Some(edges);
    }
    Some(Ok((out, stale)))
}

/// Checks the link at a cut from what the parts on either side read of it: the end of the last
/// segment before it and the anchor of the first after it, as one query over both checks it.
fn check_cut(
    (after, first): &(String, u64),
    before: &Edges,
    this: &Edges,
) -> Result<(), evident_core::Error> {
    let (Some((last_seq, last_hash)), Some(anchor)) = (before.last_end, this.first_anchor) else {
        return Ok(());
    };
    let next = Listed {
        name: after,
        first: *first,
    };
    let mut links = SegmentLinks::default();
    // The seq step was checked by the part before (it knows the next file's name).
    links.end(0, (last_seq, 0), last_hash, None)?;
    links.start(1, next, anchor)
}
