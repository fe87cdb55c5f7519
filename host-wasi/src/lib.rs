//! WASI component of evident (in progress: see the WIT/WASI issue).
#![warn(missing_docs)]

pub use evident_core as core;
