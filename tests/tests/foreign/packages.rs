//! Shared by the package tests (`packages_python.rs`, `packages_js.rs`): a clean copy of a
//! package's sources under the target directory, and the native CLI the interop tests call.

use std::path::{Path, PathBuf};

/// Names never copied: build output, caches, installed modules, the component (put in fresh).
const SKIP: &[&str] = &[
    "build",
    "dist",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    "evident_wasi.wasm",
];

/// Copies the package at `from` to `to` (replacing it), leaving out build output and caches,
/// so installing from the copy never writes into the source tree.
pub fn copy_package(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    copy_tree(from, to);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if SKIP.contains(&name_str.as_ref()) || name_str.ends_with(".egg-info") {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
        }
    }
}

/// The native `evident` CLI of this build: `target/<profile>/evident`, beside this test's
/// `deps/` directory. `cargo test --workspace` builds it (evident-native's own tests need it).
pub fn native_cli() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let cli = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps")
        .join("evident");
    assert!(
        cli.is_file(),
        "the native CLI is needed for the interop tests and is not at {}: run \
         `cargo build -p evident-native --bin evident` first (`cargo test --workspace` builds it)",
        cli.display()
    );
    cli
}
