//! Where one segment meets the next, as a query sees it: a segment ends at some seq with some
//! chain value (its footer says so, or a scan to its end found it), and the next segment file
//! starts at the seq its name gives with the anchor its header holds. They must meet: the next
//! starts at the seq after, and its anchor is that chain value.
//!
//! Queries check this for every pair of neighbouring segments they read both sides of, so a
//! segment deleted from the middle of a trail (or one of another history put in its place) is
//! reported where it is, instead of answered around: without it a time-range or agent query
//! over that stretch returns the records before and after the hole and nothing says that some
//! are missing. `verify` checks every link of the trail; a query checks those it reads.

use crate::error::{Error, Location};
use crate::hash::Hash;
use std::collections::BTreeMap;

/// The ends and anchors of the segments a query has read, by the segment's position in the
/// query's sorted listing.
#[derive(Debug, Default)]
pub struct SegmentLinks {
    ends: BTreeMap<usize, (u64, Hash)>,
    anchors: BTreeMap<usize, Hash>,
    /// The query's last seq, if it has one: a hole after it is none of its business.
    to_seq: Option<u64>,
    /// The query's end of time: a hole after a segment whose last record is at or after it
    /// holds only records after it.
    until: Option<u64>,
}

/// A segment file as the listing names it.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    /// Its file name.
    pub name: &'a str,
    /// The first seq its name gives.
    pub first: u64,
}

impl SegmentLinks {
    /// Links for a query of seqs up to `to_seq` and times before `until` (each when set): a
    /// hole wholly after those is not reported.
    pub fn for_range(to_seq: Option<u64>, until: Option<u64>) -> SegmentLinks {
        SegmentLinks {
            to_seq,
            until,
            ..SegmentLinks::default()
        }
    }

    /// Segment `i` ends at `last_seq` (timestamp `last_ts`) with chain value `last_hash`; `next`
    /// is the segment file listed after it, if any. Fails when `next` does not start at the seq
    /// after (unless the records missing lie after the query's range), or its anchor (if read)
    /// is not `last_hash`.
    pub fn end(
        &mut self,
        i: usize,
        (last_seq, last_ts): (u64, u64),
        last_hash: Hash,
        next: Option<Listed<'_>>,
    ) -> Result<(), Error> {
        self.ends.insert(i, (last_seq, last_hash));
        let Some(next) = next else { return Ok(()) };
        let beyond =
            self.to_seq.is_some_and(|t| t <= last_seq) || self.until.is_some_and(|u| u <= last_ts);
        if last_seq.checked_add(1) != Some(next.first) && !(beyond && last_seq < next.first) {
            return Err(Error::Corrupt {
                location: Location::file(next.name).at(40).seq(next.first),
                what: if last_seq < next.first {
                    format!(
                        "segment starts at seq {} but the previous one ends at {last_seq}: \
                         records {}..={} are missing (a segment file was removed)",
                        next.first,
                        last_seq + 1,
                        next.first - 1
                    )
                } else {
                    format!(
                        "segment starts at seq {} but the previous one ends at {last_seq}",
                        next.first
                    )
                },
            });
        }
        match self.anchors.get(&(i + 1)) {
            Some(a) if *a != last_hash => Err(anchor_mismatch(next)),
            _ => Ok(()),
        }
    }

    /// The anchor of segment `i`, when its header was read.
    pub fn anchor_of(&self, i: usize) -> Option<Hash> {
        self.anchors.get(&i).copied()
    }

    /// The last seq and chain value of segment `i`, when its end was read.
    pub fn end_of(&self, i: usize) -> Option<(u64, Hash)> {
        self.ends.get(&i).copied()
    }

    /// Segment `i` (`this`) holds `anchor` in its header. Fails when the segment before it was
    /// read to its end and its last chain value is not `anchor`.
    pub fn start(&mut self, i: usize, this: Listed<'_>, anchor: Hash) -> Result<(), Error> {
        self.anchors.insert(i, anchor);
        match i.checked_sub(1).and_then(|p| self.ends.get(&p)) {
            Some((_, h)) if *h != anchor => Err(anchor_mismatch(this)),
            _ => Ok(()),
        }
    }
}

fn anchor_mismatch(seg: Listed<'_>) -> Error {
    Error::Corrupt {
        location: Location::file(seg.name).at(48).seq(seg.first),
        what: "segment anchor is not the previous segment's last hash".into(),
    }
}
