//! FORMAT.md's tree, tile, checkpoint-note, bundle and consistency-file vectors are checked
//! here: the ```tree-vectors block must equal what this crate computes, and the
//! ```tree-bundle and ```tree-consistency blocks must be byte for byte the files evident
//! writes (and they must verify). Print them with
//! `EVIDENT_PRINT_VECTORS=1 cargo test -p evident-core --test tree_vectors -- --nocapture`.

use evident_core::hash::to_hex_bytes;
use evident_core::tree::{
    base64, check_bundle, check_consistency_file, consistency_proof, inclusion_proof, leaf_node,
    prove_bundle, prove_consistency_file, root_at, MemoryTree, RecordExtra, TileBuilder,
    TreeCheckpoint,
};

const ORIGIN: &str = "evident/00112233445566778899aabbccddeeff";
const PAYLOADS: [&str; 5] = [
    r#"{"kind":"exec.request","agent":"a1","argv":["ls"]}"#,
    r#"{"kind":"tool.call","gen_ai.tool.name":"search","decision":"allow"}"#,
    "",
    r#"{"kind":"exec.result","exit":0}"#,
    r#"{"kind":"note"}"#,
];

struct Computed {
    vectors: Vec<(String, String)>,
    bundle: String,
    consistency: String,
}

fn compute() -> Computed {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut tree = MemoryTree::new();
    let mut records = Vec::new();
    let mut tiles = TileBuilder::new();
    for (i, p) in PAYLOADS.iter().enumerate() {
        let seq = i as u64 + 1;
        let ts = 1_700_000_000_000_000_000 + i as u64 * 1_000;
        let r = RecordExtra::of_record(1, seq, ts, p.as_bytes(), true);
        let leaf = r.leaf();
        v.push((format!("record{seq}_payload_hash"), r.payload_hash.to_hex()));
        v.push((format!("record{seq}_leaf"), leaf.to_hex()));
        v.push((format!("record{seq}_node"), leaf_node(&leaf).to_hex()));
        tree.push_leaf(&leaf);
        assert!(tiles.push_node(leaf_node(&leaf)).is_empty());
        records.push(r);
    }
    for size in 0..=5u64 {
        let root = root_at(size, &tree).unwrap();
        v.push((format!("root{size}"), root.to_hex()));
        v.push((format!("root{size}_base64"), base64::encode(&root.0)));
    }
    let [(tile, bytes)] = tiles.partial_tiles().try_into().unwrap();
    v.push(("tile_path".into(), tile.path()));
    v.push(("tile_bytes".into(), to_hex_bytes(&bytes)));
    let proof = inclusion_proof(2, 5, &tree).unwrap();
    for (i, h) in proof.iter().enumerate() {
        v.push((format!("inclusion_3_in_5_{i}"), h.to_hex()));
    }
    let cproof = consistency_proof(2, 5, &tree).unwrap();
    for (i, h) in cproof.iter().enumerate() {
        v.push((format!("consistency_2_to_5_{i}"), h.to_hex()));
    }
    let cp5 = TreeCheckpoint::new(ORIGIN, 5, root_at(5, &tree).unwrap()).unwrap();
    let cp2 = TreeCheckpoint::new(ORIGIN, 2, root_at(2, &tree).unwrap()).unwrap();
    v.push((
        "checkpoint5_body".into(),
        to_hex_bytes(cp5.body().as_bytes()),
    ));
    let note5 = cp5.unsigned_note().unwrap();
    let bundle = prove_bundle(&records[2], 2, &proof, &note5).unwrap();
    let mut extra = records[2].clone();
    (extra.origin, extra.tree_size) = (ORIGIN.to_string(), 5);
    v.push((
        "bundle3_extra".into(),
        to_hex_bytes(&extra.encode().unwrap()),
    ));
    let consistency =
        prove_consistency_file(&cproof, &cp2.unsigned_note().unwrap(), &note5).unwrap();
    Computed {
        vectors: v,
        bundle,
        consistency,
    }
}

fn format_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../FORMAT.md"))
        .expect("FORMAT.md")
}

fn block<'a>(doc: &'a str, tag: &str) -> &'a str {
    let start = doc
        .find(&format!("```{tag}\n"))
        .unwrap_or_else(|| panic!("FORMAT.md has a ```{tag} block"))
        + tag.len()
        + 4;
    let len = doc[start..].find("```").expect("the block ends");
    &doc[start..start + len]
}

fn print_vectors(v: &[(String, String)]) {
    for (k, val) in v {
        let mut rest = val.as_str();
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

fn documented(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some((k, val)) = line.split_once(": ") {
            out.push((k.to_string(), val.trim().to_string()));
        } else {
            out.last_mut().expect("a key first").1.push_str(line);
        }
    }
    out
}

#[test]
fn format_md_tree_vectors_match_the_implementation() {
    let c = compute();
    if std::env::var("EVIDENT_PRINT_VECTORS").is_ok() {
        print_vectors(&c.vectors);
        print!(
            "--- bundle\n{}--- consistency\n{}---\n",
            c.bundle, c.consistency
        );
    }
    let doc = format_md();
    assert_eq!(documented(block(&doc, "tree-vectors")), c.vectors);
    assert_eq!(block(&doc, "tree-bundle"), c.bundle);
    assert_eq!(block(&doc, "tree-consistency"), c.consistency);
    let b = check_bundle(block(&doc, "tree-bundle").as_bytes()).unwrap();
    assert_eq!(
        (b.seq, b.size, b.payload.as_deref()),
        (3, 5, Some(&b""[..]))
    );
    let k = check_consistency_file(block(&doc, "tree-consistency").as_bytes()).unwrap();
    assert_eq!((k.old_size, k.new_size), (2, 5));
}
