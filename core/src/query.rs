//! Queries over a trail: records by seq, by time range, by agent and time range, the N most
//! recent, whether an agent has any record. Driven through [`IoOp`] requests like verification.
//!
//! Cost grows with the answer, not with the trail: a seq is located from segment file names
//! alone; a time is located by binary search over sealed segments' footers (their first and last
//! timestamps, O(log segments) small reads) and then inside a segment by its sparse index (one
//! entry per 64 KiB), so a time-range query reads only the segments it returns records from,
//! from the index entry before its start. Timestamps never decrease along a trail, which is what
//! makes this sound. Agent filters scan, streaming, with memory bounded by one segment chunk
//! and the answer's limit.
//!
//! Every record returned carries its chain hash, and the one before it whenever the query read
//! that one too (`prev_hash`), so a client can recompute it; the result carries a checkpoint at
//! the last record read, which the returned records chain to and which `verify --checkpoint`
//! proves.
//!
//! Paging: a forward query's result carries [`QueryResult::resume`], the position of the last
//! record it examined. Given back as [`QuerySpec::resume_at`], the next page continues the scan
//! right there — no binary search, no header or footer read, no rescan of the segment from its
//! start or its index entry — so reading a trail page by page costs about one read of it, even
//! through the unsealed last segment, which has no index.

use crate::checkpoint::Checkpoint;
use crate::config::INDEX_STRIDE;
use crate::error::{Error, Location};
use crate::event::AuditEvent;
use crate::footer::{Footer, TRAILER_LEN};
use crate::frame::{ALIGN, RECORD_HEADER_LEN};
use crate::hash::{Hash, LogId};
use crate::header::{FormatVersion, SegmentHeader, HEADER_LEN};
use crate::io::{IoDone, IoOp, IoResult};
use crate::leaves::PrecomputedLeaf;
use crate::naming;
use crate::scan::{ScanStart, SegmentEnd, SegmentScanner};
use crate::segment_links::{Listed, SegmentLinks};
use std::collections::VecDeque;

/// What to look for. Every field narrows the result; the default returns every record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuerySpec {
    /// Only records with seq ≥ this.
    pub from_seq: Option<u64>,
    /// Only records with seq ≤ this.
    pub to_seq: Option<u64>,
    /// Only records with timestamp ≥ this (ns since the epoch).
    pub since: Option<u64>,
    /// Only records with timestamp < this.
    pub until: Option<u64>,
    /// Only audit events of this agent (`gen_ai.agent.id`).
    pub agent: Option<String>,
    /// At most this many records.
    pub limit: Option<usize>,
    /// Return the *last* `limit` matching records (still in seq order) instead of the first.
    pub newest: bool,
    /// Continue after this position: the previous page's [`QueryResult::resume`]. Only
    /// records with seq greater than `resume_at.after.seq` are returned (it raises `from_seq`),
    /// so the pages of a query concatenate to its unpaged answer. A forward query continues
    /// scanning at the position instead of locating its start again; it first re-reads the
    /// record there and checks that it still has the seq and chain hash of `after`, then
    /// checks the chain from it. A position whose segment no longer exists (removed by
    /// retention) falls back to locating `from_seq`; one that does not match the trail (it
    /// was rewritten, or the position is of another trail) is an
    /// [`Error::CheckpointMismatch`]. `newest` queries only use its seq.
    pub resume_at: Option<ResumeAt>,
}

/// Where a forward query stopped: the last record it examined (returned, or passed over by the
/// filters), so that the next page can continue right after it. Obtained from
/// [`QueryResult::resume`]; a plain value, so a client may keep it between processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeAt {
    /// First seq of the segment holding the record (the segment file is
    /// [`naming::segment_name`] of it).
    pub segment: u64,
    /// File offset of the record's frame in that segment.
    pub offset: u64,
    /// The record: the trail's log id, its seq and its chain hash.
    pub after: Checkpoint,
}

/// One record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp.
    pub ts: u64,
    /// Chain hash after this record.
    pub hash: Hash,
    /// Chain hash before it (a client recomputes `hash` = chain(prev_hash, leaf(record))):
    /// the segment's anchor or the previous record's hash, as this query read it. `None` for a
    /// record the query reached by seeking into a segment through its sparse index, whose
    /// predecessor it did not read. A query resumed with [`QuerySpec::resume_at`] re-reads the
    /// record it resumes after, so its first record has `prev_hash` too.
    pub prev_hash: Option<Hash>,
    /// The payload.
    pub payload: Vec<u8>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    /// Matching records in seq order.
    pub records: Vec<Found>,
    /// A checkpoint at the last record the query read (at or after every record returned; the
    /// trail's head when the scan reached the end, as `newest` queries always do): the returned
    /// records chain to it, and `verify --checkpoint` proves it.
    pub head: Option<Checkpoint>,
    /// Segment files read (for the cost claims: compare with the trail's segment count).
    pub segments_read: usize,
    /// Bytes read.
    pub bytes_read: u64,
    /// Where to continue: the last record this query examined, or, when it examined none, the
    /// [`QuerySpec::resume_at`] it was given (`None` for `newest` queries). Pass it as
    /// `resume_at` of the next page, with the same filters: the next page returns the matching
    /// records after it, reading on from there. At the end of the trail it marks the head, so
    /// polling with it later returns only the records appended since. A forward agent query
    /// that did not resume (answered through the agent indexes) examines only the agent's
    /// records: its `resume` is the last record it returned (`None` when it returned none).
    pub resume: Option<ResumeAt>,
}

#[derive(Debug, Clone)]
struct Seg {
    first: u64,
    name: String,
    len: u64,
    footer: Option<Option<Footer>>,
}

#[derive(Debug)]
enum Stage {
    List,
    /// Reading segment `i`'s trailer (then footer) for the binary search or a seek.
    Trailer {
        i: usize,
    },
    Footer {
        i: usize,
        offset: u64,
    },
    Header {
        i: usize,
    },
    Scan {
        i: usize,
        offset: u64,
    },
    Done,
}

/// Smallest read while scanning near a limit (see [`QueryTask::scan_len`]).
const MIN_READ: u64 = 4096;

/// A query, driven through IO requests: [`QueryTask::poll_io`], perform, [`QueryTask::handle_io`],
/// until [`QueryTask::take_result`] returns `Some`.
///
/// A forward query for one agent (not `newest`, not resumed) reads the sealed segments' agent
/// indexes ([`crate::agent_query`]); every other query scans.
pub struct QueryTask(Inner);

enum Inner {
    Scan(Box<ScanQuery>),
    Agent(Box<crate::agent_query::AgentQuery>),
}

impl QueryTask {
    /// A query reading `chunk` bytes at a time.
    pub fn new(spec: QuerySpec, chunk: u32) -> QueryTask {
        if spec.agent.is_some() && !spec.newest && spec.resume_at.is_none() {
            return QueryTask(Inner::Agent(Box::new(crate::agent_query::AgentQuery::new(
                spec, chunk,
            ))));
        }
        QueryTask(Inner::Scan(Box::new(ScanQuery::new(spec, chunk))))
    }

    /// The next request, or `None` once the result is known.
    pub fn poll_io(&mut self) -> Option<IoOp> {
        match &mut self.0 {
            Inner::Scan(q) => q.poll_io(),
            Inner::Agent(q) => q.poll_io(),
        }
    }

    /// Feeds the result of the last request.
    pub fn handle_io(&mut self, op: &IoOp, result: IoResult) {
        match &mut self.0 {
            Inner::Scan(q) => q.handle_io(op, result),
            Inner::Agent(q) => q.handle_io(op, result),
        }
    }

    /// Takes the answer once it is known.
    pub fn take_result(&mut self) -> Option<Result<QueryResult, Error>> {
        match &mut self.0 {
            Inner::Scan(q) => q.take_result(),
            Inner::Agent(q) => q.take_result(),
        }
    }

    /// Where the segment scan in progress began: the segment file, the offset of the entry
    /// frame it began at, and the segment's format version. A host that hashes leaves ahead
    /// (see [`crate::leaves`]) starts its [`crate::leaves::LeafPlanner::at`] there; `None`
    /// when no segment is being scanned (and for forward agent queries, which read windows
    /// through the agent indexes).
    pub fn scan_start(&self) -> Option<(&str, u64, FormatVersion)> {
        match &self.0 {
            Inner::Scan(q) => q.scan_start(),
            Inner::Agent(_) => None,
        }
    }

    /// Hands over leaf hashes computed ahead for the bytes of the read request just performed
    /// (see [`crate::leaves`]); call it before [`QueryTask::handle_io`] with that read's
    /// result. They save work and never change an answer: the scanner uses a leaf only for
    /// the entry at exactly its offset and seq, and hashes every other one itself.
    pub fn provide_leaves(&mut self, leaves: Vec<PrecomputedLeaf>) {
        if let Inner::Scan(q) = &mut self.0 {
            if let (Stage::Scan { .. }, Some(s)) = (&q.stage, q.scanner.as_mut()) {
                s.provide_leaves(leaves);
            }
        }
    }

    /// For a forward agent query: what it learnt about the segments at its range's edges (see
    /// [`crate::agent_query::Edges`]); `None` for every other query.
    pub fn agent_edges(&self) -> Option<crate::agent_query::Edges> {
        match &self.0 {
            Inner::Scan(_) => None,
            Inner::Agent(q) => Some(q.edges()),
        }
    }

    /// Sealed segments whose agent index was missing, damaged or inconsistent with the
    /// segment, so this query scanned them: a host may rebuild their indexes
    /// ([`crate::agent_rebuild::RebuildTask`]).
    pub fn stale_indexes(&self) -> &[String] {
        match &self.0 {
            Inner::Scan(_) => &[],
            Inner::Agent(q) => q.stale(),
        }
    }
}

/// The scanning query (every query but a forward agent query, and that one's fallback for a
/// segment whose index cannot be used).
pub(crate) struct ScanQuery {
    spec: QuerySpec,
    chunk: u32,
    segs: Vec<Seg>,
    stage: Stage,
    // Binary search over segments by time: the answer lies in [lo, hi).
    lo: usize,
    hi: usize,
    searching: bool,
    /// Segment order to scan (forward, or backward for `newest`).
    cursor: Option<usize>,
    scanner: Option<SegmentScanner>,
    /// Where the scan of the current segment began: segment index, frame offset, version.
    scan_from: Option<(usize, u64, FormatVersion)>,
    scan_end: u64,
    prev_hash: Option<Hash>,
    log_id: Option<LogId>,
    out: VecDeque<Found>,
    /// For `newest`: records found in the segment being scanned (prepended when it ends).
    seg_out: Vec<Found>,
    head: Option<Checkpoint>,
    /// Timestamp of the first record scanned in the current segment.
    seg_first_ts: Option<u64>,
    /// Segments past this index cannot hold a match (by seq).
    scan_hi: usize,
    segments_read: usize,
    bytes_read: u64,
    /// The resume point being continued from, until the record at it was read and checked.
    resume_pending: Option<ResumeAt>,
    /// The last record examined: segment index, frame offset, seq, hash.
    last: Option<(usize, u64, u64, Hash)>,
    /// Frame bytes of the records examined, for sizing reads near a limit.
    scanned: u64,
    /// End of the last record examined in the segment being scanned.
    consumed_to: u64,
    /// Smallest read near a limit; doubles when a read completes no record (a large frame).
    read_floor: u64,
    /// Where the segments read meet their neighbours.
    links: SegmentLinks,
    result: Option<Result<QueryResult, Error>>,
}

impl ScanQuery {
    /// A query reading `chunk` bytes at a time.
    pub(crate) fn new(mut spec: QuerySpec, chunk: u32) -> ScanQuery {
        if let Some(r) = spec.resume_at {
            let after = r.after.seq.saturating_add(1);
            spec.from_seq = Some(spec.from_seq.map_or(after, |f| f.max(after)));
        }
        let links = SegmentLinks::for_range(spec.to_seq, spec.until);
        ScanQuery {
            spec,
            chunk: chunk.max(4096),
            segs: Vec::new(),
            stage: Stage::List,
            lo: 0,
            hi: 0,
            searching: false,
            cursor: None,
            scanner: None,
            scan_from: None,
            scan_end: 0,
            prev_hash: None,
            log_id: None,
            out: VecDeque::new(),
            seg_out: Vec::new(),
            head: None,
            seg_first_ts: None,
            scan_hi: 0,
            segments_read: 0,
            bytes_read: 0,
            resume_pending: None,
            last: None,
            scanned: 0,
            consumed_to: 0,
            read_floor: MIN_READ,
            links,
            result: None,
        }
    }

    /// The next request, or `None` once the result is known.
    pub fn poll_io(&mut self) -> Option<IoOp> {
        // Every read is bounded by the format (a chunk, a header, a footer of at most
        // `MAX_FOOTER_LEN`), never by what a file claims; saturate rather than wrap.
        let read = |s: &Seg, offset: u64, len: u64| IoOp::Read {
            file: s.name.clone(),
            offset,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        };
        match self.stage {
            Stage::List => Some(IoOp::List),
            Stage::Trailer { i } => {
                let s = &self.segs[i];
                Some(read(
                    s,
                    s.len.saturating_sub(TRAILER_LEN as u64),
                    TRAILER_LEN as u64,
                ))
            }
            Stage::Footer { i, offset } => {
                Some(read(&self.segs[i], offset, self.segs[i].len - offset))
            }
            Stage::Header { i } => Some(read(&self.segs[i], 0, HEADER_LEN as u64)),
            Stage::Scan { i, offset } => Some(read(&self.segs[i], offset, self.scan_len(offset))),
            Stage::Done => None,
        }
    }

    /// Bytes to read at `offset`: a whole chunk, except when a limit is near. Then about what
    /// the remaining records need, judged by the bytes per match so far (an eighth more, at
    /// least [`MIN_READ`]), so that a page does not read most of a chunk past its last record
    /// — the next page would read those bytes again.
    fn scan_len(&self, offset: u64) -> u64 {
        let full = (self.scan_end - offset).min(self.chunk as u64);
        let found = self.out.len() as u64;
        let limit = match self.spec.limit {
            Some(l) if !self.spec.newest && found > 0 => l as u64,
            _ => return full,
        };
        let need = limit
            .saturating_sub(found)
            .saturating_mul(self.scanned.div_ceil(found));
        let held = offset.saturating_sub(self.consumed_to);
        need.saturating_add(need / 8)
            .saturating_sub(held)
            .max(self.read_floor)
            .div_ceil(MIN_READ)
            .saturating_mul(MIN_READ)
            .min(full)
    }

    /// See [`QueryTask::scan_start`].
    fn scan_start(&self) -> Option<(&str, u64, FormatVersion)> {
        let (i, offset, version) = self.scan_from?;
        match self.stage {
            Stage::Scan { i: at, .. } if at == i => Some((&self.segs[i].name, offset, version)),
            _ => None,
        }
    }

    /// Takes the answer once it is known.
    pub fn take_result(&mut self) -> Option<Result<QueryResult, Error>> {
        self.result.take()
    }

    fn finish(&mut self, r: Result<(), Error>) {
        self.stage = Stage::Done;
        let resume = match self.last {
            _ if self.spec.newest => None,
            Some((i, offset, seq, hash)) => Some(ResumeAt {
                segment: self.segs[i].first,
                offset,
                after: Checkpoint {
                    log_id: self.log_id.unwrap_or_default(),
                    seq,
                    hash,
                },
            }),
            None => self.spec.resume_at,
        };
        self.result = Some(r.map(|()| QueryResult {
            records: std::mem::take(&mut self.out).into(),
            head: self.head,
            segments_read: self.segments_read,
            bytes_read: self.bytes_read,
            resume,
        }));
    }

    /// Feeds the result of the last request.
    pub fn handle_io(&mut self, op: &IoOp, result: IoResult) {
        let done = match result {
            Ok(d) => d,
            Err(error) => {
                let location = op.file().map(Location::file).unwrap_or_default();
                return self.finish(Err(Error::Io {
                    op: op.name(),
                    location,
                    error,
                }));
            }
        };
        if let IoDone::Read(d) = &done {
            self.bytes_read += d.len() as u64;
        }
        let r = match (&self.stage, done) {
            (Stage::List, IoDone::Listed(entries)) => self.on_list(entries),
            (&Stage::Trailer { i }, IoDone::Read(d)) => self.on_trailer(i, &d),
            (&Stage::Footer { i, offset }, IoDone::Read(d)) => {
                let f = Footer::decode(&d).ok().filter(|f| f.offset == offset);
                let linked = match &f {
                    Some(f) => self.links.end(
                        i,
                        (f.last_seq, f.last_ts),
                        f.last_hash,
                        listed(&self.segs, i + 1),
                    ),
                    None => Ok(()),
                };
                self.segs[i].footer = Some(f);
                linked.and_then(|()| self.next())
            }
            (&Stage::Header { i }, IoDone::Read(d)) => self.on_header(i, &d),
            (&Stage::Scan { i, offset }, IoDone::Read(d)) => self.on_chunk(i, offset, &d),
            _ => Ok(()),
        };
        if let Err(e) = r {
            self.finish(Err(e));
        }
    }

    fn on_list(&mut self, entries: Vec<crate::io::DirEntry>) -> Result<(), Error> {
        for e in entries {
            if let Some(first) = naming::parse_segment_name(&e.name) {
                self.segs.push(Seg {
                    first,
                    name: e.name,
                    len: e.len,
                    footer: None,
                });
            }
        }
        self.segs.sort_by_key(|s| s.first);
        if self.segs.is_empty() {
            self.finish(Ok(()));
            return Ok(());
        }
        // Narrow by seq from the names alone.
        let n = self.segs.len();
        self.lo = match self.spec.from_seq {
            Some(from) => self
                .segs
                .partition_point(|s| s.first <= from)
                .saturating_sub(1),
            None => 0,
        };
        self.hi = match self.spec.to_seq {
            Some(to) => self.segs.partition_point(|s| s.first <= to).max(1),
            None => n,
        };
        self.scan_hi = self.hi;
        if let Some(r) = self.spec.resume_at.filter(|_| !self.spec.newest) {
            if let Some(i) = self.segs.iter().position(|s| s.first == r.segment) {
                return self.resume(i, r);
            }
            // The segment is gone (retention): locate `from_seq` as usual.
        }
        if self.spec.newest {
            // From the last candidate segment backwards; time bounds are checked per record.
            self.cursor = Some(self.hi - 1);
            return self.next();
        }
        self.searching = self.spec.since.is_some();
        self.next()
    }

    /// Decides the next stage: continue the binary search, or start or continue scanning.
    fn next(&mut self) -> Result<(), Error> {
        if self.searching {
            // Find the first segment in [lo, hi) whose last timestamp is ≥ since. The last
            // segment of the trail (unsealed) counts as reaching the present.
            let since = self.spec.since.expect("searching by time");
            while self.lo + 1 < self.hi {
                let mid = self.lo + (self.hi - self.lo) / 2 - 1;
                match &self.segs[mid].footer {
                    None => {
                        self.stage = Stage::Trailer { i: mid };
                        return Ok(());
                    }
                    Some(Some(f)) => {
                        if f.last_ts >= since {
                            self.hi = mid + 1;
                        } else {
                            self.lo = mid + 1;
                        }
                    }
                    // A sealed segment without a readable footer: stop narrowing, scan from lo.
                    Some(None) => break,
                }
            }
            self.searching = false;
            self.cursor = Some(self.lo);
            self.hi = self.segs.len();
        }
        let Some(i) = self.cursor else {
            self.cursor = Some(self.lo);
            return self.next();
        };
        // To seek inside a sealed segment we want its footer.
        let wants_seek =
            self.spec.since.is_some() || self.spec.from_seq.is_some_and(|f| f > self.segs[i].first);
        let last = i + 1 == self.segs.len();
        if wants_seek && !last && self.segs[i].footer.is_none() && !self.spec.newest {
            self.stage = Stage::Trailer { i };
            return Ok(());
        }
        self.stage = Stage::Header { i };
        Ok(())
    }

    /// Continues scanning segment `i` at the resume point `r`: from the frame of the record it
    /// was taken after, which is read again and must still be that record.
    fn resume(&mut self, i: usize, r: ResumeAt) -> Result<(), Error> {
        let seg = &self.segs[i];
        let next_first = self.segs.get(i + 1).map(|s| s.first);
        let fits = r.after.seq >= seg.first
            && next_first.is_none_or(|n| r.after.seq < n)
            && r.offset >= HEADER_LEN as u64
            && r.offset.is_multiple_of(ALIGN as u64)
            && r.offset.saturating_add(RECORD_HEADER_LEN as u64) <= seg.len;
        if !fits {
            return Err(self.resume_mismatch(&r, "is not a record position in that segment"));
        }
        // The segment's header first: its version says how the leaves of the records after the
        // resume point are hashed (a version-1 trail is paged like any other).
        self.resume_pending = Some(r);
        self.cursor = Some(i);
        self.stage = Stage::Header { i };
        Ok(())
    }

    /// Continues the scan of segment `i`, whose header `h` was just read, at the resume point.
    fn resume_after_header(&mut self, i: usize, h: &SegmentHeader) -> Result<(), Error> {
        let r = self.resume_pending.expect("resuming");
        if h.log_id != r.after.log_id {
            return Err(self.resume_mismatch(&r, "belongs to another log"));
        }
        self.log_id = Some(h.log_id);
        let seg = &self.segs[i];
        let start = ScanStart {
            offset: r.offset,
            file_len: seg.len,
            seq: r.after.seq,
            // The record at the resume point is read again and checked against `after`: the
            // chain is checked from it on.
            prev_hash: None,
            prev_ts: 0,
            index_stride: INDEX_STRIDE,
            strict: i + 1 < self.segs.len(),
            version: h.version,
        };
        self.begin_scan(i, start, seg.len)
    }

    fn resume_mismatch(&self, r: &ResumeAt, what: &str) -> Error {
        Error::CheckpointMismatch {
            checkpoint: r.after,
            what: format!(
                "resume point: offset {} of {} {what} (the trail changed, or the position is \
                 from another trail)",
                r.offset,
                naming::segment_name(r.segment)
            ),
        }
    }

    fn on_trailer(&mut self, i: usize, d: &[u8]) -> Result<(), Error> {
        match Footer::trailer_offset(d, self.segs[i].len) {
            Ok(offset) => self.stage = Stage::Footer { i, offset },
            Err(_) => {
                self.segs[i].footer = Some(None);
                return self.next();
            }
        }
        Ok(())
    }

    fn on_header(&mut self, i: usize, d: &[u8]) -> Result<(), Error> {
        let seg = &self.segs[i];
        if i + 1 == self.segs.len() && d.iter().all(|&b| b == 0) {
            // The last segment's header is not written yet (shorter than a header, or still the
            // preallocated zeros): a writer is creating it, or recovery will remove it. Either
            // way it holds no record yet, and a query answers from the segments before it;
            // judging it is `verify`'s work.
            if let Some(r) = self.resume_pending {
                return Err(self.resume_mismatch(&r, "holds no record with that seq"));
            }
            return self.after_segment(i);
        }
        let h = SegmentHeader::decode(d).map_err(|e| Error::Corrupt {
            location: Location::file(&seg.name).at(0),
            what: e.to_string(),
        })?;
        // The same header checks as verify and open: a segment named for one first seq whose
        // header says another, or one of another log, is not read as this trail's.
        if h.first_seq != seg.first {
            return Err(Error::Corrupt {
                location: Location::file(&seg.name).at(0).seq(seg.first),
                what: format!(
                    "segment header says first seq {} but the file is named for {}",
                    h.first_seq, seg.first
                ),
            });
        }
        if let Some(id) = self.log_id.filter(|id| *id != h.log_id) {
            let location = Location::file(&seg.name).at(0).seq(seg.first);
            return Err(Error::other_log(location, h.log_id, id));
        }
        self.links
            .start(i, listed(&self.segs, i).expect("segment i"), h.anchor)?;
        if self.resume_pending.is_some() {
            return self.resume_after_header(i, &h);
        }
        self.log_id.get_or_insert(h.log_id);
        let mut start = ScanStart::after_header(&h, seg.len, i + 1 < self.segs.len());
        let mut end = seg.len;
        if let Some(Some(f)) = &seg.footer {
            end = f.offset;
            start.file_len = f.offset;
            start.strict = false;
            // Start from whichever index entry is later: the one for `since` or for `from_seq`.
            let by_ts = self.spec.since.and_then(|since| f.seek_ts(since));
            let by_seq = self.spec.from_seq.and_then(|from| f.seek_seq(from));
            let entry = match (by_ts, by_seq) {
                (Some(a), Some(b)) => Some(if a.offset >= b.offset { a } else { b }),
                (a, b) => a.or(b),
            };
            if let Some(e) = entry.filter(|e| e.offset > HEADER_LEN as u64) {
                start.offset = e.offset;
                start.seq = e.seq;
                start.prev_hash = None;
            }
        }
        self.begin_scan(i, start, end)
    }

    /// Starts scanning segment `i` from `start` up to `end`.
    fn begin_scan(&mut self, i: usize, start: ScanStart, end: u64) -> Result<(), Error> {
        self.prev_hash = start.prev_hash;
        self.scan_end = end;
        self.consumed_to = start.offset;
        self.scan_from = Some((i, start.offset, start.version));
        self.scanner = Some(SegmentScanner::new(start));
        self.seg_first_ts = None;
        self.segments_read += 1;
        if start.offset >= end {
            return self.end_segment(i);
        }
        self.stage = Stage::Scan {
            i,
            offset: start.offset,
        };
        Ok(())
    }

    fn matches(&self, seq: u64, ts: u64, payload: &[u8]) -> bool {
        spec_matches(&self.spec, seq, ts, payload)
    }
}

/// Whether a record at `seq` and `ts` is in the ranges of `s` (seq and time).
pub(crate) fn in_ranges(s: &QuerySpec, seq: u64, ts: u64) -> bool {
    !(s.from_seq.is_some_and(|f| seq < f)
        || s.to_seq.is_some_and(|t| seq > t)
        || s.since.is_some_and(|v| ts < v)
        || s.until.is_some_and(|u| ts >= u))
}

/// Whether a record is in the answer to `s`.
pub(crate) fn spec_matches(s: &QuerySpec, seq: u64, ts: u64, payload: &[u8]) -> bool {
    if !in_ranges(s, seq, ts) {
        return false;
    }
    match &s.agent {
        // The agent field alone first (cheap, and never says another agent for an event's
        // payload: see `agent_of`); the full decoding only for the agent's own records.
        Some(a) => {
            crate::agent_index::agent_of(payload).as_deref() == Some(a.as_str())
                && AuditEvent::from_json(payload).is_ok_and(|e| &e.agent_id == a)
        }
        None => true,
    }
}

impl ScanQuery {
    /// Whether nothing later in the trail can match (forward scans).
    fn past_the_end(&self, seq: u64, ts: u64) -> bool {
        self.spec.to_seq.is_some_and(|t| seq > t) || self.spec.until.is_some_and(|u| ts >= u)
    }

    fn on_chunk(&mut self, i: usize, offset: u64, d: &[u8]) -> Result<(), Error> {
        let mut scanner = self.scanner.take().expect("scanning");
        scanner.push(d);
        let mut stop = false;
        let mut any = false;
        while let Some(r) = scanner.next_record() {
            any = true;
            if let Some(p) = self.resume_pending.take() {
                if (r.offset, r.seq, r.hash) != (p.offset, p.after.seq, p.after.hash) {
                    let what = format!("holds seq {} with another chain hash", r.seq);
                    return Err(self.resume_mismatch(&p, &what));
                }
            }
            self.scanned += r.frame_len as u64;
            self.consumed_to = r.offset + r.frame_len as u64;
            let prev = self.prev_hash;
            self.prev_hash = Some(r.hash);
            if self.head.is_none_or(|h| r.seq > h.seq) {
                self.head = Some(Checkpoint {
                    log_id: self.log_id.unwrap_or_default(),
                    seq: r.seq,
                    hash: r.hash,
                });
            }
            self.seg_first_ts.get_or_insert(r.ts);
            if !self.spec.newest && self.past_the_end(r.seq, r.ts) {
                stop = true;
                break;
            }
            if !self.spec.newest && self.spec.limit == Some(0) {
                // Zero means zero: the scan only established the head.
                stop = true;
                break;
            }
            self.last = Some((i, r.offset, r.seq, r.hash));
            if self.matches(r.seq, r.ts, r.payload) {
                let found = Found {
                    seq: r.seq,
                    ts: r.ts,
                    hash: r.hash,
                    prev_hash: prev,
                    payload: r.payload.to_vec(),
                };
                if self.spec.newest {
                    self.seg_out.push(found);
                } else {
                    self.out.push_back(found);
                    if self.spec.limit.is_some_and(|l| self.out.len() >= l) {
                        stop = true;
                        break;
                    }
                }
            }
        }
        if let Some(p) = self.resume_pending.filter(|_| scanner.records_ended()) {
            return Err(self.resume_mismatch(&p, "holds no record with that seq"));
        }
        if !any && !scanner.records_ended() {
            // A frame larger than the reads so far: read more at a time.
            self.read_floor = (self.read_floor * 2).min(self.chunk as u64);
        }
        let next = offset + d.len() as u64;
        // Preallocated space at the end of the live segment: the records have ended, and a
        // reader need not read megabytes of zeros to classify them.
        let zeros = scanner.records_ended() && !d.is_empty() && d.iter().all(|&b| b == 0);
        self.scanner = Some(scanner);
        if zeros && i + 1 == self.segs.len() {
            self.scanner = None;
            return self.after_segment(i);
        }
        if stop {
            self.finish(Ok(()));
            return Ok(());
        }
        if next < self.scan_end
            && !d.is_empty()
            && !self.scanner.as_ref().is_some_and(|s| s.is_done())
        {
            self.stage = Stage::Scan { i, offset: next };
            return Ok(());
        }
        self.end_segment(i)
    }

    fn end_segment(&mut self, i: usize) -> Result<(), Error> {
        let summary = self.scanner.take().expect("scanning").finish();
        if let Some(p) = self.resume_pending.take() {
            return Err(self.resume_mismatch(&p, "holds no record with that seq"));
        }
        if let SegmentEnd::Corrupt(d) = summary.end {
            return Err(Error::Corrupt {
                location: Location::file(&self.segs[i].name).at(d.offset).seq(d.seq),
                what: d.kind.to_string(),
            });
        }
        if summary.records > 0 {
            let last = summary.next_seq - 1;
            self.links.end(
                i,
                (last, summary.last_ts),
                summary.last_hash,
                listed(&self.segs, i + 1),
            )?;
        }
        self.after_segment(i)
    }

    fn after_segment(&mut self, i: usize) -> Result<(), Error> {
        if self.spec.newest {
            let mut seg_out = std::mem::take(&mut self.seg_out);
            if let Some(l) = self.spec.limit {
                let want = l.saturating_sub(self.out.len());
                if seg_out.len() > want {
                    seg_out.drain(..seg_out.len() - want);
                }
            }
            for f in seg_out.into_iter().rev() {
                self.out.push_front(f);
            }
            let full = self.spec.limit.is_some_and(|l| self.out.len() >= l);
            // Earlier segments hold earlier timestamps only.
            let before_since = self
                .spec
                .since
                .is_some_and(|s| self.seg_first_ts.is_some_and(|t| t < s));
            if full || before_since || i <= self.lo {
                self.finish(Ok(()));
                return Ok(());
            }
            self.cursor = Some(i - 1);
            return self.next();
        }
        if i + 1 >= self.scan_hi {
            self.finish(Ok(()));
            return Ok(());
        }
        self.cursor = Some(i + 1);
        self.next()
    }
}

/// Segment `i` of the listing, as [`SegmentLinks`] names it.
fn listed(segs: &[Seg], i: usize) -> Option<Listed<'_>> {
    segs.get(i).map(|s| Listed {
        name: &s.name,
        first: s.first,
    })
}
