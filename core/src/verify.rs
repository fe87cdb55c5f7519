//! Verification of a whole trail: framing, seq continuity, timestamps and the hash chain across
//! every segment, the links between segments, every footer, and optionally one or more
//! checkpoints (proof that the trail still holds the prefix a checkpoint describes).
//!
//! [`Verifier`] is fed bytes: segment by segment, from offset 0, in chunks of any size. It needs
//! no file system, so a host that does its own IO (a browser checking a downloaded trail) can use
//! it directly. [`VerifyTask`] drives it through [`IoOp`] requests like the writer does.
//!
//! What is reported, always with the first bad place: an edited record (chain mismatch), a
//! deleted, duplicated or reordered record (seq mismatch), a segment missing or spliced in from
//! another trail (segment number, first seq, anchor or log id mismatch), a sealed segment cut
//! short or extended, a footer that does not describe its records, a torn tail, and a trail
//! shorter than a checkpoint of it, or whose record at the checkpoint's seq has another hash.

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Location};
use crate::hash::{genesis, Hash, LogId};
use crate::header::{FormatVersion, SegmentHeader, HEADER_LEN};
use crate::io::{IoDone, IoErrorKind, IoOp, IoResult};
use crate::leaves::PrecomputedLeaf;
use crate::naming;
use crate::scan::{ScanStart, SegmentEnd, SegmentScanner};
use crate::tree::{CompactRange, EMPTY_ROOT};

mod task;
pub use task::VerifyTask;

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The trail's identity.
    pub log_id: LogId,
    /// Segments checked.
    pub segments: u64,
    /// Records checked.
    pub records: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Seq of the first record present (1 unless retention removed earlier segments).
    pub first_seq: u64,
    /// The head: last seq and its chain hash.
    pub head: Checkpoint,
    /// Zero bytes after the last record (preallocated space).
    pub zero_tail: u64,
    /// Checkpoints the trail was proven to contain.
    pub checkpoints_verified: Vec<Checkpoint>,
    /// Where the chain starts when earlier segments were removed by retention: the retention
    /// checkpoint that vouches for the first kept segment's anchor.
    pub anchored_by: Option<Checkpoint>,
    /// Sealed segments followed by zero bytes (a seal whose cut of preallocated space did not
    /// reach the disk). Harmless; recovery cuts them when it meets them.
    pub unfinished_seals: Vec<String>,
    /// Things worth an operator's look that do not make the trail fail (a trail of two or more
    /// segments without `head.checkpoint`, whose tail nothing vouches for).
    pub warnings: Vec<String>,
    /// With a live writer (see [`VerifyTask::set_live_writer`]): where the last segment's
    /// in-flight tail starts, which was not verified (records the writer may still be writing
    /// are not counted). `None` when everything read was verified.
    pub live_tail: Option<String>,
    /// The format version of the trail's segments (all the same).
    pub version: FormatVersion,
    /// The tree recomputed from the records: its size (the head's seq) and root. `None` when
    /// the first segment present is not segment 0 (records removed by retention cannot be
    /// rehashed).
    pub tree: Option<(u64, Hash)>,
    /// Tree roots (size, root) given with [`Verifier::check_tree_root`] that were proven.
    pub tree_roots_verified: Vec<(u64, Hash)>,
}

#[derive(Debug)]
struct Current {
    name: String,
    file_len: u64,
    is_last: bool,
    fed: u64,
    header_buf: Vec<u8>,
    header: Option<SegmentHeader>,
    scanner: Option<SegmentScanner>,
    /// The last segment's header does not decode: if nothing but zeros follows, this is a
    /// segment whose creation was interrupted (recovery removes it), not damage.
    bad_header: Option<crate::header::HeaderDefect>,
    data_after_bad_header: Option<u64>,
    /// Leaves provided before the header was decoded (the scanner does not exist yet).
    early_leaves: Vec<PrecomputedLeaf>,
}

/// Verifies a trail fed as bytes. Call [`Verifier::begin_segment`] for each segment in name
/// order, [`Verifier::push`] its bytes from offset 0, [`Verifier::end_segment`], and finally
/// [`Verifier::finish`]. The first error is final: later calls return it again.
#[derive(Debug)]
pub struct Verifier {
    checkpoints: Vec<Checkpoint>,
    retained: Option<Checkpoint>,
    log_id: Option<LogId>,
    next_segno: u64,
    next_seq: u64,
    last_hash: Hash,
    last_ts: u64,
    first_seq: Option<u64>,
    segments: u64,
    records: u64,
    bytes: u64,
    zero_tail: u64,
    verified: Vec<Checkpoint>,
    anchored_by: Option<Checkpoint>,
    unfinished_seals: Vec<String>,
    current: Option<Current>,
    error: Option<Error>,
    /// A writer is live: the last segment's incomplete tail is its in-flight write.
    live: bool,
    live_tail: Option<String>,
    /// The first segment's format version; every later one must have it.
    version: Option<FormatVersion>,
    /// The tree over every record so far (between segments; the scanner keeps it during
    /// one), `None` when the trail does not start at segment 0.
    tree: Option<CompactRange>,
    /// Tree roots to check: (size, root).
    tree_roots: Vec<(u64, Hash)>,
    /// Those of them that must be proven (given, not merely stated by `head.checkpoint`).
    tree_required: Vec<(u64, Hash)>,
    tree_verified: Vec<(u64, Hash)>,
}

impl Verifier {
    /// A verifier that will also prove each of `checkpoints` (give `head.checkpoint` and any
    /// checkpoint shipped off the host), and accept `retained` (the retention checkpoint) as the
    /// anchor of a trail whose earliest segments were removed.
    pub fn new(checkpoints: Vec<Checkpoint>, retained: Option<Checkpoint>) -> Verifier {
        Verifier {
            checkpoints,
            retained,
            log_id: None,
            next_segno: 0,
            next_seq: 1,
            last_hash: Hash::default(),
            last_ts: 0,
            first_seq: None,
            segments: 0,
            records: 0,
            bytes: 0,
            zero_tail: 0,
            verified: Vec::new(),
            anchored_by: None,
            unfinished_seals: Vec::new(),
            current: None,
            error: None,
            live: false,
            live_tail: None,
            version: None,
            tree: None,
            tree_roots: Vec::new(),
            tree_required: Vec::new(),
            tree_verified: Vec::new(),
        }
    }

    /// Also proves that the tree recomputed from the records has `root` at `size` (what a C2SP
    /// checkpoint of the trail says): the trail must hold at least `size` records from seq 1
    /// on, and the root of the tree over records 1..=size must be `root`. A failure is
    /// [`Error::TreeMismatch`].
    pub fn check_tree_root(&mut self, size: u64, root: Hash) {
        self.check_tree_root_if_known(size, root);
        if !self.tree_required.contains(&(size, root)) {
            self.tree_required.push((size, root));
        }
    }

    /// Checks that the recomputed tree has `root` at `size` whenever the tree can be
    /// recomputed (the trail starts at segment 0) and holds `size` records: the root a
    /// trail's own `head.checkpoint` states. A different root is [`Error::TreeMismatch`];
    /// a trail shorter than `size` is left to the chain checkpoint beside it.
    pub fn check_tree_root_if_known(&mut self, size: u64, root: Hash) {
        if !self.tree_roots.contains(&(size, root)) {
            self.tree_roots.push((size, root));
        }
    }

    /// Tells the verifier a writer is live: an incomplete tail of the last segment (what would
    /// otherwise be a torn tail) is its in-flight write, reported in
    /// [`VerifyReport::live_tail`] rather than as damage. Damage a checkpoint covers is still
    /// corruption.
    pub fn set_live_writer(&mut self, live: bool) {
        self.live = live;
    }

    /// The verdict on a torn tail of segment `name`: damage, or (beside a live writer, in the
    /// last segment) the writer's in-flight tail, not yet verified.
    fn torn(&mut self, e: Error, is_last: bool) -> Result<(), Error> {
        if !(self.live && is_last) {
            return Err(e);
        }
        self.live_tail = Some(format!(
            "{}: not yet verified (live writer)",
            e.location().map(|l| l.to_string()).unwrap_or_default()
        ));
        Ok(())
    }

    /// Starts the next segment (in file-name order). `is_last` tells whether it is the trail's
    /// last segment, the only one allowed to be unsealed.
    pub fn begin_segment(&mut self, name: &str, file_len: u64, is_last: bool) -> Result<(), Error> {
        self.check()?;
        if self.current.is_some() {
            self.end_segment()?;
        }
        self.current = Some(Current {
            name: name.to_string(),
            file_len,
            is_last,
            fed: 0,
            header_buf: Vec::with_capacity(HEADER_LEN),
            header: None,
            scanner: None,
            bad_header: None,
            data_after_bad_header: None,
            early_leaves: Vec::new(),
        });
        Ok(())
    }

    /// Hands over leaf hashes of the current segment computed ahead, possibly on other threads
    /// (see [`crate::leaves`]); give them before pushing the bytes they were computed from.
    /// They save work and never change a verdict.
    pub fn provide_leaves(&mut self, leaves: Vec<PrecomputedLeaf>) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        match cur.scanner.as_mut() {
            Some(scanner) => scanner.provide_leaves(leaves),
            None => cur.early_leaves.extend(leaves),
        }
    }

    fn check(&self) -> Result<(), Error> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.error = Some(e.clone());
        e
    }

    /// Ends the current segment's input where it stopped: beside a live writer the file was
    /// cut while it was read (a rotation sealing the preallocated segment cuts its zeros), so
    /// its length is what could be read, and the scanner's verdict on those bytes stands (a
    /// sealed segment must still hold its whole footer).
    pub fn segment_shrank(&mut self) {
        if let Some(cur) = self.current.as_mut() {
            cur.file_len = cur.fed;
        }
    }

    /// Feeds the next bytes of the current segment.
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        self.check()?;
        let Some(cur) = self.current.as_mut() else {
            return Err(self.fail(Error::Corrupt {
                location: Location::default(),
                what: "bytes pushed outside a segment".into(),
            }));
        };
        let at = cur.fed;
        cur.fed += bytes.len() as u64;
        self.bytes += bytes.len() as u64;
        if cur.bad_header.is_some() {
            if cur.data_after_bad_header.is_none() {
                if let Some(i) = bytes.iter().position(|&b| b != 0) {
                    cur.data_after_bad_header = Some(at + i as u64);
                }
            }
            return Ok(());
        }
        if cur.header.is_none() {
            let take = (HEADER_LEN - cur.header_buf.len()).min(bytes.len());
            cur.header_buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if cur.header_buf.len() < HEADER_LEN {
                return Ok(());
            }
            let r = self.on_header();
            r.map_err(|e| self.fail(e))?;
            let cur = self.current.as_mut().expect("in a segment");
            if cur.bad_header.is_some() {
                let base = cur.fed - bytes.len() as u64;
                if let Some(i) = bytes.iter().position(|&b| b != 0) {
                    cur.data_after_bad_header = Some(base + i as u64);
                }
                return Ok(());
            }
        }
        if !bytes.is_empty() {
            self.scan(bytes).map_err(|e| self.fail(e))?;
        }
        Ok(())
    }

    fn on_header(&mut self) -> Result<(), Error> {
        let cur = self.current.as_mut().expect("in a segment");
        let loc = Location::file(&cur.name);
        let h = match SegmentHeader::decode(&cur.header_buf) {
            Ok(h) => h,
            Err(d) if cur.is_last => {
                // Decided at the end of the segment, once we know whether data follows.
                cur.bad_header = Some(d);
                return Ok(());
            }
            Err(d) => {
                return Err(Error::Corrupt {
                    location: loc.at(0),
                    what: d.to_string(),
                })
            }
        };
        let loc = loc.segment(h.segno);
        match self.version {
            None => self.version = Some(h.version),
            Some(v) if v != h.version => {
                return Err(Error::Corrupt {
                    location: loc.at(8),
                    what: format!(
                        "segment is format version {} but the trail's first segment is version {v}: a trail never mixes versions",
                        h.version
                    ),
                })
            }
            Some(_) => {}
        }
        if naming::parse_segment_name(&cur.name) != Some(h.first_seq) {
            return Err(Error::Corrupt {
                location: loc.at(40),
                what: format!("first seq {} does not match the file name", h.first_seq),
            });
        }
        match self.log_id {
            None => {
                // The first segment present.
                if h.segno == 0 {
                    if h.first_seq != 1 || h.anchor != genesis(&h.log_id) {
                        return Err(Error::Corrupt {
                            location: loc.at(48).seq(1),
                            what: "segment 0 does not start at seq 1 from the genesis hash".into(),
                        });
                    }
                    // Every record is present, so the retention checkpoint is checked like any
                    // other: a wrong one is a mismatch, not something to ignore.
                    if let Some(r) = self.retained {
                        if !self.checkpoints.contains(&r) {
                            self.checkpoints.push(r);
                        }
                    }
                    self.tree = Some(CompactRange::new());
                    tree_check(&self.tree_roots, &mut self.tree_verified, 0, EMPTY_ROOT)?;
                } else {
                    let anchored = self.retained.filter(|r| {
                        r.log_id == h.log_id
                            && r.seq.checked_add(1) == Some(h.first_seq)
                            && r.hash == h.anchor
                    });
                    let Some(r) = anchored else {
                        return Err(Error::Corrupt {
                            location: loc.seq(h.first_seq),
                            what: format!(
                                "trail starts at segment {} (seq {}) and no retention checkpoint vouches for its anchor: earlier segments are missing",
                                h.segno, h.first_seq
                            ),
                        });
                    };
                    self.anchored_by = Some(r);
                }
                self.log_id = Some(h.log_id);
                self.first_seq = Some(h.first_seq);
            }
            Some(id) => {
                if h.log_id != id {
                    return Err(Error::other_log(loc.at(16), h.log_id, id));
                }
                if h.segno != self.next_segno {
                    return Err(Error::Corrupt {
                        location: loc.at(32).seq(self.next_seq),
                        what: format!("segment number {} where {} was expected (a segment is missing or out of place)", h.segno, self.next_segno),
                    });
                }
                if h.first_seq != self.next_seq {
                    return Err(Error::Corrupt {
                        location: loc.at(40).seq(self.next_seq),
                        what: format!(
                            "segment starts at seq {} where {} was expected",
                            h.first_seq, self.next_seq
                        ),
                    });
                }
                if h.anchor != self.last_hash {
                    return Err(Error::Corrupt {
                        location: loc.at(48).seq(self.next_seq),
                        what: "segment anchor is not the previous segment's last hash".into(),
                    });
                }
            }
        }
        self.next_segno = h.segno.saturating_add(1);
        self.next_seq = h.first_seq;
        self.last_hash = h.anchor;
        cur.header = Some(h);
        let mut scanner = SegmentScanner::new(ScanStart {
            prev_ts: self.last_ts,
            ..ScanStart::after_header(&h, cur.file_len, !cur.is_last)
        });
        if let Some(tree) = self.tree.take() {
            scanner.keep_tree(tree);
        }
        scanner.provide_leaves(std::mem::take(&mut cur.early_leaves));
        cur.scanner = Some(scanner);
        // A checkpoint at the seq just before this segment is checked against its anchor. The
        // first segment present proves nothing by its anchor unless it is segment 0 (the
        // genesis): after retention, its anchor is only what `retained.checkpoint` claims, and
        // the record at that seq is not here.
        let name = cur.name.clone();
        let anchor_proves = self.anchored_by.is_none() || self.segments > 0;
        for cp in &self.checkpoints {
            if !anchor_proves {
                break;
            }
            if cp.log_id == h.log_id && cp.seq.checked_add(1) == Some(h.first_seq) {
                if cp.hash != h.anchor {
                    return Err(Error::CheckpointMismatch {
                        checkpoint: *cp,
                        what: format!("anchor of {name} differs from the checkpoint's hash"),
                    });
                }
                if !self.verified.contains(cp) {
                    self.verified.push(*cp);
                }
            }
        }
        Ok(())
    }

    fn scan(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let cur = self.current.as_mut().expect("in a segment");
        let scanner = cur.scanner.as_mut().expect("header decoded");
        scanner.push(bytes);
        while let Some(r) = scanner.next_record() {
            let seq = r.seq;
            self.records += 1;
            self.next_seq = r.seq + 1;
            self.last_hash = r.hash;
            self.last_ts = r.ts;
            for cp in &self.checkpoints {
                if cp.seq == r.seq && Some(cp.log_id) == self.log_id {
                    if cp.hash != r.hash {
                        return Err(Error::CheckpointMismatch {
                            checkpoint: *cp,
                            what: format!(
                                "record {} in {} at offset {} has hash {}",
                                r.seq, cur.name, r.offset, r.hash
                            ),
                        });
                    }
                    if !self.verified.contains(cp) {
                        self.verified.push(*cp);
                    }
                }
            }
            if self.tree_roots.iter().any(|&(size, _)| size == seq) {
                if let Some(root) = scanner.tree().map(CompactRange::root) {
                    // Borrow ends: `self` is free again.
                    let r = tree_check(&self.tree_roots, &mut self.tree_verified, seq, root);
                    r?;
                }
            }
        }
        Ok(())
    }

    /// Ends the current segment; checks how it ends.
    pub fn end_segment(&mut self) -> Result<(), Error> {
        self.check()?;
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        let r = self.end(cur);
        r.map_err(|e| self.fail(e))
    }

    fn end(&mut self, cur: Current) -> Result<(), Error> {
        let loc = Location::file(&cur.name);
        if let Some(defect) = cur.bad_header {
            self.segments += 1;
            let first = naming::parse_segment_name(&cur.name).unwrap_or(u64::MAX);
            if let (None, Some(cp)) = (cur.data_after_bad_header, self.covering(first)) {
                return Err(covered_damage(
                    loc.at(0).seq(first),
                    &defect.to_string(),
                    &cp,
                ));
            }
            if cur.data_after_bad_header.is_none() && self.live {
                let e = Error::TornTail {
                    location: loc.at(0),
                    len: 0,
                };
                return self.torn(e, cur.is_last);
            }
            return Err(match cur.data_after_bad_header {
                // Nothing but zeros after a header that was never (completely) written: an
                // interrupted segment creation; recovery removes the file, nothing is lost.
                None => Error::TornTail {
                    location: loc.at(0),
                    len: data_len(&cur.header_buf),
                },
                Some(at) => Error::Corrupt {
                    location: loc.at(0),
                    what: format!("{defect}, and data follows it at offset {at}"),
                },
            });
        }
        let Some(h) = cur.header else {
            let what = crate::header::HeaderDefect::Short(cur.header_buf.len()).to_string();
            if cur.is_last {
                // A file shorter than a header: its creation was interrupted (or, beside a
                // live writer, is under way), unless a checkpoint covers its first seq: then
                // records the trail acknowledged were destroyed (FORMAT.md, rule 1).
                let first = naming::parse_segment_name(&cur.name).unwrap_or(u64::MAX);
                if let Some(cp) = self.covering(first) {
                    return Err(covered_damage(loc.at(0).seq(first), &what, &cp));
                }
                // Only bytes up to the last non-zero one are torn data; zeros are no data.
                let e = Error::TornTail {
                    location: loc.at(0),
                    len: data_len(&cur.header_buf),
                };
                return self.torn(e, true);
            }
            return Err(Error::Corrupt {
                location: loc.at(0),
                what,
            });
        };
        let loc = loc.segment(h.segno);
        if cur.fed < cur.file_len {
            return Err(Error::Corrupt {
                location: loc.at(cur.fed),
                what: format!("only {} of {} bytes could be read", cur.fed, cur.file_len),
            });
        }
        let mut summary = cur.scanner.expect("header decoded").finish();
        self.tree = summary.tree.take();
        self.segments += 1;
        match summary.end {
            SegmentEnd::Sealed { trailing_zeros: 0, .. } => Ok(()),
            SegmentEnd::Sealed { .. } => {
                // A seal whose final cut of preallocated space did not reach the disk.
                self.unfinished_seals.push(cur.name.clone());
                Ok(())
            }
            SegmentEnd::Clean | SegmentEnd::ZeroTail { .. } if !cur.is_last => Err(Error::Corrupt {
                location: loc.at(summary.end_offset).seq(summary.next_seq),
                what: "segment is not sealed but later segments follow (cut short, or its footer removed)".into(),
            }),
            SegmentEnd::Clean => Ok(()),
            SegmentEnd::ZeroTail { len, .. } => {
                self.zero_tail = len;
                Ok(())
            }
            SegmentEnd::Torn { offset, data_len, found, .. } => {
                let location = loc.at(offset).seq(summary.next_seq);
                match self.covering(summary.next_seq) {
                    Some(cp) => Err(covered_damage(location, &found, &cp)),
                    None => self.torn(Error::TornTail { location, len: data_len }, cur.is_last),
                }
            }
            SegmentEnd::Corrupt(d) => {
                let mut what = d.kind.to_string();
                if let Some((at, seq)) = d.resumes_at {
                    what.push_str(&format!("; valid records resume at offset {at} (seq {seq})"));
                }
                Err(Error::Corrupt { location: loc.at(d.offset).seq(d.seq), what })
            }
        }
    }

    /// A checkpoint of this trail that covers `seq` (its seq is at or after it): damage there
    /// destroyed records the trail had acknowledged, so it cannot be a torn tail.
    fn covering(&self, seq: u64) -> Option<Checkpoint> {
        self.checkpoints
            .iter()
            .chain(self.retained.iter())
            .filter(|cp| self.log_id.is_none_or(|id| cp.log_id == id) && cp.seq >= seq)
            .max_by_key(|cp| cp.seq)
            .copied()
    }

    /// Ends verification: checks every checkpoint was proven.
    pub fn finish(mut self) -> Result<VerifyReport, Error> {
        self.end_segment()?;
        let Some(log_id) = self.log_id else {
            return Err(Error::Corrupt {
                location: Location::default(),
                what: "no segment: not a trail".into(),
            });
        };
        let last_seq = self.next_seq - 1;
        let first_seq = self.first_seq.unwrap_or(1);
        for &(size, root) in &self.tree_required {
            if self.tree_verified.contains(&(size, root)) {
                continue;
            }
            let what = if self.tree.is_none() {
                format!("records 1..{first_seq} are not present (removed by retention), so the tree cannot be recomputed")
            } else {
                format!("the trail holds {last_seq} records")
            };
            return Err(Error::TreeMismatch { size, root, what });
        }
        for cp in &self.checkpoints {
            if cp.log_id != log_id {
                return Err(Error::CheckpointMismatch {
                    checkpoint: *cp,
                    what: format!(
                        "checkpoint is for log {}, the trail is log {log_id}",
                        cp.log_id
                    ),
                });
            }
            if cp.seq > last_seq {
                return Err(Error::BehindCheckpoint {
                    checkpoint: *cp,
                    last_seq,
                });
            }
            if cp.seq == 0 && cp.hash == genesis(&log_id) && first_seq == 1 {
                continue;
            }
            if !self.verified.contains(cp) {
                let what = if cp.seq < first_seq {
                    format!(
                        "not proven: records 1..={} are not present (removed by retention; the trail starts at seq {first_seq}, its anchor vouched for only by {}), so seq {} cannot be checked",
                        first_seq - 1,
                        naming::RETAINED_CHECKPOINT,
                        cp.seq
                    )
                } else {
                    "genesis hash differs".to_string()
                };
                return Err(Error::CheckpointMismatch {
                    checkpoint: *cp,
                    what,
                });
            }
        }
        Ok(VerifyReport {
            log_id,
            segments: self.segments,
            records: self.records,
            bytes: self.bytes,
            first_seq,
            head: Checkpoint {
                log_id,
                seq: last_seq,
                hash: self.last_hash,
            },
            zero_tail: self.zero_tail,
            checkpoints_verified: self.verified,
            anchored_by: self.anchored_by,
            unfinished_seals: self.unfinished_seals,
            warnings: Vec::new(),
            live_tail: self.live_tail,
            version: self.version.unwrap_or_default(),
            tree: self.tree.as_ref().map(|t| (t.size(), t.root())),
            tree_roots_verified: self.tree_verified,
        })
    }
}

/// Checks the tree roots wanted at `size` against the recomputed `root`.
fn tree_check(
    wanted: &[(u64, Hash)],
    verified: &mut Vec<(u64, Hash)>,
    size: u64,
    root: Hash,
) -> Result<(), Error> {
    for &(want_size, want_root) in wanted {
        if want_size != size {
            continue;
        }
        if want_root != root {
            return Err(Error::TreeMismatch {
                size,
                root: want_root,
                what: format!("the records give root {root} at that size"),
            });
        }
        if !verified.contains(&(size, root)) {
            verified.push((size, root));
        }
    }
    Ok(())
}

/// The length of a torn tail's data in `bytes` read from its start: up to its last non-zero
/// byte (zeros after it are unwritten or preallocated space, not data).
fn data_len(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

/// The verdict on a file that looks like a segment but is not named like one (a renamed or
/// misplaced segment): verification does not read it as part of the trail, so it must not
/// pass silently. The trail fails verification, naming the file.
fn unexplained_segment(name: &str, why: &str) -> Error {
    Error::Corrupt {
        location: Location::file(name),
        what: format!(
            "file looks like a segment ({why}) but its name does not follow the naming rule (20-digit first seq + .evseg): a renamed or misplaced segment is not part of the trail it sits in"
        ),
    }
}

/// The verdict on damage at the end of the last segment (which would otherwise be a torn tail)
/// to records that a checkpoint covers: those records were acknowledged, so losing them is
/// corruption or tampering, never an interrupted write. Verification and recovery both use it,
/// so they agree.
pub(crate) fn covered_damage(location: Location, found: &str, cp: &Checkpoint) -> Error {
    let seq = location.seq.unwrap_or(cp.seq);
    Error::Corrupt {
        location,
        what: format!(
            "{found} at a record a checkpoint covers (checkpoint at seq {}; records {seq}..={} were acknowledged): damaged or removed records, not a torn tail",
            cp.seq, cp.seq
        ),
    }
}
