//! The README's signing quick start with real processes: keygen, two `evident witness serve`
//! on loopback, `append --key`, `publish`, `prove`, then `check-proof --policy` and `verify
//! --policy` accept the cosigned checkpoint, and refuse (exit 3) a policy it does not satisfy,
//! a bundle whose cosignature was changed, and an unsigned bundle. Without a policy the
//! signatures present are listed, unchecked.

mod witness_support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use witness_support::*;

fn ev(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut c = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut i = c.stdin.take().unwrap();
    if let Some(s) = stdin {
        i.write_all(s.as_bytes()).unwrap();
    }
    drop(i);
    c.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `append --raw --key` of `lines`, then `publish` to the policy's witnesses (both must work).
fn append_and_publish(trail: &Path, log_key: &Path, policy: &Path, lines: &str) {
    let o = ev(
        &["append", "--raw", "--key", s(log_key), s(trail)],
        Some(lines),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ev(
        &[
            "publish",
            s(trail),
            "--policy",
            s(policy),
            "--key",
            s(log_key),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn quick_start_bundle_is_checked_against_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log_key = d.join("log.key");
    let log_vkey = keygen("--origin", "example.com/agent-audit", &log_key);
    let mut wvkeys = Vec::new();
    let mut witnesses = Vec::new();
    for i in 0..2 {
        let k = d.join(format!("w{i}.key"));
        wvkeys.push(keygen("--witness", &format!("w{i}.example"), &k));
        witnesses.push(WitnessProc::start(
            d,
            &k,
            &d.join(format!("state{i}")),
            &[&log_vkey],
            "127.0.0.1:0",
        ));
    }
    let policy = d.join("policy");
    std::fs::write(
        &policy,
        format!(
            "log {log_vkey}\nwitness A {} {}\nwitness B {} {}\ngroup both all A B\nquorum both\n",
            wvkeys[0], witnesses[0].url, wvkeys[1], witnesses[1].url
        ),
    )
    .unwrap();
    let trail = d.join("trail");
    append_and_publish(&trail, &log_key, &policy, "one\ntwo\nthree\n");
    // A reopening writer with the key keeps the cosigned note of the same head.
    let o = ev(&["recover", "--key", s(&log_key), s(&trail)], None);
    assert!(o.status.success(), "{}", text(&o));
    let bundle = d.join("two.proof");
    let o = ev(&["prove", s(&trail), "--seq", "2", "-o", s(&bundle)], None);
    assert!(o.status.success(), "{}", text(&o));

    let o = ev(
        &["check-proof", s(&bundle), "--policy", s(&policy), "--json"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["signatures"]["policy"]["ok"], true, "{j}");
    assert_eq!(
        j["signatures"]["policy"]["cosigned"],
        serde_json::json!(["A", "B"])
    );
    let sigs = j["signatures"]["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 3);
    assert!(sigs.iter().all(|l| l["verified"] == true), "{j}");

    // Without a policy: listed, unchecked.
    let o = ev(&["check-proof", s(&bundle), "--json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sigs = j["signatures"]["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 3);
    assert!(sigs.iter().all(|l| l["verified"].is_null()), "{j}");
    assert_eq!(
        sigs.iter()
            .filter(|l| l["kind"] == "cosignature/v1")
            .count(),
        2
    );

    let o = ev(&["verify", s(&trail), "--policy", s(&policy)], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("policy: satisfied, cosigned by A, B"),
        "{}",
        text(&o)
    );

    // A policy asking for a third witness that never cosigned: exit 3, naming who did.
    let extra = d.join("w2.key");
    let w2 = keygen("--witness", "w2.example", &extra);
    let strict = d.join("strict");
    std::fs::write(
        &strict,
        format!(
            "log {log_vkey}\nwitness A {}\nwitness B {}\nwitness C {w2}\ngroup all3 all A B C\nquorum all3\n",
            wvkeys[0], wvkeys[1]
        ),
    )
    .unwrap();
    for args in [
        vec!["check-proof", s(&bundle), "--policy", s(&strict)],
        vec!["verify", s(&trail), "--policy", s(&strict)],
    ] {
        let o = ev(&args, None);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        assert!(text(&o).contains("only A, B cosigned"), "{}", text(&o));
    }

    // One byte of a cosignature changed: refused.
    let b = std::fs::read_to_string(&bundle).unwrap();
    let last = b.trim_end().rsplit_once(' ').unwrap().1.to_string();
    let mut changed = last.clone().into_bytes();
    changed[10] = if changed[10] == b'A' { b'B' } else { b'A' };
    let forged = d.join("forged.proof");
    std::fs::write(
        &forged,
        b.replace(&last, std::str::from_utf8(&changed).unwrap()),
    )
    .unwrap();
    let o = ev(&["check-proof", s(&forged), "--policy", s(&policy)], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("does not verify"), "{}", text(&o));

    // An unsigned bundle (against a size the note does not state) fails the policy.
    let unsigned = d.join("unsigned.proof");
    let o = ev(
        &[
            "prove",
            s(&trail),
            "--seq",
            "2",
            "--size",
            "2",
            "-o",
            s(&unsigned),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ev(&["check-proof", s(&unsigned), "--policy", s(&policy)], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // A consistency proof from the size-3 checkpoint to the next cosigned one carries that
    // note's signatures, so the policy accepts it; one to the unsigned head would not.
    let old = d.join("old.checkpoint");
    let o = ev(&["checkpoint", s(&trail)], None);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(&old, &o.stdout).unwrap();
    append_and_publish(&trail, &log_key, &policy, "four\nfive\n");
    let extends = d.join("extends.proof");
    let o = ev(
        &[
            "prove",
            s(&trail),
            "--consistency",
            s(&old),
            "-o",
            s(&extends),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = ev(
        &["check-proof", s(&extends), "--policy", s(&policy), "--json"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["proof"], "consistency", "{j}");
    assert_eq!(
        (j["old_size"].as_u64(), j["new_size"].as_u64()),
        (Some(3), Some(5))
    );
    assert_eq!(j["signatures"]["policy"]["ok"], true, "{j}");
}
