//! Which tiles a host must read (sans-IO planning): for a root, an inclusion proof or a
//! consistency proof, the tiles holding the stored nodes the computation will ask for,
//! each with the smallest width that covers them. O(log n) tiles for any size.
//!
//! A stored node at tree level `8 t + d` (`d < 8`) is computed from `2^d` consecutive hashes
//! of one tile at tile level `t`; so every node lives in exactly one tile.
//!
//! Host loop: `let need = tiles_for_inclusion(i, n)?;` read each `need[k].path()` (a stored
//! tile of that level and index at least that wide, full or partial, will do), hand the
//! bytes to a [`super::TileSet`], then run [`super::inclusion_proof`] over the set.

use super::proof::{consistency_ranges, inclusion_ranges, range_nodes, NodeId, ProofError};
use super::tile::{TileId, TILE_HEIGHT, TILE_WIDTH};
use std::collections::BTreeMap;

/// Where a stored node's hashes lie: the tile (with the width that covers them), the
/// position of the first of them in the tile, and how many there are (`2^d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInTile {
    /// The tile, `width` = first + count (the narrowest tile that holds them).
    pub tile: TileId,
    /// Position of the first hash in the tile.
    pub first: usize,
    /// Number of tile hashes the node is the subtree root of (1, 2, 4, ... 128).
    pub count: usize,
}

/// The tile holding stored node `node`; `None` for a node no tree of fewer than 2^64
/// entries has (level above 63 or index out of range).
pub fn tile_for_node(node: NodeId) -> Option<NodeInTile> {
    if node.level > 63 {
        return None;
    }
    let tile_level = u32::from(node.level) / TILE_HEIGHT;
    let depth = u32::from(node.level) % TILE_HEIGHT;
    let first_hash = u128::from(node.index) << depth;
    let end_hash = (u128::from(node.index) + 1) << depth;
    // The entries the node covers must fit in a u64 tree.
    if (u128::from(node.index) + 1) << node.level > 1u128 << 64 {
        return None;
    }
    let tile_index = (first_hash >> TILE_HEIGHT) as u64;
    let first = (first_hash % u128::from(TILE_WIDTH)) as usize;
    let count = (end_hash - first_hash) as usize;
    Some(NodeInTile {
        tile: TileId {
            level: tile_level as u8,
            index: tile_index,
            width: (first + count) as u16,
        },
        first,
        count,
    })
}

/// The tiles holding `nodes`, one per (level, index) at the widest width any node needs,
/// ordered by level then index.
pub fn tiles_for_nodes(nodes: &[NodeId]) -> Vec<TileId> {
    let mut widest: BTreeMap<(u8, u64), u16> = BTreeMap::new();
    for n in nodes {
        if let Some(t) = tile_for_node(*n) {
            let w = widest.entry((t.tile.level, t.tile.index)).or_insert(0);
            *w = (*w).max(t.tile.width);
        }
    }
    widest
        .into_iter()
        .map(|((level, index), width)| TileId {
            level,
            index,
            width,
        })
        .collect()
}

fn tiles_for_ranges(ranges: &[(u64, u64)]) -> Vec<TileId> {
    let nodes: Vec<NodeId> = ranges
        .iter()
        .flat_map(|&(lo, hi)| range_nodes(lo, hi))
        .collect();
    tiles_for_nodes(&nodes)
}

/// Tiles needed to compute the root of the tree of `size` entries (none for size 0).
pub fn tiles_for_root(size: u64) -> Vec<TileId> {
    tiles_for_ranges(&[(0, size)])
}

/// Tiles needed for the inclusion proof of entry `index` in the tree of `size`.
pub fn tiles_for_inclusion(index: u64, size: u64) -> Result<Vec<TileId>, ProofError> {
    Ok(tiles_for_ranges(&inclusion_ranges(index, size)?))
}

/// Tiles needed for the consistency proof from size `old` to size `new`.
pub fn tiles_for_consistency(old: u64, new: u64) -> Result<Vec<TileId>, ProofError> {
    Ok(tiles_for_ranges(&consistency_ranges(old, new)?))
}

/// The level-0 entry hashes (`tile/0/...`) needed to recompute entry `index`'s own node
/// (for a host that checks a stored entry against the record it recomputed).
pub fn tile_for_entry(index: u64) -> TileId {
    TileId {
        level: 0,
        index: index >> TILE_HEIGHT,
        width: (index % TILE_WIDTH) as u16 + 1,
    }
}

/// The partial tiles (`tile/<L>/<N>.p/<W>`) a tree of `size` entries has, one per tile level
/// whose last tile is not full, lowest level first. With the full tiles before them they are
/// everything the tree of that size stores.
pub fn partial_tiles_at(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level = 0u32;
    while level * TILE_HEIGHT < 64 {
        let hashes = size >> (level * TILE_HEIGHT);
        if hashes == 0 {
            break;
        }
        let width = hashes % TILE_WIDTH;
        if width != 0 {
            out.push(TileId {
                level: level as u8,
                index: hashes / TILE_WIDTH,
                width: width as u16,
            });
        }
        level += 1;
    }
    out
}
