//! Making proofs for a trail whose stored tree hashes may be wrong (sans-IO glue over
//! [`crate::tree`], shared by the native prover and the component so both emit the same
//! bytes).
//!
//! The host answers three questions through a [`ProofSource`]: the record with a seq, the
//! bytes of a tile file, and (only on the slow path) every leaf up to a size. A proof is made
//! from the tiles the [`crate::tree::plan`] names, then checked against the root it will be
//! shown with, with the record's leaf recomputed from the record itself; when a tile is
//! missing, short or tampered so that the check fails, every hash is rebuilt from the leaves
//! in memory and the proof made and checked again. A proof that still does not verify is
//! never returned: the trail does not prove its own checkpoint then
//! ([`ProveError::Inconsistent`]). So a tampered tile can cost time, never a proof that
//! verifies for a wrong record.

mod text;

pub use crate::tree::TreeCheckpoint as TreeHead;
pub use text::{
    bundle_text, check_bundle_text, check_consistency_text, checkpoint_note, consistency_text,
    is_consistency_text, parse_checkpoint_note, TextError,
};

use crate::frame::KIND_ENTRY;
use crate::hash::{leaf_v2, payload_hash, Hash};
use crate::tree::memory::MemoryTree;
use crate::tree::plan::{tiles_for_consistency, tiles_for_inclusion, tiles_for_root};
use crate::tree::proof::{consistency_proof, inclusion_proof, root_at, HashReader, ProofError};
use crate::tree::verify::{verify_consistency, verify_inclusion};
use crate::tree::{leaf_node, TileId, TileSet, TILE_HEIGHT, TILE_WIDTH};

/// What a host reads for a prover.
pub trait ProofSource {
    /// The host's error (IO with its path, damage with its location).
    type Error;
    /// The record with this seq: its timestamp and payload (`None` when the trail has no
    /// such record). The host checks the record's CRC and chain as any read does.
    fn record(&mut self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, Self::Error>;
    /// The bytes of the tile file at `path` (relative to the trail directory), at most
    /// `max_len` of them; `None` when there is no such file. Nothing read here is trusted.
    fn read_tile(&mut self, path: &str, max_len: usize) -> Result<Option<Vec<u8>>, Self::Error>;
    /// The leaf hashes of records `1..=size` (the slow path; O(size)).
    fn leaves(&mut self, size: u64) -> Result<Vec<Hash>, Self::Error>;
}

/// Why a proof was not made.
#[derive(Debug)]
pub enum ProveError<E> {
    /// The host could not read what was asked.
    Source(E),
    /// The trail has no record with this seq (it is not in the tree either).
    NoSuchRecord {
        /// The seq.
        seq: u64,
    },
    /// The seq is 0 or beyond the tree of this size.
    BeyondTree {
        /// The seq asked for.
        seq: u64,
        /// The tree size.
        size: u64,
    },
    /// A size that is 0 (for an inclusion proof) or larger than the head's.
    BadSize {
        /// The size asked for.
        size: u64,
        /// The head's size.
        head: u64,
    },
    /// The older checkpoint is of another log (its origin).
    OtherLog {
        /// This trail's origin.
        ours: String,
        /// The checkpoint's origin.
        theirs: String,
    },
    /// The older checkpoint's root is not the root of this trail's tree at its size: the
    /// trail does not extend it (the records before it differ, or the checkpoint was changed).
    NotExtended {
        /// The checkpoint's size.
        size: u64,
        /// The checkpoint's root.
        claimed: Hash,
        /// The root recomputed from the trail's records at that size.
        actual: Hash,
    },
    /// Even with every hash rebuilt from the records, the proof does not verify against the
    /// head: the trail and its checkpoint disagree.
    Inconsistent(String),
}

impl<E: std::fmt::Display> std::fmt::Display for ProveError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::tree::base64::encode;
        match self {
            ProveError::Source(e) => write!(f, "{e}"),
            ProveError::NoSuchRecord { seq } => write!(f, "the trail has no record seq {seq}"),
            ProveError::BeyondTree { seq, size } => write!(
                f,
                "seq {seq} is not in the tree of size {size} (it holds seqs 1..={size})"
            ),
            ProveError::BadSize { size, head } => write!(
                f,
                "cannot prove against a tree of size {size}: the trail's head has size {head}"
            ),
            ProveError::OtherLog { ours, theirs } => write!(
                f,
                "the checkpoint is of log `{theirs}`, not this trail's `{ours}`"
            ),
            ProveError::NotExtended {
                size,
                claimed,
                actual,
            } => write!(
                f,
                "the trail does not extend that checkpoint: its tree of size {size} has root \
                 {}, the checkpoint says {}",
                encode(&actual.0),
                encode(&claimed.0)
            ),
            ProveError::Inconsistent(why) => {
                write!(f, "the trail does not prove its own checkpoint: {why}")
            }
        }
    }
}

/// An inclusion proof made and checked: everything a bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// The record's kind byte.
    pub kind: u8,
    /// The record's seq (entry `seq - 1`).
    pub seq: u64,
    /// The record's timestamp.
    pub ts: u64,
    /// The record's payload hash.
    pub payload_hash: Hash,
    /// The payload, unless left out.
    pub payload: Option<Vec<u8>>,
    /// The tree the proof is against.
    pub tree: TreeHead,
    /// The proof hashes, leaf's sibling first (empty in what a check returns).
    pub proof: Vec<Hash>,
    /// Whether the stored tiles failed and the hashes were rebuilt from the records.
    pub rebuilt: bool,
}

/// A consistency proof made and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consistency {
    /// The older tree.
    pub old: TreeHead,
    /// The newer tree (the head).
    pub new: TreeHead,
    /// The proof hashes.
    pub proof: Vec<Hash>,
    /// Whether the stored tiles failed and the hashes were rebuilt from the records.
    pub rebuilt: bool,
}

/// Reads the tiles `needed` names into a set; a tile stands in for a narrower one, so the
/// full tile and the head's partial tile are tried before the exact width. A tile that cannot
/// be read is left out (the proof made from the set then fails and the slow path runs).
fn read_tiles<S: ProofSource>(
    src: &mut S,
    needed: &[TileId],
    head_size: u64,
) -> Result<TileSet, S::Error> {
    let mut set = TileSet::new();
    for t in needed {
        let hashes_at_level = head_size >> (u32::from(t.level) * TILE_HEIGHT);
        let head_width = hashes_at_level
            .saturating_sub(t.index * TILE_WIDTH)
            .min(TILE_WIDTH) as u16;
        let mut candidates = vec![TileId {
            width: TILE_WIDTH as u16,
            ..*t
        }];
        if head_width >= t.width && head_width < TILE_WIDTH as u16 {
            candidates.push(TileId {
                width: head_width,
                ..*t
            });
        }
        if !candidates.iter().any(|c| c.width == t.width) {
            candidates.push(*t);
        }
        for c in candidates {
            if let Some(bytes) = src.read_tile(&c.path(), c.byte_len())? {
                if set.insert(c, &bytes).is_ok() {
                    break;
                }
            }
        }
    }
    Ok(set)
}

fn check_size<E>(size: u64, head: &TreeHead) -> Result<(), ProveError<E>> {
    if size > head.size {
        return Err(ProveError::BadSize {
            size,
            head: head.size,
        });
    }
    Ok(())
}

/// Makes the inclusion proof of record `seq` in the tree of `size` (default: the head's),
/// checked against that tree's root, which (for a size other than the head's) is itself
/// proven consistent with the head's root first.
pub fn prove_inclusion<S: ProofSource>(
    src: &mut S,
    head: &TreeHead,
    seq: u64,
    size: Option<u64>,
    include_payload: bool,
) -> Result<Inclusion, ProveError<S::Error>> {
    let size = size.unwrap_or(head.size);
    if size == 0 {
        return Err(ProveError::BadSize {
            size,
            head: head.size,
        });
    }
    check_size(size, head)?;
    if seq == 0 || seq > size {
        return Err(ProveError::BeyondTree { seq, size });
    }
    let (ts, payload) = src
        .record(seq)
        .map_err(ProveError::Source)?
        .ok_or(ProveError::NoSuchRecord { seq })?;
    let payload_hash = payload_hash(&payload);
    let node = leaf_node(&leaf_v2(KIND_ENTRY, seq, ts, &payload_hash));
    let index = seq - 1;

    // The proof and, at another size, that size's root proven against the head's.
    let attempt = |reader: &dyn HashReader| -> Result<(Hash, Vec<Hash>), String> {
        let root = if size == head.size {
            head.root
        } else {
            let root = root_at(size, reader).map_err(|e| e.to_string())?;
            let link = consistency_proof(size, head.size, reader).map_err(|e| e.to_string())?;
            verify_consistency(size, head.size, &link, &root, &head.root)
                .map_err(|e| format!("the root at size {size}: {e}"))?;
            root
        };
        let proof = inclusion_proof(index, size, reader).map_err(|e| e.to_string())?;
        verify_inclusion(&node, index, size, &proof, &root).map_err(|e| e.to_string())?;
        Ok((root, proof))
    };

    let mut needed = tiles_for_inclusion(index, size).map_err(inconsistent)?;
    if size != head.size {
        needed.extend(tiles_for_root(size));
        needed.extend(tiles_for_consistency(size, head.size).map_err(inconsistent)?);
    }
    let tiles = read_tiles(src, &needed, head.size).map_err(ProveError::Source)?;
    let (root, proof, rebuilt) = match attempt(&tiles) {
        Ok((root, proof)) => (root, proof, false),
        Err(_) => {
            let tree = rebuild(src, head)?;
            let (root, proof) = attempt(&tree).map_err(ProveError::Inconsistent)?;
            (root, proof, true)
        }
    };
    Ok(Inclusion {
        kind: KIND_ENTRY,
        seq,
        ts,
        payload_hash,
        payload: include_payload.then_some(payload),
        tree: TreeHead {
            origin: head.origin.clone(),
            size,
            root,
        },
        proof,
        rebuilt,
    })
}

/// Makes the consistency proof from the tree in `old` to the head, checked against both roots.
pub fn prove_consistency<S: ProofSource>(
    src: &mut S,
    head: &TreeHead,
    old: &TreeHead,
) -> Result<Consistency, ProveError<S::Error>> {
    if old.origin != head.origin {
        return Err(ProveError::OtherLog {
            ours: head.origin.clone(),
            theirs: old.origin.clone(),
        });
    }
    check_size(old.size, head)?;
    let attempt = |reader: &dyn HashReader| -> Result<Vec<Hash>, String> {
        let proof = consistency_proof(old.size, head.size, reader).map_err(|e| e.to_string())?;
        verify_consistency(old.size, head.size, &proof, &old.root, &head.root)
            .map_err(|e| e.to_string())?;
        Ok(proof)
    };
    let needed = tiles_for_consistency(old.size, head.size).map_err(inconsistent)?;
    let tiles = read_tiles(src, &needed, head.size).map_err(ProveError::Source)?;
    let (proof, rebuilt) = match attempt(&tiles) {
        Ok(p) => (p, false),
        Err(_) => {
            let tree = rebuild(src, head)?;
            // Which root is wrong: the old checkpoint's (not a prefix of this trail) or the
            // head's (the trail disagrees with its own checkpoint).
            let actual = root_at(old.size, &tree).map_err(inconsistent)?;
            if actual != old.root {
                return Err(ProveError::NotExtended {
                    size: old.size,
                    claimed: old.root,
                    actual,
                });
            }
            (attempt(&tree).map_err(ProveError::Inconsistent)?, true)
        }
    };
    Ok(Consistency {
        old: old.clone(),
        new: head.clone(),
        proof,
        rebuilt,
    })
}

fn inconsistent<E>(e: ProofError) -> ProveError<E> {
    ProveError::Inconsistent(e.to_string())
}

/// Every hash of the head's tree, from the records; refuses a trail whose records do not
/// give the head's root.
fn rebuild<S: ProofSource>(
    src: &mut S,
    head: &TreeHead,
) -> Result<MemoryTree, ProveError<S::Error>> {
    let leaves = src.leaves(head.size).map_err(ProveError::Source)?;
    let mut tree = MemoryTree::new();
    for l in &leaves {
        tree.push_leaf(l);
    }
    if tree.size() != head.size {
        return Err(ProveError::Inconsistent(format!(
            "the checkpoint says {} records, the trail holds {}",
            head.size,
            tree.size()
        )));
    }
    let root = root_at(head.size, &tree).map_err(inconsistent)?;
    if root != head.root {
        return Err(ProveError::Inconsistent(format!(
            "the records give root {} at size {}, the checkpoint says {}",
            crate::tree::base64::encode(&root.0),
            head.size,
            crate::tree::base64::encode(&head.root.0)
        )));
    }
    Ok(tree)
}

/// The tree after `more` records (their leaf hashes, in seq order) are added to the tree
/// `known` (a checkpoint the trail wrote): the head of a trail whose checkpoint file lags
/// behind its last durable records (`more` empty: `known` itself, checked). The right edge at `known.size` comes from the tiles
/// (O(log n) of them) and is accepted only when it gives `known.root`; otherwise it is rebuilt
/// from the records, and a trail whose records do not give `known.root` is refused.
pub fn extend_head<S: ProofSource>(
    src: &mut S,
    known: &TreeHead,
    more: &[Hash],
) -> Result<TreeHead, ProveError<S::Error>> {
    use crate::tree::proof::range_nodes;
    use crate::tree::CompactRange;
    // Even with nothing to add, the checkpoint's root is checked against the tiles (and, when
    // they disagree, the records): a prover never states a root the trail does not have.
    let tiles =
        read_tiles(src, &tiles_for_root(known.size), known.size).map_err(ProveError::Source)?;
    let from_tiles = range_nodes(0, known.size)
        .iter()
        .map(|n| tiles.stored(n.level, n.index))
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .and_then(|edge| CompactRange::from_edge(known.size, edge).ok())
        .filter(|r| r.root() == known.root);
    let mut range = match from_tiles {
        Some(r) => r,
        None => {
            let leaves = src.leaves(known.size).map_err(ProveError::Source)?;
            let mut r = CompactRange::new();
            for l in &leaves {
                r.push_leaf(l);
            }
            if r.size() != known.size || r.root() != known.root {
                return Err(ProveError::Inconsistent(format!(
                    "the trail's checkpoint says root {} at size {}, its records give {} at \
                     size {}",
                    known.root_base64(),
                    known.size,
                    crate::tree::base64::encode(&r.root().0),
                    r.size()
                )));
            }
            r
        }
    };
    for l in more {
        range.push_leaf(l);
    }
    Ok(TreeHead {
        origin: known.origin.clone(),
        size: range.size(),
        root: range.root(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::TileBuilder;
    use std::collections::BTreeMap;

    /// Records and tile files in memory, with counters.
    struct Mem {
        records: Vec<(u64, Vec<u8>)>,
        tiles: BTreeMap<String, Vec<u8>>,
        leaves_read: usize,
    }

    impl Mem {
        fn new(n: u64) -> Mem {
            let records: Vec<(u64, Vec<u8>)> = (1..=n)
                .map(|s| (1000 + s, format!("r{s}").into_bytes()))
                .collect();
            let mut b = TileBuilder::new();
            let mut tiles = BTreeMap::new();
            for (i, (ts, p)) in records.iter().enumerate() {
                let leaf = leaf_v2(KIND_ENTRY, i as u64 + 1, *ts, &payload_hash(p));
                for (id, bytes) in b.push_node(leaf_node(&leaf)) {
                    tiles.insert(id.path(), bytes);
                }
            }
            for (id, bytes) in b.partial_tiles() {
                tiles.insert(id.path(), bytes);
            }
            Mem {
                records,
                tiles,
                leaves_read: 0,
            }
        }

        fn head(&mut self) -> TreeHead {
            let leaves = self.leaves(self.records.len() as u64).unwrap();
            self.leaves_read = 0;
            let mut t = MemoryTree::new();
            for l in &leaves {
                t.push_leaf(l);
            }
            TreeHead {
                origin: "evident/test".into(),
                size: leaves.len() as u64,
                root: root_at(leaves.len() as u64, &t).unwrap(),
            }
        }
    }

    impl ProofSource for Mem {
        type Error = String;
        fn record(&mut self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, String> {
            Ok(self.records.get(seq as usize - 1).cloned())
        }
        fn read_tile(&mut self, path: &str, max: usize) -> Result<Option<Vec<u8>>, String> {
            Ok(self
                .tiles
                .get(path)
                .map(|b| b[..b.len().min(max + 1)].to_vec()))
        }
        fn leaves(&mut self, size: u64) -> Result<Vec<Hash>, String> {
            self.leaves_read += 1;
            Ok(self
                .records
                .iter()
                .take(size as usize)
                .enumerate()
                .map(|(i, (ts, p))| leaf_v2(KIND_ENTRY, i as u64 + 1, *ts, &payload_hash(p)))
                .collect())
        }
    }

    #[test]
    fn tiles_serve_proofs_and_tampered_tiles_are_passed_over() {
        let mut m = Mem::new(1300);
        let head = m.head();
        for seq in [1, 256, 257, 1024, 1300] {
            let i = prove_inclusion(&mut m, &head, seq, None, true).unwrap();
            assert!(!i.rebuilt, "seq {seq}");
            let older = prove_inclusion(&mut m, &head, seq, Some(1299.max(seq)), false).unwrap();
            assert!(!older.rebuilt && older.payload.is_none());
        }
        assert_eq!(
            m.leaves_read, 0,
            "genuine tiles: no record but the one proven is read"
        );
        let good = prove_inclusion(&mut m, &head, 300, None, true).unwrap();
        // Every hash of tile 0/001 changed: the proof is rebuilt and is the same.
        for b in m.tiles.get_mut("tile/0/001").unwrap().chunks_mut(32) {
            b[0] ^= 0xff;
        }
        let again = prove_inclusion(&mut m, &head, 300, None, true).unwrap();
        assert!(again.rebuilt);
        assert_eq!(again.proof, good.proof);
        // A record changed on disk: its proof can never be made.
        m.records[299].1 = b"forged".to_vec();
        let e = prove_inclusion(&mut m, &head, 300, None, true).unwrap_err();
        assert!(matches!(e, ProveError::Inconsistent(_)), "{e}");
    }

    #[test]
    fn consistency_and_requests_out_of_range() {
        let mut m = Mem::new(600);
        let head = m.head();
        let mut small = Mem::new(600);
        small.records.truncate(200);
        let old = small.head();
        let c = prove_consistency(&mut m, &head, &old).unwrap();
        assert!(!c.rebuilt);
        assert!(check_consistency_text(&consistency_text(&c).unwrap()).is_ok());
        let other = TreeHead {
            origin: "evident/other".into(),
            ..old.clone()
        };
        assert!(matches!(
            prove_consistency(&mut m, &head, &other),
            Err(ProveError::OtherLog { .. })
        ));
        let wrong = TreeHead {
            root: Hash([9; 32]),
            ..old.clone()
        };
        assert!(matches!(
            prove_consistency(&mut m, &head, &wrong),
            Err(ProveError::NotExtended { size: 200, .. })
        ));
        assert!(matches!(
            prove_inclusion(&mut m, &head, 601, None, true),
            Err(ProveError::BeyondTree {
                seq: 601,
                size: 600
            })
        ));
        assert!(matches!(
            prove_inclusion(&mut m, &head, 1, Some(601), true),
            Err(ProveError::BadSize {
                size: 601,
                head: 600
            })
        ));
        assert!(matches!(
            prove_inclusion(&mut m, &head, 0, None, true),
            Err(ProveError::BeyondTree { seq: 0, .. })
        ));
        // extend_head: the edge at a checkpoint of 400 from the tiles written at 400, checked
        // against its root, then the records written since.
        let mut src = Mem::new(400);
        let at400 = src.head();
        let more = m.leaves(600).unwrap()[400..].to_vec();
        src.records = m.records.clone();
        assert_eq!(extend_head(&mut src, &at400, &more).unwrap(), head);
        assert_eq!(src.leaves_read, 0, "the edge came from the tiles");
        let forged = TreeHead {
            root: Hash([1; 32]),
            ..at400
        };
        assert!(matches!(
            extend_head(&mut src, &forged, &more),
            Err(ProveError::Inconsistent(_))
        ));
    }
}
