//! Tokio adapter for evident (in progress: see the host-native issue).
#![warn(missing_docs)]

pub use evident_core as core;
