//! The trail state machine on a fault-free fake disk: open, append, rotate, close, reopen.

use evident_core::sim::{drive, verify, FakeDisk, Faults};
use evident_core::{Durability, Event, LogId, Options, TailReport, Trail};

fn opts() -> Options {
    Options {
        segment_bytes: 4096,
        ..Options::default()
    }
}

fn open(disk: &mut FakeDisk, o: Options) -> (Trail, Vec<Event>) {
    let mut t = Trail::open(o, LogId([7; 16]), 1);
    let (ev, _) = drive(&mut t, disk, 100_000);
    (t, ev)
}

fn acks(ev: &[Event]) -> Vec<(u64, u64)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Appended { token, receipt } => Some((*token, receipt.seq)),
            _ => None,
        })
        .collect()
}

#[test]
fn create_append_close_reopen_verify() {
    let mut disk = FakeDisk::new(1, Faults::default());
    let (mut t, ev) = open(&mut disk, opts());
    assert!(
        matches!(&ev[0], Event::Opened(r) if r.created && r.next_seq == 1),
        "{ev:?}"
    );
    for i in 0..100u64 {
        t.handle_append(i, format!("event {i}").into_bytes(), 1000 + i)
            .unwrap();
    }
    let (ev, _) = drive(&mut t, &mut disk, 100_000);
    let a = acks(&ev);
    assert_eq!(a.len(), 100);
    for (i, (tok, seq)) in a.iter().enumerate() {
        assert_eq!((*tok, *seq), (i as u64, i as u64 + 1));
    }
    assert!(
        ev.iter().any(|e| matches!(e, Event::Rotated { .. })),
        "4 KiB segments must rotate"
    );
    assert!(t.segments().len() > 1);
    assert_eq!(t.head().seq, 100);
    t.handle_close();
    let (ev, _) = drive(&mut t, &mut disk, 100_000);
    assert!(
        matches!(ev.last(), Some(Event::Closed { head }) if head.seq == 100),
        "{ev:?}"
    );
    let head = t.head();
    let report = verify(&mut disk, vec![head]).unwrap();
    assert_eq!(report.records, 100);
    assert_eq!(report.head, head);

    let (mut t, ev) = open(&mut disk, opts());
    match &ev[0] {
        Event::Opened(r) => {
            assert!(!r.created);
            assert_eq!(r.head, head);
            assert!(
                matches!(r.tail, TailReport::Preallocated { .. } | TailReport::Clean),
                "{r:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    t.handle_append(500, b"after reopen".to_vec(), 5).unwrap();
    let (ev, _) = drive(&mut t, &mut disk, 100_000);
    match &ev[..] {
        [Event::Appended {
            token: 500,
            receipt,
        }] => {
            assert_eq!(receipt.seq, 101);
            assert_eq!(receipt.ts, 1099, "timestamps never go backwards");
            assert!(receipt.durable);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(verify(&mut disk, vec![head]).unwrap().records, 101);
}

#[test]
fn group_commit_batches_concurrent_appends_into_one_sync() {
    let mut disk = FakeDisk::new(2, Faults::default());
    let (mut t, _) = open(&mut disk, Options::default());
    for i in 0..500u64 {
        t.handle_append(i, vec![b'x'; 200], i).unwrap();
    }
    let (ev, ops) = drive(&mut t, &mut disk, 100_000);
    assert_eq!(acks(&ev).len(), 500);
    let syncs = ops
        .iter()
        .filter(|(op, _)| matches!(op, evident_core::IoOp::Sync { .. }))
        .count();
    let writes = ops
        .iter()
        .filter(|(op, _)| matches!(op, evident_core::IoOp::Write { .. }))
        .count();
    assert_eq!(
        (writes, syncs),
        (1, 1),
        "500 pending appends go out as one write and one sync"
    );
    assert_eq!(t.health().max_batch, 500);
}

#[test]
fn os_policy_acknowledges_before_sync_and_sync_request_syncs() {
    let mut disk = FakeDisk::new(3, Faults::default());
    let (mut t, _) = open(
        &mut disk,
        Options {
            durability: Durability::Os,
            ..Options::default()
        },
    );
    t.handle_append(1, b"a".to_vec(), 1).unwrap();
    let (ev, ops) = drive(&mut t, &mut disk, 1000);
    assert!(matches!(&ev[..], [Event::Appended { receipt, .. }] if !receipt.durable));
    assert!(!ops
        .iter()
        .any(|(op, _)| matches!(op, evident_core::IoOp::Sync { .. })));
    assert_eq!(t.head().seq, 0, "nothing durable yet");
    t.handle_sync(9);
    let (ev, _) = drive(&mut t, &mut disk, 1000);
    assert_eq!(ev, vec![Event::Synced { token: 9 }]);
    assert_eq!(t.head().seq, 1);
}

#[test]
fn sync_with_nothing_pending_is_answered_at_once() {
    let mut disk = FakeDisk::new(4, Faults::default());
    let (mut t, _) = open(&mut disk, Options::default());
    t.handle_append(1, b"a".to_vec(), 1).unwrap();
    drive(&mut t, &mut disk, 1000);
    t.handle_sync(7);
    assert_eq!(t.poll_io(), None, "nothing to write or sync");
    assert_eq!(t.poll_event(), Some(Event::Synced { token: 7 }));
}

#[test]
fn a_headerless_last_segment_is_a_torn_tail_for_verify_and_removed_by_recovery() {
    let mut disk = FakeDisk::new(5, Faults::default());
    let (mut t, _) = open(&mut disk, opts());
    for i in 0..50u64 {
        t.handle_append(i, vec![b'z'; 200], i).unwrap();
    }
    drive(&mut t, &mut disk, 100_000);
    drop(t);
    // The shape a crash between creating the next segment file and writing its header leaves:
    // sealed segments, then a last segment with no header (empty, or zeros).
    let names: Vec<String> = disk
        .file_names()
        .into_iter()
        .filter(|n| n.ends_with(".evseg"))
        .collect();
    assert!(names.len() >= 2, "{names:?}");
    let last = names.last().unwrap().clone();
    let sealed_records = evident_core::naming::parse_segment_name(&last).unwrap() - 1;
    for content in [Vec::new(), vec![0u8; 4096], vec![0u8; 60]] {
        disk.write_file(&last, content);
        match verify(&mut disk, vec![]) {
            Err(evident_core::Error::TornTail { location, .. }) => {
                assert_eq!(
                    (location.file.as_deref(), location.offset),
                    (Some(last.as_str()), Some(0))
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // Data after a missing header is damage, not an interrupted creation.
    let mut bad = vec![0u8; 4096];
    bad[300] = 1;
    disk.write_file(&last, bad);
    assert!(matches!(
        verify(&mut disk, vec![]),
        Err(evident_core::Error::Corrupt { .. })
    ));
    disk.write_file(&last, vec![0u8; 4096]);
    let (_t, ev) = open(&mut disk, opts());
    match &ev[0] {
        Event::Opened(r) => {
            assert_eq!(r.tail, TailReport::AbandonedSegmentRemoved, "{r:?}");
            assert!(r.removed_files.contains(&last));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(verify(&mut disk, vec![]).unwrap().records, sealed_records);
}
