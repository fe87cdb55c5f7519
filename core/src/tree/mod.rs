//! The RFC 6962 / RFC 9162 Merkle tree over a trail's records (SHA-256, as the C2SP
//! transparency-log ecosystem fixes it).
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
//! - [`tile`]: C2SP tlog-tiles coordinates and paths (`tile/<L>/<N>[.p/<W>]`).

pub mod hash;
pub mod range;
pub mod tile;

pub use hash::{interior, leaf_node, subtree_root, EMPTY_ROOT};
pub use range::{CompactRange, TreeError};
pub use tile::{TileId, TILE_HEIGHT, TILE_WIDTH};
