//! Opening a trail: recovery, driven as IO requests like everything else.
//!
//! Order of work, and why:
//! 1. list the directory's names (no lengths: a stat per sealed segment would make opening grow
//!    with the trail); remove temporary checkpoint files left by a crash;
//! 2. read `head.checkpoint` (the trail's own last durable head) if present;
//! 3. ask the last segment's length and read its header; a header that was never written (zero or short) with
//!    nothing but zeros after it is an interrupted segment creation and is removed — nothing in
//!    it can have been acknowledged, because a header is synced before the first ack — unless
//!    `head.checkpoint` covers its first seq (then it is refused as corruption); the removal
//!    runs only once the open succeeds, so a refused open has changed nothing;
//! 4. ask the previous segment's length, read its header and footer (only that one: opening
//!    must not grow with the number of sealed segments) and check it links to the last;
//!    (its footer carries the tree's edge at its last record, so the tree continues from it
//!    without rehashing earlier segments);
//! 5. scan the last segment in chunks (pushing its leaves onto that tree), classify its end, and refuse anything the recovery mode
//!    does not allow — before changing a byte, and after checking the trail is not shorter than
//!    its own checkpoint;
//! 6. write back the last segment's bytes after `head.checkpoint`'s record, which a writer
//!    whose fsync failed may have left in the page cache only (`open_rewrite`);
//! 7. cut a torn tail, finish an interrupted seal, or create the next segment, syncing file and
//!    directory before the trail reports itself open.

use super::open_rewrite::TailRewrite;
use super::{Active, OpenReport, TailReport};
use crate::checkpoint::Checkpoint;
use crate::config::{Options, RecoveryMode};
use crate::error::{Error, Location};
use crate::footer::{Footer, TRAILER_LEN};
use crate::hash::{genesis, Hash, LogId};
use crate::header::{FormatVersion, HeaderDefect, SegmentHeader, HEADER_LEN};
use crate::io::{IoDone, IoOp, IoResult};
use crate::naming;
use crate::scan::{ScanStart, SegmentEnd, SegmentScanner};
use crate::tree::CompactRange;
use std::collections::VecDeque;

mod finish;
mod previous;

/// What a successful open hands to the writer.
#[derive(Debug)]
pub(crate) struct Opened {
    pub log_id: LogId,
    pub next_seq: u64,
    pub head: Hash,
    pub last_ts: u64,
    /// The tree over every record (the written head's).
    pub tree: CompactRange,
    /// The trail's origin (its C2SP checkpoints' first line).
    pub origin: String,
    pub active: Active,
    pub segments: Vec<(u64, String)>,
    pub report: OpenReport,
}

enum Stage {
    List,
    /// Reads the `origin` file, then the checkpoint (if listed) or what follows it.
    ReadOrigin {
        has_checkpoint: bool,
    },
    ReadCheckpoint,
    /// Asks the last segment's length if not known yet, then reads its header.
    ReadLastHeader,
    CheckAbandoned {
        offset: u64,
    },
    /// Asks the previous segment's length if not known yet, then reads its header.
    ReadPrevHeader,
    ReadPrevTrailer,
    ReadPrevFooter {
        offset: u64,
    },
    /// The previous segment has no trailer at its end: scan it to find its footer.
    ScanPrev {
        offset: u64,
    },
    Scan {
        offset: u64,
    },
    /// Writing back the tail bytes that may be in the page cache only (`open_rewrite`).
    Rewrite,
    /// Running the fixed steps in `steps`, then done.
    Finish,
}

pub(crate) enum OpenAction {
    Io(IoOp),
    Done(Box<Opened>),
    Failed(Error),
}

pub(crate) struct Opener {
    opts: Options,
    new_log_id: LogId,
    stage: Stage,
    steps: VecDeque<IoOp>,
    /// Changes decided while reading (the removal of an unwritten last segment) that run only
    /// once the open has succeeded, ahead of `steps`: an open that then refuses the trail has
    /// changed nothing (issue 10 §3).
    deferred: Vec<IoOp>,
    failed: Option<Error>,
    done: Option<Box<Opened>>,
    // What was learnt so far.
    /// Segments by first seq: (first seq, name, length). A length is asked only for the
    /// segments that are read (the last and the previous one), just before the first read.
    segments: Vec<(u64, String, Option<u64>)>,
    checkpoint: Option<Checkpoint>,
    last_header: Option<SegmentHeader>,
    prev_header: Option<SegmentHeader>,
    prev_footer: Option<Footer>,
    scanner: Option<SegmentScanner>,
    /// The tree before the last segment (from the previous footer's edge).
    tree_base: Option<CompactRange>,
    /// The origin the `origin` file holds, when it exists.
    origin_stored: Option<String>,
    prev_scanner: Option<SegmentScanner>,
    /// The last segment's agent index, rebuilt from the records the open scans.
    agents: crate::agent_index::AgentIndexBuilder,
    checkpoint_hash_seen: Option<Hash>,
    /// Where the record `head.checkpoint` names ends, when it is in the last segment: the
    /// bytes before it are durable, the ones after may be in the page cache only.
    checkpoint_end: Option<u64>,
    /// The tail rewrite in progress, and the open's result it holds back until it is done.
    rewrite: Option<(TailRewrite, Box<Opened>)>,
    header_defect: Option<HeaderDefect>,
    report: OpenReport,
}

impl Opener {
    pub(crate) fn new(opts: Options, new_log_id: LogId) -> Opener {
        Opener {
            opts,
            new_log_id,
            stage: Stage::List,
            steps: VecDeque::new(),
            deferred: Vec::new(),
            failed: None,
            done: None,
            segments: Vec::new(),
            checkpoint: None,
            last_header: None,
            prev_header: None,
            prev_footer: None,
            scanner: None,
            tree_base: None,
            origin_stored: None,
            prev_scanner: None,
            agents: Default::default(),
            checkpoint_hash_seen: None,
            checkpoint_end: None,
            rewrite: None,
            header_defect: None,
            report: OpenReport::default(),
        }
    }

    fn last_entry(&self) -> &(u64, String, Option<u64>) {
        self.segments
            .last()
            .expect("a last segment exists in this stage")
    }

    fn prev_entry(&self) -> Option<&(u64, String, Option<u64>)> {
        self.segments
            .len()
            .checked_sub(2)
            .map(|i| &self.segments[i])
    }

    /// The last segment: first seq, name and length (asked in `ReadLastHeader`).
    fn last(&self) -> (u64, String, u64) {
        let (first, name, len) = self.last_entry();
        let len = len.expect("the last segment's length is asked before it is read");
        (*first, name.clone(), len)
    }

    /// The previous segment, once its length is known (asked in `ReadPrevHeader`).
    fn prev(&self) -> (u64, String, u64) {
        let (first, name, len) = self.prev_entry().expect("prev exists");
        let len = len.expect("the previous segment's length is asked before it is read");
        (*first, name.clone(), len)
    }

    /// Asks the length of `entry`'s file unless it is known.
    fn length_of(entry: &(u64, String, Option<u64>)) -> Option<IoOp> {
        match entry.2 {
            Some(_) => None,
            None => Some(IoOp::Length {
                file: entry.1.clone(),
            }),
        }
    }

    /// The next thing to do.
    pub(crate) fn next(&mut self) -> OpenAction {
        if let Some(e) = self.failed.take() {
            return OpenAction::Failed(e);
        }
        if self.done.is_some() {
            // The open succeeded: the deferred changes go first (a removed segment's name
            // may be the one the open creates anew).
            for op in self.deferred.drain(..).rev() {
                self.steps.push_front(op);
            }
        }
        if let Some(step) = self.steps.pop_front() {
            return OpenAction::Io(step);
        }
        if let Some(done) = self.done.take() {
            return OpenAction::Done(done);
        }
        let read = |file: &str, offset: u64, len: u64| IoOp::Read {
            file: file.to_string(),
            offset,
            len: len as u32,
        };
        match self.stage {
            Stage::List => OpenAction::Io(IoOp::ListNames),
            Stage::ReadOrigin { .. } => OpenAction::Io(read(naming::ORIGIN, 0, 4096)),
            Stage::ReadCheckpoint => OpenAction::Io(read(naming::HEAD_CHECKPOINT, 0, 4096)),
            Stage::ReadLastHeader => {
                let entry = self.last_entry();
                if let Some(op) = Self::length_of(entry) {
                    return OpenAction::Io(op);
                }
                OpenAction::Io(read(&entry.1, 0, HEADER_LEN as u64))
            }
            Stage::CheckAbandoned { offset } => {
                let (_, name, len) = self.last();
                OpenAction::Io(read(
                    &name,
                    offset,
                    (len - offset).min(self.opts.read_chunk as u64),
                ))
            }
            Stage::ReadPrevHeader => {
                let entry = self.prev_entry().expect("prev exists");
                if let Some(op) = Self::length_of(entry) {
                    return OpenAction::Io(op);
                }
                OpenAction::Io(read(&entry.1, 0, HEADER_LEN as u64))
            }
            Stage::ReadPrevTrailer => {
                let (_, name, len) = self.prev();
                OpenAction::Io(read(
                    &name,
                    len.saturating_sub(TRAILER_LEN as u64),
                    TRAILER_LEN as u64,
                ))
            }
            Stage::ReadPrevFooter { offset } => {
                let (_, name, len) = self.prev();
                OpenAction::Io(read(&name, offset, len - offset))
            }
            Stage::ScanPrev { offset } => {
                let (_, name, len) = self.prev();
                OpenAction::Io(read(
                    &name,
                    offset,
                    (len - offset).min(self.opts.read_chunk as u64),
                ))
            }
            Stage::Scan { offset } => {
                let (_, name, len) = self.last();
                OpenAction::Io(read(
                    &name,
                    offset,
                    (len - offset).min(self.opts.read_chunk as u64),
                ))
            }
            Stage::Rewrite => {
                let (rewrite, _) = self.rewrite.as_ref().expect("rewriting");
                OpenAction::Io(rewrite.next_read(self.opts.read_chunk))
            }
            Stage::Finish => unreachable!("Finish completes through `steps` and `done`"),
        }
    }

    /// Feeds the result of the request last returned by [`Opener::next`].
    pub(crate) fn on_io(&mut self, op: &IoOp, result: IoResult) {
        let done = match result {
            Ok(done) => done,
            Err(error) => {
                // A missing checkpoint file is normal; everything else stops the open.
                if matches!(self.stage, Stage::ReadCheckpoint)
                    && error.kind == crate::io::IoErrorKind::NotFound
                {
                    self.stage = self.after_checkpoint();
                    return;
                }
                let location = op.file().map(Location::file).unwrap_or_default();
                self.failed = Some(Error::Io {
                    op: op.name(),
                    location,
                    error,
                });
                return;
            }
        };
        if matches!(self.stage, Stage::Finish) {
            return; // fixed steps: nothing to learn from their results
        }
        let mut data = match done {
            IoDone::Names(names) => return self.on_listed(names),
            IoDone::Length(len) => return self.on_length(op, len),
            IoDone::Read(data) => data,
            _ => return,
        };
        let r = match self.stage {
            Stage::ReadOrigin { has_checkpoint } => self.on_origin(&data, has_checkpoint),
            Stage::ReadCheckpoint => self.on_checkpoint(&data),
            Stage::ReadLastHeader => self.on_last_header(&data),
            Stage::CheckAbandoned { offset } => self.on_abandoned_chunk(offset, &data),
            Stage::ReadPrevHeader => self.on_prev_header(&data),
            Stage::ReadPrevTrailer => self.on_prev_trailer(&data),
            Stage::ReadPrevFooter { offset } => self.on_prev_footer(offset, &data),
            Stage::ScanPrev { offset } => self.on_prev_scan_chunk(offset, &data),
            Stage::Scan { offset } => self.on_scan_chunk(offset, &data),
            Stage::Rewrite => self.on_rewrite_chunk(std::mem::take(&mut data)),
            Stage::List | Stage::Finish => Ok(()),
        };
        if let Err(e) = r {
            self.failed = Some(e);
        }
    }

    fn on_listed(&mut self, names: Vec<String>) {
        let mut has_checkpoint = false;
        let mut has_origin = false;
        for name in names {
            if name == naming::NO_MERKLE_TREE {
                self.failed = Some(crate::error::no_merkle_tree());
                return;
            }
            if let Some(first) = naming::parse_segment_name(&name) {
                self.segments.push((first, name, None));
            } else if name == naming::HEAD_CHECKPOINT {
                has_checkpoint = true;
            } else if name == naming::ORIGIN {
                has_origin = true;
            } else if name == naming::HEAD_CHECKPOINT_TMP
                || name == naming::RETAINED_CHECKPOINT_TMP
                || name == naming::ORIGIN_TMP
            {
                self.steps.push_back(IoOp::Remove { file: name.clone() });
                self.report.removed_files.push(name);
            }
        }
        self.segments.sort();
        if !self.opts.merkle_tree && !self.segments.is_empty() {
            // A trail without its tree is a benchmark's scratch trail: never mixed into a
            // real one (its footers would carry no tree edge from here on).
            self.failed = Some(Error::InvalidArgument {
                what: format!(
                    "merkle-tree off (a benchmark option) only creates new trails; this directory already holds {} segment(s)",
                    self.segments.len()
                ),
            });
            return;
        }
        self.stage = if has_origin {
            Stage::ReadOrigin { has_checkpoint }
        } else if has_checkpoint {
            Stage::ReadCheckpoint
        } else {
            self.after_checkpoint()
        };
    }

    /// Records the length of the segment it was asked for; the stage that asked reads it next.
    fn on_length(&mut self, op: &IoOp, len: u64) {
        if let Some(file) = op.file() {
            if let Some(entry) = self.segments.iter_mut().find(|(_, name, _)| name == file) {
                entry.2 = Some(len);
            }
        }
    }

    fn after_checkpoint(&mut self) -> Stage {
        if self.segments.is_empty() {
            if let Some(cp) = self.checkpoint.filter(|c| c.seq > 0) {
                self.failed = Some(Error::BehindCheckpoint {
                    checkpoint: cp,
                    last_seq: 0,
                });
                return Stage::Finish;
            }
            let log_id = self.checkpoint.map(|c| c.log_id).unwrap_or(self.new_log_id);
            self.report.created = true;
            let header = SegmentHeader {
                version: crate::header::FormatVersion::V2,
                log_id,
                segno: 0,
                first_seq: 1,
                anchor: genesis(&log_id),
            };
            self.create_first_segment(header);
            return Stage::Finish;
        }
        Stage::ReadLastHeader
    }

    fn on_origin(&mut self, data: &[u8], has_checkpoint: bool) -> Result<(), Error> {
        let origin = std::str::from_utf8(data)
            .ok()
            .and_then(|t| t.strip_suffix('\n'))
            .filter(|o| crate::tree::checkpoint::check_origin(o).is_ok())
            .ok_or_else(|| Error::Corrupt {
                location: Location::file(naming::ORIGIN),
                what: "not one origin line (printable ASCII, no spaces, at most 255 bytes) ending in LF".into(),
            })?;
        self.origin_stored = Some(origin.to_string());
        self.stage = if has_checkpoint {
            Stage::ReadCheckpoint
        } else {
            self.after_checkpoint()
        };
        Ok(())
    }

    /// The trail's origin: the `origin` file's; on creation the one asked (or the default),
    /// which is then written. Asking another origin than the trail's is refused: it never
    /// changes once the trail exists.
    fn resolve_origin(&mut self, log_id: LogId, creating: bool) -> Result<String, Error> {
        let default = format!("evident/{}", log_id.to_hex());
        let asked = self.opts.origin.clone();
        let refuse = |have: &str, why: &str, asked: &str| {
            Error::InvalidArgument {
            what: format!(
                "origin is {asked:?} but the trail's origin is {have:?} ({why}); an origin is set when the trail is created and never changes"
            ),
        }
        };
        match (self.origin_stored.clone(), asked) {
            (Some(have), Some(asked)) if have != asked => {
                Err(refuse(&have, "from its origin file", &asked))
            }
            (Some(have), _) => Ok(have),
            (None, asked) if creating => {
                let origin = asked.unwrap_or(default);
                let data = format!("{origin}\n").into_bytes();
                let tmp = naming::ORIGIN_TMP.to_string();
                for op in [
                    IoOp::Create { file: tmp.clone() },
                    IoOp::Write {
                        file: tmp.clone(),
                        offset: 0,
                        data,
                    },
                    IoOp::Sync {
                        file: tmp.clone(),
                        metadata: true,
                    },
                    IoOp::Close { file: tmp.clone() },
                    IoOp::Rename {
                        from: tmp,
                        to: naming::ORIGIN.to_string(),
                    },
                ] {
                    self.steps.push_back(op); // the segment's creation syncs the directory
                }
                Ok(origin)
            }
            (None, Some(asked)) if asked != default => Err(refuse(
                &default,
                "the default: it has no origin file",
                &asked,
            )),
            (None, _) => Ok(default),
        }
    }

    fn on_checkpoint(&mut self, data: &[u8]) -> Result<(), Error> {
        let text = String::from_utf8_lossy(data);
        let (cp, _root) = Checkpoint::parse_own_file(&text).map_err(|e| Error::Corrupt {
            location: Location::file(naming::HEAD_CHECKPOINT),
            what: e.to_string(),
        })?;
        self.checkpoint = Some(cp);
        self.stage = self.after_checkpoint();
        Ok(())
    }

    fn on_last_header(&mut self, data: &[u8]) -> Result<(), Error> {
        let (first, name, len) = self.last();
        match SegmentHeader::decode(data) {
            Ok(h) => {
                if h.first_seq != first {
                    return Err(Error::Corrupt {
                        location: Location::file(&name).at(40).segment(h.segno),
                        what: format!(
                            "header first seq {} does not match the file name",
                            h.first_seq
                        ),
                    });
                }
                if h.version != FormatVersion::V2 {
                    return Err(Error::UnsupportedVersion {
                        file: name,
                        version: h.version.number(),
                    });
                }
                self.last_header = Some(h);
                self.stage = if self.prev_entry().is_some() {
                    Stage::ReadPrevHeader
                } else {
                    self.start_scan()?
                };
                Ok(())
            }
            Err(defect) if self.report.tail == TailReport::AbandonedSegmentRemoved => {
                // Only the last segment may be an interrupted creation (FORMAT.md, rule 1): a
                // bad header before it is corruption, as `verify` says.
                Err(header_error(&name, defect))
            }
            Err(defect) => {
                // Possibly a segment whose creation was interrupted before its header was
                // synced: that is only so if nothing but zeros follows the header.
                self.header_defect = Some(defect);
                let start = (HEADER_LEN as u64).min(len);
                self.after_abandoned_chunk(start, len)
            }
        }
    }

    fn on_abandoned_chunk(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let (_, name, len) = self.last();
        if data.is_empty() {
            return Err(Error::Corrupt {
                location: Location::file(&name).at(offset),
                what: "file shorter than its length".into(),
            });
        }
        if let Some(i) = data.iter().position(|&b| b != 0) {
            let defect = self.header_defect.unwrap_or(HeaderDefect::CrcMismatch);
            return Err(Error::Corrupt {
                location: Location::file(&name).at(0),
                what: format!(
                    "{defect}, and data follows it at offset {}",
                    offset + i as u64
                ),
            });
        }
        self.after_abandoned_chunk(offset + data.len() as u64, len)
    }

    fn after_abandoned_chunk(&mut self, next: u64, len: u64) -> Result<(), Error> {
        if next < len {
            self.stage = Stage::CheckAbandoned { offset: next };
            return Ok(());
        }
        // Nothing but an unwritten header: an interrupted segment creation, unless the trail's
        // checkpoint covers the segment's first seq (from its name). Then records it had
        // acknowledged were destroyed: refuse before queuing any change, naming what `verify`
        // names (FORMAT.md, "Verification rules", rule 1).
        let (first, name, _) = self.last();
        if let Some(cp) = self.checkpoint.filter(|cp| cp.seq >= first) {
            let defect = self
                .header_defect
                .unwrap_or(HeaderDefect::Short(len.min(HEADER_LEN as u64) as usize));
            return Err(crate::verify::covered_damage(
                Location::file(&name).at(0).seq(first),
                &defect.to_string(),
                &cp,
            ));
        }
        // Nothing in it was acknowledged: remove it (once the open succeeds) and continue with
        // the previous segment.
        let (_, name, _) = self.segments.pop().expect("last exists");
        self.deferred.push(IoOp::Remove { file: name.clone() });
        self.deferred.push(IoOp::SyncDir);
        self.report.removed_files.push(name);
        self.report.tail = TailReport::AbandonedSegmentRemoved;
        self.stage = if self.segments.is_empty() {
            self.after_checkpoint()
        } else {
            Stage::ReadLastHeader
        };
        Ok(())
    }

    fn start_scan(&mut self) -> Result<Stage, Error> {
        let h = self.last_header.expect("read before");
        let (_, name, len) = self.last();
        if self.prev_footer.is_none() && h.segno != 0 {
            // Earlier segments were removed by retention: the anchor must be vouched for.
            return Err(Error::Corrupt {
                location: Location::file(&name).segment(h.segno),
                what: format!(
                    "first segment is number {} and earlier segments are missing",
                    h.segno
                ),
            });
        }
        if self.prev_footer.is_none() && (h.first_seq != 1 || h.anchor != genesis(&h.log_id)) {
            return Err(Error::Corrupt {
                location: Location::file(&name).at(48).seq(1),
                what: "first segment does not start at seq 1 from the genesis hash".into(),
            });
        }
        if let Some(cp) = self.checkpoint {
            if cp.log_id != h.log_id {
                return Err(Error::CheckpointMismatch {
                    checkpoint: cp,
                    what: format!(
                        "{} belongs to log {}, the trail is log {}",
                        naming::HEAD_CHECKPOINT,
                        cp.log_id,
                        h.log_id
                    ),
                });
            }
            if cp.seq + 1 == h.first_seq && cp.hash != h.anchor {
                return Err(Error::CheckpointMismatch {
                    checkpoint: cp,
                    what: "anchor hash differs".into(),
                });
            }
        }
        let prev_ts = self.prev_footer.as_ref().map_or(0, |f| f.last_ts);
        // The tree before this segment: the previous footer's edge (checked by `verify`
        // against the records; trusted here so that opening does not rehash the trail).
        let base = match &self.prev_footer {
            None => CompactRange::new(),
            Some(f) => CompactRange::from_edge(f.last_seq, f.edge.clone()).map_err(|e| {
                let (_, prev, _) = self.prev();
                Error::Corrupt {
                    location: Location::file(prev).at(f.offset),
                    what: format!("footer tree edge: {e}"),
                }
            })?,
        };
        let mut scanner = SegmentScanner::new(ScanStart {
            prev_ts,
            ..ScanStart::after_header(&h, len, false)
        });
        scanner.keep_tree(base.clone());
        self.agents = crate::agent_index::AgentIndexBuilder::new(h.first_seq);
        self.tree_base = Some(base);
        self.scanner = Some(scanner);
        if len <= HEADER_LEN as u64 {
            return self.finish_scan();
        }
        Ok(Stage::Scan {
            offset: HEADER_LEN as u64,
        })
    }

    fn on_scan_chunk(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let (_, name, len) = self.last();
        let cp = self.checkpoint;
        let scanner = self.scanner.as_mut().expect("scanning");
        scanner.push(data);
        while let Some(r) = scanner.next_record() {
            self.agents.observe(r.ts, r.offset, r.frame_len, r.payload);
            if let Some(cp) = cp.filter(|c| c.seq == r.seq) {
                self.checkpoint_hash_seen = Some(r.hash);
                self.checkpoint_end = Some(r.offset + r.frame_len as u64);
                if r.hash != cp.hash {
                    return Err(Error::CheckpointMismatch {
                        checkpoint: cp,
                        what: format!(
                            "record {} in {name} at offset {} has hash {}",
                            r.seq, r.offset, r.hash
                        ),
                    });
                }
            }
        }
        let next = offset + data.len() as u64;
        if scanner.is_done() || next >= len || data.is_empty() {
            self.stage = self.finish_scan()?;
        } else {
            self.stage = Stage::Scan { offset: next };
        }
        Ok(())
    }

    fn on_rewrite_chunk(&mut self, data: Vec<u8>) -> Result<(), Error> {
        let (rewrite, _) = self.rewrite.as_mut().expect("rewriting");
        let write = rewrite.on_read(data)?;
        self.steps.push_back(write);
        if rewrite.is_done() {
            let (rewrite, opened) = self.rewrite.take().expect("rewriting");
            self.steps.extend(rewrite.held);
            self.done = Some(opened);
            self.stage = Stage::Finish;
        }
        Ok(())
    }

    /// Records how the tail looked, unless an abandoned segment was removed: that is the more
    /// telling event (a cut torn tail still wins over it; `removed_files` lists the removal).
    fn note_tail(&mut self, t: TailReport) {
        if self.report.tail != TailReport::AbandonedSegmentRemoved {
            self.report.tail = t;
        }
    }

    /// Queues the steps that create a segment and returns the active state it will have.
    fn create_segment_ops(
        &mut self,
        header: SegmentHeader,
        base_ts: u64,
        tree_base: CompactRange,
    ) -> Active {
        let name = naming::segment_name(header.first_seq);
        let mut ops = super::create_segment_steps(&self.opts, &name, &header);
        self.steps.append(&mut ops);
        Active::fresh(name, &header, base_ts, &self.opts, tree_base)
    }

    /// Creates the first segment of a new (or emptied) trail and finishes the open.
    fn create_first_segment(&mut self, header: SegmentHeader) {
        let log_id = header.log_id;
        // The origin is durable before the trail exists: written first, and the segment's
        // creation syncs the directory before anything is acknowledged.
        let origin = match self.resolve_origin(log_id, true) {
            Ok(origin) => origin,
            Err(e) => {
                self.failed = Some(e);
                return;
            }
        };
        if !self.opts.merkle_tree {
            // The mark that keeps the trail from ever being opened or verified as a real one;
            // durable with the segment's directory sync, before anything is acknowledged.
            let mark = naming::NO_MERKLE_TREE.to_string();
            for op in [
                IoOp::Create { file: mark.clone() },
                IoOp::Write {
                    file: mark.clone(),
                    offset: 0,
                    data: b"written with the Merkle tree turned off (a benchmark option): no tree edge in the footers, no root in the checkpoint, no tiles\n".to_vec(),
                },
                IoOp::Sync {
                    file: mark.clone(),
                    metadata: true,
                },
                IoOp::Close { file: mark },
            ] {
                self.steps.push_back(op);
            }
        }
        let active = self.create_segment_ops(header, 0, CompactRange::new());
        let mut report = std::mem::take(&mut self.report);
        report.log_id = log_id;
        report.segments = 1;
        report.head = Checkpoint::empty(log_id);
        report.next_seq = 1;
        self.done = Some(Box::new(Opened {
            log_id,
            next_seq: 1,
            head: genesis(&log_id),
            last_ts: 0,
            tree: CompactRange::new(),
            origin,
            segments: vec![(1, active.name.clone())],
            active,
            report,
        }));
    }
}

fn header_error(name: &str, d: HeaderDefect) -> Error {
    Error::Corrupt {
        location: Location::file(name).at(0),
        what: d.to_string(),
    }
}
