//! Shared by the foreign-host tests (`js_host.rs`, `python_host.rs`): finding tools, running
//! them, install stamps, and checking with the native adapter what another host's copy of the
//! component wrote.

// Each test binary uses a different subset.
#![allow(dead_code)]

use evident_native::core::{Checkpoint, Error, Hash, LogId};
use evident_native::{Options, Trail, TrailOptions};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

pub mod packages;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The component built by build.rs (`<target>/component/audit-log/wasm32-wasip2/release/...`).
pub fn component() -> PathBuf {
    PathBuf::from(env!("EVIDENT_COMPONENT"))
}

/// `<target>/component`, where build.rs puts the components.
pub fn component_dir() -> PathBuf {
    component()
        .ancestors()
        .nth(4)
        .expect("the component path has the layout build.rs gives it")
        .to_path_buf()
}

/// Runs `name args`, or panics with `hint` if it cannot be started; returns its first output line.
pub fn require_tool(name: &str, args: &[&str], hint: &str) -> String {
    match Command::new(name).args(args).output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string(),
        Ok(out) => panic!(
            "`{name} {}` failed ({}): {}\n{hint}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("`{name}` is needed for this test and cannot be run ({e}).\n{hint}"),
    }
}

/// Runs a command to completion; panics with its output if it fails.
pub fn run(cmd: &mut Command, what: &str) -> Output {
    let t = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}): {cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("{what}: {:.1?}", t.elapsed());
    out
}

/// A stable fingerprint (FNV-1a, 64 bits) of some files' contents and some strings; a missing
/// file counts as distinct from an empty one.
pub fn fingerprint(files: &[&Path], extra: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes.iter().chain(&(bytes.len() as u64).to_le_bytes()) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for f in files {
        match std::fs::read(f) {
            Ok(b) => eat(&b),
            Err(_) => eat(b"\xffmissing"),
        }
    }
    for s in extra {
        eat(s.as_bytes());
    }
    format!("{h:016x}")
}

/// Whether `stamp` holds `want`.
pub fn stamp_matches(stamp: &Path, want: &str) -> bool {
    std::fs::read_to_string(stamp).is_ok_and(|s| s.trim() == want)
}

/// The interpreter of the venv `<target>/<name>`, creating the venv when it is missing and
/// installing `requirements` with pip when they (or the Python version) changed since the last
/// install. The caller holds the lock that keeps two test processes out of the same venv.
pub fn python_venv(name: &str, requirements: &Path, python_version: &str) -> PathBuf {
    let env = component_dir()
        .parent()
        .expect("component dir is under the target dir")
        .join(name);
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
        &format!("pip install -r {}", requirements.display()),
    );
    std::fs::write(&stamp, want).unwrap();
    python
}

/// An exclusive lock on a file, held until dropped: keeps two test processes from installing
/// or transpiling into the same place at once.
pub struct FileLock(#[allow(dead_code)] File);

/// Takes the lock on `path` (created if needed), waiting for it.
pub fn lock(path: &Path) -> FileLock {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    FileLock(f)
}

/// Parses the JSON summary a host printed as the last line of its stdout.
/// The host's JSON summary when it exited 0; otherwise keeps the trail directory for a look and
/// fails with the host's output.
pub fn host_summary(
    host: &str,
    output: &Output,
    tmp: tempfile::TempDir,
) -> (serde_json::Value, tempfile::TempDir) {
    if !output.status.success() {
        let kept = tmp.keep();
        panic!(
            "{host} failed ({}); trail kept in {}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            kept.display(),
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        );
    }
    (summary(output), tmp)
}

pub fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("the host printed no summary; stderr:\n{}", stderr(out)));
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("summary is not JSON ({e}): {line}"));
    assert_eq!(v["ok"], true, "the host reported a failure: {v}");
    v
}

/// A process's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A checkpoint from a host's JSON: `{logId|log-id, seq, hash}`.
pub fn checkpoint(v: &serde_json::Value) -> Checkpoint {
    let log_id = v
        .get("logId")
        .or_else(|| v.get("log-id"))
        .and_then(|x| x.as_str())
        .unwrap_or_else(|| panic!("no log id in {v}"));
    Checkpoint {
        log_id: LogId::from_hex(log_id).unwrap_or_else(|| panic!("bad log id {log_id}")),
        seq: v["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {v}")),
        hash: Hash::from_hex(
            v["hash"]
                .as_str()
                .unwrap_or_else(|| panic!("no hash in {v}")),
        )
        .unwrap_or_else(|| panic!("bad hash in {v}")),
    }
}

/// Verifies `dir` with the native adapter against `head` and the trail's own head.checkpoint;
/// asserts that the verified head is `head`.
pub fn verify_natively(
    dir: &Path,
    head: &Checkpoint,
) -> evident_native::core::verify::VerifyReport {
    let text = std::fs::read_to_string(dir.join("head.checkpoint"))
        .unwrap_or_else(|e| panic!("{}/head.checkpoint: {e}", dir.display()));
    let (own, root) = Checkpoint::parse_own_file(&text)
        .unwrap_or_else(|e| panic!("head.checkpoint written by the foreign host: {e}"));
    assert!(
        root.is_some(),
        "head.checkpoint carries the tree root: {text}"
    );
    assert_eq!(&own, head, "head.checkpoint holds the host's final head");
    let report = evident_native::fs_exec::verify_dir(dir, vec![*head, own], |_, _| {})
        .unwrap_or_else(|e| panic!("native verification of {}: {e}", dir.display()));
    assert_eq!(
        &report.head, head,
        "native verification finds the host's head"
    );
    assert_eq!(report.records, head.seq);
    assert_eq!(report.first_seq, 1);
    assert!(report.checkpoints_verified.contains(head), "{report:?}");
    report
}

/// Opens the trail with the native adapter, checks that it sees `head`, appends one record and
/// closes; returns the new head (verified again natively).
pub fn append_natively(dir: &Path, head: &Checkpoint, segment_bytes: u64) -> Checkpoint {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let new_head = rt.block_on(async {
        let options = TrailOptions {
            core: Options {
                segment_bytes,
                ..Options::default()
            },
            ..TrailOptions::default()
        };
        let trail = Trail::open(dir, options)
            .await
            .unwrap_or_else(|e| panic!("native open of {}: {e}", dir.display()));
        let report = trail.open_report();
        assert!(!report.created);
        assert_eq!(&report.head, head, "native open finds the host's head");
        assert_eq!(report.next_seq, head.seq + 1);
        let r = trail
            .append(b"appended natively".to_vec())
            .await
            .expect("native append");
        assert_eq!(r.seq, head.seq + 1);
        assert!(r.durable);
        let closed = trail.close().await.expect("native close");
        assert_eq!(closed.hash, r.hash);
        closed
    });
    let report = evident_native::fs_exec::verify_dir(dir, vec![*head], |_, _| {})
        .expect("native verification after the native append");
    assert_eq!(report.head, new_head);
    new_head
}

/// Asserts that native verification of `dir` fails with corruption in `file`.
pub fn assert_corrupt_natively(dir: &Path, file: &str) {
    match evident_native::fs_exec::verify_dir(dir, vec![], |_, _| {}) {
        Err(Error::Corrupt { location, .. }) => {
            assert_eq!(location.file.as_deref(), Some(file), "{location:?}")
        }
        other => panic!("native verification of the corrupted trail: {other:?}"),
    }
}
