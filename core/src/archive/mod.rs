//! Archiving sealed segments to an object store, decided here without IO.
//!
//! The host (the native adapter talks S3) performs the requests; this module decides what they
//! are and what their answers mean:
//! - [`keys`]: the object layout (`<prefix>/<log id>/seg/<first seq>.evseg`,
//!   `<prefix>/<log id>/manifest/<round>.json`);
//! - [`manifest`]: the manifest of one upload round (what was shipped, chained to the previous
//!   round's manifest by SHA-256) and the description of a sealed segment it lists;
//! - [`chain`]: validating the manifests found in a bucket (a fork, a gap, a round that goes
//!   backwards, a replaced or rolled-back manifest are refused);
//! - [`plan`]: which local segments a round uploads, and which local segments retention may
//!   delete;
//! - [`finish`]: finishing at open a retention a crash interrupted (both hosts run it);
//! - [`listing`]: a bucket listing checked against the manifests (missing, resized and extra
//!   objects, by key and seq).
//!
//! See FORMAT.md, "Archive: object layout and manifests".

pub mod chain;
pub mod finish;
pub mod keys;
pub mod listing;
pub mod manifest;
pub mod plan;

pub use chain::{ArchiveHistory, ChainError};
pub use manifest::{sha256_hex, Manifest, SegmentEntry, MANIFEST_FORMAT};
