//! The trail state machine driven by an arbitrary sequence of commands and IO outcomes (writes
//! and syncs failing, short writes, crashes with and without power loss), checking the promise
//! after every crash: every acknowledged durable record is there with its hash, the trail
//! verifies, nothing is acknowledged while the trail is failed. The tile lane runs too, with
//! its own faults (tile writes and renames failing, crashes in the middle of a tile): a tile
//! failure never changes health, and whatever tiles the disk holds, `prove` emits proofs only
//! for the records on disk.
#![no_main]

use evident_core::sim::{verify, FakeDisk, Faults, OpKind, Scripted};
use evident_core::{Event, HealthState, LogId, Options, Trail};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

/// Opens the trail; an injected IO failure during recovery is retried (scripted faults are
/// consumed as they fire, so every queued one may cost an attempt), anything else is a broken
/// promise.
fn reopen(disk: &mut FakeDisk, opts: &Options) -> Trail {
    for _ in 0..16 + disk.scripted_pending() {
        let mut t = Trail::open(opts.clone(), LogId([3; 16]), 1);
        while let Some(req) = t.poll_io() {
            let r = disk.perform(&req.op);
            t.handle_io(req.id, r);
        }
        match t.poll_event() {
            Some(Event::Opened(_)) => return t,
            Some(Event::OpenFailed(evident_core::Error::Io { .. })) => continue,
            other => panic!("recovery refused the trail after a crash: {other:?}"),
        }
    }
    panic!("recovery kept failing")
}

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        segment_bytes: 2048,
        max_batch_records: 8,
        // Zeros ahead of the records in chunks of 64 bytes: several per segment.
        zero_fill_ahead: 512,
        ..Options::default()
    };
    let mut disk = FakeDisk::new(7, Faults::default());
    let mut t = reopen(&mut disk, &opts);
    let mut acked: BTreeMap<u64, evident_core::Hash> = BTreeMap::new();
    let mut failed = false;
    let mut token = 0u64;
    for &b in data {
        match b % 16 {
            0..=5 => {
                token += 1;
                let len = (b as usize * 7) % 400;
                if b & 64 != 0 {
                    // Prepared (payload hash and agent computed first), as the native adapter
                    // queues appends: the same record either way.
                    let p = evident_core::PreparedPayload::new(vec![b; len]);
                    let _ = t.handle_append_prepared(token, p, token, None);
                } else {
                    let _ = t.handle_append(token, vec![b; len], token);
                }
            }
            6 => disk.script(OpKind::SegmentWrite, Scripted::NoSpace),
            7 => disk.script(OpKind::SegmentWrite, Scripted::Short(b as u64)),
            8 => disk.script(OpKind::BatchSync, Scripted::Eio),
            9 if b & 32 != 0 => disk.script(OpKind::Tile, Scripted::Eio),
            9 => disk.script(OpKind::Truncate, Scripted::Eio),
            10 | 11 => {
                // Crash: power loss or process crash, then recovery and the checks.
                if b & 16 != 0 {
                    disk.power_loss();
                } else {
                    disk.process_crash();
                }
                t = reopen(&mut disk, &opts);
                failed = false;
                let head = t.head();
                let report = verify(&mut disk, vec![]).expect("the trail verifies after recovery");
                assert_eq!(report.head.seq, head.seq);
                // The root at the recovered durable head is the root recomputed from the records.
                let th = t.tree_head();
                assert_eq!(
                    report.tree,
                    Some((th.size, th.root)),
                    "tree at the recovered head"
                );
                let mut reader = evident_core::query::QueryTask::new(
                    evident_core::query::QuerySpec::default(),
                    1 << 16,
                );
                while let Some(op) = reader.poll_io() {
                    let r = disk.perform(&op);
                    reader.handle_io(&op, r);
                }
                let present: BTreeMap<u64, _> = reader
                    .take_result()
                    .unwrap()
                    .unwrap()
                    .records
                    .into_iter()
                    .map(|f| (f.seq, f.hash))
                    .collect();
                for (seq, hash) in &acked {
                    assert_eq!(
                        present.get(seq),
                        Some(hash),
                        "acknowledged durable record {seq} lost or changed"
                    );
                }
                acked.retain(|s, _| *s <= head.seq);
                // Tiles (possibly stale, torn by the power loss, or half written) never make
                // prove name a wrong record.
                let seqs = [1, head.seq, 1 + u64::from(b) % head.seq.max(1)];
                if let Err(e) = evident_core::sim::check_proofs(&mut disk, th.size, th.root, &seqs) {
                    panic!("prove over the tiles on disk: {e}");
                }
                continue;
            }
            _ => {
                // Perform some IO, of the tile lane too when bit 5 says so.
                for _ in 0..(b as usize % 8 + 1) {
                    if b & 32 != 0 {
                        if let Some(req) = t.poll_tile_io() {
                            let r = disk.perform(&req.op);
                            t.handle_tile_io(req.id, r);
                        }
                    }
                    let Some(req) = t.poll_io() else { break };
                    let r = disk.perform(&req.op);
                    t.handle_io(req.id, r);
                }
            }
        }
        while let Some(e) = t.poll_event() {
            match e {
                Event::Appended { receipt, .. } => {
                    assert!(!failed, "acknowledged while failed");
                    assert!(receipt.durable);
                    acked.insert(receipt.seq, receipt.hash);
                }
                Event::HealthChanged { to, .. } => failed = to == HealthState::Failed,
                _ => {}
            }
        }
    }
});
