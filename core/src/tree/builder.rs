//! Turning a row of level-0 nodes into tile bytes, for the writer and for rebuilding tiles
//! from segments (pure; the caller writes the files).
//!
//! The builder keeps the unfinished tile of each tile level (at most 8 levels of at most 255
//! hashes): pushing a node returns every tile that became full with it (write each once, it
//! never changes), and [`TileBuilder::partial_tiles`] gives the current partial tiles
//! (`tile/<L>/<N>.p/<W>`, superseded by wider ones as the tree grows). A full tile's root is
//! the next level's entry, so no tile is ever hashed twice.

use super::hash::subtree_root;
use super::plan::partial_tiles_at;
use super::range::TreeError;
use super::tile::{TileId, TILE_HEIGHT, TILE_WIDTH};
use super::tileset::{tile_bytes, TileSet};
use crate::hash::Hash;

/// The unfinished tiles of a tree being extended one entry at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileBuilder {
    size: u64,
    /// `rows[t]`: the hashes of the last, not yet full tile of tile level `t`.
    rows: Vec<Vec<Hash>>,
}

impl TileBuilder {
    /// The builder of the empty tree.
    pub fn new() -> TileBuilder {
        TileBuilder::default()
    }

    /// Resumes at `size` from the partial tiles the tree has at that size (see
    /// [`partial_tiles_at`]; insert at least those into `tiles`, wider versions will do).
    pub fn resume(size: u64, tiles: &TileSet) -> Result<TileBuilder, TreeError> {
        let mut rows = Vec::new();
        for id in partial_tiles_at(size) {
            let t = usize::from(id.level);
            rows.resize(t + 1, Vec::new());
            let held = tiles.get(id.level, id.index).ok_or_else(|| {
                TreeError(format!(
                    "resuming the tiles at size {size} needs tile {}",
                    id.path()
                ))
            })?;
            let width = usize::from(id.width);
            if held.len() < width {
                return Err(TreeError(format!(
                    "resuming the tiles at size {size} needs tile {}, only {} hashes were given",
                    id.path(),
                    held.len()
                )));
            }
            rows[t] = held[..width].to_vec();
        }
        Ok(TileBuilder { size, rows })
    }

    /// Number of entries pushed (or resumed from).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one level-0 node; returns the tiles it completed, lowest level first, as
    /// (id, bytes) with `bytes.len() == 8192`.
    pub fn push_node(&mut self, node: Hash) -> Vec<(TileId, Vec<u8>)> {
        self.push_node_with(node, &[])
    }

    /// [`push_node`](Self::push_node) with the roots of the tiles this node completes already
    /// known: `roots` holds (level, hash) pairs as [`CompactRange::push_node_with`] hands them
    /// for the same node of the same tree, and a full tile whose next-level entry is among
    /// them is not hashed again (the others are).
    ///
    /// [`CompactRange::push_node_with`]: super::range::CompactRange::push_node_with
    pub fn push_node_with(&mut self, node: Hash, roots: &[(u8, Hash)]) -> Vec<(TileId, Vec<u8>)> {
        let mut done = Vec::new();
        self.size += 1;
        let mut carry = node;
        let mut t = 0usize;
        loop {
            if self.rows.len() == t {
                self.rows.push(Vec::new());
            }
            self.rows[t].push(carry);
            if self.rows[t].len() as u64 != TILE_WIDTH {
                break;
            }
            let row = std::mem::take(&mut self.rows[t]);
            // Hashes of tile level t so far: size >> (8 t); this tile is the last full one.
            let hashes_at_level = self.size >> (t as u32 * TILE_HEIGHT);
            done.push((
                TileId {
                    level: t as u8,
                    index: hashes_at_level / TILE_WIDTH - 1,
                    width: TILE_WIDTH as u16,
                },
                tile_bytes(&row),
            ));
            let level = t as u8 + 1;
            carry = match roots.iter().find(|(l, _)| *l == level) {
                Some((_, root)) => *root,
                None => subtree_root(&row),
            };
            t += 1;
            if t as u32 * TILE_HEIGHT >= 64 {
                break;
            }
        }
        done
    }

    /// The current partial tiles, lowest level first (exactly [`partial_tiles_at`] of the
    /// size, with their bytes).
    pub fn partial_tiles(&self) -> Vec<(TileId, Vec<u8>)> {
        partial_tiles_at(self.size)
            .into_iter()
            .map(|id| {
                let row = self.rows.get(usize::from(id.level));
                (id, row.map_or_else(Vec::new, |r| tile_bytes(r)))
            })
            .collect()
    }
}
