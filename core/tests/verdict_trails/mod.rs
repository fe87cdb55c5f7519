//! The trails the verdict tests damage (`verdicts.rs`, `unwritten_header_verdicts.rs`): built
//! by the real state machine on a fake disk, so every byte is what a writer leaves.

use evident_core::hash::LogId;
use evident_core::naming::{self, HEAD_CHECKPOINT};
use evident_core::sim::{drive, FakeDisk};
use evident_core::{Error, Event, Options, Trail};

/// The trails' log id.
pub const LOG: LogId = LogId([0x33; 16]);
/// The first record's timestamp (each record is 1 ns later).
pub const T0: u64 = 1_700_000_000_000_000_000;

/// A closed 10-record trail (payloads `record 01`..`record 10`) in one preallocated, unsealed
/// segment, with `head.checkpoint` covering all 10 records; returns the segment's name.
pub fn closed_trail(disk: &mut FakeDisk) -> String {
    let mut t = Trail::open(Options::default(), LOG, 1);
    drive(&mut t, disk, 100_000);
    for i in 1..=10u64 {
        t.handle_append(i, format!("record {i:02}").into_bytes(), T0 + i)
            .unwrap();
    }
    drive(&mut t, disk, 100_000);
    t.handle_close();
    let (ev, _) = drive(&mut t, disk, 100_000);
    assert!(
        ev.iter().any(|e| matches!(e, Event::Closed { .. })),
        "{ev:?}"
    );
    assert!(disk.read_file(HEAD_CHECKPOINT).is_some());
    naming::segment_name(1)
}

/// A closed trail of 2 KiB segments (several sealed ones, 60 records); returns its segment
/// names.
pub fn multi_segment_trail(disk: &mut FakeDisk) -> Vec<String> {
    let o = Options {
        segment_bytes: 2048,
        ..Options::default()
    };
    let mut t = Trail::open(o, LOG, 1);
    drive(&mut t, disk, 100_000);
    for i in 1..=60u64 {
        t.handle_append(
            i,
            format!("record {i:04} of the audit trail").into_bytes(),
            T0 + i,
        )
        .unwrap();
    }
    drive(&mut t, disk, 100_000);
    t.handle_close();
    drive(&mut t, disk, 100_000);
    let segs: Vec<String> = t.segments().iter().map(|(_, n)| n.clone()).collect();
    assert!(segs.len() >= 3, "{segs:?}");
    segs
}

/// Opens the trail again (default options): `Ok` when recovery opened it, its error otherwise.
pub fn reopen(disk: &mut FakeDisk) -> Result<(), Error> {
    let mut t = Trail::open(Options::default(), LOG, 1);
    let (ev, _) = drive(&mut t, disk, 100_000);
    match ev.into_iter().next() {
        Some(Event::Opened(_)) => Ok(()),
        Some(Event::OpenFailed(e)) => Err(e),
        other => panic!("{other:?}"),
    }
}
