//! evident's `extra` bytes in a proof bundle: what a verifier needs to recompute the record's
//! leaf, and (unless left out) the payload itself.
//!
//! ```text
//! offset  size  field
//! 0       1     record format version (2: the leaf commits to the payload hash)
//! 1       1     kind
//! 2       8     seq, little-endian (= bundle index + 1)
//! 10      8     timestamp, little-endian
//! 18      32    payload hash, BLAKE3-keyed(K_PAYLOAD, payload)
//! 50      1     origin length L, 1..=255
//! 51      L     origin (UTF-8), equal to the checkpoint's origin line
//! 51+L    8     tree size, little-endian, equal to the checkpoint's size line
//! 59+L    1     payload flag: 0 = payload left out, 1 = included
//! 60+L    4     payload length P, little-endian       (flag 1 only)
//! 64+L    P     payload                                (flag 1 only)
//! ```
//!
//! Nothing may follow. The leaf is `leaf_v2(kind, seq, timestamp, payload hash)`.
//!
//! Why the origin and tree size are repeated here: the tree's root commits to neither. An
//! RFC 9162 inclusion proof for index `i` often verifies unchanged against the same root
//! under a neighbouring size (the proof's shape depends only on the bits where `i` and
//! `size - 1` differ), and an edited origin changes no hash. Until checkpoints are signed
//! (next issue: the signature covers the body and is what authenticates them), these copies
//! make any one-byte edit of the checkpoint's origin or size line fail the check instead of
//! yielding a bundle that claims another log or size. [`super::format_bundle`] fills both in
//! from the checkpoint.

use crate::hash::{leaf_v2, payload_hash, Hash};

/// The record format version whose leaf the extra describes.
pub const EXTRA_FORMAT: u8 = 2;

/// The record a bundle proves, as carried in `extra`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordExtra {
    /// Record kind.
    pub kind: u8,
    /// Record seq (1-based).
    pub seq: u64,
    /// Record timestamp.
    pub ts: u64,
    /// The payload hash the leaf commits to.
    pub payload_hash: Hash,
    /// The log's origin (filled in from the checkpoint by [`super::format_bundle`]).
    pub origin: String,
    /// The checkpoint's tree size (filled in from the checkpoint by
    /// [`super::format_bundle`]).
    pub tree_size: u64,
    /// The payload, unless left out.
    pub payload: Option<Vec<u8>>,
}

impl RecordExtra {
    /// The extra of a record, computing the payload hash; `keep_payload` false leaves the
    /// payload out (the bundle then proves the payload hash only).
    pub fn of_record(
        kind: u8,
        seq: u64,
        ts: u64,
        payload: &[u8],
        keep_payload: bool,
    ) -> RecordExtra {
        RecordExtra {
            kind,
            seq,
            ts,
            payload_hash: payload_hash(payload),
            origin: String::new(),
            tree_size: 0,
            payload: keep_payload.then(|| payload.to_vec()),
        }
    }

    /// The record's 32-byte leaf (format version 2).
    pub fn leaf(&self) -> Hash {
        leaf_v2(self.kind, self.seq, self.ts, &self.payload_hash)
    }

    /// The bytes (see the module docs). Refuses an origin that is empty or over 255 bytes and
    /// a payload over 4 GiB - 1.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let origin = self.origin.as_bytes();
        if origin.is_empty() || origin.len() > 255 {
            return Err(format!("extra: origin of {} bytes (1..=255)", origin.len()));
        }
        let mut out =
            Vec::with_capacity(64 + origin.len() + self.payload.as_ref().map_or(0, Vec::len));
        out.push(EXTRA_FORMAT);
        out.push(self.kind);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&self.ts.to_le_bytes());
        out.extend_from_slice(&self.payload_hash.0);
        out.push(origin.len() as u8);
        out.extend_from_slice(origin);
        out.extend_from_slice(&self.tree_size.to_le_bytes());
        match &self.payload {
            None => out.push(0),
            Some(p) => {
                let len = u32::try_from(p.len()).map_err(|_| {
                    format!("extra: payload of {} bytes (at most 2^32 - 1)", p.len())
                })?;
                out.push(1);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(p);
            }
        }
        Ok(out)
    }

    /// Parses the bytes; every error names the field and offset.
    pub fn decode(bytes: &[u8]) -> Result<RecordExtra, String> {
        let mut r = Reader { bytes, at: 0 };
        let format = r.take(1, "format version")?[0];
        if format != EXTRA_FORMAT {
            return Err(format!(
                "extra: record format version {format} (this evident reads version {EXTRA_FORMAT})"
            ));
        }
        let kind = r.take(1, "kind")?[0];
        let seq = u64::from_le_bytes(r.take(8, "seq")?.try_into().unwrap_or_default());
        let ts = u64::from_le_bytes(r.take(8, "timestamp")?.try_into().unwrap_or_default());
        let mut ph = [0u8; 32];
        ph.copy_from_slice(r.take(32, "payload hash")?);
        let origin_len = r.take(1, "origin length")?[0];
        if origin_len == 0 {
            return Err("extra: origin length 0 at offset 50".into());
        }
        let origin = std::str::from_utf8(r.take(usize::from(origin_len), "origin")?)
            .map_err(|_| "extra: the origin at offset 51 is not UTF-8".to_string())?
            .to_string();
        let tree_size = u64::from_le_bytes(r.take(8, "tree size")?.try_into().unwrap_or_default());
        let flag_at = r.at;
        let payload = match r.take(1, "payload flag")?[0] {
            0 => None,
            1 => {
                let len =
                    u32::from_le_bytes(r.take(4, "payload length")?.try_into().unwrap_or_default());
                Some(r.take(len as usize, "payload")?.to_vec())
            }
            f => {
                return Err(format!(
                    "extra: payload flag {f} at offset {flag_at} (0 = left out, 1 = included)"
                ))
            }
        };
        if r.at != bytes.len() {
            return Err(format!(
                "extra: {} bytes after the end at offset {}",
                bytes.len() - r.at,
                r.at
            ));
        }
        Ok(RecordExtra {
            kind,
            seq,
            ts,
            payload_hash: Hash(ph),
            origin,
            tree_size,
            payload,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "extra: ends at byte {} inside the {what} ({n} bytes at offset {})",
                    self.bytes.len(),
                    self.at
                )
            })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
}
