//! Differential tests against an independent implementation: the `tlog_tiles` crate 0.2.0
//! (Cloudflare's port of Go's golang.org/x/mod/sumdb/tlog, a dev-dependency only). Same
//! roots, inclusion and consistency proofs, tile contents and paths for random sizes up to
//! tens of thousands of entries, and its verifier accepts evident's proofs (and ours its).

use evident_core::hash::Hash;
use evident_core::tree::{
    consistency_proof, inclusion_proof, leaf_node, partial_tiles_at, root_at,
    tiles_for_consistency, tiles_for_inclusion, tiles_for_root, verify_consistency,
    verify_inclusion, CompactRange, MemoryTree, TileBuilder, TileId, TileSet,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use tlog_tiles as oracle;

/// The oracle's storage: every stored hash, in its own index order.
struct Store(Vec<oracle::Hash>);

impl oracle::HashReader for Store {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<oracle::Hash>, oracle::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

struct World {
    store: Store,
    ours: MemoryTree,
    /// Every tile written by the builder, the latest version of each (level, index).
    tiles: BTreeMap<(u8, u64), (TileId, Vec<u8>)>,
    nodes: Vec<Hash>,
}

fn leaf(i: u64, salt: u64) -> Hash {
    Hash(*blake3::hash(&[i.to_le_bytes(), salt.to_le_bytes()].concat()).as_bytes())
}

fn world(size: u64, salt: u64) -> World {
    let mut w = World {
        store: Store(Vec::new()),
        ours: MemoryTree::new(),
        tiles: BTreeMap::new(),
        nodes: Vec::new(),
    };
    let mut builder = TileBuilder::new();
    for i in 0..size {
        let node = leaf_node(&leaf(i, salt));
        let new = oracle::stored_hashes_for_record_hash(i, oracle::Hash(node.0), &w.store).unwrap();
        w.store.0.extend(new);
        w.ours.push_node(node);
        w.nodes.push(node);
        for (id, bytes) in builder.push_node(node) {
            w.tiles.insert((id.level, id.index), (id, bytes));
        }
    }
    for (id, bytes) in builder.partial_tiles() {
        w.tiles.insert((id.level, id.index), (id, bytes));
    }
    w
}

fn oh(h: &Hash) -> oracle::Hash {
    oracle::Hash(h.0)
}

fn tileset(w: &World) -> TileSet {
    let mut set = TileSet::new();
    for (id, bytes) in w.tiles.values() {
        set.insert(*id, bytes).unwrap();
    }
    set
}

fn check_size(w: &World, size: u64, probes: &[u64]) {
    let set = tileset(w);
    let root = root_at(size, &w.ours).unwrap();
    assert_eq!(
        oh(&root),
        oracle::tree_hash(size, &w.store).unwrap(),
        "root at {size}"
    );
    assert_eq!(
        root_at(size, &set).unwrap(),
        root,
        "root from tiles at {size}"
    );
    // Only the planned tiles are needed.
    let mut planned = TileSet::new();
    for t in tiles_for_root(size) {
        let (_, bytes) = &w.tiles[&(t.level, t.index)];
        planned
            .insert(
                TileId {
                    width: (bytes.len() / 32) as u16,
                    ..t
                },
                bytes,
            )
            .unwrap();
    }
    assert_eq!(root_at(size, &planned).unwrap(), root);
    for &p in probes {
        let index = p % size;
        let proof = inclusion_proof(index, size, &w.ours).unwrap();
        let theirs = oracle::prove_record(size, index, &w.store).unwrap();
        assert_eq!(
            proof.iter().map(oh).collect::<Vec<_>>(),
            theirs,
            "inclusion {index}/{size}"
        );
        oracle::check_record(
            &proof.iter().map(oh).collect(),
            size,
            oh(&root),
            index,
            oh(&w.nodes[index as usize]),
        )
        .unwrap();
        verify_inclusion(&w.nodes[index as usize], index, size, &proof, &root).unwrap();
        // From exactly the planned tiles, cut to the planned width.
        let mut set = TileSet::new();
        for t in tiles_for_inclusion(index, size).unwrap() {
            let (_, bytes) = &w.tiles[&(t.level, t.index)];
            set.insert(t, &bytes[..t.byte_len()]).unwrap();
        }
        assert_eq!(inclusion_proof(index, size, &set).unwrap(), proof);

        let old = 1 + p % size;
        let old_root = root_at(old, &w.ours).unwrap();
        let cproof = consistency_proof(old, size, &w.ours).unwrap();
        let theirs = oracle::prove_tree(size, old, &w.store).unwrap();
        assert_eq!(
            cproof.iter().map(oh).collect::<Vec<_>>(),
            theirs,
            "consistency {old}->{size}"
        );
        oracle::check_tree(
            &cproof.iter().map(oh).collect(),
            size,
            oh(&root),
            old,
            oh(&old_root),
        )
        .unwrap();
        verify_consistency(old, size, &cproof, &old_root, &root).unwrap();
        let mut set = TileSet::new();
        for t in tiles_for_consistency(old, size).unwrap() {
            let (_, bytes) = &w.tiles[&(t.level, t.index)];
            set.insert(t, &bytes[..t.byte_len()]).unwrap();
        }
        assert_eq!(consistency_proof(old, size, &set).unwrap(), cproof);
        // O(log n) tiles.
        let bound = 4 * (64 - size.leading_zeros() as usize) + 4;
        assert!(tiles_for_consistency(old, size).unwrap().len() <= bound);
        assert!(tiles_for_inclusion(index, size).unwrap().len() <= bound);
    }
}

#[test]
fn tiles_match_the_oracle_paths_and_bytes() {
    for size in [1u64, 255, 256, 257, 65535, 65536, 65537 + 300] {
        let w = world(size, size);
        let theirs = oracle::Tile::new_tiles(8, 0, size);
        let mut want = BTreeMap::new();
        for t in &theirs {
            // Keep the widest (final) version of each tile, as a writer leaves them.
            want.insert((t.level(), t.level_index()), *t);
        }
        assert_eq!(want.len(), w.tiles.len(), "tile count at {size}");
        for ((level, index), t) in want {
            let (id, bytes) = &w.tiles[&(level, index)];
            let path = t.path().replacen("tile/8/", "tile/", 1);
            assert_eq!(id.path(), path, "size {size}");
            assert_eq!(*bytes, t.read_data(&w.store).unwrap(), "bytes of {path}");
        }
        let partial: Vec<String> = partial_tiles_at(size).iter().map(TileId::path).collect();
        let mut theirs_partial: Vec<String> = theirs
            .iter()
            .filter(|t| t.width() < 256)
            .map(|t| t.path().replacen("tile/8/", "tile/", 1))
            .collect();
        theirs_partial.sort();
        let mut ours_sorted = partial.clone();
        ours_sorted.sort();
        assert_eq!(ours_sorted, theirs_partial, "partial tiles at {size}");
    }
}

#[test]
fn builder_resumes_from_its_partial_tiles() {
    let w = world(70_000, 3);
    let mut builder = TileBuilder::new();
    for n in &w.nodes[..66_000] {
        builder.push_node(*n);
    }
    let mut set = TileSet::new();
    for (id, bytes) in builder.partial_tiles() {
        set.insert(id, &bytes).unwrap();
    }
    let mut resumed = TileBuilder::resume(66_000, &set).unwrap();
    assert_eq!(resumed, builder);
    for n in &w.nodes[66_000..] {
        resumed.push_node(*n);
    }
    assert_eq!(resumed.size(), 70_000);
    assert!(TileBuilder::resume(66_001, &set).is_err());
}

#[test]
fn edge_sizes_agree_with_the_oracle() {
    let w = world(20_000, 7);
    let mut range = CompactRange::new();
    for (i, n) in w.nodes.iter().enumerate() {
        range.push_node(*n);
        let size = i as u64 + 1;
        if size.is_power_of_two() || size.is_multiple_of(997) || size + 1 == 256 || size % 256 <= 1
        {
            assert_eq!(range.root(), root_at(size, &w.ours).unwrap());
            check_size(&w, size, &[0, size / 2, size - 1, size.wrapping_mul(31)]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_sizes_agree_with_the_oracle(size in 1u64..40_000, salt in any::<u64>(), probes in proptest::collection::vec(any::<u64>(), 1..6)) {
        let w = world(size, salt);
        check_size(&w, size, &probes);
    }
}
