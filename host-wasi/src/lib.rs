//! # evident-wasi
//!
//! The WASI Preview 2 component of evident: the `audit-log` world of `wit/evident.wit` over
//! `evident-core`, with file IO and fsync done through `wasi:filesystem` directly (not Rust
//! std, whose read-write open asks for a descriptor flag some hosts refuse). Built with
//! `cargo build -p evident-wasi --target wasm32-wasip2 --release`; without the `audit-log`
//! feature it is the `verifier` world (no filesystem).
//!
//! On targets other than WebAssembly this crate is empty.
#![cfg_attr(not(target_family = "wasm"), allow(unused))]

#[cfg(target_family = "wasm")]
mod bindings {
    #[cfg(feature = "audit-log")]
    wit_bindgen::generate!({ world: "audit-log", path: "../wit", pub_export_macro: true });
    #[cfg(not(feature = "audit-log"))]
    wit_bindgen::generate!({ world: "verifier", path: "../wit", pub_export_macro: true });
}

#[cfg(target_family = "wasm")]
mod convert;
#[cfg(all(target_family = "wasm", feature = "audit-log"))]
mod encoded;
#[cfg(all(target_family = "wasm", feature = "audit-log"))]
mod lease;
#[cfg(all(target_family = "wasm", feature = "audit-log"))]
mod log;
#[cfg(target_family = "wasm")]
mod verify;
#[cfg(all(target_family = "wasm", feature = "audit-log"))]
mod wasi_fs;

/// The component's exports.
#[cfg(target_family = "wasm")]
pub struct Component;

#[cfg(target_family = "wasm")]
bindings::export!(Component with_types_in bindings);
