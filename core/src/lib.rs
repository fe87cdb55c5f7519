//! # evident-core
//!
//! The sans-IO heart of evident, a tamper-evident, crash-safe audit trail.
//!
//! This crate never touches a file, a clock, a thread or a random number generator. Hosts feed
//! it commands (append this payload at this timestamp), IO completions and time, and drain from
//! it IO requests (write these bytes here, sync this file, ...) and events (these appends are now
//! durable). The same state machine runs inside the tokio adapter (`evident-native`) and the
//! WebAssembly component (`evident-wasi`), so both write byte-identical trails.
//!
//! Rooms, one idea each:
//! - [`hash`]: the BLAKE3 chain (genesis, leaf, chain step);
//! - [`frame`], [`header`], [`footer`]: the on-disk byte layout (see FORMAT.md);
//! - [`checkpoint`]: the shippable (log id, seq, hash) statement;
//! - [`scan`]: the incremental segment scanner shared by recovery, verification and readers.
//! - [`lease`]: the writer lease in `LOCK` (one writer per trail, in every host);
//! - [`tree`]: the RFC 6962 Merkle tree over the records (SHA-256), its tiles and proofs;
//! - [`prove`]: making proofs for a trail whose stored tiles may be wrong (shared by the hosts).
//! - [`note`]: C2SP signed notes, Ed25519 keys, cosignatures and witness policies.
//! - [`witness`]: the tlog-witness `add-checkpoint` decision and the witness's state.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent_builder;
pub mod agent_index;
pub mod agent_query;
pub mod agent_rebuild;
pub mod archive;
pub mod checkpoint;
pub mod config;
mod crc_range;
pub mod error;
pub mod event;
pub mod footer;
pub mod frame;
pub mod hash;
pub mod header;
pub mod health;
pub mod io;
pub mod lease;
pub mod leaves;
pub mod naming;
pub mod note;
pub mod prepared;
pub mod prove;
pub mod query;
pub mod scan;
pub mod segment_links;
#[cfg(feature = "sim")]
pub mod sim;
pub mod trail;
pub mod tree;
pub mod verify;
pub mod witness;

pub use checkpoint::Checkpoint;
pub use config::{Durability, Options, RecoveryMode};
pub use error::{Error, Location};
pub use event::{AuditEvent, Decision, EventBody};
pub use hash::{Hash, LogId};
pub use health::{ArchiveLag, ArchiveReport, Health, HealthState};
pub use io::{DirEntry, IoDone, IoError, IoErrorKind, IoId, IoOp, IoRequest, IoResult};
pub use prepared::PreparedPayload;
pub use trail::{
    Event, OpenReport, Receipt, TailReport, TileStatus, Trail, TreeHead, MAX_RETRY_BACKOFF_NS,
    MIN_RETRY_BACKOFF_NS,
};
