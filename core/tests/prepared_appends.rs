//! Appends whose payload hash and agent id the host computed beforehand
//! (`Trail::handle_append_prepared`, what the native adapter does in the producer's task) store
//! exactly what plain appends store: the same segment bytes, the same tiles, the same agent
//! index files, byte for byte.

use evident_core::sim::{drive_with_tiles, sample_events, FakeDisk, Faults};
use evident_core::{Event, LogId, Options, PreparedPayload, Trail};
use std::collections::BTreeMap;

fn opts() -> Options {
    Options {
        // Small segments: several seals, so agent index files are written too.
        segment_bytes: 32 * 1024,
        max_batch_records: 40,
        ..Options::default()
    }
}

/// Appends `payloads` (audit events and raw bytes mixed), closes, returns every file.
fn run(prepared: bool, payloads: &[Vec<u8>]) -> BTreeMap<String, Vec<u8>> {
    let mut disk = FakeDisk::new(1, Faults::default());
    let mut t = Trail::open(opts(), LogId([3; 16]), 1);
    drive_with_tiles(&mut t, &mut disk, 1_000_000);
    assert!(t.is_open());
    let mut acked = 0;
    for (i, p) in payloads.iter().enumerate() {
        let token = i as u64 + 1;
        let ts = 1_000 + i as u64;
        if prepared {
            t.handle_append_prepared(token, PreparedPayload::new(p.clone()), ts, None)
        } else {
            t.handle_append(token, p.clone(), ts)
        }
        .unwrap();
        if i % 17 == 0 {
            acked += appended(drive_with_tiles(&mut t, &mut disk, 1_000_000).0);
        }
    }
    t.handle_close();
    acked += appended(drive_with_tiles(&mut t, &mut disk, 1_000_000).0);
    while let Some(req) = t.poll_tile_io() {
        let r = disk.perform(&req.op);
        t.handle_tile_io(req.id, r);
    }
    assert_eq!(acked, payloads.len(), "every append acknowledged");
    disk.file_names()
        .into_iter()
        .map(|n| {
            let d = disk.read_file(&n).unwrap().to_vec();
            (n, d)
        })
        .collect()
}

fn appended(events: Vec<Event>) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Appended { .. }))
        .count()
}

#[test]
fn prepared_and_plain_appends_write_identical_files() {
    let mut payloads = sample_events(600);
    // Payloads that are not audit events (no agent) and an empty one.
    for i in (0..payloads.len()).step_by(50) {
        payloads[i] = format!("raw payload {i}").into_bytes();
    }
    payloads[7] = Vec::new();
    let plain = run(false, &payloads);
    let prepared = run(true, &payloads);
    assert!(
        plain.keys().any(|n| n.ends_with(".agents")),
        "agent index files were written: {:?}",
        plain.keys().collect::<Vec<_>>()
    );
    assert!(plain.keys().any(|n| n.starts_with("tile/0/")));
    assert_eq!(
        plain.keys().collect::<Vec<_>>(),
        prepared.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &plain {
        assert!(prepared[name] == *bytes, "{name} differs");
    }
}

#[test]
fn a_prepared_payload_too_large_is_refused_at_once() {
    let mut disk = FakeDisk::new(2, Faults::default());
    let o = Options {
        max_payload: 16,
        ..opts()
    };
    let mut t = Trail::open(o, LogId([4; 16]), 1);
    drive_with_tiles(&mut t, &mut disk, 1_000_000);
    let err = t
        .handle_append_prepared(1, PreparedPayload::new(vec![1; 17]), 5, None)
        .unwrap_err();
    assert!(err.to_string().contains("17"), "{err}");
    assert!(
        t.poll_event().is_none(),
        "nothing emitted for a refused append"
    );
}
