//! The tile lane: the writer keeps the tree's C2SP tiles (`tile/<L>/<N>[.p/<W>]`) on disk as
//! derived data, through IO requests of their own, off the acknowledgement path.
//!
//! The lane is a second, independent queue of IO requests ([`Trail::poll_tile_io`] /
//! [`Trail::handle_tile_io`], at most one outstanding): a host performs them beside the main
//! lane (another thread, or when it has nothing else to do), so an acknowledgement never waits
//! for a tile, and a failed tile request never fails or delays an append: the request (a
//! whole put, a removal, a read) is tried again after a backoff, and the failure is counted in
//! [`TileStatus`]. A host that never drives the lane gets no tiles and loses nothing (the
//! prover rebuilds the hashes from the records), but the lane keeps the level-0 nodes of up to
//! [`MAX_BUFFERED`] records waiting for it (32 MiB at most; then it drops the oldest).
//!
//! What is written, and when:
//! - the level-0 nodes come from group commit (the leaves it hashes anyway), and only those of
//!   durable records are tiled, so a tile never holds a hash that a crash can take back;
//! - a full tile is written as soon as it fills (8192 bytes, never changed again);
//! - the partial tiles of the durable size, then `tile/size` (that size, a hint for the next
//!   open), at a checkpoint (refresh, rotation, close) and a `sync` request; the partials they
//!   supersede are removed afterwards;
//! - every file is written to `tile/pending.tmp` and renamed into place, so no reader sees a
//!   torn tile under a tile's name; files due together go in one [`IoOp::PutFiles`] request
//!   (up to [`MAX_PUT_FILES`]). Nothing here is fsynced: tiles are checked wherever they are
//!   used and rebuilt from the segments when wrong.
//!
//! Opening stays flat in trail size: the lane reads `tile/size` (size `S`) and the partial
//! tiles at `S` (at most one per tile level) and resumes from them. At the open's size `n` the
//! tiles' right edge is compared with the tree's edge the open recovered (from the footers and
//! the scan of the last segment): equal, the tiles up to `n` are the trail's; different (a
//! tile lost, short, corrupt, or the hint wrong), every tile is rebuilt from the records of the
//! segments, in chunk-sized steps. Between `S` and `n` (a crash before the last partials), the
//! records of the segments concerned are read and tiled first, then checked the same way.

use super::Trail;
use crate::hash::Hash;
use crate::io::{IoDone, IoError, IoId, IoOp, IoRequest, IoResult};
use crate::naming::{TILE_SIZE, TILE_TMP};
use crate::tree::proof::{range_nodes, HashReader};
use crate::tree::{partial_tiles_at, CompactRange, TileBuilder, TileId, TileSet};
use reread::SegmentRead;
use std::collections::VecDeque;

mod reread;

/// Level-0 nodes kept for records not yet tiled; beyond this the oldest are dropped and read
/// again from the segments when the lane gets to them (32 MiB at most; memory is taken only
/// as records wait). Only durable records are tiled, and under `Durability::Os` or
/// `Interval` records become durable at the next sync, by default the checkpoint refresh
/// once a second: the buffer must hold a second of appends. At 2^16 (2 MiB) an unsynced
/// `append_batch` run of 400 k records/s dropped most nodes, and the driver re-read and
/// re-hashed those records (payload hash and leaf) for the tiles: a third of its time, the
/// tree's throughput 0.72x of the run without it (BENCHMARKS.md, finding 15).
const MAX_BUFFERED: usize = 1 << 20;
/// Capacity kept by an emptied buffer (a burst's allocation is given back).
const KEPT_CAPACITY: usize = 1 << 12;
/// Most files in one put: 16 full tiles, 128 KiB. One request per tile cost the lane's
/// thread and the driver a hand-off each (futex wake-ups were a tenth of an unsynced batch
/// run's samples with four requests per tile).
const MAX_PUT_FILES: usize = 16;
/// Tile-lane request ids carry this bit, so they never match a main-lane id.
const TILE_ID_BIT: u64 = 1 << 63;
/// First and longest wait before a failed tile request is tried again.
const MIN_BACKOFF_NS: u64 = 10_000_000;
const MAX_BACKOFF_NS: u64 = 1_000_000_000;

/// How far the tiles are, for health reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileStatus {
    /// Entries whose tiles are queued or written (the tile lane's tree size).
    pub tiled: u64,
    /// Tile files (and `tile/size`) renamed into place since the open.
    pub files_written: u64,
    /// Tile requests that failed (each retried after a backoff).
    pub failures: u64,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Times the tiles were found wrong and rebuilt from the records since the open.
    pub rebuilds: u64,
    /// Why the lane stopped writing tiles (the records do not give the trail's tree), if it did.
    pub disabled: Option<String>,
}

/// One thing to do on disk.
#[derive(Debug, Clone)]
enum Action {
    Write(String, Vec<u8>),
    Remove(String),
}

/// What the success of a tile-lane request means.
#[derive(Debug)]
enum Step {
    /// The put of the first this many actions of the queue (all writes) is done.
    Put(usize),
    /// The removal at the front of the queue is done.
    Removed,
    Hint,
    Partial(TileId),
    SegmentLength,
    SegmentChunk {
        offset: u64,
    },
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the trail to open.
    Closed,
    /// The open finished: read the hint next.
    Start,
    /// Reading the hint and the partial tiles it names.
    Probing { size: u64, set: TileSet },
    /// Tiling.
    Ready,
}

/// The tile lane's state (owned by the [`Trail`]).
#[derive(Debug)]
pub(crate) struct Tiles {
    phase: Phase,
    /// Level-0 nodes from group commit: `nodes[i]` is entry `nodes_start + i`.
    nodes: VecDeque<Hash>,
    nodes_start: u64,
    /// The roots of full tiles that group commit's compact range computed anyway, as
    /// (entry, level, hash): pushing level-0 entry `entry` completes the level `level - 1`
    /// tile whose root is `hash` (one in 256 entries has one). In entry order; only for
    /// entries in `nodes`, so the builder does not hash those tiles a second time.
    roots: VecDeque<(u64, u8, Hash)>,
    builder: TileBuilder,
    /// The tree's edge at the open: the tiles' edge must equal it when the builder gets there.
    check: Option<CompactRange>,
    rebuilt_from_zero: bool,
    actions: VecDeque<Action>,
    steps: VecDeque<(IoOp, Step)>,
    inflight: Option<(IoId, Step)>,
    next_id: u64,
    reading: Option<Box<SegmentRead>>,
    partials_wanted: bool,
    /// The size whose partial tiles were queued last, and those tiles.
    partials_at: Option<u64>,
    partials: Vec<TileId>,
    retry_at: Option<u64>,
    backoff_failures: u32,
    status: TileStatus,
}

impl Default for Tiles {
    fn default() -> Tiles {
        Tiles {
            phase: Phase::Closed,
            nodes: VecDeque::new(),
            nodes_start: 0,
            roots: VecDeque::new(),
            builder: TileBuilder::new(),
            check: None,
            rebuilt_from_zero: false,
            actions: VecDeque::new(),
            steps: VecDeque::new(),
            inflight: None,
            next_id: 0,
            reading: None,
            partials_wanted: false,
            partials_at: None,
            partials: Vec::new(),
            retry_at: None,
            backoff_failures: 0,
            status: TileStatus::default(),
        }
    }
}

/// What the lane needs to know of the trail when it is polled.
struct Ctx<'a> {
    durable: u64,
    segments: &'a [(u64, String)],
    now: u64,
    read_chunk: u32,
    /// Whether the main lane is closed: then only what is in memory is written.
    closed: bool,
}

/// The tiles' right edge: the stored nodes of `range_nodes(0, size)` read from the builder's
/// partial tiles (every edge node lies in them).
fn edge_of(b: &TileBuilder) -> Option<CompactRange> {
    let mut set = TileSet::new();
    for (id, bytes) in b.partial_tiles() {
        set.insert(id, &bytes).ok()?;
    }
    let edge = range_nodes(0, b.size())
        .iter()
        .map(|n| set.stored(n.level, n.index))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    CompactRange::from_edge(b.size(), edge).ok()
}

impl Tiles {
    /// The open finished with the tree `edge` over every record (all durable).
    pub(crate) fn opened(&mut self, edge: &CompactRange) {
        self.check = Some(edge.clone());
        self.phase = Phase::Start;
    }

    /// The level-0 node of record `seq`, hashed by group commit when the record was framed.
    /// A seq at or below the last one given replaces it and everything after (a failed write
    /// was undone and the seqs are given out again).
    pub(crate) fn push_node(&mut self, seq: u64, node: Hash) {
        let entry = seq - 1;
        let end = self.nodes_start + self.nodes.len() as u64;
        if entry < self.nodes_start || entry > end {
            self.nodes.clear();
            self.roots.clear();
            self.nodes_start = entry;
        } else if entry < end {
            self.nodes.truncate((entry - self.nodes_start) as usize);
            while self.roots.back().is_some_and(|r| r.0 >= entry) {
                self.roots.pop_back();
            }
        }
        if self.nodes.len() >= MAX_BUFFERED {
            // The lane is not driven, or far behind: the segments hold these records.
            let drop = MAX_BUFFERED / 2;
            self.nodes.drain(..drop);
            self.nodes_start += drop as u64;
            self.drop_roots_below(self.nodes_start);
        }
        self.nodes.push_back(node);
    }

    /// A tile root group commit's compact range computed when it pushed record `seq`'s node
    /// (given right after [`push_node`](Self::push_node) for that seq).
    pub(crate) fn push_root(&mut self, seq: u64, level: u8, root: Hash) {
        let entry = seq - 1;
        if entry + 1 == self.nodes_start + self.nodes.len() as u64 {
            self.roots.push_back((entry, level, root));
        }
    }

    fn drop_roots_below(&mut self, entry: u64) {
        while self.roots.front().is_some_and(|r| r.0 < entry) {
            self.roots.pop_front();
        }
    }

    /// Partial tiles (and the hint) are wanted at the next chance.
    pub(crate) fn want_partials(&mut self) {
        self.partials_wanted = true;
    }

    fn request(&mut self, op: IoOp, step: Step) -> IoRequest {
        let id = IoId(TILE_ID_BIT | self.next_id);
        self.next_id += 1;
        self.inflight = Some((id, step));
        IoRequest { id, op }
    }

    fn poll(&mut self, ctx: &Ctx<'_>) -> Option<IoRequest> {
        if self.inflight.is_some() || self.status.disabled.is_some() {
            return None;
        }
        if self.retry_at.is_some_and(|t| ctx.now < t) {
            return None;
        }
        loop {
            if let Some((op, step)) = self.steps.pop_front() {
                return Some(self.request(op, step));
            }
            match &self.phase {
                Phase::Closed => return None,
                Phase::Start => {
                    if ctx.closed {
                        return None;
                    }
                    self.phase = Phase::Probing {
                        size: 0,
                        set: TileSet::new(),
                    };
                    let op = IoOp::Read {
                        file: TILE_SIZE.into(),
                        offset: 0,
                        len: 32,
                    };
                    return Some(self.request(op, Step::Hint));
                }
                Phase::Probing { .. } => {
                    self.finish_probe();
                    continue;
                }
                Phase::Ready => {}
            }
            if let Some((op, step)) = front_step(&self.actions) {
                return Some(self.request(op, step));
            }
            if let Some(r) = &self.reading {
                let (op, step) = r.next_request(ctx.read_chunk);
                return Some(self.request(op, step));
            }
            if self.advance(ctx) {
                continue;
            }
            return None;
        }
    }

    /// Moves the builder towards the durable size; queues what that produced. Returns whether
    /// there is something new to do.
    fn advance(&mut self, ctx: &Ctx<'_>) -> bool {
        let next = self.builder.size();
        if next < ctx.durable {
            // Buffered nodes below what is tiled are used up.
            while self.nodes_start < next && !self.nodes.is_empty() {
                self.nodes.pop_front();
                self.nodes_start += 1;
            }
            self.drop_roots_below(self.nodes_start);
            if self.nodes_start == next && !self.nodes.is_empty() {
                // Up to one put's worth of full tiles at a time, so files go out as they
                // fill and the driver hashes a bounded amount per poll.
                let mut pushed = 0;
                while self.builder.size() < ctx.durable && pushed < 256 * MAX_PUT_FILES {
                    let Some(node) = self.nodes.pop_front() else {
                        break;
                    };
                    let entry = self.nodes_start;
                    self.nodes_start += 1;
                    pushed += 1;
                    self.drop_roots_below(entry);
                    // The roots this entry completes (one entry in 256 has any: the Vec is
                    // empty, and allocates nothing, for the others).
                    let n = self.roots.iter().take_while(|r| r.0 == entry).count();
                    let roots: Vec<(u8, Hash)> =
                        self.roots.drain(..n).map(|(_, l, h)| (l, h)).collect();
                    if !self.push_with(node, &roots) {
                        return true;
                    }
                }
                if self.nodes.is_empty() && self.nodes.capacity() > KEPT_CAPACITY {
                    self.nodes.shrink_to(KEPT_CAPACITY);
                }
                return true;
            }
            if ctx.closed {
                // No segment reading once closed: the partials and the hint at the size
                // reached let the next open resume from there.
                return self.partials_now();
            }
            let until = if self.nodes_start > next && !self.nodes.is_empty() {
                self.nodes_start.min(ctx.durable)
            } else {
                ctx.durable
            };
            let seq = next + 1;
            let i = ctx.segments.partition_point(|(first, _)| *first <= seq);
            let Some((first, name)) = i.checked_sub(1).and_then(|i| ctx.segments.get(i)) else {
                self.disable(format!("no segment holds seq {seq}"));
                return false;
            };
            self.reading = Some(Box::new(SegmentRead::new(
                name.clone(),
                *first,
                next,
                until,
            )));
            return true;
        }
        self.partials_now()
    }

    /// Queues the partial tiles and the hint at the builder's size, if wanted and not done.
    fn partials_now(&mut self) -> bool {
        if self.partials_wanted {
            self.partials_wanted = false;
            if self.partials_at != Some(self.builder.size()) {
                self.queue_partials();
                return true;
            }
        }
        false
    }

    /// Pushes one level-0 node; queues the full tiles it completes. At the open's size, checks
    /// the tiles' edge against the trail's; false when they differ (a rebuild was started).
    fn push(&mut self, node: Hash) -> bool {
        self.push_with(node, &[])
    }

    /// [`push`](Self::push) with the tile roots group commit computed for this node.
    fn push_with(&mut self, node: Hash, roots: &[(u8, Hash)]) -> bool {
        for (id, bytes) in self.builder.push_node_with(node, roots) {
            self.actions.push_back(Action::Write(id.path(), bytes));
        }
        self.check_edge()
    }

    fn check_edge(&mut self) -> bool {
        let Some(want) = &self.check else {
            return true;
        };
        if want.size() != self.builder.size() {
            return true;
        }
        if edge_of(&self.builder).as_ref() == Some(want) {
            self.check = None;
            return true;
        }
        if self.rebuilt_from_zero {
            self.disable(format!(
                "the tiles computed from the records do not give the trail's tree at size {}",
                want.size()
            ));
        } else {
            self.rebuild_from_zero();
        }
        false
    }

    fn rebuild_from_zero(&mut self) {
        if self.check.as_ref().is_some_and(|c| c.size() > 0) || self.builder.size() > 0 {
            self.status.rebuilds += 1;
        }
        self.rebuilt_from_zero = true;
        self.builder = TileBuilder::new();
        self.actions.clear();
        self.reading = None;
        self.partials_wanted = true;
        self.partials_at = None;
    }

    fn disable(&mut self, why: String) {
        self.actions.clear();
        self.steps.clear();
        self.reading = None;
        self.status.disabled = Some(why);
    }

    fn queue_partials(&mut self) {
        let size = self.builder.size();
        let parts = self.builder.partial_tiles();
        let ids: Vec<TileId> = parts.iter().map(|(id, _)| *id).collect();
        // After a rebuild the partials on disk are not known good: all are written again.
        let trusted = self.partials_at.is_some();
        for (id, bytes) in parts {
            if !trusted || !self.partials.contains(&id) {
                self.actions.push_back(Action::Write(id.path(), bytes));
            }
        }
        self.actions.push_back(Action::Write(
            TILE_SIZE.into(),
            format!("{size}\n").into_bytes(),
        ));
        for old in std::mem::take(&mut self.partials) {
            if !ids.contains(&old) {
                self.actions.push_back(Action::Remove(old.path()));
            }
        }
        self.partials = ids;
        self.partials_at = Some(size);
    }

    /// The probe read everything it asked for: resume from the partial tiles at the hinted
    /// size, or from nothing.
    fn finish_probe(&mut self) {
        let Phase::Probing { size, set } = std::mem::replace(&mut self.phase, Phase::Ready) else {
            return;
        };
        let open_size = self.check.as_ref().map_or(0, CompactRange::size);
        match TileBuilder::resume(size, &set) {
            Ok(b) if size <= open_size => {
                self.builder = b;
                self.partials_at = Some(size);
                self.partials = partial_tiles_at(size);
                self.check_edge();
            }
            _ => {
                self.rebuild_from_zero();
                // What the hint names is removed once the rebuilt partials are written.
                self.partials = partial_tiles_at(size);
            }
        }
    }

    fn handle(&mut self, id: IoId, result: IoResult, ctx: &Ctx<'_>) {
        let Some((want, step)) = self.inflight.take() else {
            return;
        };
        if want != id {
            self.inflight = Some((want, step));
            return;
        }
        let done = match result {
            Ok(done) => done,
            Err(e) => return self.failed(step, e, ctx),
        };
        self.backoff_failures = 0;
        self.retry_at = None;
        match step {
            Step::Put(files) => {
                self.actions.drain(..files.min(self.actions.len()));
                self.status.files_written += files as u64;
            }
            Step::Removed => {
                self.actions.pop_front();
            }
            Step::Hint => {
                let hinted = match done {
                    IoDone::Read(d) => parse_hint(&d),
                    _ => None,
                };
                let Some(size) = hinted else {
                    self.phase = Phase::Ready;
                    return self.rebuild_from_zero();
                };
                if let Phase::Probing { size: s, .. } = &mut self.phase {
                    *s = size;
                }
                for id in partial_tiles_at(size) {
                    self.steps.push_back((
                        IoOp::Read {
                            file: id.path(),
                            offset: 0,
                            len: id.byte_len() as u32,
                        },
                        Step::Partial(id),
                    ));
                }
            }
            Step::Partial(id) => {
                if let (IoDone::Read(d), Phase::Probing { set, .. }) = (done, &mut self.phase) {
                    // A short or long tile is left out: the resume then fails and the tiles
                    // are rebuilt.
                    let _ = set.insert(id, &d);
                }
            }
            Step::SegmentLength => {
                if let (IoDone::Length(len), Some(r)) = (done, self.reading.as_mut()) {
                    if r.set_len(len) {
                        self.segment_done();
                    }
                }
            }
            Step::SegmentChunk { offset } => {
                if let IoDone::Read(data) = done {
                    self.on_chunk(offset, data);
                }
            }
        }
    }

    fn failed(&mut self, step: Step, e: IoError, ctx: &Ctx<'_>) {
        match step {
            Step::Hint | Step::Partial(_) => {
                // Missing or unreadable: the probe goes on without it.
                if matches!(step, Step::Hint) {
                    self.phase = Phase::Ready;
                    self.rebuild_from_zero();
                }
                return;
            }
            _ => {}
        }
        // A put, a removal or a segment read failed: the whole put (every file of it, those
        // already in place too) or read is tried again after a backoff; appends are not
        // concerned.
        self.steps.clear();
        if let Some(r) = self.reading.as_mut() {
            r.restart();
        }
        self.status.failures += 1;
        self.status.last_error = Some(e.to_string());
        self.backoff_failures = self.backoff_failures.saturating_add(1);
        let shift = (self.backoff_failures - 1).min(20);
        self.retry_at = Some(
            ctx.now
                .saturating_add((MIN_BACKOFF_NS << shift).min(MAX_BACKOFF_NS)),
        );
    }
}

fn parse_hint(d: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(d).ok()?.strip_suffix('\n')?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// The request for the actions at the front of the queue: the files up to the first removal
/// (at most [`MAX_PUT_FILES`]) in one put, each through the temporary name and a rename; or
/// that removal.
fn front_step(actions: &VecDeque<Action>) -> Option<(IoOp, Step)> {
    match actions.front()? {
        Action::Remove(path) => Some((IoOp::Remove { file: path.clone() }, Step::Removed)),
        Action::Write(..) => {
            let files: Vec<(String, Vec<u8>)> = actions
                .iter()
                .take(MAX_PUT_FILES)
                .map_while(|a| match a {
                    Action::Write(path, bytes) => Some((path.clone(), bytes.clone())),
                    Action::Remove(_) => None,
                })
                .collect();
            let step = Step::Put(files.len());
            let op = IoOp::PutFiles {
                tmp: TILE_TMP.into(),
                files,
            };
            Some((op, step))
        }
    }
}

impl Trail {
    /// The next request of the tile lane (see [`crate::trail`]'s tile lane: the tree's C2SP
    /// tiles, derived data), or `None` while one is outstanding or there is nothing to do.
    /// Independent of [`Trail::poll_io`]: perform it whenever convenient (another thread, or
    /// when the main lane is idle); nothing acknowledged waits for it. After [`Event::Closed`]
    /// it still hands out the tiles it holds in memory (no segment reading), then `None`.
    ///
    /// [`Event::Closed`]: super::Event::Closed
    pub fn poll_tile_io(&mut self) -> Option<IoRequest> {
        if !self.opts.merkle_tree {
            return None; // no tree, no tiles (a benchmark option)
        }
        let ctx = Ctx {
            durable: self.durable_seq,
            segments: &self.segments,
            now: self.now,
            read_chunk: self.opts.read_chunk,
            closed: !matches!(self.phase, super::Phase::Ready) || self.closing,
        };
        self.tiles.poll(&ctx)
    }

    /// The result of the tile-lane request `id`. A failure never changes the trail's health:
    /// it is counted in [`Trail::tile_status`] and the file is tried again after a backoff.
    pub fn handle_tile_io(&mut self, id: IoId, result: IoResult) {
        let ctx = Ctx {
            durable: self.durable_seq,
            segments: &self.segments,
            now: self.now,
            read_chunk: self.opts.read_chunk,
            closed: !matches!(self.phase, super::Phase::Ready) || self.closing,
        };
        self.tiles.handle(id, result, &ctx);
    }

    /// How far the tiles are (entries tiled, files written, failures, rebuilds).
    pub fn tile_status(&self) -> TileStatus {
        TileStatus {
            tiled: self.tiles.builder.size(),
            ..self.tiles.status.clone()
        }
    }
}

/// Whether `id` is a tile-lane request's (hosts that keep one table of outstanding requests
/// use it to tell the lanes apart).
pub fn is_tile_request(id: IoId) -> bool {
    id.0 & TILE_ID_BIT != 0
}
