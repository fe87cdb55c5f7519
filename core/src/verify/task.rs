//! [`VerifyTask`]: verification of a trail directory driven through [`IoOp`] requests: the
//! listing, the checkpoints, the probe of unknown files for the segment magic, and the
//! segments read in chunks into a [`Verifier`], started over (a bounded number of times)
//! when a live writer changes files under it.

use super::*;

enum TaskStage {
    List,
    /// Reading the first bytes of a file whose name is not a trail name: does it look like a
    /// segment (the segment magic)?
    Probe(usize),
    ReadCheckpoint(&'static str),
    Segment {
        index: usize,
        offset: u64,
    },
    Done,
}

/// Verification of a trail directory, driven through [`IoOp`] requests: call
/// [`VerifyTask::poll_io`], perform the request, feed [`VerifyTask::handle_io`], until
/// [`VerifyTask::result`] returns `Some`.
pub struct VerifyTask {
    stage: TaskStage,
    read_chunk: u32,
    extra: Vec<Checkpoint>,
    /// Tree roots to prove, (size, root).
    tree_roots: Vec<(u64, Hash)>,
    /// The tree root `head.checkpoint` states, (its seq, root).
    head_root: Option<(u64, Hash)>,
    segments: Vec<(String, u64)>,
    /// Files with names the trail does not use, to be probed for the segment magic.
    unknown: Vec<String>,
    has_head: bool,
    has_retained: bool,
    head: Option<Checkpoint>,
    use_head: bool,
    retained: Option<Checkpoint>,
    verifier: Option<Verifier>,
    result: Option<Result<VerifyReport, Error>>,
    progress: u64,
    total: u64,
    /// A writer is live (see [`VerifyTask::set_live_writer`]).
    live: bool,
    /// Times the verification started over after a live writer changed files under it.
    restarts: u32,
}

/// Most restarts beside a live writer before a vanished or shrunk file is reported as is.
const MAX_LIVE_RESTARTS: u32 = 16;

impl VerifyTask {
    /// Verifies the trail against `checkpoints` (in addition to its own `head.checkpoint`).
    pub fn new(checkpoints: Vec<Checkpoint>, read_chunk: u32) -> VerifyTask {
        VerifyTask::with_head(checkpoints, read_chunk, true)
    }

    /// Like [`VerifyTask::new`]; `use_head` false ignores the trail's own `head.checkpoint`
    /// (repair uses it to find the first physical damage rather than the checkpoint's verdict).
    pub fn with_head(checkpoints: Vec<Checkpoint>, read_chunk: u32, use_head: bool) -> VerifyTask {
        VerifyTask {
            stage: TaskStage::List,
            read_chunk: read_chunk.max(4096),
            extra: checkpoints,
            tree_roots: Vec::new(),
            head_root: None,
            segments: Vec::new(),
            unknown: Vec::new(),
            has_head: false,
            has_retained: false,
            head: None,
            use_head,
            retained: None,
            verifier: None,
            result: None,
            progress: 0,
            total: 0,
            live: false,
            restarts: 0,
        }
    }

    /// Tells the task that a writer holds the trail while it verifies. Then the last segment's
    /// incomplete tail is the writer's in-flight write ([`VerifyReport::live_tail`], not
    /// damage), and a segment that vanishes or shrinks under the reads (a rotation sealing the
    /// preallocated segment, for example) makes the verification start over from a new listing
    /// (a bounded number of times) instead of being reported: the reader checks a consistent
    /// prefix of what the writer made durable.
    pub fn set_live_writer(&mut self, live: bool) {
        self.live = live;
    }

    /// Also proves the tree recomputed from the records has `root` at `size` (see
    /// [`Verifier::check_tree_root`]). Call before the first [`VerifyTask::poll_io`].
    pub fn check_tree_root(&mut self, size: u64, root: Hash) {
        self.tree_roots.push((size, root));
    }

    /// Starts over beside a live writer, when allowed: true if it did.
    fn restart(&mut self) -> bool {
        if !self.live || self.restarts >= MAX_LIVE_RESTARTS {
            return false;
        }
        self.restarts += 1;
        self.segments.clear();
        self.unknown.clear();
        self.has_head = false;
        self.has_retained = false;
        self.head = None;
        self.head_root = None;
        self.retained = None;
        self.verifier = None;
        self.progress = 0;
        self.total = 0;
        self.stage = TaskStage::List;
        true
    }

    /// The next request, or `None` once the result is known.
    pub fn poll_io(&mut self) -> Option<IoOp> {
        match self.stage {
            TaskStage::List => Some(IoOp::List),
            TaskStage::Probe(i) => Some(IoOp::Read {
                file: self.unknown[i].clone(),
                offset: 0,
                len: 8,
            }),
            TaskStage::ReadCheckpoint(name) => Some(IoOp::Read {
                file: name.into(),
                offset: 0,
                len: 4096,
            }),
            TaskStage::Segment { index, offset } => {
                let (name, len) = &self.segments[index];
                let want = (len - offset).min(self.read_chunk as u64) as u32;
                Some(IoOp::Read {
                    file: name.clone(),
                    offset,
                    len: want,
                })
            }
            TaskStage::Done => None,
        }
    }

    /// Hands over leaf hashes computed ahead for the bytes of the read request just performed
    /// (see [`crate::leaves`]); call it before [`VerifyTask::handle_io`] with that read's
    /// result. They save work and never change a verdict.
    pub fn provide_leaves(&mut self, leaves: Vec<PrecomputedLeaf>) {
        if let (TaskStage::Segment { .. }, Some(v)) = (&self.stage, self.verifier.as_mut()) {
            v.provide_leaves(leaves);
        }
    }

    /// (bytes read so far, total bytes of segments), for a progress bar.
    pub fn progress(&self) -> (u64, u64) {
        (self.progress, self.total)
    }

    /// The verdict, once known.
    pub fn result(&self) -> Option<&Result<VerifyReport, Error>> {
        self.result.as_ref()
    }

    /// Takes the verdict.
    pub fn take_result(&mut self) -> Option<Result<VerifyReport, Error>> {
        self.result.take()
    }

    fn done(&mut self, mut r: Result<VerifyReport, Error>) {
        if let Ok(report) = r.as_mut() {
            if report.segments >= 2 && self.head.is_none() {
                report.warnings.push(format!(
                    "no {}: the trail has {} segments but nothing on this host vouches for its tail (records cut from the end would go unnoticed; verify against a checkpoint kept elsewhere)",
                    naming::HEAD_CHECKPOINT,
                    report.segments
                ));
            }
        }
        self.result = Some(r);
        self.stage = TaskStage::Done;
    }

    /// Feeds the result of the last request.
    pub fn handle_io(&mut self, op: &IoOp, result: IoResult) {
        let done = match result {
            Ok(d) => d,
            Err(e) => {
                if let TaskStage::ReadCheckpoint(_) = self.stage {
                    if e.kind == IoErrorKind::NotFound {
                        return self.after_checkpoint_read(None);
                    }
                }
                if let TaskStage::Probe(i) = self.stage {
                    if e.kind == IoErrorKind::NotFound {
                        return self.probe(i + 1); // gone since the listing: nothing to explain
                    }
                }
                // Beside a live writer a file may vanish between the listing and its use (a
                // checkpoint's temporary file renamed over `head.checkpoint`): list again.
                if matches!(self.stage, TaskStage::Segment { .. } | TaskStage::List)
                    && e.kind == IoErrorKind::NotFound
                    && self.restart()
                {
                    return;
                }
                let location = op.file().map(Location::file).unwrap_or_default();
                return self.done(Err(Error::Io {
                    op: op.name(),
                    location,
                    error: e,
                }));
            }
        };
        match (&self.stage, done) {
            (TaskStage::List, IoDone::Listed(entries)) => {
                for e in entries {
                    if e.name == naming::NO_MERKLE_TREE {
                        return self.done(Err(crate::error::no_merkle_tree()));
                    }
                    if naming::parse_segment_name(&e.name).is_some() {
                        self.segments.push((e.name, e.len));
                    } else if e.name == naming::HEAD_CHECKPOINT {
                        self.has_head = true;
                    } else if e.name == naming::RETAINED_CHECKPOINT {
                        self.has_retained = true;
                    } else if naming::is_segment_like_name(&e.name) {
                        return self
                            .done(Err(unexplained_segment(&e.name, "its name ends in .evseg")));
                    } else if e.len >= 8 && !naming::is_known_name(&e.name) {
                        self.unknown.push(e.name);
                    }
                }
                self.segments.sort();
                self.unknown.sort();
                self.total = self.segments.iter().map(|s| s.1).sum();
                self.probe(0);
            }
            (&TaskStage::Probe(i), IoDone::Read(data)) => {
                if data.starts_with(&crate::header::SEGMENT_MAGIC) {
                    let name = self.unknown[i].clone();
                    return self.done(Err(unexplained_segment(
                        &name,
                        "it starts with the segment magic",
                    )));
                }
                self.probe(i + 1);
            }
            (TaskStage::ReadCheckpoint(_), IoDone::Read(data)) => {
                self.after_checkpoint_read(Some(data))
            }
            (&TaskStage::Segment { index, offset }, IoDone::Read(data)) => {
                self.on_segment_chunk(index, offset, data)
            }
            _ => {}
        }
    }

    /// Probes the `i`-th unknown file, or goes on to the checkpoints when none is left.
    fn probe(&mut self, i: usize) {
        if i < self.unknown.len() {
            self.stage = TaskStage::Probe(i);
        } else {
            self.next_checkpoint_stage();
        }
    }

    fn next_checkpoint_stage(&mut self) {
        if self.has_head && self.head.is_none() {
            self.stage = TaskStage::ReadCheckpoint(naming::HEAD_CHECKPOINT);
        } else if self.has_retained && self.retained.is_none() {
            self.stage = TaskStage::ReadCheckpoint(naming::RETAINED_CHECKPOINT);
        } else {
            self.start_segments();
        }
    }

    fn after_checkpoint_read(&mut self, data: Option<Vec<u8>>) {
        let TaskStage::ReadCheckpoint(name) = self.stage else {
            return;
        };
        let parsed = match data {
            None => None,
            Some(d) => match Checkpoint::parse_own_file(&String::from_utf8_lossy(&d)) {
                Ok((cp, root)) => {
                    if let Some(root) = root.filter(|_| name == naming::HEAD_CHECKPOINT) {
                        self.head_root = Some((cp.seq, root));
                    }
                    Some(cp)
                }
                Err(e) => {
                    return self.done(Err(Error::Corrupt {
                        location: Location::file(name),
                        what: e.to_string(),
                    }));
                }
            },
        };
        if name == naming::HEAD_CHECKPOINT {
            self.has_head = parsed.is_some();
            self.head = parsed;
        } else {
            self.has_retained = parsed.is_some();
            self.retained = parsed;
        }
        self.next_checkpoint_stage();
    }

    fn start_segments(&mut self) {
        let mut cps = self.extra.clone();
        if self.use_head {
            cps.extend(self.head);
        }
        let head_root = self
            .head_root
            .filter(|_| self.use_head && self.head.is_some());
        let mut v = Verifier::new(cps, self.retained);
        v.set_live_writer(self.live);
        for &(size, root) in &self.tree_roots {
            v.check_tree_root(size, root);
        }
        if let Some((size, root)) = head_root {
            v.check_tree_root_if_known(size, root);
        }
        self.verifier = Some(v);
        if self.segments.is_empty() {
            let v = self.verifier.take().expect("just made");
            return self.done(v.finish());
        }
        self.begin(0);
    }

    fn begin(&mut self, index: usize) {
        let (name, len) = self.segments[index].clone();
        let last = index + 1 == self.segments.len();
        let v = self.verifier.as_mut().expect("verifying");
        if let Err(e) = v.begin_segment(&name, len, last) {
            return self.done(Err(e));
        }
        if len == 0 {
            return self.on_segment_chunk(index, 0, Vec::new());
        }
        self.stage = TaskStage::Segment { index, offset: 0 };
    }

    fn on_segment_chunk(&mut self, index: usize, offset: u64, data: Vec<u8>) {
        let (name, len) = self.segments[index].clone();
        let v = self.verifier.as_mut().expect("verifying");
        self.progress += data.len() as u64;
        if let Err(e) = v.push(&data) {
            return self.done(Err(e));
        }
        let next = offset + data.len() as u64;
        if next < len && !data.is_empty() {
            self.stage = TaskStage::Segment {
                index,
                offset: next,
            };
            return;
        }
        if next < len && self.live {
            v.segment_shrank();
        } else if next < len {
            let e = Error::Corrupt {
                location: Location::file(name).at(next),
                what: "file shorter than listed".into(),
            };
            return self.done(Err(e));
        }
        if let Err(e) = v.end_segment() {
            return self.done(Err(e));
        }
        if index + 1 < self.segments.len() {
            self.begin(index + 1);
        } else {
            let v = self.verifier.take().expect("verifying");
            self.done(v.finish());
        }
    }
}
