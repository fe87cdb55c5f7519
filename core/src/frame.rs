//! Record framing: the byte layout of one record inside a segment.
//!
//! ```text
//! offset size  field
//! 0      1     kind (0x01 = entry)
//! 1      3     payload length L, u24 little-endian (so at most 16 MiB - 1)
//! 4      4     CRC32C of bytes [0,4) followed by bytes [8,F)
//! 8      8     seq, u64 LE
//! 16     8     timestamp, u64 LE (nanoseconds since the Unix epoch, supplied by the host)
//! 24     32    chain hash after this record
//! 56     L     payload
//! 56+L   pad   zero bytes up to F, the frame length rounded up to a multiple of 8
//! ```
//!
//! Frames start on 8-byte boundaries, so a scanner looking for valid data after damage needs to
//! test only one offset in eight, and a zero-filled (preallocated) region never decodes as a
//! record: kind 0 does not exist.

use crate::hash::Hash;

/// Size of the fixed part of an entry frame, before the payload.
pub const RECORD_HEADER_LEN: usize = 56;
/// Every frame starts and ends on a multiple of this.
pub const ALIGN: usize = 8;
/// The largest payload the format can express (the u24 length field).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;
/// Kind byte of an entry record.
pub const KIND_ENTRY: u8 = 0x01;
/// Kind byte of a sealed segment's footer frame.
pub const KIND_FOOTER: u8 = 0xF0;

/// Rounds `n` up to the next multiple of [`ALIGN`].
pub const fn align_up(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// Total bytes an entry with a payload of `payload_len` bytes occupies on disk.
pub const fn entry_frame_len(payload_len: usize) -> usize {
    align_up(RECORD_HEADER_LEN + payload_len)
}

/// The CRC32C a frame carries: over the 4-byte kind/length word and everything after the CRC.
pub fn frame_crc(frame: &[u8]) -> u32 {
    let c = crc32c::crc32c(&frame[0..4]);
    crc32c::crc32c_append(c, &frame[8..])
}

/// Appends the frame of one entry to `out`.
///
/// The caller guarantees `payload.len() <= MAX_PAYLOAD` (the writer checks it on append).
pub fn encode_entry(out: &mut Vec<u8>, seq: u64, ts: u64, hash: &Hash, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    let start = out.len();
    let frame = entry_frame_len(payload.len());
    let word0 = (KIND_ENTRY as u32) | ((payload.len() as u32) << 8);
    out.extend_from_slice(&word0.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&hash.0);
    out.extend_from_slice(payload);
    out.resize(start + frame, 0);
    let crc = frame_crc(&out[start..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A decoded entry that passed its CRC (its chain link is checked by the scanner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp in nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Chain hash stored in the record.
    pub hash: Hash,
    /// The payload bytes.
    pub payload: &'a [u8],
    /// Bytes the whole frame occupies, padding included.
    pub frame_len: usize,
}

/// What is wrong with bytes that should hold a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameDefect {
    /// The kind byte names no frame type of this format version.
    UnknownKind(u8),
    /// The stored CRC32C does not match the bytes.
    CrcMismatch {
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over the frame.
        computed: u32,
    },
    /// The CRC matches but the padding after the payload is not zero.
    NonZeroPadding,
    /// A footer frame whose length cannot hold a footer.
    BadFooterLength(u32),
}

impl std::fmt::Display for FrameDefect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameDefect::UnknownKind(k) => write!(f, "unknown frame kind 0x{k:02x}"),
            FrameDefect::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "CRC32C mismatch (stored {stored:08x}, computed {computed:08x})"
                )
            }
            FrameDefect::NonZeroPadding => write!(f, "non-zero padding after the payload"),
            FrameDefect::BadFooterLength(l) => write!(f, "impossible footer length {l}"),
        }
    }
}

/// The result of looking at the bytes where a frame should start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Not enough bytes to decide; `needed` is the total the frame would occupy, when known
    /// (`None` while even the 8-byte prefix is incomplete).
    Incomplete {
        /// Total frame length, when the prefix could be read.
        needed: Option<usize>,
    },
    /// The first 8 bytes are zero: no frame starts here (end of data or preallocated space).
    Zero,
    /// A well-formed entry.
    Entry(EntryRef<'a>),
    /// A footer frame of `frame_len` bytes that passed its CRC; decode it with
    /// [`crate::footer::Footer::decode`].
    Footer {
        /// Total footer frame length.
        frame_len: usize,
    },
    /// A frame of `frame_len` bytes whose contents are wrong.
    Bad {
        /// What is wrong.
        defect: FrameDefect,
        /// How many bytes the damaged frame claims (0 when unknown).
        frame_len: usize,
    },
}

/// Returns the total length a frame with this 4-byte prefix word claims, or the defect.
pub fn claimed_len(word0: u32) -> Result<usize, FrameDefect> {
    let kind = (word0 & 0xff) as u8;
    let len = (word0 >> 8) as usize;
    match kind {
        KIND_ENTRY => Ok(entry_frame_len(len)),
        KIND_FOOTER => {
            if crate::footer::valid_footer_body_len(len) {
                Ok(8 + len)
            } else {
                Err(FrameDefect::BadFooterLength(len as u32))
            }
        }
        k => Err(FrameDefect::UnknownKind(k)),
    }
}

/// Decodes the frame at the start of `buf` (which may hold more bytes after it).
pub fn decode(buf: &[u8]) -> Frame<'_> {
    if buf.len() < 8 {
        return Frame::Incomplete { needed: None };
    }
    let word0 = u32::from_le_bytes(buf[0..4].try_into().unwrap());
    let stored = u32::from_le_bytes(buf[4..8].try_into().unwrap());
    if word0 == 0 && stored == 0 {
        return Frame::Zero;
    }
    let frame_len = match claimed_len(word0) {
        Ok(n) => n,
        Err(defect) => {
            return Frame::Bad {
                defect,
                frame_len: 0,
            }
        }
    };
    if buf.len() < frame_len {
        return Frame::Incomplete {
            needed: Some(frame_len),
        };
    }
    let frame = &buf[..frame_len];
    let computed = frame_crc(frame);
    if computed != stored {
        return Frame::Bad {
            defect: FrameDefect::CrcMismatch { stored, computed },
            frame_len,
        };
    }
    if (word0 & 0xff) as u8 == KIND_FOOTER {
        return Frame::Footer { frame_len };
    }
    let len = (word0 >> 8) as usize;
    if frame[RECORD_HEADER_LEN + len..].iter().any(|&b| b != 0) {
        return Frame::Bad {
            defect: FrameDefect::NonZeroPadding,
            frame_len,
        };
    }
    Frame::Entry(EntryRef {
        seq: u64::from_le_bytes(frame[8..16].try_into().unwrap()),
        ts: u64::from_le_bytes(frame[16..24].try_into().unwrap()),
        hash: Hash(frame[24..56].try_into().unwrap()),
        payload: &frame[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len],
        frame_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_entry(
            &mut v,
            7,
            1_700_000_000_000_000_000,
            &Hash([9; 32]),
            payload,
        );
        v
    }

    #[test]
    fn entry_round_trips_and_is_aligned() {
        for n in [0usize, 1, 7, 8, 9, 250, 4096] {
            let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let v = one(&payload);
            assert_eq!(v.len() % ALIGN, 0);
            assert_eq!(v.len(), entry_frame_len(n));
            match decode(&v) {
                Frame::Entry(e) => {
                    assert_eq!(
                        (e.seq, e.ts, e.hash, e.payload),
                        (7, 1_700_000_000_000_000_000, Hash([9; 32]), &payload[..])
                    );
                    assert_eq!(e.frame_len, v.len());
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let v = one(b"exec git push --force");
        for bit in 0..v.len() * 8 {
            let mut w = v.clone();
            w[bit / 8] ^= 1 << (bit % 8);
            assert!(
                !matches!(decode(&w), Frame::Entry(_)),
                "flip of bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn zero_prefix_is_not_a_record_and_prefixes_are_incomplete() {
        assert_eq!(decode(&[0u8; 64]), Frame::Zero);
        let v = one(b"abc");
        for cut in 0..v.len() {
            assert!(
                matches!(decode(&v[..cut]), Frame::Incomplete { .. }),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn unknown_kind_and_bad_padding_are_named() {
        let mut v = one(b"abc");
        v[0] = 0x42;
        assert_eq!(
            decode(&v),
            Frame::Bad {
                defect: FrameDefect::UnknownKind(0x42),
                frame_len: 0
            }
        );
        let mut v = one(b"abc");
        let last = v.len() - 1;
        v[last] = 1;
        let crc = frame_crc(&v);
        v[4..8].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode(&v),
            Frame::Bad {
                defect: FrameDefect::NonZeroPadding,
                ..
            }
        ));
    }

    #[test]
    fn a_huge_claimed_length_is_bounded_by_the_field() {
        // The length field is 24 bits: no prefix can claim more than 16 MiB.
        let word0 = KIND_ENTRY as u32 | (0xffffff << 8);
        assert_eq!(claimed_len(word0), Ok(entry_frame_len(MAX_PAYLOAD)));
        let mut v = word0.to_le_bytes().to_vec();
        v.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            decode(&v),
            Frame::Incomplete {
                needed: Some(entry_frame_len(MAX_PAYLOAD))
            }
        );
    }
}
