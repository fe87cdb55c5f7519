//! # evident-native
//!
//! The tokio adapter of evident, the tamper-evident, crash-safe audit trail: a cloneable async
//! [`Trail`] handle around the sans-IO core, a [`Reader`] for other tasks and processes, and the
//! `evident` CLI.
//!
//! ```no_run
//! # async fn demo() -> Result<(), evident_native::Error> {
//! use evident_native::{Trail, TrailOptions};
//! let trail = Trail::open("/var/lib/agent-audit", TrailOptions::default()).await?;
//! let receipt = trail.append(b"tool call: web.search".to_vec()).await?; // durable when it returns
//! println!("seq {} hash {}", receipt.seq, receipt.hash);
//! let checkpoint = trail.head(); // ship it off the host
//! trail.close().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod archive;
mod background_priority;
mod driver;
mod error;
#[cfg(feature = "fault-hooks")]
mod fault_hooks;
pub mod fs_exec;
pub mod jsonl;
pub mod keys;
pub mod lease;
pub mod live;
mod mirror;
pub mod prove;
pub mod publish;
pub mod query;
mod read_ahead;
pub mod reader;
pub mod repair;
pub mod safe_fs;
pub mod signatures;
pub mod signer;
mod tile_worker;
#[cfg(feature = "tracing")]
pub mod tracing_layer;
mod trail;
pub mod witness;

pub use driver::now_ns;
pub use error::{Error, Result};
pub use evident_core as core;
pub use evident_core::{
    AuditEvent, Checkpoint, Decision, Durability, EventBody, Health, HealthState, OpenReport,
    Options, Receipt, RecoveryMode, TailReport,
};
pub use lease::NativeLease;
pub use mirror::Mirror;
pub use reader::{Reader, Record};
pub use trail::{lock_dir, InOrderAppend, Trail, TrailOptions, LOCK_FILE};
