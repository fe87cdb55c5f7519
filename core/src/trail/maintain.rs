//! Maintenance jobs: rotation, segment creation, checkpoints, cutting a failed write, the
//! re-verification after a failed sync, and close. Each is a short plan of IO steps run before
//! any further batch; a step's [`After`] says what its success means.

use super::{create_segment_steps, Active, Event, Purpose, Trail};
use crate::checkpoint::Checkpoint;
use crate::config::{Durability, INDEX_STRIDE};
use crate::error::{Error, Location};
use crate::footer::IndexBuilder;
use crate::hash::Hash;
use crate::header::{SegmentHeader, HEADER_LEN};
use crate::io::{IoDone, IoError, IoOp, IoResult};
use crate::naming;
use crate::scan::{ScanStart, SegmentScanner};

/// The job whose steps are in the plan; decides what a failed step means.
#[derive(Debug)]
pub(crate) enum Job {
    Rotate {
        sealed: String,
    },
    CreateSegment,
    Checkpoint,
    CutTail,
    Resync(Box<Resync>),
    /// Writing the live segment's agent index (every step tolerant).
    AgentIndex,
    /// Writing zeros ahead of the records (see the `zero_fill` module; never fails a thing).
    ZeroFill,
    Close,
}

/// What the success of one step means.
#[derive(Debug)]
pub(crate) enum After {
    Nothing,
    /// A step whose failure does not matter (preallocation, closing a handle).
    Tolerant,
    /// A segment's preallocation, whose failure fails nothing but leaves the file shorter
    /// than asked: zeros, which must never extend a file, are then not written into it.
    /// `new_segment`: the segment being created (it becomes active at `SegmentReady`);
    /// otherwise the active segment, re-reserved after a cut.
    Reservation {
        new_segment: bool,
    },
    /// The footer is durable: the active segment is sealed.
    Sealed {
        seq: u64,
        hash: Hash,
        root: Hash,
        segno: u64,
    },
    /// The new segment's header and directory entry are durable.
    SegmentReady(Box<Active>),
    /// `head.checkpoint` is in place.
    CheckpointDone(Checkpoint),
    /// The unacknowledged tail of a failed write is cut.
    TailCut,
    /// A chunk of the active segment read back for re-verification.
    ResyncRead {
        offset: u64,
    },
    /// The re-verified state is durable again.
    ResyncDone,
    /// Zeros are written up to `end` ahead of the records (a failure only stops the filling).
    ZeroFilled {
        end: u64,
    },
    /// The trail is closed.
    Closed,
}

/// State of a re-verification after a failed sync.
#[derive(Debug)]
pub(crate) struct Resync {
    scanner: Option<SegmentScanner>,
    /// Offset the trail will continue from (`synced_end` under Always, `written_end` otherwise).
    target: u64,
    /// Bytes between `synced_end` and `target`, re-read so they can be rewritten.
    rewrite: Vec<u8>,
    durable_confirmed: bool,
    last_ts_at_target: u64,
    first_ts: Option<u64>,
    records_to_target: u64,
    seq_at_target: u64,
    hash_at_target: Hash,
    index: IndexBuilder,
    /// The tree at `target`, rebuilt from the segment's records by the re-read.
    tree: Option<crate::tree::CompactRange>,
}

impl Trail {
    pub(super) fn run(&mut self, job: Job, steps: Vec<(IoOp, After)>) {
        debug_assert!(self.plan.is_empty());
        self.job = Some(job);
        self.plan.extend(steps);
    }

    pub(super) fn on_step(&mut self, after: After, result: IoResult) {
        match (result, after) {
            (Ok(done), after) => self.step_succeeded(after, done),
            (Err(_), After::Tolerant) => {}
            (Err(_), After::Reservation { new_segment }) => self.reservation_failed(new_segment),
            (Err(_), After::ZeroFilled { end }) => self.on_zero_fill(end, false),
            (Err(error), after) => self.step_failed(after, error),
        }
    }

    fn step_succeeded(&mut self, after: After, done: IoDone) {
        match after {
            After::Nothing | After::Tolerant | After::Reservation { .. } => {}
            After::Sealed {
                seq,
                hash,
                root,
                segno,
            } => {
                self.health.health.fsyncs += 1;
                self.durable_seq = seq;
                self.durable_hash = hash;
                self.durable_root = root;
                self.sync_deadline = None;
                self.active = None;
                self.pending_segno = segno + 1;
                self.tiles.want_partials();
            }
            After::SegmentReady(active) => {
                self.backoff_over();
                self.segments.push((active.first_seq, active.name.clone()));
                let created = active.name.clone();
                let first_seq = active.first_seq;
                let mut active = *active;
                if std::mem::take(&mut self.new_segment_unreserved) {
                    active.reserved = false;
                }
                self.active = Some(active);
                if let Some(Job::Rotate { sealed }) = &self.job {
                    let sealed = sealed.clone();
                    self.events.push_back(Event::Rotated {
                        sealed,
                        created,
                        first_seq,
                    });
                    // The sealed segment is now covered by the trail's own checkpoint.
                    self.checkpoint_requested |= self.opts.checkpoint_on_rotate;
                }
            }
            After::CheckpointDone(cp) => {
                self.checkpointed_seq = self.checkpointed_seq.max(cp.seq);
                self.events.push_back(Event::CheckpointWritten(cp));
            }
            After::TailCut => {}
            After::ZeroFilled { end } => self.on_zero_fill(end, true),
            After::ResyncRead { offset } => {
                let IoDone::Read(data) = done else { return };
                self.on_resync_chunk(offset, data);
            }
            After::ResyncDone => {
                let Some(Job::Resync(r)) = self.job.take() else {
                    return;
                };
                let active = self
                    .active
                    .as_mut()
                    .expect("resync works on the active segment");
                active.written_end = r.target;
                active.synced_end = r.target;
                active.records = r.records_to_target;
                active.first_ts = r.first_ts;
                active.index = r.index;
                // The records up to the target are the ones written (the re-read checked them).
                if active.agents.len() as u64 >= r.records_to_target {
                    active.agents.truncate(r.records_to_target as usize);
                } else {
                    active.agents.mark_incomplete();
                }
                self.next_seq = r.seq_at_target + 1;
                self.head = r.hash_at_target;
                self.last_ts = if r.records_to_target > 0 {
                    r.last_ts_at_target
                } else {
                    active.base_ts
                };
                self.durable_seq = r.seq_at_target;
                self.durable_hash = r.hash_at_target;
                if let Some(tree) = r.tree {
                    self.durable_root = tree.root();
                    self.tree = tree;
                }
                self.health.health.fsyncs += 1;
                self.resync_needed = false;
                self.sync_deadline = None;
                self.backoff_over();
                let t = self.health.resynced();
                self.emit_health(t, "durable data re-read, re-verified and synced again");
            }
            After::Closed => {
                self.phase = super::Phase::Closed;
                self.events.push_back(Event::Closed { head: self.head() });
            }
        }
    }

    fn step_failed(&mut self, after: After, error: IoError) {
        self.plan.clear();
        let job = self.job.take();
        let file = match &self.active {
            Some(a) => a.name.clone(),
            None => String::new(),
        };
        let err = Error::Io {
            op: "maintenance",
            location: Location::file(&file),
            error: error.clone(),
        };
        match job {
            Some(Job::Rotate { .. }) | Some(Job::CreateSegment) if self.active.is_none() => {
                // The old segment is sealed; the new one could not be created. Retry on the next
                // append; fail the waiting ones so a persistent failure does not spin.
                let what = format!("creating segment {} failed: {error}", self.pending_name());
                let t = self.health.write_failed(what.clone());
                self.emit_health(t, &what);
                self.give_up_close(|t| Error::Io {
                    op: "create segment",
                    location: Location::file(t.pending_name()),
                    error,
                });
                self.fail_all_waiting(); // with this attempt's error
                self.back_off();
            }
            Some(Job::Rotate { .. }) | Some(Job::CutTail) => {
                // The file may hold bytes past what the trail believes written: latch failed and
                // re-verify before writing again.
                let t = self.health.sync_failed(err.to_string());
                self.emit_health(t, &err.to_string());
                self.resync_needed = true;
            }
            Some(Job::Checkpoint) => {
                let t = self
                    .health
                    .write_failed(format!("checkpoint write failed: {error}"));
                self.emit_health(t, "checkpoint write failed");
                let failure = Error::Io {
                    op: "write checkpoint",
                    location: Location::file(naming::HEAD_CHECKPOINT),
                    error,
                };
                if self.closing {
                    self.close_failure.get_or_insert(failure.clone());
                }
                self.events.push_back(Event::CheckpointFailed(failure));
                self.close_checkpointed |= self.closing;
            }
            Some(Job::Resync(_)) => {
                self.health
                    .resync_failed(format!("re-verification failed: {error}"));
                self.give_up_close(|_| err.clone());
                self.fail_all_waiting(); // with this attempt's error
                self.back_off();
            }
            Some(Job::AgentIndex) | Some(Job::ZeroFill) => {}
            Some(Job::Close) | None => {
                let _ = after;
                self.phase = super::Phase::Closed;
                self.events.push_back(Event::Closed { head: self.head() });
            }
            Some(Job::CreateSegment) => {
                let t = self.health.write_failed(err.to_string());
                self.emit_health(t, &err.to_string());
                self.give_up_close(|_| err.clone());
                self.fail_all_waiting(); // with this attempt's error
                self.back_off();
            }
        }
    }

    /// The name of the segment the next creation makes.
    fn pending_name(&self) -> String {
        naming::segment_name(self.next_seq)
    }

    /// Cuts what a failed write may have left after the last good record.
    pub(super) fn start_cut_after_write_failure(&mut self, end: u64) {
        // Synced before anything else is written: otherwise a power loss could bring back
        // records of the failed write in place of later, acknowledged ones.
        let steps = self.cut_steps(end, None, After::TailCut);
        self.run(Job::CutTail, steps);
    }

    /// The steps that cut the active segment at `end`, optionally write `rewrite` = (offset,
    /// bytes) again, re-reserve its space, and sync it; `done` marks the sync.
    fn cut_steps(
        &mut self,
        end: u64,
        rewrite: Option<(u64, Vec<u8>)>,
        done: After,
    ) -> Vec<(IoOp, After)> {
        let name = self.active.as_ref().expect("active").name.clone();
        let mut steps = vec![(
            IoOp::Truncate {
                file: name.clone(),
                len: end,
            },
            After::Nothing,
        )];
        if let Some((offset, data)) = rewrite {
            steps.push((
                IoOp::Write {
                    file: name.clone(),
                    offset,
                    data,
                },
                After::Nothing,
            ));
        }
        if self.opts.preallocate {
            steps.push((
                IoOp::Preallocate {
                    file: name.clone(),
                    len: self.opts.segment_bytes,
                },
                After::Reservation { new_segment: false },
            ));
        }
        steps.push((
            IoOp::Sync {
                file: name,
                metadata: true,
            },
            done,
        ));
        let preallocate = self.opts.preallocate;
        let segment_bytes = self.opts.segment_bytes;
        if let Some(a) = self.active.as_mut() {
            // The cut frees the blocks after `end`, zeros written ahead included.
            a.zeroed_end = a.zeroed_end.min(end);
            a.file_len = if preallocate {
                segment_bytes.max(end)
            } else {
                end
            };
            a.reserved = preallocate;
        }
        steps
    }

    pub(super) fn start_rotation(&mut self) {
        let footer = self.footer_for_active();
        let a = self
            .active
            .as_ref()
            .expect("rotation needs an active segment");
        let bytes = footer.encode();
        let end = a.written_end + bytes.len() as u64;
        let name = a.name.clone();
        let mut steps = vec![(
            IoOp::Write {
                file: name.clone(),
                offset: a.written_end,
                data: bytes,
            },
            After::Nothing,
        )];
        if a.file_len > end {
            steps.push((
                IoOp::Truncate {
                    file: name.clone(),
                    len: end,
                },
                After::Nothing,
            ));
        }
        let sealed = After::Sealed {
            seq: self.next_seq - 1,
            hash: self.head,
            root: self.tree.root(),
            segno: a.segno,
        };
        steps.push((
            IoOp::Sync {
                file: name.clone(),
                metadata: true,
            },
            sealed,
        ));
        steps.push((IoOp::Close { file: name.clone() }, After::Tolerant));
        let header = SegmentHeader {
            version: crate::header::FormatVersion::V2,
            log_id: self.log_id,
            segno: a.segno + 1,
            first_seq: self.next_seq,
            anchor: self.head,
        };
        steps.extend(self.creation_steps(header));
        // The agent index, after the new segment is ready: derived data whose failure does not
        // matter (a query scans a segment whose index is missing or damaged).
        let encoded = self.active.as_mut().and_then(|a| a.agents.encode(&footer));
        let index = crate::agent_index::write_ops(&name, encoded);
        steps.extend(index.into_iter().map(|op| (op, After::Tolerant)));
        self.run(Job::Rotate { sealed: name }, steps);
    }

    /// The steps that create the segment of `header` and make it active (a new creation:
    /// whatever an earlier, abandoned one found about its reservation is forgotten).
    fn creation_steps(&mut self, header: SegmentHeader) -> Vec<(IoOp, After)> {
        self.new_segment_unreserved = false;
        let name = naming::segment_name(header.first_seq);
        let ops = create_segment_steps(&self.opts, &name, &header);
        let n = ops.len();
        let active = Active::fresh(name, &header, self.last_ts, &self.opts, self.tree.clone());
        let mut ready = Some(After::SegmentReady(Box::new(active)));
        ops.into_iter()
            .enumerate()
            .map(|(i, op)| {
                let after = if i + 1 == n {
                    ready.take().expect("once")
                } else if matches!(op, IoOp::Preallocate { .. }) {
                    After::Reservation { new_segment: true }
                } else {
                    After::Nothing
                };
                (op, after)
            })
            .collect()
    }

    pub(super) fn start_create_segment(&mut self) {
        let header = SegmentHeader {
            version: crate::header::FormatVersion::V2,
            log_id: self.log_id,
            segno: self.pending_segno,
            first_seq: self.next_seq,
            anchor: self.head,
        };
        let steps = self.creation_steps(header);
        self.run(Job::CreateSegment, steps);
    }

    pub(super) fn start_checkpoint(&mut self) {
        self.last_checkpoint_at = self.now;
        self.tiles.want_partials();
        // Without the tree (a benchmark option) there is no root to vouch for.
        let root = self.opts.merkle_tree.then_some(self.durable_root);
        let steps = checkpoint_steps(self.head(), root);
        self.run(Job::Checkpoint, steps);
    }

    /// Re-reads the active segment, checks that what was believed durable is there intact,
    /// then cuts everything after the point the trail continues from and syncs again.
    pub(super) fn start_resync(&mut self) {
        let Some(a) = self.active.as_ref() else {
            // Nothing unsealed: every durable byte is in sealed, synced segments.
            self.resync_needed = false;
            let t = self.health.resynced();
            self.emit_health(t, "no unsealed segment to re-verify");
            return;
        };
        let target = match self.opts.durability {
            Durability::Always => a.synced_end,
            Durability::Interval { .. } | Durability::Os => a.written_end,
        };
        let scanner = SegmentScanner::new(ScanStart {
            offset: HEADER_LEN as u64,
            file_len: target,
            seq: a.first_seq,
            prev_hash: Some(a.anchor),
            prev_ts: a.base_ts,
            index_stride: INDEX_STRIDE,
            strict: true,
            version: crate::header::FormatVersion::V2,
        });
        let mut scanner = scanner;
        scanner.keep_tree(a.tree_base.clone());
        let resync = Resync {
            scanner: Some(scanner),
            target,
            rewrite: Vec::new(),
            durable_confirmed: self.durable_seq < a.first_seq && self.durable_hash == a.anchor,
            last_ts_at_target: 0,
            first_ts: None,
            records_to_target: 0,
            seq_at_target: a.first_seq - 1,
            hash_at_target: a.anchor,
            index: IndexBuilder::new(INDEX_STRIDE),
            tree: None,
        };
        self.job = Some(Job::Resync(Box::new(resync)));
        self.resync_next_read(HEADER_LEN as u64);
    }

    fn resync_next_read(&mut self, offset: u64) {
        let Some(Job::Resync(r)) = &self.job else {
            return;
        };
        let name = self.active.as_ref().expect("active").name.clone();
        if offset < r.target {
            let len = (r.target - offset).min(self.opts.read_chunk as u64) as u32;
            self.plan.push_back((
                IoOp::Read {
                    file: name,
                    offset,
                    len,
                },
                After::ResyncRead { offset },
            ));
        } else {
            self.finish_resync();
        }
    }

    fn on_resync_chunk(&mut self, offset: u64, data: Vec<u8>) {
        let durable_seq = self.durable_seq;
        let durable_hash = self.durable_hash;
        let synced_end = self.active.as_ref().map_or(0, |a| a.synced_end);
        let Some(Job::Resync(r)) = &mut self.job else {
            return;
        };
        if data.is_empty() {
            return self.resync_fatal(format!("read back returned nothing at offset {offset}"));
        }
        // Keep the bytes that will be rewritten (unsynced but acknowledged as written).
        let end = offset + data.len() as u64;
        if end > synced_end {
            let from = synced_end.max(offset);
            r.rewrite
                .extend_from_slice(&data[(from - offset) as usize..]);
        }
        let scanner = r.scanner.as_mut().expect("scanning");
        scanner.push(&data);
        while let Some(rec) = scanner.next_record() {
            if rec.seq == durable_seq {
                r.durable_confirmed = rec.hash == durable_hash;
            }
            r.first_ts.get_or_insert(rec.ts);
            r.last_ts_at_target = rec.ts;
            r.records_to_target += 1;
            r.seq_at_target = rec.seq;
            r.hash_at_target = rec.hash;
            r.index.observe(rec.seq, rec.ts, rec.offset);
        }
        self.resync_next_read(end);
    }

    fn finish_resync(&mut self) {
        let Some(Job::Resync(r)) = &mut self.job else {
            return;
        };
        let mut summary = r.scanner.take().expect("scanning").finish();
        r.tree = summary.tree.take();
        let reached = summary.end_offset;
        if !matches!(summary.end, crate::scan::SegmentEnd::Clean)
            || reached != r.target
            || !r.durable_confirmed
        {
            let what = format!(
                "read back of the active segment does not reproduce what was written (verified up to offset {reached} of {}, {:?})",
                r.target, summary.end
            );
            return self.resync_fatal(what);
        }
        let synced_end = self.active.as_ref().expect("active").synced_end;
        let target = r.target;
        let rewrite = std::mem::take(&mut r.rewrite);
        // The kernel may have dropped the pages after the failed sync: write them again.
        let rewrite = (target > synced_end && !rewrite.is_empty()).then_some((synced_end, rewrite));
        let steps = self.cut_steps(target, rewrite, After::ResyncDone);
        self.plan.extend(steps);
    }

    fn resync_fatal(&mut self, what: String) {
        self.plan.clear();
        self.job = None;
        let reason = format!("durable data failed re-verification: {what}");
        self.health.resync_failed(reason.clone());
        self.fatal = Some(reason);
        self.fail_all_waiting();
    }

    /// Runs the close sequence once everything is written and synced.
    pub(super) fn maybe_finish_close(&mut self) -> Option<(IoOp, Purpose)> {
        if !self.closing || !self.queue.is_empty() {
            return None;
        }
        if self.health.is_failed() && self.close_failure.is_none() {
            // What was believed durable could not be re-verified: no checkpoint vouches for it.
            self.close_failure = Some(self.waiting_error());
        }
        if !self.close_checkpointed && self.fatal.is_none() && !self.health.is_failed() {
            self.close_checkpointed = true;
            self.start_checkpoint();
            return self.next_action();
        }
        let mut steps = Vec::new();
        if self.fatal.is_none() && !self.health.is_failed() && self.live_index_due(true) {
            // A reader of the closed trail then scans none of the live segment.
            steps = self.live_index_steps();
        }
        if let Some(a) = &self.active {
            steps.push((
                IoOp::Close {
                    file: a.name.clone(),
                },
                After::Tolerant,
            ));
        }
        steps.push((IoOp::SyncDir, After::Closed));
        self.run(Job::Close, steps);
        self.next_action()
    }
}

/// Atomic checkpoint write: temporary file, fsync, rename over the old one, fsync the directory.
fn checkpoint_steps(cp: Checkpoint, root: Option<Hash>) -> Vec<(IoOp, After)> {
    let tmp = naming::HEAD_CHECKPOINT_TMP.to_string();
    vec![
        (IoOp::Create { file: tmp.clone() }, After::Nothing),
        (
            IoOp::Write {
                file: tmp.clone(),
                offset: 0,
                data: match root {
                    Some(root) => cp.to_text_with_root(&root),
                    None => cp.to_text(),
                }
                .into_bytes(),
            },
            After::Nothing,
        ),
        (
            IoOp::Sync {
                file: tmp.clone(),
                metadata: true,
            },
            After::Nothing,
        ),
        (IoOp::Close { file: tmp.clone() }, After::Tolerant),
        (
            IoOp::Rename {
                from: tmp,
                to: naming::HEAD_CHECKPOINT.to_string(),
            },
            After::Nothing,
        ),
        (IoOp::SyncDir, After::CheckpointDone(cp)),
    ]
}
