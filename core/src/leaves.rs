//! Leaf hashes computed ahead of the scanner, so a host with several cores can verify faster.
//!
//! A record's leaf hash covers only its own kind, seq, timestamp and payload (see
//! [`crate::hash::leaf`]; in format version 2 through the payload hash): it does not depend on
//! any other record. Hashing the payloads and leaves (and the tree's level-0 node of each leaf)
//! is most of the hashing a verification does (the chain step is one more block, the tree about
//! one SHA-256 block more), and it can run on other threads while the chain stays sequential.
//! The planner learns the segment's format version from its header bytes (offset 8), so each
//! leaf is hashed the way its segment defines; the scanner uses a provided leaf only when its
//! version is the segment's.
//!
//! The host reads a segment chunk by chunk; before pushing a chunk into the
//! [`crate::verify::Verifier`] (or [`crate::verify::VerifyTask`]) it asks a [`LeafPlanner`] where
//! the entry frames in that chunk are, hashes them with [`LeafJob::compute`] on as many threads as
//! it likes, and hands the results over with `provide_leaves`. The scanner uses a provided leaf
//! only for the entry at exactly that offset and seq, and computes every other leaf itself, so
//! providing leaves never changes a verdict: it only moves work. The planner reads nothing but
//! each frame's kind and length words; every check (CRC, seq, chain) is still the scanner's.

use std::ops::Range;

use crate::frame::{claimed_len, KIND_ENTRY, RECORD_HEADER_LEN};
use crate::hash::Hash;
use crate::header::{FormatVersion, HEADER_LEN};
use crate::tree::leaf_node;

/// The leaf hash of the entry frame at `offset` in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrecomputedLeaf {
    /// File offset of the frame in its segment.
    pub offset: u64,
    /// The seq the frame carries.
    pub seq: u64,
    /// The format version the leaf was hashed under.
    pub version: FormatVersion,
    /// The leaf hash of the frame's kind, seq, timestamp and payload under `version`.
    pub leaf: Hash,
    /// The tree's level-0 node of that leaf ([`crate::tree::leaf_node`]), when it was hashed
    /// too (a scan that builds no tree, a query's, has no use for it).
    pub node: Option<Hash>,
}

/// One complete entry frame inside a chunk, whose leaf can be hashed independently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafJob {
    /// File offset of the frame in its segment.
    pub offset: u64,
    /// Where the frame lies in the chunk given to [`LeafPlanner::plan`].
    pub range: Range<usize>,
    /// The segment's format version, from its header.
    pub version: FormatVersion,
}

impl LeafJob {
    /// Hashes the leaf of this frame and its tree node; `chunk` is the chunk the job was
    /// planned from.
    pub fn compute(&self, chunk: &[u8]) -> PrecomputedLeaf {
        let mut l = self.compute_leaf(chunk);
        l.node = Some(leaf_node(&l.leaf));
        l
    }

    /// Hashes the leaf of this frame only (for a scan that builds no tree).
    pub fn compute_leaf(&self, chunk: &[u8]) -> PrecomputedLeaf {
        let f = &chunk[self.range.clone()];
        let seq = u64::from_le_bytes(f[8..16].try_into().expect("8 bytes"));
        let ts = u64::from_le_bytes(f[16..24].try_into().expect("8 bytes"));
        let len = (u32::from_le_bytes(f[0..4].try_into().expect("4 bytes")) >> 8) as usize;
        let leaf = self.version.leaf(
            KIND_ENTRY,
            seq,
            ts,
            &f[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len],
        );
        PrecomputedLeaf {
            offset: self.offset,
            seq,
            version: self.version,
            leaf,
            node: None,
        }
    }
}

/// Follows the frames of one segment from its first record on, chunk by chunk, and lists the
/// complete entry frames of each chunk. It stops for good at the first thing that is not an
/// entry (a footer, zeros, damage): from there on the scanner hashes whatever it accepts itself.
#[derive(Debug, Clone)]
pub struct LeafPlanner {
    /// File offset of the next frame, or `None` once planning stopped.
    next: Option<u64>,
    /// The start of a frame header that straddled the previous chunk's end.
    carry: Vec<u8>,
    /// File offset just past the bytes seen so far.
    seen_to: u64,
    /// The header's first 12 bytes, gathered until the version field is known.
    head: Vec<u8>,
    /// The segment's format version, once read from its header.
    version: Option<FormatVersion>,
}

impl Default for LeafPlanner {
    fn default() -> Self {
        LeafPlanner::new()
    }
}

impl LeafPlanner {
    /// A planner for a segment whose chunks will be given from offset 0 on.
    pub fn new() -> LeafPlanner {
        LeafPlanner {
            next: Some(HEADER_LEN as u64),
            carry: Vec::new(),
            seen_to: 0,
            head: Vec::new(),
            version: None,
        }
    }

    /// A planner for a scan that begins at the entry frame at `offset` (a frame boundary the
    /// scanner starts at: the end of the header, a sparse-index entry, a resume position) of a
    /// segment of `version`, whose chunks will be given from `offset` on. A wrong offset only
    /// plans jobs the scanner will not use (it matches each provided leaf by offset and seq).
    pub fn at(offset: u64, version: FormatVersion) -> LeafPlanner {
        LeafPlanner {
            next: Some(offset),
            carry: Vec::new(),
            seen_to: offset,
            head: Vec::new(),
            version: Some(version),
        }
    }

    /// The complete entry frames in `chunk`, which holds the segment's bytes from `offset` on.
    /// Chunks must come in order without gaps; a chunk that does not follow the previous one
    /// stops the planning (the scanner then does all the hashing).
    pub fn plan(&mut self, offset: u64, chunk: &[u8]) -> Vec<LeafJob> {
        let mut jobs = Vec::new();
        self.walk(offset, chunk, |job| jobs.push(job));
        jobs
    }

    /// Follows the frames of `chunk` as [`LeafPlanner::plan`] does, listing none: for a chunk
    /// whose leaves the scanner hashes itself, so the next chunk is planned from where its
    /// frames end.
    pub fn skip(&mut self, offset: u64, chunk: &[u8]) {
        self.walk(offset, chunk, |_| {});
    }

    fn walk(&mut self, offset: u64, chunk: &[u8], mut job: impl FnMut(LeafJob)) {
        if offset != self.seen_to {
            self.next = None;
        }
        let end = offset + chunk.len() as u64;
        self.seen_to = end;
        if self.version.is_none() && self.next.is_some() {
            let want = 12usize.saturating_sub(self.head.len());
            self.head.extend_from_slice(&chunk[..want.min(chunk.len())]);
            if self.head.len() == 12 {
                let n = u32::from_le_bytes(self.head[8..12].try_into().expect("4 bytes"));
                self.version = FormatVersion::from_number(n);
                if self.version.is_none() {
                    self.next = None; // a version this build does not read: the scanner says so
                }
            }
        }
        while let Some(at) = self.next {
            let Some(version) = self.version else { break };
            if at >= end {
                break;
            }
            // The frame's first word, possibly split across the previous chunk and this one.
            let word0 = if at >= offset {
                let i = (at - offset) as usize;
                if i + 4 > chunk.len() {
                    self.carry = chunk[i..].to_vec();
                    break;
                }
                u32::from_le_bytes(chunk[i..i + 4].try_into().expect("4 bytes"))
            } else {
                let need = 4 - self.carry.len().min(4);
                if need > chunk.len() {
                    self.carry.extend_from_slice(chunk);
                    break;
                }
                let mut w = [0u8; 4];
                let have = self.carry.len().min(4);
                w[..have].copy_from_slice(&self.carry[..have]);
                w[have..].copy_from_slice(&chunk[..need]);
                u32::from_le_bytes(w)
            };
            self.carry.clear();
            if word0 as u8 != KIND_ENTRY {
                self.next = None;
                break;
            }
            let Ok(len) = claimed_len(word0) else {
                self.next = None;
                break;
            };
            if at >= offset && at + len as u64 <= end {
                let i = (at - offset) as usize;
                job(LeafJob {
                    offset: at,
                    range: i..i + len,
                    version,
                });
            }
            // A frame split across chunks is hashed by the scanner.
            self.next = Some(at + len as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_entry;

    fn segment_of(n: u64, version: FormatVersion) -> (Vec<u8>, Vec<PrecomputedLeaf>) {
        let mut seg = vec![0xAB; HEADER_LEN];
        seg[8..12].copy_from_slice(&version.number().to_le_bytes());
        let mut want = Vec::new();
        for seq in 1..=n {
            let payload = vec![seq as u8; (seq as usize * 37) % 300];
            let offset = seg.len() as u64;
            encode_entry(&mut seg, seq, seq * 10, &Hash::default(), &payload);
            let leaf = version.leaf(KIND_ENTRY, seq, seq * 10, &payload);
            want.push(PrecomputedLeaf {
                offset,
                seq,
                version,
                leaf,
                node: Some(leaf_node(&leaf)),
            });
        }
        (seg, want)
    }

    fn segment(n: u64) -> (Vec<u8>, Vec<PrecomputedLeaf>) {
        segment_of(n, FormatVersion::V2)
    }

    #[test]
    fn leaves_follow_the_header_version_and_an_unknown_one_plans_nothing() {
        let (seg, want) = segment_of(5, FormatVersion::V1);
        let got: Vec<_> = LeafPlanner::new()
            .plan(0, &seg)
            .iter()
            .map(|j| j.compute(&seg))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            want[0].leaf,
            crate::hash::leaf_v1(KIND_ENTRY, 1, 10, &[1u8; 37])
        );
        let (mut seg, _) = segment(5);
        seg[8] = 9;
        assert!(LeafPlanner::new().plan(0, &seg).is_empty());
    }

    #[test]
    fn every_complete_frame_is_planned_once_whatever_the_chunking() {
        let (mut seg, want) = segment(40);
        let end = seg.len() as u64;
        seg.extend_from_slice(&[0; 512]); // preallocated space: planning stops there
        for chunk in [1, 3, 4, 5, 56, 100, 333, 4096, seg.len()] {
            let mut planner = LeafPlanner::new();
            let mut got = Vec::new();
            let mut at = 0;
            for c in seg.chunks(chunk) {
                for job in planner.plan(at as u64, c) {
                    got.push(job.compute(c));
                }
                at += c.len();
            }
            // Exactly the frames that lie inside one chunk, each once, with the right leaf;
            // frames split by a chunk edge are left to the scanner.
            let inside: Vec<PrecomputedLeaf> = want
                .iter()
                .zip(want.iter().skip(1).map(|n| n.offset).chain([end]))
                .filter(|(w, next)| w.offset / chunk as u64 == (next - 1) / chunk as u64)
                .map(|(w, _)| *w)
                .collect();
            assert_eq!(got, inside, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_planner_started_at_a_frame_plans_the_frames_from_there() {
        for version in [FormatVersion::V1, FormatVersion::V2] {
            let (seg, want) = segment_of(12, version);
            let from = want[5].offset;
            let mut planner = LeafPlanner::at(from, version);
            let tail = &seg[from as usize..];
            let (a, b) = tail.split_at(tail.len() / 2);
            let mut got: Vec<_> = planner.plan(from, a).iter().map(|j| j.compute(a)).collect();
            let mid = from + a.len() as u64;
            got.extend(planner.plan(mid, b).iter().map(|j| j.compute(b)));
            // The frame split by the chunk edge is the scanner's; every other one is planned.
            let expect: Vec<_> = want[5..]
                .iter()
                .enumerate()
                .filter(|(i, w)| {
                    let end = want.get(5 + i + 1).map_or(seg.len() as u64, |n| n.offset);
                    !(w.offset < mid && end > mid)
                })
                .map(|(_, w)| *w)
                .collect();
            assert_eq!(got, expect, "{version:?}");
            assert!(got.len() >= 5);
        }
    }

    #[test]
    fn planning_stops_at_damage_and_at_a_gap() {
        let (mut seg, want) = segment(10);
        let bad = want[4].offset as usize;
        seg[bad] = 0x77; // not an entry kind
        let got: Vec<_> = LeafPlanner::new()
            .plan(0, &seg)
            .iter()
            .map(|j| j.compute(&seg))
            .collect();
        assert_eq!(got, want[..4]);

        let (seg, _) = segment(10);
        let mut planner = LeafPlanner::new();
        assert!(!planner.plan(0, &seg[..1000]).is_empty());
        assert!(
            planner.plan(1200, &seg[1200..]).is_empty(),
            "a gap stops planning"
        );
    }
}
