//! The Rust API of the prover: the fast path reads only the tiles a proof needs, a tampered
//! or missing tile sends it to the slow path (hashes rebuilt from the segments), and both give
//! the same, verifying proof.

mod common;

use common::{build, opts, read_all, temp_trail};
use evident_native::core::frame::KIND_ENTRY;
use evident_native::core::hash::{leaf_v2, payload_hash};
use evident_native::core::tree::{leaf_node, TileBuilder};
use evident_native::prove::{check_proof_text, Checked, InclusionOptions, Prover};
use std::path::Path;

fn write_genuine_tiles(dir: &Path) {
    let mut b = TileBuilder::new();
    let mut tiles = Vec::new();
    for r in read_all(dir) {
        let leaf = leaf_v2(KIND_ENTRY, r.seq, r.ts, &payload_hash(&r.payload));
        tiles.extend(b.push_node(leaf_node(&leaf)));
    }
    tiles.extend(b.partial_tiles());
    for (id, bytes) in tiles {
        let path = dir.join(id.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[tokio::test]
async fn genuine_tiles_are_used_and_tampered_ones_are_not_trusted() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("record {i}").into_bytes())
        .collect();
    build(&dir, opts(1 << 16), &payloads).await;
    write_genuine_tiles(&dir);
    let prover = Prover::open(&dir).unwrap();
    assert_eq!(prover.checkpoint().size, 1000);
    let mut fast = Vec::new();
    for seq in [1u64, 255, 256, 257, 999, 1000] {
        let b = prover.prove(seq, InclusionOptions::default()).unwrap();
        assert!(!b.inclusion.rebuilt, "seq {seq}: genuine tiles prove it");
        fast.push(b.text);
    }
    let at_size = prover
        .prove(
            300,
            InclusionOptions {
                size: Some(700),
                include_payload: true,
            },
        )
        .unwrap();
    assert!(!at_size.inclusion.rebuilt);
    assert_eq!(at_size.inclusion.tree.size, 700);
    // At size 990 the plan wants tile 0/003.p/222; the head's 0/003.p/232 holds its hashes.
    assert!(dir.join("tile/0/003.p/232").exists());
    let narrower = prover
        .prove(
            985,
            InclusionOptions {
                size: Some(990),
                include_payload: false,
            },
        )
        .unwrap();
    assert!(
        !narrower.inclusion.rebuilt,
        "a wider partial tile stands in"
    );

    // Change one hash in the level-0 tile holding entries 256..512.
    let tile = dir.join("tile/0/001");
    let mut bytes = std::fs::read(&tile).unwrap();
    bytes[5 * 32] ^= 1;
    std::fs::write(&tile, &bytes).unwrap();
    for (i, seq) in [1u64, 255, 256, 257, 999, 1000].into_iter().enumerate() {
        let b = prover.prove(seq, InclusionOptions::default()).unwrap();
        assert_eq!(
            b.text, fast[i],
            "seq {seq}: the same proof, whichever path made it"
        );
        match check_proof_text(&b.text).unwrap() {
            Checked::Inclusion(r) => {
                assert_eq!(r.seq, seq);
                assert_eq!(r.payload.unwrap(), payloads[seq as usize - 1]);
            }
            other => panic!("{other:?}"),
        }
    }
    // A tile the proof of 257 needs was changed: that proof was rebuilt.
    assert!(
        prover
            .prove(257, InclusionOptions::default())
            .unwrap()
            .inclusion
            .rebuilt
    );
}
