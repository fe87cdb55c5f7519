//! `proofs`: the tree's proof work at a realistic size (2^20 + 12345 entries, so proofs are
//! 21 hashes and cross partial tiles): checking a whole bundle (parse, payload hash, leaf,
//! inclusion), the inclusion check alone, and making a proof from tiles (plan, TileSet from
//! the planned tiles' bytes, proof). The issue asks ≥ 20,000 bundle checks per second.

use criterion::{criterion_group, criterion_main, Criterion};
use evident_core::tree::{
    check_bundle, inclusion_proof, leaf_node, prove_bundle, root_at, tiles_for_inclusion,
    verify_inclusion, MemoryTree, RecordExtra, TileBuilder, TileId, TileSet, TreeCheckpoint,
};
use std::collections::BTreeMap;
use std::hint::black_box;

const SIZE: u64 = (1 << 20) + 12_345;

fn bench(c: &mut Criterion) {
    let mut tree = MemoryTree::new();
    let mut builder = TileBuilder::new();
    let mut tiles: BTreeMap<(u8, u64), Vec<u8>> = BTreeMap::new();
    let seq = 777_777u64;
    let mut record = None;
    let payload = br#"{"kind":"tool.call","gen_ai.tool.name":"web.search","decision":"allow"}"#;
    for s in 1..=SIZE {
        let r = RecordExtra::of_record(1, s, s, payload, true);
        let node = leaf_node(&r.leaf());
        tree.push_node(node);
        for (id, b) in builder.push_node(node) {
            tiles.insert((id.level, id.index), b);
        }
        if s == seq {
            record = Some(r);
        }
    }
    for (id, b) in builder.partial_tiles() {
        tiles.insert((id.level, id.index), b);
    }
    let record = record.unwrap();
    let cp = TreeCheckpoint::new("evident/bench", SIZE, root_at(SIZE, &tree).unwrap()).unwrap();
    let note = cp.unsigned_note().unwrap();
    let proof = inclusion_proof(seq - 1, SIZE, &tree).unwrap();
    let bundle = prove_bundle(&record, seq - 1, &proof, &note).unwrap();
    let node = leaf_node(&record.leaf());

    c.bench_function("check_bundle (2^20 tree, 72-byte payload)", |b| {
        b.iter(|| check_bundle(black_box(bundle.as_bytes())).unwrap())
    });
    c.bench_function("verify_inclusion (21 hashes)", |b| {
        b.iter(|| verify_inclusion(black_box(&node), seq - 1, SIZE, &proof, &cp.root).unwrap())
    });
    c.bench_function("inclusion proof from tiles (plan, TileSet, proof)", |b| {
        b.iter(|| {
            let mut set = TileSet::new();
            for t in tiles_for_inclusion(seq - 1, SIZE).unwrap() {
                let bytes = &tiles[&(t.level, t.index)];
                set.insert(
                    TileId {
                        width: (bytes.len() / 32) as u16,
                        ..t
                    },
                    bytes,
                )
                .unwrap();
            }
            inclusion_proof(seq - 1, SIZE, &set).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
