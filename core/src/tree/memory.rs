//! A whole tree held in memory: every stored node of every level. For tests, tools and small
//! trees; a trail's tree lives in tiles (see [`super::tileset`]).

use super::hash::{interior, leaf_node};
use super::proof::HashReader;
use super::range::TreeError;
use crate::hash::Hash;

/// All stored nodes of a tree, level by level (`levels[0]` = the level-0 nodes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends the entry of one record from its 32-byte leaf hash.
    pub fn push_leaf(&mut self, leaf: &Hash) {
        self.push_node(leaf_node(leaf));
    }

    /// Appends an already hashed level-0 node, completing the parents it closes.
    pub fn push_node(&mut self, node: Hash) {
        let mut node = node;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(node);
            if row.len() % 2 == 1 {
                return;
            }
            node = interior(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
    }
}

impl HashReader for MemoryTree {
    fn stored(&self, level: u8, index: u64) -> Result<Hash, TreeError> {
        self.levels
            .get(usize::from(level))
            .and_then(|row| row.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or_else(|| {
                TreeError(format!(
                    "the tree of size {} has no complete node at level {level} index {index}",
                    self.size()
                ))
            })
    }
}
