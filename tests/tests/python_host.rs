//! The component under Python: the PyPI `wasmtime` package (pinned in
//! tests/python/requirements.txt) instantiates it with `/data` preopened, and
//! tests/python/host.py drives the trail and verify interfaces. Then the native adapter
//! verifies, opens and appends to what Python wrote.
//!
//! Needs python3 with the venv module; the venv lives in `<target>/pyenv` and pip runs only when
//! it is missing or requirements.txt changed.

mod foreign;

use foreign::*;
use std::process::Command;
use std::time::Instant;

const HINT: &str = "Install Python 3 (3.9 or newer, with the venv module, e.g. Debian's \
                    python3-venv): the Python host test runs the component under the PyPI \
                    `wasmtime` package in a venv under target/.";

#[test]
fn python_host_writes_a_trail_the_native_adapter_verifies() {
    let started = Instant::now();
    let version = require_tool("python3", &["--version"], HINT);
    eprintln!("{version}");
    let dir = workspace_root().join("tests/python");
    let python = {
        let _lock = lock(&component_dir().parent().unwrap().join("pyenv.lock"));
        python_venv("pyenv", &dir.join("requirements.txt"), &version)
    };

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
