//! Fault injection for the segment scanner.
//!
//! Every test builds small, valid segments by hand from the public format API (header, entry
//! frames chained with BLAKE3, footer), damages them the way a crash, a bad disk or a forger
//! would, and checks how `scan::SegmentScanner` classifies the result. Each input is scanned
//! with several chunkings (1 byte, 7 bytes, 4096 bytes, whole file) and the results must be
//! identical: the scanner is incremental and its verdicts must not depend on how IO is split.
//!
//! The classification rules under test (see the module docs of `scan`):
//! - damage with a CRC-valid record continuing the segment after it is `Corrupt`, and so is a
//!   CRC-valid record at the bad spot whose seq, timestamp or chain link is wrong;
//! - otherwise an all-zero tail is `ZeroTail` and anything else is `Torn` (safe to cut);
//! - in strict mode (sealed segments) any bad spot is `Corrupt`.

use std::ops::Range;

use evident_core::footer::{Footer, IndexBuilder};
use evident_core::frame::{self, frame_crc, KIND_ENTRY, MAX_PAYLOAD};
use evident_core::hash::{self, Hash, LogId};
use evident_core::header::{SegmentHeader, HEADER_LEN};
use evident_core::scan::{Damage, DamageKind, ScanStart, ScanSummary, SegmentEnd, SegmentScanner};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Building segments
// ---------------------------------------------------------------------------------------------

/// The trail most tests write to.
const LOG: LogId = LogId([0x5a; 16]);
/// Another trail, for splicing tests.
const OTHER_LOG: LogId = LogId([0xa5; 16]);
/// Sparse index stride used by the scanner and the footers (small, so indexes have entries).
const STRIDE: u32 = 150;
/// A plausible timestamp (ns since the epoch) for the first record.
const T0: u64 = 1_700_000_000_000_000_000;
/// Chunk sizes every input is fed with; `usize::MAX` means the whole file at once.
const CHUNKINGS: [usize; 4] = [1, 7, 4096, usize::MAX];

/// One record as written: where it is and what the scanner must report for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    offset: u64,
    seq: u64,
    ts: u64,
    hash: Hash,
    payload: Vec<u8>,
    frame_len: usize,
}

impl Rec {
    /// Byte range of the frame in the file.
    fn range(&self) -> Range<usize> {
        self.offset as usize..self.offset as usize + self.frame_len
    }

    fn end(&self) -> u64 {
        self.offset + self.frame_len as u64
    }
}

/// A segment file (header included) and the records it holds.
#[derive(Debug, Clone)]
struct Seg {
    bytes: Vec<u8>,
    recs: Vec<Rec>,
    first_seq: u64,
    anchor: Hash,
    /// Timestamp the first record must not precede (what the scanner is started with).
    prev_ts: u64,
}

impl Seg {
    /// File offset just past the last record.
    fn end(&self) -> u64 {
        self.recs.last().map_or(HEADER_LEN as u64, Rec::end)
    }

    fn frame(&self, k: usize) -> &[u8] {
        &self.bytes[self.recs[k].range()]
    }
}

/// Builds a segment of `log_id` whose first record has `first_seq` and chains from `anchor`;
/// one record per `(timestamp, payload)`, chain hashes computed as the writer does.
fn build_with(log_id: LogId, first_seq: u64, anchor: Hash, entries: &[(u64, Vec<u8>)]) -> Seg {
    let header = SegmentHeader {
        version: evident_core::header::FormatVersion::V2,
        log_id,
        segno: 0,
        first_seq,
        anchor,
    };
    let mut bytes = header.encode().to_vec();
    let mut recs = Vec::new();
    let mut prev = anchor;
    for (i, (ts, payload)) in entries.iter().enumerate() {
        let seq = first_seq + i as u64;
        let h = hash::chain(&prev, &hash::leaf(KIND_ENTRY, seq, *ts, payload));
        let offset = bytes.len() as u64;
        frame::encode_entry(&mut bytes, seq, *ts, &h, payload);
        let frame_len = bytes.len() - offset as usize;
        recs.push(Rec {
            offset,
            seq,
            ts: *ts,
            hash: h,
            payload: payload.clone(),
            frame_len,
        });
        prev = h;
    }
    Seg {
        bytes,
        recs,
        first_seq,
        anchor,
        prev_ts: 0,
    }
}

/// A first segment (seq 1, genesis anchor) of `log_id` with increasing timestamps.
fn build_log(log_id: LogId, payloads: &[Vec<u8>]) -> Seg {
    let entries: Vec<(u64, Vec<u8>)> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| (T0 + 1_000 * i as u64, p.clone()))
        .collect();
    build_with(log_id, 1, hash::genesis(&log_id), &entries)
}

/// `build_log` for the default trail.
fn build(payloads: &[Vec<u8>]) -> Seg {
    build_log(LOG, payloads)
}

/// `n` distinct text payloads of assorted lengths (empty, unaligned, aligned...), none ending in
/// a zero byte, so a record is never complete before its padding.
fn payloads(n: usize) -> Vec<Vec<u8>> {
    const LENS: [usize; 7] = [13, 0, 40, 8, 29, 1, 64];
    (0..n)
        .map(|i| {
            let text = format!("record {i}: user=alice action=exec cmd='git push --force' ");
            text.bytes().cycle().take(LENS[i % LENS.len()]).collect()
        })
        .collect()
}

/// The five-record segment most fault tests damage.
fn five() -> Seg {
    build(&payloads(5))
}

/// The sparse index the writer would build for `recs`.
fn index_of(recs: &[Rec], stride: u32) -> IndexBuilder {
    let mut ib = IndexBuilder::new(stride);
    for r in recs {
        ib.observe(r.seq, r.ts, r.offset);
    }
    ib
}

/// The footer that seals `seg` (built with `stride`, placed right after the records).
fn footer_for(seg: &Seg, stride: u32) -> Footer {
    let (first, last) = (seg.recs.first().unwrap(), seg.recs.last().unwrap());
    Footer {
        count: seg.recs.len() as u64,
        first_seq: first.seq,
        last_seq: last.seq,
        last_hash: last.hash,
        first_ts: first.ts,
        last_ts: last.ts,
        index_stride: stride,
        index: index_of(&seg.recs, stride).take(),
        edge: edge_for(seg),
        offset: seg.end(),
    }
}

/// The tree edge a format-2 footer of `seg` carries: the real tree when the segment starts
/// the trail; otherwise (the earlier records are not known here) placeholder nodes of the
/// right number (a scanner that keeps no tree checks only their presence).
fn edge_for(seg: &Seg) -> Vec<Hash> {
    let last = seg.recs.last().unwrap().seq;
    if seg.first_seq != 1 {
        return (0..last.count_ones())
            .map(|i| Hash([i as u8; 32]))
            .collect();
    }
    let mut tree = evident_core::tree::CompactRange::new();
    for r in &seg.recs {
        tree.push_leaf(&hash::leaf(KIND_ENTRY, r.seq, r.ts, &r.payload));
    }
    tree.edge().to_vec()
}

/// `seg` with `footer` appended: a sealed segment file.
fn with_footer(seg: &Seg, footer: &Footer) -> Vec<u8> {
    let mut file = seg.bytes.clone();
    file.extend_from_slice(&footer.encode());
    file
}

// ---------------------------------------------------------------------------------------------
// Damaging bytes
// ---------------------------------------------------------------------------------------------

fn flip_bit(file: &[u8], bit: usize) -> Vec<u8> {
    let mut f = file.to_vec();
    f[bit / 8] ^= 1 << (bit % 8);
    f
}

/// Recomputes the CRC of the frame at `range`, as a forger who edited its bytes would.
fn recrc(file: &mut [u8], range: Range<usize>) {
    let frame = &mut file[range];
    let crc = frame_crc(frame);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// `file` with `range` replaced by `with`.
fn splice(file: &[u8], range: Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut f = file.to_vec();
    f.splice(range, with.iter().copied());
    f
}

fn zeros(n: usize) -> Vec<u8> {
    vec![0; n]
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

// ---------------------------------------------------------------------------------------------
// Scanning
// ---------------------------------------------------------------------------------------------

/// A yielded record, copied out of the scanner's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    seq: u64,
    ts: u64,
    hash: Hash,
    offset: u64,
    frame_len: u32,
    payload: Vec<u8>,
}

/// The start of a scan of `file`, which holds (or held) the records of `seg`.
fn start_for(seg: &Seg, file: &[u8], strict: bool) -> ScanStart {
    ScanStart {
        version: evident_core::header::FormatVersion::V2,
        offset: HEADER_LEN as u64,
        file_len: file.len() as u64,
        seq: seg.first_seq,
        prev_hash: Some(seg.anchor),
        prev_ts: seg.prev_ts,
        index_stride: STRIDE,
        strict,
    }
}

/// Feeds the bytes of `file` after the header in chunks of the sizes in `chunks` (cycled),
/// draining records after every push, then finishes. With `stop_at` the input stops early at
/// that file offset (a reader that gave up) and `finish` decides on what it has.
fn scan_with(
    file: &[u8],
    start: ScanStart,
    chunks: &[usize],
    stop_at: Option<usize>,
) -> (Vec<Got>, ScanSummary) {
    let mut sc = SegmentScanner::new(start);
    let mut got = Vec::new();
    let mut drain = |sc: &mut SegmentScanner| {
        while let Some(r) = sc.next_record() {
            got.push(Got {
                seq: r.seq,
                ts: r.ts,
                hash: r.hash,
                offset: r.offset,
                frame_len: r.frame_len,
                payload: r.payload.to_vec(),
            });
        }
    };
    drain(&mut sc);
    let end = stop_at.unwrap_or(file.len()).min(file.len());
    let mut pos = start.offset as usize;
    let mut sizes = chunks.iter().cycle();
    while pos < end {
        let n = (*sizes.next().unwrap()).max(1).min(end - pos);
        sc.push(&file[pos..pos + n]);
        pos += n;
        drain(&mut sc);
    }
    if stop_at.is_none() {
        // All bytes are in: the scanner must have decided without help from `finish`.
        assert!(
            sc.is_done(),
            "scanner undecided after the whole file was fed (chunks {chunks:?})"
        );
    }
    let summary = sc.finish();
    assert_eq!(
        summary.records,
        got.len() as u64,
        "summary counts what was yielded"
    );
    (got, summary)
}

/// Scans `file` with every chunking in [`CHUNKINGS`]; they must agree. Returns the result.
fn scan(file: &[u8], start: ScanStart) -> (Vec<Got>, ScanSummary) {
    let first = scan_with(file, start, &[CHUNKINGS[0]], None);
    for c in &CHUNKINGS[1..] {
        let other = scan_with(file, start, &[*c], None);
        assert_eq!(
            other, first,
            "chunks of {c} bytes disagree with 1-byte chunks"
        );
    }
    first
}

/// Scans `file` as the holder of `seg`'s records, in non-strict (last segment) mode.
fn scan_tail(seg: &Seg, file: &[u8]) -> (Vec<Got>, ScanSummary) {
    scan(file, start_for(seg, file, false))
}

/// Scans `file` as the holder of `seg`'s records, in strict (sealed segment) mode.
fn scan_strict(seg: &Seg, file: &[u8]) -> (Vec<Got>, ScanSummary) {
    scan(file, start_for(seg, file, true))
}

/// Asserts the scanner yielded exactly the first `n` records of `seg`, and that its totals
/// (seq, chain, timestamps, end offset, sparse index) describe exactly those records.
fn assert_accepted(seg: &Seg, got: &[Got], sum: &ScanSummary, n: usize) {
    let want: Vec<Got> = seg.recs[..n]
        .iter()
        .map(|r| Got {
            seq: r.seq,
            ts: r.ts,
            hash: r.hash,
            offset: r.offset,
            frame_len: r.frame_len as u32,
            payload: r.payload.clone(),
        })
        .collect();
    assert_eq!(got, &want[..], "yielded records");
    let accepted = &seg.recs[..n];
    assert_eq!(sum.records, n as u64);
    assert_eq!(sum.next_seq, seg.first_seq + n as u64, "next seq");
    assert_eq!(
        sum.last_hash,
        accepted.last().map_or(seg.anchor, |r| r.hash),
        "last hash"
    );
    assert_eq!(sum.first_ts, accepted.first().map(|r| r.ts), "first ts");
    assert_eq!(
        sum.last_ts,
        accepted.last().map_or(seg.prev_ts, |r| r.ts),
        "last ts"
    );
    assert_eq!(
        sum.end_offset,
        accepted.last().map_or(HEADER_LEN as u64, Rec::end),
        "end offset"
    );
    assert_eq!(sum.index, index_of(accepted, STRIDE), "sparse index");
}

/// The `(offset, len)` of a `Torn` end; panics on any other end.
#[track_caller]
fn torn(end: &SegmentEnd) -> (u64, u64) {
    match end {
        SegmentEnd::Torn { offset, len, .. } => (*offset, *len),
        other => panic!("expected a torn tail, got {other:?}"),
    }
}

/// The damage of a `Corrupt` end; panics on any other end.
#[track_caller]
fn corrupt(end: &SegmentEnd) -> &Damage {
    match end {
        SegmentEnd::Corrupt(d) => d,
        other => panic!("expected corruption, got {other:?}"),
    }
}

fn damage(offset: u64, seq: u64, kind: DamageKind, resumes_at: Option<(u64, u64)>) -> SegmentEnd {
    SegmentEnd::Corrupt(Damage {
        offset,
        seq,
        kind,
        resumes_at,
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Clean segments
// ---------------------------------------------------------------------------------------------

#[test]
fn clean_segment_yields_every_record_and_exact_totals() {
    // A first segment, and a later one (first seq 1001, anchored on some earlier chain value,
    // timestamps after the previous segment's): both must scan to the end.
    let first = five();
    let entries: Vec<(u64, Vec<u8>)> = payloads(7)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (T0 + 10 * i as u64, p))
        .collect();
    let mut later = build_with(LOG, 1001, first.recs[4].hash, &entries);
    later.prev_ts = T0;
    for seg in [&first, &later] {
        let (got, sum) = scan_tail(seg, &seg.bytes);
        assert_accepted(seg, &got, &sum, seg.recs.len());
        assert_eq!(sum.end, SegmentEnd::Clean);
        assert_eq!(sum.end_offset, seg.bytes.len() as u64);
        // The stride is small enough that the rebuilt index has several entries.
        assert!(sum.index.entries().len() >= 2, "{:?}", sum.index);
        // Strict mode changes nothing on an undamaged segment.
        assert_eq!(scan_strict(seg, &seg.bytes), (got, sum));
    }
}

#[test]
fn empty_segment_is_clean_and_keeps_the_start_values() {
    let seg = build(&[]);
    assert_eq!(seg.bytes.len(), HEADER_LEN);
    let (got, sum) = scan_tail(&seg, &seg.bytes);
    assert_accepted(&seg, &got, &sum, 0);
    assert_eq!(sum.end, SegmentEnd::Clean);
}

#[test]
fn reader_without_a_chain_value_still_yields_every_record() {
    // A reader that starts mid-trail does not know the anchor: chain checks are skipped for the
    // first record only, and everything is yielded.
    let seg = five();
    let start = ScanStart {
        version: evident_core::header::FormatVersion::V2,
        prev_hash: None,
        ..start_for(&seg, &seg.bytes, false)
    };
    let (got, sum) = scan(&seg.bytes, start);
    assert_accepted(&seg, &got, &sum, 5);
    assert_eq!(sum.end, SegmentEnd::Clean);
}

// ---------------------------------------------------------------------------------------------
// 2. Truncation (file cut short)
// ---------------------------------------------------------------------------------------------

#[test]
fn truncation_anywhere_inside_a_record_is_a_torn_tail_at_its_start() {
    // Cutting the file inside record k (in its 56-byte header, its payload or its padding)
    // leaves k as an incomplete last record: everything before it is yielded and the tail from
    // its start is torn, whatever the chunking.
    let seg = five();
    for k in 0..seg.recs.len() {
        let r = &seg.recs[k];
        // A cut exactly at the record's start is just a shorter clean segment.
        let (got, sum) = scan_tail(&seg, &seg.bytes[..r.offset as usize]);
        assert_accepted(&seg, &got, &sum, k);
        assert_eq!(sum.end, SegmentEnd::Clean);
        for cut in 1..r.frame_len {
            let file = &seg.bytes[..r.offset as usize + cut];
            let (got, sum) = scan_tail(&seg, file);
            assert_accepted(&seg, &got, &sum, k);
            assert_eq!(
                torn(&sum.end),
                (r.offset, cut as u64),
                "record {k} cut after {cut} bytes"
            );
        }
    }
}

#[test]
fn truncation_shorter_than_a_frame_prefix_is_torn() {
    // Fewer than 8 bytes of a frame: not even the kind/length word and CRC are there.
    let seg = five();
    let last = &seg.recs[4];
    for cut in 1..8 {
        let (got, sum) = scan_tail(&seg, &seg.bytes[..last.offset as usize + cut]);
        assert_accepted(&seg, &got, &sum, 4);
        assert_eq!(torn(&sum.end), (last.offset, cut as u64));
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Zero-filled tails and preallocated files
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_tail_after_the_last_record_loses_nothing() {
    // Preallocated space (or a zero-filled tail of any length, even shorter than a frame
    // prefix) after the last record: all records, and the zeros are reported as such.
    let seg = five();
    for n in [1usize, 3, 7, 8, 9, 55, 56, 57, 4096] {
        let file = concat(&[&seg.bytes, &zeros(n)]);
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, 5);
        assert_eq!(
            sum.end,
            SegmentEnd::ZeroTail {
                offset: seg.end(),
                len: n as u64
            },
            "{n} zeros"
        );
    }
}

#[test]
fn torn_write_into_preallocated_space_is_torn_at_the_record_start() {
    // The file was preallocated (zeros) and the last write stopped after `p` bytes of the last
    // record. Zero bytes written: a plain zero tail. A prefix that lacks only zero bytes (the
    // padding) is in fact the complete record. Anything in between is a torn record.
    let seg = five();
    let last = seg.recs.last().unwrap();
    let frame = seg.frame(4);
    let prealloc = last.frame_len + 4096;
    let mut torn_cases = 0;
    for p in 0..=last.frame_len {
        let file = concat(&[
            &seg.bytes[..last.offset as usize],
            &frame[..p],
            &zeros(prealloc - p),
        ]);
        let file_len = file.len() as u64;
        let (got, sum) = scan_tail(&seg, &file);
        if p == 0 {
            assert_accepted(&seg, &got, &sum, 4);
            assert_eq!(
                sum.end,
                SegmentEnd::ZeroTail {
                    offset: last.offset,
                    len: file_len - last.offset
                }
            );
        } else if frame[p..].iter().all(|&b| b == 0) {
            assert_accepted(&seg, &got, &sum, 5);
            assert_eq!(
                sum.end,
                SegmentEnd::ZeroTail {
                    offset: last.end(),
                    len: 4096
                }
            );
        } else {
            torn_cases += 1;
            assert_accepted(&seg, &got, &sum, 4);
            assert_eq!(
                torn(&sum.end),
                (last.offset, file_len - last.offset),
                "prefix of {p} bytes"
            );
        }
    }
    assert!(
        torn_cases >= RECORD_HEADER_MIN,
        "the torn branch was exercised ({torn_cases} cases)"
    );
}

/// At least every cut inside the fixed 56-byte record header is a torn record.
const RECORD_HEADER_MIN: usize = frame::RECORD_HEADER_LEN - 1;

// ---------------------------------------------------------------------------------------------
// 4. Stale bytes after the end
// ---------------------------------------------------------------------------------------------

#[test]
fn stale_frames_after_the_end_are_a_torn_tail_not_records() {
    // A file reused without being zeroed, or a crash after a recovery cut, can leave complete,
    // CRC-valid frames of earlier seqs after the real end. They must not be yielded, and since
    // nothing valid *continues* the segment they are a torn tail, not corruption.
    let seg = five();
    for j in 0..seg.recs.len() {
        for gap in [0usize, 8, 4096] {
            let stale = seg.frame(j);
            let file = concat(&[&seg.bytes, &zeros(gap), stale]);
            let (got, sum) = scan_tail(&seg, &file);
            assert_accepted(&seg, &got, &sum, 5);
            assert_eq!(
                torn(&sum.end),
                (seg.end(), (gap + stale.len()) as u64),
                "stale copy of record {j} after {gap} zeros"
            );
            // The same with preallocated zeros after the stale frame.
            let file = concat(&[&file, &zeros(100)]);
            let (got, sum) = scan_tail(&seg, &file);
            assert_accepted(&seg, &got, &sum, 5);
            assert_eq!(
                torn(&sum.end),
                (seg.end(), (gap + stale.len() + 100) as u64)
            );
        }
    }
}

#[test]
fn stale_frames_after_the_end_are_corruption_in_strict_mode() {
    let seg = five();
    let file = concat(&[&seg.bytes, seg.frame(1)]);
    let (got, sum) = scan_strict(&seg, &file);
    assert_accepted(&seg, &got, &sum, 5);
    assert_eq!(
        sum.end,
        damage(
            seg.end(),
            6,
            DamageKind::SeqMismatch {
                expected: 6,
                found: 2
            },
            None
        )
    );
}

// ---------------------------------------------------------------------------------------------
// 5. and 6. Bit flips
// ---------------------------------------------------------------------------------------------

#[test]
fn any_bit_flip_in_a_record_followed_by_valid_records_is_corruption() {
    // Valid records after the damaged one prove the damage is not an interrupted append: it
    // must never be reported as a torn or zero tail (which recovery would cut away).
    let seg = five();
    for k in 0..seg.recs.len() - 1 {
        let r = &seg.recs[k];
        let next = &seg.recs[k + 1];
        for bit in r.offset as usize * 8..r.end() as usize * 8 {
            let file = flip_bit(&seg.bytes, bit);
            let (got, sum) = scan_tail(&seg, &file);
            assert_accepted(&seg, &got, &sum, k);
            let d = corrupt(&sum.end);
            assert_eq!(
                (d.offset, d.seq, d.resumes_at),
                (r.offset, r.seq, Some((next.offset, next.seq))),
                "record {k} bit {bit}"
            );
            // The frame check catches it (CRC, kind or a length that now runs past the file).
            assert!(
                matches!(d.kind, DamageKind::Frame(_) | DamageKind::Truncated),
                "record {k} bit {bit}: {:?}",
                d.kind
            );
        }
    }
}

#[test]
fn any_bit_flip_in_the_last_record_is_a_torn_tail_never_clean() {
    // Documented rule: damage with nothing valid after it is indistinguishable from a torn
    // write, so it is Torn at the record's start (never Clean: the record is not yielded).
    let seg = five();
    let last = seg.recs.last().unwrap();
    for bit in last.offset as usize * 8..last.end() as usize * 8 {
        let file = flip_bit(&seg.bytes, bit);
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, 4);
        assert_eq!(
            torn(&sum.end),
            (last.offset, last.frame_len as u64),
            "bit {bit}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Edits with a recomputed CRC
// ---------------------------------------------------------------------------------------------

#[test]
fn edited_record_with_recomputed_crc_is_a_chain_mismatch_even_when_last() {
    // The CRC only guards against accidents; a forger recomputes it. The chain catches the edit,
    // and since the frame is CRC-valid it is corruption even for the last record (an edit must
    // never look like a torn write that recovery may cut).
    let seg = five();
    for k in [0, 2, 4] {
        let r = &seg.recs[k];
        let o = r.offset as usize;
        // (what, byte range in the frame, replacement bytes)
        let later_ts = (r.ts + 1).to_le_bytes();
        let mut payload = r.payload.clone();
        payload[0] ^= 0x20;
        let mut stored_hash = r.hash;
        stored_hash.0[0] ^= 1;
        let edits: [(&str, Range<usize>, &[u8]); 3] = [
            (
                "payload",
                frame::RECORD_HEADER_LEN..frame::RECORD_HEADER_LEN + payload.len(),
                &payload,
            ),
            ("timestamp (later)", 16..24, &later_ts),
            ("stored hash", 24..56, &stored_hash.0),
        ];
        for (what, at, with) in edits {
            let mut file = seg.bytes.clone();
            file[o + at.start..o + at.end].copy_from_slice(with);
            recrc(&mut file, r.range());
            assert!(
                matches!(frame::decode(&file[r.range()]), frame::Frame::Entry(_)),
                "the forged frame is CRC-valid"
            );
            let (got, sum) = scan_tail(&seg, &file);
            assert_accepted(&seg, &got, &sum, k);
            assert_eq!(
                sum.end,
                damage(r.offset, r.seq, DamageKind::ChainMismatch, None),
                "{what} of record {k}"
            );
            let (_, strict) = scan_strict(&seg, &file);
            assert_eq!(strict.end, sum.end);
        }
    }
}

#[test]
fn last_record_seq_edited_upwards_is_corruption() {
    // A CRC-valid last record claiming a seq beyond the expected one: corruption, not a tail.
    let seg = five();
    let last = &seg.recs[4];
    let mut file = seg.bytes.clone();
    let o = last.offset as usize;
    file[o + 8..o + 16].copy_from_slice(&9u64.to_le_bytes());
    recrc(&mut file, last.range());
    let (got, sum) = scan_tail(&seg, &file);
    assert_accepted(&seg, &got, &sum, 4);
    assert_eq!(
        sum.end,
        damage(
            last.offset,
            5,
            DamageKind::SeqMismatch {
                expected: 5,
                found: 9
            },
            None
        )
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Deleted, duplicated and reordered records
// ---------------------------------------------------------------------------------------------

#[test]
fn deleted_record_is_a_seq_mismatch() {
    let seg = five();
    for k in 0..seg.recs.len() - 1 {
        let r = &seg.recs[k];
        let file = splice(&seg.bytes, r.range(), &[]);
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, k);
        let kind = DamageKind::SeqMismatch {
            expected: r.seq,
            found: r.seq + 1,
        };
        assert_eq!(
            sum.end,
            damage(r.offset, r.seq, kind, None),
            "record {k} deleted"
        );
    }
}

#[test]
fn duplicated_record_is_a_seq_mismatch() {
    // The copy sits where record k+1 should be; record k+1 follows the copy, so this is
    // corruption with a known resume point (not a stale tail).
    let seg = five();
    for k in 0..seg.recs.len() - 1 {
        let r = &seg.recs[k];
        let copy = seg.frame(k).to_vec();
        let file = splice(&seg.bytes, r.end() as usize..r.end() as usize, &copy);
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, k + 1);
        let kind = DamageKind::SeqMismatch {
            expected: r.seq + 1,
            found: r.seq,
        };
        let resumes = Some((r.end() + r.frame_len as u64, r.seq + 1));
        assert_eq!(
            sum.end,
            damage(r.end(), r.seq + 1, kind, resumes),
            "record {k} duplicated"
        );
    }
}

#[test]
fn reordered_records_are_a_seq_mismatch() {
    let seg = five();
    for k in 0..seg.recs.len() - 1 {
        let (a, b) = (&seg.recs[k], &seg.recs[k + 1]);
        let swapped = concat(&[seg.frame(k + 1), seg.frame(k)]);
        let file = splice(&seg.bytes, a.offset as usize..b.end() as usize, &swapped);
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, k);
        let kind = DamageKind::SeqMismatch {
            expected: a.seq,
            found: b.seq,
        };
        assert_eq!(
            sum.end,
            damage(a.offset, a.seq, kind, None),
            "records {k} and {} swapped",
            k + 1
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Zero holes
// ---------------------------------------------------------------------------------------------

#[test]
fn zero_hole_before_valid_records_is_corruption() {
    // Zeros where records should be, with valid records after: lost data, not a zero tail.
    let seg = five();
    for k in 0..seg.recs.len() - 1 {
        let r = &seg.recs[k];
        for span in [1, 2] {
            if k + span >= seg.recs.len() {
                continue;
            }
            let hole = r.offset as usize..seg.recs[k + span - 1].end() as usize;
            let file = splice(&seg.bytes, hole.clone(), &zeros(hole.len()));
            let (got, sum) = scan_tail(&seg, &file);
            assert_accepted(&seg, &got, &sum, k);
            let next = &seg.recs[k + span];
            assert_eq!(
                sum.end,
                damage(
                    r.offset,
                    r.seq,
                    DamageKind::Hole,
                    Some((next.offset, next.seq))
                ),
                "hole of {span} at {k}"
            );
        }
        // Zeroing only the first 8 bytes (kind, length, CRC) is a hole too.
        let o = r.offset as usize;
        let file = splice(&seg.bytes, o..o + 8, &[0; 8]);
        let (_, sum) = scan_tail(&seg, &file);
        let next = &seg.recs[k + 1];
        assert_eq!(
            sum.end,
            damage(
                r.offset,
                r.seq,
                DamageKind::Hole,
                Some((next.offset, next.seq))
            )
        );
    }
}

#[test]
fn long_zero_runs_are_walked_without_missing_a_byte() {
    // Preallocated space is walked in large zero blocks; a single non-zero byte anywhere in it
    // (at a block edge, inside a word, at the very end) must still make the tail torn, and a
    // record after a long hole must still be found.
    let seg = five();
    let at = seg.recs[3].offset as usize;
    let gap = 70_000;
    for p in [0, 1, 7, 8, 255, 256, 257, 4095, 4096, 65_535, gap - 1] {
        let mut file = concat(&[&seg.bytes[..at], &zeros(gap)]);
        file[at + p] = 0x5a;
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, 3);
        assert_eq!(
            torn(&sum.end),
            (at as u64, gap as u64),
            "non-zero byte {p} bytes into the zeros"
        );
    }
    let file = concat(&[&seg.bytes[..at], &zeros(gap), &seg.bytes[at..]]);
    let (got, sum) = scan_tail(&seg, &file);
    assert_accepted(&seg, &got, &sum, 3);
    assert_eq!(
        sum.end,
        damage(
            at as u64,
            seg.recs[3].seq,
            DamageKind::Hole,
            Some(((at + gap) as u64, seg.recs[3].seq))
        )
    );
}

// ---------------------------------------------------------------------------------------------
// 10. Records of another trail
// ---------------------------------------------------------------------------------------------

#[test]
fn record_of_another_trail_is_a_chain_mismatch() {
    // Same seqs, timestamps and payloads, but another log id: only the chain tells them apart.
    let seg = five();
    let other = build_log(OTHER_LOG, &payloads(6));
    for k in [0, 2, 4] {
        let r = &seg.recs[k];
        assert_eq!(other.recs[k].frame_len, r.frame_len);
        let file = splice(&seg.bytes, r.range(), other.frame(k));
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, k);
        assert_eq!(
            sum.end,
            damage(r.offset, r.seq, DamageKind::ChainMismatch, None),
            "record {k} replaced"
        );
    }
    // Appended after the end with the seq that comes next: still not ours.
    let file = concat(&[&seg.bytes, other.frame(5)]);
    let (got, sum) = scan_tail(&seg, &file);
    assert_accepted(&seg, &got, &sum, 5);
    assert_eq!(
        sum.end,
        damage(seg.end(), 6, DamageKind::ChainMismatch, None)
    );
    // The whole segment scanned as if it continued another trail: the first record's link fails.
    let start = ScanStart {
        version: evident_core::header::FormatVersion::V2,
        prev_hash: Some(hash::genesis(&OTHER_LOG)),
        ..start_for(&seg, &seg.bytes, false)
    };
    let (got, sum) = scan(&seg.bytes, start);
    assert!(got.is_empty());
    assert_eq!(
        sum.end,
        damage(HEADER_LEN as u64, 1, DamageKind::ChainMismatch, None)
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Timestamps
// ---------------------------------------------------------------------------------------------

#[test]
fn timestamp_regression_is_corruption_even_with_a_valid_chain() {
    let p = payloads(5);
    let ts = [T0, T0 + 5, T0 + 5, T0 + 4, T0 + 9];
    let entries: Vec<(u64, Vec<u8>)> = ts.iter().copied().zip(p).collect();
    let seg = build_with(LOG, 1, hash::genesis(&LOG), &entries);
    let (got, sum) = scan_tail(&seg, &seg.bytes);
    // Equal timestamps are allowed (non-decreasing); going back is not.
    assert_accepted(&seg, &got, &sum, 3);
    let kind = DamageKind::TimestampRegression {
        prev: T0 + 5,
        found: T0 + 4,
    };
    assert_eq!(sum.end, damage(seg.recs[3].offset, 4, kind, None));

    // The first record of a segment must not precede the previous segment's last one.
    let mut seg = build(&payloads(2));
    seg.prev_ts = T0 + 1;
    let (got, sum) = scan_tail(&seg, &seg.bytes);
    assert!(got.is_empty());
    assert_eq!(
        sum.end,
        damage(
            HEADER_LEN as u64,
            1,
            DamageKind::TimestampRegression {
                prev: T0 + 1,
                found: T0
            },
            None
        )
    );
}

// ---------------------------------------------------------------------------------------------
// 12. Sealed segments
// ---------------------------------------------------------------------------------------------

#[test]
fn sealed_segment_ends_with_its_footer() {
    let seg = five();
    let footer = footer_for(&seg, STRIDE);
    assert!(footer.index.len() >= 2, "the index has entries to compare");
    let file = with_footer(&seg, &footer);
    for strict in [false, true] {
        let (got, sum) = scan(&file, start_for(&seg, &file, strict));
        assert_accepted(&seg, &got, &sum, 5);
        assert_eq!(
            sum.end,
            SegmentEnd::Sealed {
                footer: footer.clone(),
                trailing_zeros: 0
            },
            "strict {strict}"
        );
        assert_eq!(sum.index.entries(), &footer.index[..]);
    }
}

#[test]
fn zeros_after_the_footer_are_reported_as_such_in_both_modes() {
    // A seal interrupted before the preallocated file was cut to size leaves zeros after the
    // footer. Nothing can hide in zeros, so both modes report a seal with trailing zeros and
    // leave the decision (finish the cut, note it) to the caller.
    let seg = five();
    let footer = footer_for(&seg, STRIDE);
    for n in [1usize, 8, 4096] {
        let file = concat(&[&with_footer(&seg, &footer), &zeros(n)]);
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, 5);
        assert_eq!(
            sum.end,
            SegmentEnd::Sealed {
                footer: footer.clone(),
                trailing_zeros: n as u64
            }
        );
        let (got, sum) = scan_strict(&seg, &file);
        assert_accepted(&seg, &got, &sum, 5);
        assert_eq!(
            sum.end,
            SegmentEnd::Sealed {
                footer: footer.clone(),
                trailing_zeros: n as u64
            },
            "{n} zeros, strict"
        );
    }
    // Non-zero bytes after the footer are corruption in both modes.
    let mut tail = zeros(64);
    tail[40] = 7;
    let file = concat(&[&with_footer(&seg, &footer), &tail]);
    for strict in [false, true] {
        let (_, sum) = scan(&file, start_for(&seg, &file, strict));
        assert_eq!(
            sum.end,
            damage(footer.offset, 6, DamageKind::DataAfterFooter, None),
            "strict {strict}"
        );
    }
}

/// The tree edge of a format-2 footer: missing, present in a format-1 segment, or not the tree
/// of the records (a scanner that keeps the tree checks it): each is a footer mismatch.
#[test]
fn a_footer_tree_edge_that_is_missing_misplaced_or_forged_is_a_footer_mismatch() {
    use evident_core::header::FormatVersion;
    use evident_core::tree::CompactRange;
    let seg = five();
    let good = footer_for(&seg, STRIDE);
    // The same records chained with format-1 leaves.
    let mut seg1 = seg.clone();
    seg1.bytes.truncate(HEADER_LEN);
    let mut prev = seg.anchor;
    for r in &mut seg1.recs {
        r.hash = hash::chain(&prev, &hash::leaf_v1(KIND_ENTRY, r.seq, r.ts, &r.payload));
        frame::encode_entry(&mut seg1.bytes, r.seq, r.ts, &r.hash, &r.payload);
        prev = r.hash;
    }
    let run = |footer: &Footer, version: FormatVersion, keep: bool| {
        let seg = if version == FormatVersion::V1 {
            &seg1
        } else {
            &seg
        };
        let mut footer = footer.clone();
        footer.last_hash = seg.recs.last().unwrap().hash;
        let file = with_footer(seg, &footer);
        let mut start = start_for(seg, &file, true);
        start.version = version;
        let mut s = SegmentScanner::new(start);
        if keep {
            s.keep_tree(CompactRange::new());
        }
        s.push(&file[HEADER_LEN..]);
        while s.next_record().is_some() {}
        s.finish()
    };
    let sum = run(&good, FormatVersion::V2, true);
    assert!(
        matches!(sum.end, SegmentEnd::Sealed { .. }),
        "{:?}",
        sum.end
    );
    assert_eq!(sum.tree.unwrap().edge(), good.edge.as_slice());
    let mut no_edge = good.clone();
    no_edge.edge.clear();
    let mut forged = good.clone();
    forged.edge[1].0[0] ^= 1;
    for (footer, version, keep, what) in [
        (
            &no_edge,
            FormatVersion::V2,
            false,
            "no tree edge in a format-2 footer",
        ),
        (
            &good,
            FormatVersion::V1,
            false,
            "a tree edge in a format-1 footer",
        ),
        (
            &forged,
            FormatVersion::V2,
            true,
            "tree edge (not the tree of the records)",
        ),
    ] {
        assert_eq!(
            run(footer, version, keep).end,
            damage(seg.end(), 6, DamageKind::FooterMismatch(what), None),
            "{what}"
        );
    }
    // Without a kept tree, a forged edge of the right length is not detectable by the scanner
    // (verification keeps the tree; see core/tests/verify_tamper.rs).
    assert!(matches!(
        run(&forged, FormatVersion::V2, false).end,
        SegmentEnd::Sealed { .. }
    ));
}

#[test]
fn footer_edited_with_recomputed_crc_is_a_footer_mismatch() {
    // Each edit keeps the footer self-consistent (so it decodes) but contradicts the records.
    let seg = five();
    let good = footer_for(&seg, STRIDE);
    type Edit = fn(&mut Footer);
    let edits: [(&str, Edit); 8] = [
        ("record count", |f| {
            f.count += 1;
            f.last_seq += 1;
        }),
        ("seq range", |f| {
            f.first_seq -= 1;
            f.last_seq -= 1;
        }),
        ("last hash", |f| f.last_hash.0[0] ^= 1),
        ("timestamps", |f| f.first_ts -= 1),
        ("sparse index", |f| {
            f.index.pop();
        }),
        ("sparse index", |f| f.index[1].ts -= 1),
        ("sparse index", |f| f.index_stride += 1),
        ("footer offset is not where the records end", |f| {
            f.offset += 8
        }),
    ];
    for (what, edit) in edits {
        let mut forged = good.clone();
        edit(&mut forged);
        // Keep the tree edge's length that of the (edited) last seq, so the footer decodes.
        let nodes = forged.last_seq.count_ones() as usize;
        forged.edge.resize(nodes, Hash([9; 32]));
        assert!(
            Footer::decode(&forged.encode()).is_ok(),
            "{what}: the forged footer decodes"
        );
        let file = with_footer(&seg, &forged);
        for strict in [false, true] {
            let (got, sum) = scan(&file, start_for(&seg, &file, strict));
            assert_accepted(&seg, &got, &sum, 5);
            assert_eq!(
                sum.end,
                damage(seg.end(), 6, DamageKind::FooterMismatch(what), None),
                "{what}, strict {strict}"
            );
        }
    }
    // A footer built with another stride than the scanner's does not match either.
    let file = with_footer(&seg, &footer_for(&seg, STRIDE * 2));
    let (_, sum) = scan_tail(&seg, &file);
    assert_eq!(
        sum.end,
        damage(
            seg.end(),
            6,
            DamageKind::FooterMismatch("sparse index"),
            None
        )
    );
}

#[test]
fn a_reader_started_mid_segment_checks_the_footer_against_the_records_it_saw() {
    // A seek or a resumed query starts at a record in the middle of a sealed segment, without
    // a chain value. It cannot rebuild the count or the index of the records before it, so it
    // checks how the footer says the records end: last seq, last hash, last timestamp and
    // the stride (a footer whose count disagrees with its seq range does not decode).
    // Verification scans from the header and checks everything.
    let seg = five();
    let good = footer_for(&seg, STRIDE);
    let mid = |file: &[u8], strict: bool| ScanStart {
        version: evident_core::header::FormatVersion::V2,
        offset: seg.recs[2].offset,
        seq: seg.recs[2].seq,
        prev_hash: None,
        prev_ts: 0,
        ..start_for(&seg, file, strict)
    };
    let file = with_footer(&seg, &good);
    for strict in [false, true] {
        let (got, sum) = scan(&file, mid(&file, strict));
        assert_eq!(got.iter().map(|g| g.seq).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(
            sum.end,
            SegmentEnd::Sealed {
                footer: good.clone(),
                trailing_zeros: 0
            },
            "strict {strict}"
        );
    }
    type Edit = fn(&mut Footer);
    let edits: [(&str, Edit); 4] = [
        ("seq range", |f| {
            f.count += 1;
            f.last_seq += 1;
        }),
        ("last hash", |f| f.last_hash.0[0] ^= 1),
        ("timestamps", |f| f.last_ts += 1),
        ("sparse index", |f| f.index_stride += 1),
    ];
    for (what, edit) in edits {
        let mut forged = good.clone();
        edit(&mut forged);
        let file = with_footer(&seg, &forged);
        for strict in [false, true] {
            let (got, sum) = scan(&file, mid(&file, strict));
            assert_eq!(got.len(), 3);
            assert_eq!(
                sum.end,
                damage(seg.end(), 6, DamageKind::FooterMismatch(what), None),
                "{what}, strict {strict}"
            );
        }
    }
    // Without a chain value but from the first record, the footer gets every check.
    let mut forged = good.clone();
    forged.index.pop();
    let file = with_footer(&seg, &forged);
    let start = ScanStart {
        version: evident_core::header::FormatVersion::V2,
        prev_hash: None,
        ..start_for(&seg, &file, true)
    };
    let (_, sum) = scan(&file, start);
    assert_eq!(
        sum.end,
        damage(
            seg.end(),
            6,
            DamageKind::FooterMismatch("sparse index"),
            None
        )
    );
}

#[test]
fn truncated_footer_is_torn_when_not_strict_and_corrupt_when_strict() {
    // An interrupted seal: every record is intact and yielded; the partial footer is a torn
    // tail that recovery may cut (and seal again).
    let seg = five();
    let footer = footer_for(&seg, STRIDE).encode();
    let at = seg.end();
    for cut in 1..footer.len() {
        let file = concat(&[&seg.bytes, &footer[..cut]]);
        let (got, sum) = scan_tail(&seg, &file);
        assert_accepted(&seg, &got, &sum, 5);
        assert_eq!(
            torn(&sum.end),
            (at, cut as u64),
            "footer cut after {cut} bytes"
        );
        let (got, sum) = scan_strict(&seg, &file);
        assert_accepted(&seg, &got, &sum, 5);
        assert_eq!(
            sum.end,
            damage(at, 6, DamageKind::Truncated, None),
            "strict, footer cut after {cut} bytes"
        );
    }
}

#[test]
fn bit_flip_in_the_footer_is_never_sealed() {
    let seg = five();
    let footer = footer_for(&seg, STRIDE);
    let file = with_footer(&seg, &footer);
    let at = seg.end();
    for bit in at as usize * 8..file.len() * 8 {
        let damaged = flip_bit(&file, bit);
        let (got, sum) = scan_tail(&seg, &damaged);
        assert_accepted(&seg, &got, &sum, 5);
        assert_eq!(
            torn(&sum.end),
            (at, footer.encode().len() as u64),
            "bit {bit}"
        );
        let (_, sum) = scan_strict(&seg, &damaged);
        let d = corrupt(&sum.end);
        assert_eq!(
            (d.offset, d.seq, d.resumes_at),
            (at, 6, None),
            "strict, bit {bit}"
        );
    }
}

#[test]
fn crc_valid_footer_that_does_not_decode_is_corruption() {
    // A footer whose CRC is valid was written completely: if it does not decode it was edited
    // (or written by a buggy sealer). It must not be taken for an interrupted seal and cut.
    // (Regression: non-strict scans used to report these as torn tails.)
    let seg = five();
    let good = footer_for(&seg, STRIDE);
    let mut count_only = good.clone();
    count_only.count += 1; // no longer matches the seq range
    let count_only = count_only.encode();
    let mut no_magic = good.encode();
    let n = no_magic.len();
    no_magic[n - 1] = b'!';
    recrc(&mut no_magic, 0..n);
    for (what, footer) in [("count only", count_only), ("magic", no_magic)] {
        assert!(
            matches!(frame::decode(&footer), frame::Frame::Footer { .. }),
            "{what}: CRC-valid footer frame"
        );
        let defect = Footer::decode(&footer).unwrap_err();
        let file = concat(&[&seg.bytes, &footer]);
        for strict in [false, true] {
            let (got, sum) = scan(&file, start_for(&seg, &file, strict));
            assert_accepted(&seg, &got, &sum, 5);
            assert_eq!(
                sum.end,
                damage(seg.end(), 6, DamageKind::Footer(defect), None),
                "{what}, strict {strict}"
            );
        }
    }
}

#[test]
fn damage_before_a_valid_footer_is_corruption() {
    // The last segment may be sealed. A valid footer after damaged records attests that they
    // were written completely, so the damage is not a torn tail: cutting it would drop sealed
    // records. (Regression: non-strict scans used to report Torn over record and footer.)
    let seg = five();
    let footer = footer_for(&seg, STRIDE);
    let file = with_footer(&seg, &footer);
    let last = &seg.recs[4];
    let resumes = Some((footer.offset, 6));
    for bit in last.offset as usize * 8..last.end() as usize * 8 {
        let damaged = flip_bit(&file, bit);
        let (got, sum) = scan_tail(&seg, &damaged);
        assert_accepted(&seg, &got, &sum, 4);
        let d = corrupt(&sum.end);
        assert_eq!(
            (d.offset, d.seq, d.resumes_at),
            (last.offset, 5, resumes),
            "bit {bit}"
        );
        assert!(
            matches!(d.kind, DamageKind::Frame(_) | DamageKind::Truncated),
            "bit {bit}: {:?}",
            d.kind
        );
    }
    // Zeroed last two records before the footer: a hole, not a zero tail.
    let hole = seg.recs[3].offset as usize..last.end() as usize;
    let damaged = splice(&file, hole.clone(), &zeros(hole.len()));
    let (got, sum) = scan_tail(&seg, &damaged);
    assert_accepted(&seg, &got, &sum, 3);
    assert_eq!(
        sum.end,
        damage(seg.recs[3].offset, 4, DamageKind::Hole, resumes)
    );
    // The last record cut out: the footer now starts where that record did, and its own
    // offset gives the deletion away.
    let cut = splice(&file, last.range(), &[]);
    let (got, sum) = scan_tail(&seg, &cut);
    assert_accepted(&seg, &got, &sum, 4);
    assert_eq!(
        sum.end,
        damage(
            last.offset,
            5,
            DamageKind::FooterMismatch("footer offset is not where the records end"),
            None
        )
    );
}

// ---------------------------------------------------------------------------------------------
// 13. Strict mode: no torn or zero tails
// ---------------------------------------------------------------------------------------------

#[test]
fn strict_mode_reports_truncation_and_zero_tails_as_corruption() {
    let seg = five();
    let last = &seg.recs[4];
    for cut in 1..last.frame_len {
        let file = &seg.bytes[..last.offset as usize + cut];
        let (got, sum) = scan_strict(&seg, file);
        assert_accepted(&seg, &got, &sum, 4);
        assert_eq!(
            sum.end,
            damage(last.offset, 5, DamageKind::Truncated, None),
            "cut after {cut}"
        );
    }
    for n in [1usize, 8, 4096] {
        let file = concat(&[&seg.bytes, &zeros(n)]);
        let (got, sum) = scan_strict(&seg, &file);
        assert_accepted(&seg, &got, &sum, 5);
        let kind = if n < 8 {
            DamageKind::Truncated
        } else {
            DamageKind::Hole
        };
        assert_eq!(sum.end, damage(seg.end(), 6, kind, None), "{n} zeros");
    }
    // A damaged last record is not a torn write either.
    let file = flip_bit(&seg.bytes, last.offset as usize * 8 + 8 * 30);
    let (_, sum) = scan_strict(&seg, &file);
    assert!(
        matches!(corrupt(&sum.end), Damage { offset, seq: 5, kind: DamageKind::Frame(_), resumes_at: None }
            if *offset == last.offset)
    );
}

// ---------------------------------------------------------------------------------------------
// 14. Absurd lengths
// ---------------------------------------------------------------------------------------------

#[test]
fn huge_claimed_length_is_torn_and_bounded_by_the_file() {
    // The last record's length word claims the largest payload the format allows on a file of a
    // few hundred bytes: an incomplete frame, so a torn tail. The scanner never holds more than
    // the file: bytes pushed past `file_len` are ignored.
    let seg = five();
    let last = &seg.recs[4];
    let word0 = KIND_ENTRY as u32 | ((MAX_PAYLOAD as u32) << 8);
    let o = last.offset as usize;
    let file = splice(&seg.bytes, o..o + 4, &word0.to_le_bytes());
    let (got, sum) = scan_tail(&seg, &file);
    assert_accepted(&seg, &got, &sum, 4);
    assert_eq!(torn(&sum.end), (last.offset, last.frame_len as u64));

    let start = start_for(&seg, &file, false);
    let mut sc = SegmentScanner::new(start);
    sc.push(&file[HEADER_LEN..]);
    sc.push(&vec![0x01; 1 << 20]);
    assert_eq!(
        sc.fed_to(),
        file.len() as u64,
        "nothing past file_len is buffered"
    );
    while sc.next_record().is_some() {}
    assert!(sc.is_done());
    assert_eq!(torn(&sc.finish().end), (last.offset, last.frame_len as u64));

    // The same claim in a middle record runs past the end of the file, yet valid records follow
    // its start: corruption.
    let mid = &seg.recs[2];
    let o = mid.offset as usize;
    let file = splice(&seg.bytes, o..o + 4, &word0.to_le_bytes());
    let (got, sum) = scan_tail(&seg, &file);
    assert_accepted(&seg, &got, &sum, 2);
    let next = &seg.recs[3];
    assert_eq!(
        sum.end,
        damage(
            mid.offset,
            3,
            DamageKind::Truncated,
            Some((next.offset, next.seq))
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Bytes biased towards the interesting values: zero (holes, padding) and 0x01 (entry kind).
fn junk_byte() -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(0u8), 1 => Just(KIND_ENTRY), 4 => any::<u8>()]
}

/// Chunk sizes to cycle through while feeding.
fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..9, 1usize..300, Just(4096usize)], 1..6)
}

/// Whether `got` is exactly the first `got.len()` records of `seg`.
fn is_prefix_of(got: &[Got], seg: &Seg) -> bool {
    got.len() <= seg.recs.len()
        && got.iter().zip(&seg.recs).all(|(g, r)| {
            (
                g.seq,
                g.ts,
                g.hash,
                g.offset,
                g.frame_len as usize,
                &g.payload[..],
            ) == (r.seq, r.ts, r.hash, r.offset, r.frame_len, &r.payload[..])
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (a) Arbitrary bytes after a valid header, optionally behind a few valid records and with
    /// some of those records' bytes overwritten: the scanner never panics, always decides, only
    /// ever yields genuine records, and its verdict does not depend on the chunking. Stopping
    /// the input early must not panic either.
    #[test]
    fn scanner_survives_arbitrary_bytes(
        n_valid in 0usize..4,
        junk in prop::collection::vec(junk_byte(), 0..4096),
        pokes in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        chunks in chunking(),
        strict in any::<bool>(),
        stop in prop::option::of(any::<usize>()),
    ) {
        let seg = build(&payloads(n_valid));
        let mut file = concat(&[&seg.bytes, &junk]);
        let body = file.len() - HEADER_LEN;
        if body > 0 {
            for (at, v) in pokes {
                file[HEADER_LEN + at % body] = v;
            }
        }
        let start = start_for(&seg, &file, strict);
        let whole = scan_with(&file, start, &[usize::MAX], None);
        let chunked = scan_with(&file, start, &chunks, None);
        prop_assert_eq!(&chunked, &whole);
        prop_assert!(is_prefix_of(&whole.0, &seg), "yielded a record that was never written: {:?}", whole.0);
        if strict {
            let tail_verdict = matches!(whole.1.end, SegmentEnd::Torn { .. } | SegmentEnd::ZeroTail { .. });
            prop_assert!(!tail_verdict, "strict scan ended with {:?}", whole.1.end);
        }
        if let Some(stop) = stop {
            let stop_at = HEADER_LEN + stop % (body + 1);
            let (got, sum) = scan_with(&file, start, &chunks, Some(stop_at));
            prop_assert!(is_prefix_of(&got, &seg));
            prop_assert!(sum.end_offset <= stop_at as u64);
        }
    }

    /// (b) Whatever the payloads, timestamps and first seq, encode-then-scan round-trips
    /// exactly, with any chunking, and a sealed copy scans to its footer.
    #[test]
    fn encode_then_scan_round_trips(
        entries in prop::collection::vec((0u64..1_000, prop::collection::vec(any::<u8>(), 0..300)), 0..20),
        first_seq in 1u64..1_000_000,
        chunks in chunking(),
    ) {
        let mut ts = T0;
        let entries: Vec<(u64, Vec<u8>)> = entries.into_iter().map(|(dt, p)| { ts += dt; (ts, p) }).collect();
        let anchor = hash::chain(&hash::genesis(&LOG), &Hash([first_seq as u8; 32]));
        let mut seg = build_with(LOG, first_seq, anchor, &entries);
        seg.prev_ts = T0;
        let n = seg.recs.len();
        let start = start_for(&seg, &seg.bytes, false);
        let (got, sum) = scan_with(&seg.bytes, start, &chunks, None);
        assert_accepted(&seg, &got, &sum, n);
        prop_assert_eq!(&sum.end, &SegmentEnd::Clean);
        if n > 0 {
            let footer = footer_for(&seg, STRIDE);
            let file = with_footer(&seg, &footer);
            let (got, sum) = scan_with(&file, start_for(&seg, &file, true), &chunks, None);
            assert_accepted(&seg, &got, &sum, n);
            prop_assert_eq!(sum.end, SegmentEnd::Sealed { footer, trailing_zeros: 0 });
        }
    }

    /// (c) Cutting a valid segment anywhere yields exactly the records wholly before the cut
    /// (never one that was not written, never fewer), and the rest is a clean end or a torn
    /// tail starting at the first incomplete record.
    #[test]
    fn truncation_yields_exactly_the_complete_prefix(
        sizes in prop::collection::vec(0usize..300, 1..12),
        cut in any::<usize>(),
        chunks in chunking(),
    ) {
        let payloads: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| vec![(i as u8) | 0x80; n]).collect();
        let seg = build(&payloads);
        let cut = HEADER_LEN + cut % (seg.bytes.len() - HEADER_LEN + 1);
        let file = &seg.bytes[..cut];
        let (got, sum) = scan_with(file, start_for(&seg, file, false), &chunks, None);
        let complete = seg.recs.iter().take_while(|r| r.end() <= cut as u64).count();
        assert_accepted(&seg, &got, &sum, complete);
        if sum.end_offset == cut as u64 {
            prop_assert_eq!(sum.end, SegmentEnd::Clean);
        } else {
            prop_assert_eq!(torn(&sum.end), (sum.end_offset, cut as u64 - sum.end_offset));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Leaves hashed ahead (evident_core::leaves)
// ---------------------------------------------------------------------------------------------

#[test]
fn provided_leaves_are_used_only_at_their_offset_and_seq() {
    use evident_core::leaves::{LeafPlanner, PrecomputedLeaf};
    let seg = five();
    let file = seg.bytes.clone();
    let scan_with_leaves = |leaves: Vec<PrecomputedLeaf>| {
        let mut sc = SegmentScanner::new(start_for(&seg, &file, true));
        sc.provide_leaves(leaves);
        sc.push(&file[HEADER_LEN..]);
        while sc.next_record().is_some() {}
        sc.finish()
    };
    // The planner's leaves: every record, and the same verdict as without them.
    let planned: Vec<PrecomputedLeaf> = LeafPlanner::new()
        .plan(0, &file)
        .iter()
        .map(|j| j.compute(&file))
        .collect();
    assert_eq!(planned.len(), 5);
    let (_, plain) = scan_strict(&seg, &file);
    assert_eq!(scan_with_leaves(planned.clone()), plain);

    // A wrong leaf at a record's offset and seq is used (so the scanner trusts its caller, who
    // must hash the very bytes it pushes): the chain check fails there.
    let mut wrong = planned.clone();
    wrong[2].leaf = Hash([7; 32]);
    let end = scan_with_leaves(wrong).end;
    assert_eq!(corrupt(&end).offset, seg.recs[2].offset);
    assert_eq!(corrupt(&end).kind, DamageKind::ChainMismatch);

    // Leaves at offsets or seqs no record has are dropped unused.
    let mut stray = planned.clone();
    stray[2].seq += 1;
    stray[3].leaf = Hash([7; 32]);
    stray[3].offset += 8;
    assert_eq!(scan_with_leaves(stray), plain);
}

/// A scan that starts past the end of its file (a segment listed while it was being created,
/// shorter than its header, then scanned from after the header) ends quietly: nothing follows
/// its start. It used to subtract past zero (a panic in debug builds, seen beside a live
/// writer in `verify_beside_a_live_writer_gives_no_false_alarms`).
#[test]
fn a_scan_that_starts_past_the_end_of_its_file_ends_without_a_panic() {
    for file_len in [0u64, 5, HEADER_LEN as u64 - 1] {
        let mut s = SegmentScanner::new(ScanStart {
            offset: HEADER_LEN as u64,
            file_len,
            seq: 1,
            prev_hash: None,
            prev_ts: 0,
            index_stride: 4096,
            strict: false,
            version: evident_core::header::FormatVersion::V2,
        });
        s.push(&[]);
        assert!(s.next_record().is_none());
        let summary = s.finish();
        assert_eq!(summary.records, 0);
        assert!(
            !matches!(summary.end, SegmentEnd::Corrupt(_)),
            "{file_len}: {:?}",
            summary.end
        );
    }
}
