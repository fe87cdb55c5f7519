//! Reading a trail from another task or process while it is being written: iterate from a seq,
//! follow new records as they are appended (`tail -f`), and pick up new segments as they appear
//! (the segment list is refreshed whenever a seq is not found).
//!
//! A reader checks every frame's CRC, seq continuity and — from the start of a segment — the
//! chain. It never writes. Bytes that are not (yet) a complete record at the end of the last
//! segment are treated as "nothing more yet": the writer may be in the middle of a write.
//! Damage anywhere else is an error naming its place. Full verification is `evident verify`.

use crate::error::{Error, Result};
use crate::safe_fs::TrailDir;
use evident_core::footer::Footer;
use evident_core::frame::{self, Frame, KIND_ENTRY};
use evident_core::hash::{chain, Hash};
use evident_core::header::{HeaderDefect, SegmentHeader, HEADER_LEN};
use evident_core::{naming, Location, LogId};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp (nanoseconds since the Unix epoch).
    pub ts: u64,
    /// Chain hash after this record.
    pub hash: Hash,
    /// The payload.
    pub payload: Vec<u8>,
}

fn corrupt(file: &str, offset: u64, seq: u64, what: String) -> Error {
    Error::Trail(evident_core::Error::Corrupt {
        location: Location::file(file).at(offset).seq(seq),
        what,
    })
}

/// A reader over a trail directory.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    /// The directory handle every file is opened through (never through a symlink).
    handle: TrailDir,
    /// The log id of the first segment read: every later segment must carry the same.
    log_id: Option<LogId>,
    segments: Vec<(u64, String)>,
    cur: Option<Cursor>,
    /// Records before this seq are skipped (the target of the last seek, which may lie beyond
    /// what is written yet).
    skip_before: u64,
}

#[derive(Debug)]
struct Cursor {
    index: usize,
    file: File,
    name: String,
    offset: u64,
    next_seq: u64,
    prev_hash: Option<Hash>,
    /// The segment's format version (it decides the leaf hash).
    version: evident_core::header::FormatVersion,
    buf: Vec<u8>,
    buf_offset: u64,
    sealed_done: bool,
}

impl Reader {
    /// A reader of the trail in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader> {
        let path = dir.as_ref().to_path_buf();
        let handle = TrailDir::open(&path, false).map_err(|error| Error::Io {
            path: path.clone(),
            error,
        })?;
        let mut r = Reader {
            dir: path,
            handle,
            log_id: None,
            segments: Vec::new(),
            cur: None,
            skip_before: 0,
        };
        r.refresh()?;
        Ok(r)
    }

    /// Re-lists the segment files.
    pub fn refresh(&mut self) -> Result<()> {
        // A non-regular entry with a trail name (a symlinked segment, a FIFO) is an error
        // naming it: readers see exactly the files `verify` checks.
        let entries = self.handle.entries().map_err(|error| Error::Io {
            path: self.dir.clone(),
            error,
        })?;
        let mut segs = Vec::new();
        for e in entries {
            if let Some(first) = naming::parse_segment_name(&e.name) {
                segs.push((first, e.name));
            }
        }
        segs.sort();
        self.segments = segs;
        Ok(())
    }

    /// The log id of the segments read so far (`None` before the first segment is read).
    pub fn log_id(&self) -> Option<LogId> {
        self.log_id
    }

    /// Segment files known, (first seq, name), oldest first.
    pub fn segments(&self) -> &[(u64, String)] {
        &self.segments
    }

    /// Index of the segment that would hold `seq` (binary search over first seqs).
    fn locate(&self, seq: u64) -> Option<usize> {
        let i = self.segments.partition_point(|(first, _)| *first <= seq);
        i.checked_sub(1)
    }

    /// Positions the reader so that the next record returned is `seq` (or the first record
    /// after it that exists). Uses the sealed segment's sparse index to skip ahead.
    pub fn seek(&mut self, seq: u64) -> Result<()> {
        let seq = seq.max(1);
        self.skip_before = seq;
        let mut index = self.locate(seq);
        if index.is_none_or(|i| i + 1 == self.segments.len()) {
            self.refresh()?;
            index = self.locate(seq);
        }
        let index = index.unwrap_or(0);
        if self.segments.is_empty() {
            self.cur = None;
            return Ok(());
        }
        let mut cur = match self.try_open_segment(index)? {
            Some(cur) => cur,
            // The writer is creating this segment: start from the end of the previous one.
            None if index > 0 => self.open_segment(index - 1)?,
            None => {
                self.cur = None;
                return Ok(());
            }
        };
        if let Some(entry) = self.footer_of(&cur)?.and_then(|f| f.seek_seq(seq).copied()) {
            if entry.seq > cur.next_seq {
                cur.offset = entry.offset;
                cur.next_seq = entry.seq;
                cur.prev_hash = None; // the chain is picked up from the first record read
            }
        }
        self.cur = Some(cur);
        while let Some(r) = self.peek_seq()? {
            if r >= seq {
                break;
            }
            if self.next_record()?.is_none() {
                break; // `seq` is not written yet; later records before it are skipped then
            }
        }
        Ok(())
    }

    fn peek_seq(&mut self) -> Result<Option<u64>> {
        Ok(self.cur.as_ref().map(|c| c.next_seq))
    }

    fn footer_of(&self, cur: &Cursor) -> Result<Option<Footer>> {
        let len = cur
            .file
            .metadata()
            .map_err(|error| Error::Io {
                path: self.dir.join(&cur.name),
                error,
            })?
            .len();
        if len < (HEADER_LEN + evident_core::footer::TRAILER_LEN) as u64 {
            return Ok(None);
        }
        let mut t = [0u8; 16];
        if cur.file.read_exact_at(&mut t, len - 16).is_err() {
            return Ok(None);
        }
        let Ok(offset) = Footer::trailer_offset(&t, len) else {
            return Ok(None);
        };
        let mut buf = vec![0u8; (len - offset) as usize];
        if cur.file.read_exact_at(&mut buf, offset).is_err() {
            return Ok(None);
        }
        Ok(Footer::decode(&buf).ok())
    }

    fn open_segment(&mut self, index: usize) -> Result<Cursor> {
        self.try_open_segment(index)?.ok_or_else(|| {
            let name = &self.segments[index].1;
            corrupt(name, 0, 0, "segment header not written".into())
        })
    }

    /// Opens segment `index`; `None` when it is the last segment and its header is not
    /// (completely) written yet: the writer is creating it, so there is nothing in it yet.
    fn try_open_segment(&mut self, index: usize) -> Result<Option<Cursor>> {
        let (named_first, name) = self.segments[index].clone();
        let name = &name;
        let path = self.dir.join(name);
        let file = self
            .handle
            .open_file(name, false)
            .map_err(|error| Error::Io {
                path: path.clone(),
                error,
            })?;
        let mut hb = [0u8; HEADER_LEN];
        let mut got = 0;
        while got < HEADER_LEN {
            match file.read_at(&mut hb[got..], got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(Error::Io { path, error }),
            }
        }
        let is_last = index + 1 == self.segments.len();
        let h = match SegmentHeader::decode(&hb[..got]) {
            Ok(h) => h,
            Err(HeaderDefect::Short(_) | HeaderDefect::Zero) if is_last => return Ok(None),
            Err(d) => return Err(corrupt(name, 0, 0, d.to_string())),
        };
        // The same header checks as verify and open: the name's first seq and the log id.
        if h.first_seq != named_first {
            return Err(corrupt(
                name,
                0,
                named_first,
                format!(
                    "segment header says first seq {} but the file is named for {named_first}",
                    h.first_seq
                ),
            ));
        }
        match self.log_id {
            Some(id) if id != h.log_id => {
                let location = Location::file(name).at(0).seq(h.first_seq);
                return Err(Error::Trail(evident_core::Error::other_log(
                    location, h.log_id, id,
                )));
            }
            _ => self.log_id = Some(h.log_id),
        }
        Ok(Some(Cursor {
            index,
            file,
            name: name.clone(),
            offset: HEADER_LEN as u64,
            next_seq: h.first_seq,
            prev_hash: Some(h.anchor),
            version: h.version,
            buf: Vec::new(),
            buf_offset: HEADER_LEN as u64,
            sealed_done: false,
        }))
    }

    /// The next record if one is available now; `None` when the reader has reached the end of
    /// what is written (call again later to follow the trail).
    pub fn next_available(&mut self) -> Result<Option<Record>> {
        loop {
            match self.next_record()? {
                Some(r) if r.seq < self.skip_before => continue,
                other => return Ok(other),
            }
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>> {
        if self.cur.is_none() {
            self.refresh()?;
            if self.segments.is_empty() {
                return Ok(None);
            }
            match self.try_open_segment(0)? {
                Some(cur) => self.cur = Some(cur),
                None => return Ok(None), // the first segment is being created
            }
        }
        loop {
            let cur = self.cur.as_mut().expect("set above");
            match read_one(cur)? {
                Step::Record(r) => return Ok(Some(r)),
                Step::SegmentEnd => {
                    let next = cur.index + 1;
                    let seq = cur.next_seq;
                    if next >= self.segments.len() {
                        self.refresh()?;
                    }
                    if next >= self.segments.len() {
                        return Ok(None);
                    }
                    let Some(c) = self.try_open_segment(next)? else {
                        return Ok(None); // being created: its header comes next
                    };
                    if c.next_seq != seq {
                        return Err(corrupt(
                            &c.name,
                            40,
                            seq,
                            format!(
                                "segment starts at seq {} where {seq} was expected",
                                c.next_seq
                            ),
                        ));
                    }
                    self.cur = Some(c);
                }
                Step::NothingYet => {
                    // A newer segment means this one will not grow: what is left is damage.
                    let (index, name, offset, seq) =
                        (cur.index, cur.name.clone(), cur.offset, cur.next_seq);
                    if index + 1 >= self.segments.len() {
                        self.refresh()?;
                    }
                    if index + 1 < self.segments.len() {
                        let again = read_one(self.cur.as_mut().expect("set"))?;
                        match again {
                            Step::Record(r) => return Ok(Some(r)),
                            Step::SegmentEnd => continue,
                            Step::NothingYet => {
                                return Err(corrupt(
                                    &name,
                                    offset,
                                    seq,
                                    "segment ends without a footer but a later segment exists"
                                        .into(),
                                ))
                            }
                        }
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// The next record, waiting for the writer when the end is reached (`tail -f`). Polls every
    /// `poll` interval.
    pub async fn next_following(&mut self, poll: Duration) -> Result<Record> {
        loop {
            if let Some(r) = self.next_available()? {
                return Ok(r);
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// The record with this seq, if the trail has it.
    pub fn get(&mut self, seq: u64) -> Result<Option<Record>> {
        self.seek(seq)?;
        match self.next_available()? {
            Some(r) if r.seq == seq => Ok(Some(r)),
            _ => Ok(None),
        }
    }
}

enum Step {
    Record(Record),
    SegmentEnd,
    NothingYet,
}

fn read_one(cur: &mut Cursor) -> Result<Step> {
    if cur.sealed_done {
        return Ok(Step::SegmentEnd);
    }
    loop {
        let start = (cur.offset - cur.buf_offset) as usize;
        match frame::decode(&cur.buf[start.min(cur.buf.len())..]) {
            Frame::Entry(e) => {
                if e.seq != cur.next_seq {
                    return Err(corrupt(
                        &cur.name,
                        cur.offset,
                        cur.next_seq,
                        format!("found seq {}", e.seq),
                    ));
                }
                if let Some(prev) = cur.prev_hash {
                    if chain(&prev, &cur.version.leaf(KIND_ENTRY, e.seq, e.ts, e.payload)) != e.hash
                    {
                        return Err(corrupt(
                            &cur.name,
                            cur.offset,
                            e.seq,
                            "chain hash mismatch".into(),
                        ));
                    }
                }
                let rec = Record {
                    seq: e.seq,
                    ts: e.ts,
                    hash: e.hash,
                    payload: e.payload.to_vec(),
                };
                cur.prev_hash = Some(e.hash);
                cur.next_seq += 1;
                cur.offset += e.frame_len as u64;
                return Ok(Step::Record(rec));
            }
            Frame::Footer { .. } => {
                cur.sealed_done = true;
                return Ok(Step::SegmentEnd);
            }
            Frame::Incomplete { needed } => {
                // Read more from the file; if nothing more is there, the writer has not got here.
                let want = needed.unwrap_or(8).max(64 * 1024);
                if !fill(cur, want)? {
                    return Ok(Step::NothingYet);
                }
            }
            Frame::Zero | Frame::Bad { .. } => {
                // Re-read from disk once: the bytes may have been caught mid-write. The whole
                // frame is re-read (not just 64 KiB): re-reading less of a larger frame decodes
                // as "incomplete", reads on, finds it bad again and would loop forever.
                cur.buf.clear();
                cur.buf_offset = cur.offset;
                let mut want = 64 * 1024;
                loop {
                    if !fill(cur, want)? {
                        return Ok(Step::NothingYet);
                    }
                    match frame::decode(&cur.buf) {
                        Frame::Zero | Frame::Bad { .. } => return Ok(Step::NothingYet),
                        // `needed` is bounded by the format's largest frame.
                        Frame::Incomplete { needed } => {
                            want = needed.unwrap_or(8).saturating_sub(cur.buf.len()).max(8)
                        }
                        _ => break,
                    }
                }
            }
        }
    }
}

/// Reads up to `want` more bytes after the buffer; false when the file has nothing more.
fn fill(cur: &mut Cursor, want: usize) -> Result<bool> {
    // Drop consumed bytes.
    let consumed = (cur.offset - cur.buf_offset) as usize;
    if consumed > 0 {
        cur.buf.drain(..consumed.min(cur.buf.len()));
        cur.buf_offset = cur.offset;
    }
    let at = cur.buf_offset + cur.buf.len() as u64;
    let old = cur.buf.len();
    cur.buf.resize(old + want, 0);
    let mut got = 0;
    while got < want {
        match cur.file.read_at(&mut cur.buf[old + got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                return Err(Error::Io {
                    path: PathBuf::from(&cur.name),
                    error,
                })
            }
        }
    }
    cur.buf.truncate(old + got);
    Ok(got > 0)
}
