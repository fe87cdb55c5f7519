//! Builds the evident-wasi component (both worlds) for the tests, with the workspace's own
//! cargo, so the README's single test command covers the component on a fresh machine.
//!
//! The nested cargo gets its own target directory (sharing ours would deadlock on the artifact
//! lock) and none of the variables that would make it build for the wrong target or through
//! clippy's wrapper.

use std::path::{Path, PathBuf};
use std::process::Command;

fn build(root: &Path, target_dir: &Path, no_default_features: bool) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        "-p",
        "evident-wasi",
        "--target",
        "wasm32-wasip2",
        "--release",
        "--target-dir",
    ]);
    cmd.arg(target_dir);
    if no_default_features {
        cmd.arg("--no-default-features");
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    // A small component: no debug info, symbols stripped.
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true");
    let status = cmd.status().expect("running cargo to build the component");
    if !status.success() {
        panic!(
            "building the evident-wasi component failed; is the wasm32-wasip2 target installed? \
             (`rustup target add wasm32-wasip2`, or run ./scripts/test which installs it)"
        );
    }
    target_dir.join("wasm32-wasip2/release/evident_wasi.wasm")
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let base = root.join("target/component");
    let full = build(&root, &base.join("audit-log"), false);
    let verifier = build(&root, &base.join("verifier"), true);
    println!("cargo:rustc-env=EVIDENT_COMPONENT={}", full.display());
    println!(
        "cargo:rustc-env=EVIDENT_VERIFIER_COMPONENT={}",
        verifier.display()
    );
    for p in [
        "host-wasi/src",
        "host-wasi/Cargo.toml",
        "wit",
        "core/src",
        "core/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
}
