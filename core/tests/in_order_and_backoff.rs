//! Appends chained with `handle_append_after` stop at their first failure (nothing after it is
//! written), a failed segment creation is retried only after a backoff, and a close that cannot
//! create a segment ends with `close_error` instead of retrying forever.

use evident_core::sim::{FakeDisk, Faults, OpKind, Scripted};
use evident_core::{
    Event, IoOp, LogId, Options, Trail, MAX_RETRY_BACKOFF_NS, MIN_RETRY_BACKOFF_NS,
};

const T0: u64 = 1_700_000_000_000_000_000;

struct Rig {
    trail: Trail,
    disk: FakeDisk,
    events: Vec<Event>,
    ios: Vec<IoOp>,
}

impl Rig {
    fn open(o: Options) -> Rig {
        let mut rig = Rig {
            trail: Trail::open(o, LogId([5; 16]), 1_000),
            disk: FakeDisk::new(7, Faults::default()),
            events: Vec::new(),
            ios: Vec::new(),
        };
        rig.run();
        assert!(matches!(rig.events.first(), Some(Event::Opened(_))));
        rig.events.clear();
        rig
    }

    /// Runs until the trail has nothing more to do (bounded: it must settle).
    fn run(&mut self) {
        for _ in 0..100_000 {
            let req = self.trail.poll_io();
            while let Some(e) = self.trail.poll_event() {
                self.events.push(e);
            }
            let Some(req) = req else { return };
            let r = self.disk.perform(&req.op);
            self.ios.push(req.op);
            self.trail.handle_io(req.id, r);
            while let Some(e) = self.trail.poll_event() {
                self.events.push(e);
            }
        }
        panic!("the state machine did not settle");
    }

    fn outcome(&self, token: u64) -> Option<Result<u64, String>> {
        self.events.iter().find_map(|e| match e {
            Event::Appended { token: t, receipt } if *t == token => Some(Ok(receipt.seq)),
            Event::AppendFailed { token: t, error } if *t == token => Some(Err(error.to_string())),
            _ => None,
        })
    }
}

fn opts() -> Options {
    Options {
        segment_bytes: 64 << 10,
        max_batch_records: 3,
        ..Options::default()
    }
}

#[test]
fn a_chain_stops_at_its_first_failure_and_later_appends_follow_without_a_hole() {
    let mut rig = Rig::open(opts());
    rig.trail.handle_append(1, b"first".to_vec(), T0).unwrap();
    rig.run();
    assert_eq!(rig.outcome(1), Some(Ok(1)));

    // A chain whose first batch succeeds and whose second fails: the prefix is acknowledged,
    // the rest fails unwritten.
    rig.events.clear();
    for t in 40..=48 {
        let after = (t > 40).then_some(t - 1);
        rig.trail
            .handle_append_after(t, format!("c{t}").into_bytes(), T0, after)
            .unwrap();
    }
    // The first batch (40..=42) is written; fail the next write.
    let mut wrote = 0;
    for _ in 0..1000 {
        let Some(req) = rig.trail.poll_io() else {
            break;
        };
        let is_write = matches!(&req.op, IoOp::Write { file, .. } if file.ends_with(".evseg"));
        if is_write {
            wrote += 1;
            if wrote == 2 {
                rig.disk.script(OpKind::SegmentWrite, Scripted::Eio);
            }
        }
        let r = rig.disk.perform(&req.op);
        rig.trail.handle_io(req.id, r);
        while let Some(e) = rig.trail.poll_event() {
            rig.events.push(e);
        }
    }
    rig.run();
    assert_eq!(rig.outcome(40), Some(Ok(2)));
    assert_eq!(rig.outcome(42), Some(Ok(4)));
    for t in 43..=48 {
        assert!(rig.outcome(t).unwrap().is_err(), "token {t}");
    }
    rig.events.clear();
    rig.trail.handle_append(50, b"next".to_vec(), T0).unwrap();
    rig.run();
    assert_eq!(rig.outcome(50), Some(Ok(5)), "no hole: seq 5 follows seq 4");
}

/// A trail whose next append rotates, with the creation of the next segment set to fail.
fn rig_at_rotation() -> Rig {
    let mut rig = Rig::open(Options {
        segment_bytes: 4096,
        // No periodic head.checkpoint refresh: its deadline would hide whether the retry
        // deadline is there or gone.
        checkpoint_interval: 0,
        ..Options::default()
    });
    for t in [100, 101] {
        rig.trail.handle_append(t, vec![b'p'; 1500], T0).unwrap();
        rig.run();
        assert!(rig.outcome(t).unwrap().is_ok());
    }
    rig.disk.script(OpKind::Create, Scripted::Eio);
    rig.events.clear();
    rig
}

fn big() -> Vec<u8> {
    vec![b'q'; 1500]
}

#[test]
fn segment_creation_is_retried_only_after_a_backoff_and_close_ends() {
    let mut rig = rig_at_rotation();
    rig.trail.handle_append(1, big(), T0).unwrap();
    rig.run();
    assert!(rig.outcome(1).unwrap().is_err(), "{:?}", rig.events);
    let deadline = rig.trail.poll_timeout().expect("a retry deadline");
    assert!((1_000 + MIN_RETRY_BACKOFF_NS..=1_000 + MAX_RETRY_BACKOFF_NS).contains(&deadline));
    // Before the deadline: failed at once, no IO.
    let before = rig.ios.len();
    rig.trail.handle_append(2, big(), T0).unwrap();
    rig.run();
    assert!(rig.outcome(2).unwrap().unwrap_err().contains("backing off"));
    assert_eq!(rig.ios.len(), before, "no IO during the backoff");
    // After it: tried again (and succeeds now).
    rig.trail.handle_timeout(deadline);
    rig.trail.handle_append(3, big(), T0).unwrap();
    rig.run();
    assert_eq!(rig.outcome(3), Some(Ok(3)), "{:?}", rig.events);
    assert_eq!(
        rig.trail.poll_timeout(),
        None,
        "backoff over after a success"
    );
}

#[test]
fn close_that_cannot_create_a_segment_ends_with_an_error() {
    let mut rig = rig_at_rotation();
    rig.trail.handle_append(1, big(), T0).unwrap();
    rig.trail.handle_close();
    rig.run();
    assert!(rig.outcome(1).unwrap().is_err());
    assert!(
        rig.events.iter().any(|e| matches!(e, Event::Closed { .. })),
        "close ends: {:?}",
        rig.events
    );
    assert!(rig.trail.is_closed());
    let e = rig
        .trail
        .close_error()
        .expect("close says what it could not do");
    assert!(e.to_string().contains("create segment"), "{e}");
}
