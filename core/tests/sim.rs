//! Seeded deterministic simulation of the real trail state machine on a fake disk that tears
//! writes, drops unsynced data on power loss, fails writes (ENOSPC, EIO, short) and syncs, and
//! flips bits.
//!
//! After every step it checks the promise:
//! - every acknowledged record is present after recovery (durable ones after a power loss, all
//!   of them after a process crash), with the hash it was acknowledged with;
//! - the whole trail verifies (framing, chain, segment links) and has no gap;
//! - receipts form the chain an independent model computes from the payloads;
//! - health follows the hysteresis rules: nothing is acknowledged while failed, failed is left
//!   only through re-verification, degraded → healthy only after N successful durable writes,
//!   and a failure state is entered only because of an injected fault;
//! - a flipped bit anywhere is reported by verify with its place, and recovery never cuts valid
//!   records after it.
//!
//! `EVIDENT_SIM_SEEDS=N` runs N seeds (default 48), `EVIDENT_SIM_SEED=S` replays one seed,
//! `EVIDENT_SIM_STEPS=K` sets steps per seed (default 400). A failure prints the replay command.

use evident_core::hash::{chain, leaf, Hash};
use evident_core::naming;
use evident_core::scan::{ScanStart, SegmentScanner};
use evident_core::sim::{verify, FakeDisk, Faults, SimRng};
use evident_core::tree::{CompactRange, EMPTY_ROOT};
use evident_core::{
    Durability, Error, Event, HealthState, IoOp, IoRequest, LogId, Options, TailReport, Trail,
};
use std::collections::{BTreeMap, HashMap};

const HEALTHY_AFTER: u32 = 3;

struct Acked {
    hash: Hash,
    durable: bool,
}

struct Sim {
    seed: u64,
    rng: SimRng,
    disk: FakeDisk,
    opts: Options,
    faults: Faults,
    trail: Trail,
    outstanding: Option<IoRequest>,
    now: u64,
    next_token: u64,
    // The model.
    pending: HashMap<u64, (Vec<u8>, u64)>,
    acked: BTreeMap<u64, Acked>,
    last_seq: u64,
    last_hash: Hash,
    last_ts: u64,
    // Health checks.
    state: HealthState,
    successes_since_degraded: u32,
    opened: bool,
    log: Vec<String>,
    checkpoints: Vec<evident_core::Checkpoint>,
    /// The model's tree over the acknowledged (and, after a recovery, recovered) records:
    /// `roots[n]` is the root at size n, and `tree` the edge at the last size.
    roots: Vec<Hash>,
    tree: CompactRange,
    /// Between a crash (or close) and the check after recovery: the recovered head may hold
    /// written records never acknowledged, which the model learns from the disk afterwards.
    reopening: bool,
    /// A power loss or a tamper happened: unsynced tiles may be torn (derived data, never
    /// fsynced), so only the proofs are checked from then on, not the tiles' exact bytes.
    tiles_may_be_wrong: bool,
}

fn fail(seed: u64, msg: String, log: &[String]) -> ! {
    let keep: usize = std::env::var("EVIDENT_SIM_LOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let tail: Vec<&String> = log
        .iter()
        .rev()
        .take(keep)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    panic!(
        "simulation seed {seed} failed: {msg}\nlast steps:\n  {}\nreplay: EVIDENT_SIM_SEED={seed} cargo test -p evident-core --test sim -- --nocapture",
        tail.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    )
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = SimRng::new(seed);
        let faulty = !seed.is_multiple_of(4);
        let p = |rng: &mut SimRng, max: f64| {
            if faulty {
                (rng.below(1000) as f64 / 1000.0) * max
            } else {
                0.0
            }
        };
        let faults = Faults {
            write_nospace: p(&mut rng, 0.03),
            write_eio: p(&mut rng, 0.02),
            short_write: p(&mut rng, 0.02),
            sync_fail: p(&mut rng, 0.03),
            read_fail: p(&mut rng, 0.01),
            other_fail: p(&mut rng, 0.02),
        };
        let durability = match rng.below(4) {
            0 => Durability::Os,
            1 => Durability::Interval {
                nanos: 1_000 + rng.below(50_000),
            },
            _ => Durability::Always,
        };
        let opts = Options {
            segment_bytes: 1024 + rng.below(16 * 1024),
            max_payload: 2048,
            durability,
            max_batch_bytes: 512 + rng.below(8192) as usize,
            max_batch_records: 1 + rng.below(64) as usize,
            healthy_after: HEALTHY_AFTER,
            preallocate: rng.chance(0.5),
            // Zeros ahead of the records: off, or a lead of a few chunks to a whole segment.
            zero_fill_ahead: if rng.chance(0.25) {
                0
            } else {
                64 + rng.below(16 * 1024)
            },
            read_chunk: 4096,
            checkpoint_on_rotate: rng.chance(0.5),
            ..Options::default()
        };
        let disk = FakeDisk::new(seed.wrapping_mul(31), faults);
        let trail = Trail::open(
            opts.clone(),
            LogId(seed.to_le_bytes().repeat(2).try_into().unwrap()),
            1,
        );
        let mut sim = Sim {
            seed,
            rng,
            disk,
            opts,
            faults,
            trail,
            outstanding: None,
            now: 1_000_000,
            next_token: 0,
            pending: HashMap::new(),
            acked: BTreeMap::new(),
            last_seq: 0,
            last_hash: Hash::default(),
            last_ts: 0,
            state: HealthState::Healthy,
            successes_since_degraded: 0,
            opened: false,
            log: Vec::new(),
            checkpoints: Vec::new(),
            roots: vec![EMPTY_ROOT],
            tree: CompactRange::new(),
            reopening: false,
            tiles_may_be_wrong: false,
        };
        sim.log(format!("options {:?}, faults {:?}", sim.opts, sim.faults));
        sim.reopen();
        sim.last_hash = sim.trail.head().hash;
        sim
    }

    fn log(&mut self, s: String) {
        self.log.push(s);
    }

    fn fail(&self, msg: String) -> ! {
        fail(self.seed, msg, &self.log)
    }

    /// Performs one request of the tile lane, if it has one: faults hit it like any other
    /// request, and must never change the trail's health or fail an append.
    fn complete_tile_one(&mut self) -> bool {
        let Some(req) = self.trail.poll_tile_io() else {
            return false;
        };
        let r = self.disk.perform(&req.op);
        self.log(format!(
            "tile io {:?} -> {}",
            short(&req.op),
            if self.disk.last_faulted {
                format!("FAULT {r:?}")
            } else {
                "ok".into()
            }
        ));
        self.trail.handle_tile_io(req.id, r);
        // Not a fault of the trail's own IO: a health change here fails the run.
        self.drain_events(false);
        self.check_tree_head();
        true
    }

    /// Performs the outstanding request (if any) and handles its events.
    fn complete_one(&mut self) -> bool {
        if self.rng.chance(0.3) && self.complete_tile_one() {
            return true;
        }
        let req = match self.outstanding.take().or_else(|| self.trail.poll_io()) {
            Some(r) => r,
            None => return false,
        };
        let r = self.disk.perform(&req.op);
        let faulted = self.disk.last_faulted;
        let ok = r.is_ok() && !faulted;
        self.log(format!(
            "io {:?} -> {}",
            short(&req.op),
            if faulted {
                format!("FAULT {r:?}")
            } else {
                "ok".into()
            }
        ));
        if ok {
            let counts = match (&req.op, self.opts.durability) {
                (
                    IoOp::Sync {
                        metadata: false, ..
                    },
                    Durability::Always,
                ) => true,
                (IoOp::Write { file, .. }, Durability::Os | Durability::Interval { .. }) => {
                    naming::parse_segment_name(file).is_some()
                }
                _ => false,
            };
            if counts {
                self.successes_since_degraded += 1;
            }
        }
        self.trail.handle_io(req.id, r);
        self.drain_events(faulted);
        self.check_tree_head();
        true
    }

    /// Invariant: the tree root at every durable head equals the root recomputed from the
    /// acknowledged records (the model's tree).
    fn check_tree_head(&mut self) {
        if self.reopening {
            return;
        }
        let (head, th) = (self.trail.head(), self.trail.tree_head());
        if th.size != head.seq {
            self.fail(format!(
                "tree size {} at durable head seq {}",
                th.size, head.seq
            ));
        }
        match self.roots.get(th.size as usize) {
            Some(root) if *root != th.root => self.fail(format!(
                "tree root {} at durable size {}, the acknowledged records give {root}",
                th.root, th.size
            )),
            Some(_) => {}
            None => self.fail(format!(
                "durable head {} is past the {} records acknowledged",
                th.size,
                self.roots.len() - 1
            )),
        }
    }

    fn drain_events(&mut self, faulted: bool) {
        while let Some(e) = self.trail.poll_event() {
            self.on_event(e, faulted);
        }
    }

    fn on_event(&mut self, e: Event, faulted: bool) {
        match e {
            Event::Opened(r) => {
                self.log(format!("opened: head {} tail {:?}", r.head.seq, r.tail));
                self.opened = true;
            }
            Event::OpenFailed(err) => self.fail(format!("open failed: {err}")),
            Event::Appended { token, receipt } => {
                if self.state == HealthState::Failed {
                    self.fail(format!(
                        "append {token} acknowledged while the trail is failed"
                    ));
                }
                let Some((payload, ts)) = self.pending.remove(&token) else {
                    self.fail(format!("ack for unknown token {token}"))
                };
                let want_ts = ts.max(self.last_ts);
                let want_seq = self.last_seq + 1;
                let want_hash = chain(&self.last_hash, &leaf(1, want_seq, want_ts, &payload));
                if (receipt.seq, receipt.ts, receipt.hash) != (want_seq, want_ts, want_hash) {
                    self.fail(format!(
                        "receipt {receipt:?} for token {token}, model expected seq {want_seq} ts {want_ts} hash {want_hash}"
                    ));
                }
                let want_durable = self.opts.durability == Durability::Always;
                if receipt.durable != want_durable {
                    self.fail(format!(
                        "receipt durability {} under {:?}",
                        receipt.durable, self.opts.durability
                    ));
                }
                self.last_seq = receipt.seq;
                self.last_hash = receipt.hash;
                self.last_ts = receipt.ts;
                self.tree.push_leaf(&leaf(1, want_seq, want_ts, &payload));
                self.roots.push(self.tree.root());
                self.acked.insert(
                    receipt.seq,
                    Acked {
                        hash: receipt.hash,
                        durable: receipt.durable,
                    },
                );
            }
            Event::AppendFailed { token, error } => {
                self.log(format!("append {token} failed: {error}"));
                if self.pending.remove(&token).is_none() {
                    self.fail(format!("failure for unknown token {token}"));
                }
            }
            Event::HealthChanged { from, to, reason } => {
                self.log(format!("health {from:?} -> {to:?}: {reason}"));
                if from != self.state {
                    self.fail(format!(
                        "health changed from {from:?} but the model was {:?}",
                        self.state
                    ));
                }
                match to {
                    HealthState::Degraded | HealthState::Failed
                        if from == HealthState::Failed && to == HealthState::Degraded => {}
                    HealthState::Degraded | HealthState::Failed => {
                        if !faulted {
                            self.fail(format!("health went to {to:?} without an injected fault"));
                        }
                    }
                    HealthState::Healthy => {
                        if from != HealthState::Degraded {
                            self.fail(format!("healthy reached from {from:?}"));
                        }
                        if self.successes_since_degraded < HEALTHY_AFTER {
                            self.fail(format!(
                                "healthy after only {} successful durable writes",
                                self.successes_since_degraded
                            ));
                        }
                    }
                }
                if to != HealthState::Healthy {
                    self.successes_since_degraded = 0;
                }
                self.state = to;
            }
            Event::CheckpointWritten(cp) => self.checkpoints.push(cp),
            Event::Synced { .. }
            | Event::SyncFailed { .. }
            | Event::Rotated { .. }
            | Event::CheckpointFailed(_) => {}
            Event::Closed { .. } => {}
        }
    }

    fn append_some(&mut self) {
        let n = 1 + self.rng.below(24);
        for _ in 0..n {
            let len = match self.rng.below(10) {
                0 => 0,
                1 => self.rng.below(2048) as usize,
                _ => 20 + self.rng.below(300) as usize,
            };
            let payload = self.rng.bytes(len);
            // Mostly increasing time, sometimes a step back (clock adjustment).
            let ts = if self.rng.chance(0.1) {
                self.now.saturating_sub(self.rng.below(5000))
            } else {
                self.now
            };
            self.now += self.rng.below(1000);
            let token = self.next_token;
            self.next_token += 1;
            // Every other append comes prepared, as the native adapter queues them (the same
            // record either way; no extra draw from the RNG, so the seeds keep their runs).
            let queued = if token.is_multiple_of(2) {
                let prepared = evident_core::PreparedPayload::new(payload.clone());
                self.trail.handle_append_prepared(token, prepared, ts, None)
            } else {
                self.trail.handle_append(token, payload.clone(), ts)
            };
            match queued {
                Ok(()) => {
                    self.pending.insert(token, (payload, ts));
                }
                Err(Error::Failed { reason }) => {
                    self.log(format!("append refused: failed: {reason}"))
                }
                Err(e) => self.fail(format!("append refused: {e}")),
            }
        }
    }

    /// Crashes (power loss or process crash), reopens, and checks everything acknowledged.
    fn crash_and_reopen(&mut self) {
        let power = self.rng.chance(0.7);
        self.log(format!(
            "CRASH ({})",
            if power { "power loss" } else { "process" }
        ));
        if power {
            self.disk.power_loss();
            self.tiles_may_be_wrong = true;
        } else {
            self.disk.process_crash();
        }
        if self.rng.chance(0.05) {
            // Someone edits a tile: proofs must still never name a wrong record.
            let tiles: Vec<String> = self
                .disk
                .file_names()
                .into_iter()
                .filter(|n| evident_core::tree::TileId::parse(n).is_some())
                .collect();
            if !tiles.is_empty() {
                let name = &tiles[self.rng.below(tiles.len() as u64) as usize];
                let bits = self.disk.read_file(name).unwrap().len() as u64 * 8;
                let bit = self.rng.below(bits.max(1));
                self.log(format!("TAMPER {name} bit {bit}"));
                self.disk.flip_bit(name, bit);
                self.tiles_may_be_wrong = true;
            }
        }
        self.outstanding = None;
        self.pending.clear();
        self.reopening = true;
        self.reopen();
        self.check_after_recovery(power);
    }

    fn reopen(&mut self) {
        for attempt in 0.. {
            // Faults during recovery are allowed; after a few failed attempts, go fault-free.
            self.disk.faults = if attempt < 3 {
                self.faults
            } else {
                Faults::default()
            };
            self.trail = Trail::open(self.opts.clone(), LogId([0xee; 16]), self.now);
            self.opened = false;
            let mut failed = None;
            for _ in 0..1_000_000 {
                let Some(req) = self.trail.poll_io() else {
                    break;
                };
                let r = self.disk.perform(&req.op);
                self.log.push(format!(
                    "  open io {} -> {}",
                    short(&req.op),
                    if self.disk.last_faulted {
                        format!("FAULT {r:?}")
                    } else {
                        "ok".into()
                    }
                ));
                self.trail.handle_io(req.id, r);
                while let Some(e) = self.trail.poll_event() {
                    match e {
                        Event::OpenFailed(err) => failed = Some(err),
                        other => self.on_event(other, false),
                    }
                }
            }
            while let Some(e) = self.trail.poll_event() {
                match e {
                    Event::OpenFailed(err) => failed = Some(err),
                    other => self.on_event(other, false),
                }
            }
            self.disk.faults = self.faults;
            match failed {
                None if self.opened => break,
                None => self.fail("open neither succeeded nor failed".into()),
                Some(Error::Io { .. }) if attempt < 6 => {
                    self.log(format!(
                        "open attempt {attempt} hit an injected IO error; retrying"
                    ));
                    continue;
                }
                Some(e) => self.fail(format!("recovery refused the trail: {e}")),
            }
        }
        self.state = HealthState::Healthy;
        self.successes_since_degraded = 0;
    }

    fn check_after_recovery(&mut self, power_loss: bool) {
        let head = self.trail.head();
        let (records, last_ts, roots, tree) =
            read_all(&self.disk).unwrap_or_else(|e| self.fail(format!("reading the trail: {e}")));
        if let Err(e) = verify(&mut self.disk, vec![]) {
            self.fail(format!("verify after recovery: {e}"));
        }
        for (seq, a) in &self.acked {
            let must = a.durable || !power_loss;
            match records.get(seq) {
                Some(h) if *h == a.hash => {}
                Some(h) => self.fail(format!(
                    "acknowledged seq {seq} has hash {h} after recovery, not {}",
                    a.hash
                )),
                None if must => self.fail(format!(
                    "acknowledged {} record {seq} lost (trail ends at {})",
                    if a.durable { "durable" } else { "written" },
                    head.seq
                )),
                None => {}
            }
        }
        if records.len() as u64 != head.seq
            || records.keys().next_back().copied().unwrap_or(0) != head.seq
        {
            self.fail(format!(
                "gap: {} records but head seq {}",
                records.len(),
                head.seq
            ));
        }
        // The recovered tree is the tree of the records on disk (the acknowledged ones were
        // checked above), and the writer's tree at its head is that tree.
        if roots.len() as u64 != head.seq + 1
            || self.trail.tree_head().root != roots[roots.len() - 1]
        {
            self.fail(format!(
                "tree after recovery {:?}, the records on disk give size {} root {}",
                self.trail.tree_head(),
                roots.len() - 1,
                roots[roots.len() - 1]
            ));
        }
        self.check_tiles(head.seq);
        self.roots = roots;
        self.tree = tree;
        self.reopening = false;
        // Continue the model from the recovered head.
        self.acked.retain(|seq, _| *seq <= head.seq);
        self.last_seq = head.seq;
        self.last_hash = head.hash;
        self.last_ts = last_ts;
    }

    /// The tile invariants: whatever tiles the disk holds, `prove` emits a proof only for the
    /// record on disk (checked for a few seqs); after process crashes only, every tile file
    /// holds exactly the tree's hashes.
    fn check_tiles(&mut self, size: u64) {
        let root = self.trail.tree_head().root;
        let seqs = [
            1,
            size,
            1 + self.rng.below(size.max(1)),
            1 + self.rng.below(size.max(1)),
        ];
        let saved = std::mem::take(&mut self.disk.faults);
        if let Err(e) = evident_core::sim::check_proofs(&mut self.disk, size, root, &seqs) {
            self.fail(format!("prove over the tiles on disk: {e}"));
        }
        if !self.tiles_may_be_wrong {
            match evident_core::sim::wrong_tiles(&mut self.disk) {
                Ok(w) if w.is_empty() => {}
                Ok(w) => self.fail(format!(
                    "tiles with wrong bytes after process crashes: {w:?}"
                )),
                Err(e) => self.fail(format!("reading the records: {e}")),
            }
        }
        self.disk.faults = saved;
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=39 => self.append_some(),
            40..=79 => {
                let n = 1 + self.rng.below(6);
                for _ in 0..n {
                    if !self.complete_one() {
                        break;
                    }
                }
            }
            80..=84 => {
                // A request is taken and left outstanding while appends keep arriving.
                if self.outstanding.is_none() {
                    self.outstanding = self.trail.poll_io();
                }
                self.append_some();
            }
            85..=88 => {
                self.trail.handle_sync(u64::MAX - self.rng.below(1000));
            }
            89..=90 => self.trail.handle_checkpoint(),
            91..=94 => {
                self.now += self.rng.below(100_000);
                self.trail.handle_timeout(self.now);
            }
            95..=97 => self.crash_and_reopen(),
            _ => self.close_and_reopen(),
        }
    }

    fn settle(&mut self) {
        for _ in 0..100_000 {
            if !self.complete_one() {
                return;
            }
        }
        self.fail("the state machine did not settle".into());
    }

    fn close_and_reopen(&mut self) {
        self.log("close".into());
        self.trail.handle_close();
        self.settle();
        if !self.trail.is_closed() {
            self.fail("close did not finish".into());
        }
        self.pending.clear();
        self.reopening = true;
        self.reopen();
        self.check_after_recovery(false);
    }
}

fn short(op: &IoOp) -> String {
    match op {
        IoOp::Write { file, offset, data } => format!("write {file}@{offset}+{}", data.len()),
        IoOp::Read { file, offset, len } => format!("read {file}@{offset}+{len}"),
        other => format!("{other:?}"),
    }
}

/// Every record of the trail on disk, seq -> hash (the last segment scanned non-strictly), and
/// the timestamp of the last one.
/// The records on disk: seq → chain hash, the last timestamp, and the tree (root at every
/// size, and the edge at the last), recomputed from the records' leaves.
#[allow(clippy::type_complexity)]
fn read_all(
    disk: &FakeDisk,
) -> Result<(BTreeMap<u64, Hash>, u64, Vec<Hash>, CompactRange), String> {
    let mut tree = CompactRange::new();
    let mut roots = vec![EMPTY_ROOT];
    let names: Vec<String> = disk
        .file_names()
        .into_iter()
        .filter(|n| naming::parse_segment_name(n).is_some())
        .collect();
    let mut out = BTreeMap::new();
    let mut last_ts = 0;
    for (i, name) in names.iter().enumerate() {
        let bytes = disk.read_file(name).unwrap();
        let h = evident_core::header::SegmentHeader::decode(bytes)
            .map_err(|e| format!("{name}: {e}"))?;
        let mut s = SegmentScanner::new(ScanStart {
            version: evident_core::header::FormatVersion::V2,
            offset: 128,
            file_len: bytes.len() as u64,
            seq: h.first_seq,
            prev_hash: Some(h.anchor),
            prev_ts: 0,
            index_stride: evident_core::config::INDEX_STRIDE,
            strict: i + 1 < names.len(),
        });
        s.push(&bytes[128..]);
        while let Some(r) = s.next_record() {
            out.insert(r.seq, r.hash);
            last_ts = r.ts;
            tree.push_leaf(&r.leaf.expect("the chain is checked, so the leaf is hashed"));
            roots.push(tree.root());
        }
    }
    Ok((out, last_ts, roots, tree))
}

fn run_seed(seed: u64, steps: usize) {
    let mut sim = Sim::new(seed);
    for _ in 0..steps {
        sim.step();
    }
    // End cleanly: no faults, close, everything acknowledged must be there and verify.
    sim.faults = Faults::default();
    sim.disk.faults = Faults::default();
    sim.close_and_reopen();
    // The tiles catch up (or are rebuilt) while the trail is open, then hold the tree.
    while sim.complete_tile_one() {}
    let head = sim.trail.head();
    if sim.trail.tile_status().tiled != head.seq || sim.trail.tile_status().disabled.is_some() {
        sim.fail(format!(
            "tiles did not catch up to {}: {:?}",
            head.seq,
            sim.trail.tile_status()
        ));
    }
    sim.check_tiles(head.seq);
    if head.seq >= 256 && sim.disk.read_file("tile/0/000").is_none() {
        sim.fail(format!("{} records but no tile/0/000", head.seq));
    }
    let mut cps = vec![head];
    cps.extend(
        sim.checkpoints
            .iter()
            .copied()
            .filter(|c| c.seq <= head.seq),
    );
    if let Err(e) = verify(&mut sim.disk, cps) {
        sim.fail(format!("final verify against checkpoints: {e}"));
    }
}

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("EVIDENT_SIM_SEED") {
        return vec![s.parse().expect("EVIDENT_SIM_SEED is a number")];
    }
    let n: u64 = std::env::var("EVIDENT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48);
    (1..=n).collect()
}

fn steps() -> usize {
    std::env::var("EVIDENT_SIM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400)
}

#[test]
fn simulation_keeps_every_acknowledged_record() {
    for seed in seeds() {
        run_seed(seed, steps());
    }
}

/// Builds a closed trail with rotations, flips one bit somewhere in one file, and checks that
/// verify reports it with its place and that recovery never cuts valid records silently.
#[test]
fn any_flipped_bit_is_reported() {
    for seed in seeds() {
        let mut rng = SimRng::new(seed ^ 0xf11b);
        let opts = Options {
            segment_bytes: 2048,
            preallocate: rng.chance(0.5),
            ..Options::default()
        };
        let mut disk = FakeDisk::new(seed, Faults::default());
        let mut t = Trail::open(opts.clone(), LogId([1; 16]), 1);
        for i in 0..(20 + rng.below(60)) {
            let len = 10 + rng.below(200) as usize;
            t.handle_append(i, rng.bytes(len), i).unwrap();
        }
        let close_it = rng.chance(0.7);
        if close_it {
            t.handle_close();
        }
        evident_core::sim::drive(&mut t, &mut disk, 100_000);
        let head = t.head();
        // The `origin` file is not covered by the chain or the tree (a signed checkpoint binds
        // it, FORMAT.md "Directory"): verification does not vouch for it. Nor for agent indexes:
        // derived data that queries check against the segments and never trust (tested in
        // agent_index.rs: a damaged index never changes an answer).
        let names: Vec<String> = disk
            .file_names()
            .into_iter()
            .filter(|n| n != evident_core::naming::ORIGIN)
            .filter(|n| !n.ends_with(evident_core::agent_index::INDEX_EXT))
            .collect();
        let name = &names[rng.below(names.len() as u64) as usize];
        let len = disk.read_file(name).unwrap().len() as u64;
        let bit = rng.below(len * 8);
        disk.flip_bit(name, bit);
        let flip_at = bit / 8;
        let ctx =
            format!("seed {seed}: flipped bit {bit} (byte {flip_at}) of {name} ({len} bytes)");
        match verify(&mut disk, vec![head]) {
            Ok(r) => panic!("{ctx}: verify passed: {r:?}"),
            Err(e) => {
                if let Some(loc) = e.location() {
                    assert_eq!(loc.file.as_deref(), Some(name.as_str()), "{ctx}: {e}");
                    assert!(
                        loc.offset.unwrap_or(0) <= flip_at,
                        "{ctx}: reported after the flip: {e}"
                    );
                } else {
                    assert!(e.is_corruption(), "{ctx}: {e}");
                }
            }
        }
        // Recovery: refuses with a location, or cuts only a tail that starts at or before the
        // flip, or (a sealed segment, which open does not rescan) opens and leaves it to verify.
        let mut t = Trail::open(opts, LogId([2; 16]), 1);
        let (ev, _) = evident_core::sim::drive(&mut t, &mut disk, 100_000);
        match &ev[0] {
            Event::OpenFailed(e) => assert!(e.is_corruption(), "{ctx}: open failed with {e}"),
            Event::Opened(r) => {
                if let TailReport::Truncated { file, offset, .. } = &r.tail {
                    assert_eq!(file, name, "{ctx}");
                    assert!(*offset <= flip_at, "{ctx}: cut at {offset}");
                    let last = names
                        .iter()
                        .rfind(|n| naming::parse_segment_name(n).is_some());
                    assert_eq!(Some(name), last, "{ctx}: only the last segment may be cut");
                }
            }
            other => panic!("{ctx}: {other:?}"),
        }
    }
}
