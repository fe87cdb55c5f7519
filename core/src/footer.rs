//! The footer that seals a segment: totals, the last chain value and a sparse seq/time index.
//!
//! A footer is a frame (kind `0xF0`) written right after the last record of a segment; the
//! segment file ends with it. Its last 16 bytes are a trailer (the footer's own offset and a
//! magic), so a reader finds the footer from the end of the file without scanning records.
//!
//! ```text
//! offset size  field
//! 0      1     kind 0xF0
//! 1      3     body length B = 96 + 24 n, u24 LE (frame length is 8 + B)
//! 4      4     CRC32C of bytes [0,4) followed by bytes [8, 8+B)
//! 8      8     record count
//! 16     8     first seq
//! 24     8     last seq
//! 32     32    chain hash of the last record
//! 64     8     timestamp of the first record
//! 72     8     timestamp of the last record
//! 80     4     index stride in bytes, u32 LE
//! 84     4     index entry count n, u32 LE
//! 88     24 n  index entries: seq u64, timestamp u64, file offset u64 of the record's frame
//! 88+24n 32 k  tree edge at the last record (format version 2 only; k = popcount(last seq),
//!              none in version 1): the roots of the complete subtrees of the tree of size
//!              last seq, largest first
//! E      8     file offset of this footer frame    (E = 88 + 24 n + 32 k)
//! E+8    8     magic "EVDTEND\0"
//! ```
//!
//! The edge lets a writer's open continue the tree from the previous segment's footer without
//! rehashing the trail; a verifier recomputes it and requires equality, like the index.
//!
//! The index is a function of the records (an entry for the first record, then one for each
//! record whose frame starts at least `stride` bytes after the previous entry's), so a verifier
//! rebuilds it and compares: a footer cannot be edited without the edit being reported.

use crate::frame::{frame_crc, KIND_FOOTER};
use crate::hash::Hash;

/// The magic in a sealed segment's final 8 bytes.
pub const END_MAGIC: [u8; 8] = *b"EVDTEND\0";
/// Size of the trailer (footer offset + magic) at the end of a sealed segment.
pub const TRAILER_LEN: usize = 16;
/// Footer frame length with an empty index.
pub const FOOTER_FIXED_LEN: usize = 104;
/// Bytes per sparse index entry.
pub const INDEX_ENTRY_LEN: usize = 24;

/// The longest footer frame the format allows (its body length is a u24 field), trailer
/// included. A trailer pointing further back than this from the end of the file is forged or
/// damaged: readers never read (or allocate) more than this for a footer, whatever the file's
/// length.
pub const MAX_FOOTER_LEN: usize = (1 << 24) - 1 + 8;

/// Whether a footer body length (the u24 field) is one a footer can have: at least the fixed
/// part, and a multiple of 8 (index entries are 24 bytes, edge nodes 32; the exact split is
/// checked by [`Footer::decode`] from the entry count and the last seq).
pub fn valid_footer_body_len(len: usize) -> bool {
    len >= FOOTER_FIXED_LEN - 8 && len.is_multiple_of(8)
}

/// One sparse index entry: where a record starts and when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// The record's seq.
    pub seq: u64,
    /// The record's timestamp.
    pub ts: u64,
    /// File offset of the record's frame.
    pub offset: u64,
}

/// Builds the sparse index as records go by; the writer and every scanner use the same rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexBuilder {
    stride: u32,
    entries: Vec<IndexEntry>,
}

impl IndexBuilder {
    /// A builder that keeps one entry per `stride` bytes of records.
    pub fn new(stride: u32) -> IndexBuilder {
        IndexBuilder {
            stride: stride.max(1),
            entries: Vec::new(),
        }
    }

    /// Notes a record; keeps it when it starts `stride` bytes past the last kept one.
    pub fn observe(&mut self, seq: u64, ts: u64, offset: u64) {
        let keep = match self.entries.last() {
            None => true,
            Some(last) => offset >= last.offset + self.stride as u64,
        };
        if keep {
            self.entries.push(IndexEntry { seq, ts, offset });
        }
    }

    /// The stride in bytes.
    pub fn stride(&self) -> u32 {
        self.stride
    }

    /// Entries kept so far.
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// Takes the entries, leaving the builder empty.
    pub fn take(&mut self) -> Vec<IndexEntry> {
        std::mem::take(&mut self.entries)
    }
}

/// A decoded footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// Number of records in the segment.
    pub count: u64,
    /// Seq of the first record.
    pub first_seq: u64,
    /// Seq of the last record.
    pub last_seq: u64,
    /// Chain hash of the last record.
    pub last_hash: Hash,
    /// Timestamp of the first record.
    pub first_ts: u64,
    /// Timestamp of the last record.
    pub last_ts: u64,
    /// Stride the index was built with.
    pub index_stride: u32,
    /// The sparse index, in file order.
    pub index: Vec<IndexEntry>,
    /// The tree's edge at `last_seq` (the compact range of the tree over records
    /// 1..=last_seq, largest subtree first): `popcount(last_seq)` hashes in format version 2,
    /// empty in version 1.
    pub edge: Vec<Hash>,
    /// File offset at which the footer frame starts (the end of the records).
    pub offset: u64,
}

/// Why bytes are not a valid footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterDefect {
    /// Too few bytes.
    Short,
    /// The trailer magic is missing: the segment is not sealed.
    NoTrailer,
    /// The trailer points somewhere impossible.
    BadTrailerOffset(u64),
    /// The frame is not a footer or its length is impossible.
    NotAFooter,
    /// The checksum does not match.
    CrcMismatch,
    /// Fields contradict each other (count vs seqs, offsets out of order...).
    Inconsistent(&'static str),
}

impl std::fmt::Display for FooterDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FooterDefect::Short => write!(f, "footer truncated"),
            FooterDefect::NoTrailer => write!(f, "no footer trailer (segment not sealed)"),
            FooterDefect::BadTrailerOffset(o) => {
                write!(f, "footer trailer points at impossible offset {o}")
            }
            FooterDefect::NotAFooter => write!(f, "footer frame kind or length is wrong"),
            FooterDefect::CrcMismatch => write!(f, "footer CRC32C mismatch"),
            FooterDefect::Inconsistent(what) => write!(f, "footer is inconsistent: {what}"),
        }
    }
}

impl Footer {
    /// Frame length of a footer with `entries` index entries and no tree edge (version 1).
    pub fn frame_len_for(entries: usize) -> usize {
        FOOTER_FIXED_LEN + INDEX_ENTRY_LEN * entries
    }

    /// Frame length of this footer, edge included.
    pub fn encoded_len(&self) -> usize {
        Self::frame_len_for(self.index.len()) + 32 * self.edge.len()
    }

    /// The footer frame bytes, trailer included.
    pub fn encode(&self) -> Vec<u8> {
        let total = self.encoded_len();
        let mut b = Vec::with_capacity(total);
        let word0 = KIND_FOOTER as u32 | (((total - 8) as u32) << 8);
        b.extend_from_slice(&word0.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        for v in [self.count, self.first_seq, self.last_seq] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.last_hash.0);
        b.extend_from_slice(&self.first_ts.to_le_bytes());
        b.extend_from_slice(&self.last_ts.to_le_bytes());
        b.extend_from_slice(&self.index_stride.to_le_bytes());
        b.extend_from_slice(&(self.index.len() as u32).to_le_bytes());
        for e in &self.index {
            for v in [e.seq, e.ts, e.offset] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        for node in &self.edge {
            b.extend_from_slice(&node.0);
        }
        b.extend_from_slice(&self.offset.to_le_bytes());
        b.extend_from_slice(&END_MAGIC);
        debug_assert_eq!(b.len(), total);
        let crc = frame_crc(&b);
        b[4..8].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Reads the trailer (the last 16 bytes of a sealed segment) and returns the footer offset.
    pub fn trailer_offset(trailer: &[u8], file_len: u64) -> Result<u64, FooterDefect> {
        if trailer.len() < TRAILER_LEN {
            return Err(FooterDefect::Short);
        }
        let t = &trailer[trailer.len() - TRAILER_LEN..];
        if t[8..16] != END_MAGIC {
            return Err(FooterDefect::NoTrailer);
        }
        let offset = u64::from_le_bytes(t[0..8].try_into().unwrap());
        let min_start = crate::header::HEADER_LEN as u64;
        if offset < min_start
            || !offset.is_multiple_of(8)
            || offset
                .checked_add(FOOTER_FIXED_LEN as u64)
                .is_none_or(|end| end > file_len)
            || file_len - offset > MAX_FOOTER_LEN as u64
        {
            return Err(FooterDefect::BadTrailerOffset(offset));
        }
        Ok(offset)
    }

    /// Decodes a whole footer frame (`buf` must be exactly the frame, trailer included).
    pub fn decode(buf: &[u8]) -> Result<Footer, FooterDefect> {
        if buf.len() < FOOTER_FIXED_LEN {
            return Err(FooterDefect::Short);
        }
        let word0 = u32::from_le_bytes(buf[0..4].try_into().unwrap());
        let body = (word0 >> 8) as usize;
        if (word0 & 0xff) as u8 != KIND_FOOTER
            || !valid_footer_body_len(body)
            || body + 8 != buf.len()
        {
            return Err(FooterDefect::NotAFooter);
        }
        let stored = u32::from_le_bytes(buf[4..8].try_into().unwrap());
        if frame_crc(buf) != stored {
            return Err(FooterDefect::CrcMismatch);
        }
        let u64_at = |o: usize| u64::from_le_bytes(buf[o..o + 8].try_into().unwrap());
        let n = u32::from_le_bytes(buf[84..88].try_into().unwrap()) as usize;
        let last_seq = u64_at(24);
        // The bytes left after the index are the tree edge: none (version 1) or one node per
        // set bit of the last seq (version 2); the segment's header says which must be there.
        let edge_len = match buf.len().checked_sub(Self::frame_len_for(n)) {
            Some(0) => 0,
            Some(rest) if rest == 32 * last_seq.count_ones() as usize => rest / 32,
            _ => {
                return Err(FooterDefect::Inconsistent(
                    "index entry count and tree edge do not match the length",
                ))
            }
        };
        let index = (0..n)
            .map(|i| {
                let o = 88 + i * INDEX_ENTRY_LEN;
                IndexEntry {
                    seq: u64_at(o),
                    ts: u64_at(o + 8),
                    offset: u64_at(o + 16),
                }
            })
            .collect();
        let edge_at = 88 + n * INDEX_ENTRY_LEN;
        let edge = (0..edge_len)
            .map(|i| {
                Hash(
                    buf[edge_at + 32 * i..edge_at + 32 * (i + 1)]
                        .try_into()
                        .unwrap(),
                )
            })
            .collect();
        let end = edge_at + 32 * edge_len;
        if buf[end + 8..end + 16] != END_MAGIC {
            return Err(FooterDefect::NoTrailer);
        }
        let f = Footer {
            count: u64_at(8),
            first_seq: u64_at(16),
            last_seq,
            last_hash: Hash(buf[32..64].try_into().unwrap()),
            first_ts: u64_at(64),
            last_ts: u64_at(72),
            index_stride: u32::from_le_bytes(buf[80..84].try_into().unwrap()),
            index,
            edge,
            offset: u64_at(end),
        };
        f.check_consistency()?;
        Ok(f)
    }

    fn check_consistency(&self) -> Result<(), FooterDefect> {
        if self.count == 0 {
            return Err(FooterDefect::Inconsistent(
                "a sealed segment holds no record",
            ));
        }
        if self
            .last_seq
            .checked_sub(self.first_seq)
            .and_then(|d| d.checked_add(1))
            != Some(self.count)
        {
            return Err(FooterDefect::Inconsistent(
                "count does not match the seq range",
            ));
        }
        if self.first_ts > self.last_ts {
            return Err(FooterDefect::Inconsistent(
                "first timestamp after last timestamp",
            ));
        }
        let mut prev: Option<&IndexEntry> = None;
        for e in &self.index {
            if e.seq < self.first_seq || e.seq > self.last_seq || e.offset >= self.offset {
                return Err(FooterDefect::Inconsistent(
                    "index entry outside the segment",
                ));
            }
            if let Some(p) = prev {
                if e.seq <= p.seq || e.offset <= p.offset || e.ts < p.ts {
                    return Err(FooterDefect::Inconsistent("index entries out of order"));
                }
            }
            prev = Some(e);
        }
        Ok(())
    }

    /// The index entry at or before `seq`: where a reader starts scanning for it.
    pub fn seek_seq(&self, seq: u64) -> Option<&IndexEntry> {
        let i = self.index.partition_point(|e| e.seq <= seq);
        i.checked_sub(1).map(|i| &self.index[i])
    }

    /// The last index entry whose timestamp is before `ts`: scanning from it finds the first
    /// record at or after `ts` (timestamps are non-decreasing along the trail).
    pub fn seek_ts(&self, ts: u64) -> Option<&IndexEntry> {
        let i = self.index.partition_point(|e| e.ts < ts);
        i.checked_sub(1)
            .map(|i| &self.index[i])
            .or(self.index.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailer_cannot_claim_more_than_the_largest_footer() {
        let mut t = [0u8; TRAILER_LEN];
        let at = crate::header::HEADER_LEN as u64;
        t[0..8].copy_from_slice(&at.to_le_bytes());
        t[8..16].copy_from_slice(&END_MAGIC);
        let huge = 3u64 << 30;
        assert_eq!(
            Footer::trailer_offset(&t, huge),
            Err(FooterDefect::BadTrailerOffset(at))
        );
        assert_eq!(Footer::trailer_offset(&t, at + 4096), Ok(at));
    }

    fn sample() -> Footer {
        let mut ib = IndexBuilder::new(100);
        for (i, off) in [128u64, 200, 260, 400, 410, 600].iter().enumerate() {
            ib.observe(10 + i as u64, 1000 + i as u64, *off);
        }
        Footer {
            count: 6,
            first_seq: 10,
            last_seq: 15,
            last_hash: Hash([1; 32]),
            first_ts: 1000,
            last_ts: 1005,
            index_stride: 100,
            index: ib.take(),
            edge: vec![Hash([2; 32]), Hash([3; 32]), Hash([4; 32]), Hash([5; 32])],
            offset: 704,
        }
    }

    #[test]
    fn a_version_1_footer_has_no_edge_and_a_wrong_edge_length_is_refused() {
        let mut f = sample();
        f.edge.clear();
        let b = f.encode();
        assert_eq!(b.len(), Footer::frame_len_for(4));
        assert_eq!(Footer::decode(&b), Ok(f.clone()));
        f.edge = vec![Hash([2; 32])]; // 15 has four set bits
        assert!(matches!(
            Footer::decode(&f.encode()),
            Err(FooterDefect::Inconsistent(_))
        ));
    }

    #[test]
    fn index_rule_keeps_one_entry_per_stride() {
        let f = sample();
        let offs: Vec<u64> = f.index.iter().map(|e| e.offset).collect();
        assert_eq!(offs, vec![128, 260, 400, 600]);
    }

    #[test]
    fn round_trip_and_trailer() {
        let f = sample();
        let b = f.encode();
        assert_eq!(b.len(), Footer::frame_len_for(4) + 4 * 32);
        assert_eq!(Footer::decode(&b), Ok(f.clone()));
        let file_len = f.offset + b.len() as u64;
        assert_eq!(Footer::trailer_offset(&b, file_len), Ok(704));
        assert_eq!(f.seek_seq(13).unwrap().seq, 13);
        assert_eq!(f.seek_seq(14).unwrap().seq, 13);
        assert_eq!(f.seek_seq(9), None);
        assert_eq!(f.seek_ts(1003).unwrap().seq, 12);
        assert_eq!(f.seek_ts(0).unwrap().seq, 10);
    }

    #[test]
    fn any_bit_flip_is_refused() {
        let b = sample().encode();
        for bit in 0..b.len() * 8 {
            let mut c = b.clone();
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(Footer::decode(&c).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn trailer_rejects_impossible_offsets() {
        let mut t = [0u8; 16];
        t[8..].copy_from_slice(&END_MAGIC);
        t[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            Footer::trailer_offset(&t, 1000),
            Err(FooterDefect::BadTrailerOffset(u64::MAX))
        );
        assert_eq!(
            Footer::trailer_offset(&[0u8; 16], 1000),
            Err(FooterDefect::NoTrailer)
        );
    }
}
