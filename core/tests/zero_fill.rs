//! Zero-filling ahead of the writer (`Options::zero_fill_ahead`): the zeros go only where the
//! file already reads as zero, and a failed zero write costs nothing but the filling.

use evident_core::naming;
use evident_core::sim::{FakeDisk, Faults};
use evident_core::{Event, IoOp, LogId, Options, Trail};

/// Runs the trail on the disk until it settles; returns every request with its answer.
fn run(t: &mut Trail, disk: &mut FakeDisk) -> Vec<IoOp> {
    let mut ops = Vec::new();
    while let Some(req) = t.poll_io() {
        let r = disk.perform(&req.op);
        ops.push(req.op.clone());
        t.handle_io(req.id, r);
    }
    while t.poll_event().is_some() {}
    ops
}

fn opts(ahead: u64) -> Options {
    Options {
        segment_bytes: 64 * 1024,
        zero_fill_ahead: ahead,
        ..Options::default()
    }
}

#[test]
fn zeros_go_only_after_the_records_and_inside_the_reserved_length() {
    let mut disk = FakeDisk::new(1, Faults::default());
    let mut t = Trail::open(opts(16 * 1024), LogId([1; 16]), 1);
    let mut ops = run(&mut t, &mut disk);
    for i in 0..400u64 {
        t.handle_append(i, vec![b'x'; 90 + (i as usize % 50)], 1_000 + i)
            .unwrap();
        if i % 7 == 0 {
            ops.extend(run(&mut t, &mut disk));
        }
    }
    ops.extend(run(&mut t, &mut disk));
    // Replay: each zero write starts at or after the end of the records written to that
    // file so far, and ends inside the segment's reserved length.
    let mut written: std::collections::HashMap<String, u64> = Default::default();
    let mut zeroed: std::collections::HashMap<String, u64> = Default::default();
    let mut zero_writes = 0;
    for op in &ops {
        match op {
            IoOp::Write { file, offset, data } => {
                let end = written.entry(file.clone()).or_default();
                *end = (*end).max(offset + data.len() as u64);
            }
            IoOp::WriteZeros { file, offset, len } => {
                zero_writes += 1;
                let end = written.get(file).copied().unwrap_or(0);
                assert!(*offset >= end, "zeros at {offset} over records up to {end}");
                assert!(offset + len <= 64 * 1024, "zeros past the reserved length");
                // Each range is filled once: the next zero write starts where this one ended.
                let z = zeroed.entry(file.clone()).or_default();
                assert!(
                    *offset >= *z,
                    "zeros at {offset} written again (filled to {z})"
                );
                *z = offset + len;
            }
            _ => {}
        }
    }
    // 400 records of ~160 bytes fill one segment and part of the next: each was filled.
    assert!(zero_writes >= 4, "only {zero_writes} zero writes");
    let rotated = ops
        .iter()
        .filter(
            |op| matches!(op, IoOp::Create { file } if naming::parse_segment_name(file).is_some()),
        )
        .count();
    assert!(
        rotated >= 2,
        "the test needs a rotation ({rotated} segments)"
    );
}

#[test]
fn nothing_is_zero_filled_when_turned_off_or_without_preallocation() {
    for o in [
        opts(0),
        Options {
            preallocate: false,
            ..opts(16 * 1024)
        },
    ] {
        let mut disk = FakeDisk::new(2, Faults::default());
        let mut t = Trail::open(o, LogId([2; 16]), 1);
        let mut ops = run(&mut t, &mut disk);
        for i in 0..50 {
            t.handle_append(i, vec![b'y'; 100], 1_000 + i).unwrap();
            ops.extend(run(&mut t, &mut disk));
        }
        assert!(!ops.iter().any(|op| matches!(op, IoOp::WriteZeros { .. })));
    }
}

#[test]
fn a_failed_zero_write_fails_no_append_and_stops_filling_the_segment() {
    let mut disk = FakeDisk::new(3, Faults::default());
    let mut t = Trail::open(opts(16 * 1024), LogId([3; 16]), 1);
    run(&mut t, &mut disk);
    let mut zero_writes = 0;
    let mut acked = 0;
    for i in 0..40u64 {
        t.handle_append(i, vec![b'z'; 100], 1_000 + i).unwrap();
        while let Some(req) = t.poll_io() {
            let r = if matches!(req.op, IoOp::WriteZeros { .. }) {
                zero_writes += 1;
                Err(evident_core::IoError::new(
                    evident_core::IoErrorKind::NoSpace,
                    "no space for zeros",
                ))
            } else {
                disk.perform(&req.op)
            };
            t.handle_io(req.id, r);
        }
        while let Some(e) = t.poll_event() {
            match e {
                Event::Appended { .. } => acked += 1,
                Event::AppendFailed { error, .. } => panic!("append failed: {error}"),
                Event::HealthChanged { to, .. } => panic!("health changed to {to:?}"),
                _ => {}
            }
        }
    }
    assert_eq!(acked, 40);
    assert_eq!(
        zero_writes, 1,
        "the segment is not filled again after a failure"
    );
}

#[test]
fn a_segment_whose_preallocation_failed_is_never_extended_by_zeros() {
    // Every preallocation after the open fails (a disk filling up): the segments rotated to
    // keep the length their records give them, and no zero write may reach past a file's
    // real end; the first segment, reserved at the open, is filled as usual.
    let mut disk = FakeDisk::new(4, Faults::default());
    let mut t = Trail::open(opts(16 * 1024), LogId([4; 16]), 1);
    run(&mut t, &mut disk);
    let first = naming::segment_name(1);
    let mut refused = 0;
    let mut zeros_first = 0;
    let mut zeros_later = 0;
    let mut acked = 0;
    for i in 0..1500u64 {
        t.handle_append(i, vec![b'p'; 100 + (i as usize % 40)], 1_000 + i)
            .unwrap();
        while let Some(req) = t.poll_io() {
            let r = match &req.op {
                IoOp::Preallocate { .. } => {
                    refused += 1;
                    Err(evident_core::IoError::new(
                        evident_core::IoErrorKind::NoSpace,
                        "no space to reserve",
                    ))
                }
                IoOp::WriteZeros { file, offset, len } => {
                    let real = disk.read_file(file).map_or(0, |d| d.len() as u64);
                    assert!(
                        offset + len <= real,
                        "zeros {offset}..{} extend {file} (length {real})",
                        offset + len
                    );
                    if *file == first {
                        zeros_first += 1;
                    } else {
                        zeros_later += 1;
                    }
                    disk.perform(&req.op)
                }
                _ => disk.perform(&req.op),
            };
            t.handle_io(req.id, r);
        }
        while let Some(e) = t.poll_event() {
            match e {
                Event::Appended { .. } => acked += 1,
                Event::AppendFailed { error, .. } => panic!("append failed: {error}"),
                _ => {}
            }
        }
    }
    assert_eq!(acked, 1500);
    assert!(
        refused >= 2,
        "the test needs rotations ({refused} preallocations)"
    );
    assert!(zeros_first > 0, "the reserved first segment was not filled");
    assert_eq!(zeros_later, 0, "an unreserved segment was filled");
}

#[test]
fn without_idle_filling_zeros_come_only_before_a_batch_one_chunk_at_a_time() {
    // A host whose idle time is the end of a caller's call (the component): a call that
    // appends and runs the writer until it settles must not end with zero writes.
    let o = Options {
        zero_fill_when_idle: false,
        ..opts(16 * 1024)
    };
    let mut disk = FakeDisk::new(5, Faults::default());
    let mut t = Trail::open(o, LogId([5; 16]), 1);
    run(&mut t, &mut disk);
    let mut calls_with_zeros = 0;
    for i in 0..120u64 {
        t.handle_append(i, vec![b'q'; 120], 1_000 + i).unwrap();
        let ops = run(&mut t, &mut disk);
        let zeros: Vec<usize> = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| matches!(op, IoOp::WriteZeros { .. }))
            .map(|(k, _)| k)
            .collect();
        if i == 0 {
            assert!(zeros.is_empty(), "zeros before the writer's first batch");
        }
        assert!(zeros.len() <= 1, "call {i}: {} zero writes", zeros.len());
        if let Some(&k) = zeros.first() {
            calls_with_zeros += 1;
            assert!(
                matches!(ops.get(k + 1), Some(IoOp::Write { .. })),
                "call {i}: a zero write not followed by the batch's write: {:?}",
                ops.get(k + 1)
            );
        }
    }
    assert!(calls_with_zeros >= 2, "the space ahead was never filled");
}

#[test]
fn zero_pieces_cover_the_range_exactly() {
    for (offset, len) in [(0, 0), (5, 1), (4096, 65_536), (100, 65_537), (7, 300_000)] {
        let mut at = offset;
        for (o, zeros) in evident_core::io::zero_pieces(offset, len) {
            assert_eq!(o, at, "pieces are contiguous");
            assert!(!zeros.is_empty() && zeros.len() <= 65_536);
            assert!(zeros.iter().all(|&b| b == 0));
            at += zeros.len() as u64;
        }
        assert_eq!(at, offset + len, "({offset}, {len}) covered exactly");
    }
}
