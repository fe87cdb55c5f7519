//! Zero-filling ahead of the writer: the active segment's preallocated space is written with
//! zeros a little ahead of the records ([`Options::zero_fill_ahead`]), between batches.
//!
//! Why: preallocated space is reserved but unwritten (`fallocate`), or sparse where the host
//! cannot reserve (WASI `set-size`). An append into it makes its `fdatasync` commit the block
//! allocation or the unwritten-to-written extent change as well as the data; into blocks
//! already written, the sync flushes the data alone, as a database does that prepares its
//! write-ahead log's segments with zeros. The writer pays for the zeros once per chunk (a
//! page-cache copy here, flushed by the next batch's sync), not once per sync.
//!
//! Why it is safe: the zeros go only where the file already reads as zero: at or after the
//! end of the records written (`written_end`), within the file's length, from the main lane,
//! which has one request outstanding at a time, so no batch is being written meanwhile and
//! none can have reached past `written_end`. A crash or power loss that drops them leaves what
//! was there: zeros. Nothing records or recovery read depends on them, and a failed zero write
//! fails no append: the writer stops filling that segment and goes on.
//!
//! When: before a batch once fewer than half of `zero_fill_ahead` bytes are filled ahead of
//! the records (one chunk, an eighth, before each batch at most), and up to the whole of it
//! while the trail is idle (unless [`Options::zero_fill_when_idle`] is off: a host whose idle
//! time is the end of a caller's call); never past the segment's reserved length, never into a segment whose
//! preallocation failed, never for a segment about to rotate, never before this writer's
//! first batch. A writer cannot tell zeros written by an earlier one from reserved space, so
//! after an open it fills from its last record again.
//!
//! [`Options::zero_fill_ahead`]: crate::Options::zero_fill_ahead
//! [`Options::zero_fill_when_idle`]: crate::Options::zero_fill_when_idle

use super::maintain::{After, Job};
use super::Trail;
use crate::config::Durability;
use crate::io::IoOp;

impl Trail {
    /// Starts a zero write ahead of the records when one is due (`idle`: the trail has nothing
    /// else to do, so the space ahead is filled up to `zero_fill_ahead`; otherwise only when
    /// less than half of it is left). Returns whether it did.
    pub(super) fn start_zero_fill(&mut self, idle: bool) -> bool {
        let Some((op, end)) = self.zero_fill_due(idle) else {
            return false;
        };
        if !idle {
            self.zeros_before_batch = true;
        }
        self.run(Job::ZeroFill, vec![(op, After::ZeroFilled { end })]);
        true
    }

    /// The zero write due now and the end it fills to, if any.
    fn zero_fill_due(&self, idle: bool) -> Option<(IoOp, u64)> {
        let ahead = self.opts.zero_fill_ahead;
        // Only where an acknowledgement waits for an fdatasync: under `Os` or `Interval` the
        // zeros would be a second page-cache copy of every byte for a sync nobody waits on.
        let waits_for_sync = matches!(self.opts.durability, Durability::Always);
        if !self.opts.preallocate || ahead == 0 || !waits_for_sync {
            return None;
        }
        // Not before this writer's first batch: a writer that opens, appends a few records and
        // closes (`evident append` of one line) gets its first acknowledgement without
        // waiting for zeros, and may close before any are due.
        if self.health.health.batches == 0 {
            return None;
        }
        let a = self.active.as_ref()?;
        // Only inside the reserved length: the file is never extended by zeros, so not at all
        // where the reservation failed (`file_len` is then only what was asked for).
        if !a.reserved {
            return None;
        }
        let limit = a.file_len.min(self.opts.segment_bytes);
        let from = a.zeroed_end.max(a.written_end);
        if from >= limit {
            return None;
        }
        let chunk = (ahead / 8).max(1);
        let filled = from - a.written_end;
        // Before a batch, one chunk at most: a caller waits for that batch.
        let due = if idle {
            filled + chunk <= ahead
        } else {
            filled < ahead / 2 && !self.zeros_before_batch
        };
        if !due {
            return None;
        }
        let len = chunk.min(limit - from);
        let op = IoOp::WriteZeros {
            file: a.name.clone(),
            offset: from,
            len,
        };
        Some((op, from + len))
    }

    /// A preallocation failed (ENOSPC, or a host that cannot reserve): the segment it was for
    /// is not filled.
    pub(super) fn reservation_failed(&mut self, new_segment: bool) {
        if new_segment {
            self.new_segment_unreserved = true;
        } else if let Some(a) = self.active.as_mut() {
            a.reserved = false;
        }
    }

    /// A zero write finished: `Ok` moves the filled end on; a failure stops filling this
    /// segment (its appends go into the space as it is, as without zero-filling).
    pub(super) fn on_zero_fill(&mut self, end: u64, ok: bool) {
        if let Some(a) = self.active.as_mut() {
            a.zeroed_end = if ok {
                a.zeroed_end.max(end)
            } else {
                a.file_len
            };
        }
    }
}
