//! The `@evident/trail` JavaScript package (packages/js) under `node --test`: every function,
//! every error class, kill -9 of a writer process, interop with the native CLI, concurrent
//! callers, payload speed. As a user would get it: the package's pinned jco (its lock file,
//! installed once under the target directory) transpiles this build's component into a clean
//! copy of the package, `npm pack` packs it, and `npm install` of the tarball into a consumer
//! directory under target/ brings its one dependency (preview2-shim); the tests run there.
//!
//! Needs node 20 and npm, and the native CLI built (`cargo test --workspace` builds it). The
//! disk-full test mounts a tmpfs, which needs root (as the other tmpfs tests).

mod foreign;

use foreign::packages::{copy_package, native_cli};
use foreign::*;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const HINT: &str = "Install Node.js 20 (with npm): the JS package tests run under node --test.";

fn npm(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir)
        .args(args)
        .args(["--no-audit", "--no-fund"]);
    cmd
}

/// The package's build tools (jco) from its lock file, in `tools` (installed when the
/// package.json or lock changed). `npm ci` refuses a lock that lacks other platforms' optional
/// binaries (see js_host.rs); `npm install --no-save` installs the same locked versions then.
fn build_tools(src: &Path, tools: &Path, node_version: &str) {
    let stamp = tools.join("node_modules/.evident-stamp");
    let files = [src.join("package.json"), src.join("package-lock.json")];
    let want = fingerprint(&[&files[0], &files[1]], &[node_version]);
    if stamp_matches(&stamp, &want) {
        return;
    }
    std::fs::create_dir_all(tools).unwrap();
    for f in &files {
        std::fs::copy(f, tools.join(f.file_name().unwrap())).unwrap();
    }
    let ci = npm(tools, &["ci"]).output().expect("running npm ci");
    if !ci.status.success() {
        run(
            &mut npm(tools, &["install", "--no-save"]),
            "npm install --no-save (packages/js build tools)",
        );
    }
    std::fs::write(&stamp, want).unwrap();
}

#[test]
fn javascript_package_passes_its_node_test_suite() {
    let started = Instant::now();
    let node = require_tool("node", &["--version"], HINT);
    require_tool("npm", &["--version"], HINT);
    let src = workspace_root().join("packages/js");
    let base = component_dir().parent().unwrap().join("packages");
    let _lock = lock(&base.join("js.lock"));

    let tools = base.join("js-tools");
    build_tools(&src, &tools, &node);

    // A clean copy with the component transpiled in (what packages/build-component --js does).
    let copy = base.join("js");
    copy_package(&src, &copy);
    run(
        Command::new(tools.join("node_modules/.bin/jco"))
            .arg("transpile")
            .arg(component())
            .args([
                "--instantiation",
                "async",
                "--name",
                "evident",
                "--quiet",
                "-o",
            ])
            .arg(copy.join("dist/component")),
        "jco transpile",
    );
    let packed = run(
        npm(&copy, &["pack", "--quiet"])
            .arg("--pack-destination")
            .arg(&base),
        "npm pack",
    );
    let tarball = base.join(String::from_utf8_lossy(&packed.stdout).trim());
    assert!(tarball.is_file(), "npm pack made no {}", tarball.display());

    // A consumer project installing the tarball, as `npm install <path>` would.
    let consumer = base.join("js-consumer");
    let _ = std::fs::remove_dir_all(&consumer);
    std::fs::create_dir_all(&consumer).unwrap();
    std::fs::write(
        consumer.join("package.json"),
        r#"{ "name": "evident-js-consumer", "private": true, "type": "module" }"#,
    )
    .unwrap();
    run(
        npm(&consumer, &["install", "--no-save"]).arg(&tarball),
        "npm install @evident/trail (the packed tarball)",
    );
    copy_package(&src.join("test"), &consumer.join("test"));

    let mut tests: Vec<String> = std::fs::read_dir(consumer.join("test"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.mjs"))
        .map(|n| format!("test/{n}"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 5, "test files: {tests:?}");
    let t = Instant::now();
    let status = Command::new("node")
        .current_dir(&consumer)
        .arg("--test")
        .args(&tests)
        .env("EVIDENT_CLI", native_cli())
        .status()
        .expect("running node --test");
    eprintln!("node --test: {:.1?}", t.elapsed());
    assert!(
        status.success(),
        "the JS package's tests failed (node --test output above)"
    );
    eprintln!("js package test total: {:.1?}", started.elapsed());
}
