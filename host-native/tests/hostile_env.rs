//! Failing environments (issue 16 §2, §13): a descriptor limit below the number of segments,
//! a read-only mount. IO errors are never damage: no command cuts or reports damage for them.

mod common;

use common::{describe, s, segments, BIN};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `evident ARGS` after the shell commands in `setup`, under `timeout 60`.
fn run_with(setup: &str, args: &[&str]) -> Output {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{setup}; exec timeout 60 \"$@\""))
        .arg("sh")
        .arg(BIN)
        .args(args)
        .output()
        .expect("sh runs");
    assert_ne!(out.status.code(), Some(124), "hung: {}", describe(&out));
    out
}

/// A trail of `n` records of ~1 KB in 4 KiB segments (about 3 records per segment).
fn many_segments(dir: &Path, n: usize) {
    let line = "x".repeat(1000);
    let input: String = (0..n).map(|i| format!("{i:05} {line}\n")).collect();
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$@\" < \"$IN\"")
        .arg("sh")
        .arg(BIN)
        .args(["append", s(dir), "--raw", "--segment-bytes", "4096"])
        .args(["--durability", "os"])
        .env("IN", write_input(dir, &input))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

fn write_input(dir: &Path, input: &str) -> PathBuf {
    let p = dir.with_extension("input");
    std::fs::write(&p, input).unwrap();
    p
}

/// Every file of `dir` (the `tile/` tree included, by relative path) with its bytes, to prove a
/// command changed nothing. `LOCK` is named but its bytes are not compared: `repair` takes the
/// writer lease (and releases it), which rewrites the lease's token and times but no record,
/// checkpoint or segment.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, v: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().unwrap().is_dir() {
                walk(root, &path, v);
            } else if name == "LOCK" {
                v.push((name, Vec::new()));
            } else {
                v.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

#[test]
fn more_segments_than_descriptors_is_no_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    let records = 1000;
    many_segments(&dir, records);
    let segs = segments(&dir).len();
    let limit = 128;
    assert!(segs > 2 * limit, "{segs} segments");
    let before = snapshot(&dir);
    let ulimit = format!("ulimit -n {limit}");
    for args in [
        vec!["verify", s(&dir)],
        vec!["head", s(&dir)],
        vec!["export", s(&dir)],
        vec!["query", s(&dir)],
        vec!["stats", s(&dir)],
        vec!["repair", s(&dir)],
    ] {
        let out = run_with(&ulimit, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        if args[0] == "export" || args[0] == "query" {
            assert_eq!(stdout.lines().count(), records, "{args:?}");
        }
        if args[0] == "repair" {
            assert!(stdout.contains("nothing to repair"), "{}", describe(&out));
        }
    }
    assert!(snapshot(&dir) == before, "a command changed the trail");
}

#[test]
fn repair_aborts_on_an_io_error_and_changes_nothing() {
    // A descriptor limit so low that even bounded reading fails: an IO error, not damage.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    many_segments(&dir, 60);
    let before = snapshot(&dir);
    let out = run_with("ulimit -n 12", &["repair", s(&dir)]);
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("damage"), "{}", describe(&out));
    assert!(
        snapshot(&dir) == before,
        "repair changed the trail on an IO error"
    );
}

/// A tmpfs mounted for the test; unmounted when dropped (also when the test fails).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: PathBuf) -> Mount {
        std::fs::create_dir_all(&at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(&at)
            .status()
            .expect("mount runs");
        assert!(
            st.success(),
            "mount -t tmpfs needs root (the tests run as root here)"
        );
        Mount(at)
    }

    fn read_only(&self) {
        let st = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn read_only_commands_work_on_a_read_only_mount() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = Mount::tmpfs(tmp.path().join("mnt"));
    let dir = mnt.0.join("t");
    many_segments(&dir, 40);
    mnt.read_only();
    assert!(
        std::fs::write(dir.join("probe"), b"x").is_err(),
        "the mount is read-only"
    );
    for args in [
        vec!["verify", s(&dir)],
        vec!["head", s(&dir)],
        vec!["export", s(&dir)],
        vec!["query", s(&dir)],
        vec!["stats", s(&dir)],
        vec!["inspect", s(&dir)],
        vec!["tail", s(&dir)],
    ] {
        let out = run_with("true", &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("NOT INTACT"),
            "{args:?}: {}",
            describe(&out)
        );
        if args[0] == "inspect" {
            assert!(stdout.contains("state: intact"), "{}", describe(&out));
        }
    }
}

#[test]
fn read_only_commands_work_for_a_user_who_may_only_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    many_segments(&dir, 20);
    // Readable by everyone, writable by nobody but root; the commands run as `nobody`.
    let chmod = |p: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    chmod(tmp.path(), 0o755);
    chmod(&dir, 0o755);
    for e in std::fs::read_dir(&dir).unwrap() {
        chmod(&e.unwrap().path(), 0o444);
    }
    let as_nobody = |args: &[&str]| {
        let mut v = vec!["--reuid=65534", "--regid=65534", "--clear-groups", BIN];
        v.extend_from_slice(args);
        Command::new("setpriv")
            .args(&v)
            .output()
            .expect("setpriv runs")
    };
    for args in [
        vec!["verify", s(&dir)],
        vec!["head", s(&dir)],
        vec!["export", s(&dir)],
        vec!["query", s(&dir)],
        vec!["stats", s(&dir)],
        vec!["inspect", s(&dir)],
        vec!["tail", s(&dir)],
    ] {
        let out = as_nobody(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("NOT INTACT"),
            "{args:?}: {}",
            describe(&out)
        );
    }
}

/// Peak resident memory (KiB) of `evident ARGS`, its stdout discarded (GNU time's `%M`).
fn peak_rss_kib(args: &[&str]) -> u64 {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o", "/dev/stderr"])
        .arg(BIN)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()
        .expect("/usr/bin/time runs");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {err}"))
}

#[test]
fn query_without_a_limit_streams_its_results() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    // About 40 MB of records in 1 MiB segments.
    let line = "y".repeat(1000);
    let input: String = (0..40_000).map(|i| format!("{i:05} {line}\n")).collect();
    let inp = write_input(&dir, &input);
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$@\" < \"$IN\"")
        .arg("sh")
        .arg(BIN)
        .args(["append", s(&dir), "--raw", "--segment-bytes", "1048576"])
        .args(["--durability", "os"])
        .env("IN", inp)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let trail_kib: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum::<u64>()
        / 1024;
    let rss = peak_rss_kib(&["query", s(&dir)]);
    // Holding every result would take more than the trail itself (payloads plus JSON).
    assert!(
        rss < trail_kib / 2,
        "query used {rss} KiB for a {trail_kib} KiB trail: results are held, not streamed"
    );
}
