//! Rebuilding a sealed segment's agent index from the segment: what a host does for the
//! segments a query reported stale ([`crate::query::QueryTask::stale_indexes`]). It reads the
//! footer, then the records once, chunk by chunk, and writes the index as the writer would
//! have (the same bytes). A segment that does not scan cleanly to its footer gets no index;
//! judging it is `verify`'s work.

use crate::agent_index::{write_ops_via, AgentIndexBuilder};
use crate::footer::{Footer, TRAILER_LEN};
use crate::header::{SegmentHeader, HEADER_LEN};
use crate::io::{IoDone, IoOp, IoResult};
use crate::scan::{ScanStart, SegmentEnd, SegmentScanner};
use std::collections::VecDeque;

enum Stage {
    Trailer,
    Footer { offset: u64 },
    Header,
    Scan { offset: u64 },
    Write,
    Done,
}

/// Rebuilds the index of one sealed segment, driven through IO requests:
/// [`RebuildTask::poll_io`], perform, [`RebuildTask::handle_io`], until `poll_io` returns `None`.
pub struct RebuildTask {
    segment: String,
    len: u64,
    chunk: u32,
    stage: Stage,
    footer: Option<Footer>,
    scanner: Option<SegmentScanner>,
    builder: AgentIndexBuilder,
    writes: VecDeque<IoOp>,
    written: bool,
}

impl RebuildTask {
    /// Rebuilds the index of `segment`, a sealed segment file of `len` bytes.
    pub fn new(segment: &str, len: u64, chunk: u32) -> RebuildTask {
        RebuildTask {
            segment: segment.to_string(),
            len,
            chunk: chunk.max(4096),
            stage: Stage::Trailer,
            footer: None,
            scanner: None,
            builder: AgentIndexBuilder::default(),
            writes: VecDeque::new(),
            written: false,
        }
    }

    /// Whether the index file was written (all its steps succeeded).
    pub fn written(&self) -> bool {
        self.written
    }

    /// The next request, or `None` when done.
    pub fn poll_io(&mut self) -> Option<IoOp> {
        let read = |offset: u64, len: u64| IoOp::Read {
            file: self.segment.clone(),
            offset,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        };
        match self.stage {
            Stage::Trailer => Some(read(
                self.len.saturating_sub(TRAILER_LEN as u64),
                TRAILER_LEN as u64,
            )),
            Stage::Footer { offset } => Some(read(offset, self.len - offset)),
            Stage::Header => Some(read(0, HEADER_LEN as u64)),
            Stage::Scan { offset } => {
                let end = self.footer.as_ref().map_or(0, |f| f.offset);
                Some(read(offset, (end - offset).min(self.chunk as u64)))
            }
            Stage::Write => self.writes.front().cloned(),
            Stage::Done => None,
        }
    }

    /// Feeds the result of the last request.
    pub fn handle_io(&mut self, _op: &IoOp, result: IoResult) {
        let stage = std::mem::replace(&mut self.stage, Stage::Done);
        let Ok(done) = result else { return };
        self.stage = match (stage, done) {
            (Stage::Trailer, IoDone::Read(d)) => match Footer::trailer_offset(&d, self.len) {
                Ok(offset) => Stage::Footer { offset },
                Err(_) => Stage::Done,
            },
            (Stage::Footer { offset }, IoDone::Read(d)) => match Footer::decode(&d) {
                Ok(f) if f.offset == offset => {
                    self.footer = Some(f);
                    Stage::Header
                }
                _ => Stage::Done,
            },
            (Stage::Header, IoDone::Read(d)) => self.on_header(&d),
            (Stage::Scan { offset }, IoDone::Read(d)) => self.on_chunk(offset, &d),
            (Stage::Write, _) => {
                self.writes.pop_front();
                if self.writes.is_empty() {
                    self.written = true;
                    Stage::Done
                } else {
                    Stage::Write
                }
            }
            _ => Stage::Done,
        };
    }

    fn on_header(&mut self, d: &[u8]) -> Stage {
        let (Ok(h), Some(f)) = (SegmentHeader::decode(d), self.footer.as_ref()) else {
            return Stage::Done;
        };
        if h.first_seq != f.first_seq {
            return Stage::Done;
        }
        self.builder = AgentIndexBuilder::new(h.first_seq);
        self.scanner = Some(SegmentScanner::new(ScanStart::after_header(
            &h, f.offset, false,
        )));
        if f.offset <= HEADER_LEN as u64 {
            return self.end();
        }
        Stage::Scan {
            offset: HEADER_LEN as u64,
        }
    }

    fn on_chunk(&mut self, offset: u64, d: &[u8]) -> Stage {
        let end = self.footer.as_ref().map_or(0, |f| f.offset);
        let scanner = self.scanner.as_mut().expect("scanning");
        scanner.push(d);
        while let Some(r) = scanner.next_record() {
            self.builder.observe(r.ts, r.offset, r.frame_len, r.payload);
        }
        let next = offset + d.len() as u64;
        if next < end && !d.is_empty() && !scanner.is_done() {
            return Stage::Scan { offset: next };
        }
        self.end()
    }

    fn end(&mut self) -> Stage {
        let summary = self.scanner.take().expect("scanning").finish();
        let f = self.footer.as_ref().expect("read before");
        if matches!(summary.end, SegmentEnd::Corrupt(_)) || summary.records != f.count {
            return Stage::Done;
        }
        self.writes = write_ops_via(&self.segment, self.builder.encode(f), ".rebuild.tmp").into();
        if self.writes.is_empty() {
            Stage::Done
        } else {
            Stage::Write
        }
    }
}
