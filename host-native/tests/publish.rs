//! `evident publish` with real processes: a trail signed and cosigned by two witnesses
//! (quorum 2), a witness down, a forked copy of the trail refused by both witnesses (fork
//! evidence, exit 3, no cosignature), and the log's own refusal to sign a fork after its tail
//! is cut or another history is restored.
mod common;

mod witness_support;

use evident_native::core::note::Policy;
use std::path::Path;
use std::process::{Command, Output};
use witness_support::*;

fn ev(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut c = Command::new(BIN)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut i = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        i.write_all(s.as_bytes()).unwrap();
    }
    drop(i);
    c.wait_with_output().unwrap()
}

fn append(dir: &Path, lines: &str) {
    let o = ev(&["append", "--raw", dir.to_str().unwrap()], Some(lines));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn origin(dir: &Path) -> String {
    let o = ev(&["checkpoint", dir.to_str().unwrap(), "--json"], None);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    j["origin"].as_str().unwrap().to_string()
}

struct World {
    dir: tempfile::TempDir,
    trail: std::path::PathBuf,
    log_vkey: String,
    wvkeys: Vec<String>,
    witnesses: Vec<WitnessProc>,
    policy: std::path::PathBuf,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    append(&trail, "one\ntwo\nthree\n");
    let log_vkey = keygen("--origin", &origin(&trail), &dir.path().join("log.key"));
    let mut wvkeys = Vec::new();
    let mut witnesses = Vec::new();
    for i in 0..2 {
        let k = dir.path().join(format!("w{i}.key"));
        wvkeys.push(keygen("--witness", &format!("w{i}.example"), &k));
        witnesses.push(WitnessProc::start(
            dir.path(),
            &k,
            &dir.path().join(format!("state{i}")),
            &[&log_vkey],
            "127.0.0.1:0",
        ));
    }
    let policy = dir.path().join("policy");
    std::fs::write(
        &policy,
        format!(
            "log {log_vkey}\nwitness A {} {}\nwitness B {} {}\ngroup both all A B\nquorum both\n",
            wvkeys[0], witnesses[0].url, wvkeys[1], witnesses[1].url
        ),
    )
    .unwrap();
    World {
        dir,
        trail,
        log_vkey,
        wvkeys,
        witnesses,
        policy,
    }
}

fn publish(w: &World, trail: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "publish",
        trail.to_str().unwrap(),
        "--policy",
        w.policy.to_str().unwrap(),
        "--key",
    ];
    let key = w.dir.path().join("log.key");
    args.push(key.to_str().unwrap());
    args.extend_from_slice(extra);
    ev(&args, None)
}

fn text(o: &Output) -> String {
    format!(
        "{:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn publish_collects_a_quorum_of_two_and_grows() {
    let w = world();
    let o = publish(&w, &w.trail, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let policy = Policy::parse(&std::fs::read_to_string(&w.policy).unwrap()).unwrap();
    let note = std::fs::read(w.trail.join("checkpoint.note")).unwrap();
    let v = policy.verify(&note).unwrap();
    assert_eq!(v.cosigned, ["A", "B"]);
    assert!(String::from_utf8_lossy(&note).contains("\n3\n"));
    // The log grows; the next publish learns each witness's size (409) and sends a proof.
    append(&w.trail, "four\nfive\n");
    let o = publish(&w, &w.trail, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["size"], 5);
    assert_eq!(j["quorum_met"], true);
    policy
        .verify(&std::fs::read(w.trail.join("checkpoint.note")).unwrap())
        .unwrap();
    // Publishing the same head again is fine (same size, same root).
    assert_eq!(publish(&w, &w.trail, &[]).status.code(), Some(0));
    // The key never shows in the output.
    let key = std::fs::read_to_string(w.dir.path().join("log.key")).unwrap();
    let secret = key.trim().splitn(5, '+').nth(4).unwrap();
    assert!(!text(&o).contains(secret));
    let _ = (&w.log_vkey, &w.wvkeys);
}

#[test]
fn a_witness_down_fails_the_quorum_and_names_it() {
    let mut w = world();
    assert_eq!(publish(&w, &w.trail, &[]).status.code(), Some(0));
    let before = std::fs::read(w.trail.join("checkpoint.note")).unwrap();
    w.witnesses[1].kill9();
    append(&w.trail, "four\n");
    let o = publish(&w, &w.trail, &["--timeout", "2000"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("witness A: cosigned") && t.contains("witness B: failed"),
        "{t}"
    );
    assert!(t.contains("quorum not met"), "{t}");
    // checkpoint.note is left as it was (the quorum was not met).
    assert_eq!(
        std::fs::read(w.trail.join("checkpoint.note")).unwrap(),
        before
    );
}

#[test]
fn a_forked_copy_is_refused_by_both_witnesses_and_by_the_log_itself() {
    let w = world();
    let copy = w.dir.path().join("copy");
    common::copy_dir(&w.trail, &copy);
    append(&w.trail, "four\n");
    assert_eq!(publish(&w, &w.trail, &[]).status.code(), Some(0));
    // The copy (same log id, same origin, same key) takes another history.
    append(&copy, "FOUR\nfive\n");
    // The log refuses to sign it with its record of what it signed: exit 3, both roots named.
    let o = publish(&w, &copy, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("refusing to sign a fork") && t.contains("size 4"),
        "{t}"
    );
    // With the key stolen to another host (no record), the witnesses refuse: fork evidence,
    // exit 3, no cosignature, no checkpoint.note in the copy.
    let elsewhere = w.dir.path().join("stolen.signed");
    let o = publish(&w, &copy, &["--record", elsewhere.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert_eq!(t.matches("FORK EVIDENCE from witness").count(), 2, "{t}");
    assert!(!copy.join("checkpoint.note").exists());
    // The true log still publishes.
    append(&w.trail, "five\n");
    assert_eq!(publish(&w, &w.trail, &[]).status.code(), Some(0));
}

#[test]
fn the_log_refuses_to_sign_after_its_tail_is_cut_or_another_history_is_restored() {
    let w = world();
    let backup = w.dir.path().join("backup");
    common::copy_dir(&w.trail, &backup);
    append(&w.trail, "four\nfive\n");
    assert_eq!(publish(&w, &w.trail, &[]).status.code(), Some(0));
    // A backup of size 3 restored in place of the trail: a rollback, refused, roots named.
    let restored = w.dir.path().join("restored");
    common::copy_dir(&backup, &restored);
    let o = publish(&w, &restored, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("size 5") && t.contains("only 3 records"), "{t}");
    // The same backup grown to size 5 with other records: same size, another root.
    append(&restored, "FOUR\nFIVE\n");
    let o = publish(&w, &restored, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("same size, another root"), "{}", text(&o));
    // And grown past it: the consistency from the signed size fails.
    append(&restored, "six\n");
    let o = publish(&w, &restored, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("does not extend it"), "{}", text(&o));
    // The record still says 5: the true trail goes on.
    append(&w.trail, "six\n");
    assert_eq!(publish(&w, &w.trail, &[]).status.code(), Some(0));
}
