//! Checking inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! The checks take the level-0 node of the entry (`SHA-256(0x00 || leaf)`, see
//! [`super::leaf_node`]), never panic, and do work linear in the proof, which is refused
//! before any hashing when its length is not the one the sizes call for (at most
//! [`super::proof::MAX_PROOF_HASHES`]).

use super::hash::{interior, EMPTY_ROOT};
use super::proof::{consistency_ranges, inclusion_ranges, ProofError};
use crate::hash::Hash;

/// Checks that `proof` shows the level-0 node `leaf_node` at `index` in the tree of `size`
/// entries whose root is `root`.
pub fn verify_inclusion(
    leaf_node: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let expected = inclusion_ranges(index, size)?.len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let computed = root_from_inclusion(leaf_node, index, size, proof);
    if computed != *root {
        return Err(ProofError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// The root an inclusion proof of already checked length leads to.
fn root_from_inclusion(leaf_node: &Hash, index: u64, size: u64, proof: &[Hash]) -> Hash {
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf_node;
    for p in proof {
        if f & 1 == 1 || f == s {
            r = interior(p, &r);
            // Skip the levels where this node has no right sibling (the right edge).
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = interior(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    r
}

/// Checks that `proof` shows the tree of size `new` with root `new_root` extends the tree of
/// size `old` with root `old_root`. Equal sizes need an empty proof and equal roots; size 0
/// needs an empty proof and the empty root.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    let expected = consistency_ranges(old, new)?.len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if old == 0 {
        if *old_root != EMPTY_ROOT {
            return Err(ProofError::OldRootMismatch {
                computed: EMPTY_ROOT,
                expected: *old_root,
            });
        }
        // Every tree extends the empty one, but an empty new tree has the empty root too.
        if new == 0 && *new_root != EMPTY_ROOT {
            return Err(ProofError::NewRootMismatch {
                computed: EMPTY_ROOT,
                expected: *new_root,
            });
        }
        return Ok(());
    }
    if old == new {
        if old_root != new_root {
            return Err(ProofError::NewRootMismatch {
                computed: *old_root,
                expected: *new_root,
            });
        }
        return Ok(());
    }
    // When the old tree is one complete subtree its root is the proof's implicit first node.
    let mut nodes = proof.iter();
    let first = if old.is_power_of_two() {
        *old_root
    } else {
        match nodes.next() {
            Some(h) => *h,
            None => return Err(ProofError::WrongLength { expected, got: 0 }),
        }
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut old_r, mut new_r) = (first, first);
    for c in nodes {
        if f & 1 == 1 || f == s {
            old_r = interior(c, &old_r);
            new_r = interior(c, &new_r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            new_r = interior(&new_r, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if old_r != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: old_r,
            expected: *old_root,
        });
    }
    if new_r != *new_root {
        return Err(ProofError::NewRootMismatch {
            computed: new_r,
            expected: *new_root,
        });
    }
    Ok(())
}
