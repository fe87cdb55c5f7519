//! The trail writer: a sans-IO state machine that opens (recovers) a trail, group-commits
//! appends, rotates and seals segments, writes checkpoints, and tracks health.
//!
//! Drive it like quinn-proto or str0m: feed inputs with `handle_*`, then drain outputs with
//! `poll_*` until they return `None`:
//!
//! ```text
//! loop {
//!     while let Some(req) = trail.poll_io() { let r = host.perform(&req.op); trail.handle_io(req.id, r); }
//!     while let Some(ev) = trail.poll_event() { deliver(ev) }
//!     wait for: an append from a caller (handle_append), or trail.poll_timeout() (handle_timeout)
//! }
//! ```
//!
//! At most one IO request is outstanding at a time, and `poll_io` returns `None` while it is.
//! Requests may be performed on another thread; appends keep arriving meanwhile and are batched.

mod archive_lag;
mod commit;
mod live_index;
mod maintain;
mod open;
mod open_rewrite;
mod tiles;
mod zero_fill;

pub use tiles::{is_tile_request, TileStatus};

use crate::checkpoint::Checkpoint;
use crate::config::{Options, INDEX_STRIDE};
use crate::error::Error;
use crate::footer::IndexBuilder;
use crate::hash::{Hash, LogId};
use crate::header::{SegmentHeader, HEADER_LEN};
use crate::health::{Health, HealthState, HealthTracker, Transition};
use crate::io::{IoDone, IoId, IoOp, IoRequest, IoResult};
use crate::prepared::PreparedPayload;
use crate::tree::CompactRange;
use std::collections::VecDeque;

/// The Merkle tree (RFC 6962, SHA-256) over a trail's records at one size: what a C2SP
/// checkpoint body states (with the trail's origin line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of records in the tree (the seq of the last one).
    pub size: u64,
    /// The root hash (`SHA-256("")` for the empty tree).
    pub root: Hash,
}

/// What an append gets back once it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The record's seq.
    pub seq: u64,
    /// The timestamp recorded (the one given, raised to the previous record's if it was
    /// earlier: timestamps never decrease along a trail).
    pub ts: u64,
    /// The chain hash after this record.
    pub hash: Hash,
    /// Whether an fsync covering the record succeeded before the acknowledgement.
    pub durable: bool,
}

/// How the end of the trail looked when it was opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TailReport {
    /// The last segment ended exactly after its last record.
    #[default]
    Clean,
    /// Zero bytes followed the last record (preallocated space): nothing lost.
    Preallocated {
        /// Zero bytes after the last record.
        bytes: u64,
    },
    /// The last segment was sealed; a new segment was started.
    Sealed,
    /// A torn tail was cut.
    Truncated {
        /// The segment file.
        file: String,
        /// Where it was cut (the end of the last complete record).
        offset: u64,
        /// Bytes removed.
        bytes: u64,
        /// The seq the first removed (incomplete, never acknowledged) record would have had.
        first_lost_seq: u64,
        /// What the removed bytes looked like.
        found: String,
    },
    /// A segment whose creation was interrupted (header never written) was removed.
    AbandonedSegmentRemoved,
}

impl std::fmt::Display for TailReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TailReport::Clean => write!(f, "clean end"),
            TailReport::Preallocated { bytes } => write!(f, "clean end ({bytes} preallocated bytes)"),
            TailReport::Sealed => write!(f, "last segment sealed; a new one was started"),
            TailReport::Truncated { file, offset, bytes, first_lost_seq, found } => write!(
                f,
                "cut a torn tail of {bytes} bytes at {file} offset {offset} ({found}); seq {first_lost_seq} onwards had never been acknowledged"
            ),
            TailReport::AbandonedSegmentRemoved => write!(f, "removed a segment whose creation was interrupted"),
        }
    }
}

/// What opening found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The trail's identity.
    pub log_id: LogId,
    /// Whether the trail was created by this open.
    pub created: bool,
    /// Number of segment files.
    pub segments: usize,
    /// Seq the next append will get.
    pub next_seq: u64,
    /// The durable head at open.
    pub head: Checkpoint,
    /// How the tail looked, and what recovery did about it.
    pub tail: TailReport,
    /// Files removed by recovery (temporary checkpoint files, abandoned segments).
    pub removed_files: Vec<String>,
}

impl Default for Checkpoint {
    fn default() -> Checkpoint {
        Checkpoint::empty(LogId::default())
    }
}

/// An output of the state machine other than IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Opening finished; appends are being processed.
    Opened(OpenReport),
    /// Opening failed; every queued and future append fails with [`Error::NotOpen`].
    OpenFailed(Error),
    /// The append with this token is acknowledged.
    Appended {
        /// The caller's token.
        token: u64,
        /// Its receipt.
        receipt: Receipt,
    },
    /// The append with this token was not acknowledged (it may or may not survive a crash).
    AppendFailed {
        /// The caller's token.
        token: u64,
        /// Why.
        error: Error,
    },
    /// Everything appended before the `sync` request with this token is durable.
    Synced {
        /// The caller's token.
        token: u64,
    },
    /// The `sync` request with this token failed.
    SyncFailed {
        /// The caller's token.
        token: u64,
        /// Why.
        error: Error,
    },
    /// Health changed.
    HealthChanged {
        /// Previous state.
        from: HealthState,
        /// New state.
        to: HealthState,
        /// What caused it.
        reason: String,
    },
    /// A segment was sealed and a new one is active (its header and the directory are synced).
    Rotated {
        /// File name of the sealed segment.
        sealed: String,
        /// File name of the new segment.
        created: String,
        /// Seq of the first record of the new segment.
        first_seq: u64,
    },
    /// `head.checkpoint` was rewritten.
    CheckpointWritten(Checkpoint),
    /// Writing `head.checkpoint` failed (the trail itself is unaffected).
    CheckpointFailed(Error),
    /// The trail is closed: everything acknowledged is durable and the checkpoint is written.
    Closed {
        /// The final head.
        head: Checkpoint,
    },
}

/// The segment currently appended to.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub name: String,
    pub segno: u64,
    pub first_seq: u64,
    pub anchor: Hash,
    /// End of the bytes written (records only).
    pub written_end: u64,
    /// End of the bytes known durable.
    pub synced_end: u64,
    /// Physical length of the file (greater than `written_end` when preallocated).
    pub file_len: u64,
    /// End of the zeros written ahead of the records ([`IoOp::WriteZeros`], see the
    /// `zero_fill` module); `written_end` or less when none are. A performance hint: nothing
    /// read or recovered depends on it.
    pub zeroed_end: u64,
    /// Whether `file_len` is known to be the file's length: after an open (the length read)
    /// and while the preallocation that asked for it has not failed. Zeros are written only
    /// into a reserved file.
    pub reserved: bool,
    pub records: u64,
    pub first_ts: Option<u64>,
    /// Timestamp of the record before the segment's first (its records cannot be earlier).
    pub base_ts: u64,
    pub index: IndexBuilder,
    /// Agent → records of this segment, written beside it when it is sealed.
    pub agents: crate::agent_index::AgentIndexBuilder,
    /// `written_end` when the live segment's agent index was last written (see
    /// [`crate::trail`]'s `live_index` module).
    pub live_index_end: u64,
    /// The tree before the segment's first record: a re-verification of the segment
    /// rebuilds the tree from it.
    pub tree_base: CompactRange,
}

impl Active {
    pub(crate) fn fresh(
        name: String,
        h: &SegmentHeader,
        base_ts: u64,
        opts: &Options,
        tree_base: CompactRange,
    ) -> Active {
        let header_len = HEADER_LEN as u64;
        Active {
            name,
            segno: h.segno,
            first_seq: h.first_seq,
            anchor: h.anchor,
            written_end: header_len,
            synced_end: header_len,
            file_len: if opts.preallocate {
                opts.segment_bytes.max(header_len)
            } else {
                header_len
            },
            zeroed_end: header_len,
            reserved: opts.preallocate,
            records: 0,
            first_ts: None,
            base_ts,
            index: IndexBuilder::new(INDEX_STRIDE),
            agents: crate::agent_index::AgentIndexBuilder::new(h.first_seq),
            live_index_end: header_len,
            tree_base,
        }
    }
}

/// The IO steps that create a segment durably: the file, its header, its reserved space, a
/// sync of the file and one of the directory — all before any record in it is acknowledged.
pub(crate) fn create_segment_steps(
    opts: &Options,
    name: &str,
    header: &SegmentHeader,
) -> VecDeque<IoOp> {
    let mut ops = VecDeque::new();
    ops.push_back(IoOp::Create {
        file: name.to_string(),
    });
    ops.push_back(IoOp::Write {
        file: name.to_string(),
        offset: 0,
        data: header.encode().to_vec(),
    });
    if opts.preallocate && opts.segment_bytes > HEADER_LEN as u64 {
        ops.push_back(IoOp::Preallocate {
            file: name.to_string(),
            len: opts.segment_bytes,
        });
    }
    ops.push_back(IoOp::Sync {
        file: name.to_string(),
        metadata: true,
    });
    ops.push_back(IoOp::SyncDir);
    ops
}

/// An append waiting for a batch.
#[derive(Debug)]
pub(crate) struct Pending {
    pub token: u64,
    pub ts: u64,
    pub payload: PreparedPayload,
    /// The append this one depends on: if that one fails, this one fails without being written.
    pub after: Option<u64>,
}

/// A record written (and possibly synced) but not yet acknowledged or failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub token: u64,
    pub seq: u64,
    pub ts: u64,
    pub hash: Hash,
}

enum Phase {
    Opening(Box<open::Opener>),
    Ready,
    Closed,
    OpenFailed,
}

/// Why the outstanding IO request was made.
#[derive(Debug)]
pub(crate) enum Purpose {
    Opening,
    BatchWrite(commit::Batch),
    BatchSync {
        seq: u64,
        hash: Hash,
        root: Hash,
        end: u64,
    },
    Step(maintain::After),
}

/// The trail state machine. See the module documentation for how to drive it.
pub struct Trail {
    opts: Options,
    phase: Phase,
    log_id: LogId,
    now: u64,
    next_io: u64,
    /// The outstanding request: its id, why it was made, and the length of data it writes.
    inflight: Option<(IoId, Purpose, Option<u64>)>,
    /// The request the opener is waiting on (the opener needs it back with the result).
    opening_op: Option<IoOp>,
    /// Steps of the maintenance job in progress, run before anything else.
    plan: VecDeque<(IoOp, maintain::After)>,
    job: Option<maintain::Job>,
    events: VecDeque<Event>,
    health: HealthTracker,
    // Chain state after everything written.
    next_seq: u64,
    head: Hash,
    last_ts: u64,
    /// The tree over everything written (advanced in group commit, one leaf per record).
    tree: CompactRange,
    /// The trail's origin (from its `origin` file, or set at creation).
    origin: String,
    // The last durable record.
    durable_seq: u64,
    durable_hash: Hash,
    /// The tree root at `durable_seq`.
    durable_root: Hash,
    active: Option<Active>,
    /// Segments of the trail, (first seq, file name), oldest first.
    segments: Vec<(u64, String)>,
    queue: VecDeque<Pending>,
    /// Written under `Durability::Always`, waiting for the covering sync.
    unsynced: Vec<Written>,
    appends_received: u64,
    appends_resolved: u64,
    sync_waiters: VecDeque<(u64, u64)>,
    sync_deadline: Option<u64>,
    closing: bool,
    /// The segment being created failed its preallocation (applied when it becomes active).
    new_segment_unreserved: bool,
    /// A chunk of zeros was written since the last batch was built (one per batch at most).
    zeros_before_batch: bool,
    checkpoint_requested: bool,
    /// Seq of the last `head.checkpoint` written (or the head found at open).
    checkpointed_seq: u64,
    /// Host time of the last checkpoint write started: refreshes come at most
    /// `checkpoint_interval` apart, failed ones included (no retry loop).
    last_checkpoint_at: u64,
    /// Set when a failed job must be retried before more appends are written.
    resync_needed: bool,
    fatal: Option<String>,
    /// Segment number the next created segment gets (after a seal).
    pending_segno: u64,
    close_checkpointed: bool,
    /// Earliest time (timer clock) at which a failed segment creation or re-verification is
    /// tried again: a persistent failure is retried with backoff, never in a tight loop.
    retry_at: Option<u64>,
    /// Consecutive failures of that kind, for the backoff.
    retry_failures: u32,
    /// What went wrong while closing (a job that failed then is not retried: close ends).
    close_failure: Option<Error>,
    /// Set when a segment creation or re-verification failed while closing: close then ends
    /// without trying again.
    close_gave_up: bool,
    /// The tile lane (the tree's tiles on disk, off the acknowledgement path).
    tiles: tiles::Tiles,
}

/// First backoff after a failed segment creation or re-verification (10 ms), doubled per
/// consecutive failure up to [`MAX_RETRY_BACKOFF_NS`].
pub const MIN_RETRY_BACKOFF_NS: u64 = 10_000_000;
/// Longest backoff between two attempts of a failed maintenance job (1 s).
pub const MAX_RETRY_BACKOFF_NS: u64 = 1_000_000_000;

impl Trail {
    /// Starts opening the trail in the host's directory. `new_log_id` (random, from the host) is
    /// used only if the directory holds no trail yet; `now` is the host's timer clock in
    /// nanoseconds (a monotonic clock is best: it only drives the interval sync; record
    /// timestamps are given with each append). Drain [`Trail::poll_io`] to run recovery; [`Event::Opened`] or
    /// [`Event::OpenFailed`] follows. Appends made meanwhile are queued.
    pub fn open(opts: Options, new_log_id: LogId, now: u64) -> Trail {
        let invalid = opts.validate().err();
        let health = HealthTracker::new(opts.healthy_after);
        let mut t = Trail {
            phase: Phase::Opening(Box::new(open::Opener::new(opts.clone(), new_log_id))),
            opts,
            log_id: new_log_id,
            now,
            next_io: 0,
            inflight: None,
            opening_op: None,
            plan: VecDeque::new(),
            job: None,
            events: VecDeque::new(),
            health,
            next_seq: 1,
            head: Hash::default(),
            last_ts: 0,
            tree: CompactRange::new(),
            origin: String::new(),
            durable_seq: 0,
            durable_hash: Hash::default(),
            durable_root: crate::tree::EMPTY_ROOT,
            active: None,
            segments: Vec::new(),
            queue: VecDeque::new(),
            unsynced: Vec::new(),
            appends_received: 0,
            appends_resolved: 0,
            sync_waiters: VecDeque::new(),
            sync_deadline: None,
            closing: false,
            new_segment_unreserved: false,
            zeros_before_batch: false,
            checkpoint_requested: false,
            checkpointed_seq: 0,
            last_checkpoint_at: now,
            resync_needed: false,
            fatal: None,
            pending_segno: 0,
            close_checkpointed: false,
            retry_at: None,
            retry_failures: 0,
            close_failure: None,
            close_gave_up: false,
            tiles: tiles::Tiles::default(),
        };
        if let Some(e) = invalid {
            // Out-of-range options: no IO at all, the open fails with the range.
            t.fail_open(e);
        }
        t
    }

    /// Queues an append. `token` is the caller's, returned in [`Event::Appended`] or
    /// [`Event::AppendFailed`]; `ts` is the host's time in nanoseconds since the Unix epoch.
    /// Fails at once (and emits nothing) when the payload is too large or the trail is
    /// closing, closed or failed to open.
    pub fn handle_append(&mut self, token: u64, payload: Vec<u8>, ts: u64) -> Result<(), Error> {
        self.handle_append_after(token, payload, ts, None)
    }

    /// [`Trail::handle_append`] for an append that must not be written if the earlier append
    /// `after` (the token queued just before it) fails: it then fails too, with the same error,
    /// so that a stream of appends is stored in order without a hole or stops at its first
    /// failure. An `after` that is no longer waiting (already acknowledged) has no effect.
    pub fn handle_append_after(
        &mut self,
        token: u64,
        payload: Vec<u8>,
        ts: u64,
        after: Option<u64>,
    ) -> Result<(), Error> {
        self.check_append(payload.len())?;
        self.queue_append(token, PreparedPayload::new(payload), ts, after);
        Ok(())
    }

    /// [`Trail::handle_append_after`] for a payload whose hash and agent id the host computed
    /// already ([`PreparedPayload::new`], for example in the producer's thread, so that the
    /// thread driving the core does less per record). The record is the same either way.
    pub fn handle_append_prepared(
        &mut self,
        token: u64,
        payload: PreparedPayload,
        ts: u64,
        after: Option<u64>,
    ) -> Result<(), Error> {
        self.check_append(payload.len())?;
        self.queue_append(token, payload, ts, after);
        Ok(())
    }

    /// Whether an append of `len` bytes is accepted now (else the error it fails with at once).
    fn check_append(&self, len: usize) -> Result<(), Error> {
        if len > self.opts.max_payload as usize {
            return Err(Error::TooLarge {
                len,
                max: self.opts.max_payload as usize,
            });
        }
        match self.phase {
            Phase::Closed => return Err(Error::Closed),
            Phase::OpenFailed => return Err(Error::NotOpen),
            _ if self.closing => return Err(Error::Closed),
            _ => {}
        }
        if let Some(reason) = &self.fatal {
            return Err(Error::Failed {
                reason: reason.clone(),
            });
        }
        let seq = self.next_seq.saturating_add(self.queue.len() as u64);
        if seq == u64::MAX {
            return Err(Error::SeqExhausted { next_seq: seq });
        }
        Ok(())
    }

    fn queue_append(&mut self, token: u64, payload: PreparedPayload, ts: u64, after: Option<u64>) {
        self.appends_received += 1;
        self.queue.push_back(Pending {
            token,
            ts,
            payload,
            after,
        });
    }

    /// Asks for everything appended so far to be made durable, whatever the durability policy;
    /// [`Event::Synced`] with `token` follows.
    pub fn handle_sync(&mut self, token: u64) {
        self.sync_waiters.push_back((token, self.appends_received));
        self.tiles.want_partials();
        // Nothing to wait for: answer now (no IO will come to trigger it).
        self.flush_sync_waiters();
    }

    /// Asks for `head.checkpoint` to be rewritten with the durable head.
    pub fn handle_checkpoint(&mut self) {
        self.checkpoint_requested = true;
    }

    /// Starts closing: queued appends are written, everything is synced, the checkpoint is
    /// written, then [`Event::Closed`]. Later appends fail with [`Error::Closed`].
    pub fn handle_close(&mut self) {
        self.closing = true;
    }

    /// Tells the state machine the time on the host's timer clock (nanoseconds, the clock given
    /// to [`Trail::open`]).
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    /// When the host should call [`Trail::handle_timeout`] next, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let earliest = match (self.sync_deadline, self.retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (earliest, self.checkpoint_refresh_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Why closing could not finish everything it should (a segment that could not be created
    /// for the appends still queued, a failed re-verification, a failed `head.checkpoint`
    /// write), once [`Event::Closed`] has been emitted. `None` after a clean close.
    pub fn close_error(&self) -> Option<&Error> {
        self.close_failure.as_ref()
    }

    /// When `head.checkpoint` should next be refreshed: only while records made durable since
    /// the last one exist, and only while the trail is writing normally (a failed trail or a
    /// closing one has other work first, and a deadline it cannot act on would make the host
    /// spin).
    pub(super) fn checkpoint_refresh_at(&self) -> Option<u64> {
        let idle = matches!(self.phase, Phase::Ready)
            && !self.closing
            && !self.health.is_failed()
            && !self.resync_needed
            && self.active.is_some();
        (idle && self.opts.checkpoint_interval > 0 && self.durable_seq > self.checkpointed_seq)
            .then(|| {
                self.last_checkpoint_at
                    .saturating_add(self.opts.checkpoint_interval)
            })
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The trail's identity (meaningful once opened).
    pub fn log_id(&self) -> LogId {
        self.log_id
    }

    /// Whether opening finished successfully and the trail is not closed.
    pub fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    /// Whether the trail is closed (or failed to open): nothing more will happen.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::OpenFailed)
    }

    /// Health and counters.
    pub fn health(&self) -> Health {
        self.health_with_archive_lag()
    }

    /// The durable head: the last record an fsync covered.
    pub fn head(&self) -> Checkpoint {
        Checkpoint {
            log_id: self.log_id,
            seq: self.durable_seq,
            hash: self.durable_hash,
        }
    }

    /// The tree at the durable head ([`Trail::head`]): its size (the head's seq, the number of
    /// records) and its RFC 6962 root. Every durable head has one: the writer advances the tree
    /// inside group commit.
    /// With [`Options::merkle_tree`](crate::Options::merkle_tree) off (a benchmark option)
    /// it is the empty tree: there is no tree to vouch for the records.
    pub fn tree_head(&self) -> TreeHead {
        if !self.opts.merkle_tree {
            return TreeHead {
                size: 0,
                root: crate::tree::EMPTY_ROOT,
            };
        }
        TreeHead {
            size: self.durable_seq,
            root: self.durable_root,
        }
    }

    /// The trail's origin: the first line of its C2SP checkpoints (`evident/<log id hex>`
    /// unless set when the trail was created; see [`Options::origin`]). Empty before the open
    /// finished.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The C2SP checkpoint of the durable head (origin, tree size, root): its
    /// [`crate::tree::checkpoint::TreeCheckpoint::body`] is the unsigned checkpoint text, and
    /// `signed_note` takes the signers. `None` before the open finished.
    pub fn tree_checkpoint(&self) -> Option<crate::tree::checkpoint::TreeCheckpoint> {
        let th = self.tree_head();
        crate::tree::checkpoint::TreeCheckpoint::new(&self.origin, th.size, th.root).ok()
    }

    /// The tree at the written head ([`Trail::written_head`]).
    pub fn written_tree_head(&self) -> TreeHead {
        TreeHead {
            size: self.tree.size(),
            root: self.tree.root(),
        }
    }

    /// The tree's right edge (compact range) at the written head: what a host needs to compute
    /// roots of later sizes or to check tiles against.
    pub fn tree_edge(&self) -> &CompactRange {
        &self.tree
    }

    /// The head including records written but not yet synced (acknowledged under the `Os` and
    /// `Interval` policies).
    pub fn written_head(&self) -> Checkpoint {
        Checkpoint {
            log_id: self.log_id,
            seq: self.next_seq - 1,
            hash: self.head,
        }
    }

    /// Segment files of the trail, (first seq, file name), oldest first.
    pub fn segments(&self) -> &[(u64, String)] {
        &self.segments
    }

    /// The segment being appended to and the end of the records written in it (readers of
    /// the writer's own process stop there instead of scanning preallocated space).
    pub fn active_segment(&self) -> Option<(&str, u64)> {
        self.active
            .as_ref()
            .map(|a| (a.name.as_str(), a.written_end))
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Appends queued and not yet written.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The next IO request, or `None` while one is outstanding or there is nothing to do.
    pub fn poll_io(&mut self) -> Option<IoRequest> {
        if self.inflight.is_some() {
            return None;
        }
        let (op, purpose) = self.next_action()?;
        let id = IoId(self.next_io);
        self.next_io += 1;
        let write_len = match &op {
            IoOp::Write { data, .. } => Some(data.len() as u64),
            _ => None,
        };
        self.inflight = Some((id, purpose, write_len));
        Some(IoRequest { id, op })
    }

    /// The result of the request `id`. `op` is not needed back: the state machine remembers it.
    pub fn handle_io(&mut self, id: IoId, result: IoResult) {
        let Some((expected, purpose, write_len)) = self.inflight.take() else {
            debug_assert!(false, "handle_io without an outstanding request");
            return;
        };
        if expected != id {
            debug_assert!(
                false,
                "handle_io for {id:?} while {expected:?} is outstanding"
            );
            self.inflight = Some((expected, purpose, write_len));
            return;
        }
        // A short write is a failed write, whatever the host reported.
        let result = match (result, write_len) {
            (Ok(IoDone::Written(n)), Some(want)) if n != want => Err(crate::io::IoError::new(
                crate::io::IoErrorKind::Other,
                format!("short write: {n} of {want} bytes"),
            )),
            (r, _) => r,
        };
        match purpose {
            Purpose::Opening => self.on_open_io(result),
            Purpose::BatchWrite(batch) => self.on_batch_written(batch, result),
            Purpose::BatchSync {
                seq,
                hash,
                root,
                end,
            } => self.on_batch_synced(seq, hash, root, end, result),
            Purpose::Step(after) => self.on_step(after, result),
        }
        self.flush_sync_waiters();
    }

    fn next_action(&mut self) -> Option<(IoOp, Purpose)> {
        match &mut self.phase {
            Phase::Opening(opener) => {
                return match opener.next() {
                    open::OpenAction::Io(op) => {
                        self.opening_op = Some(op.clone());
                        Some((op, Purpose::Opening))
                    }
                    open::OpenAction::Done(opened) => {
                        self.finish_open(*opened);
                        self.next_action()
                    }
                    open::OpenAction::Failed(e) => {
                        self.fail_open(e);
                        None
                    }
                };
            }
            Phase::Closed | Phase::OpenFailed => return None,
            Phase::Ready => {}
        }
        if let Some((op, after)) = self.plan.pop_front() {
            return Some((op, Purpose::Step(after)));
        }
        self.job = None;
        self.schedule()
    }

    fn emit_health(&mut self, t: Option<Transition>, reason: &str) {
        if let Some((from, to)) = t {
            self.events.push_back(Event::HealthChanged {
                from,
                to,
                reason: reason.to_string(),
            });
        }
    }

    fn finish_open(&mut self, o: open::Opened) {
        self.log_id = o.log_id;
        self.next_seq = o.next_seq;
        self.head = o.head;
        self.last_ts = o.last_ts;
        self.durable_seq = o.next_seq - 1;
        self.checkpointed_seq = self.durable_seq;
        self.last_checkpoint_at = self.now;
        self.durable_hash = o.head;
        self.durable_root = o.tree.root();
        self.tiles.opened(&o.tree);
        self.tree = o.tree;
        self.origin = o.origin;
        self.active = Some(o.active);
        self.segments = o.segments;
        self.phase = Phase::Ready;
        self.events.push_back(Event::Opened(o.report));
    }

    fn fail_open(&mut self, e: Error) {
        self.phase = Phase::OpenFailed;
        for p in std::mem::take(&mut self.queue) {
            self.events.push_back(Event::AppendFailed {
                token: p.token,
                error: Error::NotOpen,
            });
        }
        for (token, _) in std::mem::take(&mut self.sync_waiters) {
            self.events.push_back(Event::SyncFailed {
                token,
                error: Error::NotOpen,
            });
        }
        self.events.push_back(Event::OpenFailed(e));
    }

    fn on_open_io(&mut self, result: IoResult) {
        let op = self
            .opening_op
            .take()
            .expect("the opening op is remembered");
        if let Phase::Opening(opener) = &mut self.phase {
            opener.on_io(&op, result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_refuses_the_last_seq_so_seqs_never_wrap() {
        let mut t = Trail::open(Options::default(), LogId([7; 16]), 1);
        t.next_seq = u64::MAX - 2;
        assert_eq!(t.handle_append(1, b"a".to_vec(), 1), Ok(()));
        assert_eq!(t.handle_append(2, b"b".to_vec(), 1), Ok(()));
        assert_eq!(
            t.handle_append(3, b"c".to_vec(), 1),
            Err(Error::SeqExhausted { next_seq: u64::MAX })
        );
    }
}
