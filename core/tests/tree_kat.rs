//! Known-answer tests of the RFC 6962 tree and its proofs.
//!
//! Source of the vectors: the RFC 6962 reference inputs used by certificate-transparency-go
//! and Trillian, as published in github.com/transparency-dev/merkle at commit
//! 417fb0c314750d94e53942e9f92e79b6d35915db: `testonly/constants.go` (the 8 leaf inputs,
//! their level-0 node hashes and the roots of the trees of size 0..=8) and the
//! `testdata/inclusion/*/happy-path.json` and `testdata/consistency/*/happy-path.json`
//! probes (proof hashes, base64).

use evident_core::hash::Hash;
use evident_core::tree::base64;
use evident_core::tree::{
    consistency_proof, inclusion_proof, root_at, verify_consistency, verify_inclusion, MemoryTree,
    ProofError, EMPTY_ROOT,
};
use sha2::{Digest, Sha256};

const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const LEVEL0: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// (index, size, proof) from testdata/inclusion/{0..4}/happy-path.json.
const INCLUSION: &[(u64, u64, &[&str])] = &[
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ],
    ),
    (
        5,
        8,
        &[
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
    ),
    (2, 3, &["+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU="]),
    (
        1,
        5,
        &[
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ],
    ),
];

/// (old, new, proof) from testdata/consistency/{0..4}/happy-path.json.
const CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ],
    ),
    (
        6,
        8,
        &[
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
    ),
    (
        2,
        5,
        &[
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ],
    ),
    (
        6,
        7,
        &[
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
    ),
];

fn hex(s: &str) -> Hash {
    Hash::from_hex(s).unwrap()
}

fn b64(s: &str) -> Hash {
    Hash(base64::decode(s).unwrap().try_into().unwrap())
}

fn reference_tree() -> (MemoryTree, Vec<Hash>) {
    let mut tree = MemoryTree::new();
    let mut nodes = Vec::new();
    for input in LEAF_INPUTS {
        let bytes: Vec<u8> = (0..input.len() / 2)
            .map(|i| u8::from_str_radix(&input[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&bytes);
        let node = Hash(h.finalize().into());
        tree.push_node(node);
        nodes.push(node);
    }
    (tree, nodes)
}

#[test]
fn empty_tree_and_small_tree_roots() {
    assert_eq!(EMPTY_ROOT, hex(ROOTS[0]));
    let (tree, nodes) = reference_tree();
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(*n, hex(LEVEL0[i]), "level-0 node {i}");
    }
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(
            root_at(size as u64, &tree).unwrap(),
            hex(root),
            "size {size}"
        );
    }
}

#[test]
fn published_inclusion_proofs_are_generated_and_verify() {
    let (tree, nodes) = reference_tree();
    for &(index, size, proof) in INCLUSION {
        let want: Vec<Hash> = proof.iter().map(|s| b64(s)).collect();
        assert_eq!(
            inclusion_proof(index, size, &tree).unwrap(),
            want,
            "{index}/{size}"
        );
        let root = hex(ROOTS[size as usize]);
        verify_inclusion(&nodes[index as usize], index, size, &want, &root).unwrap();
        // The same proof for a neighbouring entry fails with a root mismatch.
        let other = &nodes[(index as usize + 1) % 8];
        assert!(matches!(
            verify_inclusion(other, index, size, &want, &root),
            Err(ProofError::RootMismatch { .. })
        ));
    }
}

#[test]
fn published_consistency_proofs_are_generated_and_verify() {
    let (tree, _) = reference_tree();
    for &(old, new, proof) in CONSISTENCY {
        let want: Vec<Hash> = proof.iter().map(|s| b64(s)).collect();
        assert_eq!(
            consistency_proof(old, new, &tree).unwrap(),
            want,
            "{old}->{new}"
        );
        let (o, n) = (hex(ROOTS[old as usize]), hex(ROOTS[new as usize]));
        verify_consistency(old, new, &want, &o, &n).unwrap();
        if old != new {
            assert!(
                verify_consistency(old, new, &want, &n, &o).is_err(),
                "swapped roots"
            );
        }
    }
}

#[test]
fn bad_parameters_are_clear_errors() {
    let (tree, nodes) = reference_tree();
    let root = hex(ROOTS[8]);
    assert_eq!(
        inclusion_proof(0, 0, &tree).unwrap_err(),
        ProofError::EmptyTree
    );
    assert_eq!(
        verify_inclusion(&nodes[0], 8, 8, &[], &root).unwrap_err(),
        ProofError::IndexBeyondSize { index: 8, size: 8 }
    );
    assert_eq!(
        verify_inclusion(&nodes[0], 0, 8, &[], &root).unwrap_err(),
        ProofError::WrongLength {
            expected: 3,
            got: 0
        }
    );
    assert_eq!(
        consistency_proof(5, 4, &tree).unwrap_err(),
        ProofError::OldBeyondNew { old: 5, new: 4 }
    );
    assert!(matches!(
        verify_consistency(3, 3, &[], &hex(ROOTS[3]), &hex(ROOTS[4])),
        Err(ProofError::NewRootMismatch { .. })
    ));
    verify_consistency(0, 8, &[], &EMPTY_ROOT, &root).unwrap();
    assert!(verify_consistency(0, 8, &[], &root, &root).is_err());
    // Two empty trees: both roots must be the empty tree's (RFC 9162: equal sizes, equal
    // roots; C2SP tlog-witness: a size-0 checkpoint has the empty root).
    verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT).unwrap();
    assert!(matches!(
        verify_consistency(0, 0, &[], &EMPTY_ROOT, &root),
        Err(ProofError::NewRootMismatch { .. })
    ));
    // A stored node the tree does not have is a read error, not a panic.
    assert!(matches!(
        inclusion_proof(3, 9, &tree),
        Err(ProofError::Read(_))
    ));
    // Hostile sizes: no panic, no long loops.
    let big = [Hash([1; 32]); 64];
    for (i, s) in [(u64::MAX - 1, u64::MAX), (0, u64::MAX), (1 << 63, u64::MAX)] {
        let err = verify_inclusion(&nodes[0], i, s, &big, &root).unwrap_err();
        assert!(matches!(
            err,
            ProofError::WrongLength { .. } | ProofError::RootMismatch { .. }
        ));
    }
    assert!(verify_consistency(1, u64::MAX, &big, &root, &root).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &big[..2], &root, &root).is_err());
}

mod random_trees {
    use super::*;
    use proptest::prelude::*;

    fn tree(size: u64, salt: u8) -> (MemoryTree, Vec<Hash>) {
        let mut t = MemoryTree::new();
        let mut nodes = Vec::new();
        for i in 0..size {
            let mut leaf = [salt; 32];
            leaf[..8].copy_from_slice(&i.to_le_bytes());
            let n = leaf_node(&Hash(leaf));
            t.push_node(n);
            nodes.push(n);
        }
        (t, nodes)
    }

    use evident_core::tree::leaf_node;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Every proof verifies; any bit flipped in any proof hash, a neighbouring index or
        /// size, or a shortened proof does not.
        #[test]
        fn proofs_verify_and_altered_ones_do_not(size in 1u64..600, salt in any::<u8>(), pick in any::<u64>(), bit in 0usize..256) {
            let (t, nodes) = tree(size, salt);
            let root = root_at(size, &t).unwrap();
            let index = pick % size;
            let proof = inclusion_proof(index, size, &t).unwrap();
            prop_assert!(verify_inclusion(&nodes[index as usize], index, size, &proof, &root).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let k = (pick as usize / 7) % bad.len();
                bad[k].0[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_inclusion(&nodes[index as usize], index, size, &bad, &root).is_err());
                prop_assert!(verify_inclusion(&nodes[index as usize], index, size, &proof[1..], &root).is_err());
            }
            if index + 1 < size {
                prop_assert!(verify_inclusion(&nodes[index as usize], index + 1, size, &proof, &root).is_err());
            }
            let old = 1 + pick % size;
            let old_root = root_at(old, &t).unwrap();
            let c = consistency_proof(old, size, &t).unwrap();
            prop_assert!(verify_consistency(old, size, &c, &old_root, &root).is_ok());
            if !c.is_empty() {
                let mut bad = c.clone();
                let k = (pick as usize / 5) % bad.len();
                bad[k].0[bit / 8] ^= 1 << (bit % 8);
                prop_assert!(verify_consistency(old, size, &bad, &old_root, &root).is_err());
            }
            if old > 1 && old < size {
                let other = root_at(old - 1, &t).unwrap();
                prop_assert!(verify_consistency(old, size, &c, &other, &root).is_err());
            }
        }
    }
}
