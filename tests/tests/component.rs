//! wasmtime hosting the evident-wasi component: every function of the `trail` and `verify`
//! interfaces, including the error cases (a directory outside the preopens, a corrupt trail, an
//! oversized record).

use evident_tests::wasm::{
    default_options, Durability, Error, HealthState, Instance, OpenOptions, Query, SegmentFile,
};

fn opts() -> OpenOptions {
    OpenOptions {
        segment_bytes: Some(4096),
        ..default_options()
    }
}

#[test]
fn every_trail_function_works_through_the_component() {
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    let log = i.open("/data/trail", &opts()).expect("open");
    let report = i.open_report(log);
    assert!(report.created);
    assert_eq!(report.head.seq, 0);

    let r1 = i.append(log, b"first").unwrap();
    assert_eq!((r1.seq, r1.durable), (1, true));
    let r2 = i.append_at(log, b"second", 5).unwrap();
    assert_eq!(r2.seq, 2);
    assert!(
        r2.timestamp >= r1.timestamp,
        "timestamps never go backwards"
    );
    let batch: Vec<Vec<u8>> = (0..200)
        .map(|n| format!("record {n}").into_bytes())
        .collect();
    let rs = i.append_batch(log, &batch).unwrap();
    assert_eq!(
        rs.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (3..203).collect::<Vec<_>>()
    );
    let ts: Vec<u64> = (0..3).map(|n| 4_000_000_000_000_000_000 + n).collect();
    let rs = i
        .append_batch_at(log, &[b"a".to_vec(), b"b".to_vec(), b"c".to_vec()], &ts)
        .unwrap();
    assert_eq!(rs.iter().map(|r| r.timestamp).collect::<Vec<_>>(), ts);
    assert!(matches!(
        i.append_batch_at(log, &[b"a".to_vec()], &[]),
        Err(Error::InvalidArgument(_))
    ));

    let head = i.sync(log).unwrap();
    assert_eq!(head.seq, 205);
    assert_eq!(i.head(log), head);
    assert_eq!(head.hash, rs[2].hash);

    // Reads cross the rotated segments (4 KiB segments: 205 records need several).
    let all = i.read(log, 1, 1000).unwrap();
    assert_eq!(all.len(), 205);
    assert_eq!(all[0].payload, b"first");
    assert_eq!(all[4].payload, b"record 2");
    assert!(all.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    let some = i.read(log, 100, 5).unwrap();
    assert_eq!(
        some.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![100, 101, 102, 103, 104]
    );
    assert_eq!(some[0].hash, all[99].hash);
    assert!(i.read(log, 206, 10).unwrap().is_empty());

    assert_eq!(i.verify(log).unwrap(), head);
    let h = i.health(log);
    assert_eq!(h.state, HealthState::Healthy);
    assert!(h.fsyncs >= 4 && h.records == 205, "{h:?}");
    assert!(h.directory_sync, "wasmtime can fsync a directory");
    let cp = i.checkpoint(log).unwrap();
    assert_eq!(cp, head);
    let text = std::fs::read_to_string(tmp.path().join("trail/head.checkpoint")).unwrap();
    assert_eq!(i.parse_checkpoint(&text).unwrap(), cp);
    assert!(i.parse_checkpoint("not a checkpoint").is_err());
    assert_eq!(i.close(log).unwrap(), head);
    assert!(matches!(i.append(log, b"after close"), Err(Error::Closed)));

    // Reopen in a fresh instance: same trail, chain continues.
    let mut j = Instance::new(tmp.path());
    let log = j.open("/data/trail", &opts()).unwrap();
    let r = j.open_report(log);
    assert!(!r.created);
    assert_eq!(r.head, head);
    assert_eq!(j.append(log, b"again").unwrap().seq, 206);
}

#[test]
fn errors_are_typed_and_located() {
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    // Outside the preopen.
    assert!(matches!(
        i.open("/elsewhere/trail", &opts()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        i.open("/data/../x", &opts()),
        Err(Error::InvalidArgument(_))
    ));
    // Bad log id.
    let bad = OpenOptions {
        log_id: Some("xyz".into()),
        ..opts()
    };
    assert!(matches!(
        i.open("/data/t", &bad),
        Err(Error::InvalidArgument(_))
    ));
    // Out-of-range options: invalid-argument naming the allowed range, nothing created.
    for (o, want) in [
        (
            OpenOptions {
                max_payload: Some(1 << 24),
                ..opts()
            },
            "allowed range is 1 ..= 16777215",
        ),
        (
            OpenOptions {
                segment_bytes: Some(1),
                ..opts()
            },
            "allowed range is 1024",
        ),
    ] {
        match i.open("/data/ranges", &o) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains(want), "{m}"),
            other => panic!("{want}: {other:?}"),
        }
    }
    // Oversized record.
    let small = OpenOptions {
        max_payload: Some(100),
        ..opts()
    };
    let log = i.open("/data/t", &small).unwrap();
    assert!(matches!(
        i.append(log, &[0u8; 101]),
        Err(Error::TooLarge(101))
    ));
    assert!(matches!(
        i.append_batch(log, &[vec![1], vec![0u8; 500]]),
        Err(Error::TooLarge(500))
    ));
    assert_eq!(i.head(log).seq, 0, "nothing of a refused batch is written");
    for n in 0..50u8 {
        i.append(log, &[n; 60]).unwrap();
    }
    i.close(log).unwrap();

    // Corrupt a record in a sealed segment (flip a payload byte): verify names the place.
    let dir = tmp.path().join("t");
    let mut segs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".evseg"))
        .collect();
    segs.sort();
    assert!(segs.len() > 1, "several segments");
    let first = dir.join(&segs[0]);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[128 + 56 + 3] ^= 0x01;
    std::fs::write(&first, &bytes).unwrap();
    let mut j = Instance::new(tmp.path());
    let log = j
        .open("/data/t", &small)
        .expect("open reads only the last segments");
    match j.verify(log) {
        Err(Error::Corrupt(c)) => {
            assert_eq!(c.location.file.as_deref(), Some(segs[0].as_str()));
            assert_eq!(c.location.offset, Some(128));
            assert_eq!(c.location.seq, Some(1));
        }
        other => panic!("{other:?}"),
    }
    match j.read(log, 1, 10) {
        Err(Error::Corrupt(c)) => assert_eq!(c.location.file.as_deref(), Some(segs[0].as_str())),
        other => panic!("read of a corrupt segment: {other:?}"),
    }
    j.drop_log(log); // one writer at a time: the next open must find the trail free

    // Mid-log damage in the last segment: open refuses with the location.
    let last = dir.join(segs.last().unwrap());
    let mut bytes = std::fs::read(&last).unwrap();
    bytes[128 + 10] ^= 0x40;
    std::fs::write(&last, &bytes).unwrap();
    let mut k = Instance::new(tmp.path());
    match k.open("/data/t", &small) {
        Err(Error::Corrupt(c)) => {
            assert_eq!(
                c.location.file.as_deref(),
                Some(segs.last().unwrap().as_str())
            );
            assert_eq!(c.location.offset, Some(128));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn durability_policies_and_dropping_without_close() {
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    let os = OpenOptions {
        durability: Some(Durability::Os),
        ..opts()
    };
    let log = i.open("/data/os", &os).unwrap();
    let r = i.append(log, b"x").unwrap();
    assert!(!r.durable);
    assert_eq!(i.head(log).seq, 0);
    assert_eq!(i.sync(log).unwrap().seq, 1);
    i.append(log, b"y").unwrap();
    i.drop_log(log); // no close: the trail must still recover
    let mut j = Instance::new(tmp.path());
    let log = j.open("/data/os", &os).unwrap();
    assert_eq!(
        j.open_report(log).head.seq,
        2,
        "written records survive a dropped instance"
    );
    assert_eq!(j.verify(log).unwrap().seq, 2);
}

#[test]
fn verify_interface_checks_bytes_handed_in() {
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    let log = i.open("/data/v", &opts()).unwrap();
    for n in 0..100u32 {
        i.append(log, format!("event {n}").as_bytes()).unwrap();
    }
    let head = i.close(log).unwrap();
    let dir = tmp.path().join("v");
    let mut files: Vec<SegmentFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_str().unwrap().ends_with(".evseg"))
        .map(|e| SegmentFile {
            name: e.file_name().into_string().unwrap(),
            bytes: std::fs::read(e.path()).unwrap(),
        })
        .collect();
    files.reverse(); // any order: the component sorts by name
    let report = i
        .verify_segments(&files, std::slice::from_ref(&head))
        .unwrap();
    assert_eq!(report.records, 100);
    assert_eq!(report.head, head);
    assert_eq!(report.checkpoints_verified, vec![head.clone()]);
    // A changed byte is reported with its place.
    let k = files.len() / 2;
    files[k].bytes[200] ^= 0x10;
    match i.verify_segments(&files, &[]) {
        Err(Error::Corrupt(c)) => {
            assert_eq!(c.location.file.as_deref(), Some(files[k].name.as_str()))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn queries_through_the_component() {
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    let log = i.open("/data/q", &opts()).unwrap();
    let agents = ["a1", "a2", "a3"];
    for n in 0..300u64 {
        let ev = format!(
            r#"{{"gen_ai.agent.id":"{}","correlation.id":"c{n}","kind":"exec.started","pid":{n}}}"#,
            agents[n as usize % 3]
        );
        i.append_at(log, ev.as_bytes(), 1_000_000 + n * 10).unwrap();
    }
    let q = |since, until, agent: Option<&str>, limit, newest| Query {
        from_seq: None,
        to_seq: None,
        since,
        until,
        agent: agent.map(str::to_string),
        limit,
        newest,
    };
    // Time range [1_000_500, 1_001_000): records 51..=100.
    let r = i
        .query(log, &q(Some(1_000_500), Some(1_001_000), None, None, false))
        .unwrap();
    assert_eq!(
        r.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (51..=100).collect::<Vec<_>>()
    );
    // One agent in that range.
    let r = i
        .query(
            log,
            &q(Some(1_000_500), Some(1_001_000), Some("a2"), None, false),
        )
        .unwrap();
    assert!(
        r.entries.iter().all(|e| e.seq % 3 == 2) && r.entries.len() == 16,
        "{:?}",
        r.entries.len()
    );
    // The five most recent.
    let r = i.query(log, &q(None, None, None, Some(5), true)).unwrap();
    assert_eq!(
        r.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![296, 297, 298, 299, 300]
    );
    assert_eq!(r.head.unwrap().seq, 300);
    // Whether an agent has any record.
    assert_eq!(
        i.query(log, &q(None, None, Some("a3"), Some(1), false))
            .unwrap()
            .entries
            .len(),
        1
    );
    assert!(i
        .query(log, &q(None, None, Some("nobody"), Some(1), false))
        .unwrap()
        .entries
        .is_empty());
}

#[test]
fn reads_that_start_deep_inside_a_sealed_segment_cross_its_footer() {
    // 512 KiB segments hold several 64 KiB sparse-index entries: a read from a seq past the
    // first entry jumps to it (no chain value there) and must still cross the footer into the
    // next segment.
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    let options = OpenOptions {
        segment_bytes: Some(512 << 10),
        ..default_options()
    };
    let log = i.open("/data/trail", &options).expect("open");
    for b in 0..6 {
        let batch: Vec<Vec<u8>> = (0..1000)
            .map(|n| format!("{b}-{n}-{}", "p".repeat(200)).into_bytes())
            .collect();
        i.append_batch(log, &batch).unwrap();
    }
    let segments = std::fs::read_dir(tmp.path().join("trail"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".evseg")
        })
        .count();
    assert!(segments >= 3, "{segments} segments");
    let all = i.read(log, 1, 10_000).unwrap();
    assert_eq!(all.len(), 6000);
    for from in [700, 1500, 2100, 2999] {
        let got = i.read(log, from, 2500).unwrap();
        assert_eq!(got.len(), 2500, "read from {from}");
        for (k, e) in got.iter().enumerate() {
            let want = &all[from as usize - 1 + k];
            assert_eq!(
                (e.seq, &e.hash, &e.payload),
                (want.seq, &want.hash, &want.payload)
            );
        }
    }
    i.close(log).unwrap();
}

#[test]
fn proofs_through_the_component_and_the_verifier_world() {
    use evident_tests::wasm::verifier::VerifierInstance;
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    let log = i.open("/data/trail", &opts()).expect("open");
    for n in 0..50u32 {
        i.append(log, format!("{{\"n\":{n}}}").as_bytes()).unwrap();
    }
    let note = i.checkpoint_note(log).unwrap();
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines.len(), 3, "{note}");
    assert_eq!(lines[1], "50");
    let bundle = i.prove(log, 17, None, true).unwrap();
    assert!(bundle.ends_with(&note), "{bundle}");
    let r = i.check_bundle(&bundle).unwrap();
    assert_eq!((r.seq, r.tree_size, r.kind), (17, 50, 1));
    assert_eq!(r.payload.as_deref(), Some(&b"{\"n\":16}"[..]));
    assert_eq!(r.origin, lines[0]);
    // Without the payload.
    let bare = i.prove(log, 17, None, false).unwrap();
    assert_eq!(i.check_bundle(&bare).unwrap().payload, None);
    // Bad requests are errors, not traps.
    assert!(
        matches!(i.prove(log, 51, None, true), Err(Error::InvalidArgument(m)) if m.contains("seq 51"))
    );
    assert!(
        matches!(i.prove(log, 1, Some(51), true), Err(Error::InvalidArgument(m)) if m.contains("size 51"))
    );
    // A later head extends the earlier one.
    for n in 50..90u32 {
        i.append(log, format!("{{\"n\":{n}}}").as_bytes()).unwrap();
    }
    let proof = i.prove_consistency(log, &note).unwrap();
    let c = i.check_consistency(&proof).unwrap();
    assert_eq!((c.old_size, c.new_size), (50, 90));

    // The verifier world alone (no filesystem) checks both, and refuses a changed byte.
    let mut v = VerifierInstance::new();
    assert_eq!(v.check_bundle(&bundle).unwrap().seq, 17);
    assert_eq!(v.check_consistency(&proof).unwrap().new_size, 90);
    let mut bad = bundle.clone().into_bytes();
    let at = bad.len() - note.len() - 3;
    bad[at] ^= 1;
    let err = v
        .check_bundle(&String::from_utf8(bad).unwrap())
        .unwrap_err();
    assert!(!err.is_empty());
    i.close(log).unwrap();
}
