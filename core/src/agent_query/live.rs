//! The live (last, unsealed) segment through its live index: what stands in for the footer,
//! and the scan after what the index covers, which also confirms the index (see the parent
//! module's documentation).

use super::{AgentQuery, Stage};
use crate::agent_index::IndexHead;
use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::footer::Footer;
use crate::header::HEADER_LEN;
use crate::query::{QuerySpec, ResumeAt, ScanQuery};

/// Whether a live index's header can describe the live segment `first` of `len` bytes: its
/// records are consecutive seqs from the segment's first, end inside the file, and the last
/// one's frame is inside them.
pub(super) fn fits(h: &IndexHead, first: u64, len: u64) -> bool {
    let records = HEADER_LEN as u64..=len;
    h.first_seq == first
        && h.count > 0
        && h.last_seq.checked_sub(h.first_seq) == Some(h.count - 1)
        && h.first_ts <= h.last_ts
        && records.contains(&h.footer_offset)
        && h.last_len > 0
        && h.last_len as u64 <= h.footer_offset - HEADER_LEN as u64
}

/// The footer a live index stands in for: the records it covers.
pub(super) fn covered(h: &IndexHead) -> Footer {
    Footer {
        count: h.count,
        first_seq: h.first_seq,
        last_seq: h.last_seq,
        last_hash: h.last_hash,
        first_ts: h.first_ts,
        last_ts: h.last_ts,
        index_stride: 0,
        index: Vec::new(),
        edge: Vec::new(),
        offset: h.footer_offset,
    }
}

impl AgentQuery {
    /// Scans the live segment from the last record its index covers on: a resumed scan, which
    /// first reads that record again and requires its seq and chain hash (a mismatch falls back
    /// to scanning the whole segment).
    pub(super) fn start_tail(&mut self) -> Result<(), Error> {
        let (Some(f), Some(h), Some(seg)) = (
            self.footer.as_ref(),
            self.ihead.as_ref(),
            self.seg_header.as_ref(),
        ) else {
            return self.fall_back();
        };
        let resume = ResumeAt {
            segment: self.segs[self.i].first,
            offset: f.offset - h.last_len as u64,
            after: Checkpoint {
                log_id: seg.log_id,
                seq: f.last_seq,
                hash: f.last_hash,
            },
        };
        // At least one record is asked for, so the resume point is always read and checked.
        let limit = self
            .remaining()
            .map(|l| l.saturating_sub(self.seg_found.len()).max(1));
        let spec = QuerySpec {
            resume_at: Some(resume),
            limit,
            newest: false,
            ..self.spec.clone()
        };
        self.sub = Some(ScanQuery::new(spec, self.chunk));
        self.tail = true;
        self.stage = Stage::Sub;
        Ok(())
    }

    /// The tail confirmed the live index: what the index found comes before the tail's records.
    pub(super) fn tail_found(&mut self) {
        self.tail = false;
        self.live = false;
        self.take_segment_results();
    }
}
