//! Health, durability policies, group commit, rotation and close, driven one IO at a time.
//!
//! Each test runs the real `Trail` on a `FakeDisk` with *scripted* faults (`FakeDisk::script`:
//! "the next batch sync fails with EIO", "the next segment write is short", ...), so every
//! failure happens at a known step. The driver records IO requests and events in one timeline
//! (`Step`), because most of what matters here is order: what is acknowledged before or after
//! which sync, and what happens before a health transition.

use evident_core::frame::{entry_frame_len, KIND_ENTRY, KIND_FOOTER};
use evident_core::header::HEADER_LEN;
use evident_core::naming::{self, HEAD_CHECKPOINT, HEAD_CHECKPOINT_TMP};
use evident_core::sim::{verify, FakeDisk, Faults, OpKind, Scripted};
use evident_core::{
    Durability, Error, Event, HealthState, IoErrorKind, IoOp, IoRequest, LogId, Options, Receipt,
    Trail,
};
use std::collections::BTreeMap;
use HealthState::{Degraded, Failed, Healthy};

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

const T0: u64 = 1_700_000_000_000_000_000;
/// Host time at open (what `poll_timeout` deadlines are relative to).
const NOW0: u64 = 1_000;
/// Every payload is this long, so every frame is `FRAME` bytes.
const PAYLOAD: usize = 64;
const FRAME: usize = entry_frame_len(PAYLOAD);

/// Small segments (so a test never holds 64 MiB of preallocated zeros), no zeros written
/// ahead (these tests follow the exact sequence of requests; `zero_fill.rs` tests the zeros),
/// everything else default.
fn opts() -> Options {
    Options {
        segment_bytes: 256 << 10,
        zero_fill_ahead: 0,
        ..Options::default()
    }
}

fn payload(token: u64) -> Vec<u8> {
    let mut p = format!("{{\"token\":{token},\"kind\":\"exec.request\"}}").into_bytes();
    p.resize(PAYLOAD, b' ');
    p
}

/// One entry of the timeline: an IO request performed (and whether it succeeded), or an event.
#[derive(Debug, Clone)]
enum Step {
    Io(IoOp, bool),
    Ev(Event),
}

struct Rig {
    trail: Trail,
    disk: FakeDisk,
}

impl Rig {
    fn open(o: Options) -> Rig {
        let mut rig = Rig {
            trail: Trail::open(o, LogId([3; 16]), NOW0),
            disk: FakeDisk::new(1, Faults::default()),
        };
        let steps = rig.run();
        assert!(
            matches!(events(&steps).first(), Some(Event::Opened(r)) if r.created),
            "{steps:?}"
        );
        rig
    }

    fn append(&mut self, token: u64) {
        self.trail
            .handle_append(token, payload(token), T0 + token)
            .expect("append accepted");
    }

    /// Performs `req` on the disk, hands the result back, and records it with the events it
    /// caused.
    fn complete(&mut self, req: IoRequest, out: &mut Vec<Step>) {
        let r = self.disk.perform(&req.op);
        let ok = r.is_ok() && !self.disk.last_faulted;
        out.push(Step::Io(req.op, ok));
        self.trail.handle_io(req.id, r);
        self.drain(out);
    }

    fn drain(&mut self, out: &mut Vec<Step>) {
        while let Some(e) = self.trail.poll_event() {
            out.push(Step::Ev(e));
        }
    }

    /// Performs the next IO request, if there is one.
    fn step(&mut self, out: &mut Vec<Step>) -> bool {
        let req = self.trail.poll_io();
        // `poll_io` itself can emit events (`Opened` when recovery finishes, appends failed
        // when the trail gives up on a job): they come before the request in the timeline.
        self.drain(out);
        match req {
            Some(req) => {
                self.complete(req, out);
                true
            }
            None => false,
        }
    }

    /// Runs until the trail has nothing more to do; returns the timeline.
    fn run(&mut self) -> Vec<Step> {
        let mut out = Vec::new();
        let mut n = 0;
        while self.step(&mut out) {
            n += 1;
            assert!(n < 100_000, "the state machine must settle");
        }
        out
    }

    /// The active (last) segment's file name.
    fn active(&self) -> String {
        self.trail.segments().last().unwrap().1.clone()
    }
}

fn events(steps: &[Step]) -> Vec<&Event> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Ev(e) => Some(e),
            Step::Io(..) => None,
        })
        .collect()
}

fn ios(steps: &[Step]) -> Vec<(&IoOp, bool)> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Io(op, ok) => Some((op, *ok)),
            Step::Ev(_) => None,
        })
        .collect()
}

fn acks(steps: &[Step]) -> Vec<(u64, Receipt)> {
    events(steps)
        .into_iter()
        .filter_map(|e| match e {
            Event::Appended { token, receipt } => Some((*token, *receipt)),
            _ => None,
        })
        .collect()
}

fn ack_seqs(steps: &[Step]) -> Vec<(u64, u64)> {
    acks(steps).into_iter().map(|(t, r)| (t, r.seq)).collect()
}

fn failures(steps: &[Step]) -> Vec<(u64, Error)> {
    events(steps)
        .into_iter()
        .filter_map(|e| match e {
            Event::AppendFailed { token, error } => Some((*token, error.clone())),
            _ => None,
        })
        .collect()
}

fn health_changes(steps: &[Step]) -> Vec<(HealthState, HealthState)> {
    events(steps)
        .into_iter()
        .filter_map(|e| match e {
            Event::HealthChanged { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

/// Index of the first step matching `pred` at or after `from`.
#[track_caller]
fn find_from(steps: &[Step], from: usize, what: &str, pred: impl Fn(&Step) -> bool) -> usize {
    match steps[from..].iter().position(pred) {
        Some(i) => from + i,
        None => panic!("no {what} at or after step {from} in {steps:#?}"),
    }
}

#[track_caller]
fn find(steps: &[Step], what: &str, pred: impl Fn(&Step) -> bool) -> usize {
    find_from(steps, 0, what, pred)
}

/// A named condition on one step, for [`in_order`].
type StepPred<'a> = &'a dyn Fn(&Step) -> bool;

/// Finds each named step after the previous one; returns their indexes (strictly increasing).
#[track_caller]
fn in_order(steps: &[Step], preds: &[(&str, StepPred)]) -> Vec<usize> {
    let mut at = 0;
    let mut out = Vec::new();
    for (what, pred) in preds {
        let i = find_from(steps, at, what, pred);
        out.push(i);
        at = i + 1;
    }
    out
}

fn is_batch_write(s: &Step) -> bool {
    matches!(s, Step::Io(IoOp::Write { data, .. }, _) if data.first() == Some(&KIND_ENTRY))
}

fn is_batch_sync(s: &Step) -> bool {
    matches!(
        s,
        Step::Io(
            IoOp::Sync {
                metadata: false,
                ..
            },
            _
        )
    )
}

fn is_read(s: &Step) -> bool {
    matches!(s, Step::Io(IoOp::Read { .. }, _))
}

fn is_ack(s: &Step) -> bool {
    matches!(s, Step::Ev(Event::Appended { .. }))
}

fn is_health(s: &Step, from: HealthState, to: HealthState) -> bool {
    matches!(s, Step::Ev(Event::HealthChanged { from: f, to: t, .. }) if (*f, *t) == (from, to))
}

fn snapshot(disk: &FakeDisk) -> BTreeMap<String, Vec<u8>> {
    disk.file_names()
        .into_iter()
        .map(|n| {
            let b = disk.read_file(&n).unwrap().to_vec();
            (n, b)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// (a) ENOSPC: degraded, and back to healthy after `healthy_after` durable writes
// ---------------------------------------------------------------------------------------------

#[test]
fn enospc_fails_exactly_its_batch_and_degrades_until_three_durable_writes() {
    let mut rig = Rig::open(Options {
        healthy_after: 3,
        max_batch_records: 3,
        ..opts()
    });
    for t in 1..=3 {
        rig.append(t);
    }
    let s = rig.run();
    assert_eq!(ack_seqs(&s), vec![(1, 1), (2, 2), (3, 3)]);
    assert_eq!(rig.trail.health().state, Healthy);
    let end_of_records = (HEADER_LEN + 3 * FRAME) as u64;

    // Two batches queued: 4..=6 (whose write fails) and 7..=8.
    rig.disk.script(OpKind::SegmentWrite, Scripted::NoSpace);
    for t in 4..=8 {
        rig.append(t);
    }
    let mut s = Vec::new();
    while failures(&s).is_empty() {
        assert!(rig.step(&mut s), "the write must fail");
    }
    let h = rig.trail.health();
    assert_eq!(h.state, Degraded);
    assert_eq!(
        (h.consecutive_failures, h.write_failures, h.total_failures),
        (1, 1, 1)
    );
    assert!(h.last_error.as_deref().unwrap().contains("ENOSPC"), "{h:?}");
    while rig.step(&mut s) {}

    let failed = failures(&s);
    assert_eq!(
        failed.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    for (_, e) in &failed {
        match e {
            Error::Io {
                op,
                location,
                error,
            } => {
                assert_eq!(*op, "write");
                assert_eq!(error.kind, IoErrorKind::NoSpace);
                assert_eq!(location.file.as_deref(), Some(rig.active().as_str()));
                assert_eq!(location.offset, Some(end_of_records));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(health_changes(&s), vec![(Healthy, Degraded)]);
    // The next batch reuses the seqs the failed one never got to keep.
    assert_eq!(ack_seqs(&s), vec![(7, 4), (8, 5)]);
    assert!(acks(&s).iter().all(|(_, r)| r.durable));
    // Whatever the failed write left is cut, and the cut synced, before the next batch.
    let [cut, cut_sync, next] = in_order(
        &s,
        &[
            (
                "cut",
                &|s| matches!(s, Step::Io(IoOp::Truncate { len, .. }, true) if *len == end_of_records),
            ),
            ("cut sync", &|s| {
                matches!(s, Step::Io(IoOp::Sync { metadata: true, .. }, true))
            }),
            (
                "next batch",
                &|s| matches!(s, Step::Io(IoOp::Write { offset, data, .. }, true) if *offset == end_of_records && data.len() == 2 * FRAME),
            ),
        ],
    )[..] else {
        unreachable!()
    };
    assert!(cut < cut_sync && cut_sync < next);
    assert_eq!(rig.trail.health().consecutive_successes, 1);

    // Durable write 2: still degraded.
    rig.append(9);
    let s = rig.run();
    assert_eq!(ack_seqs(&s), vec![(9, 6)]);
    assert!(health_changes(&s).is_empty());
    assert_eq!(rig.trail.health().state, Degraded, "2 of 3 durable writes");
    // Durable write 3: healthy.
    rig.append(10);
    let s = rig.run();
    assert_eq!(ack_seqs(&s), vec![(10, 7)]);
    assert_eq!(health_changes(&s), vec![(Degraded, Healthy)]);

    let h = rig.trail.health();
    assert_eq!(h.state, Healthy);
    assert_eq!(h.write_failures, 1);
    assert_eq!(h.sync_failures, 0);
    assert_eq!(h.total_failures, 1);
    assert_eq!(h.consecutive_failures, 0);
    assert_eq!(h.consecutive_successes, 3);
    assert_eq!(h.records, 7, "acknowledged records only");
    assert_eq!(
        h.fsyncs, 4,
        "one per successful batch (cut syncs are not batch fsyncs)"
    );
    assert_eq!(h.batches, 4, "the failed batch is not counted");
    assert_eq!((h.max_batch, h.last_batch), (3, 1));
    assert_eq!(h.bytes, 7 * FRAME as u64);
    let r = verify(&mut rig.disk, vec![]).unwrap();
    assert_eq!(r.records, 7);
}

// ---------------------------------------------------------------------------------------------
// (b) a short write
// ---------------------------------------------------------------------------------------------

#[test]
fn short_write_fails_its_batch_and_the_partial_bytes_are_cut() {
    for preallocate in [true, false] {
        let mut rig = Rig::open(Options {
            preallocate,
            ..opts()
        });
        rig.append(1);
        assert_eq!(ack_seqs(&rig.run()), vec![(1, 1)]);
        let seg = rig.active();
        let before = rig.disk.read_file(&seg).unwrap().to_vec();

        rig.disk.script(OpKind::SegmentWrite, Scripted::Short(30));
        rig.append(2);
        rig.append(3);
        let s = rig.run();
        let failed = failures(&s);
        assert_eq!(failed.iter().map(|f| f.0).collect::<Vec<_>>(), vec![2, 3]);
        for (_, e) in &failed {
            assert!(
                matches!(e, Error::Io { op: "write", error, .. } if error.message.contains("short write: 30 of")),
                "{e:?}"
            );
        }
        assert!(acks(&s).is_empty());
        assert_eq!(health_changes(&s), vec![(Healthy, Degraded)]);
        // The 30 bytes that did reach the file are gone: the file is what it was before.
        assert_eq!(
            rig.disk.read_file(&seg).unwrap(),
            &before[..],
            "preallocate {preallocate}"
        );

        // The seqs are reused.
        rig.append(4);
        assert_eq!(ack_seqs(&rig.run()), vec![(4, 2)]);
        assert_eq!(verify(&mut rig.disk, vec![]).unwrap().records, 2);
    }
}

// ---------------------------------------------------------------------------------------------
// (c), (d) a failed sync latches failed until the durable data is re-verified
// ---------------------------------------------------------------------------------------------

#[test]
fn failed_sync_latches_failed_until_the_segment_is_re_verified() {
    let mut rig = Rig::open(opts());
    rig.append(1);
    rig.append(2);
    assert_eq!(ack_seqs(&rig.run()), vec![(1, 1), (2, 2)]);
    let seg = rig.active();

    rig.disk.script(OpKind::BatchSync, Scripted::Eio);
    rig.append(3);
    rig.append(4);
    let s = rig.run();
    let failed = failures(&s);
    assert_eq!(failed.iter().map(|f| f.0).collect::<Vec<_>>(), vec![3, 4]);
    assert!(
        failed
            .iter()
            .all(|(_, e)| matches!(e, Error::Io { op: "sync", .. })),
        "{failed:?}"
    );
    assert_eq!(health_changes(&s), vec![(Healthy, Failed)]);
    assert_eq!(
        rig.trail.head().seq,
        2,
        "the head stays at the last synced record"
    );
    assert!(
        !s.iter().any(is_read),
        "nothing is re-read until there is something to write"
    );

    // Appends while failed: nothing is written or acknowledged before the trail has re-read
    // the segment, confirmed what it acknowledged, and left the failed state.
    rig.append(5);
    rig.append(6);
    let s = rig.run();
    let first_read = find(&s, "re-read", is_read);
    let recovered = find(&s, "failed -> degraded", |s| is_health(s, Failed, Degraded));
    let first_write = find(&s, "batch write", is_batch_write);
    let first_ack = find(&s, "ack", is_ack);
    assert!(first_read < recovered && recovered < first_write && first_write < first_ack);
    assert!(failures(&s).is_empty());
    for (op, _) in ios(&s[..recovered]) {
        assert_eq!(
            op.file(),
            Some(seg.as_str()),
            "the re-verification works on {seg}: {op:?}"
        );
    }
    // The failed records (3, 4) were never acknowledged: their seqs go to the new appends.
    assert_eq!(ack_seqs(&s), vec![(5, 3), (6, 4)]);
    assert!(acks(&s).iter().all(|(_, r)| r.durable));
    let h = rig.trail.health();
    assert_eq!(
        (h.state, h.sync_failures, h.total_failures),
        (Degraded, 1, 1)
    );
    let r = verify(&mut rig.disk, vec![]).unwrap();
    assert_eq!(r.records, 4);
    assert_eq!(r.head.hash, acks(&s)[1].1.hash);
}

#[test]
fn re_verification_that_finds_altered_data_latches_until_reopened() {
    let mut rig = Rig::open(opts());
    rig.append(1);
    rig.append(2);
    assert_eq!(ack_seqs(&rig.run()), vec![(1, 1), (2, 2)]);
    let seg = rig.active();

    rig.disk.script(OpKind::BatchSync, Scripted::Eio);
    rig.append(3);
    let s = rig.run();
    assert_eq!(failures(&s).len(), 1);
    assert_eq!(rig.trail.health().state, Failed);

    // The medium changes an acknowledged record before the trail re-reads it.
    let payload_bit = ((HEADER_LEN + 56 + 3) * 8) as u64;
    rig.disk.flip_bit(&seg, payload_bit);
    rig.append(4);
    let s = rig.run();
    assert!(s.iter().any(is_read), "the segment was re-read: {s:?}");
    assert!(acks(&s).is_empty());
    assert!(health_changes(&s).is_empty(), "stays failed: {s:?}");
    match &failures(&s)[..] {
        [(4, Error::Failed { reason })] => {
            assert!(reason.contains("re-verification"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.trail.health().state, Failed);
    // From now on appends are refused at once, and sync requests fail.
    match rig.trail.handle_append(5, payload(5), T0) {
        Err(Error::Failed { reason }) => assert!(reason.contains("re-verification"), "{reason}"),
        other => panic!("{other:?}"),
    }
    rig.trail.handle_sync(9);
    let s = rig.run();
    assert!(
        matches!(
            &events(&s)[..],
            [Event::SyncFailed {
                token: 9,
                error: Error::Failed { .. }
            }]
        ),
        "{s:?}"
    );

    // Reopening reports the damage (with valid records after it) instead of cutting it.
    let before = snapshot(&rig.disk);
    let mut t = Trail::open(opts(), LogId([3; 16]), NOW0);
    let (ev, _) = evident_core::sim::drive(&mut t, &mut rig.disk, 10_000);
    match &ev[..] {
        [Event::OpenFailed(Error::Corrupt { location, what })] => {
            assert_eq!(location.file.as_deref(), Some(seg.as_str()));
            assert_eq!(
                (location.offset, location.seq),
                (Some(HEADER_LEN as u64), Some(1))
            );
            assert!(what.contains("valid records resume"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&rig.disk), before, "nothing was cut");
}

// ---------------------------------------------------------------------------------------------
// (e), (f) the Interval and Os policies
// ---------------------------------------------------------------------------------------------

#[test]
fn interval_policy_acknowledges_written_records_and_syncs_at_the_deadline() {
    const NANOS: u64 = 1_000_000;
    let mut rig = Rig::open(Options {
        durability: Durability::Interval { nanos: NANOS },
        ..opts()
    });
    rig.append(1);
    let s = rig.run();
    assert!(
        matches!(&acks(&s)[..], [(1, r)] if r.seq == 1 && !r.durable),
        "{s:?}"
    );
    assert!(
        !s.iter()
            .any(|s| matches!(s, Step::Io(IoOp::Sync { .. }, _))),
        "{s:?}"
    );
    let deadline = NOW0 + NANOS;
    assert_eq!(rig.trail.poll_timeout(), Some(deadline));

    // A second write does not move the deadline: it is counted from the first unsynced write.
    rig.append(2);
    let s = rig.run();
    assert!(
        matches!(&acks(&s)[..], [(2, r)] if r.seq == 2 && !r.durable),
        "{s:?}"
    );
    assert_eq!(rig.trail.poll_timeout(), Some(deadline));
    assert_eq!((rig.trail.head().seq, rig.trail.written_head().seq), (0, 2));

    rig.trail.handle_timeout(deadline - 1);
    assert!(rig.run().is_empty(), "nothing to do before the deadline");
    rig.trail.handle_timeout(deadline);
    let s = rig.run();
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        matches!(
            &s[0],
            Step::Io(
                IoOp::Sync {
                    metadata: false,
                    ..
                },
                true
            )
        ),
        "{s:?}"
    );
    // No sync deadline left; the next timer is the head checkpoint's refresh, one
    // `checkpoint_interval` after the open, now that records 1 and 2 are durable.
    assert_eq!(rig.trail.poll_timeout(), Some(NOW0 + 1_000_000_000));
    assert_eq!(rig.trail.head(), rig.trail.written_head());
    assert_eq!(rig.trail.head().seq, 2);
    assert!(rig.run().is_empty(), "one sync, then idle");
}

#[test]
fn os_policy_reports_synced_only_after_a_successful_sync() {
    let mut rig = Rig::open(Options {
        durability: Durability::Os,
        ..opts()
    });
    rig.append(1);
    rig.append(2);
    let s = rig.run();
    assert_eq!(ack_seqs(&s), vec![(1, 1), (2, 2)]);
    assert!(acks(&s).iter().all(|(_, r)| !r.durable));
    let hash2 = acks(&s)[1].1.hash;
    assert!(
        !s.iter()
            .any(|s| matches!(s, Step::Io(IoOp::Sync { .. }, _))),
        "{s:?}"
    );
    assert_eq!(rig.trail.head().seq, 0);
    assert_eq!(rig.trail.poll_timeout(), None, "no deadline under Os");

    rig.trail.handle_sync(77);
    let s = rig.run();
    let synced = find(&s, "Synced", |s| {
        matches!(s, Step::Ev(Event::Synced { token: 77 }))
    });
    let sync = find(&s, "sync", |s| {
        matches!(s, Step::Io(IoOp::Sync { .. }, true))
    });
    assert!(sync < synced);
    assert_eq!(rig.trail.head().seq, 2);
    assert_eq!(rig.trail.head().hash, hash2);

    // The sync fails: no Synced, head unchanged, until a later sync succeeds.
    rig.append(3);
    let s = rig.run();
    assert_eq!(ack_seqs(&s), vec![(3, 3)]);
    let hash3 = acks(&s)[0].1.hash;
    rig.disk.script(OpKind::BatchSync, Scripted::Eio);
    rig.trail.handle_sync(78);
    let mut s = Vec::new();
    assert!(rig.step(&mut s));
    assert!(matches!(&s[0], Step::Io(IoOp::Sync { .. }, false)), "{s:?}");
    assert_eq!(health_changes(&s), vec![(Healthy, Failed)]);
    assert_eq!(
        rig.trail.head().seq,
        2,
        "a failed sync does not advance the head"
    );
    while rig.step(&mut s) {}
    let synced = find(&s, "Synced", |s| {
        matches!(s, Step::Ev(Event::Synced { token: 78 }))
    });
    let good_sync = find_from(&s, 1, "successful sync", |s| {
        matches!(s, Step::Io(IoOp::Sync { .. }, true))
    });
    let recovered = find(&s, "failed -> degraded", |s| is_health(s, Failed, Degraded));
    assert!(good_sync < recovered && recovered < synced, "{s:#?}");
    assert_eq!(rig.trail.head().seq, 3);
    assert_eq!(rig.trail.head().hash, hash3);
    assert_eq!(
        verify(&mut rig.disk, vec![rig.trail.head()])
            .unwrap()
            .records,
        3
    );
}

// ---------------------------------------------------------------------------------------------
// (g) close
// ---------------------------------------------------------------------------------------------

#[test]
fn close_writes_queued_appends_then_the_checkpoint_atomically() {
    let mut rig = Rig::open(opts());
    for t in 1..=3 {
        rig.append(t);
    }
    rig.trail.handle_close();
    assert_eq!(
        rig.trail.handle_append(4, payload(4), T0),
        Err(Error::Closed),
        "closing: no more appends"
    );
    let s = rig.run();
    assert_eq!(ack_seqs(&s), vec![(1, 1), (2, 2), (3, 3)]);
    assert!(acks(&s).iter().all(|(_, r)| r.durable));
    let head = rig.trail.head();
    assert_eq!(head.seq, 3);

    let tmp = HEAD_CHECKPOINT_TMP;
    let order = in_order(
        &s,
        &[
            ("batch sync", &is_batch_sync),
            ("last ack", &|s| {
                matches!(s, Step::Ev(Event::Appended { token: 3, .. }))
            }),
            (
                "create tmp",
                &|s| matches!(s, Step::Io(IoOp::Create { file }, true) if file == tmp),
            ),
            (
                "write tmp",
                &|s| matches!(s, Step::Io(IoOp::Write { file, data, .. }, true) if file == tmp && own_file_is(data, &head)),
            ),
            (
                "sync tmp",
                &|s| matches!(s, Step::Io(IoOp::Sync { file, .. }, true) if file == tmp),
            ),
            (
                "rename",
                &|s| matches!(s, Step::Io(IoOp::Rename { from, to }, true) if from == tmp && to == HEAD_CHECKPOINT),
            ),
            ("sync dir", &|s| matches!(s, Step::Io(IoOp::SyncDir, true))),
            (
                "checkpoint written",
                &|s| matches!(s, Step::Ev(Event::CheckpointWritten(cp)) if *cp == head),
            ),
            (
                "closed",
                &|s| matches!(s, Step::Ev(Event::Closed { head: h }) if *h == head),
            ),
        ],
    );
    assert_eq!(
        *order.last().unwrap(),
        s.len() - 1,
        "Closed is the last thing: {s:#?}"
    );
    assert!(own_file_is(
        rig.disk.read_file(HEAD_CHECKPOINT).unwrap(),
        &head
    ));
    assert!(
        rig.disk.read_file(tmp).is_none(),
        "the temporary file was renamed"
    );
    assert!(rig.trail.is_closed());
    assert_eq!(
        rig.trail.handle_append(5, payload(5), T0),
        Err(Error::Closed)
    );
    assert!(rig.trail.poll_io().is_none());
    let r = verify(&mut rig.disk, vec![]).unwrap();
    assert_eq!(r.checkpoints_verified, vec![head]);
}

// ---------------------------------------------------------------------------------------------
// (h) rotation
// ---------------------------------------------------------------------------------------------

#[test]
fn rotation_makes_the_seal_and_the_new_segment_durable_before_acknowledging_into_it() {
    // 16 frames of 120 bytes fill a 2 KiB segment exactly; record 17 starts the next one.
    let per_segment = (2048 - HEADER_LEN) / FRAME;
    assert_eq!(per_segment, 16);
    let mut rig = Rig::open(Options {
        segment_bytes: 2048,
        ..opts()
    });
    let old = rig.active();
    for t in 1..=20 {
        rig.append(t);
    }
    let s = rig.run();
    assert_eq!(
        ack_seqs(&s),
        (1..=20).map(|t| (t, t)).collect::<Vec<_>>(),
        "every append acknowledged in order"
    );
    let new = naming::segment_name(17);
    assert_eq!(rig.active(), new);

    let first_new_ack = find(
        &s,
        "ack of seq 17",
        |s| matches!(s, Step::Ev(Event::Appended { receipt, .. }) if receipt.seq == 17),
    );
    let last_old_ack = find(
        &s,
        "ack of seq 16",
        |s| matches!(s, Step::Ev(Event::Appended { receipt, .. }) if receipt.seq == 16),
    );
    let steps = in_order(
        &s,
        &[
            (
                "footer write",
                &|s| matches!(s, Step::Io(IoOp::Write { file, data, .. }, true) if *file == old && data[0] == KIND_FOOTER),
            ),
            (
                "sync old",
                &|s| matches!(s, Step::Io(IoOp::Sync { file, .. }, true) if *file == old),
            ),
            (
                "create new",
                &|s| matches!(s, Step::Io(IoOp::Create { file }, true) if *file == new),
            ),
            (
                "header write",
                &|s| matches!(s, Step::Io(IoOp::Write { file, offset: 0, data }, true) if *file == new && data.len() == HEADER_LEN),
            ),
            (
                "sync new",
                &|s| matches!(s, Step::Io(IoOp::Sync { file, .. }, true) if *file == new),
            ),
            ("sync dir", &|s| matches!(s, Step::Io(IoOp::SyncDir, true))),
            (
                "rotated",
                &|s| matches!(s, Step::Ev(Event::Rotated { sealed, created, first_seq: 17 }) if *sealed == old && *created == new),
            ),
            (
                "batch write into new",
                &|s| matches!(s, Step::Io(IoOp::Write { file, offset, .. }, true) if *file == new && *offset == HEADER_LEN as u64),
            ),
            (
                "batch sync of new",
                &|s| matches!(s, Step::Io(IoOp::Sync { file, metadata: false }, true) if *file == new),
            ),
        ],
    );
    assert!(
        last_old_ack < steps[0],
        "the old segment's records are durable before the seal"
    );
    assert!(*steps.last().unwrap() < first_new_ack, "{s:#?}");
    let r = verify(&mut rig.disk, vec![]).unwrap();
    assert_eq!((r.segments, r.records), (2, 20));
}

// ---------------------------------------------------------------------------------------------
// (i) group commit
// ---------------------------------------------------------------------------------------------

#[test]
fn group_commit_respects_max_batch_records() {
    let mut rig = Rig::open(Options {
        max_batch_records: 100,
        ..opts()
    });
    for t in 1..=1000 {
        rig.append(t);
    }
    let s = rig.run();
    let writes: Vec<&Step> = s.iter().filter(|s| is_batch_write(s)).collect();
    let syncs = s.iter().filter(|s| is_batch_sync(s)).count();
    assert_eq!((writes.len(), syncs), (10, 10));
    for w in writes {
        assert!(matches!(w, Step::Io(IoOp::Write { data, .. }, true) if data.len() == 100 * FRAME));
    }
    assert_eq!(ack_seqs(&s), (1..=1000).map(|t| (t, t)).collect::<Vec<_>>());
    let h = rig.trail.health();
    assert_eq!(
        (h.batches, h.max_batch, h.fsyncs, h.records),
        (10, 100, 10, 1000)
    );
}

#[test]
fn appends_arriving_while_io_is_outstanding_go_into_the_next_batch() {
    let mut rig = Rig::open(opts());
    let mut s = Vec::new();
    for t in 1..=3 {
        rig.append(t);
    }
    let write = rig.trail.poll_io().expect("batch write");
    assert!(matches!(&write.op, IoOp::Write { data, .. } if data.len() == 3 * FRAME));
    rig.append(4); // while the write is outstanding
    assert!(rig.trail.poll_io().is_none(), "one request at a time");
    rig.complete(write, &mut s);
    let sync = rig.trail.poll_io().expect("batch sync");
    assert!(matches!(
        &sync.op,
        IoOp::Sync {
            metadata: false,
            ..
        }
    ));
    rig.append(5); // while the sync is outstanding
    assert!(rig.trail.poll_io().is_none(), "one request at a time");
    assert!(acks(&s).is_empty(), "nothing acknowledged before the sync");
    rig.complete(sync, &mut s);
    assert_eq!(ack_seqs(&s), vec![(1, 1), (2, 2), (3, 3)]);

    let next = rig.trail.poll_io().expect("next batch");
    match &next.op {
        IoOp::Write { offset, data, .. } => {
            assert_eq!(*offset, (HEADER_LEN + 3 * FRAME) as u64);
            assert_eq!(data.len(), 2 * FRAME, "4 and 5 together");
        }
        other => panic!("{other:?}"),
    }
    let mut rest = Vec::new();
    rig.complete(next, &mut rest);
    while rig.step(&mut rest) {}
    assert_eq!(ack_seqs(&rest), vec![(4, 4), (5, 5)]);
    let h = rig.trail.health();
    assert_eq!((h.batches, h.max_batch, h.last_batch), (2, 3, 2));
}

// ---------------------------------------------------------------------------------------------
// (j) payload size
// ---------------------------------------------------------------------------------------------

#[test]
fn oversized_payload_is_refused_at_once_and_writes_nothing() {
    let mut rig = Rig::open(Options {
        max_payload: 1024,
        ..opts()
    });
    let before = snapshot(&rig.disk);
    assert_eq!(
        rig.trail.handle_append(1, vec![7; 1025], T0),
        Err(Error::TooLarge {
            len: 1025,
            max: 1024
        })
    );
    assert_eq!(rig.trail.queued(), 0);
    assert!(rig.run().is_empty(), "no IO, no event");
    assert_eq!(snapshot(&rig.disk), before);

    // The limit itself is accepted, and the refused append used no seq.
    rig.trail.handle_append(2, vec![7; 1024], T0).unwrap();
    assert_eq!(ack_seqs(&rig.run()), vec![(2, 1)]);
}

/// Whether `data` is `head.checkpoint` as a format-2 writer writes it for `head`: the four
/// lines of the checkpoint and the tree root line.
fn own_file_is(data: &[u8], head: &evident_core::Checkpoint) -> bool {
    std::str::from_utf8(data)
        .ok()
        .and_then(|t| evident_core::Checkpoint::parse_own_file(t).ok())
        .is_some_and(|(c, root)| c == *head && root.is_some())
}
