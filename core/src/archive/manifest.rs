//! The manifest of one upload round, and the description of a sealed segment it lists.
//!
//! A manifest is a JSON object written once (create-only) after the segments it lists. Its
//! `prev_manifest_sha256` is the SHA-256 of the previous round's manifest *as stored* (the exact
//! bytes), so the manifests form a chain: editing, replacing or removing one breaks the link of
//! the next, and two manifests for the same round cannot both be in the chain.

use super::keys;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Location};
use crate::footer::{Footer, TRAILER_LEN};
use crate::hash::{Hash, LogId};
use crate::header::{SegmentHeader, HEADER_LEN};
use crate::verify::Verifier;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` field of every manifest of this version.
pub const MANIFEST_FORMAT: &str = "evident-archive-manifest v1";

/// Bytes fed to the verifier at a time.
const VERIFY_CHUNK: usize = 1 << 20;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::hash::to_hex_bytes(&Sha256::digest(bytes))
}

/// One archived segment as a manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentEntry {
    /// The object's key relative to the log's folder (`seg/<20-digit first seq>.evseg`), so a
    /// log copied under another prefix still verifies.
    pub key: String,
    /// Segment number (from the header).
    pub segno: u64,
    /// Object size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the whole object.
    pub sha256: String,
    /// Seq of the first record.
    pub first_seq: u64,
    /// Seq of the last record.
    pub last_seq: u64,
    /// Timestamp of the first record (ns since the Unix epoch), for time-range queries.
    pub first_ts: u64,
    /// Timestamp of the last record.
    pub last_ts: u64,
    /// The chain anchor: chain hash of record `first_seq - 1` (the previous segment's last
    /// hash; the genesis hash for segment 0).
    pub anchor: String,
    /// Chain hash of the last record.
    pub last_hash: String,
}

/// The manifest of one upload round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// The trail.
    pub log_id: String,
    /// Round number, from 1; also the manifest's key.
    pub round: u64,
    /// SHA-256 of the stored bytes of manifest `round - 1`; `None` for round 1.
    pub prev_manifest_sha256: Option<String>,
    /// The segments uploaded in this round, in seq order, continuing the previous round.
    pub segments: Vec<SegmentEntry>,
    /// evident's chain checkpoint (text form) of the archived range's end: the last segment's
    /// last seq and hash.
    pub checkpoint: String,
    /// The C2SP checkpoint (signed note text) of the RFC 6962 tree over the archived records,
    /// when the writer maintains one. Verifiers check it when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_checkpoint: Option<String>,
}

impl Manifest {
    /// The bytes stored in the bucket (pretty JSON, newline-terminated).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec_pretty(self).expect("a manifest serializes");
        b.push(b'\n');
        b
    }

    /// Parses stored manifest bytes; `key` names the object in the error.
    pub fn decode(key: &str, bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| format!("manifest {key} does not parse: {e}"))?;
        if m.format != MANIFEST_FORMAT {
            return Err(format!(
                "manifest {key}: format `{}` is not `{MANIFEST_FORMAT}`",
                m.format
            ));
        }
        Ok(m)
    }

    /// The manifest's checkpoint, parsed.
    pub fn parsed_checkpoint(&self) -> Result<Checkpoint, String> {
        Checkpoint::parse(&self.checkpoint).map_err(|e| e.to_string())
    }
}

impl SegmentEntry {
    /// The anchor as a hash.
    pub fn anchor_hash(&self) -> Option<Hash> {
        Hash::from_hex(&self.anchor)
    }

    /// The last hash as a hash.
    pub fn last_hash_value(&self) -> Option<Hash> {
        Hash::from_hex(&self.last_hash)
    }
}

/// What [`describe_sealed_segment`] found in a verified sealed segment.
#[derive(Debug, Clone)]
pub struct SealedSegment {
    /// Its manifest entry.
    pub entry: SegmentEntry,
    /// The log its header names.
    pub log_id: LogId,
    /// The tree edge its footer carries at `entry.last_seq` (format 2; empty for format 1,
    /// whose footers have none).
    pub tree_edge: Vec<Hash>,
}

/// Verifies a whole sealed segment held in memory (framing, chain from its anchor, footer) and
/// describes it for a manifest. `prev` is the checkpoint of the record before it (the previous
/// segment's last seq and hash), `None` for segment 0. An unsealed segment, or one that does
/// not continue `prev`, is an error naming the file.
pub fn describe_sealed_segment(
    name: &str,
    bytes: &[u8],
    prev: Option<Checkpoint>,
) -> Result<SealedSegment, Error> {
    let corrupt = |offset: u64, what: String| Error::Corrupt {
        location: Location::file(name).at(offset),
        what,
    };
    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt(0, "too short for a sealed segment".into()));
    }
    let header =
        SegmentHeader::decode(&bytes[..HEADER_LEN]).map_err(|d| corrupt(0, d.to_string()))?;
    let len = bytes.len() as u64;
    let at = Footer::trailer_offset(&bytes[bytes.len() - TRAILER_LEN..], len)
        .map_err(|d| corrupt(len - TRAILER_LEN as u64, format!("not sealed: {d}")))?;
    let footer = Footer::decode(&bytes[at as usize..]).map_err(|d| corrupt(at, d.to_string()))?;
    let mut v = Verifier::new(Vec::new(), prev.filter(|p| p.seq > 0));
    v.begin_segment(name, len, false)?;
    // In chunks, as verification reads files: the scanner is tuned for them.
    for chunk in bytes.chunks(VERIFY_CHUNK) {
        v.push(chunk)?;
    }
    let report = v.finish()?;
    if report.head.seq != footer.last_seq || report.head.hash != footer.last_hash {
        return Err(corrupt(at, "footer does not describe the records".into()));
    }
    Ok(SealedSegment {
        entry: SegmentEntry {
            key: keys::segment_rel_key(header.first_seq),
            segno: header.segno,
            size: len,
            sha256: sha256_hex(bytes),
            first_seq: header.first_seq,
            last_seq: footer.last_seq,
            first_ts: footer.first_ts,
            last_ts: footer.last_ts,
            anchor: header.anchor.to_hex(),
            last_hash: footer.last_hash.to_hex(),
        },
        log_id: header.log_id,
        tree_edge: footer.edge,
    })
}
