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

/// The records on the disk, by seq: (timestamp, payload), read with a query (no faults).
fn records_on(disk: &mut FakeDisk) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    let r = query(disk, crate::query::QuerySpec::default())?;
    Ok(r.records.into_iter().map(|f| (f.ts, f.payload)).collect())
}

/// A [`crate::prove::ProofSource`] over the fake disk: records from a query, tiles as the
/// files under `tile/` hold them (whatever a crash or a tamper left there).
struct DiskSource<'a> {
    disk: &'a FakeDisk,
    records: &'a [(u64, Vec<u8>)],
}

impl crate::prove::ProofSource for DiskSource<'_> {
    type Error = String;
    fn record(&mut self, seq: u64) -> Result<Option<(u64, Vec<u8>)>, String> {
        Ok(seq
            .checked_sub(1)
            .and_then(|i| self.records.get(i as usize))
            .cloned())
    }
    fn read_tile(&mut self, path: &str, max_len: usize) -> Result<Option<Vec<u8>>, String> {
        Ok(self
            .disk
            .read_file(path)
            .map(|b| b[..b.len().min(max_len + 1)].to_vec()))
    }
    fn leaves(&mut self, size: u64) -> Result<Vec<crate::Hash>, String> {
        Ok(self
            .records
            .iter()
            .take(size as usize)
            .enumerate()
            .map(|(i, (ts, p))| crate::hash::leaf(crate::frame::KIND_ENTRY, i as u64 + 1, *ts, p))
            .collect())
    }
}

/// The invariant "tiles on disk never make prove emit a proof for a wrong record": proves
/// each of `seqs` against the tree (`size`, `root`, the writer's durable head) with the tiles
/// the disk holds, and checks that every proof is made, verifies against `root`, and carries
/// the record the disk holds at that seq. An error names the seq and what is wrong.
pub fn check_proofs(
    disk: &mut FakeDisk,
    size: u64,
    root: crate::Hash,
    seqs: &[u64],
) -> Result<(), String> {
    let records = records_on(disk).map_err(|e| format!("reading the records: {e}"))?;
    let head = crate::prove::TreeHead {
        origin: "evident/sim".into(),
        size,
        root,
    };
    let mut src = DiskSource {
        disk,
        records: &records,
    };
    for &seq in seqs.iter().filter(|s| (1..=size).contains(*s)) {
        let p = crate::prove::prove_inclusion(&mut src, &head, seq, None, true)
            .map_err(|e| format!("seq {seq}: no proof: {e}"))?;
        let (ts, payload) = &records[seq as usize - 1];
        if p.ts != *ts || p.payload.as_deref() != Some(&payload[..]) {
            return Err(format!("seq {seq}: the proof carries another record"));
        }
        let node = crate::tree::leaf_node(&crate::hash::leaf(
            crate::frame::KIND_ENTRY,
            seq,
            *ts,
            payload,
        ));
        crate::tree::verify_inclusion(&node, seq - 1, size, &p.proof, &root)
            .map_err(|e| format!("seq {seq}: the proof does not verify: {e}"))?;
    }
    Ok(())
}

/// Every tile file on the disk whose bytes are not the tile of that path in the tree over
/// the disk's records (`tile/size` and the temporary file aside): after a process crash (the
/// page cache survives) there is none; after a power loss an unsynced tile may be torn.
pub fn wrong_tiles(disk: &mut FakeDisk) -> Result<Vec<String>, Error> {
    let records = records_on(disk)?;
    let mut tree = crate::tree::MemoryTree::new();
    for (i, (ts, p)) in records.iter().enumerate() {
        tree.push_leaf(&crate::hash::leaf(
            crate::frame::KIND_ENTRY,
            i as u64 + 1,
            *ts,
            p,
        ));
    }
    let mut wrong = Vec::new();
    for name in disk.file_names() {
        let Some(id) = crate::tree::TileId::parse(&name) else {
            continue;
        };
        let want: Option<Vec<u8>> = (0..u64::from(id.width))
            .map(|i| {
                use crate::tree::HashReader;
                tree.stored(id.level * 8, id.index * 256 + i)
                    .ok()
                    .map(|h| h.0)
            })
            .collect::<Option<Vec<[u8; 32]>>>()
            .map(|v| v.concat());
        if want.as_deref() != disk.read_file(&name) {
            wrong.push(name);
        }
    }
    Ok(wrong)
}
