//! Cross-crate test support for evident: a wasmtime host for the evident-wasi component (built
//! by this crate's build script), used by the tests under `tests/tests/`.

pub mod wasm;

/// A trail directory's files (segments, checkpoints, the tiles under `tile/`, sidecars) by
/// path relative to `dir`, with their bytes: everything but the native adapter's `LOCK`, which
/// holds a per-process lease. What the conformance tests compare between native and component.
pub fn trail_files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(
        root: &std::path::Path,
        at: &std::path::Path,
        out: &mut std::collections::BTreeMap<String, Vec<u8>>,
    ) {
        for e in std::fs::read_dir(at).unwrap().map(|e| e.unwrap()) {
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if path.is_dir() {
                walk(root, &path, out);
            } else if rel != evident_native::LOCK_FILE {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
