//! Simulation support (feature `sim`): a fake disk with a page cache and injectable faults, a
//! seeded generator, and drivers that run the real state machines against them. Used by the
//! deterministic simulation tests and the fuzz targets; not needed by hosts.

mod disk;
mod events;
mod rng;

pub use disk::{DiskStats, FakeDisk, Faults, OpKind, Scripted};
pub use events::sample_events;
pub use rng::SimRng;

use crate::io::IoResult;
use crate::trail::{Event, Trail};
use crate::verify::{VerifyReport, VerifyTask};
use crate::Error;

/// Runs the trail's IO against the disk until it has nothing to do; returns the events, and
/// for each performed request whether it succeeded, in order. Panics if the trail keeps issuing
/// IO without end (more than `limit` requests): a state machine must settle.
pub fn drive(
    trail: &mut Trail,
    disk: &mut FakeDisk,
    limit: usize,
) -> (Vec<Event>, Vec<(crate::IoOp, bool)>) {
    let mut events = Vec::new();
    let mut ops = Vec::new();
    let mut n = 0;
    loop {
        let mut progressed = false;
        while let Some(req) = trail.poll_io() {
            n += 1;
            assert!(
                n <= limit,
                "state machine issued more than {limit} IO requests without settling"
            );
            let r: IoResult = disk.perform(&req.op);
            ops.push((req.op.clone(), r.is_ok() && !disk.last_faulted));
            trail.handle_io(req.id, r);
            progressed = true;
        }
        while let Some(e) = trail.poll_event() {
            events.push(e);
            progressed = true;
        }
        if !progressed {
            return (events, ops);
        }
    }
}

/// [`drive`] with the tile lane driven too: one tile request after each main-lane request
/// (and until both lanes are quiet). Returns the events and the main lane's requests.
pub fn drive_with_tiles(
    trail: &mut Trail,
    disk: &mut FakeDisk,
    limit: usize,
) -> (Vec<Event>, Vec<(crate::IoOp, bool)>) {
    let mut events = Vec::new();
    let mut ops = Vec::new();
    let mut n = 0;
    loop {
        let mut progressed = false;
        if let Some(req) = trail.poll_io() {
            let r: IoResult = disk.perform(&req.op);
            ops.push((req.op.clone(), r.is_ok() && !disk.last_faulted));
            trail.handle_io(req.id, r);
            progressed = true;
            n += 1;
        }
        if let Some(req) = trail.poll_tile_io() {
            let r: IoResult = disk.perform(&req.op);
            trail.handle_tile_io(req.id, r);
            progressed = true;
            n += 1;
        }
        assert!(
            n <= limit,
            "state machine issued more than {limit} IO requests without settling"
        );
        while let Some(e) = trail.poll_event() {
            events.push(e);
            progressed = true;
        }
        if !progressed {
            return (events, ops);
        }
    }
}

/// Verifies the trail on the disk (no faults injected during verification).
pub fn verify(
    disk: &mut FakeDisk,
    checkpoints: Vec<crate::Checkpoint>,
) -> Result<VerifyReport, Error> {
    let saved = std::mem::take(&mut disk.faults);
    let mut task = VerifyTask::new(checkpoints, 64 * 1024);
    while let Some(op) = task.poll_io() {
        let r = disk.perform(&op);
        task.handle_io(&op, r);
    }
    disk.faults = saved;
    task.take_result().expect("the task finished")
}

/// Runs a query on the disk (no faults injected while it runs).
pub fn query(
    disk: &mut FakeDisk,
    spec: crate::query::QuerySpec,
) -> Result<crate::query::QueryResult, Error> {
    let saved = std::mem::take(&mut disk.faults);
    let mut task = crate::query::QueryTask::new(spec, 64 * 1024);
    while let Some(op) = task.poll_io() {
        let r = disk.perform(&op);
        task.handle_io(&op, r);
    }
    disk.faults = saved;
    task.take_result().expect("the task finished")
}
