//! Retention run by an open trail (`BackgroundArchive::keep_local`, `evident append --archive
//! … --keep-local N`), against a real S3 server (SeaweedFS started by the tests): it deletes
//! only archived, read-back segments while the writer appends; a kill -9 of the writing
//! process at each step of retention leaves a trail that the next writer opens (finishing the
//! retention), that verifies alone and with its archive, and that lost no acknowledged record.

mod seaweed;

use evident_native::archive::{self, BackgroundArchive};
use evident_native::core::naming;
use evident_native::{Options, Trail, TrailOptions};
use seaweed::cli::*;
use seaweed::Seaweed;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn line(i: u64) -> String {
    format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(40))
}

/// What a writer killed at a retention step left.
struct Killed {
    /// Every seq it acknowledged.
    acked: Vec<u64>,
}

/// Runs `evident append` with background archiving and retention, feeds it `n` lines, waits
/// until retention halts at `step` (the fault hook), and kills it with SIGKILL there.
fn kill_at_retention_step(s: &Seaweed, dir: &Path, url: &str, step: &str, n: u64) -> Killed {
    let mut child = Command::new(BIN)
        .args([
            "append",
            dir.to_str().unwrap(),
            "--segment-bytes",
            "4096",
            "--lease",
            "200",
            "--archive",
            url,
            "--archive-interval",
            "100",
            "--keep-local",
            "1",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .envs(s.env())
        .env("EVIDENT_FAULT_RETAIN_HALT", step)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (acks_tx, acks_rx) = mpsc::channel::<u64>();
    let acks = std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if let Ok(seq) = l.trim().parse() {
                let _ = acks_tx.send(seq);
            }
        }
    });
    let (err_tx, err_rx) = mpsc::channel::<String>();
    let errs = std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines() {
            let Ok(l) = l else { break };
            let _ = err_tx.send(l);
        }
    });
    let input: String = (0..n).map(line).collect();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // stdin stays open: the writer goes on running (and archiving) until it is killed.
    let marker = format!("retention halted at {step}");
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match err_rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(l) if l.contains(&marker) => break,
            Ok(l) => seen.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the writer ended before {step}: {seen:?}")
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("retention never reached {step}: {seen:?}");
        }
    }
    // Retention waits in the archiver's thread; appends go on meanwhile. Wait for the first
    // hundred acknowledgements too (a slow start can reach the halt before them), so that the
    // kill always has acknowledged records beyond the retained segments to lose.
    let mut acked = Vec::new();
    while acked.iter().copied().max().unwrap_or(0) < 100 {
        let left = deadline.saturating_duration_since(Instant::now());
        match acks_rx.recv_timeout(left) {
            Ok(seq) => acked.push(seq),
            Err(_) => break, // the assertion after the kill names the count
        }
    }
    // SIGKILL by pid, the process in the middle of retention.
    let r = unsafe_free_kill(pid);
    assert!(r, "kill -9 {pid}");
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed: {status}");
    drop(stdin);
    acks.join().unwrap();
    errs.join().unwrap();
    acked.extend(acks_rx.try_iter());
    Killed { acked }
}

/// `kill -9 PID` through the kill command (no unsafe code in the tests).
fn unsafe_free_kill(pid: u32) -> bool {
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap()
        .success()
}

fn verify_ok(s: &Seaweed, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["verify", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = evident_env(&args, &s.env(), None);
    assert!(out.status.success(), "verify {extra:?}: {}", text(&out));
    text(&out)
}

#[test]
fn a_writer_killed_at_each_step_of_its_retention_leaves_a_trail_that_opens_and_verifies() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    for step in ["tmp-synced", "renamed", "deleted-one", "deleted-all"] {
        let dir = tmp.path().join(step);
        let url = format!("s3://{BUCKET}/trail-retain-{step}");
        let killed = kill_at_retention_step(&s, &dir, &url, step, 600);
        let max_acked = killed.acked.iter().copied().max().unwrap_or(0);
        assert!(max_acked >= 100, "{step}: acknowledged {max_acked}");
        let present = archive::local_segments(&dir).unwrap();
        let retained = dir.join(naming::RETAINED_CHECKPOINT);
        let tmp_cp = dir.join(naming::RETAINED_CHECKPOINT_TMP);
        // The state each step leaves.
        match step {
            "tmp-synced" => {
                assert!(tmp_cp.exists() && !retained.exists(), "{step}");
                assert_eq!(present[0].0, 1, "{step}: nothing deleted");
            }
            "renamed" => {
                assert!(retained.exists(), "{step}");
                assert_eq!(present[0].0, 1, "{step}: nothing deleted yet");
            }
            _ => {
                assert!(retained.exists(), "{step}");
                assert!(present[0].0 > 1, "{step}: the oldest segment is gone");
            }
        }
        // The next writer opens it (finishing an interrupted retention) and appends.
        let more: String = (600..620).map(line).collect();
        let out = evident_env(
            &[
                "append",
                dir.to_str().unwrap(),
                "--segment-bytes",
                "4096",
                "--lease",
                "200",
            ],
            &[],
            Some(more.as_bytes()),
        );
        assert!(out.status.success(), "{step}: reopen: {}", text(&out));
        assert!(!tmp_cp.exists(), "{step}: the temporary checkpoint removed");
        let reopened = archive::local_segments(&dir).unwrap();
        if retained.exists() {
            // Every segment retained.checkpoint vouched away is gone, the rest kept.
            let cp =
                evident_native::Checkpoint::parse(&std::fs::read_to_string(&retained).unwrap())
                    .unwrap();
            assert_eq!(reopened[0].0, cp.seq + 1, "{step}: {reopened:?}");
        } else {
            assert_eq!(reopened[0].0, 1, "{step}");
        }
        // It verifies alone and with its archive; nothing acknowledged was lost.
        verify_ok(&s, &dir, &[]);
        let whole = verify_ok(&s, &dir, &["--archive", &url, "--json"]);
        let v: serde_json::Value = serde_json::from_str(whole.lines().next().unwrap()).unwrap();
        let head = v["head"]["seq"].as_u64().unwrap();
        assert!(
            head >= max_acked + 20,
            "{step}: head {head}, acked {max_acked}"
        );
        assert_eq!(v["ok"], true, "{step}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_trail_keeps_n_local_segments_behind_its_archive() {
    let s = tokio::task::spawn_blocking(|| Seaweed::start_with(&[BUCKET]))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    let url = format!("s3://{BUCKET}/trail-keep");
    let opts = TrailOptions {
        core: Options {
            segment_bytes: 4096,
            ..Options::default()
        },
        archive: Some(
            BackgroundArchive::new(s.target(&url), Duration::from_millis(100)).keep_local(2),
        ),
        ..TrailOptions::default()
    };
    let trail = Trail::open(&dir, opts).await.unwrap();
    for i in 0..1500 {
        trail.append(line(i).into_bytes()).await.unwrap();
    }
    // Retention catches up behind the archive: 2 sealed segments and the active one remain,
    // and only segments the bucket holds were deleted.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st = trail.archive_status().unwrap();
        let local = archive::local_segments(&dir).unwrap();
        if let (3, 0, Some(cp)) = (local.len(), st.pending_segments, st.retained) {
            assert_eq!(local[0].0, cp.seq + 1, "{st:?}");
            assert!(st.retained_segments >= 20, "{st:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{st:?}, {} local", local.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let head = trail.close().await.unwrap();
    assert_eq!(head.seq, 1500);
    let out = tokio::task::spawn_blocking(move || {
        let o = verify_ok(&s, &dir, &["--archive", &url]);
        drop(s);
        o
    })
    .await
    .unwrap();
    assert!(out.contains("intact: records 1..=1500"), "{out}");
}
