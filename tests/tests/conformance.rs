//! The native adapter and the WASI component write the same trail, byte for byte, read and
//! extend each other's trails, report the same damage the same way, and a component killed in
//! the middle of a batch leaves a trail the native adapter recovers.

use evident_core::LogId;
use evident_native::fs_exec::verify_dir;
use evident_native::{Options, Trail, TrailOptions};
use evident_tests::trail_files;
use evident_tests::wasm::{default_options, Error as WitError, Instance, OpenOptions};
use std::path::Path;

const LOG_ID: &str = "0123456789abcdef0123456789abcdef";
const T0: u64 = 1_700_000_000_000_000_000;

fn payload(i: u64) -> Vec<u8> {
    // Sizes from 0 to ~700 bytes, so frames pad differently and segments rotate unevenly.
    let n = (i * 37 % 700) as usize;
    let mut p = format!("{{\"kind\":\"custom\",\"n\":{i},\"pad\":\"").into_bytes();
    p.extend(std::iter::repeat_n(b'x', n));
    p.extend_from_slice(b"\"}");
    p
}

fn core_options() -> Options {
    Options {
        segment_bytes: 8192,
        ..Options::default()
    }
}

fn wit_options() -> OpenOptions {
    OpenOptions {
        segment_bytes: Some(8192),
        log_id: Some(LOG_ID.into()),
        ..default_options()
    }
}

/// Runs a native-adapter future to completion. The wasm calls stay outside any tokio runtime:
/// wasmtime-wasi's synchronous bindings run their own.
fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn native_open(dir: &Path) -> Trail {
    let opts = TrailOptions {
        core: core_options(),
        log_id: Some(LogId::from_hex(LOG_ID).unwrap()),
        ..TrailOptions::default()
    };
    Trail::open(dir, opts).await.expect("native open")
}

#[test]
fn both_adapters_write_byte_identical_trails() {
    let tmp = tempfile::tempdir().unwrap();
    let native_dir = tmp.path().join("native");
    let t = block(native_open(&native_dir));
    let native_head = block(async move {
        for i in 0..300 {
            t.append_at(payload(i), T0 + i * 1000).await.unwrap();
        }
        t.close().await.unwrap()
    });

    let mut w = Instance::new(tmp.path());
    let log = w.open("/data/component", &wit_options()).unwrap();
    for i in 0..300 {
        w.append_at(log, &payload(i), T0 + i * 1000).unwrap();
    }
    let wasm_head = w.close(log).unwrap();
    assert_eq!(
        (wasm_head.seq, wasm_head.hash.as_str()),
        (native_head.seq, native_head.hash.to_hex().as_str())
    );

    let a = trail_files(&native_dir);
    let b = trail_files(&tmp.path().join("component"));
    assert!(
        a.keys().filter(|n| n.ends_with(".evseg")).count() > 5,
        "the scenario rotates: {:?}",
        a.keys()
    );
    // The tree's tiles too: a full one, the partial at the head, and the resume hint.
    for tile in [
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
        "tile/size",
    ] {
        assert!(a.contains_key(tile), "{tile} missing: {:?}", a.keys());
    }
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same file names"
    );
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs between the native adapter and the component"
        );
    }
}

#[test]
fn each_adapter_extends_and_verifies_the_others_trail() {
    let tmp = tempfile::tempdir().unwrap();
    // The component writes; native reads, verifies, extends.
    let mut w = Instance::new(tmp.path());
    let log = w.open("/data/a", &wit_options()).unwrap();
    let batch: Vec<Vec<u8>> = (0..100).map(payload).collect();
    w.append_batch(log, &batch).unwrap();
    let head = w.close(log).unwrap();
    let dir_a = tmp.path().join("a");
    let report = verify_dir(&dir_a, vec![], |_, _| {}).unwrap();
    assert_eq!(
        (report.records, report.head.hash.to_hex()),
        (100, head.hash.clone())
    );
    let native_head = block(async {
        let t = native_open(&dir_a).await;
        assert_eq!(
            t.append(b"native after wasm".to_vec()).await.unwrap().seq,
            101
        );
        t.close().await.unwrap()
    });

    // Native writes; the component reads, verifies, extends.
    let dir_b = tmp.path().join("b");
    block(async {
        let t = native_open(&dir_b).await;
        for i in 0..100 {
            t.append(payload(i)).await.unwrap();
        }
        t.close().await.unwrap();
    });
    let mut w = Instance::new(tmp.path());
    for (dir, expect) in [("/data/a", 101u64), ("/data/b", 100)] {
        let log = w.open(dir, &wit_options()).unwrap();
        assert_eq!(w.verify(log).unwrap().seq, expect);
        let entries = w.read(log, 1, 1000).unwrap();
        assert_eq!(entries.len() as u64, expect);
        assert_eq!(entries[5].payload, payload(5));
        assert_eq!(w.append(log, b"wasm after native").unwrap().seq, expect + 1);
        w.close(log).unwrap();
    }
    assert_eq!(native_head.seq, 101);
    assert_eq!(verify_dir(&dir_b, vec![], |_, _| {}).unwrap().records, 101);
}

/// (file, offset, seq) of a corruption error from either side.
fn native_location(e: &evident_core::Error) -> (Option<String>, Option<u64>, Option<u64>) {
    let l = e.location().expect("corruption is located");
    (l.file.clone(), l.offset, l.seq)
}

fn wit_location(e: &WitError) -> (Option<String>, Option<u64>, Option<u64>) {
    match e {
        WitError::Corrupt(c) | WitError::TornTail(c) => {
            (c.location.file.clone(), c.location.offset, c.location.seq)
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn damage_is_reported_identically_by_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    block(async {
        let t = native_open(&dir).await;
        for i in 0..200 {
            t.append(payload(i)).await.unwrap();
        }
        t.close().await.unwrap();
    });
    let mut segs: Vec<String> = trail_files(&dir)
        .into_keys()
        .filter(|n| n.ends_with(".evseg"))
        .collect();
    segs.sort();

    // A payload byte edited in a sealed segment: verification on both sides.
    let mid = dir.join(&segs[segs.len() / 2]);
    let mut bytes = std::fs::read(&mid).unwrap();
    bytes[128 + 60] ^= 0x20;
    std::fs::write(&mid, &bytes).unwrap();
    let native = verify_dir(&dir, vec![], |_, _| {}).unwrap_err();
    let mut w = Instance::new(tmp.path());
    let log = w
        .open("/data/t", &wit_options())
        .expect("open does not rescan sealed segments");
    let wasm = w.verify(log).unwrap_err();
    assert_eq!(native_location(&native), wit_location(&wasm));
    assert_eq!(
        native_location(&native).0.as_deref(),
        Some(segs[segs.len() / 2].as_str())
    );
    w.drop_log(log);

    // Mid-log damage in the last segment: both refuse to open, at the same place.
    let last = dir.join(segs.last().unwrap());
    let mut bytes = std::fs::read(&last).unwrap();
    bytes[128 + 9] ^= 0x01;
    std::fs::write(&last, &bytes).unwrap();
    let native = match block(native_open_result(&dir)) {
        Err(evident_native::Error::Trail(e)) => e,
        other => panic!("native open: {other:?}"),
    };
    let mut w = Instance::new(tmp.path());
    let wasm = w.open("/data/t", &wit_options()).unwrap_err();
    assert_eq!(native_location(&native), wit_location(&wasm));
}

async fn native_open_result(dir: &Path) -> Result<Trail, evident_native::Error> {
    let opts = TrailOptions {
        core: core_options(),
        ..TrailOptions::default()
    };
    Trail::open(dir, opts).await
}

#[test]
fn a_component_killed_mid_batch_leaves_a_trail_native_recovers() {
    let mut outcomes = Vec::new();
    // The component prepares every record of a batch (payload hash, agent id) when it queues
    // it, before framing the first write, so the larger budgets are the ones that run out
    // while writing.
    for (k, fuel) in [
        20_000u64,
        1_000_000,
        8_000_000,
        30_000_000,
        60_000_000,
        120_000_000,
        250_000_000,
        500_000_000,
    ]
    .into_iter()
    .enumerate()
    {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = Instance::with_fuel(tmp.path(), u64::MAX / 4);
        // A short lease: the trapped instance cannot release it, so the native writer below
        // takes over once it has lapsed (one writer at a time, also after a crash).
        let short_lease = OpenOptions {
            lease_ms: Some(200),
            ..wit_options()
        };
        let log = w.open("/data/t", &short_lease).unwrap();
        let acked: Vec<_> = (0..50)
            .map(|i| w.append(log, &payload(i)).unwrap())
            .collect();
        // Now run out of fuel somewhere inside a large batch: framing, writing or syncing.
        w.set_fuel(fuel);
        let batch: Vec<Vec<u8>> = (50..2050).map(payload).collect();
        let outcome = w.try_append_batch(log, &batch);
        let finished = matches!(outcome, Ok(Ok(_)));
        drop(w); // the instance is gone mid-call: no close, no flush

        let dir = tmp.path().join("t");
        let report = block(async {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let t = loop {
                match native_open_result(&dir).await {
                    Err(evident_native::Error::Locked { .. })
                        if std::time::Instant::now() < deadline =>
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await
                    }
                    r => break r,
                }
            }
            .unwrap_or_else(|e| panic!("fuel {fuel}: recovery failed: {e}"));
            let report = t.open_report().clone();
            t.close().await.unwrap();
            report
        });
        let verified =
            verify_dir(&dir, vec![], |_, _| {}).unwrap_or_else(|e| panic!("fuel {fuel}: {e}"));
        assert!(
            verified.records >= 50,
            "fuel {fuel}: acknowledged records lost ({report:?})"
        );
        let mut reader = evident_native::Reader::open(&dir).unwrap();
        for r in &acked {
            let got = reader
                .get(r.seq)
                .unwrap()
                .expect("acknowledged record present");
            assert_eq!(
                got.hash.to_hex(),
                r.hash,
                "fuel {fuel}: record {} changed",
                r.seq
            );
        }
        if finished {
            assert_eq!(
                verified.records, 2050,
                "case {k}: a completed batch is all there"
            );
        }
        outcomes.push((finished, verified.records));
    }
    // The kills landed both before anything of the batch was written and after part of it was.
    assert!(outcomes.iter().any(|&(f, n)| !f && n == 50), "{outcomes:?}");
    assert!(
        outcomes.iter().any(|&(f, n)| !f && n > 50 && n < 2050),
        "{outcomes:?}"
    );
}

#[test]
fn both_adapters_give_identical_checkpoints_and_proofs() {
    use evident_native::prove::{check_proof_text, Checked, InclusionOptions, Prover};
    let tmp = tempfile::tempdir().unwrap();
    let native_dir = tmp.path().join("native");
    let t = block(native_open(&native_dir));
    block(async move {
        for i in 0..300 {
            t.append_at(payload(i), T0 + i * 1000).await.unwrap();
        }
        t.close().await.unwrap()
    });
    let mut w = Instance::new(tmp.path());
    let log = w.open("/data/component", &wit_options()).unwrap();
    for i in 0..120 {
        w.append_at(log, &payload(i), T0 + i * 1000).unwrap();
    }
    let old_note = w.checkpoint_note(log).unwrap();
    for i in 120..300 {
        w.append_at(log, &payload(i), T0 + i * 1000).unwrap();
    }

    let prover = Prover::open(&native_dir).unwrap();
    assert_eq!(w.checkpoint_note(log).unwrap(), prover.checkpoint_note());
    for (seq, size, payload) in [
        (1, None, true),
        (77, None, false),
        (300, None, true),
        (5, Some(120), true),
    ] {
        let native = prover
            .prove(
                seq,
                InclusionOptions {
                    size,
                    include_payload: payload,
                },
            )
            .unwrap()
            .text;
        let wasm = w.prove(log, seq, size, payload).unwrap();
        assert_eq!(native, wasm, "bundle of seq {seq} at size {size:?}");
        // Each checks the other's bundle.
        let checked = w.check_bundle(&native).unwrap();
        assert_eq!((checked.seq, checked.tree_size), (seq, size.unwrap_or(300)));
        assert!(matches!(check_proof_text(&wasm).unwrap(), Checked::Inclusion(r) if r.seq == seq));
    }
    let native = prover.prove_consistency(&old_note).unwrap();
    assert_eq!(native, w.prove_consistency(log, &old_note).unwrap());
    let c = w.check_consistency(&native).unwrap();
    assert_eq!((c.old_size, c.new_size), (120, 300));
    w.close(log).unwrap();
}
