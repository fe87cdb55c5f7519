//! Background publishing from the Rust trail to two real `evident witness serve` processes on
//! loopback (quorum 2): appends go on while a witness is down (its error is in the status,
//! the cosigned size stays behind), and publishing catches up when it is back.

mod witness_support;

use evident_native::core::note::{KeyKind, Policy};
use evident_native::core::witness::CheckpointBody;
use evident_native::signer::{Publishing, Signer};
use evident_native::{Trail, TrailOptions};
use std::path::Path;
use std::time::{Duration, Instant};
use witness_support::*;

fn cosigned_note_size(dir: &Path, policy: &Policy) -> Option<u64> {
    let bytes = std::fs::read(dir.join("checkpoint.note")).ok()?;
    let v = policy.verify(&bytes).ok()?;
    Some(CheckpointBody::parse(v.opened.note.text()).unwrap().size)
}

async fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_go_on_while_a_witness_is_down_and_publishing_catches_up() {
    let d = tempfile::tempdir().unwrap();
    let key = evident_native::keys::generate("example.com/bg", KeyKind::Ed25519).unwrap();
    let log_vkey = key.verifier().to_string();
    let mut wkeys = Vec::new();
    let mut witnesses = Vec::new();
    for i in 0..2 {
        let k = d.path().join(format!("w{i}.key"));
        wkeys.push(keygen("--witness", &format!("w{i}.example"), &k));
        witnesses.push(WitnessProc::start(
            d.path(),
            &k,
            &d.path().join(format!("state{i}")),
            &[&log_vkey],
            "127.0.0.1:0",
        ));
    }
    let policy_text = format!(
        "log {log_vkey}\nwitness A {} {}\nwitness B {} {}\ngroup both all A B\nquorum both\n",
        wkeys[0], witnesses[0].url, wkeys[1], witnesses[1].url
    );
    let policy = Policy::parse(&policy_text).unwrap();
    let signer = Signer::new(key, d.path().join("log.key.signed"))
        .unwrap()
        .with_interval(Duration::from_millis(100))
        .with_publishing(Publishing::new(policy.clone()).with_interval(Duration::from_millis(200)));
    let trail_dir = d.path().join("trail");
    let trail = Trail::open(
        &trail_dir,
        TrailOptions {
            signer: Some(signer),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for i in 0..5 {
        trail.append(format!("r{i}").into_bytes()).await.unwrap();
    }
    wait_until("size 5 cosigned by both", Duration::from_secs(15), || {
        trail.publish_status().unwrap().cosigned_size == Some(5)
    })
    .await;
    assert_eq!(cosigned_note_size(&trail_dir, &policy), Some(5));

    // B goes down: appends go on, and are acknowledged as fast as before.
    let b_addr = witnesses[1].url.trim_start_matches("http://").to_string();
    witnesses[1].kill9();
    let start = Instant::now();
    for i in 5..10 {
        trail.append(format!("r{i}").into_bytes()).await.unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "appends did not wait for witnesses"
    );
    wait_until(
        "A cosigns 10, B's error shows",
        Duration::from_secs(15),
        || {
            let s = trail.publish_status().unwrap();
            s.witnesses[0].cosigned_size == Some(10) && s.witnesses[1].last_error.is_some()
        },
    )
    .await;
    let s = trail.publish_status().unwrap();
    assert_eq!(s.cosigned_size, Some(5), "no quorum without B: {s:?}");
    assert!(!s.fork_evidence());
    assert_eq!(s.witnesses[1].cosigned_size, Some(5));
    // checkpoint.note is the log-signed note of 10 (no quorum): the policy refuses it.
    assert_eq!(cosigned_note_size(&trail_dir, &policy), None);

    // B is back on its address with its state: publishing catches up.
    witnesses[1] = WitnessProc::start(
        d.path(),
        &d.path().join("w1.key"),
        &d.path().join("state1"),
        &[&log_vkey],
        &b_addr,
    );
    wait_until("size 10 cosigned by both", Duration::from_secs(30), || {
        trail.publish_status().unwrap().cosigned_size == Some(10)
    })
    .await;
    let s = trail.publish_status().unwrap();
    assert_eq!(s.witnesses[1].last_error, None, "{s:?}");
    assert_eq!(cosigned_note_size(&trail_dir, &policy), Some(10));
    trail.close().await.unwrap();
    // Closing signs the same head again: the cosigned note is kept.
    assert_eq!(cosigned_note_size(&trail_dir, &policy), Some(10));
}
