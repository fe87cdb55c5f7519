//! Cross-crate test support for evident: a wasmtime host for the evident-wasi component (built
//! by this crate's build script), used by the tests under `tests/tests/`.

pub mod wasm;
