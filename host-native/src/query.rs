//! Queries and statistics over a trail directory (read-only; works beside a live writer).

use crate::error::{Error, Result};
use crate::fs_exec::FsExecutor;
use crate::read_ahead::ReadAhead;
use evident_core::query::{QueryResult, QuerySpec, QueryTask};
use evident_core::AuditEvent;
use std::collections::BTreeMap;
use std::path::Path;

mod parts;

/// Runs a query on the trail in `dir`: records by seq, time range, agent; the N most recent
/// (`newest` with `limit`). See [`evident_core::query`] for the cost guarantees.
///
/// Beside a live writer, damage found in what was read is read again before it is reported
/// (up to `live::RECHECKS` more runs, `live::RECHECK_PAUSE` apart): a read racing the writer's `pwrite` can see a page of a
/// batch still zero and a later page already written (see [`crate::fs_exec::verify_dir_with`]).
///
/// A sealed segment whose agent index could not be used (missing, damaged, or not matching the
/// segment) is answered by scanning it; its index is then rebuilt here, best effort (a
/// read-only directory keeps scanning), so the next query finds it.
///
/// A scan reads its next chunk and hashes its records' leaves on a second core meanwhile (up
/// to 8 threads in all), as verification does; a forward agent query without a limit answers
/// groups of segments on those threads at once. [`query_with`] sets the number of threads.
pub fn query(dir: &Path, spec: QuerySpec) -> Result<QueryResult> {
    query_with(dir, spec, crate::read_ahead::default_threads())
}

/// [`query`] with `threads` threads (1: every read and hash on the calling thread). The answer
/// (records, head, resume point, segments and bytes read, or the error) does not depend on
/// `threads`.
pub fn query_with(dir: &Path, spec: QuerySpec, threads: usize) -> Result<QueryResult> {
    let mut attempt = 0;
    loop {
        match query_split_or_once(dir, &spec, threads) {
            Ok((r, stale)) => {
                rebuild_indexes(dir, &stale);
                return Ok(r);
            }
            Err(evident_core::Error::Corrupt { .. })
                if attempt < crate::live::RECHECKS && crate::live::writer_is_live(dir) =>
            {
                attempt += 1;
                std::thread::sleep(crate::live::RECHECK_PAUSE);
            }
            Err(e) => return Err(Error::Trail(e)),
        }
    }
}

type Answer = (QueryResult, Vec<String>);

/// A forward agent query without a limit on its parts' threads (see [`parts`]); any other
/// query, or one whose range lies in one segment, on this thread (with its read-ahead).
fn query_split_or_once(
    dir: &Path,
    spec: &QuerySpec,
    threads: usize,
) -> std::result::Result<Answer, evident_core::Error> {
    if parts::applies(spec, threads) {
        let p = parts::split(dir, spec, threads * parts::PARTS_PER_THREAD);
        if !p.specs.is_empty() {
            if let Some(answer) = parts::run(dir, &p, threads) {
                return answer;
            }
        }
    }
    query_once(dir, spec.clone(), threads).0
}

/// Answers `spec` on this thread (reading ahead on `threads`), and for a forward agent query
/// what it learnt about its range's edges (whether it answered or failed).
fn query_once(
    dir: &Path,
    spec: QuerySpec,
    threads: usize,
) -> (
    std::result::Result<Answer, evident_core::Error>,
    Option<evident_core::agent_query::Edges>,
) {
    let mut exec = FsExecutor::read_only(dir);
    let mut task = QueryTask::new(spec, 1 << 20);
    let mut reads = ReadAhead::for_query(dir, threads);
    while let Some(op) = task.poll_io() {
        // Only a segment scan reads on in order; every other read (the binary search, headers,
        // an agent query's windows) is performed here as asked.
        let Some((file, offset, version)) = task.scan_start() else {
            let r = exec.perform(&op);
            task.handle_io(&op, r);
            continue;
        };
        reads.scan_from(file, offset, version);
        let (r, leaves) = reads.perform(&mut exec, &op);
        task.provide_leaves(leaves);
        task.handle_io(&op, r);
    }
    let edges = task.agent_edges();
    let r = task.take_result().expect("the task ends with a result");
    (r.map(|r| (r, task.stale_indexes().to_vec())), edges)
}

/// Rebuilds the agent indexes of the sealed segments named, from the segments (best effort:
/// a failure leaves the segment to be scanned, as it was). Returns how many were written.
pub fn rebuild_indexes(dir: &Path, segments: &[String]) -> usize {
    let mut written = 0;
    for name in segments {
        let Ok(meta) = std::fs::metadata(dir.join(name)) else {
            continue;
        };
        let mut exec = FsExecutor::new(dir);
        let mut task = evident_core::agent_rebuild::RebuildTask::new(name, meta.len(), 1 << 20);
        while let Some(op) = task.poll_io() {
            let r = exec.perform(&op);
            task.handle_io(&op, r);
        }
        written += task.written() as usize;
    }
    written
}

/// Whether `agent` has any record in the trail: answered from the sealed segments' agent
/// indexes (the record that says yes is read and checked) and a scan of the last segment.
pub fn has_any_records(dir: &Path, agent: &str) -> Result<bool> {
    agent_has_records(dir, agent)
}

/// Whether `agent` has any record in the trail (stops at the first); see [`has_any_records`].
pub fn agent_has_records(dir: &Path, agent: &str) -> Result<bool> {
    let spec = QuerySpec {
        agent: Some(agent.to_string()),
        limit: Some(1),
        ..QuerySpec::default()
    };
    Ok(!query(dir, spec)?.records.is_empty())
}

/// Counts over a trail (or a time range of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records counted.
    pub records: u64,
    /// Records that are not audit events (raw payloads, other JSON).
    pub raw: u64,
    /// Events per kind (`exec.request`, `tool.call`, ...).
    pub by_kind: BTreeMap<String, u64>,
    /// Events per agent.
    pub by_agent: BTreeMap<String, u64>,
    /// Tool-call and exec decisions (`allow`, `deny`, ...).
    pub by_decision: BTreeMap<String, u64>,
    /// First and last timestamp seen.
    pub time_range: Option<(u64, u64)>,
}

/// Counts by kind, agent and decision over the records `spec` selects (streaming: memory holds
/// the counts, not the records).
pub fn stats(dir: &Path, spec: QuerySpec) -> Result<Stats> {
    // Page through the trail so memory stays bounded by one page of records; each page
    // continues where the last stopped (see `QuerySpec::resume_at`).
    let mut s = Stats::default();
    let mut from = spec.from_seq;
    let mut resume_at = spec.resume_at;
    loop {
        let page = query(
            dir,
            QuerySpec {
                from_seq: from,
                limit: Some(4096),
                newest: false,
                resume_at,
                ..spec.clone()
            },
        )?;
        let Some(last) = page.records.last().map(|r| r.seq) else {
            break;
        };
        for r in &page.records {
            s.records += 1;
            s.time_range = Some(match s.time_range {
                None => (r.ts, r.ts),
                Some((a, _)) => (a, r.ts),
            });
            match AuditEvent::from_json(&r.payload) {
                Ok(e) => {
                    *s.by_kind.entry(e.body.kind().to_string()).or_default() += 1;
                    *s.by_agent.entry(e.agent_id.clone()).or_default() += 1;
                    if let Some(d) = e.body.decision() {
                        *s.by_decision.entry(d.as_str().to_string()).or_default() += 1;
                    }
                }
                Err(_) => s.raw += 1,
            }
        }
        if page.records.len() < 4096 {
            break;
        }
        from = Some(last + 1);
        resume_at = page.resume;
    }
    Ok(s)
}
