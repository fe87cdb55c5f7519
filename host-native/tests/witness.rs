//! The witness with real processes on loopback: `evident keygen`, `evident witness serve`
//! answering every tlog-witness case, forks and rollbacks refused by two witnesses, the
//! compare-and-swap under concurrent requests, state kept across restarts and kill -9, and
//! the offline `evident witness cosign`.

mod witness_support;

use evident_native::core::note::{KeyKind, Policy, VerifierKey};
use evident_native::keys::load_key_file;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use witness_support::*;

const ORIGIN: &str = "example.com/witnessed-log";

struct Setup {
    dir: tempfile::TempDir,
    wkeys: Vec<std::path::PathBuf>,
    wvkeys: Vec<String>,
    log_vkey: String,
}

fn setup(witnesses: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut wkeys = Vec::new();
    let mut wvkeys = Vec::new();
    for i in 0..witnesses {
        let p = dir.path().join(format!("w{i}.key"));
        wvkeys.push(keygen("--witness", &format!("w{i}.example"), &p));
        wkeys.push(p);
    }
    Setup {
        log_vkey: log_key(ORIGIN, 1).verifier().to_string(),
        dir,
        wkeys,
        wvkeys,
    }
}

fn start(s: &Setup, i: usize) -> WitnessProc {
    let state = s.dir.path().join(format!("state{i}"));
    WitnessProc::start(
        s.dir.path(),
        &s.wkeys[i],
        &state,
        &[&s.log_vkey],
        "127.0.0.1:0",
    )
}

#[test]
fn keygen_writes_0600_refuses_overwrite_and_loading_refuses_loose_modes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log.key");
    let vkey = keygen("--origin", ORIGIN, &p);
    let v = VerifierKey::parse(&vkey).unwrap();
    assert_eq!((v.name(), v.kind()), (ORIGIN, KeyKind::Ed25519));
    let meta = std::fs::metadata(&p).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.starts_with(&format!("PRIVATE+KEY+{ORIGIN}+")));
    let secret = text.trim().splitn(5, '+').nth(4).unwrap().to_string();
    assert!(!vkey.contains(&secret));
    let loaded = load_key_file(&p, KeyKind::Ed25519).unwrap();
    assert_eq!(loaded.verifier().to_string(), vkey);
    // The wrong kind is refused.
    assert!(load_key_file(&p, KeyKind::CosignatureV1).is_err());
    // Overwrite refused, file unchanged.
    let o = Command::new(BIN)
        .args(["keygen", "--origin", ORIGIN, "-o", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    // --json prints the verifier key only.
    let pj = dir.path().join("w.key");
    let o = Command::new(BIN)
        .args([
            "keygen",
            "--witness",
            "w.example",
            "-o",
            pj.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["kind"], "witness");
    let wsecret = std::fs::read_to_string(&pj)
        .unwrap()
        .trim()
        .splitn(5, '+')
        .nth(4)
        .unwrap()
        .to_string();
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&wsecret));
    // Group- or other-accessible key files are refused with a clear error that does not
    // show the key.
    for mode in [0o640, 0o604, 0o660, 0o602] {
        std::fs::set_permissions(&pj, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = load_key_file(&pj, KeyKind::CosignatureV1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("group or others") && e.contains("chmod 600"),
            "{e}"
        );
        let o = Command::new(BIN)
            .args(["witness", "serve", "--key", pj.to_str().unwrap(), "--state"])
            .arg(dir.path().join("st"))
            .args(["--log", &vkey, "--addr", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("group or others"), "{err}");
        assert!(!err.contains(&wsecret));
    }
    // A damaged key file: an error naming the file, not quoting it.
    std::fs::set_permissions(&pj, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&pj, format!("PRIVATE+KEY+w.example+00000000+{wsecret}\n")).unwrap();
    let e = load_key_file(&pj, KeyKind::CosignatureV1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("w.key") && !e.contains(&wsecret), "{e}");
}

#[test]
fn two_witnesses_cosign_a_growing_log_and_refuse_forks_and_rollbacks() {
    let s = setup(2);
    let w = [start(&s, 0), start(&s, 1)];
    let mut log = MemLog::new(log_key(ORIGIN, 1), 0);
    log.grow(10);
    let mut note = log.checkpoint();
    for wp in &w {
        let a = post(&wp.url, log.request(0));
        assert_eq!(a.status, 200, "{}", body_str(&a));
        note.extend_from_slice(&a.body);
    }
    // Quorum 2 of the two witnesses holds on the cosigned note.
    let policy = Policy::parse(&format!(
        "log {}\nwitness A {}\nwitness B {}\ngroup both all A B\nquorum both\n",
        s.log_vkey, s.wvkeys[0], s.wvkeys[1]
    ))
    .unwrap();
    assert_eq!(policy.verify(&note).unwrap().cosigned, ["A", "B"]);
    // Grows with a consistency proof.
    log.grow(7);
    for wp in &w {
        let a = post(&wp.url, log.request(10));
        assert_eq!(a.status, 200, "{}", body_str(&a));
    }
    // A second log with the same key and origin but another history: refused by both, at the
    // same size and at a larger one, never cosigned.
    let mut fork = MemLog::new(log_key(ORIGIN, 1), 9);
    fork.grow(17);
    for wp in &w {
        let a = post(&wp.url, fork.request(17));
        assert_eq!(a.status, 422, "{}", body_str(&a));
        assert!(body_str(&a).contains("fork"), "{}", body_str(&a));
    }
    fork.grow(5);
    for wp in &w {
        let a = post(&wp.url, fork.request(17));
        assert_eq!(a.status, 422, "{}", body_str(&a));
        // A client that does not know the size learns it from the 409.
        let a = post(&wp.url, fork.request(0));
        assert_eq!(a.status, 409);
        assert_eq!(a.content_type.as_deref(), Some("text/x.tlog.size"));
        assert_eq!(body_str(&a), "17\n");
    }
    // A rolled-back log (older size): refused.
    let mut old = MemLog::new(log_key(ORIGIN, 1), 0);
    old.grow(12);
    for wp in &w {
        assert_eq!(post(&wp.url, old.request(12)).status, 409);
        let mut r = evident_native::core::witness::AddCheckpoint::parse(&old.request(12)).unwrap();
        r.old = 17;
        assert_eq!(post(&wp.url, r.to_bytes()).status, 400);
    }
    // The witnesses still hold 17 with the true root: the true log goes on.
    log.grow(1);
    for wp in &w {
        assert_eq!(post(&wp.url, log.request(17)).status, 200);
    }
}

#[test]
fn every_refusal_over_http() {
    let s = setup(1);
    let w = start(&s, 0);
    let mut log = MemLog::new(log_key(ORIGIN, 1), 0);
    log.grow(6);
    assert_eq!(post(&w.url, log.request(0)).status, 200);
    log.grow(6);
    // 422: a bad proof.
    let mut bad = evident_native::core::witness::AddCheckpoint::parse(&log.request(6)).unwrap();
    bad.proof[0].0[0] ^= 1;
    let a = post(&w.url, bad.to_bytes());
    assert_eq!(a.status, 422, "{}", body_str(&a));
    // 403: a bad signature (the right key, a changed body), and a key the witness does not trust.
    let req = String::from_utf8(log.request(6))
        .unwrap()
        .replacen("\n12\n", "\n13\n", 1);
    assert_eq!(post(&w.url, req.into_bytes()).status, 403);
    let impostor = MemLog {
        key: log_key(ORIGIN, 2),
        tree: log.tree.clone(),
        history: 0,
    };
    assert_eq!(post(&w.url, impostor.request(6)).status, 403);
    // 404: unknown origin.
    let mut other = MemLog::new(log_key("example.com/unknown", 1), 0);
    other.grow(1);
    assert_eq!(post(&w.url, other.request(0)).status, 404);
    // 400: malformed, with a reason.
    let a = post(&w.url, b"old x\n\n".to_vec());
    assert_eq!(a.status, 400);
    assert!(body_str(&a).contains("old"), "{}", body_str(&a));
    // 413: too large a body.
    let a = post(
        &w.url,
        vec![b'a'; evident_native::core::witness::MAX_REQUEST_LEN + 10],
    );
    assert_eq!(a.status, 413);
    // After all that, the state is still 6 and the good request passes.
    assert_eq!(post(&w.url, log.request(6)).status, 200);
    // Other paths and methods.
    let stderr = std::fs::read_to_string(&w.stderr_path).unwrap();
    assert!(stderr.contains("422") && stderr.contains("403") && stderr.contains("404"));
    let wsecret = std::fs::read_to_string(&s.wkeys[0])
        .unwrap()
        .trim()
        .splitn(5, '+')
        .nth(4)
        .unwrap()
        .to_string();
    assert!(!stderr.contains(&wsecret));
}

#[test]
fn concurrent_requests_are_serialized() {
    let s = setup(1);
    let w = start(&s, 0);
    let mut log = MemLog::new(log_key(ORIGIN, 1), 0);
    log.grow(5);
    assert_eq!(post(&w.url, log.request(0)).status, 200);
    // Twelve requests from size 5 to sizes 6..=17, all at once: exactly one can win; the others
    // must see the new size (409), none may roll the state back.
    let mut bodies = Vec::new();
    for _ in 0..12 {
        log.grow(1);
        bodies.push(log.request(5));
    }
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = bodies
            .into_iter()
            .map(|b| {
                let url = w.url.clone();
                sc.spawn(move || post(&url, b).status)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        11,
        "{statuses:?}"
    );
}

/// The stored size, learned from a 409 (old size 0 is never right once a log is cosigned).
fn stored_size(url: &str, log: &MemLog) -> u64 {
    let a = post(url, log.request(0));
    if a.status == 200 {
        return 0; // never cosigned before (and now it is, at the log's size)
    }
    assert_eq!(a.status, 409, "{}", body_str(&a));
    body_str(&a).trim().parse().unwrap()
}

#[test]
fn state_survives_restart_and_kill_9_mid_request() {
    let s = setup(1);
    let state = s.dir.path().join("state0");
    let mut log = MemLog::new(log_key(ORIGIN, 1), 0);
    log.grow(3);
    {
        let w = start(&s, 0);
        assert_eq!(post(&w.url, log.request(0)).status, 200);
    }
    // Restart: the witness remembers size 3.
    {
        let w = start(&s, 0);
        assert_eq!(stored_size(&w.url, &log), 3);
    }
    // Rounds: a client thread keeps growing the log by one and submitting; the witness is
    // killed with SIGKILL after a varying delay; on restart its size is at least the last one
    // acknowledged, at most the last one sent, and the log continues from it with a proof.
    let mut known = 3u64;
    for round in 0..8u64 {
        let mut w = start(&s, 0);
        let url = w.url.clone();
        let start_size = log.tree.size();
        assert_eq!(start_size, known);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (last_acked, last_sent) = std::thread::scope(|sc| {
            let client = sc.spawn(|| {
                let mut l = MemLog {
                    key: log.key.clone(),
                    tree: log.tree.clone(),
                    history: 0,
                };
                let (mut acked, mut sent, mut old) = (known, known, known);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && l.tree.size() < known + 400
                {
                    l.grow(1);
                    sent = l.tree.size();
                    match rt.block_on(evident_native::witness::client::add_checkpoint(
                        &url,
                        l.request(old),
                        std::time::Duration::from_secs(5),
                    )) {
                        Ok(a) if a.status == 200 => {
                            acked = sent;
                            old = sent;
                        }
                        Ok(a) => panic!("unexpected {} {}", a.status, body_str(&a)),
                        Err(_) => break, // killed
                    }
                }
                (acked, sent)
            });
            std::thread::sleep(std::time::Duration::from_millis(20 + round * 17));
            w.kill9();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            client.join().unwrap()
        });
        // No temp file may be mistaken for state; the state file is whole.
        let w = start(&s, 0);
        let size = stored_size(&w.url, &log);
        assert!(
            size >= last_acked && size <= last_sent,
            "round {round}: stored {size}, acknowledged {last_acked}, sent {last_sent}"
        );
        // Consistent with what it cosigned: the same history continues from that size.
        log.grow(size - log.tree.size());
        log.grow(1);
        let a = post(&w.url, log.request(size));
        assert_eq!(a.status, 200, "round {round}: {}", body_str(&a));
        known = log.tree.size();
        drop(w);
    }
    assert!(state.join("LOCK").exists());
}

#[test]
fn offline_cosign_from_a_request_file() {
    let s = setup(1);
    let state = s.dir.path().join("offline-state");
    let mut log = MemLog::new(log_key(ORIGIN, 1), 0);
    log.grow(4);
    let req = s.dir.path().join("req");
    std::fs::write(&req, log.request(0)).unwrap();
    let out = s.dir.path().join("answer");
    let run = |req: &Path| {
        Command::new(BIN)
            .args(["witness", "cosign", "--key", s.wkeys[0].to_str().unwrap()])
            .args(["--state", state.to_str().unwrap(), "--log", &s.log_vkey])
            .args([
                "--request",
                req.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let o = run(&req);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut note = log.checkpoint();
    note.extend_from_slice(&std::fs::read(&out).unwrap());
    let policy = Policy::parse(&format!(
        "log {}\nwitness A {}\nquorum A\n",
        s.log_vkey, s.wvkeys[0]
    ))
    .unwrap();
    policy.verify(&note).unwrap();
    // The same request again is now a conflict: refused, exit 1, naming the size it holds.
    log.grow(1);
    std::fs::write(&req, log.request(0)).unwrap();
    let o = run(&req);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("409"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The state is the HTTP server's: a server on the same directory continues from 4.
    let w = WitnessProc::start(
        s.dir.path(),
        &s.wkeys[0],
        &state,
        &[&s.log_vkey],
        "127.0.0.1:0",
    );
    assert_eq!(post(&w.url, log.request(4)).status, 200);
}

#[test]
fn a_damaged_state_file_is_refused_not_taken_for_never_cosigned() {
    let s = setup(1);
    let state = s.dir.path().join("state0");
    let mut log = MemLog::new(log_key(ORIGIN, 1), 0);
    log.grow(4);
    {
        let w = start(&s, 0);
        assert_eq!(post(&w.url, log.request(0)).status, 200);
    }
    let file = state.join(evident_native::core::witness::state_file_name(ORIGIN));
    let mut bytes = std::fs::read(&file).unwrap();
    // Change the size line: the witness's own cosignature no longer verifies.
    let pos = bytes.windows(3).position(|w| w == b"\n4\n").unwrap();
    bytes[pos + 1] = b'2';
    std::fs::write(&file, &bytes).unwrap();
    let w = start(&s, 0);
    let mut smaller = MemLog::new(log_key(ORIGIN, 1), 0);
    smaller.grow(2);
    for body in [smaller.request(0), smaller.request(2), log.request(0)] {
        let a = post(&w.url, body);
        assert_eq!(a.status, 500, "{}", body_str(&a));
        assert!(body_str(&a).contains("cosignature"), "{}", body_str(&a));
    }
    // Deleting the file is the operator's explicit act; a second server on the same state
    // directory is refused meanwhile.
    let o = std::process::Command::new(BIN)
        .args(["witness", "serve", "--key", s.wkeys[0].to_str().unwrap()])
        .args([
            "--state",
            state.to_str().unwrap(),
            "--log",
            &s.log_vkey,
            "--addr",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("another witness process"));
}
