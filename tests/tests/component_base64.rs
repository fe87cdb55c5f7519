//! The `*-base64` calls of the `log` resource (for hosts whose `list<u8>` lowering is slow,
//! like wasmtime-py): they store exactly what the plain calls store, byte for byte, read back
//! the same payloads, and refuse bad base64 without writing anything.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use evident_tests::wasm::{default_options, Error, Instance, OpenOptions, Query};
use std::path::Path;

const LOG_ID: &str = "00112233445566778899aabbccddeeff";

fn opts() -> OpenOptions {
    OpenOptions {
        segment_bytes: Some(4096),
        log_id: Some(LOG_ID.into()),
        ..default_options()
    }
}

fn payloads() -> Vec<Vec<u8>> {
    (0..120u32)
        .map(|n| {
            let mut p = format!("record {n} ").into_bytes();
            p.extend((0..n).map(|b| (b * 7) as u8)); // binary, every length mod 3
            p
        })
        .collect()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".evseg"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn base64_calls_store_what_the_plain_calls_store() {
    let ps = payloads();
    let ts: Vec<u64> = (0..ps.len() as u64).map(|n| 1_000_000 + n).collect();

    let plain = tempfile::tempdir().unwrap();
    let mut a = Instance::new(plain.path());
    let log = a.open("/data/t", &opts()).unwrap();
    a.append_at(log, &ps[0], ts[0]).unwrap();
    a.append_batch_at(log, &ps[1..], &ts[1..]).unwrap();
    let head_plain = a.close(log).unwrap();

    let encoded = tempfile::tempdir().unwrap();
    let mut b = Instance::new(encoded.path());
    let log = b.open("/data/t", &opts()).unwrap();
    let api = b.bindings.evident_log_trail().log();
    let r = api
        .call_append_base64(&mut b.store, log, &STANDARD.encode(&ps[0]), Some(ts[0]))
        .unwrap()
        .unwrap();
    assert_eq!(r.seq, 1);
    let rest: Vec<String> = ps[1..].iter().map(|p| STANDARD.encode(p)).collect();
    let rs = api
        .call_append_batch_base64(&mut b.store, log, &rest, Some(&ts[1..]))
        .unwrap()
        .unwrap();
    assert_eq!(rs.last().unwrap().seq, ps.len() as u64);

    // Read back through both encoded readers.
    let entries = api
        .call_read_base64(&mut b.store, log, 1, 10_000)
        .unwrap()
        .unwrap();
    let back: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| STANDARD.decode(&e.payload).unwrap())
        .collect();
    assert_eq!(back, ps);
    let q = Query {
        from_seq: Some(50),
        to_seq: Some(52),
        since: None,
        until: None,
        agent: None,
        limit: None,
        newest: false,
    };
    let page = api
        .call_query_base64(&mut b.store, log, &q)
        .unwrap()
        .unwrap();
    let got: Vec<(u64, Vec<u8>)> = page
        .entries
        .iter()
        .map(|e| (e.seq, STANDARD.decode(&e.payload).unwrap()))
        .collect();
    assert_eq!(
        got,
        (50..=52)
            .map(|s| (s, ps[s as usize - 1].clone()))
            .collect::<Vec<_>>()
    );
    assert!(page.head.is_some());

    let head_encoded = b.close(log).unwrap();
    assert_eq!(head_plain, head_encoded);
    assert_eq!(
        files(&plain.path().join("t")),
        files(&encoded.path().join("t")),
        "the same segment files, byte for byte"
    );
}

#[test]
fn bad_base64_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let mut i = Instance::new(tmp.path());
    let log = i.open("/data/t", &opts()).unwrap();
    let api = i.bindings.evident_log_trail().log();
    match api
        .call_append_base64(&mut i.store, log, "not base64!", None)
        .unwrap()
    {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("payload 0"), "{m}"),
        other => panic!("{other:?}"),
    }
    let batch = vec![STANDARD.encode(b"fine"), "Zm9v=".to_string()];
    match api
        .call_append_batch_base64(&mut i.store, log, &batch, None)
        .unwrap()
    {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("payload 1"), "{m}"),
        other => panic!("{other:?}"),
    }
    match api
        .call_append_batch_base64(&mut i.store, log, &batch[..1], Some(&[1, 2]))
        .unwrap()
    {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("timestamps"), "{m}"),
        other => panic!("{other:?}"),
    }
    let big = STANDARD.encode(vec![0u8; (1 << 20) + 1]);
    assert!(matches!(
        api.call_append_base64(&mut i.store, log, &big, None).unwrap(),
        Err(Error::TooLarge(n)) if n == (1 << 20) + 1
    ));
    assert_eq!(i.head(log).seq, 0, "nothing was written");
    // Without a timestamp: the wall clock, as `append`.
    let api = i.bindings.evident_log_trail().log();
    let r = api
        .call_append_base64(&mut i.store, log, &STANDARD.encode(b"now"), None)
        .unwrap()
        .unwrap();
    assert!(r.seq == 1 && r.timestamp > 1_600_000_000_000_000_000);
    i.close(log).unwrap();
}
