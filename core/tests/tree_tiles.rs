//! Tile bytes come from disk: wrong lengths, missing or too narrow tiles are errors naming
//! the tile, never panics; a wider or full tile serves a narrower need; and a tampered tile
//! never yields a bundle that verifies (the prover's own check refuses it).

use evident_core::hash::Hash;
use evident_core::tree::{
    inclusion_proof, leaf_node, prove_bundle, root_at, tiles_for_inclusion, tiles_for_root,
    BundleError, HashReader, MemoryTree, RecordExtra, TileBuilder, TileId, TileSet, TreeCheckpoint,
};

struct Log {
    tree: MemoryTree,
    records: Vec<RecordExtra>,
    tiles: Vec<(TileId, Vec<u8>)>,
}

fn log(n: u64) -> Log {
    let mut tree = MemoryTree::new();
    let mut records = Vec::new();
    let mut builder = TileBuilder::new();
    let mut tiles = Vec::new();
    for seq in 1..=n {
        let r = RecordExtra::of_record(1, seq, seq, format!("payload {seq}").as_bytes(), true);
        tree.push_leaf(&r.leaf());
        tiles.extend(builder.push_node(leaf_node(&r.leaf())));
        records.push(r);
    }
    tiles.extend(builder.partial_tiles());
    Log {
        tree,
        records,
        tiles,
    }
}

fn set_of(l: &Log) -> TileSet {
    let mut s = TileSet::new();
    for (id, b) in &l.tiles {
        s.insert(*id, b).unwrap();
    }
    s
}

#[test]
fn bad_tile_bytes_are_named_errors() {
    let l = log(600);
    let mut s = TileSet::new();
    let (id, bytes) = &l.tiles[0];
    let err = s.insert(*id, &bytes[..8191]).unwrap_err();
    assert!(
        err.0.contains("tile/0/000") && err.0.contains("8191"),
        "{err}"
    );
    let err = s.insert(TileId { width: 0, ..*id }, &[]).unwrap_err();
    assert!(err.0.contains("width 0"), "{err}");
    // Missing tile: the error names its path.
    let err = s.stored(0, 300).unwrap_err();
    assert!(err.0.contains("tile/0/001"), "{err}");
    // Too narrow: a partial tile of 3 cannot serve entry 10.
    s.insert(
        TileId {
            level: 0,
            index: 0,
            width: 3,
        },
        &bytes[..96],
    )
    .unwrap();
    let err = s.stored(0, 10).unwrap_err();
    assert!(err.0.contains("holds 3 hashes"), "{err}");
    assert_eq!(
        s.missing(&[TileId {
            level: 0,
            index: 0,
            width: 11
        }])
        .len(),
        1
    );
    // The full tile then replaces it, and a narrower one later does not shrink it.
    s.insert(*id, bytes).unwrap();
    s.insert(
        TileId {
            level: 0,
            index: 0,
            width: 3,
        },
        &bytes[..96],
    )
    .unwrap();
    assert_eq!(s.stored(0, 10).unwrap(), l.tree.stored(0, 10).unwrap());
    assert_eq!(s.stored(3, 31).unwrap(), l.tree.stored(3, 31).unwrap());
    assert!(s
        .missing(&[TileId {
            level: 0,
            index: 0,
            width: 256
        }])
        .is_empty());
    // Nodes no tree has: errors, not panics.
    assert!(s.stored(64, 0).is_err());
    assert!(s.stored(63, 2).is_err());
    assert!(s.stored(0, u64::MAX).is_err());
}

#[test]
fn the_planned_tiles_are_enough_and_few() {
    let l = log(70_000);
    let set = set_of(&l);
    for (index, size) in [
        (0u64, 70_000u64),
        (65_535, 65_536),
        (69_999, 70_000),
        (12_345, 66_000),
    ] {
        let need = tiles_for_inclusion(index, size).unwrap();
        assert!(need.len() <= 6, "{need:?}");
        assert_eq!(set.missing(&need), vec![]);
        let empty = TileSet::new();
        assert_eq!(empty.missing(&need), need);
        let mut planned = TileSet::new();
        for t in &need {
            let (_, b) = l
                .tiles
                .iter()
                .rev()
                .find(|(id, _)| (id.level, id.index) == (t.level, t.index))
                .unwrap();
            planned.insert(*t, &b[..t.byte_len()]).unwrap();
        }
        assert_eq!(
            inclusion_proof(index, size, &planned).unwrap(),
            inclusion_proof(index, size, &l.tree).unwrap()
        );
    }
    assert!(tiles_for_root(70_000).len() <= 3);
    assert!(tiles_for_root(0).is_empty());
}

#[test]
fn a_tampered_tile_never_yields_a_verifying_bundle() {
    let l = log(1000);
    let size = 1000;
    let cp = TreeCheckpoint::new("evident/t", size, root_at(size, &l.tree).unwrap()).unwrap();
    let note = cp.unsigned_note().unwrap();
    let seq = 700u64;
    let need = tiles_for_inclusion(seq - 1, size).unwrap();
    let mut refused = 0;
    for (ti, (id, bytes)) in l.tiles.iter().enumerate() {
        if !need
            .iter()
            .any(|t| (t.level, t.index) == (id.level, id.index))
        {
            continue;
        }
        for at in (0..bytes.len()).step_by(97) {
            let mut tiles = l.tiles.clone();
            tiles[ti].1[at] ^= 0x40;
            let mut s = TileSet::new();
            for (id, b) in &tiles {
                s.insert(*id, b).unwrap();
            }
            let proof = inclusion_proof(seq - 1, size, &s).unwrap();
            if proof == inclusion_proof(seq - 1, size, &l.tree).unwrap() {
                continue; // the flipped hash is not on this record's path
            }
            let err =
                prove_bundle(&l.records[seq as usize - 1], seq - 1, &proof, &note).unwrap_err();
            assert!(matches!(err, BundleError::Proof(_)), "{err}");
            refused += 1;
        }
    }
    assert!(refused > 0);
    // And a correct proof from the tiles is emitted.
    let proof = inclusion_proof(seq - 1, size, &set_of(&l)).unwrap();
    prove_bundle(&l.records[seq as usize - 1], seq - 1, &proof, &note).unwrap();
    // A proof for a different record than the one asked is refused too.
    let err = prove_bundle(&l.records[seq as usize], seq - 1, &proof, &note).unwrap_err();
    assert!(matches!(err, BundleError::SeqNotIndex { .. }), "{err}");
    let mut forged = l.records[seq as usize - 1].clone();
    forged.payload_hash = Hash([0; 32]);
    forged.payload = None;
    assert!(prove_bundle(&forged, seq - 1, &proof, &note).is_err());
}
