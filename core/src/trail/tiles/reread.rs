//! The tile lane reading records back from a segment: when the level-0 nodes it needs next
//! are not in its buffer (dropped while the lane was far behind, or the tiles behind the trail
//! after a crash or a rebuild), it reads the segment that holds them chunk by chunk, hashes
//! each record's leaf again and tiles it (see the parent module).

use super::{Step, Tiles};
use crate::config::INDEX_STRIDE;
use crate::frame::KIND_ENTRY;
use crate::hash;
use crate::header::{FormatVersion, HEADER_LEN};
use crate::io::IoOp;
use crate::scan::{ScanStart, SegmentScanner};
use crate::tree::leaf_node;

/// Reading one segment's records to tile them.
#[derive(Debug)]
pub(super) struct SegmentRead {
    /// The segment's file name.
    name: String,
    /// Its length, `u64::MAX` until asked.
    len: u64,
    /// Where the next chunk is read.
    offset: u64,
    /// Follows the records of the chunks read so far.
    scanner: SegmentScanner,
    /// Entries from here on are wanted (the builder's size when the read started).
    from: u64,
    /// Entries before this are wanted (the durable size, or the buffer's start).
    until: u64,
}

impl Tiles {
    /// A chunk of the segment being read, from `offset`: its records' leaves are hashed and
    /// tiled in order, from the builder's size up to `until`.
    pub(super) fn on_chunk(&mut self, offset: u64, data: Vec<u8>) {
        let Some(mut r) = self.reading.take() else {
            return;
        };
        if data.is_empty() || offset != r.offset {
            self.reading = Some(r);
            return self.segment_done();
        }
        r.offset += data.len() as u64;
        r.scanner.push(&data);
        let mut reached_until = false;
        let mut rebuilt = false;
        while let Some(rec) = r.scanner.next_record() {
            let entry = rec.seq - 1;
            if entry < self.builder.size() || entry < r.from {
                continue;
            }
            if entry >= r.until || entry != self.builder.size() {
                reached_until = true;
                break;
            }
            let leaf = hash::leaf(KIND_ENTRY, rec.seq, rec.ts, rec.payload);
            if !self.push(leaf_node(&leaf)) {
                rebuilt = true;
                break;
            }
            if self.builder.size() >= r.until {
                reached_until = true;
                break;
            }
        }
        if rebuilt || self.status.disabled.is_some() {
            return; // `reading` was reset
        }
        let finished = reached_until || r.scanner.is_done() || r.offset >= r.len;
        self.reading = Some(r);
        if finished {
            self.segment_done();
        }
    }

    /// The segment read ended; the next poll reads the next segment if entries are still
    /// missing. A segment that gave nothing means the records are not where the trail says.
    pub(super) fn segment_done(&mut self) {
        let Some(r) = self.reading.take() else {
            return;
        };
        if self.builder.size() == r.from {
            self.disable(format!(
                "segment {} does not hold record seq {} the tiles need",
                r.name,
                r.from + 1
            ));
        }
    }
}

/// A lenient scan of a format-2 segment from its first frame, whose first record is `seq`.
fn from_header(seq: u64, file_len: u64) -> ScanStart {
    ScanStart {
        offset: HEADER_LEN as u64,
        file_len,
        seq,
        prev_hash: None,
        prev_ts: 0,
        index_stride: INDEX_STRIDE,
        strict: false,
        version: FormatVersion::V2,
    }
}

impl SegmentRead {
    /// A read of segment `name`, whose first record is `first`, for the entries
    /// `from..until`; its length is asked first.
    pub(super) fn new(name: String, first: u64, from: u64, until: u64) -> SegmentRead {
        SegmentRead {
            name,
            len: u64::MAX,
            offset: HEADER_LEN as u64,
            scanner: SegmentScanner::new(from_header(first, u64::MAX)),
            from,
            until,
        }
    }

    /// The request that goes on with the read: the segment's length until it is known, then
    /// its next chunk (at most `read_chunk` bytes).
    pub(super) fn next_request(&self, read_chunk: u32) -> (IoOp, Step) {
        if self.len == u64::MAX {
            let op = IoOp::Length {
                file: self.name.clone(),
            };
            return (op, Step::SegmentLength);
        }
        let op = IoOp::Read {
            file: self.name.clone(),
            offset: self.offset,
            len: ((self.len - self.offset).min(u64::from(read_chunk))) as u32,
        };
        (
            op,
            Step::SegmentChunk {
                offset: self.offset,
            },
        )
    }

    /// The segment's length is known: the scan starts again from its first frame, with it.
    /// Returns whether the read is already at its end.
    pub(super) fn set_len(&mut self, len: u64) -> bool {
        self.len = len;
        self.scanner = SegmentScanner::new(from_header(self.scanner_seq(), len));
        self.offset >= len
    }

    /// A read that failed starts over: its length asked again, from its first frame.
    pub(super) fn restart(&mut self) {
        self.len = u64::MAX;
        self.offset = HEADER_LEN as u64;
    }

    fn scanner_seq(&self) -> u64 {
        crate::naming::parse_segment_name(&self.name).unwrap_or(1)
    }
}
