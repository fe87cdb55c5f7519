//! `evident append` under failing environments, with real processes: a full disk (a small
//! tmpfs), failed fsyncs (the `fault-hooks` EIO injection, see src/fault_hooks.rs), a segment
//! that cannot be created, a `head.checkpoint` that cannot be written, bad and oversized input
//! lines, a closed stdout, tight ulimits. Every case checks the no-holes rule: acknowledged
//! seqs map to their own input lines, positionally, and nothing after the first line not
//! appended is in the trail.

mod common;
#[path = "append_faults/live.rs"]
mod live;

use common::{code, describe, read_all, s, temp_trail, BIN};
use live::LiveAppend;
use serde_json::Value;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The input lines `line 1`, `line 2`, ... padded to `width` bytes.
fn lines(n: usize, width: usize) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|i| format!("{:<width$}", format!("line {i}")).into_bytes())
        .collect()
}

fn joined(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l);
        v.push(b'\n');
    }
    v
}

/// Starts `evident ARGS` with piped stdio and `env`, writing `input` from a thread.
fn start(
    args: &[&str],
    env: &[(&str, &str)],
    input: Vec<u8>,
) -> (Child, std::thread::JoinHandle<()>) {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the evident binary starts");
    let mut pipe = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    (child, writer)
}

/// Waits for `child` at most `limit`, draining its stdout and stderr meanwhile (a full pipe
/// would block it); kills it (by its pid) and fails the test past that.
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let out = Output {
                status: child.wait().expect("wait"),
                stdout: out.join().unwrap(),
                stderr: err.join().unwrap(),
            };
            panic!("evident did not exit within {limit:?}: {}", describe(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs append and returns its output (bounded to 60 s).
fn run_append(args: &[&str], env: &[(&str, &str)], input: Vec<u8>) -> Output {
    let (child, writer) = start(args, env, input);
    let out = wait_bounded(child, Duration::from_secs(60));
    writer.join().expect("stdin writer");
    out
}

/// The `--json` acknowledgements: (line, seq) pairs.
fn acks(out: &Output) -> Vec<(u64, u64)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["line"].as_u64().unwrap(), v["seq"].as_u64().unwrap())
        })
        .collect()
}

/// The no-holes check on a fresh trail: acks are lines 1..=k as seqs 1..=k, and the trail holds
/// exactly input lines 1..=held in order (held >= k: a record may be durable unacknowledged
/// only if it is the next line, never a later one). Returns k.
fn check_prefix(dir: &Path, out: &Output, input: &[Vec<u8>]) -> usize {
    let acks = acks(out);
    for (i, &(line, seq)) in acks.iter().enumerate() {
        assert_eq!(
            (line, seq),
            (i as u64 + 1, i as u64 + 1),
            "acknowledgement {i} out of place: {}",
            describe(out)
        );
    }
    let records = read_all(dir);
    assert!(
        records.len() >= acks.len(),
        "an acknowledged record is missing"
    );
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(
            r.payload,
            input[i],
            "seq {} does not hold input line {}",
            r.seq,
            i + 1
        );
    }
    acks.len()
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("fs");
        std::fs::create_dir(&path).unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                s(&path),
            ])
            .status()
            .expect("mount runs");
        assert!(
            st.success(),
            "mounting a tmpfs failed: the disk-full tests need root (CI runs as root)"
        );
        Tmpfs { _tmp: tmp, path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Fills `fs` with a file until only about `leave` bytes are free.
fn fill(fs: &Path, leave: u64) -> PathBuf {
    let filler = fs.join("filler");
    let stat = rustix::fs::statvfs(fs).expect("statvfs");
    let free = stat.f_bavail * stat.f_frsize;
    std::fs::write(&filler, vec![0xaa; free.saturating_sub(leave) as usize]).expect("filler");
    filler
}

#[test]
fn disk_full_is_retried_in_order_until_space_returns() {
    let fs = Tmpfs::mount("2m");
    let dir = fs.path.join("trail");
    let filler = fill(&fs.path, 200 << 10);
    let input = lines(4000, 120); // ~0.5 MB of records: far more than the space left
    let (mut child, writer) = start(
        &[
            "append",
            s(&dir),
            "--raw",
            "--json",
            "--segment-bytes",
            "65536",
            "--retry-for",
            "60s",
        ],
        &[],
        joined(&input),
    );
    // Free the space once the command says it is retrying.
    let err = child.stderr.take().unwrap();
    let watcher = std::thread::spawn(move || {
        let mut text = String::new();
        let mut freed = false;
        for line in std::io::BufReader::new(err).lines() {
            let line = line.unwrap_or_default();
            if !freed && line.contains("retrying from input line") {
                std::fs::remove_file(&filler).expect("free the space");
                freed = true;
            }
            text.push_str(&line);
            text.push('\n');
        }
        (freed, text)
    });
    let mut out = wait_bounded(child, Duration::from_secs(90));
    writer.join().unwrap();
    let (freed, text) = watcher.join().unwrap();
    out.stderr = text.into_bytes();
    assert!(freed, "the disk never filled up: {}", describe(&out));
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not appended") && err.contains("No space left"),
        "{err}"
    );
    assert!(
        err.contains("trail degraded") || err.contains("trail failed"),
        "health on stderr: {err}"
    );
    assert_eq!(
        check_prefix(&dir, &out, &input),
        4000,
        "every line acknowledged"
    );
    assert_eq!(read_all(&dir).len(), 4000);
}

#[test]
fn disk_full_stops_at_the_first_line_not_appended() {
    let fs = Tmpfs::mount("2m");
    let dir = fs.path.join("trail");
    let _filler = fill(&fs.path, 200 << 10);
    let input = lines(4000, 120);
    let out = run_append(
        &[
            "append",
            s(&dir),
            "--raw",
            "--json",
            "--segment-bytes",
            "65536",
            "--retry-for",
            "1s",
        ],
        &[],
        joined(&input),
    );
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let k = check_prefix(&dir, &out, &input);
    assert!(k > 0 && k < 4000, "{}", describe(&out));
    let err = stderr(&out);
    let expect = format!("stopped at input line {}, which was not appended", k + 1);
    assert!(
        err.contains(&expect),
        "names the first line not appended: {err}"
    );
    assert!(err.contains("nothing after it was appended"), "{err}");
    assert!(
        err.contains("retrying from input line"),
        "retried first: {err}"
    );
    assert!(
        read_all(&dir).len() <= k + 1,
        "nothing after line {} stored",
        k + 1
    );
}

#[test]
fn failed_fsyncs_are_retried_without_a_hole() {
    let (_tmp, dir) = temp_trail();
    let input = lines(300, 40);
    // Data syncs 1, 2 and 3 fail with EIO: the trail latches failed, re-verifies, and the same
    // lines are appended again in order.
    let out = run_append(
        &["append", s(&dir), "--raw", "--json", "--retry-for", "30s"],
        &[("EVIDENT_FAULT_FAIL_SYNC", "1:3")],
        joined(&input),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("not appended") && err.contains("Input/output error"),
        "the injected fsync failure is reported: {err}"
    );
    assert!(err.contains("trail failed"), "health on stderr: {err}");
    assert_eq!(check_prefix(&dir, &out, &input), 300);
    assert_eq!(read_all(&dir).len(), 300, "no duplicate, no hole");
}

#[test]
fn persistent_fsync_failure_stops_naming_the_line() {
    let (_tmp, dir) = temp_trail();
    let input = lines(300, 40);
    // Line 1 alone first, acknowledged (data sync 1), so that the rest cannot all ride on the
    // one sync that succeeds (one batch when stdin is read fast enough).
    let mut live = LiveAppend::start_with(
        &["append", s(&dir), "--raw", "--json", "--retry-for", "700ms"],
        &[("EVIDENT_FAULT_FAIL_SYNC", "2:1000000")],
    );
    live.send(&input[..1]);
    live.wait_acks(1, Duration::from_secs(20));
    live.send(&input[1..]);
    let out = live.finish(Duration::from_secs(60));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let k = check_prefix(&dir, &out, &input);
    assert!(k < 300);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("stopped at input line {}", k + 1)),
        "{}",
        describe(&out)
    );
}

/// The name the second segment gets when lines of `width` bytes go to segments of `bytes`.
fn second_segment_name(width: usize, bytes: &str) -> String {
    let (_tmp, probe) = temp_trail();
    let out = run_append(
        &["append", s(&probe), "--raw", "--segment-bytes", bytes],
        &[],
        joined(&lines(100, width)),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let segs = common::segments(&probe);
    assert!(segs.len() >= 2, "the probe rotated: {segs:?}");
    segs[1].clone()
}

/// Lines acknowledged before an obstacle is planted under a running writer: few enough that
/// the first segment (4096 bytes, lines of 100) is far from full, so rotation comes later.
const BEFORE_PLANTING: usize = 5;

#[test]
fn a_segment_that_cannot_be_created_ends_the_command_with_an_error() {
    let name = second_segment_name(100, "4096");
    let first_seq: u64 = name.trim_end_matches(".evseg").parse().unwrap();
    assert!(first_seq as usize > BEFORE_PLANTING + 1, "{name}");
    let (_tmp, dir) = temp_trail();
    let input = lines(100, 100);
    let args = [
        "append",
        s(&dir),
        "--raw",
        "--json",
        "--segment-bytes",
        "4096",
        "--retry-for",
        "2s",
    ];
    let mut live = LiveAppend::start(&args);
    live.send(&input[..BEFORE_PLANTING]);
    live.wait_acks(BEFORE_PLANTING, Duration::from_secs(20));
    // The writer has opened the trail: a directory now takes the name rotation will create.
    std::fs::create_dir(dir.join(&name)).unwrap();
    live.send(&input[BEFORE_PLANTING..]);
    let started = Instant::now();
    let out = live.finish(Duration::from_secs(60));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "no hang at EOF"
    );
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("stopped at input line {first_seq}")),
        "{err}"
    );
    assert!(err.contains("creating segment"), "{err}");
    // Retried with backoff, not in a hot loop: a handful of attempts in two seconds.
    let attempts = err.matches("retrying from input line").count();
    assert!((2..=30).contains(&attempts), "{attempts} retries: {err}");

    // With the directory already there, open refuses it, naming it, and appends nothing.
    let again = run_append(&args, &[], joined(&input));
    assert_eq!(code(&again), 1, "{}", describe(&again));
    assert!(
        stderr(&again).contains(&name) && stderr(&again).contains("is a directory"),
        "{}",
        describe(&again)
    );
    assert!(acks(&again).is_empty(), "{}", describe(&again));

    std::fs::remove_dir(dir.join(&name)).unwrap(); // so that the trail can be read back
    let k = check_prefix(&dir, &out, &input);
    assert_eq!(
        k as u64 + 1,
        first_seq,
        "stopped where the new segment starts"
    );
    assert_eq!(
        read_all(&dir).len(),
        k,
        "nothing after the stop, nothing from the refused run"
    );
}

#[test]
fn a_library_writer_gets_errors_with_backoff_not_a_spin() {
    let name = second_segment_name(100, "4096");
    let (_tmp, dir) = temp_trail();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let trail = evident_native::Trail::open(&dir, common::opts(4096))
            .await
            .unwrap();
        // Opened: a directory now takes the name rotation will create.
        std::fs::create_dir(dir.join(&name)).unwrap();
        let input = lines(100, 100);
        let mut acked = 0;
        let mut first_error = None;
        for l in &input {
            match trail.append(l.clone()).await {
                Ok(r) if first_error.is_none() => {
                    acked += 1;
                    assert_eq!(r.seq, acked);
                }
                Ok(r) => panic!(
                    "seq {} appended after a failure, nothing was removed",
                    r.seq
                ),
                Err(e) => {
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        let first_error = first_error.expect("rotation could not create the segment");
        assert!(
            first_error.contains(&name) || first_error.contains("creating segment"),
            "the error says what failed: {first_error}"
        );
        assert_eq!(
            format!("{:020}.evseg", acked + 1),
            name,
            "every line up to the rotation was appended"
        );
        // Appends keep failing while the obstacle stays, but the attempts behind them are
        // spaced out (10 ms doubling to 1 s): in 1.5 s of appending as fast as possible, a
        // handful reach the disk; the others fail at once, saying the trail is backing off.
        let (mut tried, mut backing_off) = (0, 0);
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(1500) {
            let e = trail
                .append(b"more".to_vec())
                .await
                .expect_err("the segment still cannot be created");
            if e.to_string().contains("backing off") {
                backing_off += 1;
            } else {
                tried += 1;
            }
            tokio::task::yield_now().await;
        }
        assert!(
            (1..=20).contains(&tried) && backing_off > tried,
            "{tried} attempt(s), {backing_off} append(s) failed while backing off"
        );
        // Close ends (no retry loop at EOF) and says what it could not do.
        let closed = tokio::time::timeout(Duration::from_secs(10), trail.close()).await;
        assert!(closed.is_ok(), "close returned");
        // Opening with the directory already there is refused, naming it.
        let Err(e) = evident_native::Trail::open(&dir, common::opts(4096)).await else {
            panic!("open accepted a directory with a segment's name");
        };
        assert!(e.to_string().contains(&name), "{e}");
        std::fs::remove_dir(dir.join(&name)).unwrap();
        let records = read_all(&dir);
        assert_eq!(
            records.len() as u64,
            acked,
            "every acknowledged record, nothing more"
        );
        for (r, l) in records.iter().zip(&input) {
            assert_eq!(&r.payload, l, "seq {}", r.seq);
        }
    });
}

#[test]
fn a_head_checkpoint_that_cannot_be_written_fails_append_and_recover() {
    let (_tmp, dir) = temp_trail();
    let input = lines(200, 100);
    let args = [
        "append",
        s(&dir),
        "--raw",
        "--json",
        "--segment-bytes",
        "4096",
    ];
    let mut live = LiveAppend::start(&args);
    live.send(&input[..BEFORE_PLANTING]);
    live.wait_acks(BEFORE_PLANTING, Duration::from_secs(20));
    // The writer has opened the trail: a directory (with a file in it, so that it cannot be
    // removed as a stale `.tmp`) takes the name every head.checkpoint rewrite goes through.
    let tmp_name = dir.join("head.checkpoint.tmp");
    std::fs::create_dir(&tmp_name).unwrap();
    std::fs::write(tmp_name.join("x"), b"x").unwrap();
    // Rotations while the `.tmp` name is taken: each failed rewrite is said on stderr, the
    // records themselves are appended and acknowledged.
    live.send(&input[BEFORE_PLANTING..]);
    let out = live.finish(Duration::from_secs(60));
    assert_ne!(code(&out), 0, "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("head.checkpoint not updated"),
        "{}",
        describe(&out)
    );
    assert!(
        err.contains("closing the trail") && err.contains("checkpoint"),
        "the final checkpoint write failed too: {}",
        describe(&out)
    );
    assert!(
        common::segments(&dir).len() > 2,
        "it rotated: {}",
        describe(&out)
    );

    // With the directory already there, append and recover refuse to open, naming it.
    for cmd in [&args[..], &["recover", s(&dir)][..]] {
        let out = run_append(cmd, &[], b"more\n".to_vec());
        assert_ne!(code(&out), 0, "{}", describe(&out));
        assert!(
            stderr(&out).contains("head.checkpoint.tmp: is a directory"),
            "{}",
            describe(&out)
        );
        assert!(acks(&out).is_empty(), "{}", describe(&out));
    }
    std::fs::remove_dir_all(&tmp_name).unwrap();
    assert_eq!(check_prefix(&dir, &out, &input), 200);
    assert_eq!(read_all(&dir).len(), 200);

    // recover in a read-only directory, as a non-root user: it cannot take the writer lease
    // (LOCK), let alone rewrite head.checkpoint, and says so instead of exiting 0.
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(_tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["recover", s(&dir)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv runs");
    let out = wait_bounded(child, Duration::from_secs(20));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_ne!(code(&out), 0, "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        (err.contains("head.checkpoint") || err.contains("LOCK"))
            && err.contains("Permission denied"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_bad_line_stops_the_stream_or_is_skipped_or_stored_raw() {
    let input = b"{\"n\":1}\n\xff\xfe not utf-8\n{\"n\":3}\nnot json\n{\"n\":5}\n".to_vec();
    let (_tmp, dir) = temp_trail();
    let out = run_append(&["append", s(&dir), "--json"], &[], input.clone());
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert_eq!(acks(&out), [(1, 1)]);
    let err = stderr(&out);
    assert!(
        err.contains("stopped at input line 2") && err.contains("not UTF-8"),
        "{err}"
    );
    assert_eq!(read_all(&dir).len(), 1, "nothing after line 2");

    let (_tmp2, dir) = temp_trail();
    let out = run_append(
        &["append", s(&dir), "--json", "--on-bad-line", "skip"],
        &[],
        input.clone(),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        acks(&out),
        [(1, 1), (3, 2), (5, 3)],
        "acks name their input lines"
    );
    assert!(
        stderr(&out).contains("2 input line(s) skipped (--on-bad-line skip): 2, 4"),
        "{}",
        describe(&out)
    );

    let (_tmp3, dir) = temp_trail();
    let out = run_append(
        &["append", s(&dir), "--json", "--on-bad-line", "raw"],
        &[],
        input,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let records = read_all(&dir);
    assert_eq!(records.len(), 5);
    assert_eq!(records[1].payload, b"\xff\xfe not utf-8");
    assert_eq!(records[3].payload, b"not json");
}

#[test]
fn raw_lines_are_bytes() {
    let (_tmp, dir) = temp_trail();
    let out = run_append(
        &["append", s(&dir), "--raw"],
        &[],
        b"a\r\n\xff\x00b\n\nlast".to_vec(),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let p: Vec<Vec<u8>> = read_all(&dir).into_iter().map(|r| r.payload).collect();
    assert_eq!(
        p,
        [
            b"a\r".to_vec(),
            b"\xff\x00b".to_vec(),
            vec![],
            b"last".to_vec()
        ]
    );
}

#[test]
fn a_line_over_the_payload_limit_is_not_buffered_and_stops_the_stream() {
    let (_tmp, dir) = temp_trail();
    // An endless line: 64 MiB without a newline after one good line. Reading stops at the
    // limit (1 MiB), so the command ends long before the writer is done.
    let mut input = b"first\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 64 << 20));
    let (child, writer) = start(&["append", s(&dir), "--raw"], &[], input);
    let out = wait_bounded(child, Duration::from_secs(30));
    writer.join().unwrap();
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("stopped at input line 2") && err.contains("payload limit"),
        "{err}"
    );
    assert_eq!(read_all(&dir).len(), 1);

    let (_tmp2, dir) = temp_trail();
    let mut input = b"first\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 3 << 20));
    input.extend_from_slice(b"\nthird\n");
    let out = run_append(
        &["append", s(&dir), "--raw", "--on-bad-line", "skip"],
        &[],
        input,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let p: Vec<Vec<u8>> = read_all(&dir).into_iter().map(|r| r.payload).collect();
    assert_eq!(p, [b"first".to_vec(), b"third".to_vec()]);
    assert!(
        stderr(&out).contains("1 input line(s) skipped"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_closed_stdout_is_reported_as_unprinted_not_as_failed() {
    let (_tmp, dir) = temp_trail();
    let input = lines(20_000, 10);
    let (mut child, writer) = start(&["append", s(&dir), "--raw"], &[], joined(&input));
    // Like `| head -1`: read one acknowledgement, then close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 2];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = wait_bounded(child, Duration::from_secs(60));
    writer.join().unwrap();
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("could not be printed"), "{err}");
    assert!(
        err.contains("20000 record(s) appended durably: input lines 1..=20000 as seqs 1..=20000"),
        "{err}"
    );
    assert!(
        !err.contains("not appended") && !err.contains("failed append"),
        "{err}"
    );
    assert_eq!(read_all(&dir).len(), 20_000);
}

#[test]
fn tight_limits_give_a_clear_error_not_a_panic_or_hang() {
    let (_tmp, dir) = temp_trail();
    let out = run_append(&["append", s(&dir), "--raw"], &[], b"a\nb\n".to_vec());
    assert_eq!(code(&out), 0, "{}", describe(&out));
    for cmd in ["head", "verify", "inspect"] {
        // 24 MB of address space: tight for the runtime and the reads, above the binary's own
        // loaded size (about 10.5 MB since the S3 client is linked in; at 10 MB the kernel
        // kills the process at exec with SIGSEGV, before any code of ours runs).
        let script = format!("ulimit -v 24000; exec {BIN} {cmd} {}", s(&dir));
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_bounded(child, Duration::from_secs(20));
        let err = stderr(&out);
        assert!(
            !err.contains("panicked") && out.status.code().is_some(),
            "{cmd} under ulimit -v: {}",
            describe(&out)
        );
    }
    // Unprivileged with at most 4 processes: no panic "OS can't spawn worker thread".
    let script = format!(
        "ulimit -u 4; printf 'c\\n' | {BIN} append {} --raw; echo rc=$?; {BIN} verify {}",
        s(&dir),
        s(&dir)
    );
    let _ = Command::new("chmod")
        .args(["-R", "a+rwX", s(dir.parent().unwrap())])
        .status();
    let child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv runs");
    let out = wait_bounded(child, Duration::from_secs(20));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        !text.contains("panicked") && !text.contains("can't spawn"),
        "{text}"
    );
}

#[test]
fn demo_without_a_dir_writes_under_the_temp_dir() {
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--agents", "2", "--events", "5"])
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "nothing in the cwd"
    );
    let err = stderr(&out);
    let dir = err
        .lines()
        .find_map(|l| l.strip_prefix("evident: writing the demo trail to "))
        .unwrap_or_else(|| panic!("prints where: {err}"));
    let dir = Path::new(dir);
    assert!(
        dir.starts_with(std::env::temp_dir()) && dir.is_dir(),
        "{}",
        dir.display()
    );
    assert_eq!(read_all(dir).len(), 10);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_read_only_directory_as_non_root_ends_with_an_error_without_spinning() {
    // A writer running as a non-root user opens the trail (it must be able to take the writer
    // lease, LOCK, so the directory is writable then); once it has acknowledged some lines the
    // directory turns read-only under it: rotation cannot create the next segment.
    let (tmp, dir) = temp_trail();
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args([
            "append",
            s(&dir),
            "--raw",
            "--segment-bytes",
            "4096",
            "--retry-for",
            "1s",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv runs");
    let mut pipe = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, acked) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(());
            lines.push(line);
        }
        lines
    });
    let all = lines(100, 100);
    pipe.write_all(&joined(&all[..5])).unwrap();
    pipe.flush().unwrap();
    for _ in 0..5 {
        if acked.recv_timeout(Duration::from_secs(10)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the first 5 lines were not acknowledged");
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let input = joined(&all[5..]);
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let started = Instant::now();
    let out = wait_bounded(child, Duration::from_secs(20));
    writer.join().unwrap();
    let acks = reader.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "EOF ends the process"
    );
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Permission denied") && err.contains("stopped at input line"),
        "{err}"
    );
    // The acknowledged lines are a prefix of the input, and the stop names the next one.
    assert!(acks.len() >= 5, "{acks:?}");
    assert!(
        err.contains(&format!("stopped at input line {}", acks.len() + 1)),
        "{} acks: {err}",
        acks.len()
    );
    assert!(
        !err.contains("backing off"),
        "every retry reached the disk: {err}"
    );
    // Retried with backoff, not in a hot loop.
    let attempts = err.matches("retrying from input line").count();
    assert!((2..=30).contains(&attempts), "{attempts} retries: {err}");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
