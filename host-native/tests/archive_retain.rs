//! Retention behind the archive, against a real S3 server (SeaweedFS started by the tests):
//! only archived, read-back and verified segments are deleted; the whole history verifies from
//! the bucket plus the local trail; a kill -9 during retention leaves a trail that opens
//! (finishing the retention) and verifies.

mod seaweed;

use evident_native::archive;
use evident_native::core::archive::keys;
use evident_native::core::naming;
use seaweed::cli::*;
use seaweed::Seaweed;
use std::path::Path;
use std::process::{Command, Stdio};

fn retain_cli(s: &Seaweed, dir: &Path, url: &str, keep: &str) -> std::process::Output {
    evident_env(
        &[
            "retain",
            dir.to_str().unwrap(),
            "--keep-local",
            keep,
            "--archive",
            url,
            "--json",
        ],
        &s.env(),
        None,
    )
}

fn verify_dir_cli(s: &Seaweed, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["verify", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    evident_env(&args, &s.env(), None)
}

#[test]
fn retain_deletes_archived_segments_and_the_whole_history_verifies() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 500);
    let url = format!("s3://{BUCKET}/retain");
    let before = archive::local_segments(&dir).unwrap();
    // Nothing archived yet: nothing deleted.
    let out = retain_cli(&s, &dir, &url, "1");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(archive::local_segments(&dir).unwrap(), before);
    // A checkpoint early in the trail, later only in the archive.
    let cp50 = evident_native::Checkpoint {
        log_id: log_id_of(&dir),
        seq: 50,
        hash: evident_native::Reader::open(&dir)
            .unwrap()
            .get(50)
            .unwrap()
            .unwrap()
            .hash,
    };
    let cp_file = tmp.path().join("cp50");
    std::fs::write(&cp_file, cp50.to_text()).unwrap();
    assert!(archive_cli(&s, &dir, &url).status.success());
    let out = retain_cli(&s, &dir, &url, "2");
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let after = archive::local_segments(&dir).unwrap();
    assert_eq!(after.len(), 3, "2 sealed kept + the active one: {v}");
    assert_eq!(after[..], before[before.len() - 3..]);
    assert_eq!(v["deleted"].as_array().unwrap().len(), before.len() - 3);
    assert_eq!(v["retained"]["seq"], after[0].0 - 1);
    assert!(dir.join(naming::RETAINED_CHECKPOINT).exists());
    // The local trail verifies (its first records not present), the whole history with the
    // archive, and the early checkpoint is proven by the archive.
    let out = verify_dir_cli(&s, &dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("NOT PROVEN"), "{}", text(&out));
    let out = verify_dir_cli(
        &s,
        &dir,
        &["--archive", &url, "--checkpoint", cp_file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("intact: records 1..="),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("checkpoint proven: seq 50"),
        "{}",
        text(&out)
    );
    // The writer reopens the retained trail and appends; the next rounds go on.
    make_trail(&dir, 500, 300);
    assert!(archive_cli(&s, &dir, &url).status.success());
    let out = retain_cli(&s, &dir, &url, "1");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(archive::local_segments(&dir).unwrap().len(), 2);
    let out = verify_dir_cli(&s, &dir, &["--archive", &url, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    // A local segment that differs from its archived copy breaks the join.
    let t = s.target(&url);
    let log = log_id_of(&dir);
    let h = rt().block_on(archive::load_history(&t, &log)).unwrap().0;
    let first_local = archive::local_segments(&dir).unwrap()[0].0;
    assert!(
        h.segment(first_local).is_some(),
        "the kept sealed segment is archived too"
    );
    let key = t.key(&log, &keys::segment_rel_key(first_local));
    let mut bytes = get_raw(&t, &key);
    let n = bytes.len();
    bytes[n / 2] ^= 0x40;
    put_raw(&t, &key, bytes);
    let out = verify_dir_cli(&s, &dir, &["--archive", &url]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("altered: {}", keys::segment_rel_key(first_local))),
        "{}",
        text(&out)
    );
}

#[test]
fn retain_keeps_what_the_bucket_cannot_vouch_for() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 400);
    let url = format!("s3://{BUCKET}/keep");
    assert!(archive_cli(&s, &dir, &url).status.success());
    let before = archive::local_segments(&dir).unwrap();
    let t = s.target(&url);
    let log = log_id_of(&dir);
    // The oldest archived object replaced in the bucket: retention refuses, deletes nothing.
    let key = t.key(&log, &keys::segment_rel_key(before[0].0));
    let mut bytes = get_raw(&t, &key);
    bytes[300] ^= 1;
    let original = get_raw(&t, &key);
    put_raw(&t, &key, bytes);
    let out = retain_cli(&s, &dir, &url, "1");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains(&key), "{}", text(&out));
    assert_eq!(archive::local_segments(&dir).unwrap(), before);
    assert!(!dir.join(naming::RETAINED_CHECKPOINT).exists());
    put_raw(&t, &key, original);
    // Wrong credentials: a clear error, nothing deleted, the secret never printed.
    let wrong = "wrong-secret-Pq11";
    let mut env = s.env();
    env.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY", wrong.to_string()));
    let out = evident_env(
        &[
            "retain",
            dir.to_str().unwrap(),
            "--keep-local",
            "1",
            "--archive",
            &url,
        ],
        &env,
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("access denied"), "{}", text(&out));
    assert!(!text(&out).contains(wrong));
    assert_eq!(archive::local_segments(&dir).unwrap(), before);
    // The store down: an error, nothing deleted.
    let mut s = s;
    s.stop();
    let out = retain_cli(&s, &dir, &url, "1");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(archive::local_segments(&dir).unwrap(), before);
    s.start();
    // A live writer holds the trail: retention (which deletes files) does not run beside it.
    let mut writer = Command::new(BIN)
        .args(["append", dir.to_str().unwrap(), "--segment-bytes", "4096"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::{BufRead, Write};
        let mut stdin = writer.stdin.take().unwrap();
        writeln!(stdin, "{{\"live\":1}}").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(writer.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let out = retain_cli(&s, &dir, &url, "1");
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("locked"), "{}", text(&out));
        drop(stdin);
    }
    assert!(writer.wait().unwrap().success());
    assert!(archive::local_segments(&dir).unwrap().len() >= before.len());
    // With everything in order it runs.
    let out = retain_cli(&s, &dir, &url, "1");
    assert!(out.status.success(), "{}", text(&out));
    assert!(archive::local_segments(&dir).unwrap().len() < before.len());
}

#[test]
fn a_killed_retention_leaves_a_trail_that_opens_and_verifies() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 600);
    let url = format!("s3://{BUCKET}/killretain");
    assert!(archive_cli(&s, &dir, &url).status.success());
    let before = archive::local_segments(&dir).unwrap();
    assert!(before.len() >= 8);
    let mut child = Command::new(BIN)
        .args([
            "retain",
            dir.to_str().unwrap(),
            "--keep-local",
            "1",
            "--archive",
            &url,
        ])
        .envs(s.env())
        .env("EVIDENT_FAULT_RETAIN_PAUSE_MS", "400")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 once the first segment is gone (more are still to go).
    let first = dir.join(&before[0].1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while first.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mid = archive::local_segments(&dir).unwrap();
    assert!(
        mid.len() < before.len() && mid.len() > 2,
        "killed mid-way: {}",
        mid.len()
    );
    // FORMAT.md, case (c): the first present segment is not vouched for, and verify says so
    // naming it; nothing acknowledged is lost (it is all in the archive).
    let out = verify_dir_cli(&s, &dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains(&mid[0].1), "{}", text(&out));
    // The writer's next open finishes the retention; then the trail verifies, alone and with
    // its archive, and retention completes.
    let out = evident_env(&["recover", dir.to_str().unwrap()], &[], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = verify_dir_cli(&s, &dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let out = verify_dir_cli(&s, &dir, &["--archive", &url]);
    assert!(out.status.success(), "{}", text(&out));
    let out = retain_cli(&s, &dir, &url, "1");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(archive::local_segments(&dir).unwrap().len(), 2);
    let out = verify_dir_cli(&s, &dir, &["--archive", &url]);
    assert!(out.status.success(), "{}", text(&out));
}
