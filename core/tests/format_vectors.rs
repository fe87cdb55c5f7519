//! FORMAT.md's test vectors are checked here: the `vectors` block in FORMAT.md must equal what
//! this crate computes. Run with `EVIDENT_PRINT_VECTORS=1 -- --nocapture` to print the block.

use evident_core::config::INDEX_STRIDE;
use evident_core::footer::{Footer, IndexBuilder};
use evident_core::frame::{encode_entry, frame_crc, KIND_ENTRY};
use evident_core::hash::{
    chain, genesis, leaf_v1, leaf_v2, payload_hash, to_hex_bytes, Hash, LogId, K_CHAIN, K_GENESIS,
    K_LEAF, K_PAYLOAD,
};
use evident_core::header::{FormatVersion, SegmentHeader};
use evident_core::tree::CompactRange;
use evident_core::verify::Verifier;
use evident_core::Checkpoint;

#[path = "format_vectors/multi_segment.rs"]
mod multi_segment;

const PAYLOADS: [&str; 3] = [
    r#"{"kind":"exec.request","agent":"a1","argv":["ls"]}"#,
    r#"{"kind":"tool.call","gen_ai.tool.name":"search","decision":"allow"}"#,
    "",
];

/// The first vectors' segment, in format `version` (the vectors are format 2; the same records
/// in format 1 are checked against the bytes version 1 of FORMAT.md documented).
fn compute_as(version: FormatVersion) -> (Vec<(String, String)>, Vec<u8>, Checkpoint) {
    let log_id = LogId::from_hex("00112233445566778899aabbccddeeff").unwrap();
    let mut v = vec![
        ("k_genesis".to_string(), to_hex_bytes(&K_GENESIS)),
        ("k_leaf".to_string(), to_hex_bytes(&K_LEAF)),
        ("k_chain".to_string(), to_hex_bytes(&K_CHAIN)),
        ("k_payload".to_string(), to_hex_bytes(&K_PAYLOAD)),
        ("log_id".to_string(), log_id.to_hex()),
        ("genesis".to_string(), genesis(&log_id).to_hex()),
    ];
    let mut tree = CompactRange::new();
    let header = SegmentHeader {
        version,
        log_id,
        segno: 0,
        first_seq: 1,
        anchor: genesis(&log_id),
    };
    let mut file = header.encode().to_vec();
    v.push(("segment_header".into(), to_hex_bytes(&file)));
    let mut prev = genesis(&log_id);
    let mut index = IndexBuilder::new(INDEX_STRIDE);
    for (i, p) in PAYLOADS.iter().enumerate() {
        let seq = i as u64 + 1;
        let ts = 1_700_000_000_000_000_000 + i as u64 * 1_000;
        let ph = payload_hash(p.as_bytes());
        let l = match version {
            FormatVersion::V1 => leaf_v1(KIND_ENTRY, seq, ts, p.as_bytes()),
            FormatVersion::V2 => leaf_v2(KIND_ENTRY, seq, ts, &ph),
        };
        tree.push_leaf(&l);
        let h = chain(&prev, &l);
        let offset = file.len() as u64;
        let mut frame = Vec::new();
        encode_entry(&mut frame, seq, ts, &h, p.as_bytes());
        index.observe(seq, ts, offset);
        v.push((format!("record{seq}_payload"), to_hex_bytes(p.as_bytes())));
        v.push((format!("record{seq}_ts"), ts.to_string()));
        v.push((format!("record{seq}_payload_hash"), ph.to_hex()));
        v.push((format!("record{seq}_leaf"), l.to_hex()));
        v.push((format!("record{seq}_chain"), h.to_hex()));
        // The CRC as a number (big-endian digits, as `printf %08x` prints it), then the four
        // bytes the frame stores (little-endian), so nobody has to guess the byte order.
        let crc = frame_crc(&frame);
        v.push((format!("record{seq}_crc"), format!("{crc:08x}")));
        v.push((
            format!("record{seq}_crc_le_bytes"),
            to_hex_bytes(&crc.to_le_bytes()),
        ));
        v.push((format!("record{seq}_frame"), to_hex_bytes(&frame)));
        file.extend_from_slice(&frame);
        prev = h;
    }
    let footer = Footer {
        count: 3,
        first_seq: 1,
        last_seq: 3,
        last_hash: prev,
        first_ts: 1_700_000_000_000_000_000,
        last_ts: 1_700_000_000_000_002_000,
        index_stride: INDEX_STRIDE,
        index: index.take(),
        edge: match version {
            FormatVersion::V1 => Vec::new(),
            FormatVersion::V2 => tree.edge().to_vec(),
        },
        offset: file.len() as u64,
    };
    v.push(("tree_edge_3".into(), edge_hex(tree.edge())));
    v.push(("tree_root_3".into(), tree.root().to_hex()));
    let fb = footer.encode();
    v.push(("footer".into(), to_hex_bytes(&fb)));
    file.extend_from_slice(&fb);
    v.push((
        "sealed_segment_blake3".into(),
        blake3::hash(&file).to_hex().to_string(),
    ));
    let cp = Checkpoint {
        log_id,
        seq: 3,
        hash: prev,
    };
    v.push((
        "checkpoint_text".into(),
        to_hex_bytes(cp.to_text().as_bytes()),
    ));
    v.push((
        "checkpoint_json".into(),
        to_hex_bytes(cp.to_json().as_bytes()),
    ));
    v.push((
        "head_checkpoint_file".into(),
        to_hex_bytes(cp.to_text_with_root(&tree.root()).as_bytes()),
    ));
    (v, file, cp)
}

fn compute() -> (Vec<(String, String)>, Vec<u8>, Checkpoint) {
    compute_as(FormatVersion::V2)
}

/// The edge nodes, largest subtree first, as one hex string.
pub fn edge_hex(edge: &[Hash]) -> String {
    edge.iter().map(|h| h.to_hex()).collect()
}

/// Version-1 trails are still read and verified: the same three records written in format 1
/// give exactly the segment version 1 of FORMAT.md documented (its `sealed_segment_blake3`),
/// and it verifies, with its checkpoint and the tree recomputed from its (version-1) leaves.
#[test]
fn a_version_1_segment_is_the_documented_one_and_verifies() {
    let (vectors, file, cp) = compute_as(FormatVersion::V1);
    let get = |k: &str| vectors.iter().find(|(key, _)| key == k).unwrap().1.clone();
    assert_eq!(
        get("sealed_segment_blake3"),
        "905c16131facb8b1776b8c6f00a5d5f653b048ebd5604270e2121d88a3e44c18"
    );
    assert_eq!(
        get("record1_leaf"),
        "0c38e9781debcad21c7952581b6a7dd0581d89e955d99a600214300de5988c08"
    );
    let root = Hash::from_hex(&get("tree_root_3")).unwrap();
    let mut v = Verifier::new(vec![cp], None);
    v.check_tree_root(3, root);
    v.begin_segment("00000000000000000001.evseg", file.len() as u64, false)
        .unwrap();
    v.push(&file).unwrap();
    let report = v.finish().unwrap();
    assert_eq!((report.records, report.head), (3, cp));
    assert_eq!(report.version, FormatVersion::V1);
    assert_eq!(report.tree, Some((3, root)));
}

fn print_block(computed: &[(String, String)]) {
    for (k, v) in computed {
        let mut rest = v.as_str();
        let first = rest.len().min(64);
        println!("{k}: {}", &rest[..first]);
        rest = &rest[first..];
        while !rest.is_empty() {
            let n = rest.len().min(64);
            println!("    {}", &rest[..n]);
            rest = &rest[n..];
        }
    }
}

fn documented() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../FORMAT.md"))
        .expect("FORMAT.md");
    let blocks: Vec<&str> = doc
        .split("```vectors\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(!blocks.is_empty(), "FORMAT.md has ```vectors blocks");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in blocks.iter().flat_map(|b| b.lines()) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some((k, val)) = line.split_once(':') {
            out.push((k.trim().to_string(), val.trim().to_string()));
        } else {
            // Continuation of a long hex value.
            out.last_mut().expect("a key first").1.push_str(line);
        }
    }
    out
}

#[test]
fn format_md_vectors_match_the_implementation() {
    let (mut computed, file, cp) = compute();
    let trail = multi_segment::compute();
    computed.extend(trail.vectors.iter().cloned());
    if std::env::var("EVIDENT_PRINT_VECTORS").is_ok() {
        print_block(&computed);
    }
    assert_eq!(
        documented(),
        computed,
        "FORMAT.md vectors differ from the implementation"
    );
    // The documented sealed segment verifies, against its checkpoint in both forms too.
    assert_eq!(Checkpoint::parse(&cp.to_json()), Ok(cp));
    let root =
        Hash::from_hex(&computed.iter().find(|(k, _)| k == "tree_root_3").unwrap().1).unwrap();
    let mut v = Verifier::new(vec![cp], None);
    v.check_tree_root(3, root);
    v.begin_segment("00000000000000000001.evseg", file.len() as u64, false)
        .unwrap();
    v.push(&file).unwrap();
    let report = v.finish().unwrap();
    assert_eq!((report.records, report.head), (3, cp));
    assert_eq!(report.checkpoints_verified, vec![cp]);
    assert_eq!(report.version, FormatVersion::V2);
    assert_eq!(report.tree_roots_verified, vec![(3, root)]);
}

/// The multi-segment trail verifies as FORMAT.md says: two segments, nine records, the zero
/// tail counted, the head checkpoint proven; the retained trail (segment 0 removed) verifies
/// from its anchor, vouched for by `retained.checkpoint`, and starts at seq 8.
#[test]
fn documented_trails_verify_as_documented() {
    let t = multi_segment::compute();
    let head = Checkpoint::parse(&t.head.to_text()).unwrap();
    assert_eq!(Checkpoint::parse(&t.head.to_json()), Ok(head));
    let mut v = Verifier::new(vec![head], None);
    v.check_tree_root(9, t.root);
    for (i, (name, bytes)) in t.files.iter().enumerate() {
        v.begin_segment(name, bytes.len() as u64, i + 1 == t.files.len())
            .unwrap();
        v.push(bytes).unwrap();
    }
    let report = v.finish().unwrap();
    assert_eq!(
        (
            report.segments,
            report.records,
            report.first_seq,
            report.head
        ),
        (2, 9, 1, head)
    );
    assert_eq!(report.zero_tail, t.zero_tail);
    assert_eq!(report.checkpoints_verified, vec![head]);
    assert_eq!(report.anchored_by, None);
    assert_eq!(report.tree, Some((9, t.root)));
    assert_eq!(report.tree_roots_verified, vec![(9, t.root)]);

    let retained = Checkpoint::parse_canonical(&t.retained.to_text()).unwrap();
    let (name, bytes) = &t.files[1];
    let mut v = Verifier::new(vec![head], Some(retained));
    v.begin_segment(name, bytes.len() as u64, true).unwrap();
    v.push(bytes).unwrap();
    let report = v.finish().unwrap();
    assert_eq!(
        (
            report.segments,
            report.records,
            report.first_seq,
            report.head
        ),
        (1, 2, 8, head)
    );
    assert_eq!(report.anchored_by, Some(retained));

    // Without the retention checkpoint the same segment is a trail with its start missing.
    let mut v = Verifier::new(vec![], None);
    v.begin_segment(name, bytes.len() as u64, true).unwrap();
    let e = v.push(bytes).unwrap_err();
    assert!(e.is_corruption(), "{e}");
}
