//! FORMAT.md's test vectors are checked here: the `vectors` block in FORMAT.md must equal what
//! this crate computes. Run with `EVIDENT_PRINT_VECTORS=1 -- --nocapture` to print the block.

use evident_core::config::INDEX_STRIDE;
use evident_core::footer::{Footer, IndexBuilder};
use evident_core::frame::{encode_entry, frame_crc, KIND_ENTRY};
use evident_core::hash::{chain, genesis, leaf, to_hex_bytes, LogId, K_CHAIN, K_GENESIS, K_LEAF};
use evident_core::header::SegmentHeader;
use evident_core::verify::Verifier;
use evident_core::Checkpoint;

const PAYLOADS: [&str; 3] = [
    r#"{"kind":"exec.request","agent":"a1","argv":["ls"]}"#,
    r#"{"kind":"tool.call","gen_ai.tool.name":"search","decision":"allow"}"#,
    "",
];

fn compute() -> (Vec<(String, String)>, Vec<u8>, Checkpoint) {
    let log_id = LogId::from_hex("00112233445566778899aabbccddeeff").unwrap();
    let mut v = vec![
        ("k_genesis".to_string(), to_hex_bytes(&K_GENESIS)),
        ("k_leaf".to_string(), to_hex_bytes(&K_LEAF)),
        ("k_chain".to_string(), to_hex_bytes(&K_CHAIN)),
        ("log_id".to_string(), log_id.to_hex()),
        ("genesis".to_string(), genesis(&log_id).to_hex()),
    ];
    let header = SegmentHeader {
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
        let l = leaf(KIND_ENTRY, seq, ts, p.as_bytes());
        let h = chain(&prev, &l);
        let offset = file.len() as u64;
        let mut frame = Vec::new();
        encode_entry(&mut frame, seq, ts, &h, p.as_bytes());
        index.observe(seq, ts, offset);
        v.push((format!("record{seq}_payload"), to_hex_bytes(p.as_bytes())));
        v.push((format!("record{seq}_ts"), ts.to_string()));
        v.push((format!("record{seq}_leaf"), l.to_hex()));
        v.push((format!("record{seq}_chain"), h.to_hex()));
        v.push((
            format!("record{seq}_crc"),
            format!("{:08x}", frame_crc(&frame)),
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
        offset: file.len() as u64,
    };
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
    (v, file, cp)
}

fn documented() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../FORMAT.md"))
        .expect("FORMAT.md");
    let block = doc
        .split("```vectors\n")
        .nth(1)
        .expect("FORMAT.md has a ```vectors block");
    let block = block.split("```").next().unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
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
    let (computed, file, cp) = compute();
    if std::env::var("EVIDENT_PRINT_VECTORS").is_ok() {
        for (k, v) in &computed {
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
    assert_eq!(
        documented(),
        computed,
        "FORMAT.md vectors differ from the implementation"
    );
    // The documented sealed segment verifies, against its checkpoint too.
    let mut v = Verifier::new(vec![cp], None);
    v.begin_segment("00000000000000000001.evseg", file.len() as u64, false)
        .unwrap();
    v.push(&file).unwrap();
    let report = v.finish().unwrap();
    assert_eq!((report.records, report.head), (3, cp));
    assert_eq!(report.checkpoints_verified, vec![cp]);
}
