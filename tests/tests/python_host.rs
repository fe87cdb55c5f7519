//! The component under Python: the PyPI `wasmtime` package (pinned in
//! tests/python/requirements.txt) instantiates it with `/data` preopened, and
//! tests/python/host.py drives the trail and verify interfaces. Then the native adapter
//! verifies, opens and appends to what Python wrote.
//!
//! Needs python3 with the venv module; the venv lives in `<target>/pyenv` and pip runs only when
//! it is missing or requirements.txt changed.

mod foreign;

use foreign::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const HINT: &str = "Install Python 3 (3.9 or newer, with the venv module, e.g. Debian's \
                    python3-venv): the Python host test runs the component under the PyPI \
                    `wasmtime` package in a venv under target/.";

/// The venv's interpreter, creating the venv and installing the requirements when needed.
fn venv(requirements: &Path, python_version: &str) -> PathBuf {
    let env = component_dir()
        .parent()
        .expect("component dir is under the target dir")
        .join("pyenv");
    let _lock = lock(&env.with_extension("lock"));
    let python = env.join("bin/python");
    let stamp = env.join(".evident-stamp");
    let want = fingerprint(&[requirements], &[python_version]);
    if python.exists() && stamp_matches(&stamp, &want) {
        return python;
    }
    if !python.exists() {
        let _ = std::fs::remove_dir_all(&env);
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&env),
            "python3 -m venv",
        );
    }
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                "-r",
            ])
            .arg(requirements),
        "pip install -r tests/python/requirements.txt",
    );
    std::fs::write(&stamp, want).unwrap();
    python
}

#[test]
fn python_host_writes_a_trail_the_native_adapter_verifies() {
    let started = Instant::now();
    let version = require_tool("python3", &["--version"], HINT);
    eprintln!("{version}");
    let dir = workspace_root().join("tests/python");
    let python = venv(&dir.join("requirements.txt"), &version);

    let tmp = tempfile::Builder::new()
        .prefix("evident-py-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let t = Instant::now();
    let output = Command::new(&python)
        .arg(dir.join("host.py"))
        .arg(component())
        .arg(&data)
        .output()
        .expect("running the venv's python");
    let host_time = t.elapsed();
    let (s, _tmp) = host_summary("python host.py", &output, tmp);
    eprintln!(
        "python host.py: {host_time:.1?} (compile {} ms, host's own count {} ms)",
        s["compile_millis"], s["millis"]
    );

    let head = checkpoint(&s["head"]);
    assert_eq!(head.seq, 253, "{s}");
    let trail = data.join("trail");
    let report = verify_natively(&trail, &head);
    assert_eq!(
        report.segments,
        s["segments"].as_array().unwrap().len() as u64
    );
    let first = checkpoint(&s["first_head"]);
    let report = evident_native::fs_exec::verify_dir(&trail, vec![first], |_, _| {})
        .expect("the head Python had before reopening is part of the trail");
    assert_eq!(report.head, head);
    assert_eq!(append_natively(&trail, &head, 4096).seq, 254);

    eprintln!("python host test total: {:.1?}", started.elapsed());
}
