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
//! single-threaded query reports. Where two parts meet, neither part reads both sides, so the
//! join checks that link itself (the last segment's footer before the cut against the first
//! segment's header after it), as one thread checks every link it reads across.

use super::{query_once, Answer};
use evident_core::footer::{Footer, TRAILER_LEN};
use evident_core::header::{SegmentHeader, HEADER_LEN};
use evident_core::naming::{parse_segment_name, segment_name};
use evident_core::query::{QueryResult, QuerySpec};
use evident_core::segment_links::{Listed, SegmentLinks};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
    /// Between part `j` and `j + 1`: the last segment file of part `j` and the first of `j + 1`
    /// (its first seq).
    cuts: Vec<(String, String, u64)>,
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
    let at: Vec<usize> = (1..k).map(|j| j * segs.len() / k).collect();
    let cuts: Vec<u64> = at.iter().map(|&a| segs[a]).collect();
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
        cuts: at
            .iter()
            .map(|&a| (segment_name(segs[a - 1]), segment_name(segs[a]), segs[a]))
            .collect(),
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
    let answers: Mutex<Vec<Option<Result<Answer, evident_core::Error>>>> =
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
    join(dir, all, answers)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A part that panicked left nothing half-written here (each slot is set whole).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a part before `j` has failed.
fn first_error_before(
    answers: &Mutex<Vec<Option<Result<Answer, evident_core::Error>>>>,
    j: usize,
) -> bool {
    lock(answers)[..j].iter().any(|a| matches!(a, Some(Err(_))))
}

/// The parts' answers joined in seq order (see the module documentation).
fn join(
    dir: &Path,
    parts: &Parts,
    answers: Vec<Option<Result<Answer, evident_core::Error>>>,
) -> Option<Result<Answer, evident_core::Error>> {
    let until = parts.specs.first().and_then(|s| s.until);
    let mut out = QueryResult {
        records: Vec::new(),
        head: None,
        segments_read: 0,
        bytes_read: 0,
        resume: None,
    };
    let mut stale = Vec::new();
    let mut log_id = None;
    for (j, a) in answers.into_iter().enumerate() {
        // Where this part meets the one before (each part read one side of it), checked in seq
        // order: after the part before, before anything in this one.
        if let Some(cut) = j.checked_sub(1).and_then(|c| parts.cuts.get(c)) {
            if let Err(e) = check_cut(dir, cut, until) {
                return Some(Err(e));
            }
        }
        // A part is missing only after an earlier one failed (see `run`).
        let (r, part_stale) = match a? {
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
    }
    Some(Ok((out, stale)))
}

/// Checks that the last segment before a cut ends where the first after it begins (seq and
/// anchor), as one thread's query checks every pair of segments it reads both sides of (see
/// [`SegmentLinks`]). A side that cannot be read is left to the parts: they report what they
/// found damaged.
fn check_cut(
    dir: &Path,
    (before, after, first): &(String, String, u64),
    until: Option<u64>,
) -> Result<(), evident_core::Error> {
    let Ok(trail) = crate::safe_fs::TrailDir::open(dir, false) else {
        return Ok(());
    };
    let (Some(f), Some(h)) = (read_footer(&trail, before), read_header(&trail, after)) else {
        return Ok(());
    };
    let next = Listed {
        name: after,
        first: *first,
    };
    let mut links = SegmentLinks::for_range(None, until);
    links.end(0, (f.last_seq, f.last_ts), f.last_hash, Some(next))?;
    if until.is_some_and(|u| u <= f.last_ts) {
        // One thread would stop before reading the next segment's header.
        return Ok(());
    }
    links.start(1, next, h.anchor)
}

fn read_at(file: &std::fs::File, offset: u64, len: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; usize::try_from(len).ok()?];
    file.read_exact_at(&mut buf, offset).ok()?;
    Some(buf)
}

fn read_footer(trail: &crate::safe_fs::TrailDir, name: &str) -> Option<Footer> {
    let file = trail.open_file(name, false).ok()?;
    let len = file.metadata().ok()?.len();
    let trailer = read_at(
        &file,
        len.checked_sub(TRAILER_LEN as u64)?,
        TRAILER_LEN as u64,
    )?;
    let offset = Footer::trailer_offset(&trailer, len).ok()?;
    let f = Footer::decode(&read_at(&file, offset, len - offset)?).ok()?;
    (f.offset == offset).then_some(f)
}

fn read_header(trail: &crate::safe_fs::TrailDir, name: &str) -> Option<SegmentHeader> {
    let file = trail.open_file(name, false).ok()?;
    SegmentHeader::decode(&read_at(&file, 0, HEADER_LEN as u64)?).ok()
}
