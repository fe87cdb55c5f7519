//! FORMAT.md's second set of vectors (`trail2_*`): a two-segment trail whose sealed segment has
//! a sparse index of three entries and whose unsealed last segment ends in preallocated zeros,
//! its head checkpoint in both forms, and the `retained.checkpoint` of the same trail after
//! retention removed segment 0.
//!
//! Every value is derived from a rule FORMAT.md states (payload bytes, timestamps, file length),
//! so a verifier in another language rebuilds the files and compares the hashes given.

use evident_core::config::INDEX_STRIDE;
use evident_core::footer::{Footer, IndexBuilder};
use evident_core::frame::{encode_entry, frame_crc, KIND_ENTRY, RECORD_HEADER_LEN};
use evident_core::hash::{chain, genesis, leaf, to_hex_bytes, Hash, LogId};
use evident_core::header::{FormatVersion, SegmentHeader};
use evident_core::naming::segment_name;
use evident_core::tree::CompactRange;
use evident_core::Checkpoint;

/// Records 1..=7 fill segment 0: 30,000 bytes each, every byte equal to the record's seq.
const BIG_RECORDS: u64 = 7;
const BIG_PAYLOAD_LEN: usize = 30_000;
/// Records 8 and 9 start segment 1.
const SMALL_PAYLOADS: [&str; 2] = [r#"{"kind":"exec.exit","agent":"a1","code":0}"#, "x"];
/// Segment 1 was preallocated to this length; the bytes after record 9 are zero.
const SEGMENT1_LEN: usize = 4096;

/// What the vectors describe, rebuilt.
pub struct Trail {
    /// `(key, value)` lines of the FORMAT.md block.
    pub vectors: Vec<(String, String)>,
    /// Segment files in name order: (name, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// Zero bytes after the last record of segment 1.
    pub zero_tail: u64,
    /// Checkpoint of seq 9.
    pub head: Checkpoint,
    /// Checkpoint of seq 7: `retained.checkpoint` once segment 0 is removed.
    pub retained: Checkpoint,
    /// The tree root at seq 9.
    pub root: Hash,
}

fn ts(seq: u64) -> u64 {
    1_700_000_000_000_000_000 + 1_000 * (seq - 1)
}

/// Appends one record to `file`, noting it in the index; returns its chain value.
#[allow(clippy::too_many_arguments)] // one record of the documented trail: every part it touches
fn record(
    v: &mut Vec<(String, String)>,
    file: &mut Vec<u8>,
    index: &mut IndexBuilder,
    tree: &mut CompactRange,
    prev: &Hash,
    seq: u64,
    payload: &[u8],
    whole_frame: bool,
) -> Hash {
    let l = leaf(KIND_ENTRY, seq, ts(seq), payload);
    tree.push_leaf(&l);
    let h = chain(prev, &l);
    let offset = file.len() as u64;
    let mut frame = Vec::new();
    encode_entry(&mut frame, seq, ts(seq), &h, payload);
    index.observe(seq, ts(seq), offset);
    let p = format!("trail2_record{seq}");
    v.push((format!("{p}_offset"), offset.to_string()));
    v.push((format!("{p}_leaf"), l.to_hex()));
    v.push((format!("{p}_chain"), h.to_hex()));
    v.push((format!("{p}_crc"), format!("{:08x}", frame_crc(&frame))));
    if whole_frame {
        v.push((format!("{p}_frame"), to_hex_bytes(&frame)));
    } else {
        // The 56 bytes before the payload; the payload follows (its length is a multiple of 8,
        // so there is no padding).
        v.push((
            format!("{p}_frame_head"),
            to_hex_bytes(&frame[..RECORD_HEADER_LEN]),
        ));
    }
    file.extend_from_slice(&frame);
    h
}

/// Builds the trail and its vectors.
pub fn compute() -> Trail {
    let log_id = LogId::from_hex("00112233445566778899aabbccddeeff").unwrap();
    let mut v = Vec::new();

    // Segment 0: records 1..=7, sealed.
    let h0 = SegmentHeader {
        version: FormatVersion::V2,
        log_id,
        segno: 0,
        first_seq: 1,
        anchor: genesis(&log_id),
    };
    let mut seg0 = h0.encode().to_vec();
    let mut index = IndexBuilder::new(INDEX_STRIDE);
    let mut prev = genesis(&log_id);
    let mut tree = CompactRange::new();
    for seq in 1..=BIG_RECORDS {
        let payload = vec![seq as u8; BIG_PAYLOAD_LEN];
        prev = record(
            &mut v, &mut seg0, &mut index, &mut tree, &prev, seq, &payload, false,
        );
    }
    let footer = Footer {
        count: BIG_RECORDS,
        first_seq: 1,
        last_seq: BIG_RECORDS,
        last_hash: prev,
        first_ts: ts(1),
        last_ts: ts(BIG_RECORDS),
        index_stride: INDEX_STRIDE,
        index: index.take(),
        edge: tree.edge().to_vec(),
        offset: seg0.len() as u64,
    };
    v.push((
        "trail2_segment0_tree_edge".into(),
        super::edge_hex(tree.edge()),
    ));
    let index_seqs: Vec<String> = footer.index.iter().map(|e| e.seq.to_string()).collect();
    v.push(("trail2_segment0_index_seqs".into(), index_seqs.join(",")));
    let fb = footer.encode();
    v.push(("trail2_segment0_footer".into(), to_hex_bytes(&fb)));
    seg0.extend_from_slice(&fb);
    v.push(("trail2_segment0_len".into(), seg0.len().to_string()));
    v.push((
        "trail2_segment0_blake3".into(),
        blake3::hash(&seg0).to_hex().to_string(),
    ));
    let retained = Checkpoint {
        log_id,
        seq: BIG_RECORDS,
        hash: prev,
    };

    // Segment 1: records 8 and 9, unsealed, in a file preallocated to 4096 bytes.
    let h1 = SegmentHeader {
        version: FormatVersion::V2,
        log_id,
        segno: 1,
        first_seq: BIG_RECORDS + 1,
        anchor: prev,
    };
    let mut seg1 = h1.encode().to_vec();
    v.push(("trail2_segment1_header".into(), to_hex_bytes(&seg1)));
    let mut index = IndexBuilder::new(INDEX_STRIDE);
    for (i, p) in SMALL_PAYLOADS.iter().enumerate() {
        let seq = BIG_RECORDS + 1 + i as u64;
        v.push((
            format!("trail2_record{seq}_payload"),
            to_hex_bytes(p.as_bytes()),
        ));
        prev = record(
            &mut v,
            &mut seg1,
            &mut index,
            &mut tree,
            &prev,
            seq,
            p.as_bytes(),
            true,
        );
    }
    let zero_tail = (SEGMENT1_LEN - seg1.len()) as u64;
    v.push(("trail2_segment1_zero_tail".into(), zero_tail.to_string()));
    seg1.resize(SEGMENT1_LEN, 0);
    v.push((
        "trail2_segment1_blake3".into(),
        blake3::hash(&seg1).to_hex().to_string(),
    ));
    let head = Checkpoint {
        log_id,
        seq: BIG_RECORDS + SMALL_PAYLOADS.len() as u64,
        hash: prev,
    };
    v.push((
        "trail2_head_checkpoint_text".into(),
        to_hex_bytes(head.to_text().as_bytes()),
    ));
    v.push((
        "trail2_head_checkpoint_json".into(),
        to_hex_bytes(head.to_json().as_bytes()),
    ));
    v.push((
        "trail2_retained_checkpoint_text".into(),
        to_hex_bytes(retained.to_text().as_bytes()),
    ));
    v.push(("trail2_tree_root_9".into(), tree.root().to_hex()));
    v.push((
        "trail2_head_checkpoint_file".into(),
        to_hex_bytes(head.to_text_with_root(&tree.root()).as_bytes()),
    ));
    Trail {
        vectors: v,
        files: vec![
            (segment_name(1), seg0),
            (segment_name(BIG_RECORDS + 1), seg1),
        ],
        zero_tail,
        head,
        retained,
        root: tree.root(),
    }
}
