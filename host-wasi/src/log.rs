//! The `trail` interface: the `log` resource over the core state machine, run synchronously on
//! the calling thread (a component instance is single-threaded: each call drains the core's IO
//! before returning, so `append-batch` is one write and one fsync).

use crate::bindings::evident::log::types as wit;
use crate::bindings::exports::evident::log::trail::{
    Durability as WitDurability, Guest, GuestLog, Log as LogHandle, OpenOptions,
    OpenReport as WitOpenReport, RecoveryMode as WitRecoveryMode, SignerStatus,
};
use crate::bindings::exports::evident::log::trail::{
    EntryBase64, Query as WitQuery, QueryResult as WitQueryResult, QueryResultBase64,
};
use crate::convert;
use crate::encoded;
use crate::lease::AcquireError;
use crate::wasi_fs::WasiExecutor;
use evident_core::footer::Footer;
use evident_core::header::{SegmentHeader, HEADER_LEN};
use evident_core::lease::Timing;
use evident_core::scan::{ScanStart, SegmentScanner};
use evident_core::verify::VerifyTask;
use evident_core::{
    Durability, Error, Event, IoDone, IoErrorKind, IoOp, LogId, OpenReport, Options, RecoveryMode,
    TailReport, Trail,
};
use std::cell::RefCell;

mod prove;
mod sign;

fn now() -> u64 {
    let t = wasip2::clocks::wall_clock::now();
    t.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(t.nanoseconds as u64)
}

/// The timer clock: monotonic, so a wall-clock step does not move an interval sync.
fn monotonic() -> u64 {
    wasip2::clocks::monotonic_clock::now()
}

/// Tile steps ([`evident_core::IoOp::steps`]: a put of one tile is four) a `sync` or
/// `checkpoint` call performs at most, give or take one put (a rebuild of the tiles after
/// damage goes on over later calls instead of making one call last).
const TILE_BUDGET_AT_SYNC: usize = 4096;

struct State {
    core: Trail,
    exec: WasiExecutor,
    report: OpenReport,
    next_token: u64,
    /// The live signer (the `signer` open option).
    signing: Option<sign::Signing>,
}

/// An open trail.
pub struct Log {
    state: RefCell<State>,
}

impl Guest for crate::Component {
    type Log = Log;
}

fn core_error(e: Error) -> wit::Error {
    convert::error(&e)
}

impl State {
    /// Performs the core's IO until it has nothing to do; returns the events.
    fn run(&mut self) -> Vec<Event> {
        self.core.handle_timeout(monotonic());
        let mut events = Vec::new();
        loop {
            let mut progressed = false;
            while let Some(req) = self.core.poll_io() {
                let r = self.exec.perform(&req.op);
                self.core.handle_io(req.id, r);
                progressed = true;
                if self.exec.lease_lost().is_some() {
                    // Another writer has (or may take) the trail: touch nothing more.
                    while let Some(e) = self.core.poll_event() {
                        events.push(e);
                    }
                    return events;
                }
            }
            while let Some(e) = self.core.poll_event() {
                if let (Event::Rotated { .. }, Some(s)) = (&e, self.signing.as_mut()) {
                    s.rotated = true;
                }
                events.push(e);
                progressed = true;
            }
            if !progressed {
                return events;
            }
        }
    }

    /// Performs tile-lane requests (the tree's tiles, derived data) until they add up to
    /// `budget` steps ([`evident_core::IoOp::steps`]). The component has no thread of its own:
    /// tile IO runs inside calls, after the call's own IO is done and its outcome decided; a
    /// failure there never fails the call.
    fn tiles(&mut self, budget: usize) {
        let mut left = budget;
        while left > 0 {
            if self.exec.lease_lost().is_some() {
                return;
            }
            let Some(req) = self.core.poll_tile_io() else {
                return;
            };
            left = left.saturating_sub(req.op.steps());
            let r = self.exec.perform(&req.op);
            self.core.handle_tile_io(req.id, r);
        }
    }

    fn append_many(&mut self, items: Vec<(Vec<u8>, u64)>) -> Result<Vec<wit::Receipt>, wit::Error> {
        let max = self.core.options().max_payload as usize;
        if let Some((p, _)) = items.iter().find(|(p, _)| p.len() > max) {
            return Err(wit::Error::TooLarge(p.len() as u64));
        }
        let first = self.next_token;
        let n = items.len();
        for (payload, ts) in items {
            let token = self.next_token;
            self.next_token += 1;
            self.core
                .handle_append(token, payload, ts)
                .map_err(core_error)?;
        }
        let mut receipts: Vec<Option<wit::Receipt>> = vec![None; n];
        let mut failure = None;
        for e in self.run() {
            match e {
                Event::Appended { token, receipt }
                    if token >= first && token < first + n as u64 =>
                {
                    receipts[(token - first) as usize] = Some(wit::Receipt {
                        seq: receipt.seq,
                        timestamp: receipt.ts,
                        hash: receipt.hash.to_hex(),
                        durable: receipt.durable,
                    });
                }
                Event::AppendFailed { error, .. } => {
                    failure.get_or_insert(error);
                }
                _ => {}
            }
        }
        // A full tile takes 4 steps; 256 records fill one.
        self.tiles(16 + n / 16);
        if let Some(e) = failure {
            return Err(core_error(e));
        }
        receipts
            .into_iter()
            .map(|r| r.ok_or_else(|| wit::Error::Failed("append not acknowledged".into())))
            .collect()
    }

    fn read_bytes(&mut self, file: &str, offset: u64, len: u64) -> Result<Vec<u8>, wit::Error> {
        let op = IoOp::Read {
            file: file.to_string(),
            offset,
            len: len as u32,
        };
        match self.exec.perform(&op) {
            Ok(IoDone::Read(d)) => Ok(d),
            Ok(_) => Ok(Vec::new()),
            Err(error) => Err(core_error(Error::Io {
                op: "read",
                location: evident_core::Location::file(file),
                error,
            })),
        }
    }

    fn footer(&mut self, file: &str, len: u64) -> Option<Footer> {
        let t = self.read_bytes(file, len.checked_sub(16)?, 16).ok()?;
        let off = Footer::trailer_offset(&t, len).ok()?;
        let b = self.read_bytes(file, off, len - off).ok()?;
        Footer::decode(&b).ok()
    }

    /// The length of one file (0 if it is missing), without listing the directory.
    fn file_len(&mut self, file: &str) -> Result<u64, wit::Error> {
        match self.exec.perform(&IoOp::Length {
            file: file.to_string(),
        }) {
            Ok(IoDone::Length(len)) => Ok(len),
            Ok(_) => Ok(0),
            Err(error) if error.kind == IoErrorKind::NotFound => Ok(0),
            Err(error) => Err(core_error(Error::Io {
                op: "length",
                location: evident_core::Location::file(file),
                error,
            })),
        }
    }

    /// Up to `max` records from `from` on, using sealed segments' sparse indexes to skip ahead.
    fn read(&mut self, from: u64, max: u32) -> Result<Vec<wit::Entry>, wit::Error> {
        let from = from.max(1);
        let segments = self.core.segments().to_vec();
        let (active, active_end) = match self.core.active_segment() {
            Some((n, e)) => (Some(n.to_string()), e),
            None => (None, 0),
        };
        let mut out = Vec::new();
        let start = segments
            .partition_point(|(first, _)| *first <= from)
            .saturating_sub(1);
        for (first, name) in segments.iter().skip(start) {
            if out.len() >= max as usize {
                break;
            }
            let is_active = active.as_deref() == Some(name.as_str());
            let len = if is_active {
                active_end
            } else {
                self.file_len(name)?
            };
            let header = self.read_bytes(name, 0, HEADER_LEN as u64)?;
            let h = SegmentHeader::decode(&header).map_err(|d| {
                wit::Error::Corrupt(wit::Corruption {
                    location: convert::location(Some(&evident_core::Location::file(name).at(0))),
                    message: d.to_string(),
                })
            })?;
            let mut start = ScanStart {
                offset: HEADER_LEN as u64,
                file_len: len,
                seq: *first,
                prev_hash: Some(h.anchor),
                prev_ts: 0,
                index_stride: evident_core::config::INDEX_STRIDE,
                strict: !is_active,
                version: h.version,
            };
            if !is_active {
                if let Some(e) = self
                    .footer(name, len)
                    .and_then(|f| f.seek_seq(from).copied())
                {
                    if e.seq > start.seq {
                        start.offset = e.offset;
                        start.seq = e.seq;
                        start.prev_hash = None;
                    }
                }
            }
            let mut scanner = SegmentScanner::new(start);
            let mut offset = start.offset;
            'segment: while offset < len && out.len() < max as usize {
                let chunk = self.read_bytes(name, offset, (len - offset).min(1 << 20))?;
                if chunk.is_empty() {
                    break;
                }
                offset += chunk.len() as u64;
                scanner.push(&chunk);
                while let Some(r) = scanner.next_record() {
                    if r.seq >= from {
                        out.push(wit::Entry {
                            seq: r.seq,
                            timestamp: r.ts,
                            payload: r.payload.to_vec(),
                            hash: r.hash.to_hex(),
                        });
                        if out.len() >= max as usize {
                            break 'segment;
                        }
                    }
                }
                if scanner.is_done() {
                    break;
                }
            }
            if out.len() < max as usize {
                if let evident_core::scan::SegmentEnd::Corrupt(d) = scanner.finish().end {
                    let e = Error::Corrupt {
                        location: evident_core::Location::file(name).at(d.offset).seq(d.seq),
                        what: d.kind.to_string(),
                    };
                    return Err(core_error(e));
                }
            }
        }
        Ok(out)
    }
}

fn lease_timing(o: &OpenOptions) -> Result<Timing, wit::Error> {
    match o.lease_ms {
        None => Ok(Timing::default()),
        Some(ms) => Timing::new(ms.saturating_mul(1_000_000)).map_err(wit::Error::InvalidArgument),
    }
}

fn options(o: &OpenOptions) -> Result<(Options, LogId), wit::Error> {
    let mut opts = Options {
        origin: o.origin.clone(),
        // The component runs the writer only inside calls: its idle time is the end of a
        // caller's call, so zeros are written only before a batch, a chunk at a time.
        zero_fill_when_idle: false,
        ..Options::default()
    };
    if let Some(b) = o.segment_bytes {
        opts.segment_bytes = b;
    }
    if let Some(d) = &o.durability {
        opts.durability = match d {
            WitDurability::Always => Durability::Always,
            WitDurability::Interval(ms) => Durability::Interval {
                nanos: ms.saturating_mul(1_000_000),
            },
            WitDurability::Os => Durability::Os,
        };
    }
    if let Some(m) = o.recovery_mode {
        opts.recovery = match m {
            WitRecoveryMode::AbsoluteConsistency => RecoveryMode::AbsoluteConsistency,
            WitRecoveryMode::TolerateTornTail => RecoveryMode::TolerateTornTail,
        };
    }
    if let Some(m) = o.max_payload {
        opts.max_payload = m;
    }
    if let Some(p) = o.preallocate {
        opts.preallocate = p;
    }
    let log_id = match &o.log_id {
        Some(hex) => LogId::from_hex(hex).ok_or_else(|| {
            wit::Error::InvalidArgument(format!("log id `{hex}` is not 32 hex digits"))
        })?,
        None => {
            let bytes = wasip2::random::random::get_random_bytes(16);
            let mut id = [0u8; 16];
            id.copy_from_slice(&bytes[..16]);
            LogId(id)
        }
    };
    Ok((opts, log_id))
}

impl Log {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, wit::Error>,
    ) -> Result<T, wit::Error> {
        let mut s = self.state.borrow_mut();
        if s.core.is_closed() {
            return Err(wit::Error::Closed);
        }
        // Renews the lease when due (the component has no thread: calls renew it), or finds it
        // lost: then nothing more is done.
        if let Err(why) = s.exec.lease_check() {
            return Err(wit::Error::Locked(why));
        }
        let r = f(&mut s);
        if s.exec.lease_lost().is_none() && !s.core.is_closed() {
            s.sign_if_due();
        }
        match s.exec.lease_lost() {
            Some(why) if r.is_err() => Err(wit::Error::Locked(why)),
            _ => r,
        }
    }
}

impl GuestLog for Log {
    fn open(dir: String, o: OpenOptions) -> Result<LogHandle, wit::Error> {
        let (mut opts, log_id) = options(&o)?;
        let signing = match &o.signer {
            None => None,
            Some(so) => {
                let s = sign::Signing::new(so, &dir)?;
                match &opts.origin {
                    Some(asked) if asked != s.origin() => {
                        return Err(wit::Error::InvalidArgument(format!(
                            "origin {asked:?} was asked but the signing key is named {:?}: a signed trail's origin is its key's name",
                            s.origin()
                        )))
                    }
                    _ => opts.origin = Some(s.origin().to_string()),
                }
                Some(s)
            }
        };
        let timing = lease_timing(&o)?;
        let mut exec = WasiExecutor::new(&dir).map_err(wit::Error::InvalidArgument)?;
        exec.take_lease(timing, o.holder.clone())
            .map_err(|e| match e {
                AcquireError::Locked(m) => wit::Error::Locked(format!("{dir}: {m}")),
                AcquireError::Other(m) => wit::Error::Failed(format!("{dir}: {m}")),
            })?;
        // A retention a crash interrupted is finished before the trail is read, as the native
        // adapter does (FORMAT.md, "Retention: retained.checkpoint"): the segments it had
        // vouched away are removed, with the same core steps.
        evident_core::archive::finish::finish_interrupted_retention(&mut |op| exec.perform(op))
            .map_err(|error| {
                core_error(Error::Io {
                    op: "finish an interrupted retention",
                    location: Default::default(),
                    error,
                })
            })?;
        let core = Trail::open(opts, log_id, monotonic());
        let mut state = State {
            core,
            exec,
            report: OpenReport::default(),
            next_token: 0,
            signing: None,
        };
        for e in state.run() {
            match e {
                Event::Opened(r) => state.report = r,
                Event::OpenFailed(e) => {
                    return Err(match state.exec.lease_lost() {
                        Some(why) => wit::Error::Locked(why),
                        None => core_error(e),
                    })
                }
                _ => {}
            }
        }
        if let Some(why) = state.exec.lease_lost() {
            return Err(wit::Error::Locked(why));
        }
        if !state.core.is_open() {
            return Err(wit::Error::Failed("open did not complete".into()));
        }
        if signing.is_some() {
            state.signing = signing;
            // The open-time check refuses a cut tail or a restored backup: the trail is then
            // closed again, not left open.
            if let Err(e) = state.sign_now() {
                state.core.handle_close();
                state.run();
                state.exec.release_lease();
                return Err(e);
            }
        }
        Ok(LogHandle::new(Log {
            state: RefCell::new(state),
        }))
    }

    fn open_report(&self) -> WitOpenReport {
        let s = self.state.borrow();
        let r = &s.report;
        WitOpenReport {
            log_id: r.log_id.to_hex(),
            created: r.created,
            segments: r.segments as u32,
            head: convert::checkpoint(&r.head),
            tail: r.tail.to_string(),
            truncated: matches!(r.tail, TailReport::Truncated { .. }),
        }
    }

    fn append(&self, payload: Vec<u8>) -> Result<wit::Receipt, wit::Error> {
        self.with(|s| s.append_many(vec![(payload, now())]))
            .map(|mut v| v.remove(0))
    }

    fn append_at(&self, payload: Vec<u8>, timestamp: u64) -> Result<wit::Receipt, wit::Error> {
        self.with(|s| s.append_many(vec![(payload, timestamp)]))
            .map(|mut v| v.remove(0))
    }

    fn append_batch(&self, payloads: Vec<Vec<u8>>) -> Result<Vec<wit::Receipt>, wit::Error> {
        let ts = now();
        self.with(|s| s.append_many(payloads.into_iter().map(|p| (p, ts)).collect()))
    }

    fn append_batch_at(
        &self,
        payloads: Vec<Vec<u8>>,
        timestamps: Vec<u64>,
    ) -> Result<Vec<wit::Receipt>, wit::Error> {
        if payloads.len() != timestamps.len() {
            return Err(wit::Error::InvalidArgument(format!(
                "{} payloads but {} timestamps",
                payloads.len(),
                timestamps.len()
            )));
        }
        self.with(|s| s.append_many(payloads.into_iter().zip(timestamps).collect()))
    }

    fn sync(&self) -> Result<wit::Checkpoint, wit::Error> {
        self.with(|s| {
            let token = s.next_token;
            s.next_token += 1;
            s.core.handle_sync(token);
            for e in s.run() {
                match e {
                    Event::Synced { token: t } if t == token => {
                        s.tiles(TILE_BUDGET_AT_SYNC);
                        // As the native adapter: a signing failure is in the signer status,
                        // it does not fail the sync.
                        let _ = s.sign_now();
                        return Ok(convert::checkpoint(&s.core.head()));
                    }
                    Event::SyncFailed { token: t, error } if t == token => {
                        return Err(core_error(error))
                    }
                    _ => {}
                }
            }
            Err(wit::Error::Failed("sync did not complete".into()))
        })
    }

    fn head(&self) -> wit::Checkpoint {
        convert::checkpoint(&self.state.borrow().core.head())
    }

    fn read(&self, from_seq: u64, max: u32) -> Result<Vec<wit::Entry>, wit::Error> {
        self.with(|s| s.read(from_seq, max))
    }

    fn has_any_records(&self, agent: String) -> Result<bool, wit::Error> {
        let q = WitQuery {
            from_seq: None,
            to_seq: None,
            since: None,
            until: None,
            agent: Some(agent),
            limit: Some(1),
            newest: false,
        };
        Ok(!self.query(q)?.entries.is_empty())
    }

    fn query(&self, q: WitQuery) -> Result<WitQueryResult, wit::Error> {
        self.with(|s| {
            let spec = evident_core::query::QuerySpec {
                from_seq: q.from_seq,
                to_seq: q.to_seq,
                since: q.since,
                until: q.until,
                agent: q.agent,
                limit: q.limit.map(|l| l as usize),
                newest: q.newest,
                resume_at: None,
            };
            let mut task = evident_core::query::QueryTask::new(spec, 1 << 20);
            while let Some(op) = task.poll_io() {
                let r = s.exec.perform(&op);
                task.handle_io(&op, r);
            }
            let r = task
                .take_result()
                .ok_or_else(|| wit::Error::Failed("query did not finish".into()))?
                .map_err(core_error)?;
            Ok(WitQueryResult {
                entries: r
                    .records
                    .into_iter()
                    .map(|f| wit::Entry {
                        seq: f.seq,
                        timestamp: f.ts,
                        payload: f.payload,
                        hash: f.hash.to_hex(),
                    })
                    .collect(),
                head: r.head.as_ref().map(convert::checkpoint),
                segments_read: r.segments_read as u32,
            })
        })
    }

    fn verify(&self) -> Result<wit::Checkpoint, wit::Error> {
        self.with(|s| {
            let mut task = VerifyTask::new(vec![s.core.head()], 1 << 20);
            while let Some(op) = task.poll_io() {
                let r = s.exec.perform(&op);
                task.handle_io(&op, r);
            }
            match task.take_result() {
                Some(Ok(r)) => Ok(convert::checkpoint(&r.head)),
                Some(Err(e)) => Err(core_error(e)),
                None => Err(wit::Error::Failed("verification did not finish".into())),
            }
        })
    }

    fn health(&self) -> wit::Health {
        let s = self.state.borrow();
        let h = s.core.health();
        wit::Health {
            state: match h.state {
                evident_core::HealthState::Healthy => wit::HealthState::Healthy,
                evident_core::HealthState::Degraded => wit::HealthState::Degraded,
                evident_core::HealthState::Failed => wit::HealthState::Failed,
            },
            consecutive_failures: h.consecutive_failures,
            total_failures: h.total_failures,
            write_failures: h.write_failures,
            sync_failures: h.sync_failures,
            records: h.records,
            bytes: h.bytes,
            fsyncs: h.fsyncs,
            batches: h.batches,
            max_batch: h.max_batch,
            last_error: h.last_error,
            directory_sync: s.exec.directory_sync,
        }
    }

    fn checkpoint(&self) -> Result<wit::Checkpoint, wit::Error> {
        self.with(|s| {
            s.core.handle_checkpoint();
            for e in s.run() {
                match e {
                    Event::CheckpointWritten(cp) => {
                        s.tiles(TILE_BUDGET_AT_SYNC);
                        s.sign_now()?;
                        return Ok(convert::checkpoint(&cp));
                    }
                    Event::CheckpointFailed(e) => return Err(core_error(e)),
                    _ => {}
                }
            }
            Err(wit::Error::Failed("checkpoint did not complete".into()))
        })
    }

    fn close(&self) -> Result<wit::Checkpoint, wit::Error> {
        self.with(|s| {
            s.core.handle_close();
            for e in s.run() {
                if let Event::Closed { head } = e {
                    // What the tile lane holds in memory, before another writer may come.
                    s.tiles(usize::MAX);
                    // Signed at the final head while the lease is still ours.
                    let signed = s.sign_now();
                    s.exec.release_lease();
                    signed?;
                    return Ok(convert::checkpoint(&head));
                }
            }
            Err(wit::Error::Failed("close did not complete".into()))
        })
    }

    fn append_base64(
        &self,
        payload: String,
        timestamp: Option<u64>,
    ) -> Result<wit::Receipt, wit::Error> {
        let payload = encoded::decode(&payload, 0)?;
        match timestamp {
            Some(ts) => self.append_at(payload, ts),
            None => self.append(payload),
        }
    }

    fn append_batch_base64(
        &self,
        payloads: Vec<String>,
        timestamps: Option<Vec<u64>>,
    ) -> Result<Vec<wit::Receipt>, wit::Error> {
        let payloads = encoded::decode_all(&payloads)?;
        match timestamps {
            Some(ts) => self.append_batch_at(payloads, ts),
            None => self.append_batch(payloads),
        }
    }

    fn read_base64(&self, from_seq: u64, max: u32) -> Result<Vec<EntryBase64>, wit::Error> {
        Ok(self
            .read(from_seq, max)?
            .into_iter()
            .map(encoded::entry)
            .collect())
    }

    fn query_base64(&self, q: WitQuery) -> Result<QueryResultBase64, wit::Error> {
        self.query(q).map(encoded::query_result)
    }

    fn checkpoint_note(&self) -> Result<String, wit::Error> {
        self.with(|s| s.checkpoint_note())
    }

    fn prove(
        &self,
        seq: u64,
        size: Option<u64>,
        include_payload: bool,
    ) -> Result<String, wit::Error> {
        self.with(|s| s.prove(seq, size, include_payload))
    }

    fn prove_consistency(&self, old_checkpoint: String) -> Result<String, wit::Error> {
        self.with(|s| s.prove_consistency(&old_checkpoint))
    }

    fn signer_status(&self) -> Option<SignerStatus> {
        self.state.borrow().signing.as_ref().map(|s| s.status())
    }
}
