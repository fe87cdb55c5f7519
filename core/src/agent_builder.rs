//! Building a segment's agent index ([`crate::agent_index`]) as its records are committed.
//!
//! The builder keeps one encoded list per agent and appends to it as records arrive, so an
//! index file is the lists copied back to back behind a table: encoding at sealing costs a
//! copy, not a pass over the segment's records, and the writer can afford to write the index
//! of the live (unsealed) segment now and then ([`AgentIndexBuilder::encode_live`]): a reader
//! then scans only the records written after it. The records themselves are kept too (24
//! bytes each), so a failed write can be undone ([`AgentIndexBuilder::truncate`]).

use crate::agent_index::{agent_of, assemble, put_entry, AgentEntry};
use crate::footer::Footer;
use crate::hash::Hash;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
struct Rec {
    agent: u32,
    len: u32,
    ts: u64,
    offset: u64,
}

const NO_AGENT: u32 = u32::MAX;

/// One agent's encoded list.
#[derive(Debug, Clone, Default)]
struct List {
    bytes: Vec<u8>,
    count: u64,
    /// Seq and timestamp of the last entry (the next one is encoded from them).
    prev: (u64, u64),
}

/// Collects agent → records for the active segment as the writer commits them.
#[derive(Debug, Clone, Default)]
pub struct AgentIndexBuilder {
    first_seq: u64,
    names: BTreeMap<String, u32>,
    recs: Vec<Rec>,
    /// The lists, by agent number, holding the first `encoded` records.
    lists: Vec<List>,
    encoded: usize,
    unindexed: u64,
    /// The first record's timestamp the lists are encoded from.
    base_ts: u64,
    /// False when the builder missed records (after a re-verification): its index is not
    /// written, and queries scan that segment until the index is rebuilt.
    complete: bool,
}

impl AgentIndexBuilder {
    /// An empty builder for a segment whose first record has `first_seq`.
    pub fn new(first_seq: u64) -> AgentIndexBuilder {
        AgentIndexBuilder {
            first_seq,
            complete: true,
            ..AgentIndexBuilder::default()
        }
    }

    /// Notes the next record of the segment (records come in seq order).
    pub fn observe(&mut self, ts: u64, offset: u64, len: u32, payload: &[u8]) {
        self.observe_agent(ts, offset, len, agent_of(payload).as_deref());
    }

    /// [`AgentIndexBuilder::observe`] for a record whose agent id was read already (a
    /// [`crate::PreparedPayload`]'s).
    pub fn observe_agent(&mut self, ts: u64, offset: u64, len: u32, agent: Option<&str>) {
        let agent = match agent {
            None => NO_AGENT,
            Some(a) => match self.names.get(a) {
                Some(&n) => n,
                None => {
                    let n = self.names.len() as u32;
                    self.names.insert(a.to_owned(), n);
                    n
                }
            },
        };
        self.recs.push(Rec {
            agent,
            len,
            ts,
            offset,
        });
    }

    /// Records noted so far.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// Whether no record was noted.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Forgets the records after the first `n` (a failed write is undone).
    pub fn truncate(&mut self, n: usize) {
        self.recs.truncate(n);
        if n < self.encoded {
            // Rare (a failed write): encode again from the start.
            self.lists.clear();
            self.encoded = 0;
            self.unindexed = 0;
        }
    }

    /// Marks the builder as having missed records: no index is encoded.
    pub fn mark_incomplete(&mut self) {
        self.complete = false;
    }

    /// Whether the builder holds every record of its segment so far.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Brings the lists up to date with the records noted.
    fn catch_up(&mut self, base_ts: u64) {
        if self.encoded > 0 && self.base_ts != base_ts {
            self.lists.clear();
            self.encoded = 0;
            self.unindexed = 0;
        }
        self.base_ts = base_ts;
        self.lists.resize_with(self.names.len(), List::default);
        for i in self.encoded..self.recs.len() {
            let r = self.recs[i];
            if r.agent == NO_AGENT {
                self.unindexed += 1;
                continue;
            }
            let seq = self.first_seq + i as u64;
            let list = &mut self.lists[r.agent as usize];
            let prev = if list.count == 0 {
                (self.first_seq, base_ts)
            } else {
                list.prev
            };
            let entry = AgentEntry {
                seq,
                ts: r.ts,
                offset: r.offset,
                len: r.len,
                prev_len: if i == 0 { 0 } else { self.recs[i - 1].len },
            };
            put_entry(&mut list.bytes, prev, &entry);
            list.count += 1;
            list.prev = (seq, r.ts);
        }
        self.encoded = self.recs.len();
    }

    fn assemble(&mut self, footer: &Footer, last_len: u32) -> Vec<u8> {
        self.catch_up(footer.first_ts);
        let lists = &self.lists;
        let rows = self
            .names
            .iter()
            .map(|(name, &n)| (name.as_str(), &lists[n as usize]))
            // An agent whose records were all undone has no row (a row counts at least one).
            .filter(|(_, l)| l.count > 0)
            .map(|(name, l)| (name, l.count, l.bytes.as_slice()));
        assemble(footer, self.unindexed, last_len, rows)
    }

    /// The index file for the segment sealed by `footer`, or `None` when the builder does not
    /// hold exactly the footer's records.
    pub fn encode(&mut self, footer: &Footer) -> Option<Vec<u8>> {
        if !self.complete
            || self.recs.len() as u64 != footer.count
            || footer.first_seq != self.first_seq
        {
            return None;
        }
        Some(self.assemble(footer, 0))
    }

    /// The index of the live segment's records so far, whose last record has chain hash
    /// `last_hash` and ends at offset `end`: the layout of a sealed segment's index, with `end`
    /// where the footer offset is and the last record's frame length in the header (see
    /// [`crate::agent_index::IndexHead::last_len`]). `None` when the builder is incomplete or
    /// holds no record.
    pub fn encode_live(&mut self, end: u64, last_hash: Hash) -> Option<Vec<u8>> {
        let (first, last) = (self.recs.first()?, self.recs.last()?);
        if !self.complete {
            return None;
        }
        let count = self.recs.len() as u64;
        let covered = Footer {
            count,
            first_seq: self.first_seq,
            last_seq: self.first_seq + count - 1,
            last_hash,
            first_ts: first.ts,
            last_ts: last.ts,
            index_stride: 0,
            index: Vec::new(),
            edge: Vec::new(),
            offset: end,
        };
        let last_len = last.len;
        Some(self.assemble(&covered, last_len))
    }
}
