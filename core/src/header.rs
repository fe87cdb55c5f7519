//! The segment header: the first 128 bytes of every segment file.
//!
//! ```text
//! offset size  field
//! 0      8     magic "EVDTSEG\0"
//! 8      4     format version, u32 LE (2; 1 is read and verified, never appended to)
//! 12     4     header length, u32 LE (128)
//! 16     16    log id
//! 32     8     segment number, u64 LE (0 for the first segment of a trail)
//! 40     8     first seq, u64 LE (seq of the first record this segment holds or will hold)
//! 48     32    anchor: the chain hash of record first_seq - 1 (the genesis hash for seq 1)
//! 80     44    reserved, zero
//! 124    4     CRC32C of bytes [0,124)
//! ```
//!
//! Every field is either fixed or cross-checked by the chain (log id through genesis, anchor
//! through the first record's link, number and first seq through their neighbours), so an edit
//! of a header that recomputes its CRC is still reported by verification.

use crate::hash::{Hash, LogId};

/// Bytes at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"EVDTSEG\0";
/// The format version this crate writes (new trails and every segment appended to them).
pub const FORMAT_VERSION: u32 = 2;

/// The format versions this crate reads. They differ only in the record's leaf hash (and the
/// footer's tree edge): version 2 commits to the payload through its hash, so a tree over the
/// leaves can prove a record without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FormatVersion {
    /// Version 1: `leaf = BLAKE3-keyed(K_LEAF, kind || seq || ts || payload)`; footers carry no
    /// tree edge. Read and verified; a writer refuses to append to it.
    V1,
    /// Version 2: `leaf = BLAKE3-keyed(K_LEAF, kind || seq || ts || payload_hash)`; footers
    /// carry the tree's edge at the segment's last record.
    #[default]
    V2,
}

impl FormatVersion {
    /// The version number in the header.
    pub fn number(self) -> u32 {
        match self {
            FormatVersion::V1 => 1,
            FormatVersion::V2 => 2,
        }
    }

    /// The version with this header number, if this build reads it.
    pub fn from_number(n: u32) -> Option<FormatVersion> {
        match n {
            1 => Some(FormatVersion::V1),
            2 => Some(FormatVersion::V2),
            _ => None,
        }
    }

    /// The leaf hash of a record under this version.
    pub fn leaf(self, kind: u8, seq: u64, ts: u64, payload: &[u8]) -> Hash {
        match self {
            FormatVersion::V1 => crate::hash::leaf_v1(kind, seq, ts, payload),
            FormatVersion::V2 => crate::hash::leaf(kind, seq, ts, payload),
        }
    }

    /// Whether a sealed segment's footer carries the tree's edge.
    pub fn footer_has_edge(self) -> bool {
        self == FormatVersion::V2
    }
}

impl std::fmt::Display for FormatVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}
/// Size of the segment header; records start right after it.
pub const HEADER_LEN: usize = 128;

/// The decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The segment's format version.
    pub version: FormatVersion,
    /// Identity of the trail the segment belongs to.
    pub log_id: LogId,
    /// Position of the segment in the trail, from 0.
    pub segno: u64,
    /// Seq of the first record in the segment.
    pub first_seq: u64,
    /// Chain hash of record `first_seq - 1`.
    pub anchor: Hash,
}

/// Why bytes are not a valid segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderDefect {
    /// Fewer than [`HEADER_LEN`] bytes.
    Short(usize),
    /// All zero: the header was never written (an interrupted segment creation).
    Zero,
    /// The magic bytes are wrong: not a segment file.
    BadMagic,
    /// A version this build does not read.
    UnsupportedVersion(u32),
    /// The header length field is not 128.
    BadLength(u32),
    /// The checksum does not match.
    CrcMismatch,
    /// Reserved bytes are not zero.
    NonZeroReserved,
    /// First seq is 0 (seq numbering starts at 1).
    ZeroFirstSeq,
}

impl std::fmt::Display for HeaderDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderDefect::Short(n) => {
                write!(f, "segment header truncated ({n} of {HEADER_LEN} bytes)")
            }
            HeaderDefect::Zero => write!(f, "segment header is all zero (never written)"),
            HeaderDefect::BadMagic => write!(f, "bad segment magic (not an evident segment)"),
            HeaderDefect::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            HeaderDefect::BadLength(n) => write!(f, "bad header length {n}"),
            HeaderDefect::CrcMismatch => write!(f, "segment header CRC32C mismatch"),
            HeaderDefect::NonZeroReserved => {
                write!(f, "segment header reserved bytes are not zero")
            }
            HeaderDefect::ZeroFirstSeq => write!(f, "segment header first seq is 0"),
        }
    }
}

impl SegmentHeader {
    /// The 128 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&self.version.number().to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[16..32].copy_from_slice(&self.log_id.0);
        b[32..40].copy_from_slice(&self.segno.to_le_bytes());
        b[40..48].copy_from_slice(&self.first_seq.to_le_bytes());
        b[48..80].copy_from_slice(&self.anchor.0);
        let crc = crc32c::crc32c(&b[..124]);
        b[124..128].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks the first [`HEADER_LEN`] bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<SegmentHeader, HeaderDefect> {
        if buf.len() < HEADER_LEN {
            if !buf.is_empty() && buf.iter().all(|&b| b == 0) {
                return Err(HeaderDefect::Zero);
            }
            return Err(HeaderDefect::Short(buf.len()));
        }
        let b = &buf[..HEADER_LEN];
        if b.iter().all(|&x| x == 0) {
            return Err(HeaderDefect::Zero);
        }
        if b[0..8] != SEGMENT_MAGIC {
            return Err(HeaderDefect::BadMagic);
        }
        let stored = u32::from_le_bytes(b[124..128].try_into().unwrap());
        if crc32c::crc32c(&b[..124]) != stored {
            return Err(HeaderDefect::CrcMismatch);
        }
        let version = u32::from_le_bytes(b[8..12].try_into().unwrap());
        let Some(version) = FormatVersion::from_number(version) else {
            return Err(HeaderDefect::UnsupportedVersion(version));
        };
        let len = u32::from_le_bytes(b[12..16].try_into().unwrap());
        if len as usize != HEADER_LEN {
            return Err(HeaderDefect::BadLength(len));
        }
        if b[80..124].iter().any(|&x| x != 0) {
            return Err(HeaderDefect::NonZeroReserved);
        }
        let first_seq = u64::from_le_bytes(b[40..48].try_into().unwrap());
        if first_seq == 0 {
            return Err(HeaderDefect::ZeroFirstSeq);
        }
        Ok(SegmentHeader {
            version,
            log_id: LogId(b[16..32].try_into().unwrap()),
            segno: u64::from_le_bytes(b[32..40].try_into().unwrap()),
            first_seq,
            anchor: Hash(b[48..80].try_into().unwrap()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SegmentHeader {
        SegmentHeader {
            version: FormatVersion::V2,
            log_id: LogId([3; 16]),
            segno: 4,
            first_seq: 1001,
            anchor: Hash([5; 32]),
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        assert_eq!(SegmentHeader::decode(&h.encode()), Ok(h));
    }

    #[test]
    fn version_1_is_read_and_others_refused() {
        let mut h = sample();
        h.version = FormatVersion::V1;
        assert_eq!(SegmentHeader::decode(&h.encode()), Ok(h));
        let mut b = h.encode();
        b[8..12].copy_from_slice(&3u32.to_le_bytes());
        let crc = crc32c::crc32c(&b[..124]);
        b[124..128].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            SegmentHeader::decode(&b),
            Err(HeaderDefect::UnsupportedVersion(3))
        );
    }

    #[test]
    fn any_bit_flip_is_refused() {
        let b = sample().encode();
        for bit in 0..HEADER_LEN * 8 {
            let mut c = b;
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&c).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn short_and_zero_headers_are_named() {
        let b = sample().encode();
        assert_eq!(
            SegmentHeader::decode(&b[..50]),
            Err(HeaderDefect::Short(50))
        );
        assert_eq!(SegmentHeader::decode(&[0u8; 40]), Err(HeaderDefect::Zero));
        assert_eq!(SegmentHeader::decode(&[0u8; 200]), Err(HeaderDefect::Zero));
        assert_eq!(SegmentHeader::decode(&[]), Err(HeaderDefect::Short(0)));
    }
}
