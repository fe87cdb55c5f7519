//! The IO driver: one thread that owns the core state machine and the files, performs the
//! core's requests with blocking syscalls, and answers callers through oneshot channels.
//!
//! Why a dedicated thread rather than async file IO: every operation here is a blocking syscall
//! (pwrite, fdatasync), and tokio's file types would hop to the blocking pool for each one. One
//! thread performing them back to back, draining all appends that arrived meanwhile before each
//! write, is group commit with no extra latency.

use crate::fs_exec::FsExecutor;
use crate::mirror::Mirror;
use crate::tile_worker::TileWorker;
use evident_core::{
    Checkpoint, Event, Health, OpenReport, PreparedPayload, Receipt, Trail as Core,
};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Nanoseconds on a monotonic clock (since the first call in this process): what the core's
/// timers run on, so a wall-clock step does not delay or hasten an interval sync. Record
/// timestamps use the wall clock ([`now_ns`]).
pub(crate) fn monotonic_ns() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

/// Nanoseconds since the Unix epoch, from the wall clock.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What callers ask of the driver.
pub(crate) enum Cmd {
    /// One record; its payload hash and agent were computed in the caller's task.
    Append {
        payload: PreparedPayload,
        ts: Option<u64>,
        reply: oneshot::Sender<Result<Receipt, evident_core::Error>>,
    },
    AppendBatch {
        payloads: Vec<PreparedPayload>,
        reply: oneshot::Sender<Result<Vec<Receipt>, evident_core::Error>>,
    },
    /// Appends in order, each only if the one before it succeeds.
    AppendInOrder {
        payloads: Vec<PreparedPayload>,
        reply: oneshot::Sender<InOrder>,
    },
    Sync {
        reply: oneshot::Sender<Result<Checkpoint, evident_core::Error>>,
    },
    Checkpoint {
        reply: oneshot::Sender<Result<Checkpoint, evident_core::Error>>,
    },
    Close {
        reply: oneshot::Sender<Result<Checkpoint, evident_core::Error>>,
    },
    /// What the background archiver measured, for the core's health.
    ArchiveReport(evident_core::ArchiveReport),
}

/// What the handles can read without asking the driver.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub health: Health,
    pub head: Checkpoint,
    pub written_head: Checkpoint,
    /// The tree at the durable head.
    pub tree: evident_core::TreeHead,
    /// The trail's origin (fixed once open).
    pub origin: String,
    /// Why the last `head.checkpoint` write failed, until one succeeds.
    pub checkpoint_error: Option<evident_core::Error>,
    /// Why the driver stopped after losing the writer lease (later requests fail with it).
    pub lost: Option<String>,
    /// Segment rotations since the trail opened (the signer signs at each).
    pub rotations: u64,
    /// Woken when the durable head moves or a segment rotates (the background signer).
    pub wake: Option<Arc<tokio::sync::Notify>>,
    /// The tile lane's progress (refreshed as its requests finish).
    pub tiles: evident_core::TileStatus,
}

/// The outcome of an in-order append: the receipts of the acknowledged prefix, and the error
/// that stopped the rest (none of which was written).
pub(crate) struct InOrder {
    pub receipts: Vec<Receipt>,
    pub error: Option<evident_core::Error>,
}

enum BatchReply {
    /// All or an error.
    All(oneshot::Sender<Result<Vec<Receipt>, evident_core::Error>>),
    /// The acknowledged prefix and the first error.
    Prefix(oneshot::Sender<InOrder>),
}

struct BatchState {
    results: Vec<Option<Result<Receipt, evident_core::Error>>>,
    left: usize,
    reply: Option<BatchReply>,
}

enum Waiter {
    One(oneshot::Sender<Result<Receipt, evident_core::Error>>),
    InBatch(usize, Rc<RefCell<BatchState>>),
}

/// An append waiting for its outcome: who to answer, and its payload when it is mirrored.
type PendingAppend = (Waiter, Option<Vec<u8>>);

/// Appends waiting for their outcome, by token. Tokens are handed out in increasing order, so a
/// deque indexed by `token - first` does what a hash map would, without hashing and without the
/// tombstones that first-in-first-out removal leaves in a hash table (with thousands of appends
/// in flight those made lookups probe long chains: 12-15% of the driver's time in a profile of
/// batched appends).
#[derive(Default)]
struct Waiting {
    /// Token of `slots[0]`.
    first: u64,
    /// `None`: resolved already, or a token that was not an accepted append.
    slots: VecDeque<Option<PendingAppend>>,
}

impl Waiting {
    /// Adds the waiter of `token`, greater than every token added before.
    fn insert(&mut self, token: u64, waiter: PendingAppend) {
        if self.slots.is_empty() {
            self.first = token;
        }
        debug_assert!(token >= self.first + self.slots.len() as u64);
        while self.first + (self.slots.len() as u64) < token {
            self.slots.push_back(None);
        }
        self.slots.push_back(Some(waiter));
    }

    /// Takes the waiter of `token`, if it is still waiting.
    fn remove(&mut self, token: u64) -> Option<PendingAppend> {
        let i = usize::try_from(token.checked_sub(self.first)?).ok()?;
        let waiter = self.slots.get_mut(i)?.take();
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.first += 1;
        }
        waiter
    }

    /// Takes every waiter still waiting.
    fn drain(&mut self) -> impl Iterator<Item = PendingAppend> + '_ {
        self.slots.drain(..).flatten()
    }
}

struct Driver {
    core: Core,
    exec: FsExecutor,
    rx: mpsc::Receiver<Cmd>,
    shared: Arc<Mutex<Snapshot>>,
    next_token: u64,
    appends: Waiting,
    syncs: HashMap<u64, oneshot::Sender<Result<Checkpoint, evident_core::Error>>>,
    checkpoints: Vec<oneshot::Sender<Result<Checkpoint, evident_core::Error>>>,
    closers: Vec<oneshot::Sender<Result<Checkpoint, evident_core::Error>>>,
    opened: Option<oneshot::Sender<Result<OpenReport, evident_core::Error>>>,
    mirror: Option<Mirror>,
    disconnected: bool,
    /// The tile lane's thread (the tree's tiles, written beside the acknowledgement path).
    tiles: TileWorker,
}

/// Answers the open: the recovery report, or why the trail could not be opened.
pub(crate) type OpenReply = oneshot::Receiver<Result<OpenReport, evident_core::Error>>;

/// Starts the driver thread; the returned receiver yields the open result. The driver owns the
/// directory's lease (inside `exec`) from now on: it renews it and releases it before the close
/// (or the failed open) is answered.
pub(crate) fn spawn(
    core: Core,
    exec: FsExecutor,
    rx: mpsc::Receiver<Cmd>,
    shared: Arc<Mutex<Snapshot>>,
    mirror: Option<Mirror>,
) -> std::io::Result<OpenReply> {
    let (open_tx, open_rx) = oneshot::channel();
    let handle = std::thread::Builder::new()
        .name("evident-driver".into())
        .spawn(move || {
            let tiles = TileWorker::spawn(exec.dir());
            let mut d = Driver {
                tiles,
                core,
                exec,
                rx,
                shared,
                next_token: 0,
                appends: Waiting::default(),
                syncs: HashMap::new(),
                checkpoints: Vec::new(),
                closers: Vec::new(),
                opened: Some(open_tx),
                mirror,
                disconnected: false,
            };
            d.run();
        })?;
    drop(handle); // the thread ends when the trail is closed or every handle is dropped
    Ok(open_rx)
}

impl Driver {
    fn run(&mut self) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        let mut close_asked = false;
        loop {
            self.drain_commands();
            self.core.handle_timeout(monotonic_ns());
            if let Some(lease) = self.exec.lease_mut() {
                // The renewal timer. Not on every pass: the executor checks the lease before
                // each change and after each sync already, so a pass per IO request would only
                // add an fstatat to the hot path.
                if lease.next_renewal_in() == 0 {
                    lease.tick();
                }
                if lease.lost().is_some() {
                    break;
                }
            }
            // The tile lane first: handing it a request costs a channel send, and its thread
            // performs it while this one goes on with the main lane.
            if self.tiles.pump(&mut self.core) {
                self.shared.lock().expect("snapshot lock").tiles = self.core.tile_status();
            }
            if let Some(req) = self.core.poll_io() {
                let result = self.exec.perform(&req.op);
                self.core.handle_io(req.id, result);
                self.dispatch_events();
                if self.exec.lease_lost().is_some() {
                    // Another writer has (or may take) the trail: touch nothing more, answer
                    // everything with why.
                    break;
                }
                continue;
            }
            self.dispatch_events();
            if self.core.is_closed() {
                break;
            }
            if self.disconnected {
                // Every handle is gone: flush what was accepted, then close cleanly. Nothing to
                // do now means waiting for the core's next deadline (a backoff), never spinning;
                // no deadline either means the core is stuck, so the driver stops.
                if !close_asked {
                    close_asked = true;
                    self.core.handle_close();
                    continue;
                }
                match self.core.poll_timeout() {
                    Some(t) => std::thread::sleep(Duration::from_nanos(
                        t.saturating_sub(monotonic_ns()).max(1_000_000),
                    )),
                    None => break,
                }
                continue;
            }
            // Idle: wait for a command, or for the core's next deadline.
            // At least 1 ms to the renewal: one that just failed must not spin the loop.
            let renewal = self
                .exec
                .lease_mut()
                .map(|l| l.next_renewal_in().max(1_000_000));
            let deadline = match (self.core.poll_timeout(), renewal) {
                (Some(t), Some(r)) => Some(t.saturating_sub(monotonic_ns()).min(r)),
                (Some(t), None) => Some(t.saturating_sub(monotonic_ns())),
                (None, r) => r,
            };
            let rx = &mut self.rx;
            let tiles = &mut self.tiles;
            let cmd = rt.block_on(async {
                // A tile result wakes the loop too (it may unlock the lane's next request).
                let next = async {
                    tokio::select! {
                        cmd = rx.recv() => Some(cmd),
                        () = tiles.done() => None,
                    }
                };
                match deadline {
                    Some(wait) => {
                        let wait = Duration::from_nanos(wait);
                        tokio::time::timeout(wait, next).await.ok().flatten()
                    }
                    None => next.await,
                }
            });
            match cmd {
                Some(Some(cmd)) => self.on_cmd(cmd),
                Some(None) => self.disconnected = true,
                None => {} // deadline reached, or a tile result
            }
        }
        self.fail_everything();
    }

    fn drain_commands(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => self.on_cmd(cmd),
                Err(mpsc::error::TryRecvError::Empty) => return,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.disconnected = true;
                    return;
                }
            }
        }
    }

    fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Append { payload, ts, reply } => {
                let token = self.token();
                let keep = self.mirror.is_some().then(|| payload.payload().to_vec());
                match self.core.handle_append_prepared(
                    token,
                    payload,
                    ts.unwrap_or_else(now_ns),
                    None,
                ) {
                    Ok(()) => {
                        self.appends.insert(token, (Waiter::One(reply), keep));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Cmd::AppendBatch { payloads, reply } => {
                self.append_batch(payloads, BatchReply::All(reply));
            }
            Cmd::AppendInOrder { payloads, reply } => {
                self.append_batch(payloads, BatchReply::Prefix(reply));
            }
            Cmd::Sync { reply } => {
                let token = self.token();
                self.core.handle_sync(token);
                self.syncs.insert(token, reply);
            }
            Cmd::Checkpoint { reply } => {
                self.core.handle_checkpoint();
                self.checkpoints.push(reply);
            }
            Cmd::Close { reply } => {
                self.core.handle_close();
                self.closers.push(reply);
            }
            Cmd::ArchiveReport(report) => {
                self.core.handle_archive_report(report);
                // No event follows a report: the handles' health is refreshed here.
                self.shared.lock().expect("snapshot lock").health = self.core.health();
            }
        }
    }

    /// Queues a batch; under [`BatchReply::Prefix`] each record depends on the one before it,
    /// so that the core writes none after the first that fails.
    fn append_batch(&mut self, payloads: Vec<PreparedPayload>, reply: BatchReply) {
        let n = payloads.len();
        let chained = matches!(reply, BatchReply::Prefix(_));
        let state = Rc::new(RefCell::new(BatchState {
            results: vec![None; n],
            left: n,
            reply: Some(reply),
        }));
        if n == 0 {
            finish_batch(&state);
        }
        let ts = now_ns();
        let mut previous: Option<u64> = None;
        let mut refused: Option<evident_core::Error> = None;
        for (i, payload) in payloads.into_iter().enumerate() {
            if let (true, Some(e)) = (chained, &refused) {
                resolve_in_batch(&state, i, Err(e.clone()));
                continue;
            }
            let token = self.token();
            let keep = self.mirror.is_some().then(|| payload.payload().to_vec());
            let after = if chained { previous } else { None };
            match self.core.handle_append_prepared(token, payload, ts, after) {
                Ok(()) => {
                    self.appends
                        .insert(token, (Waiter::InBatch(i, state.clone()), keep));
                    previous = Some(token);
                }
                Err(e) => {
                    refused = Some(e.clone());
                    resolve_in_batch(&state, i, Err(e));
                }
            }
        }
    }

    fn dispatch_events(&mut self) {
        let events: Vec<Event> = std::iter::from_fn(|| self.core.poll_event()).collect();
        if events.is_empty() {
            return;
        }
        // The snapshot first: a caller woken by its reply must see a head (and health) that
        // already includes what the reply reports.
        {
            let mut s = self.shared.lock().expect("snapshot lock");
            let durable_before = s.tree.size;
            s.health = self.core.health();
            s.head = self.core.head();
            s.written_head = self.core.written_head();
            s.tree = self.core.tree_head();
            if s.origin.is_empty() {
                s.origin = self.core.origin().to_string(); // known once the open finished
            }
            for ev in &events {
                match ev {
                    Event::CheckpointFailed(e) => s.checkpoint_error = Some(e.clone()),
                    Event::CheckpointWritten(_) => s.checkpoint_error = None,
                    Event::Rotated { .. } => s.rotations += 1,
                    _ => {}
                }
            }
            if let Some(wake) = &s.wake {
                if s.tree.size != durable_before
                    || events.iter().any(|e| matches!(e, Event::Rotated { .. }))
                {
                    // One atomic store: the signature is made off this thread.
                    wake.notify_one();
                }
            }
        }
        for ev in events {
            match ev {
                Event::Opened(report) => {
                    if let Some(tx) = self.opened.take() {
                        let _ = tx.send(Ok(report));
                    }
                }
                Event::OpenFailed(e) => {
                    self.exec.release_lease(); // nothing more is done in the directory
                    if let Some(tx) = self.opened.take() {
                        let _ = tx.send(Err(e));
                    }
                }
                Event::Appended { token, receipt } => {
                    if let Some((waiter, payload)) = self.appends.remove(token) {
                        if let (Some(m), Some(p)) = (self.mirror.as_mut(), payload) {
                            m.record(&receipt, &p);
                        }
                        resolve(waiter, Ok(receipt));
                    }
                }
                Event::AppendFailed { token, error } => {
                    if let Some((waiter, _)) = self.appends.remove(token) {
                        resolve(waiter, Err(error));
                    }
                }
                Event::Synced { token } => {
                    if let Some(tx) = self.syncs.remove(&token) {
                        let _ = tx.send(Ok(self.core.head()));
                    }
                }
                Event::SyncFailed { token, error } => {
                    if let Some(tx) = self.syncs.remove(&token) {
                        let _ = tx.send(Err(error));
                    }
                }
                Event::CheckpointWritten(cp) => {
                    for tx in self.checkpoints.drain(..) {
                        let _ = tx.send(Ok(cp));
                    }
                }
                Event::CheckpointFailed(e) => {
                    for tx in self.checkpoints.drain(..) {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
                Event::Closed { head } => {
                    // The tiles still in memory are written before the lease goes: another
                    // writer may open the trail next, and must not find this one's tile lane
                    // still at work.
                    self.tiles.drain(&mut self.core);
                    // Everything is written and synced: another writer may open the trail.
                    self.exec.release_lease();
                    let outcome = match self.core.close_error() {
                        Some(e) => Err(e.clone()),
                        None => Ok(head),
                    };
                    for tx in self.closers.drain(..) {
                        let _ = tx.send(outcome.clone());
                    }
                }
                Event::HealthChanged { .. } | Event::Rotated { .. } => {}
            }
        }
    }

    fn fail_everything(&mut self) {
        // After a lost lease every request fails with the reason; otherwise with `Closed`.
        let why = self.exec.lease_lost();
        self.shared.lock().expect("snapshot lock").lost = why.clone();
        let lost = why.map(|why| evident_core::Error::Failed { reason: why });
        let err = || lost.clone().unwrap_or(evident_core::Error::Closed);
        for (w, _) in self.appends.drain() {
            resolve(w, Err(err()));
        }
        for (_, tx) in self.syncs.drain() {
            let _ = tx.send(Err(err()));
        }
        for tx in self.checkpoints.drain(..) {
            let _ = tx.send(Err(err()));
        }
        let head = self.core.head();
        for tx in self.closers.drain(..) {
            let _ = tx.send(match &lost {
                Some(e) => Err(e.clone()),
                None => Ok(head),
            });
        }
        if let Some(tx) = self.opened.take() {
            let _ = tx.send(Err(err()));
        }
        // Commands still queued: answer them too.
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            match cmd {
                Cmd::Append { reply, .. } => drop(reply.send(Err(err()))),
                Cmd::AppendBatch { reply, .. } => drop(reply.send(Err(err()))),
                Cmd::AppendInOrder { reply, .. } => drop(reply.send(InOrder {
                    receipts: Vec::new(),
                    error: Some(err()),
                })),
                Cmd::Sync { reply } | Cmd::Checkpoint { reply } => drop(reply.send(Err(err()))),
                Cmd::Close { reply } => drop(reply.send(match &lost {
                    Some(e) => Err(e.clone()),
                    None => Ok(head),
                })),
                Cmd::ArchiveReport(_) => {}
            }
        }
        if let Some(m) = self.mirror.as_mut() {
            m.flush();
        }
    }
}

fn resolve(waiter: Waiter, r: Result<Receipt, evident_core::Error>) {
    match waiter {
        Waiter::One(tx) => {
            let _ = tx.send(r);
        }
        Waiter::InBatch(i, state) => resolve_in_batch(&state, i, r),
    }
}

fn resolve_in_batch(
    state: &Rc<RefCell<BatchState>>,
    i: usize,
    r: Result<Receipt, evident_core::Error>,
) {
    {
        let mut s = state.borrow_mut();
        s.results[i] = Some(r);
        s.left -= 1;
        if s.left > 0 {
            return;
        }
    }
    finish_batch(state);
}

fn finish_batch(state: &Rc<RefCell<BatchState>>) {
    let mut s = state.borrow_mut();
    let Some(reply) = s.reply.take() else { return };
    let results = std::mem::take(&mut s.results);
    match reply {
        BatchReply::All(tx) => {
            let _ = tx.send(results.into_iter().flatten().collect());
        }
        BatchReply::Prefix(tx) => {
            let mut out = InOrder {
                receipts: Vec::new(),
                error: None,
            };
            for r in results.into_iter().flatten() {
                match r {
                    Ok(receipt) if out.error.is_none() => out.receipts.push(receipt),
                    Ok(_) => {} // cannot happen: the core writes nothing after a failure
                    Err(e) => {
                        out.error.get_or_insert(e);
                    }
                }
            }
            let _ = tx.send(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter() -> PendingAppend {
        (Waiter::One(oneshot::channel().0), None)
    }

    #[test]
    fn waiting_appends_are_found_by_token_in_any_order_and_across_gaps() {
        let mut w = Waiting::default();
        for t in [3, 4, 7, 8] {
            w.insert(t, waiter()); // 5 and 6 were tokens of other requests
        }
        assert!(w.remove(5).is_none());
        assert!(w.remove(7).is_some());
        assert!(w.remove(7).is_none(), "taken once");
        assert!(w.remove(3).is_some());
        assert!(w.remove(2).is_none() && w.remove(100).is_none());
        assert_eq!(w.first, 4, "resolved tokens at the front are dropped");
        w.insert(9, waiter());
        assert_eq!(w.drain().count(), 3, "4, 8 and 9 still wait");
        w.insert(20, waiter());
        assert!(w.remove(20).is_some());
        assert!(w.slots.is_empty());
    }
}
