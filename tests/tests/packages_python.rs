//! The `evident` Python package (packages/python) under pytest: every function, every error
//! class, kill -9 of a writer process, interop with the native CLI, many threads, payload speed,
//! the example. A clean copy of the package with this build's component inside is installed
//! into a venv under the target directory (the package's pins in requirements-test.txt; pip
//! runs only when they change), then pytest runs the package's tests against it.
//!
//! Needs python3 with the venv module, and the native CLI built (`cargo test --workspace`
//! builds it). The disk-full test mounts a tmpfs, which needs root (as the other tmpfs tests).

mod foreign;

use foreign::packages::{copy_package, native_cli};
use foreign::*;
use std::process::Command;
use std::time::Instant;

const HINT: &str = "Install Python 3 (3.9 or newer, with the venv module, e.g. Debian's \
                    python3-venv): the package tests run under pytest in a venv under target/.";

#[test]
fn python_package_passes_its_pytest_suite() {
    let started = Instant::now();
    let version = require_tool("python3", &["--version"], HINT);
    let src = workspace_root().join("packages/python");
    let target = component_dir().parent().unwrap().to_path_buf();
    let _lock = lock(&target.join("pkg-pyenv.lock"));
    let python = python_venv("pkg-pyenv", &src.join("requirements-test.txt"), &version);

    // The documented build step (packages/build-component) puts the component inside the
    // package; here the copy gets the component build.rs just built.
    let copy = target.join("packages/python");
    copy_package(&src, &copy);
    std::fs::copy(component(), copy.join("src/evident/evident_wasi.wasm")).unwrap();
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
            ])
            .args(["--no-deps", "--no-build-isolation", "--force-reinstall"])
            .arg(&copy),
        "pip install packages/python",
    );

    let t = Instant::now();
    let status = Command::new(&python)
        .current_dir(&copy)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .env("EVIDENT_CLI", native_cli())
        // The package from site-packages, never the copy's src/ (which pytest does not add).
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("EVIDENT_COMPONENT")
        .status()
        .expect("running pytest");
    eprintln!("pytest: {:.1?}", t.elapsed());
    assert!(
        status.success(),
        "the Python package's tests failed (pytest output above)"
    );
    eprintln!("python package test total: {:.1?}", started.elapsed());
}
