//! The component under Node: jco 1.35.0 transpiles it, @bytecodealliance/preview2-shim 0.26.1
//! provides WASI, and tests/js/host.mjs drives every function of `trail` and `verify` (including
//! a corrupted trail). Then the native adapter verifies, opens and appends to what JS wrote.
//!
//! Needs node and npm; `npm ci` (see `npm_install` for its fallback) runs in tests/js only when
//! node_modules is missing or its stamp does not match package.json + package-lock.json, and the
//! transpile (into `<target>/component/js`) only when the component or the lock file changed.

mod foreign;

use foreign::*;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const HINT: &str = "Install Node.js 20 (with npm): the JS host test runs the component under \
                    node through jco and @bytecodealliance/preview2-shim (see tests/js/).";

/// Installs tests/js/node_modules when it is missing or stale: `npm ci` from the committed
/// lock file. npm ci refuses the lock when the registry lacked some other platform's optional
/// binaries when the lock was written (this machine's registry has no win32/musl builds of some
/// of jco's dependencies, so they are absent from the lock); then `npm install --no-save`
/// installs the same locked versions without rewriting the lock. Without a lock file: `npm
/// install`, which writes one.
fn npm_install(js: &Path, node_version: &str) {
    let lock = js.join("package-lock.json");
    let modules = js.join("node_modules");
    let stamp = modules.join(".evident-stamp");
    let want = || fingerprint(&[&js.join("package.json"), &lock], &[node_version]);
    if modules.is_dir() && stamp_matches(&stamp, &want()) {
        return;
    }
    let npm = |args: &[&str]| {
        let mut cmd = Command::new("npm");
        cmd.current_dir(js)
            .args(args)
            .args(["--no-audit", "--no-fund"]);
        cmd
    };
    if !lock.exists() {
        run(&mut npm(&["install"]), "npm install in tests/js");
    } else {
        let t = Instant::now();
        let ci = npm(&["ci"]).output().expect("running npm ci");
        if ci.status.success() {
            eprintln!("npm ci in tests/js: {:.1?}", t.elapsed());
        } else {
            eprintln!(
                "npm ci refused the lock file ({}); installing it with npm install --no-save",
                String::from_utf8_lossy(&ci.stderr)
                    .lines()
                    .find(|l| l.contains("npm error") && l.len() > 12)
                    .unwrap_or("")
            );
            run(
                &mut npm(&["install", "--no-save"]),
                "npm install --no-save in tests/js",
            );
        }
    }
    std::fs::write(&stamp, want()).unwrap();
}

/// `jco transpile` of the component into `<target>/component/js` when the component changed.
fn transpile(js: &Path, out: &Path) {
    let wasm = component();
    let stamp = out.join(".evident-stamp");
    let want = fingerprint(&[&wasm, &js.join("package-lock.json")], &[]);
    if out.join("evident.js").exists() && stamp_matches(&stamp, &want) {
        return;
    }
    let tmp = out.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let mut cmd = Command::new("npx");
    cmd.current_dir(js)
        .args(["--no", "--", "jco", "transpile"])
        .arg(&wasm)
        // The output takes its WASI imports from the caller (host.mjs), so it needs no
        // node_modules beside it and each instance can have its own preopens.
        .args([
            "--instantiation",
            "async",
            "--name",
            "evident",
            "--no-typescript",
            "--quiet",
            "-o",
        ])
        .arg(&tmp);
    run(&mut cmd, "jco transpile");
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&tmp, out).unwrap();
    std::fs::write(&stamp, want).unwrap();
}

#[test]
fn javascript_host_writes_a_trail_the_native_adapter_verifies() {
    let started = Instant::now();
    let node = require_tool("node", &["--version"], HINT);
    let npm = require_tool("npm", &["--version"], HINT);
    eprintln!("node {node}, npm {npm}");
    let js = workspace_root().join("tests/js");
    let out = component_dir().join("js");
    {
        let _lock = lock(&component_dir().join("js.lock"));
        npm_install(&js, &node);
        transpile(&js, &out);
    }

    let tmp = tempfile::Builder::new()
        .prefix("evident-js-")
        .tempdir()
        .unwrap();
    let data = tmp.path().join("data");
    let mut cmd = Command::new("node");
    cmd.current_dir(&js)
        .arg(js.join("host.mjs"))
        .arg(&out)
        .arg(&data);
    let t = Instant::now();
    let output = cmd.output().expect("running node");
    let host_time = t.elapsed();
    let (s, _tmp) = host_summary("node host.mjs", &output, tmp);
    eprintln!(
        "node host.mjs: {host_time:.1?} (host's own count {} ms)",
        s["millis"]
    );
    eprintln!("observations: {}", s["observations"]);

    // What JS wrote, checked natively.
    let head = checkpoint(&s["head"]);
    assert_eq!(head.seq, 253, "{s}");
    let trail = data.join("trail");
    let report = verify_natively(&trail, &head);
    assert_eq!(
        report.segments,
        s["segments"].as_array().unwrap().len() as u64,
        "segment count"
    );
    let first = checkpoint(&s["first_head"]);
    let report = evident_native::fs_exec::verify_dir(&trail, vec![first], |_, _| {})
        .expect("the head JS had before reopening is part of the trail");
    assert_eq!(report.head, head);
    let after = append_natively(&trail, &head, 4096);
    assert_eq!(after.seq, 254);

    // The trail JS corrupted is refused natively too, at the same file.
    let corrupt = s["corrupt"]["file"].as_str().expect("corrupt.file");
    assert_eq!(s["corrupt"]["error"]["tag"], "corrupt");
    assert_corrupt_natively(&data.join("corrupt"), corrupt);

    eprintln!("js host test total: {:.1?}", started.elapsed());
}
