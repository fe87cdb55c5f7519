//! The last step of an open after a crash: writing the last segment's bytes that may exist
//! only in the page cache again, and syncing them, before anything is acknowledged.
//!
//! A writer whose fsync failed and that then gave up leaves its last records in the page cache
//! with the pages marked clean (the kernel forgets the error and the data with it): a later
//! fsync does not write them, however many succeed ("fsyncgate"). A second writer in the same
//! boot reads them back, chains its own records after them and acknowledges those once its
//! fsyncs succeed; a power loss would then leave a hole in front of acknowledged records, and
//! the trail would refuse to open. Writing the bytes again (identical, read back from the
//! cache) dirties the pages, so the open's sync covers them.
//!
//! What needs it: everything after the record `head.checkpoint` names, when that record is in
//! the last segment (the checkpoint is written only once its record is durable), else the whole
//! segment after its header. A trail closed cleanly has its checkpoint at its last record and
//! rewrites nothing; after a crash it is what was written since the last periodic refresh
//! (`Options::checkpoint_interval`).

use crate::error::{Error, Location};
use crate::io::IoOp;
use std::collections::VecDeque;

/// A rewrite in progress: the bytes `[offset, end)` of `file` are read back and written again,
/// then the open's remaining steps (`held`, which sync the file before anything else) run.
pub(super) struct TailRewrite {
    pub file: String,
    pub offset: u64,
    pub end: u64,
    /// The open's steps that must follow the rewrite (its sync, and for a sealed tail the
    /// creation of the next segment).
    pub held: VecDeque<IoOp>,
}

impl TailRewrite {
    /// The next read, `chunk` bytes at most.
    pub fn next_read(&self, chunk: u32) -> IoOp {
        IoOp::Read {
            file: self.file.clone(),
            offset: self.offset,
            len: (self.end - self.offset).min(chunk as u64) as u32,
        }
    }

    /// Takes what a read returned; gives the write that puts it back. A read that returns
    /// nothing means the file is shorter than the scan found it: something else changed it.
    pub fn on_read(&mut self, data: Vec<u8>) -> Result<IoOp, Error> {
        if data.is_empty() {
            return Err(Error::Corrupt {
                location: Location::file(&self.file).at(self.offset),
                what: format!(
                    "the segment ended at offset {} while its tail was being rewritten to {} \
                     (changed during the open?)",
                    self.offset, self.end
                ),
            });
        }
        let take = data.len().min((self.end - self.offset) as usize);
        let mut data = data;
        data.truncate(take);
        let write = IoOp::Write {
            file: self.file.clone(),
            offset: self.offset,
            data,
        };
        self.offset += take as u64;
        Ok(write)
    }

    /// Whether every byte has been written back.
    pub fn is_done(&self) -> bool {
        self.offset >= self.end
    }
}
