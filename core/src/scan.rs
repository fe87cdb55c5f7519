//! The incremental segment scanner: fed a segment's bytes in chunks of any size, it checks every
//! frame, the seq sequence, timestamps and the hash chain, yields each record, and classifies how
//! the segment ends. Recovery, verification and readers all use it; it never needs the whole file
//! in memory (at most one frame, 16 MiB, plus the chunk being fed).
//!
//! How the end of a segment is classified, when the first bad spot is at offset D:
//! - a CRC-valid entry anywhere at or after D whose seq continues the segment (seq ≥ the one
//!   expected at D) means valid data follows damage: [`SegmentEnd::Corrupt`]. This is also
//!   the verdict for a CRC-valid record at D whose link or seq is wrong (an edit, a deletion,
//!   a reorder), so an edited last record is never mistaken for a torn one. A valid footer at
//!   or after D that seals records from D on counts as valid data too, and a CRC-valid footer
//!   that does not decode (or does not match the records) is corruption as well;
//! - otherwise, bytes [D, EOF) that are all zero are a [`SegmentEnd::ZeroTail`] (preallocated
//!   space, or a zero-filled tail): nothing was lost;
//! - otherwise they are a [`SegmentEnd::Torn`] tail: an interrupted write, stale bytes, or
//!   damage to the last record with nothing valid after it.
//!
//! In strict mode (sealed segments, where nothing may follow the footer) any bad spot is
//! [`SegmentEnd::Corrupt`].

use crate::crc_range::{self, PrefixCrcs};
use crate::footer::{Footer, IndexBuilder};
use crate::frame::{self, FrameDefect, ALIGN, KIND_ENTRY, KIND_FOOTER, RECORD_HEADER_LEN};
use crate::hash::Hash;
use crate::header::{FormatVersion, SegmentHeader, HEADER_LEN};
use crate::leaves::PrecomputedLeaf;
use crate::tree::{leaf_node, CompactRange};
use std::collections::VecDeque;

/// What the scanner knows before the first record of the segment.
#[derive(Debug, Clone, Copy)]
pub struct ScanStart {
    /// File offset of the first byte that will be fed (normally the header length).
    pub offset: u64,
    /// Total length of the file; bytes past it are never expected.
    pub file_len: u64,
    /// Seq the first record must carry.
    pub seq: u64,
    /// Chain value before the first record, or `None` to skip chain checks (a reader that
    /// starts in the middle of a segment). The chain is checked from the first record on, and a
    /// footer sealing records before `seq` is checked only against the records seen (their last
    /// seq, hash and timestamp), not against a count and index of records never read.
    pub prev_hash: Option<Hash>,
    /// Timestamp the first record must not precede.
    pub prev_ts: u64,
    /// Sparse index stride (to rebuild the footer's index).
    pub index_stride: u32,
    /// Sealed-segment mode: any damage is corruption, nothing is a torn tail.
    pub strict: bool,
    /// The segment's format version (from its header): it decides the leaf hash and whether
    /// a footer carries the tree edge.
    pub version: FormatVersion,
}

impl ScanStart {
    /// A scan of a whole segment whose header is `h`: from the first byte after the header,
    /// chained from the segment's anchor, with the trail's index stride; no timestamp bound
    /// (`prev_ts` 0: a reader that knows the previous segment's last timestamp sets it).
    pub fn after_header(h: &SegmentHeader, file_len: u64, strict: bool) -> ScanStart {
        ScanStart {
            offset: HEADER_LEN as u64,
            file_len,
            seq: h.first_seq,
            prev_hash: Some(h.anchor),
            prev_ts: 0,
            index_stride: crate::config::INDEX_STRIDE,
            strict,
            version: h.version,
        }
    }
}

/// One record that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedRecord<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp.
    pub ts: u64,
    /// Chain hash after this record.
    pub hash: Hash,
    /// File offset of the frame.
    pub offset: u64,
    /// Frame length on disk.
    pub frame_len: u32,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// The record's leaf hash, when the scanner computed it (it does when it checks the chain
    /// or keeps the tree; a reader started mid-segment without a chain value does not).
    pub leaf: Option<Hash>,
}

/// What is wrong at a corrupt spot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamageKind {
    /// The frame itself is damaged (CRC, kind, length, padding) and valid records follow it.
    Frame(FrameDefect),
    /// A frame that runs past the end of the file, with valid records after its start.
    Truncated,
    /// Zero bytes where a record should be, with valid records after them.
    Hole,
    /// A CRC-valid record with the wrong seq (a deletion, duplication or reorder).
    SeqMismatch {
        /// Seq expected here.
        expected: u64,
        /// Seq found.
        found: u64,
    },
    /// A CRC-valid record whose stored chain hash is not the hash of its content and
    /// predecessor: its content was edited, or it belongs to another chain.
    ChainMismatch,
    /// A record carrying seq `u64::MAX`: the sequence would wrap after it, and no writer ever
    /// assigns it.
    SeqOverflow,
    /// A record whose timestamp is before its predecessor's.
    TimestampRegression {
        /// Previous record's timestamp.
        prev: u64,
        /// This record's timestamp.
        found: u64,
    },
    /// The footer frame or its trailer is damaged.
    Footer(crate::footer::FooterDefect),
    /// The footer disagrees with the records it seals.
    FooterMismatch(&'static str),
    /// Non-zero bytes after a sealed segment's footer.
    DataAfterFooter,
}

impl std::fmt::Display for DamageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DamageKind::Frame(d) => write!(f, "damaged frame: {d}"),
            DamageKind::Truncated => write!(f, "frame runs past the end of the file"),
            DamageKind::Hole => write!(f, "zero-filled hole where records should be"),
            DamageKind::SeqMismatch { expected, found } => {
                write!(f, "seq {found} where {expected} was expected (record deleted, duplicated or reordered)")
            }
            DamageKind::ChainMismatch => write!(
                f,
                "chain hash mismatch (record edited or from another trail)"
            ),
            DamageKind::SeqOverflow => write!(
                f,
                "seq {} is past the end of the seq space (the sequence would wrap)",
                u64::MAX
            ),
            DamageKind::TimestampRegression { prev, found } => {
                write!(f, "timestamp {found} precedes the previous record's {prev}")
            }
            DamageKind::Footer(d) => write!(f, "{d}"),
            DamageKind::FooterMismatch(what) => {
                write!(f, "footer does not match the records: {what}")
            }
            DamageKind::DataAfterFooter => write!(f, "data after the footer of a sealed segment"),
        }
    }
}

/// A corrupt spot: where, which seq was expected there, what is wrong, and where valid data
/// resumes after it (when it does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// File offset of the first bad byte's frame.
    pub offset: u64,
    /// Seq of the record that should have been at `offset`.
    pub seq: u64,
    /// What is wrong.
    pub kind: DamageKind,
    /// Offset and seq of the first valid record found after the damage, if any. When the
    /// valid data found is a footer sealing records after the damage, its offset and the seq
    /// that would follow its last record.
    pub resumes_at: Option<(u64, u64)>,
}

/// How a segment ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentEnd {
    /// The records end exactly at the end of the file.
    Clean,
    /// Zero bytes from `offset` to the end of the file (preallocated or zero-filled).
    ZeroTail {
        /// Where the zeros start (the end of the last record).
        offset: u64,
        /// How many zero bytes.
        len: u64,
    },
    /// A valid footer that matches the records. `trailing_zeros` counts zero bytes after it
    /// (a seal interrupted before the file was cut to size).
    Sealed {
        /// The footer.
        footer: Footer,
        /// Zero bytes after the footer.
        trailing_zeros: u64,
    },
    /// An incomplete or damaged tail with nothing valid after it: safe to cut at `offset`.
    Torn {
        /// Where the tail starts (the end of the last good record).
        offset: u64,
        /// Bytes from `offset` to the end of the file.
        len: u64,
        /// Bytes of data torn: from `offset` to the last non-zero byte (preallocated zeros
        /// after the data are not counted).
        data_len: u64,
        /// What was found at `offset`.
        found: String,
    },
    /// Corruption that must not be cut away silently.
    Corrupt(Damage),
}

/// Totals of what the scanner accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    /// Records accepted.
    pub records: u64,
    /// Seq the next record would carry.
    pub next_seq: u64,
    /// Chain value after the last accepted record (the start value when none).
    pub last_hash: Hash,
    /// Timestamp of the first accepted record.
    pub first_ts: Option<u64>,
    /// Timestamp of the last accepted record (the start value when none).
    pub last_ts: u64,
    /// File offset just past the last accepted record.
    pub end_offset: u64,
    /// Sparse index rebuilt from the accepted records.
    pub index: IndexBuilder,
    /// How the segment ends.
    pub end: SegmentEnd,
    /// Bytes CRC-hashed by the search for valid records after damage (each byte of the
    /// searched range once, plus the frames of CRC-valid candidates): the search's work, linear
    /// in the bytes searched.
    pub tail_search_hashed: u64,
    /// The tree after the last accepted record, when one was kept
    /// ([`SegmentScanner::keep_tree`]).
    pub tree: Option<CompactRange>,
}

#[derive(Debug)]
enum State {
    Records,
    /// Looking past the first bad spot for valid data, and whether the rest is all zero.
    Tail {
        damage_offset: u64,
        cause: Cause,
        probe: u64,
        all_zero: bool,
        /// End of the last non-zero byte seen after the damage.
        data_end: u64,
    },
    /// Footer accepted at `offset`; the rest must be zero.
    AfterFooter {
        footer: Footer,
        from: u64,
        all_zero: bool,
    },
    Done(SegmentEnd),
}

#[derive(Debug, Clone)]
enum Cause {
    Frame(FrameDefect),
    Truncated,
    Zero,
    StaleRecord(u64),
}

impl Cause {
    fn describe(&self) -> String {
        match self {
            Cause::Frame(d) => d.to_string(),
            Cause::Truncated => "incomplete record".to_string(),
            Cause::Zero => "zero bytes then non-zero bytes".to_string(),
            Cause::StaleRecord(seq) => format!("stale record with seq {seq}"),
        }
    }

    fn into_damage_kind(self) -> DamageKind {
        match self {
            Cause::Frame(d) => DamageKind::Frame(d),
            Cause::Truncated => DamageKind::Truncated,
            Cause::Zero => DamageKind::Hole,
            Cause::StaleRecord(found) => DamageKind::SeqMismatch { expected: 0, found },
        }
    }
}

/// The incremental scanner of one segment. Push bytes with [`SegmentScanner::push`], drain
/// records with [`SegmentScanner::next_record`] until it returns `None`, repeat, then call
/// [`SegmentScanner::finish`].
#[derive(Debug)]
pub struct SegmentScanner {
    start: ScanStart,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    /// Index into `buf` of the next unexamined byte.
    cursor: usize,
    state: State,
    records: u64,
    next_seq: u64,
    last_hash: Hash,
    chain_known: bool,
    first_ts: Option<u64>,
    last_ts: u64,
    end_offset: u64,
    index: IndexBuilder,
    /// Leaves hashed ahead (see [`crate::leaves`]), in offset order.
    leaves: VecDeque<PrecomputedLeaf>,
    /// Running CRCs of the bytes after the damage (in the Tail state), so each candidate
    /// frame's CRC costs constant work whatever length it claims.
    tail_crcs: Option<PrefixCrcs>,
    /// Bytes of candidate footers decoded by the tail search.
    tail_decoded: u64,
    /// Bytes hashed by the tail search.
    tail_search_hashed: u64,
    /// The tree over the records before this segment's and those accepted so far, when kept.
    tree: Option<CompactRange>,
}

impl SegmentScanner {
    /// A scanner expecting bytes from `start.offset` on.
    pub fn new(start: ScanStart) -> SegmentScanner {
        SegmentScanner {
            buf: Vec::new(),
            buf_offset: start.offset,
            cursor: 0,
            state: State::Records,
            records: 0,
            next_seq: start.seq,
            last_hash: start.prev_hash.unwrap_or_default(),
            chain_known: start.prev_hash.is_some(),
            first_ts: None,
            last_ts: start.prev_ts,
            end_offset: start.offset,
            index: IndexBuilder::new(start.index_stride),
            leaves: VecDeque::new(),
            tail_crcs: None,
            tail_decoded: 0,
            tail_search_hashed: 0,
            tree: None,
            start,
        }
    }

    /// Keeps the tree from `tree` on (the tree over every record before this segment's first
    /// accepted one): each accepted record's leaf is pushed, and a footer's tree edge must
    /// equal the kept tree's edge (else the footer does not match its records).
    pub fn keep_tree(&mut self, tree: CompactRange) {
        self.tree = Some(tree);
    }

    /// The tree kept so far, if one is kept.
    pub fn tree(&self) -> Option<&CompactRange> {
        self.tree.as_ref()
    }

    /// Hands over leaf hashes computed ahead (see [`crate::leaves`]), in offset order, for
    /// records not yet scanned. Each must be [`crate::hash::leaf`] of the entry at its offset
    /// in the bytes pushed into this scanner; one whose offset and seq do not match a record
    /// the scanner reaches is dropped unused.
    pub fn provide_leaves(&mut self, leaves: impl IntoIterator<Item = PrecomputedLeaf>) {
        self.leaves.extend(leaves);
    }

    /// File offset up to which bytes have been pushed.
    pub fn fed_to(&self) -> u64 {
        self.buf_offset + self.buf.len() as u64
    }

    /// Whether every byte up to the end of the file has been pushed.
    pub fn at_eof(&self) -> bool {
        self.fed_to() >= self.start.file_len
    }

    /// Whether the records have ended (the scanner is only classifying what follows them).
    pub fn records_ended(&self) -> bool {
        !matches!(self.state, State::Records)
    }

    /// Whether the scanner has decided how the segment ends (no more input is useful).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done(_))
    }

    /// Adds the next bytes of the file. Bytes past the file length given at the start are
    /// ignored.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = self.start.file_len.saturating_sub(self.fed_to());
        let take = (chunk.len() as u64).min(room) as usize;
        if self.cursor > 0 && (self.cursor >= self.buf.len() / 2 || self.cursor > 1 << 20) {
            self.buf.drain(..self.cursor);
            self.buf_offset += self.cursor as u64;
            self.cursor = 0;
        }
        self.buf.extend_from_slice(&chunk[..take]);
    }

    fn pos(&self) -> u64 {
        self.buf_offset + self.cursor as u64
    }

    /// The next record that passed every check, or `None` when more input is needed or the
    /// records have ended (then [`SegmentScanner::finish`] tells how).
    pub fn next_record(&mut self) -> Option<ScannedRecord<'_>> {
        loop {
            match self.state {
                State::Records => {}
                State::Tail { .. } => {
                    self.advance_tail();
                    return None;
                }
                State::AfterFooter { .. } => {
                    self.advance_after_footer();
                    return None;
                }
                State::Done(_) => return None,
            }
            let pos = self.pos();
            let eof = self.at_eof();
            let avail = &self.buf[self.cursor..];
            if avail.is_empty() && eof && pos == self.start.file_len {
                self.state = State::Done(SegmentEnd::Clean);
                return None;
            }
            match frame::decode(avail) {
                frame::Frame::Incomplete { needed } => {
                    let past_eof = pos + needed.unwrap_or(8) as u64 > self.start.file_len;
                    if past_eof {
                        self.enter_tail(pos, Cause::Truncated);
                        continue;
                    }
                    return None;
                }
                frame::Frame::Zero => {
                    self.enter_tail(pos, Cause::Zero);
                    continue;
                }
                frame::Frame::Bad { defect, .. } => {
                    self.enter_tail(pos, Cause::Frame(defect));
                    continue;
                }
                frame::Frame::Footer { frame_len } => {
                    let bytes = &avail[..frame_len];
                    match Footer::decode(bytes) {
                        Ok(footer) => {
                            if let Some(what) = self.footer_mismatch(&footer, pos) {
                                self.corrupt(pos, DamageKind::FooterMismatch(what), None);
                            } else {
                                self.cursor += frame_len;
                                let from = self.pos();
                                self.state = State::AfterFooter {
                                    footer,
                                    from,
                                    all_zero: true,
                                };
                            }
                        }
                        // The frame's CRC is valid, so this is no interrupted write: an edit or a
                        // writer bug, never a tail to cut.
                        Err(d) => self.corrupt(pos, DamageKind::Footer(d), None),
                    }
                    continue;
                }
                frame::Frame::Entry(e) => {
                    if e.seq == u64::MAX {
                        // No writer assigns the last seq (it refuses to append there), so the
                        // sequence can never wrap to 0: a record here is corruption.
                        self.corrupt(pos, DamageKind::SeqOverflow, None);
                        continue;
                    }
                    if e.seq != self.next_seq {
                        if e.seq < self.next_seq && !self.start.strict {
                            // Possibly stale bytes: it is corruption only if valid data follows.
                            self.enter_tail(pos, Cause::StaleRecord(e.seq));
                        } else {
                            let kind = DamageKind::SeqMismatch {
                                expected: self.next_seq,
                                found: e.seq,
                            };
                            self.corrupt(pos, kind, None);
                        }
                        continue;
                    }
                    if e.ts < self.last_ts {
                        let kind = DamageKind::TimestampRegression {
                            prev: self.last_ts,
                            found: e.ts,
                        };
                        self.corrupt(pos, kind, None);
                        continue;
                    }
                    let mut leaf = None;
                    let mut node = None;
                    if self.chain_known || self.tree.is_some() {
                        let version = self.start.version;
                        let (l, n) = match take_leaf(&mut self.leaves, pos, e.seq, version) {
                            Some(p) => (p.leaf, p.node),
                            None => (version.leaf(KIND_ENTRY, e.seq, e.ts, e.payload), None),
                        };
                        if self.chain_known && crate::hash::chain(&self.last_hash, &l) != e.hash {
                            self.corrupt(pos, DamageKind::ChainMismatch, None);
                            continue;
                        }
                        leaf = Some(l);
                        node = n;
                    }
                    if let (Some(tree), Some(l)) = (self.tree.as_mut(), leaf.as_ref()) {
                        tree.push_node(node.unwrap_or_else(|| leaf_node(l)));
                    }
                    self.chain_known = true;
                    self.records += 1;
                    self.next_seq += 1;
                    self.last_hash = e.hash;
                    self.first_ts.get_or_insert(e.ts);
                    self.last_ts = e.ts;
                    self.index.observe(e.seq, e.ts, pos);
                    let start = self.cursor;
                    self.cursor += e.frame_len;
                    self.end_offset = pos + e.frame_len as u64;
                    let frame = &self.buf[start..self.cursor];
                    let payload_len =
                        (u32::from_le_bytes(frame[0..4].try_into().unwrap()) >> 8) as usize;
                    return Some(ScannedRecord {
                        seq: e.seq,
                        ts: e.ts,
                        hash: e.hash,
                        offset: pos,
                        frame_len: e.frame_len as u32,
                        payload: &frame[RECORD_HEADER_LEN..RECORD_HEADER_LEN + payload_len],
                        leaf,
                    });
                }
            }
        }
    }

    fn footer_mismatch(&self, f: &Footer, pos: u64) -> Option<&'static str> {
        if f.offset != pos {
            return Some("footer offset is not where the records end");
        }
        if self.start.prev_hash.is_none() && f.first_seq < self.start.seq {
            return self.partial_footer_mismatch(f);
        }
        if f.edge.is_empty() == self.start.version.footer_has_edge() {
            return Some(if f.edge.is_empty() {
                "no tree edge in a format-2 footer"
            } else {
                "a tree edge in a format-1 footer"
            });
        }
        if self.start.version.footer_has_edge()
            && self
                .tree
                .as_ref()
                .is_some_and(|t| t.size() != f.last_seq || t.edge() != f.edge.as_slice())
        {
            return Some("tree edge (not the tree of the records)");
        }
        if self.records == 0 || f.count != self.records {
            return Some("record count");
        }
        if f.first_seq != self.start.seq || f.last_seq + 1 != self.next_seq {
            return Some("seq range");
        }
        if self.chain_known && f.last_hash != self.last_hash {
            return Some("last hash");
        }
        if Some(f.first_ts) != self.first_ts || f.last_ts != self.last_ts {
            return Some("timestamps");
        }
        if f.index_stride != self.index.stride() || f.index != self.index.entries() {
            return Some("sparse index");
        }
        None
    }

    /// The footer checks a reader can make when it started after the segment's first record
    /// without a chain value (a seek or a resumed query): it saw the records from `start.seq`
    /// on, so it checks what they end with — the last seq, hash and timestamp, and the stride
    /// (a decoded footer's count already agrees with its seq range) — but not the count or
    /// index of records it never read (a full scan from the header, as verification does,
    /// checks those). Scans given a chain value always get the full checks.
    fn partial_footer_mismatch(&self, f: &Footer) -> Option<&'static str> {
        if self.records == 0 {
            return Some("record count");
        }
        if f.last_seq.checked_add(1) != Some(self.next_seq) {
            return Some("seq range");
        }
        if f.last_hash != self.last_hash {
            return Some("last hash");
        }
        if f.last_ts != self.last_ts || self.first_ts.is_some_and(|t| f.first_ts > t) {
            return Some("timestamps");
        }
        if f.index_stride != self.index.stride() {
            return Some("sparse index");
        }
        None
    }

    fn corrupt(&mut self, offset: u64, kind: DamageKind, resumes_at: Option<(u64, u64)>) {
        let seq = self.next_seq;
        self.state = State::Done(SegmentEnd::Corrupt(Damage {
            offset,
            seq,
            kind,
            resumes_at,
        }));
    }

    fn enter_tail(&mut self, offset: u64, cause: Cause) {
        if self.start.strict {
            let kind = match cause {
                Cause::StaleRecord(found) => DamageKind::SeqMismatch {
                    expected: self.next_seq,
                    found,
                },
                other => other.into_damage_kind(),
            };
            self.corrupt(offset, kind, None);
            return;
        }
        self.state = State::Tail {
            damage_offset: offset,
            cause,
            probe: offset,
            all_zero: true,
            data_end: offset,
        };
        self.tail_crcs = Some(PrefixCrcs::new(offset));
        self.advance_tail();
    }

    /// Walks aligned offsets past the damage looking for a CRC-valid record that continues the
    /// segment, noting whether every byte is zero, as far as the buffered input allows.
    ///
    /// Linear in the bytes searched: each byte is CRC-hashed once into running prefix values
    /// ([`PrefixCrcs`]), and a candidate's frame CRC is derived from two of them in constant
    /// work, however long the frame it claims. Only a candidate whose CRC matches is decoded
    /// further, and an entry that matches ends the search.
    fn advance_tail(&mut self) {
        let State::Tail {
            damage_offset,
            cause,
            mut probe,
            mut all_zero,
            mut data_end,
        } = std::mem::replace(&mut self.state, State::Records)
        else {
            unreachable!("advance_tail runs in the Tail state only");
        };
        let file_len = self.start.file_len;
        let fed_to = self.fed_to();
        // A scan started past the file's end (a segment listed while being created, shorter
        // than its header) has its "damage" there too: nothing follows it.
        let max_more = file_len.saturating_sub(damage_offset) / RECORD_HEADER_LEN as u64 + 1;
        let mut crcs = self.tail_crcs.take().expect("set on entering the tail");
        let mut found = None;
        while probe < file_len {
            // Preallocated space is megabytes of zeros: skip whole zero words at once. A word
            // that starts with a zero byte cannot start a candidate (no frame kind is zero), and
            // zeros leave `all_zero` as it is, so this changes no decision.
            let ready = (fed_to.min(file_len).saturating_sub(probe) / ALIGN as u64) as usize;
            let i = (probe - self.buf_offset) as usize;
            probe += (zero_words(&self.buf[i..i + ready * ALIGN]) * ALIGN) as u64;
            if probe >= file_len {
                break;
            }
            let i = (probe - self.buf_offset) as usize;
            let step_end = (probe + ALIGN as u64).min(file_len);
            if step_end > fed_to {
                break;
            }
            let head = &self.buf[i..];
            if let Some(c) = candidate_len(head, self.next_seq, max_more) {
                if probe + c as u64 <= file_len {
                    if probe + c as u64 > fed_to {
                        break; // wait for the whole candidate frame
                    }
                    // Running CRCs up to the candidate's end, hashing each byte once: only bytes
                    // never hashed yet (those before the probe are gone from the buffer).
                    crcs.restart_if_before(probe);
                    let from = (crcs.end() - self.buf_offset) as usize;
                    if crcs.end() < probe + c as u64 {
                        crcs.extend(&self.buf[from..i + c]);
                    }
                    let stored = u32::from_le_bytes(head[4..8].try_into().unwrap());
                    let word0 = crc32c::crc32c(&head[0..4]);
                    let body = (c - 8) as u64;
                    let computed = crc_range::shift(word0 ^ crcs.at(probe + 8), body)
                        ^ crcs.at(probe + c as u64);
                    if computed == stored {
                        let next_seq = self.next_seq;
                        let decoded = &mut self.tail_decoded;
                        if let Some(at) = valid_candidate(&head[..c], probe, next_seq, decoded) {
                            found = Some(at);
                            break;
                        }
                    }
                }
            } else if head.len() < 16 && probe + 16 <= file_len && fed_to < file_len {
                break; // cannot rule out a candidate until its seq field is here
            }
            let step = (step_end - probe) as usize;
            if let Some(last) = head[..step].iter().rposition(|&b| b != 0) {
                all_zero = false;
                data_end = probe + last as u64 + 1;
            }
            probe = step_end;
        }
        // Bytes before the probe are no longer needed (a candidate at the probe needs the
        // running CRC from probe + 8 on).
        self.cursor = (probe.min(fed_to) - self.buf_offset) as usize;
        crcs.forget_before(probe.min(crcs.end()));
        self.tail_search_hashed = crcs.hashed + self.tail_decoded;
        if let Some(at) = found {
            let kind = match cause {
                Cause::StaleRecord(found) => DamageKind::SeqMismatch {
                    expected: self.next_seq,
                    found,
                },
                other => other.into_damage_kind(),
            };
            self.corrupt(damage_offset, kind, Some(at));
        } else if probe >= file_len {
            let len = file_len.saturating_sub(damage_offset);
            self.state = State::Done(if all_zero {
                SegmentEnd::ZeroTail {
                    offset: damage_offset,
                    len,
                }
            } else {
                SegmentEnd::Torn {
                    offset: damage_offset,
                    len,
                    data_len: data_end - damage_offset,
                    found: cause.describe(),
                }
            });
        } else {
            self.tail_crcs = Some(crcs);
            self.state = State::Tail {
                damage_offset,
                cause,
                probe,
                all_zero,
                data_end,
            };
        }
    }

    fn advance_after_footer(&mut self) {
        let State::AfterFooter {
            footer,
            from,
            mut all_zero,
        } = std::mem::replace(&mut self.state, State::Records)
        else {
            unreachable!("advance_after_footer runs in the AfterFooter state only");
        };
        all_zero &= is_zero(&self.buf[self.cursor..]);
        self.cursor = self.buf.len();
        let trailing = self.start.file_len - from;
        // Zeros after a footer are a seal whose final cut did not reach the disk (the file was
        // preallocated): nothing is hidden in them, and callers decide what to do.
        if !all_zero {
            self.corrupt(footer.offset, DamageKind::DataAfterFooter, None);
        } else if self.at_eof() {
            self.state = State::Done(SegmentEnd::Sealed {
                footer,
                trailing_zeros: trailing,
            });
        } else {
            self.state = State::AfterFooter {
                footer,
                from,
                all_zero,
            };
        }
    }

    /// Ends the scan. Call after the whole file was pushed (or when [`Self::is_done`]); if
    /// input stopped early the remaining bytes count as missing (a torn tail, or corruption
    /// in strict mode).
    pub fn finish(mut self) -> ScanSummary {
        while self.next_record().is_some() {}
        if !self.is_done() {
            // Input ended before the file length: treat the rest as unreadable.
            let pos = self.pos();
            self.start.file_len = self.fed_to();
            if matches!(self.state, State::Records) {
                self.enter_tail(pos, Cause::Truncated);
            }
            while self.next_record().is_some() {}
            if !self.is_done() {
                self.state = State::Done(SegmentEnd::Torn {
                    offset: pos,
                    len: 0,
                    data_len: 0,
                    found: "unread bytes".into(),
                });
            }
        }
        let State::Done(end) = self.state else {
            unreachable!("finish drives the scanner to Done")
        };
        ScanSummary {
            records: self.records,
            next_seq: self.next_seq,
            last_hash: self.last_hash,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            end_offset: self.end_offset,
            index: self.index,
            end,
            tail_search_hashed: self.tail_search_hashed,
            tree: self.tree,
        }
    }
}

/// A candidate frame at `probe` whose CRC matched: whether it is valid data continuing the
/// segment, and then the offset and seq where valid data resumes. An entry needs zero
/// padding; a footer must describe itself at this offset and seal records past the damage
/// (checked on its fixed fields before it is decoded, so decoding stays rare).
fn valid_candidate(
    frame_bytes: &[u8],
    probe: u64,
    next_seq: u64,
    decoded: &mut u64,
) -> Option<(u64, u64)> {
    let c = frame_bytes.len();
    let u64_at = |o: usize| u64::from_le_bytes(frame_bytes[o..o + 8].try_into().unwrap());
    if frame_bytes[0] == KIND_ENTRY {
        let len = (u32::from_le_bytes(frame_bytes[0..4].try_into().unwrap()) >> 8) as usize;
        if frame_bytes[RECORD_HEADER_LEN + len..]
            .iter()
            .any(|&b| b != 0)
        {
            return None;
        }
        return Some((probe, u64_at(8)));
    }
    if c < crate::footer::FOOTER_FIXED_LEN
        || u64_at(c - 16) != probe
        || frame_bytes[c - 8..] != crate::footer::END_MAGIC
        || u64_at(24) < next_seq
    {
        return None;
    }
    *decoded += c as u64;
    let f = Footer::decode(frame_bytes).ok()?;
    // A footer written here that seals records past the damage proves they were
    // complete: the damage is not a torn tail.
    (f.offset == probe && f.last_seq >= next_seq).then(|| (probe, f.last_seq.saturating_add(1)))
}

/// If `head` starts a plausible entry continuing this segment, or a footer, its claimed
/// frame length.
fn candidate_len(head: &[u8], next_seq: u64, max_more: u64) -> Option<usize> {
    if head.len() < 16 || (head[0] != KIND_ENTRY && head[0] != KIND_FOOTER) {
        return None;
    }
    let seq = u64::from_le_bytes(head[8..16].try_into().unwrap());
    if head[0] == KIND_ENTRY && (seq < next_seq || seq - next_seq > max_more) {
        return None;
    }
    frame::claimed_len(u32::from_le_bytes(head[0..4].try_into().unwrap())).ok()
}

/// How many whole `ALIGN`-byte words at the start of `bytes` are all zero. Checks 256-byte blocks
/// with an OR-reduction the compiler vectorises, then words, so walking preallocated space costs
/// memory bandwidth rather than a branch per byte.
fn zero_words(bytes: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let mut at = 0;
    while at + BLOCK <= bytes.len() && is_zero(&bytes[at..at + BLOCK]) {
        at += BLOCK;
    }
    while at + ALIGN <= bytes.len() && is_zero(&bytes[at..at + ALIGN]) {
        at += ALIGN;
    }
    at / ALIGN
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |acc, &b| acc | b) == 0
}

/// The provided leaf of the entry at `offset` with `seq` hashed under `version`, dropping
/// provided leaves before it.
fn take_leaf(
    leaves: &mut VecDeque<PrecomputedLeaf>,
    offset: u64,
    seq: u64,
    version: FormatVersion,
) -> Option<PrecomputedLeaf> {
    while let Some(l) = leaves.front() {
        if l.offset > offset {
            return None;
        }
        let l = leaves.pop_front().expect("front exists");
        if l.offset == offset && l.seq == seq && l.version == version {
            return Some(l);
        }
    }
    None
}
