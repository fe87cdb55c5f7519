//! The compact range: the right edge of the tree, all a writer needs to keep in memory to
//! extend the tree and compute its root at every size.
//!
//! For a tree of size `n` the edge holds one node per set bit of `n`, from the largest
//! complete subtree on the left to the smallest on the right: at most 64 hashes, whatever
//! the size. Appending a leaf merges equal-sized subtrees like a binary counter carrying.

use super::hash::{interior, leaf_node, EMPTY_ROOT};
use super::tile::TILE_HEIGHT;
use crate::hash::Hash;

/// Why a persisted or received tree state cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError(pub String);

impl std::fmt::Display for TreeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TreeError {}

/// The tree's right edge at some size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    /// Roots of the complete subtrees the tree decomposes into, largest (leftmost) first;
    /// `edge.len() == size.count_ones()`.
    edge: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub fn new() -> CompactRange {
        CompactRange::default()
    }

    /// A range from its persisted parts; refuses an edge whose length does not match the size.
    pub fn from_edge(size: u64, edge: Vec<Hash>) -> Result<CompactRange, TreeError> {
        if edge.len() != size.count_ones() as usize {
            return Err(TreeError(format!(
                "a tree of size {size} has {} edge nodes, not {}",
                size.count_ones(),
                edge.len()
            )));
        }
        Ok(CompactRange { size, edge })
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The edge nodes, largest subtree first.
    pub fn edge(&self) -> &[Hash] {
        &self.edge
    }

    /// Appends the entry for one record, given the record's leaf hash (the `0x00` node hash is
    /// taken here).
    pub fn push_leaf(&mut self, leaf: &Hash) {
        self.push_node(leaf_node(leaf));
    }

    /// Appends an already-hashed level-0 node.
    pub fn push_node(&mut self, node: Hash) {
        self.push_node_with(node, |_, _| {});
    }

    /// [`push_node`](Self::push_node), handing `tile_root(level, hash)` each subtree this push
    /// completes whose height is a multiple of [`TILE_HEIGHT`]: the hash of entry `level` ≥ 1
    /// of the tlog-tiles layout (the root of the full level-`level - 1` tile just completed),
    /// lowest first. A tile builder fed these need not hash its full tiles again.
    pub fn push_node_with(&mut self, node: Hash, mut tile_root: impl FnMut(u8, Hash)) {
        let mut node = node;
        let mut size = self.size;
        let mut height = 0u32;
        while size & 1 == 1 {
            let left = self.edge.pop().expect("one edge node per set bit");
            node = interior(&left, &node);
            size >>= 1;
            height += 1;
            if height.is_multiple_of(TILE_HEIGHT) {
                tile_root((height / TILE_HEIGHT) as u8, node);
            }
        }
        self.edge.push(node);
        self.size += 1;
    }

    /// The tree's root hash at its current size.
    pub fn root(&self) -> Hash {
        let mut nodes = self.edge.iter().rev();
        let Some(mut root) = nodes.next().copied() else {
            return EMPTY_ROOT;
        };
        for left in nodes {
            root = interior(left, &root);
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::subtree_root;
    use super::*;

    fn leaf(i: u64) -> Hash {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&i.to_le_bytes());
        Hash(b)
    }

    #[test]
    fn root_matches_the_recursive_definition_at_every_size() {
        let mut range = CompactRange::new();
        let mut nodes = Vec::new();
        assert_eq!(range.root(), EMPTY_ROOT);
        for i in 0..300u64 {
            range.push_leaf(&leaf(i));
            nodes.push(leaf_node(&leaf(i)));
            assert_eq!(range.size(), i + 1);
            assert_eq!(range.edge().len(), (i + 1).count_ones() as usize);
            assert_eq!(range.root(), subtree_root(&nodes), "size {}", i + 1);
        }
    }

    #[test]
    fn from_edge_round_trips_and_refuses_a_wrong_length() {
        let mut range = CompactRange::new();
        for i in 0..13 {
            range.push_leaf(&leaf(i));
        }
        let again = CompactRange::from_edge(13, range.edge().to_vec()).unwrap();
        assert_eq!(again, range);
        let err = CompactRange::from_edge(12, range.edge().to_vec()).unwrap_err();
        assert!(err.0.contains("size 12"), "{err}");
    }
}
