//! Node hashes of the RFC 6962 tree (RFC 9162 §2.1.1).
//!
//! ```text
//! empty root      = SHA-256("")
//! level-0 node i  = SHA-256(0x00 || leaf(seq = i + 1))       (leaf: the record's 32-byte leaf)
//! interior node   = SHA-256(0x01 || left || right)
//! ```
//!
//! The prefixes keep a leaf from ever being mistaken for an interior node (second-preimage
//! protection); the tree hashes the record's leaf hash rather than the record so that a tree
//! entry is always 32 bytes, whatever the payload.

use crate::hash::Hash;
use sha2::{Digest, Sha256};

/// The root of the tree of size 0: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// The level-0 node of a record: `SHA-256(0x00 || leaf)`.
pub fn leaf_node(leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf.0);
    Hash(h.finalize().into())
}

/// An interior node: `SHA-256(0x01 || left || right)`.
pub fn interior(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The Merkle tree hash (RFC 9162 §2.1.1) of a row of already-hashed nodes of one level:
/// split at the largest power of two smaller than the row's length, recursively. For a row
/// of level-0 nodes this is the root of the tree over those entries; for the 256 hashes of a
/// full tile it is the node 8 levels above them. The empty row gives [`EMPTY_ROOT`].
pub fn subtree_root(row: &[Hash]) -> Hash {
    match row.len() {
        0 => EMPTY_ROOT,
        1 => row[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            interior(&subtree_root(&row[..k]), &subtree_root(&row[k..]))
        }
    }
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let h: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT.0, h);
        assert_eq!(subtree_root(&[]), EMPTY_ROOT);
    }

    #[test]
    fn split_points() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(1 << 40), 1 << 39);
        assert_eq!(largest_power_of_two_below((1 << 40) + 1), 1 << 40);
    }

    #[test]
    fn prefixes_separate_leaves_from_interior_nodes() {
        let a = Hash([7; 32]);
        assert_ne!(leaf_node(&a), interior(&Hash([7; 32]), &Hash([0; 32])));
        let three = [
            leaf_node(&a),
            leaf_node(&Hash([8; 32])),
            leaf_node(&Hash([9; 32])),
        ];
        assert_eq!(
            subtree_root(&three),
            interior(&interior(&three[0], &three[1]), &three[2])
        );
    }
}
