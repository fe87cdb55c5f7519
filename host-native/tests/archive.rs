//! Archiving to a real S3 server (SeaweedFS started by the tests, loopback only): round trip,
//! tampering in the bucket, a killed archiver, racing archivers, wrong credentials.

mod seaweed;

use evident_native::archive;
use evident_native::core::archive::keys;
use evident_native::core::LogId;
use seaweed::cli::*;
use seaweed::Seaweed;
use std::process::{Command, Stdio};

#[test]
fn archive_rounds_verify_from_the_bucket_alone_and_list_the_log() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 400);
    assert!(segment_count(&dir) >= 8, "many segments");
    let url = format!("s3://{BUCKET}/hosts");
    let out = archive_cli(&s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sealed = segment_count(&dir) as u64 - 1;
    assert_eq!(
        v["segments"], sealed,
        "every sealed segment, not the active one"
    );
    assert_eq!(v["manifest"], "manifest/00000000000000000001.json");
    // A second round with nothing new writes no manifest.
    let out = archive_cli(&s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["segments"], 0);
    assert!(v["manifest"].is_null());
    // More records, a second round chained to the first.
    make_trail(&dir, 400, 300);
    let out = archive_cli(&s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["manifest"], "manifest/00000000000000000002.json");
    let head_seq = v["head"]["seq"].as_u64().unwrap();
    let log = log_id_of(&dir);
    // A checkpoint inside the archived range is proven from the bucket.
    let cp = evident_native::Checkpoint {
        log_id: log,
        seq: 150,
        hash: evident_native::Reader::open(&dir)
            .unwrap()
            .get(150)
            .unwrap()
            .unwrap()
            .hash,
    };
    let cp_file = tmp.path().join("cp");
    std::fs::write(&cp_file, cp.to_text()).unwrap();
    let out = verify_cli(
        &s,
        &url,
        &log,
        &["--json", "--checkpoint", cp_file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["head"]["seq"], head_seq);
    assert_eq!(v["records"], head_seq);
    assert_eq!(v["checkpoints_verified"], serde_json::json!([150]));
    // The local head is beyond the archive: a checkpoint the bucket does not reach fails.
    let head = evident_env(&["head", dir.to_str().unwrap()], &[], None);
    std::fs::write(&cp_file, &head.stdout).unwrap();
    let out = verify_cli(&s, &url, &log, &["--checkpoint", cp_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // Two logs under one prefix: `archive ls` shows both with their ranges.
    let dir2 = tmp.path().join("trail2");
    make_trail(&dir2, 0, 120);
    assert!(archive_cli(&s, &dir2, &url).status.success());
    let out = evident_env(&["archive", "ls", &url], &s.env(), None);
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listing.contains(&format!("{}  seq 1..={head_seq}", log.to_hex())),
        "{listing}"
    );
    assert!(listing.contains(&log_id_of(&dir2).to_hex()), "{listing}");
    // The same through the Rust API.
    let t = s.target(&url);
    let r = rt()
        .block_on(archive::verify_bucket(&t, &log, vec![], &mut |_, _| {}))
        .unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.head.unwrap().seq, head_seq);
    // The last manifest carries the C2SP tree checkpoint at the archived head, and the root
    // recomputed from the bucket's records matched it: the same tree `evident prove` shows
    // for that size from the local trail.
    let tree = r.tree.expect("the manifest's tree checkpoint was proven");
    let bundle = evident_env(
        &[
            "prove",
            dir.to_str().unwrap(),
            "--seq",
            "1",
            "--size",
            &head_seq.to_string(),
        ],
        &[],
        None,
    );
    assert!(bundle.status.success(), "{}", text(&bundle));
    let local = evident_native::core::tree::check_bundle(&bundle.stdout).unwrap();
    assert_eq!(
        (tree.origin.as_str(), tree.size, tree.root),
        (local.origin.as_str(), head_seq, local.root)
    );
    assert_eq!(tree.origin, format!("evident/{}", log.to_hex()));
}

/// Archives a fresh trail; returns (dir guard, dir, url, log id, target).
fn archived(s: &Seaweed, prefix: &str) -> (tempfile::TempDir, std::path::PathBuf, String, LogId) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 300);
    let url = format!("s3://{BUCKET}/{prefix}");
    let out = archive_cli(s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    make_trail(&dir, 300, 200);
    let out = archive_cli(s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    let log = log_id_of(&dir);
    (tmp, dir, url, log)
}

#[test]
fn tampering_in_the_bucket_is_named_by_key_and_seq() {
    let s = Seaweed::start_with(&[BUCKET]);
    // An object replaced (same size, one byte changed): altered, named by key and seq.
    let (_g, _dir, url, log) = archived(&s, "replaced");
    let t = s.target(&url);
    let h = rt().block_on(archive::load_history(&t, &log)).unwrap().0;
    let (_, victim) = h.segments[2].clone();
    let key = t.key(&log, &victim.key);
    let mut bytes = get_raw(&t, &key);
    bytes[200] ^= 1;
    put_raw(&t, &key, bytes);
    let out = verify_cli(&s, &url, &log, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let o = text(&out);
    assert!(
        o.contains(&format!(
            "altered: {} (seq {}..={})",
            victim.key, victim.first_seq, victim.last_seq
        )),
        "{o}"
    );

    // An object deleted: missing, named by key and seq.
    let (_g, _dir, url, log) = archived(&s, "deleted");
    let t = s.target(&url);
    let h = rt().block_on(archive::load_history(&t, &log)).unwrap().0;
    let (_, victim) = h.segments[1].clone();
    delete_raw(&t, &t.key(&log, &victim.key));
    let out = verify_cli(&s, &url, &log, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let o = text(&out);
    assert!(
        o.contains(&format!(
            "missing: {} (seq {}..={})",
            victim.key, victim.first_seq, victim.last_seq
        )),
        "{o}"
    );

    // A manifest edited (a segment's recorded hash changed along with the object): the next
    // manifest no longer chains to it.
    let (_g, dir, url, log) = archived(&s, "edited");
    let t = s.target(&url);
    let m1 = t.key(&log, &keys::manifest_rel_key(1));
    let edited = String::from_utf8(get_raw(&t, &m1))
        .unwrap()
        .replacen("\"size\"", "\"size\" ", 1);
    put_raw(&t, &m1, edited.into_bytes());
    let out = verify_cli(&s, &url, &log, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("manifest/00000000000000000002.json does not chain"),
        "{}",
        text(&out)
    );
    // The archiver refuses to extend a refused chain.
    make_trail(&dir, 500, 100);
    let out = archive_cli(&s, &dir, &url);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // A manifest rolled back: round 2's object replaced by round 1's content.
    let (_g, _dir, url, log) = archived(&s, "rolledback");
    let t = s.target(&url);
    let m1 = get_raw(&t, &t.key(&log, &keys::manifest_rel_key(1)));
    put_raw(&t, &t.key(&log, &keys::manifest_rel_key(2)), m1);
    let out = verify_cli(&s, &url, &log, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("replaced or rolled back"),
        "{}",
        text(&out)
    );

    // A manifest removed from the middle of the chain: a hole.
    let (_g, dir, url, log) = archived(&s, "holed");
    make_trail(&dir, 500, 200);
    assert!(archive_cli(&s, &dir, &url).status.success());
    let t = s.target(&url);
    delete_raw(&t, &t.key(&log, &keys::manifest_rel_key(2)));
    let out = verify_cli(&s, &url, &log, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("manifest/00000000000000000002.json is missing"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_object_that_differs_is_a_tamper_alarm_and_is_never_overwritten() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 200);
    let url = format!("s3://{BUCKET}/planted");
    let log = log_id_of(&dir);
    let t = s.target(&url);
    // Someone planted an object at the key of segment 2 (not yet archived).
    let segs = archive::local_segments(&dir).unwrap();
    let key = t.key(&log, &keys::segment_rel_key(segs[1].0));
    put_raw(&t, &key, b"planted".to_vec());
    let out = archive_cli(&s, &dir, &url);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("tamper alarm: {key}")),
        "{}",
        text(&out)
    );
    assert_eq!(get_raw(&t, &key), b"planted", "never overwritten");
    // No manifest was written: nothing unverified is referenced.
    let h = rt().block_on(archive::load_history(&t, &log)).unwrap().0;
    assert!(h.manifests.is_empty());
}

#[test]
fn a_killed_archiver_leaves_nothing_half_referenced_and_the_next_round_completes() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 400);
    let url = format!("s3://{BUCKET}/killed");
    let log = log_id_of(&dir);
    let t = s.target(&url);
    let mut child = Command::new(BIN)
        .args(["archive", dir.to_str().unwrap(), "--to", &url])
        .envs(s.env())
        .env("EVIDENT_FAULT_ARCHIVE_PAUSE_MS", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some segments are uploaded, then kill -9 before the manifest.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let listing = rt().block_on(t.list_log(&log)).unwrap();
        if listing.len() >= 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no upload started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let listing = rt().block_on(t.list_log(&log)).unwrap();
    assert!(
        listing.iter().all(|(k, _)| k.starts_with("seg/")),
        "{listing:?}"
    );
    // Verify: nothing is referenced, so nothing is archived; the uploaded objects are extra.
    let out = verify_cli(&s, &url, &log, &["--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // The next round re-finds the uploaded segments equal and lists them.
    let out = archive_cli(&s, &dir, &url);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["already_there"].as_u64().unwrap() >= 2, "{v}");
    let out = verify_cli(&s, &url, &log, &["--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["extra"], serde_json::json!([]));
}

#[test]
fn racing_archivers_keep_one_copy_and_one_chain() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 600);
    let url = format!("s3://{BUCKET}/race");
    let log = log_id_of(&dir);
    let spawn = || {
        Command::new(BIN)
            .args(["archive", dir.to_str().unwrap(), "--to", &url, "--json"])
            .envs(s.env())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let t = s.target(&url);
    let (h, listing) = rt().block_on(archive::load_history(&t, &log)).unwrap();
    let sealed = segment_count(&dir) - 1;
    assert_eq!(h.segments.len(), sealed, "each segment listed once");
    let seg_objects = listing
        .iter()
        .filter(|(k, _)| k.starts_with("seg/"))
        .count();
    assert_eq!(seg_objects, sealed, "one object per segment");
    let out = verify_cli(&s, &url, &log, &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn wrong_credentials_are_a_clear_error_that_never_prints_the_secret() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    make_trail(&dir, 0, 200);
    let before = segment_count(&dir);
    let url = format!("s3://{BUCKET}/creds");
    let wrong = "wrong-secret-Kx93";
    let mut env = s.env();
    env.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY", wrong.to_string()));
    let out = evident_env(
        &["archive", dir.to_str().unwrap(), "--to", &url],
        &env,
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let o = text(&out);
    assert!(
        o.contains("403") || o.contains("SignatureDoesNotMatch"),
        "{o}"
    );
    assert!(
        o.contains("AWS_SECRET_ACCESS_KEY"),
        "the error says what to check: {o}"
    );
    assert!(
        !o.contains(wrong) && !o.contains(seaweed::SECRET_KEY),
        "{o}"
    );
    let log = log_id_of(&dir);
    let out = evident_env(&["verify", &format!("{url}/{}", log.to_hex())], &env, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains(wrong));
    assert_eq!(segment_count(&dir), before, "nothing deleted locally");
    // The store stopped: a clear error, and the trail is untouched.
    let mut s = s;
    s.stop();
    let out = archive_cli(&s, &dir, &url);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(segment_count(&dir), before);
    s.start();
    assert!(archive_cli(&s, &dir, &url).status.success());
}
