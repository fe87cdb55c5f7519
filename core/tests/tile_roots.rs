//! The tile roots a compact range hands out while it grows (`CompactRange::push_node_with`)
//! are exactly the roots of the full tiles: a tile builder fed them emits the tiles it would
//! have hashed itself, across tile levels 0, 1 and 2 (70,000 entries: a level-1 root every
//! 256 entries, a level-2 root at entry 65,536).

use evident_core::hash::Hash;
use evident_core::tree::{leaf_node, subtree_root, CompactRange, TileBuilder};

const ENTRIES: u64 = 70_000;

fn node(i: u64) -> Hash {
    leaf_node(&Hash(*blake3::hash(&i.to_le_bytes()).as_bytes()))
}

#[test]
fn the_roots_handed_out_are_the_full_tiles_roots_and_no_others() {
    let mut range = CompactRange::default();
    let mut nodes = Vec::new();
    let mut seen = [0u64; 4];
    for i in 0..ENTRIES {
        let n = node(i);
        nodes.push(n);
        let mut got = Vec::new();
        range.push_node_with(n, |level, root| got.push((level, root)));
        let size = i + 1;
        let mut want = Vec::new();
        for level in 1..=3u8 {
            let span = 1u64 << (8 * u32::from(level));
            if size % span == 0 {
                let from = (size - span) as usize;
                want.push((level, subtree_root(&nodes[from..size as usize])));
            }
        }
        assert_eq!(got, want, "entry {i}");
        for (level, _) in got {
            seen[usize::from(level)] += 1;
        }
    }
    assert_eq!(seen[1], ENTRIES / 256);
    assert_eq!(seen[2], 1);
}

#[test]
fn a_builder_fed_the_roots_emits_the_tiles_it_would_hash_itself() {
    let mut range = CompactRange::default();
    let mut hashing = TileBuilder::new();
    let mut fed = TileBuilder::new();
    let mut tiles = 0;
    for i in 0..ENTRIES {
        let n = node(i);
        let mut roots = Vec::new();
        range.push_node_with(n, |level, root| roots.push((level, root)));
        let a = hashing.push_node(n);
        let b = fed.push_node_with(n, &roots);
        assert_eq!(a, b, "entry {i}");
        tiles += a.len();
    }
    assert_eq!(hashing.partial_tiles(), fed.partial_tiles());
    assert_eq!(hashing, fed);
    // 273 full level-0 tiles and the one full level-1 tile.
    assert_eq!(tiles, 274);
}
