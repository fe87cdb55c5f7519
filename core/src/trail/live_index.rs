//! The live segment's agent index: the writer writes the index of the segment it is
//! appending to (the records so far, [`crate::agent_builder::AgentIndexBuilder::encode_live`])
//! whenever an eighth of a segment was written since the last time, and at close, so that a
//! reader in any process (the CLI, another service, the component) reads the agent's records
//! of the live segment through it and scans only what was written after it. The file is the
//! sealed segment's index file (`<first seq>.agents`), written the same way (temporary file,
//! rename, no sync) and as unimportant: sealing replaces it, and a reader that finds it
//! missing, damaged, or not matching the segment scans the segment (see
//! [`crate::agent_query`]).
//!
//! Why the writer persists it rather than each reader keeping its own in memory: most readers
//! are short-lived (`evident query`, a component instance per request), so an index in a
//! reader's memory would be rebuilt by a scan of the live segment on nearly every query, which
//! is the cost the index exists to remove. The writer already holds the index in memory (built
//! at open from the scan recovery does anyway, then fed by every commit), and its lists grow by
//! appending, so writing it costs a copy of the lists.

use super::maintain::{After, Job};
use super::Trail;
use crate::io::IoOp;

/// The live index is written again once this share of a segment (1/8) was written since.
const SHARE: u64 = 8;
/// ... and at least this many bytes (small segments rotate before).
const MIN_GROWTH: u64 = 4096;

impl Trail {
    /// Whether the live segment holds records its written index does not cover: at all
    /// (`any`), or at least the share that makes writing it again worthwhile.
    pub(super) fn live_index_due(&self, any: bool) -> bool {
        let Some(a) = &self.active else {
            return false;
        };
        let grown = a.written_end.saturating_sub(a.live_index_end);
        let enough = (self.opts.segment_bytes / SHARE).max(MIN_GROWTH);
        grown > 0
            && (any || grown >= enough)
            && a.agents.is_complete()
            && a.agents.len() as u64 == a.records
    }

    /// The steps that write the live segment's index (each tolerant: the file is derived data).
    pub(super) fn live_index_steps(&mut self) -> Vec<(IoOp, After)> {
        let head = self.head;
        let Some(a) = self.active.as_mut() else {
            return Vec::new();
        };
        a.live_index_end = a.written_end;
        let data = a.agents.encode_live(a.written_end, head);
        crate::agent_index::write_ops(&a.name, data)
            .into_iter()
            .map(|op| (op, After::Tolerant))
            .collect()
    }

    /// Starts writing the live segment's index (between batches).
    pub(super) fn start_live_index(&mut self) {
        let steps = self.live_index_steps();
        self.run(Job::AgentIndex, steps);
    }
}
