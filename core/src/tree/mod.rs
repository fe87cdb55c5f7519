//! The RFC 6962 / RFC 9162 Merkle tree over a trail's records (SHA-256, as the C2SP
//! transparency-log ecosystem fixes it), its tiles, proofs and the C2SP text formats.
//! Pure: the host reads and writes tile files; this room only computes.
//!
//! Entry `i` (0-based) of the tree is the 32-byte leaf hash of record `seq = i + 1` (see
//! [`crate::hash`]), so the tree size is the number of records and a record's position in
//! the tree is `seq - 1`. The chain and the tree commit to the same leaves: the chain orders
//! them, the tree lets a third party check one record (inclusion) or that one head extends
//! another (consistency) with O(log n) hashes.
//!
//! Rooms:
//! - [`hash`]: the node hashes (`0x00` leaf prefix, `0x01` interior prefix) and the empty root;
//! - [`range`]: the compact range (the tree's right edge) a writer keeps in memory;
//! - [`tile`]: C2SP tlog-tiles coordinates and paths (`tile/<L>/<N>[.p/<W>]`);
//! - [`proof`]: inclusion and consistency proofs from a [`HashReader`] of stored nodes;
//! - [`verify`]: checking those proofs;
//! - [`plan`]: which tiles a host must read for a root or a proof;
//! - [`tileset`]: the tile bytes a host read, as a [`HashReader`];
//! - [`builder`]: level-0 nodes into the bytes of every tile level, for writing tiles;
//! - [`memory`]: a whole tree in memory (tests, tools);
//! - [`base64`]: strict standard base64;
//! - [`note`]: the C2SP signed-note envelope and the [`NoteSigner`] hook;
//! - [`checkpoint`]: the C2SP tlog-checkpoint body;
//! - [`extra`]: evident's `extra` bytes (the record a bundle proves);
//! - [`bundle`]: the `c2sp.org/tlog-proof@v1` inclusion bundle and its offline check;
//! - [`consistency`]: evident's consistency-proof file.

pub mod base64;
pub mod builder;
pub mod bundle;
pub mod checkpoint;
pub mod consistency;
pub mod extra;
pub mod hash;
pub mod memory;
pub mod note;
pub mod plan;
pub mod proof;
pub mod range;
pub mod tile;
pub mod tileset;
pub mod verify;

pub use builder::TileBuilder;
pub use bundle::{
    check_bundle, format_bundle, parse_bundle, prove_bundle, Bundle, BundleError, CheckedBundle,
};
pub use checkpoint::{check_origin, BodyRules, TreeCheckpoint};
pub use consistency::{
    check_consistency_file, format_consistency, parse_consistency, prove_consistency_file,
    CheckedConsistency, ConsistencyFile,
};
pub use extra::RecordExtra;
pub use hash::{interior, leaf_node, subtree_root, EMPTY_ROOT};
pub use memory::MemoryTree;
pub use note::{Note, NoteError, NoteSignature, NoteSigner};
pub use plan::{
    partial_tiles_at, tile_for_entry, tile_for_node, tiles_for_consistency, tiles_for_inclusion,
    tiles_for_root, NodeInTile,
};
pub use proof::{
    consistency_proof, inclusion_proof, root_at, HashReader, NodeId, ProofError, MAX_PROOF_HASHES,
};
pub use range::{CompactRange, TreeError};
pub use tile::{TileId, TILE_HEIGHT, TILE_WIDTH};
pub use tileset::{tile_bytes, tile_hashes, TileSet};
pub use verify::{verify_consistency, verify_inclusion};
