//! Forward queries for one agent, answered through the sealed segments' agent indexes
//! ([`crate::agent_index`]): cost grows with the agent's records in the range, not with the
//! range.
//!
//! Per candidate sealed segment the query reads the index's header and agent table, the
//! segment's footer (the index must describe exactly that footer), the agent's list, the
//! segment header, and then only the frames of the agent's records in the range, each read
//! together with the frame before it so that its chain hash is checked from that record's
//! (hits close together share one read). Each record is checked as a scan checks it (CRC, seq,
//! chain) and must be at the offset the index gives and belong to the agent.
//!
//! The index is never trusted over the trail: a segment whose index is missing, fails a
//! checksum, disagrees with the footer, or points at a record that is not there or not the
//! agent's, is answered by scanning it (exactly as an index-less query does), and is reported
//! in [`AgentQuery::stale`] for the host to rebuild. A table's counts must add up to the
//! footer's record count, so an index that drops a record is not used.
//!
//! The last segment (being written, no footer) is read through the live index its writer
//! writes now and then ([`crate::trail`]'s live index): the index's header stands in for the
//! footer (its record count must be that of consecutive seqs from the segment's first), the
//! agent's records it lists are read and checked as above, and the segment is then scanned
//! from the last record the index covers on (the `live` submodule): that record must still be where the
//! index says, with that seq and chain hash, which ties the index's claims to the segment;
//! whatever was written after it is scanned. An index that fails any of this makes the query
//! scan the whole segment instead.

use crate::agent_index::{agent_of, index_name, AgentEntry, AgentRow, IndexHead, INDEX_HEADER_LEN};
use crate::checkpoint::Checkpoint;
use crate::config::INDEX_STRIDE;
use crate::error::{Error, Location};
use crate::event::AuditEvent;
use crate::footer::{Footer, MAX_FOOTER_LEN};
use crate::hash::{Hash, LogId};
use crate::header::{SegmentHeader, HEADER_LEN};
use crate::io::{IoDone, IoOp, IoResult};
use crate::naming;
use crate::query::{in_ranges, Found, QueryResult, QuerySpec, ResumeAt, ScanQuery};
use crate::scan::{ScanStart, SegmentScanner};
use crate::segment_links::{Listed, SegmentLinks};
use std::collections::BTreeMap;

mod live;

/// Hits whose frames are at most this far apart share one read (copying a few KiB more costs
/// less than another read; only the hits' frames and those before them are decoded).
const MERGE_GAP: u64 = 4 * 1024;
/// The table is read with the header when it fits in this much.
const FIRST_READ: u64 = 64 * 1024;

#[derive(Debug)]
enum Stage {
    List,
    IndexStart,
    IndexTable,
    Footer,
    AgentList,
    SegHeader,
    /// The header of a segment about to be scanned instead (its anchor and log id checked).
    FallbackHeader,
    Window {
        start: u64,
        end: u64,
        upto: usize,
    },
    Sub,
    Done,
}

/// What a forward agent query over part of a trail learnt about the segments at its range's
/// edges: a host that cut a query into parts at segment starts checks each cut with them, as one
/// query over the whole range checks every link it reads across ([`SegmentLinks`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Edges {
    /// The anchor of the range's first segment, when its header was read.
    pub first_anchor: Option<Hash>,
    /// The last seq and chain value of the range's last segment, when it was read to its end.
    pub last_end: Option<(u64, Hash)>,
    /// The query stopped before its range's last segment because its time range ended there:
    /// one query over a longer range would have stopped there too.
    pub stopped_early: bool,
}

#[derive(Debug, Clone)]
struct Seg {
    first: u64,
    name: String,
    len: u64,
}

/// A forward agent query (see the module documentation). Driven like [`crate::query::QueryTask`],
/// which uses it for `agent` queries that are neither `newest` nor resumed.
pub struct AgentQuery {
    spec: QuerySpec,
    agent: String,
    chunk: u32,
    segs: Vec<Seg>,
    index_len: BTreeMap<String, u64>,
    i: usize,
    hi: usize,
    stage: Stage,
    // The segment being read through its index.
    head_bytes: Vec<u8>,
    ihead: Option<IndexHead>,
    row: Option<AgentRow>,
    footer: Option<Footer>,
    hits: Vec<AgentEntry>,
    next_hit: usize,
    seg_header: Option<SegmentHeader>,
    seg_found: Vec<Found>,
    seg_head: Option<(u64, Hash, u64)>,
    sub: Option<ScanQuery>,
    /// Where the segments read meet their neighbours.
    links: SegmentLinks,
    log_id: Option<LogId>,
    out: Vec<Found>,
    /// Where each record of `out` is, when known (for the result's resume point).
    out_pos: Vec<Option<ResumeAt>>,
    seg_pos: Vec<ResumeAt>,
    head: Option<Checkpoint>,
    segments_read: usize,
    bytes_read: u64,
    stale: Vec<String>,
    /// The segment being read is the last one, through its live index.
    live: bool,
    /// The running sub-query scans the live segment after what its index covers.
    tail: bool,
    /// The current segment's header was asked for before falling back to a scan (once).
    header_asked: bool,
    /// The query stopped before the end of its seq range: the range's time ended.
    stopped_early: bool,
    /// The segment the query began with (index into `segs`).
    first_i: usize,
    result: Option<Result<QueryResult, Error>>,
}

impl AgentQuery {
    /// A query for `spec.agent` (which must be set) reading at most `chunk` bytes at a time.
    pub fn new(spec: QuerySpec, chunk: u32) -> AgentQuery {
        AgentQuery {
            links: SegmentLinks::for_range(spec.to_seq, spec.until),
            agent: spec.agent.clone().unwrap_or_default(),
            spec,
            chunk: chunk.max(4096),
            segs: Vec::new(),
            index_len: BTreeMap::new(),
            i: 0,
            hi: 0,
            stage: Stage::List,
            head_bytes: Vec::new(),
            ihead: None,
            row: None,
            footer: None,
            hits: Vec::new(),
            next_hit: 0,
            seg_header: None,
            seg_found: Vec::new(),
            seg_head: None,
            sub: None,
            log_id: None,
            out: Vec::new(),
            out_pos: Vec::new(),
            seg_pos: Vec::new(),
            head: None,
            segments_read: 0,
            bytes_read: 0,
            stale: Vec::new(),
            live: false,
            tail: false,
            header_asked: false,
            stopped_early: false,
            first_i: 0,
            result: None,
        }
    }

    /// Sealed segments this query scanned because their index could not be used.
    pub fn stale(&self) -> &[String] {
        &self.stale
    }

    /// Takes the answer once it is known.
    pub fn take_result(&mut self) -> Option<Result<QueryResult, Error>> {
        self.result.take()
    }

    fn seg(&self) -> &Seg {
        &self.segs[self.i]
    }

    /// The next request, or `None` once the result is known.
    pub fn poll_io(&mut self) -> Option<IoOp> {
        let read = |file: String, offset: u64, len: u64| IoOp::Read {
            file,
            offset,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        };
        let s = self.segs.get(self.i);
        match &self.stage {
            Stage::List => Some(IoOp::List),
            Stage::IndexStart => {
                let name = index_name(&s?.name);
                let len = self.index_len.get(&name).copied().unwrap_or(0);
                Some(read(name, 0, len.min(FIRST_READ)))
            }
            Stage::IndexTable => {
                let h = self.ihead.as_ref()?;
                Some(read(
                    index_name(&s?.name),
                    INDEX_HEADER_LEN as u64,
                    h.table_len,
                ))
            }
            Stage::Footer => {
                let h = self.ihead.as_ref()?;
                let s = s?;
                Some(read(
                    s.name.clone(),
                    h.footer_offset,
                    s.len - h.footer_offset,
                ))
            }
            Stage::AgentList => {
                let r = self.row.as_ref()?;
                Some(read(index_name(&s?.name), r.list_offset, r.list_len))
            }
            Stage::SegHeader | Stage::FallbackHeader => {
                Some(read(s?.name.clone(), 0, HEADER_LEN as u64))
            }
            Stage::Window { start, end, .. } => Some(read(s?.name.clone(), *start, end - start)),
            Stage::Sub => self.sub.as_mut()?.poll_io(),
            Stage::Done => None,
        }
    }

    /// Feeds the result of the last request.
    pub fn handle_io(&mut self, op: &IoOp, result: IoResult) {
        if let IoResult::Ok(IoDone::Read(d)) = &result {
            if !matches!(self.stage, Stage::Sub) {
                self.bytes_read += d.len() as u64;
            }
        }
        let r = match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Sub => {
                self.stage = Stage::Sub;
                self.on_sub(op, result)
            }
            Stage::List => match result {
                Ok(IoDone::Listed(entries)) => self.on_list(entries),
                Ok(_) => self.next_segment(),
                Err(error) => Err(Error::Io {
                    op: op.name(),
                    location: Location::default(),
                    error,
                }),
            },
            stage => match result {
                // Anything unexpected about the index (unreadable, short, damaged) means the
                // segment is scanned instead; damage to the segment itself is the scan's to report.
                Ok(IoDone::Read(d)) => match self.on_read(stage, &d) {
                    Ok(r) => r,
                    Err(_why) => self.fall_back(),
                },
                _ => self.fall_back(),
            },
        };
        if let Err(e) = r {
            self.stage = Stage::Done;
            self.result = Some(Err(e));
        }
    }

    fn on_list(&mut self, entries: Vec<crate::io::DirEntry>) -> Result<(), Error> {
        for e in entries {
            if let Some(first) = naming::parse_segment_name(&e.name) {
                self.segs.push(Seg {
                    first,
                    name: e.name,
                    len: e.len,
                });
            } else if e.name.ends_with(crate::agent_index::INDEX_EXT) {
                self.index_len.insert(e.name, e.len);
            }
        }
        self.segs.sort_by_key(|s| s.first);
        self.i = match self.spec.from_seq {
            Some(from) => self
                .segs
                .partition_point(|s| s.first <= from)
                .saturating_sub(1),
            None => 0,
        };
        self.hi = match self.spec.to_seq {
            Some(to) => self.segs.partition_point(|s| s.first <= to).max(1),
            None => self.segs.len(),
        }
        .min(self.segs.len());
        self.first_i = self.i;
        self.start_segment()
    }

    /// Where this query's range meets the segments outside it, for a host that answers a
    /// range in parts (see [`Edges`]): known once the result is.
    pub fn edges(&self) -> Edges {
        let last = self.hi.checked_sub(1);
        Edges {
            first_anchor: self.links.anchor_of(self.first_i),
            last_end: last
                .filter(|_| !self.stopped_early)
                .and_then(|l| self.links.end_of(l)),
            stopped_early: self.stopped_early,
        }
    }

    fn remaining(&self) -> Option<usize> {
        self.spec.limit.map(|l| l.saturating_sub(self.out.len()))
    }

    fn start_segment(&mut self) -> Result<(), Error> {
        if self.i >= self.hi || self.remaining() == Some(0) {
            return self.finish();
        }
        self.ihead = None;
        self.row = None;
        self.footer = None;
        self.hits.clear();
        self.next_hit = 0;
        self.seg_header = None;
        self.seg_found.clear();
        self.seg_pos.clear();
        self.seg_head = None;
        self.header_asked = false;
        let last = self.i + 1 == self.segs.len();
        let has_index = self.index_len.contains_key(&index_name(&self.seg().name));
        self.live = last;
        self.tail = false;
        if !has_index {
            return self.fall_back();
        }
        self.stage = Stage::IndexStart;
        Ok(())
    }

    fn next_segment(&mut self) -> Result<(), Error> {
        self.i += 1;
        self.start_segment()
    }

    /// Answers the current segment by scanning it, and notes its index as stale when sealed.
    /// Its header is read first when it was not yet, so that its anchor is checked against the
    /// segment before as for any other (the scan cannot: it reads this segment alone).
    fn fall_back(&mut self) -> Result<(), Error> {
        self.live = false;
        self.tail = false;
        if self.i + 1 < self.segs.len() {
            let name = self.seg().name.clone();
            if !self.stale.contains(&name) {
                self.stale.push(name);
            }
        }
        if self.seg_header.is_none() && !self.header_asked {
            self.header_asked = true;
            self.stage = Stage::FallbackHeader;
            return Ok(());
        }
        self.start_sub()
    }

    fn start_sub(&mut self) -> Result<(), Error> {
        let s = self.seg();
        let from = self.spec.from_seq.map_or(s.first, |f| f.max(s.first));
        let to = match self.segs.get(self.i + 1) {
            Some(next) => {
                let end = next.first.saturating_sub(1);
                Some(self.spec.to_seq.map_or(end, |t| t.min(end)))
            }
            None => self.spec.to_seq,
        };
        let spec = QuerySpec {
            from_seq: Some(from),
            to_seq: to,
            limit: self.remaining(),
            newest: false,
            resume_at: None,
            ..self.spec.clone()
        };
        self.seg_found.clear();
        self.seg_pos.clear();
        self.sub = Some(ScanQuery::new(spec, self.chunk));
        self.stage = Stage::Sub;
        Ok(())
    }

    fn on_sub(&mut self, op: &IoOp, result: IoResult) -> Result<(), Error> {
        let sub = self.sub.as_mut().expect("a sub-query runs");
        sub.handle_io(op, result);
        let Some(r) = sub.take_result() else {
            return Ok(());
        };
        self.sub = None;
        let r = match r {
            Err(Error::CheckpointMismatch { .. }) if self.tail => {
                // The live index's last record is not in the segment as it said.
                return self.fall_back();
            }
            r => r?,
        };
        if self.tail {
            self.tail_found();
        }
        // A scan that read the segment to its end knows where it ends (the scan itself checked
        // that the next segment file starts right after): kept for the next one's anchor.
        if let (Some(h), Some(n)) = (r.head, listed(&self.segs, self.i + 1)) {
            if h.seq.checked_add(1) == Some(n.first) {
                self.links.end(self.i, (h.seq, 0), h.hash, Some(n))?;
            }
        }
        self.segments_read += r.segments_read;
        self.bytes_read += r.bytes_read;
        if let Some(h) = r.head {
            self.log_id.get_or_insert(h.log_id);
            if self.head.is_none_or(|c| h.seq > c.seq) {
                self.head = Some(h);
            }
        }
        let n = r.records.len();
        self.out_pos
            .extend((0..n).map(|k| r.resume.filter(|_| k + 1 == n)));
        self.out.extend(r.records);
        self.next_segment()
    }

    fn on_read(&mut self, stage: Stage, d: &[u8]) -> Result<Result<(), Error>, String> {
        match stage {
            Stage::IndexStart => {
                let h = IndexHead::decode(d)?;
                let s = self.seg();
                let fits = if self.live {
                    live::fits(&h, s.first, s.len)
                } else {
                    h.first_seq == s.first
                        && h.footer_offset > HEADER_LEN as u64
                        && h.footer_offset < s.len
                        && s.len - h.footer_offset <= MAX_FOOTER_LEN as u64
                };
                if !fits {
                    return Err("index does not fit the segment".into());
                }
                self.head_bytes = d.to_vec();
                let table_end = INDEX_HEADER_LEN as u64 + h.table_len;
                self.ihead = Some(h);
                if d.len() as u64 >= table_end {
                    return self.on_table(&d[INDEX_HEADER_LEN..table_end as usize]);
                }
                self.stage = Stage::IndexTable;
                Ok(Ok(()))
            }
            Stage::IndexTable => self.on_table(d),
            Stage::Footer => {
                let h = self.ihead.as_ref().expect("read before");
                let f = Footer::decode(d).map_err(|e| e.to_string())?;
                if f.offset != h.footer_offset || !h.matches_footer(&f) {
                    return Err("index does not match the footer".into());
                }
                let next = listed(&self.segs, self.i + 1);
                if let Err(e) = self
                    .links
                    .end(self.i, (f.last_seq, f.last_ts), f.last_hash, next)
                {
                    return Ok(Err(e));
                }
                Ok(self.with_footer(f))
            }
            Stage::AgentList => {
                let h = self.ihead.as_ref().expect("read before");
                let row = self.row.as_ref().expect("read before");
                // Every entry of the agent in this segment is read and checked, not only those
                // in the query's range: a forged index that hides one of the agent's records
                // in the range by filing another agent's record in its place (counts kept)
                // is caught by the substitute, wherever it points. The ranges and the full
                // event decoding pick what is returned (see `on_window`).
                self.hits = h.entries(row, d)?;
                if self.hits.is_empty() && !self.live {
                    return Ok(self.next_segment());
                }
                self.segments_read += 1;
                Ok(self.next_window())
            }
            Stage::SegHeader => {
                let h = SegmentHeader::decode(d).map_err(|e| e.to_string())?;
                if h.first_seq != self.seg().first || self.log_id.is_some_and(|id| id != h.log_id) {
                    return Err("segment header disagrees".into());
                }
                let this = listed(&self.segs, self.i).expect("segment i");
                if let Err(e) = self.links.start(self.i, this, h.anchor) {
                    return Ok(Err(e));
                }
                self.seg_header = Some(h);
                Ok(self.with_header())
            }
            Stage::Window { start, upto, .. } => self.on_window(start, upto, d),
            Stage::FallbackHeader => Ok(self.on_fallback_header(d)),
            _ => Ok(Ok(())),
        }
    }

    /// The header of a segment to be scanned: its anchor and log id are checked as the
    /// scan of a whole trail checks them; a header that does not decode is the scan's to report.
    fn on_fallback_header(&mut self, d: &[u8]) -> Result<(), Error> {
        if let Ok(h) = SegmentHeader::decode(d) {
            let s = &self.segs[self.i];
            if let Some(id) = self.log_id.filter(|id| *id != h.log_id) {
                let location = Location::file(&s.name).at(16).seq(s.first);
                return Err(Error::other_log(location, h.log_id, id));
            }
            if h.first_seq == s.first {
                let this = listed(&self.segs, self.i).expect("segment i");
                self.links.start(self.i, this, h.anchor)?;
            }
        }
        self.start_sub()
    }

    fn on_table(&mut self, table: &[u8]) -> Result<Result<(), Error>, String> {
        let h = self.ihead.as_ref().expect("read before");
        self.row = h.find(&self.head_bytes, table, &self.agent)?;
        if self.live {
            // No footer: the index's header stands in for it (checked by the tail's scan).
            return Ok(self.with_footer(live::covered(h)));
        }
        self.stage = Stage::Footer;
        Ok(Ok(()))
    }

    /// Goes on once the footer (or the live index's stand-in) is known: to the segment header,
    /// read for every segment in the range so that its anchor is checked against the segment
    /// before (see [`SegmentLinks`]), and needed for the log id and the hits' chain hashes.
    fn with_footer(&mut self, f: Footer) -> Result<(), Error> {
        let before = self.spec.until.is_some_and(|u| u <= f.first_ts)
            || self.spec.to_seq.is_some_and(|t| t < f.first_seq);
        self.footer = Some(f);
        if before {
            // Nothing here or later.
            self.stopped_early = true;
            return self.finish();
        }
        self.stage = Stage::SegHeader;
        Ok(())
    }

    /// Goes on once the segment header is known too.
    fn with_header(&mut self) -> Result<(), Error> {
        let f = self.footer.as_ref().expect("read before");
        let after = self.spec.since.is_some_and(|s| s > f.last_ts);
        if after || self.row.is_none() {
            if self.live {
                // None of the agent's records here: on to what the index does not cover.
                self.hits.clear();
                self.segments_read += 1;
                return self.next_window();
            }
            return self.next_segment();
        }
        self.stage = Stage::AgentList;
        Ok(())
    }

    /// Plans the read of the next group of hits.
    fn next_window(&mut self) -> Result<(), Error> {
        // No early stop at the limit either: every entry is checked (see AgentList).
        if self.next_hit >= self.hits.len() {
            return self.end_segment();
        }
        let pred = |e: &AgentEntry| e.offset - e.prev_len as u64;
        let first = &self.hits[self.next_hit];
        let start = if first.prev_len == 0 {
            HEADER_LEN as u64
        } else {
            pred(first)
        };
        let mut end = first.offset + first.len as u64;
        let mut upto = self.next_hit + 1;
        while let Some(e) = self.hits.get(upto) {
            let e_end = e.offset + e.len as u64;
            if pred(e) > end + MERGE_GAP || e_end - start > self.chunk as u64 {
                break;
            }
            end = e_end;
            upto += 1;
        }
        self.stage = Stage::Window { start, end, upto };
        Ok(())
    }

    fn on_window(
        &mut self,
        start: u64,
        upto: usize,
        d: &[u8],
    ) -> Result<Result<(), Error>, String> {
        let h = self.seg_header.as_ref().expect("read before");
        let f = self.footer.as_ref().expect("read before");
        for k in self.next_hit..upto {
            let hit = self.hits[k];
            // Only the hit's frame and the one before it are decoded: the hit's chain hash is
            // checked from its predecessor's (the segment's anchor for the first record).
            let from_anchor = hit.prev_len == 0;
            let pred = hit.offset - hit.prev_len as u64;
            let end = hit.offset + hit.len as u64;
            let bytes = d
                .get((pred - start) as usize..(end - start) as usize)
                .ok_or("an indexed record is outside the read")?;
            let mut scanner = SegmentScanner::new(ScanStart {
                offset: pred,
                file_len: f.offset,
                seq: if from_anchor {
                    h.first_seq
                } else {
                    hit.seq - 1
                },
                prev_hash: from_anchor.then_some(h.anchor),
                prev_ts: 0,
                index_stride: INDEX_STRIDE,
                strict: false,
                version: h.version,
            });
            scanner.push(bytes);
            let mut before = from_anchor.then_some(h.anchor);
            if !from_anchor {
                let Some(p) = scanner.next_record() else {
                    return Err("the record before an indexed one is not where it says".into());
                };
                if p.offset != pred || p.seq + 1 != hit.seq {
                    return Err("the record before an indexed one is not where it says".into());
                }
                before = Some(p.hash);
            }
            let Some(r) = scanner.next_record() else {
                return Err("an indexed record is not where the index says".into());
            };
            // The full event decoding first: for an event it gives the agent field as
            // `agent_of` would (see there), so only a payload that is no event pays for both.
            let event = AuditEvent::from_json(r.payload).ok();
            let agent = match &event {
                Some(e) => Some(std::borrow::Cow::Borrowed(e.agent_id.as_str())),
                None => agent_of(r.payload),
            };
            if (r.seq, r.offset, r.frame_len, r.ts) != (hit.seq, hit.offset, hit.len, hit.ts)
                || agent.as_deref() != Some(self.agent.as_str())
            {
                return Err("an indexed record is not the agent's".into());
            }
            let cp = (r.seq, r.hash, r.offset);
            if self.seg_head.is_none_or(|(s, ..)| r.seq > s) {
                self.seg_head = Some(cp);
            }
            // The agent field is the agent's (checked above): what remains of `spec_matches`
            // is the ranges, and that the payload is a whole event.
            if in_ranges(&self.spec, r.seq, r.ts) && event.is_some() {
                self.seg_pos.push(ResumeAt {
                    segment: self.segs[self.i].first,
                    offset: r.offset,
                    after: Checkpoint {
                        log_id: h.log_id,
                        seq: r.seq,
                        hash: r.hash,
                    },
                });
                self.seg_found.push(Found {
                    seq: r.seq,
                    ts: r.ts,
                    hash: r.hash,
                    prev_hash: before,
                    payload: r.payload.to_vec(),
                });
            }
        }
        self.next_hit = upto;
        Ok(self.next_window())
    }

    fn end_segment(&mut self) -> Result<(), Error> {
        let log_id = self.seg_header.as_ref().map(|h| h.log_id);
        if let Some(id) = log_id {
            self.log_id.get_or_insert(id);
        }
        if self.live {
            // What the index found is kept until the scan after it confirms the index.
            return self.start_tail();
        }
        self.take_segment_results();
        self.next_segment()
    }

    /// Moves what the segment just read found into the answer (up to the limit), and
    /// advances the head to the segment's last record.
    pub(super) fn take_segment_results(&mut self) {
        if let Some((seq, hash, _)) = self.seg_head {
            let cp = Checkpoint {
                log_id: self.log_id.unwrap_or_default(),
                seq,
                hash,
            };
            if self.head.is_none_or(|c| seq > c.seq) {
                self.head = Some(cp);
            }
        }
        let mut found = std::mem::take(&mut self.seg_found);
        let mut pos = std::mem::take(&mut self.seg_pos);
        if let Some(l) = self.remaining() {
            found.truncate(l);
            pos.truncate(l);
        }
        self.out.extend(found);
        self.out_pos.extend(pos.into_iter().map(Some));
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.stage = Stage::Done;
        if let Some(l) = self.spec.limit {
            self.out.truncate(l);
        }
        self.out_pos.truncate(self.out.len());
        let resume = self.out_pos.last().copied().flatten();
        self.result = Some(Ok(QueryResult {
            records: std::mem::take(&mut self.out),
            head: self.head,
            segments_read: self.segments_read,
            bytes_read: self.bytes_read,
            resume,
        }));
        Ok(())
    }
}

/// Segment `i` of the listing, as [`SegmentLinks`] names it.
fn listed(segs: &[Seg], i: usize) -> Option<Listed<'_>> {
    segs.get(i).map(|s| Listed {
        name: &s.name,
        first: s.first,
    })
}
