//! Tile bytes handed over by the host, used as the hash source of proofs.
//!
//! The host reads the tiles a plan (see [`super::plan`]) names and inserts their bytes; the
//! set then answers [`HashReader::stored`] by hashing inside the tiles. Tiles come from disk,
//! so a wrong length, a missing tile or one too narrow for the node asked is an error naming
//! the tile's path, never a panic. Entries of a tile never change once written, so a stored
//! tile wider than needed (or the full tile) stands in for a narrower one.
//!
//! Nothing here can tell a tampered tile from a genuine one: a prover recomputes the
//! record's leaf from the segment and checks each proof against the checkpoint before
//! emitting it ([`super::prove_bundle`] does). That checkpoint's root must come from the
//! records (the writer's [`super::CompactRange`], or a recomputation), never from the same
//! tiles: a root computed from tampered tiles would vouch for them.

use super::hash::subtree_root;
use super::plan::tile_for_node;
use super::proof::{HashReader, NodeId};
use super::range::TreeError;
use super::tile::TileId;
use crate::hash::Hash;
use std::collections::BTreeMap;

/// Tiles by (level, index), each the widest version given.
#[derive(Debug, Clone, Default)]
pub struct TileSet {
    tiles: BTreeMap<(u8, u64), Vec<Hash>>,
}

/// The hashes of a tile's bytes: `32 * width` bytes, one hash after another.
pub fn tile_hashes(id: TileId, bytes: &[u8]) -> Result<Vec<Hash>, TreeError> {
    if id.width == 0 || u64::from(id.width) > super::TILE_WIDTH {
        return Err(TreeError(format!(
            "tile level {} index {}: width {} is not 1..=256",
            id.level, id.index, id.width
        )));
    }
    if bytes.len() != id.byte_len() {
        return Err(TreeError(format!(
            "tile {} is {} bytes; {} hashes are {} bytes",
            id.path(),
            bytes.len(),
            id.width,
            id.byte_len()
        )));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect())
}

/// The bytes of a tile holding `hashes` (the inverse of [`tile_hashes`]).
pub fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

impl TileSet {
    /// An empty set.
    pub fn new() -> TileSet {
        TileSet::default()
    }

    /// Adds the bytes read for tile `id` (its path is `id.path()`); refuses bytes whose length
    /// is not `32 * id.width`. A narrower version of a tile already held is ignored.
    pub fn insert(&mut self, id: TileId, bytes: &[u8]) -> Result<(), TreeError> {
        let hashes = tile_hashes(id, bytes)?;
        let slot = self.tiles.entry((id.level, id.index)).or_default();
        if hashes.len() > slot.len() {
            *slot = hashes;
        }
        Ok(())
    }

    /// The tiles of `needed` this set cannot yet serve (absent, or narrower than needed).
    pub fn missing(&self, needed: &[TileId]) -> Vec<TileId> {
        needed
            .iter()
            .filter(|t| {
                self.tiles
                    .get(&(t.level, t.index))
                    .is_none_or(|h| h.len() < usize::from(t.width))
            })
            .copied()
            .collect()
    }

    /// The hashes held for the tile at `level` and `index`, if any.
    pub fn get(&self, level: u8, index: u64) -> Option<&[Hash]> {
        self.tiles.get(&(level, index)).map(Vec::as_slice)
    }
}

impl HashReader for TileSet {
    fn stored(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        let at = tile_for_node(NodeId { level, index }).ok_or_else(|| {
            TreeError(format!(
                "no tree has a stored node at level {level} index {index}"
            ))
        })?;
        let need = usize::from(at.tile.width);
        let hashes = self
            .tiles
            .get(&(at.tile.level, at.tile.index))
            .ok_or_else(|| {
                TreeError(format!(
                "tile {} (or a wider one) was not read; node level {level} index {index} needs it",
                at.tile.path()
            ))
            })?;
        if hashes.len() < need {
            return Err(TreeError(format!(
                "tile level {} index {} holds {} hashes; node level {level} index {index} needs {need}",
                at.tile.level,
                at.tile.index,
                hashes.len()
            )));
        }
        Ok(subtree_root(&hashes[at.first..need]))
    }
}
