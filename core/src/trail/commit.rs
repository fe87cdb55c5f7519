//! Group commit: turning queued appends into one write and one sync, and acknowledging them.
//!
//! Every append waiting when the previous IO finishes goes into the next batch (up to the batch
//! limits), is framed and chained in queue order — chain order is file order — and written at
//! once. Under `Durability::Always` the batch is then synced and acknowledged only when that
//! sync succeeds; under `Interval` and `Os` it is acknowledged once written.

use super::{Event, Pending, Purpose, Receipt, Trail, Written};
use crate::config::Durability;
use crate::error::{Error, Location};
use crate::footer::Footer;
use crate::frame::{self, entry_frame_len, KIND_ENTRY};
use crate::hash::{self, Hash};
use crate::io::{IoDone, IoOp, IoResult};

/// A batch being written: enough to acknowledge it, or to undo it if the write fails.
#[derive(Debug)]
pub(crate) struct Batch {
    entries: Vec<Written>,
    start: u64,
    end: u64,
    // State before the batch, restored if the write fails.
    prev_next_seq: u64,
    prev_head: Hash,
    prev_last_ts: u64,
    prev_records: u64,
    prev_first_ts: Option<u64>,
    prev_index_len: usize,
    prev_agents_len: usize,
    /// The tree before the batch (at most 64 hashes).
    prev_tree: crate::tree::CompactRange,
}

impl Trail {
    /// Decides the next IO when no maintenance job is running.
    pub(super) fn schedule(&mut self) -> Option<(IoOp, Purpose)> {
        if self.health.is_failed() || self.resync_needed {
            if !self.queue.is_empty() || !self.sync_waiters.is_empty() || self.closing {
                if self.fatal.is_some() || self.backing_off() || self.close_gave_up {
                    // Nothing is tried before the backoff has passed: fail what waits (the
                    // caller decides whether to try again) instead of spinning.
                    self.fail_all_waiting();
                    return self.maybe_finish_close();
                }
                self.start_resync();
                return self.next_action();
            }
            return None;
        }
        if self.active.is_none() {
            if self.closing
                && self.queue.is_empty()
                && (!self.segments.is_empty() || self.close_gave_up)
            {
                // Nothing left to write: closing needs no new segment.
                return self.maybe_finish_close();
            }
            if !self.queue.is_empty() || self.closing {
                if self.backing_off() || self.close_gave_up {
                    self.fail_all_waiting();
                    self.give_up_close(|t| t.waiting_error());
                    return self.maybe_finish_close();
                }
                self.start_create_segment();
                return self.next_action();
            }
            return None;
        }
        if !self.unsynced.is_empty() {
            return Some(self.sync_op());
        }
        // Before the next batch: under steady load the queue is never empty, and a checkpoint
        // requested at rotation must still be written.
        // The periodic refresh: after a crash, damage to records the checkpoint covers is
        // corruption, not a torn tail to cut.
        if self
            .checkpoint_refresh_at()
            .is_some_and(|at| self.now >= at)
        {
            self.checkpoint_requested = true;
        }
        if self.checkpoint_requested {
            self.checkpoint_requested = false;
            self.start_checkpoint();
            return self.next_action();
        }
        if self.live_index_due(false) {
            self.start_live_index();
            return self.next_action();
        }
        if !self.queue.is_empty() {
            if self.rotation_due() {
                self.start_rotation();
                return self.next_action();
            }
            if self.start_zero_fill(false) {
                return self.next_action();
            }
            self.zeros_before_batch = false;
            return Some(self.build_batch());
        }
        // Idle: fill ahead, unless a caller waits for a sync, the trail is closing, or the
        // host's idle time is a caller's (`zero_fill_when_idle`).
        if self.opts.zero_fill_when_idle
            && !self.closing
            && self.sync_waiters.is_empty()
            && self.start_zero_fill(true)
        {
            return self.next_action();
        }
        let active = self.active.as_ref().expect("checked above");
        if active.synced_end < active.written_end {
            let deadline_passed = self.sync_deadline.is_some_and(|d| self.now >= d);
            let waiter = self
                .sync_waiters
                .front()
                .is_some_and(|&(_, ord)| ord <= self.appends_resolved);
            if deadline_passed || waiter || self.closing {
                return Some(self.sync_op());
            }
            return None;
        }
        self.maybe_finish_close()
    }

    fn sync_op(&mut self) -> (IoOp, Purpose) {
        let active = self.active.as_ref().expect("sync needs an active segment");
        let op = IoOp::Sync {
            file: active.name.clone(),
            metadata: false,
        };
        (
            op,
            Purpose::BatchSync {
                seq: self.next_seq - 1,
                hash: self.head,
                // Once per sync (not per record): popcount(size) - 1 interior hashes.
                root: self.tree.root(),
                end: active.written_end,
            },
        )
    }

    /// Whether the next queued record does not fit in the active segment.
    fn rotation_due(&self) -> bool {
        let (Some(active), Some(next)) = (self.active.as_ref(), self.queue.front()) else {
            return false;
        };
        let frame = entry_frame_len(next.payload.len()) as u64;
        active.records > 0 && active.written_end + frame > self.opts.segment_bytes
    }

    fn build_batch(&mut self) -> (IoOp, Purpose) {
        let active = self.active.as_mut().expect("batch needs an active segment");
        let mut batch = Batch {
            entries: Vec::new(),
            start: active.written_end,
            end: active.written_end,
            prev_next_seq: self.next_seq,
            prev_head: self.head,
            prev_last_ts: self.last_ts,
            prev_records: active.records,
            prev_first_ts: active.first_ts,
            prev_index_len: active.index.entries().len(),
            prev_agents_len: active.agents.len(),
            prev_tree: self.tree.clone(),
        };
        // Sized first, so that the batch's bytes are one allocation (growing the buffer
        // record by record showed as realloc in a profile of the driver).
        let (count, bytes) = batch_extent(
            &self.queue,
            active.records,
            batch.start,
            self.opts.segment_bytes,
            self.opts.max_batch_bytes,
            self.opts.max_batch_records,
        );
        let mut data = Vec::with_capacity(bytes);
        batch.entries.reserve_exact(count);
        for Pending {
            token, ts, payload, ..
        } in self.queue.drain(..count)
        {
            let frame = entry_frame_len(payload.len());
            let ts = ts.max(self.last_ts);
            let seq = self.next_seq;
            // The payload hash was computed when the append was queued (possibly in the
            // producer's thread): only the 49-byte leaf is hashed here.
            let leaf = hash::leaf_v2(KIND_ENTRY, seq, ts, payload.hash());
            let hash = hash::chain(&self.head, &leaf);
            // One SHA-256 block for the leaf node, and on average one interior node; the
            // tile lane keeps the node for the tiles, and the roots of the full tiles the
            // compact range completes on the way, so the lane does not hash them again.
            if self.opts.merkle_tree {
                let node = crate::tree::leaf_node(&leaf);
                self.tiles.push_node(seq, node);
                let tiles = &mut self.tiles;
                self.tree
                    .push_node_with(node, |level, root| tiles.push_root(seq, level, root));
            }
            frame::encode_entry(&mut data, seq, ts, &hash, payload.payload());
            active.index.observe(seq, ts, batch.end);
            active
                .agents
                .observe_agent(ts, batch.end, frame as u32, payload.agent());
            active.first_ts.get_or_insert(ts);
            active.records += 1;
            batch.end += frame as u64;
            self.next_seq += 1;
            self.head = hash;
            self.last_ts = ts;
            batch.entries.push(Written {
                token,
                seq,
                ts,
                hash,
            });
        }
        let op = IoOp::Write {
            file: active.name.clone(),
            offset: batch.start,
            data,
        };
        (op, Purpose::BatchWrite(batch))
    }

    pub(super) fn on_batch_written(&mut self, batch: Batch, result: IoResult) {
        let expected = batch.end - batch.start;
        let failure = match result {
            Ok(IoDone::Written(_)) => None,
            Ok(other) => Some(crate::io::IoError::new(
                crate::io::IoErrorKind::Other,
                format!("unexpected answer {other:?}"),
            )),
            Err(e) => Some(e),
        };
        let active = self.active.as_mut().expect("a batch was written to it");
        if let Some(error) = failure {
            // Undo the batch in memory; cut whatever part of it reached the file.
            self.next_seq = batch.prev_next_seq;
            self.head = batch.prev_head;
            self.tree = batch.prev_tree;
            self.last_ts = batch.prev_last_ts;
            active.records = batch.prev_records;
            active.first_ts = batch.prev_first_ts;
            let mut entries = active.index.take();
            entries.truncate(batch.prev_index_len);
            active.agents.truncate(batch.prev_agents_len);
            for e in entries {
                active.index.observe(e.seq, e.ts, e.offset);
            }
            let err = Error::Io {
                op: "write",
                location: Location::file(&active.name).at(batch.start),
                error,
            };
            let t = self.health.write_failed(err.to_string());
            self.emit_health(t, &err.to_string());
            let last = batch.entries.last().map(|w| w.token);
            for w in batch.entries {
                self.resolve_failed(w.token, err.clone());
            }
            self.fail_dependents(last, &err);
            self.start_cut_after_write_failure(batch.start);
            return;
        }
        active.written_end = batch.end;
        active.file_len = active.file_len.max(batch.end);
        let h = &mut self.health.health;
        h.bytes += expected;
        h.batches += 1;
        h.last_batch = batch.entries.len() as u64;
        h.max_batch = h.max_batch.max(h.last_batch);
        match self.opts.durability {
            Durability::Always => self.unsynced.extend(batch.entries),
            Durability::Interval { nanos } => {
                self.sync_deadline
                    .get_or_insert(self.now.saturating_add(nanos));
                self.ack_written(batch.entries, false);
            }
            Durability::Os => self.ack_written(batch.entries, false),
        }
    }

    fn ack_written(&mut self, entries: Vec<Written>, durable: bool) {
        if !durable {
            let t = self.health.success();
            self.emit_health(t, "write succeeded");
        }
        self.health.health.records += entries.len() as u64;
        for w in entries {
            let receipt = Receipt {
                seq: w.seq,
                ts: w.ts,
                hash: w.hash,
                durable,
            };
            self.appends_resolved += 1;
            self.events.push_back(Event::Appended {
                token: w.token,
                receipt,
            });
        }
    }

    pub(super) fn on_batch_synced(
        &mut self,
        seq: u64,
        hash: Hash,
        root: Hash,
        end: u64,
        result: IoResult,
    ) {
        let name = self
            .active
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_default();
        match result {
            Ok(_) => {
                self.health.health.fsyncs += 1;
                self.durable_seq = seq;
                self.durable_hash = hash;
                self.durable_root = root;
                self.sync_deadline = None;
                if let Some(a) = self.active.as_mut() {
                    a.synced_end = a.synced_end.max(end);
                }
                let entries = std::mem::take(&mut self.unsynced);
                if self.opts.durability == Durability::Always {
                    // Under the other policies the write already counted as the success.
                    let t = self.health.success();
                    self.emit_health(t, "durable write succeeded");
                }
                if !entries.is_empty() {
                    self.ack_written(entries, true);
                }
            }
            Err(error) => {
                let err = Error::Io {
                    op: "sync",
                    location: Location::file(&name).seq(seq),
                    error,
                };
                let t = self.health.sync_failed(err.to_string());
                self.emit_health(t, &err.to_string());
                let unsynced = std::mem::take(&mut self.unsynced);
                let last = unsynced.last().map(|w| w.token);
                for w in unsynced {
                    self.resolve_failed(w.token, err.clone());
                }
                self.fail_dependents(last, &err);
                self.resync_needed = true;
            }
        }
    }

    pub(super) fn resolve_failed(&mut self, token: u64, error: Error) {
        self.appends_resolved += 1;
        self.events.push_back(Event::AppendFailed { token, error });
    }

    /// Whether a failed segment creation or re-verification is waiting out its backoff.
    pub(super) fn backing_off(&self) -> bool {
        self.retry_at.is_some_and(|t| self.now < t)
    }

    /// Records one more failure of a job that is retried with backoff.
    /// While closing: closing cannot finish what it should (appends still queued, a segment
    /// that cannot be created, a failed re-verification), so it ends with `why` (the first
    /// reason is kept) instead of retrying forever.
    pub(super) fn give_up_close(&mut self, why: impl FnOnce(&Self) -> Error) {
        if self.closing {
            self.close_gave_up = true;
            if self.close_failure.is_none() {
                self.close_failure = Some(why(self));
            }
        }
    }

    pub(super) fn back_off(&mut self) {
        self.retry_failures = self.retry_failures.saturating_add(1);
        let shift = (self.retry_failures - 1).min(20);
        let wait = (super::MIN_RETRY_BACKOFF_NS << shift).min(super::MAX_RETRY_BACKOFF_NS);
        self.retry_at = Some(self.now.saturating_add(wait));
    }

    /// A job that was retried with backoff succeeded.
    pub(super) fn backoff_over(&mut self) {
        self.retry_failures = 0;
        self.retry_at = None;
    }

    /// Fails the queued appends that depend (through `after`, transitively) on `failed`, the
    /// last of a run of appends that just failed: in-order streams stop at their first failure.
    fn fail_dependents(&mut self, failed: Option<u64>, error: &Error) {
        let Some(mut last) = failed else { return };
        while self.queue.front().is_some_and(|p| p.after == Some(last)) {
            let p = self.queue.pop_front().expect("front exists");
            last = p.token;
            self.resolve_failed(p.token, error.clone());
        }
    }

    /// The error given to appends failed without an attempt of their own.
    pub(super) fn waiting_error(&self) -> Error {
        match &self.fatal {
            Some(reason) => Error::Failed {
                reason: reason.clone(),
            },
            None => {
                let last = self
                    .health
                    .health
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "IO failure".into());
                Error::Failed {
                    reason: if self.backing_off() {
                        format!("{last} (not retried yet: backing off)")
                    } else {
                        last
                    },
                }
            }
        }
    }

    /// Fails every queued append and sync request (after a maintenance job failed, so that a
    /// persistent failure does not spin: the next append tries again).
    pub(super) fn fail_all_waiting(&mut self) {
        let error = self.waiting_error();
        for p in std::mem::take(&mut self.queue) {
            self.resolve_failed(p.token, error.clone());
        }
        for (token, _) in std::mem::take(&mut self.sync_waiters) {
            self.events.push_back(Event::SyncFailed {
                token,
                error: error.clone(),
            });
        }
    }

    /// Completes `sync` requests whose appends are all resolved and durable.
    pub(super) fn flush_sync_waiters(&mut self) {
        let all_synced = self.unsynced.is_empty()
            && self
                .active
                .as_ref()
                .is_none_or(|a| a.synced_end >= a.written_end);
        while let Some(&(token, ord)) = self.sync_waiters.front() {
            if ord > self.appends_resolved
                || !all_synced
                || !matches!(self.phase, super::Phase::Ready)
            {
                break;
            }
            self.sync_waiters.pop_front();
            self.events.push_back(Event::Synced { token });
        }
    }

    /// The footer that seals the active segment as it is now.
    pub(super) fn footer_for_active(&self) -> Footer {
        let a = self
            .active
            .as_ref()
            .expect("sealing needs an active segment");
        Footer {
            count: a.records,
            first_seq: a.first_seq,
            last_seq: self.next_seq - 1,
            last_hash: self.head,
            first_ts: a.first_ts.unwrap_or(self.last_ts),
            last_ts: self.last_ts,
            index_stride: a.index.stride(),
            index: a.index.entries().to_vec(),
            edge: self.tree.edge().to_vec(),
            offset: a.written_end,
        }
    }
}

/// How many queued appends the next batch takes, and their bytes: in queue order while they fit
/// the active segment (which already holds `records` records and ends at `end`; a first record
/// always fits) and the batch limits (a first record always fits those too).
fn batch_extent(
    queue: &std::collections::VecDeque<Pending>,
    records: u64,
    end: u64,
    segment_bytes: u64,
    max_bytes: usize,
    max_records: usize,
) -> (usize, usize) {
    let (mut count, mut bytes) = (0usize, 0usize);
    for next in queue {
        let frame = entry_frame_len(next.payload.len());
        let fits_segment =
            (records == 0 && count == 0) || end + (bytes + frame) as u64 <= segment_bytes;
        let fits_batch = count == 0 || (bytes + frame <= max_bytes && count < max_records);
        if !fits_segment || !fits_batch {
            break;
        }
        count += 1;
        bytes += frame;
    }
    (count, bytes)
}
