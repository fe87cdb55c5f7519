//! Tampering with a real trail, and what verification and recovery say about it.
//!
//! Every test writes a trail with the real `Trail` state machine on a fault-free `FakeDisk`
//! (2 KiB segments, so it has several sealed segments and an unsealed last one), closes it so
//! that `head.checkpoint` exists, then changes the files the way a forger, an operator or a
//! bad disk would, and checks that `sim::verify` reports the right error with the *first* bad
//! place (file, segment, offset, seq). Recovery (`Trail::open`) is checked where the README
//! promises something about it: a torn tail is cut and reported, anything else is refused.

use evident_core::frame::{entry_frame_len, frame_crc, KIND_ENTRY, KIND_FOOTER};
use evident_core::hash::{Hash, LogId};
use evident_core::header::HEADER_LEN;
use evident_core::naming::{self, HEAD_CHECKPOINT};
use evident_core::sim::{drive, verify, FakeDisk, Faults};
use evident_core::verify::VerifyReport;
use evident_core::{
    Checkpoint, Error, Event, Location, OpenReport, Options, Receipt, RecoveryMode, TailReport,
    Trail,
};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// Building trails
// ---------------------------------------------------------------------------------------------

/// The trail under test.
const LOG: LogId = LogId([0x11; 16]);
/// Another trail with the same shape, for splicing tests.
const OTHER_LOG: LogId = LogId([0x22; 16]);
/// Timestamp of record 0 (records are 1 µs apart).
const T0: u64 = 1_700_000_000_000_000_000;
/// Records in every trail built here: 16 fit a 2 KiB segment, so this makes 5 segments, the
/// last one not full (its preallocated space is zeros after the last record).
const RECORDS: u64 = 78;
/// Records appended (and made durable) before the off-host checkpoint `Built::mid` is taken.
const MID: u64 = 27;

fn opts() -> Options {
    Options {
        segment_bytes: 2048,
        ..Options::default()
    }
}

/// A fixed-width audit-looking payload, so two trails built from it have identical layouts.
fn payload(i: u64) -> Vec<u8> {
    format!("{{\"i\":{i:04},\"kind\":\"tool.call\",\"agent\":\"a1\",\"argv\":[\"ls\",\"/srv\"]}}")
        .into_bytes()
}

/// Same length as `payload`, different content (a fork of the trail from record `from` on).
fn forked_payload(from: u64) -> impl Fn(u64) -> Vec<u8> {
    move |i| {
        let mut p = payload(i);
        if i >= from {
            let n = p.len();
            p[n - 3] = b'X';
        }
        p
    }
}

/// A closed trail and what its writer told us about it.
struct Built {
    disk: FakeDisk,
    /// The final head (what `Event::Closed` reported; also the content of `head.checkpoint`).
    head: Checkpoint,
    /// The durable head after the first `MID` records: a checkpoint shipped off the host.
    mid: Checkpoint,
    /// Checkpoints from `Event::CheckpointWritten` (written at each rotation, and at close).
    written: Vec<Checkpoint>,
    /// Receipts by seq - 1.
    receipts: Vec<Receipt>,
    /// Segment file names in trail order (segment number = index).
    segs: Vec<String>,
}

fn open_events(disk: &mut FakeDisk, o: Options) -> (Trail, Vec<Event>) {
    let mut t = Trail::open(o, LogId([0xee; 16]), 1);
    let (ev, _) = drive(&mut t, disk, 100_000);
    (t, ev)
}

fn append_all(
    t: &mut Trail,
    disk: &mut FakeDisk,
    seqs: std::ops::RangeInclusive<u64>,
    p: &dyn Fn(u64) -> Vec<u8>,
) -> Vec<Event> {
    for i in seqs {
        t.handle_append(i, p(i), T0 + i * 1000).unwrap();
    }
    drive(t, disk, 100_000).0
}

fn build_with(log: LogId, p: &dyn Fn(u64) -> Vec<u8>) -> Built {
    let mut disk = FakeDisk::new(7, Faults::default());
    let mut t = Trail::open(opts(), log, 1);
    let (mut events, _) = drive(&mut t, &mut disk, 100_000);
    assert!(
        matches!(&events[0], Event::Opened(r) if r.created),
        "{events:?}"
    );
    events.extend(append_all(&mut t, &mut disk, 1..=MID, p));
    let mid = t.head();
    assert_eq!(
        mid.seq, MID,
        "Always: the head is durable once acknowledged"
    );
    events.extend(append_all(&mut t, &mut disk, MID + 1..=RECORDS, p));
    t.handle_close();
    events.extend(drive(&mut t, &mut disk, 100_000).0);

    let mut receipts = Vec::new();
    let mut written = Vec::new();
    let mut head = None;
    for e in &events {
        match e {
            Event::Appended { token, receipt } => {
                assert_eq!(*token, receipt.seq, "tokens are the seqs here");
                receipts.push(*receipt);
            }
            Event::CheckpointWritten(cp) => written.push(*cp),
            Event::Closed { head: h } => head = Some(*h),
            Event::AppendFailed { .. } | Event::OpenFailed(_) => panic!("{e:?}"),
            _ => {}
        }
    }
    let head = head.expect("closed");
    assert_eq!(receipts.len() as u64, RECORDS);
    assert_eq!(head.seq, RECORDS);
    assert_eq!(head.hash, receipts.last().unwrap().hash);
    let segs: Vec<String> = t.segments().iter().map(|(_, n)| n.clone()).collect();
    assert!(
        segs.len() >= 5,
        "2 KiB segments: expected 5+ segments, got {segs:?}"
    );
    let file = String::from_utf8(disk.read_file(HEAD_CHECKPOINT).unwrap().to_vec()).unwrap();
    assert_eq!(
        file,
        head.to_text_with_root(&t.tree_head().root),
        "close wrote head.checkpoint, with the tree root at its seq"
    );
    Built {
        disk,
        head,
        mid,
        written,
        receipts,
        segs,
    }
}

fn build() -> Built {
    build_with(LOG, &payload)
}

// ---------------------------------------------------------------------------------------------
// Reading and editing segment files
// ---------------------------------------------------------------------------------------------

/// One entry frame in a segment file.
#[derive(Debug, Clone, Copy)]
struct Rec {
    offset: usize,
    len: usize,
    seq: u64,
}

/// The entry frames of a segment, in order, found by walking the frame lengths.
fn records(bytes: &[u8]) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut off = HEADER_LEN;
    while off + 16 <= bytes.len() && bytes[off] == KIND_ENTRY {
        let word = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
        let len = entry_frame_len((word >> 8) as usize);
        let seq = u64::from_le_bytes(bytes[off + 8..off + 16].try_into().unwrap());
        out.push(Rec {
            offset: off,
            len,
            seq,
        });
        off += len;
    }
    out
}

/// Offset of the footer frame of a sealed segment (right after its last record).
fn footer_offset(bytes: &[u8]) -> usize {
    let end = records(bytes).last().map(|r| r.offset + r.len).unwrap();
    assert_eq!(bytes[end], KIND_FOOTER, "segment is sealed");
    end
}

fn first_seq(name: &str) -> u64 {
    naming::parse_segment_name(name).unwrap()
}

fn file(disk: &FakeDisk, name: &str) -> Vec<u8> {
    disk.read_file(name)
        .unwrap_or_else(|| panic!("{name} exists"))
        .to_vec()
}

/// Applies `f` to a file's bytes.
fn edit(disk: &mut FakeDisk, name: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = file(disk, name);
    f(&mut b);
    disk.write_file(name, b);
}

/// Recomputes a frame's CRC after an edit, as a forger would (so only the chain can tell).
fn refresh_frame_crc(bytes: &mut [u8], r: Rec) {
    let crc = frame_crc(&bytes[r.offset..r.offset + r.len]);
    bytes[r.offset + 4..r.offset + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Recomputes a segment header's CRC (bytes 124..128 = CRC32C of [0, 124), per FORMAT.md).
fn refresh_header_crc(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[..124]);
    bytes[124..128].copy_from_slice(&crc.to_le_bytes());
}

/// Every file and its content: to check that something changed nothing.
fn snapshot(disk: &FakeDisk) -> BTreeMap<String, Vec<u8>> {
    disk.file_names()
        .into_iter()
        .map(|n| {
            let b = file(disk, &n);
            (n, b)
        })
        .collect()
}

fn loc(file: &str, segment: Option<u64>, offset: Option<u64>, seq: Option<u64>) -> Location {
    Location {
        file: Some(file.to_string()),
        segment,
        offset,
        seq,
    }
}

/// Unwraps a `Corrupt` verdict into its location and description.
#[track_caller]
fn corrupt(r: Result<VerifyReport, Error>) -> (Location, String) {
    match r {
        Err(Error::Corrupt { location, what }) => (location, what),
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
}

/// Opens the trail on `disk`; returns the open report or the error it failed with.
fn reopen(disk: &mut FakeDisk, o: Options) -> Result<(Trail, OpenReport), Error> {
    let (t, ev) = open_events(disk, o);
    match ev.into_iter().next() {
        Some(Event::Opened(r)) => Ok((t, r)),
        Some(Event::OpenFailed(e)) => Err(e),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// (a) the intact trail
// ---------------------------------------------------------------------------------------------

#[test]
fn intact_trail_verifies_and_proves_older_checkpoints() {
    let mut b = build();
    let r = verify(&mut b.disk, vec![]).unwrap();
    assert_eq!(r.log_id, LOG);
    assert_eq!(r.records, RECORDS);
    assert_eq!(r.segments, b.segs.len() as u64);
    assert_eq!(r.first_seq, 1);
    assert_eq!(
        r.head, b.head,
        "the verified head is the head the writer closed with"
    );
    assert!(r.zero_tail > 0, "the last segment is preallocated: {r:?}");
    assert!(r.unfinished_seals.is_empty());
    assert_eq!(
        r.checkpoints_verified,
        vec![b.head],
        "head.checkpoint is read and proven on its own"
    );

    // Checkpoints taken earlier (shipped off the host) prove the prefix is still there: the
    // head taken after the first `MID` records, the empty trail's, and every checkpoint the
    // writer itself wrote (after rotations, and the final one at close).
    assert_eq!(
        b.written.last(),
        Some(&b.head),
        "close writes the final head last"
    );
    let mut older = b.written.clone();
    older.extend([b.mid, Checkpoint::empty(LOG)]);
    let r = verify(&mut b.disk, older).unwrap();
    for cp in b.written.iter().chain([&b.mid, &b.head]) {
        assert!(r.checkpoints_verified.contains(cp), "{cp:?} not in {r:?}");
    }
    // Every receipt's hash is a checkpoint the trail proves.
    let all: Vec<Checkpoint> = b
        .receipts
        .iter()
        .map(|rc| Checkpoint {
            log_id: LOG,
            seq: rc.seq,
            hash: rc.hash,
        })
        .collect();
    let r = verify(&mut b.disk, all.clone()).unwrap();
    assert!(all.iter().all(|c| r.checkpoints_verified.contains(c)));

    // Reopening an intact closed trail cuts nothing and continues the chain.
    let (_, rep) = reopen(&mut b.disk, opts()).unwrap();
    assert_eq!(rep.head, b.head);
    assert_eq!(rep.next_seq, RECORDS + 1);
    assert!(
        matches!(rep.tail, TailReport::Preallocated { .. }),
        "{rep:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// (b), (c) segments deleted
// ---------------------------------------------------------------------------------------------

#[test]
fn deleted_middle_segment_is_reported_at_the_next_segment() {
    let mut b = build();
    let gone = b.segs[2].clone();
    let next = b.segs[3].clone();
    b.disk.delete_file(&gone);
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    // The next segment is where the gap shows; the seq is the first one missing.
    assert_eq!(
        l,
        loc(&next, Some(3), Some(32), Some(first_seq(&gone))),
        "{what}"
    );
    assert!(
        what.contains("segment number 3 where 2 was expected"),
        "{what}"
    );
}

#[test]
fn deleted_first_segment_is_reported() {
    let mut b = build();
    let first = b.segs[0].clone();
    let second = b.segs[1].clone();
    b.disk.delete_file(&first);
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(l.file.as_deref(), Some(second.as_str()), "{what}");
    assert_eq!(l.segment, Some(1), "{what}");
    // Not asserted: `l.seq` is the present segment's first seq, not 1 (the first missing seq,
    // which is what a deleted middle segment reports). Reported to the lead as an inconsistency.
    assert!(what.contains("earlier segments are missing"), "{what}");
}

#[test]
fn deleted_last_segment_is_caught_by_head_checkpoint_then_by_an_off_host_checkpoint() {
    let mut b = build();
    let last = b.segs.last().unwrap().clone();
    let remaining = first_seq(&last) - 1;
    b.disk.delete_file(&last);

    // The chain alone cannot tell a shorter trail from a younger one; head.checkpoint can.
    match verify(&mut b.disk, vec![]) {
        Err(Error::BehindCheckpoint {
            checkpoint,
            last_seq,
        }) => {
            assert_eq!(checkpoint, b.head);
            assert_eq!(last_seq, remaining);
        }
        other => panic!("{other:?}"),
    }
    // Recovery refuses it too, and changes nothing.
    let before = snapshot(&b.disk);
    match reopen(&mut b.disk, opts()) {
        Err(Error::BehindCheckpoint {
            checkpoint,
            last_seq,
        }) => {
            assert_eq!((checkpoint, last_seq), (b.head, remaining));
        }
        other => panic!("{:?}", other.map(|x| x.1)),
    }
    assert_eq!(snapshot(&b.disk), before);

    // A forger who also deletes head.checkpoint leaves a trail that is internally consistent...
    b.disk.delete_file(HEAD_CHECKPOINT);
    let r = verify(&mut b.disk, vec![]).unwrap();
    assert_eq!(r.records, remaining);
    assert_eq!(r.head.hash, b.receipts[remaining as usize - 1].hash);
    // ...which only a checkpoint shipped off the host exposes.
    match verify(&mut b.disk, vec![b.head]) {
        Err(Error::BehindCheckpoint {
            checkpoint,
            last_seq,
        }) => {
            assert_eq!((checkpoint, last_seq), (b.head, remaining));
        }
        other => panic!("{other:?}"),
    }
    // An older off-host checkpoint within what is left is still proven.
    assert!(b.mid.seq <= remaining);
    verify(&mut b.disk, vec![b.mid]).unwrap();
}

// ---------------------------------------------------------------------------------------------
// (d), (e) segments from elsewhere, segments out of place
// ---------------------------------------------------------------------------------------------

#[test]
fn segment_from_another_trail_is_reported_at_its_log_id() {
    let mut b = build();
    let other = build_with(OTHER_LOG, &payload);
    assert_eq!(b.segs, other.segs, "same shape, same names");
    let name = b.segs[2].clone();
    let foreign = file(&other.disk, &name);
    assert_eq!(foreign.len(), file(&b.disk, &name).len());
    b.disk.write_file(&name, foreign);
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(l, loc(&name, Some(2), Some(16), None), "{what}");
    assert!(what.contains(&OTHER_LOG.to_hex()), "{what}");

    // The other way round: the foreign segment placed last; recovery reads it and refuses too.
    let last = b.segs.last().unwrap().clone();
    let mut b = build();
    b.disk.write_file(&last, file(&other.disk, &last));
    let (l, _) = corrupt(verify(&mut b.disk, vec![]));
    let segno = b.segs.len() as u64 - 1;
    assert_eq!(l, loc(&last, Some(segno), Some(16), None));
    let before = snapshot(&b.disk);
    match reopen(&mut b.disk, opts()) {
        Err(Error::Corrupt { location, .. }) => {
            assert_eq!(location, loc(&last, Some(segno), Some(16), None))
        }
        other => panic!("{:?}", other.map(|x| x.1)),
    }
    assert_eq!(snapshot(&b.disk), before, "a refused open changes nothing");
}

#[test]
fn segment_from_a_fork_with_the_same_log_id_is_reported_at_its_anchor() {
    // A rewritten history: same log id, same sizes, a record changed early on. Its later
    // segments have valid headers, numbers and seqs; only the anchor gives them away.
    let mut b = build();
    let fork = build_with(LOG, &forked_payload(5));
    let name = b.segs[3].clone();
    assert_ne!(file(&fork.disk, &name), file(&b.disk, &name));
    b.disk.write_file(&name, file(&fork.disk, &name));
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(
        l,
        loc(&name, Some(3), Some(48), Some(first_seq(&name))),
        "{what}"
    );
    assert!(what.contains("anchor"), "{what}");
}

#[test]
fn swapped_segment_contents_are_reported_at_the_first_swapped_file() {
    let mut b = build();
    let (s1, s2) = (b.segs[1].clone(), b.segs[2].clone());
    let (c1, c2) = (file(&b.disk, &s1), file(&b.disk, &s2));
    b.disk.write_file(&s1, c2);
    b.disk.write_file(&s2, c1);
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    // The content of segment 2 under the name of segment 1: its first seq disagrees with the name.
    assert_eq!(l, loc(&s1, Some(2), Some(40), None), "{what}");
    assert!(what.contains("does not match the file name"), "{what}");
}

// ---------------------------------------------------------------------------------------------
// (f), (g), (h) sealed segments and records changed
// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_sealed_segment_is_reported_in_that_file() {
    let base = build();
    let name = base.segs[1].clone();
    let orig = file(&base.disk, &name);
    let recs = records(&orig);
    let last = *recs.last().unwrap();
    let footer = footer_offset(&orig) as u64;
    let footer_len = orig.len() - footer as usize;
    let next_seq = last.seq + 1;
    // (bytes cut, expected offset, expected seq)
    let cases = [
        (1, footer, next_seq),
        (8, footer, next_seq),
        (footer_len - 1, footer, next_seq),
        // Exactly at the record boundary: the footer is gone, the records are intact.
        (footer_len, footer, next_seq),
        // Into the last record.
        (footer_len + 1, last.offset as u64, last.seq),
        (
            footer_len + last.len,
            footer - last.len as u64,
            next_seq - 1,
        ),
    ];
    for (cut, offset, seq) in cases {
        let mut b = build();
        b.disk.write_file(&name, orig[..orig.len() - cut].to_vec());
        let (l, what) = corrupt(verify(&mut b.disk, vec![]));
        assert_eq!(
            l,
            loc(&name, Some(1), Some(offset), Some(seq)),
            "cut {cut}: {what}"
        );
    }
}

#[test]
fn edited_record_with_recomputed_crc_is_a_chain_mismatch_at_that_record() {
    let base = build();
    let last_seg = base.segs.last().unwrap().clone();
    let last_segno = base.segs.len() as u64 - 1;
    let last_recs = records(&file(&base.disk, &last_seg));
    let cases = [
        // Inside a sealed segment.
        (
            base.segs[2].clone(),
            2,
            records(&file(&base.disk, &base.segs[2]))[3],
        ),
        // Inside the unsealed last segment, valid records after it.
        (last_seg.clone(), last_segno, last_recs[1]),
        // The very last record, where damage could pass for a torn tail: an edit must not.
        (last_seg.clone(), last_segno, *last_recs.last().unwrap()),
    ];
    for (name, segno, r) in cases {
        let mut b = build();
        edit(&mut b.disk, &name, |bytes| {
            bytes[r.offset + 56 + 5] ^= 0x01; // a payload byte
            refresh_frame_crc(bytes, r);
        });
        let want = loc(&name, Some(segno), Some(r.offset as u64), Some(r.seq));
        let (l, what) = corrupt(verify(&mut b.disk, vec![]));
        assert_eq!(l, want, "{what}");
        assert!(what.contains("chain hash mismatch"), "{what}");

        // Recovery reads the last segment: it refuses the edit with its place (not as a trail
        // shorter than head.checkpoint, and never by cutting it as a torn tail).
        if segno == last_segno {
            let before = snapshot(&b.disk);
            match reopen(&mut b.disk, opts()) {
                Err(Error::Corrupt { location, what }) => {
                    assert_eq!(location, want, "{what}");
                    assert!(what.contains("chain hash mismatch"), "{what}");
                }
                other => panic!("seq {}: {:?}", r.seq, other.map(|x| x.1)),
            }
            assert_eq!(snapshot(&b.disk), before, "a refused open changes nothing");
        }
    }
}

#[test]
fn flipped_bit_followed_by_valid_records_is_refused_with_its_place() {
    let base = build();
    let name = base.segs.last().unwrap().clone();
    let segno = base.segs.len() as u64 - 1;
    let r = records(&file(&base.disk, &name))[2];
    let mut b = build();
    b.disk.flip_bit(&name, (r.offset as u64 + 60) * 8 + 3);
    let want = loc(&name, Some(segno), Some(r.offset as u64), Some(r.seq));
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(l, want, "{what}");
    let resumes = format!(
        "valid records resume at offset {} (seq {})",
        r.offset + r.len,
        r.seq + 1
    );
    assert!(
        what.contains("CRC32C mismatch") && what.contains(&resumes),
        "{what}"
    );
    let before = snapshot(&b.disk);
    match reopen(&mut b.disk, opts()) {
        Err(Error::Corrupt { location, what }) => {
            assert_eq!(location, want, "{what}");
            assert!(what.contains(&resumes), "{what}");
        }
        other => panic!("{:?}", other.map(|x| x.1)),
    }
    assert_eq!(
        snapshot(&b.disk),
        before,
        "valid records after damage are never cut"
    );
}

#[test]
fn re_chained_record_is_reported_at_the_next_link() {
    // A better forger recomputes the edited record's chain hash as well: the record itself
    // checks out, and the break shows at the next record (or the footer, for the last one).
    let base = build();
    let name = base.segs[2].clone();
    let recs = records(&file(&base.disk, &name));
    let (r, next) = (recs[3], recs[4]);
    let prev_hash = base.receipts[r.seq as usize - 2].hash;
    let mut b = build();
    edit(&mut b.disk, &name, |bytes| {
        let p = r.offset + 56 + 5;
        bytes[p] ^= 0x01;
        let ts = u64::from_le_bytes(bytes[r.offset + 16..r.offset + 24].try_into().unwrap());
        let plen =
            (u32::from_le_bytes(bytes[r.offset..r.offset + 4].try_into().unwrap()) >> 8) as usize;
        let payload = bytes[r.offset + 56..r.offset + 56 + plen].to_vec();
        let h = evident_core::hash::chain(
            &prev_hash,
            &evident_core::hash::leaf(KIND_ENTRY, r.seq, ts, &payload),
        );
        bytes[r.offset + 24..r.offset + 56].copy_from_slice(&h.0);
        refresh_frame_crc(bytes, r);
    });
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(
        l,
        loc(&name, Some(2), Some(next.offset as u64), Some(next.seq)),
        "{what}"
    );
    assert!(what.contains("chain hash mismatch"), "{what}");
}

#[test]
fn record_deleted_from_a_sealed_segment_is_a_seq_mismatch() {
    let base = build();
    let name = base.segs[2].clone();
    let recs = records(&file(&base.disk, &name));
    let r = recs[4];
    let mut b = build();
    edit(&mut b.disk, &name, |bytes| {
        bytes.drain(r.offset..r.offset + r.len);
    });
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(
        l,
        loc(&name, Some(2), Some(r.offset as u64), Some(r.seq)),
        "{what}"
    );
    assert!(
        what.contains(&format!("seq {} where {} was expected", r.seq + 1, r.seq)),
        "{what}"
    );

    // Deleting the last record of a sealed segment: the footer no longer matches.
    let last = *recs.last().unwrap();
    let mut b = build();
    edit(&mut b.disk, &name, |bytes| {
        bytes.drain(last.offset..last.offset + last.len);
    });
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(
        l,
        loc(&name, Some(2), Some(last.offset as u64), Some(last.seq)),
        "{what}"
    );
    assert!(what.contains("footer"), "{what}");
}

#[test]
fn duplicated_record_in_a_sealed_segment_is_a_seq_mismatch() {
    let base = build();
    let name = base.segs[1].clone();
    let r = records(&file(&base.disk, &name))[2];
    let mut b = build();
    edit(&mut b.disk, &name, |bytes| {
        let copy = bytes[r.offset..r.offset + r.len].to_vec();
        bytes.splice(r.offset + r.len..r.offset + r.len, copy);
    });
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    let at = (r.offset + r.len) as u64;
    assert_eq!(l, loc(&name, Some(1), Some(at), Some(r.seq + 1)), "{what}");
}

// ---------------------------------------------------------------------------------------------
// (i) checkpoints
// ---------------------------------------------------------------------------------------------

#[test]
fn edited_head_checkpoint_is_a_checkpoint_mismatch() {
    let mut b = build();
    let mut forged = b.head;
    forged.hash.0[0] ^= 0xff;
    b.disk
        .write_file(HEAD_CHECKPOINT, forged.to_text().into_bytes());
    match verify(&mut b.disk, vec![]) {
        Err(Error::CheckpointMismatch { checkpoint, .. }) => assert_eq!(checkpoint, forged),
        other => panic!("{other:?}"),
    }
    // Recovery checks head.checkpoint against the last segment and refuses too.
    match reopen(&mut b.disk, opts()) {
        Err(Error::CheckpointMismatch { checkpoint, .. }) => assert_eq!(checkpoint, forged),
        other => panic!("{:?}", other.map(|x| x.1)),
    }

    // A head.checkpoint that is not in canonical form is reported as a damaged file.
    let text = b.head.to_text().replace("seq ", "seq  ");
    b.disk.write_file(HEAD_CHECKPOINT, text.into_bytes());
    let (l, _) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(l.file.as_deref(), Some(HEAD_CHECKPOINT));
}

#[test]
fn off_host_checkpoints_that_do_not_match_are_reported() {
    let mut b = build();
    // Wrong hash at a seq in a sealed segment.
    let mut wrong = b.mid;
    wrong.hash = Hash([0x42; 32]);
    match verify(&mut b.disk, vec![wrong]) {
        Err(Error::CheckpointMismatch { checkpoint, what }) => {
            assert_eq!(checkpoint, wrong);
            assert!(what.contains(&format!("record {}", b.mid.seq)), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // Another trail's checkpoint.
    let foreign = Checkpoint {
        log_id: OTHER_LOG,
        ..b.mid
    };
    match verify(&mut b.disk, vec![foreign]) {
        Err(Error::CheckpointMismatch { checkpoint, what }) => {
            assert_eq!(checkpoint, foreign);
            assert!(what.contains(&OTHER_LOG.to_hex()), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // The empty trail's checkpoint with a wrong genesis.
    let bad_genesis = Checkpoint {
        hash: Hash([1; 32]),
        ..Checkpoint::empty(LOG)
    };
    assert!(
        matches!(
            verify(&mut b.disk, vec![bad_genesis]),
            Err(Error::CheckpointMismatch { .. })
        ),
        "seq 0 is checked against the genesis hash"
    );
    // A checkpoint beyond the end of the trail.
    let beyond = Checkpoint {
        seq: RECORDS + 5,
        ..b.head
    };
    match verify(&mut b.disk, vec![beyond]) {
        Err(Error::BehindCheckpoint {
            checkpoint,
            last_seq,
        }) => {
            assert_eq!((checkpoint, last_seq), (beyond, RECORDS));
        }
        other => panic!("{other:?}"),
    }
    // At a segment boundary: the checkpoint of the last record of a sealed segment is also
    // checked against the next segment's anchor.
    let boundary = first_seq(&b.segs[2]) - 1;
    let mut at_boundary = Checkpoint {
        log_id: LOG,
        seq: boundary,
        hash: b.receipts[boundary as usize - 1].hash,
    };
    verify(&mut b.disk, vec![at_boundary]).unwrap();
    at_boundary.hash.0[31] ^= 1;
    assert!(matches!(
        verify(&mut b.disk, vec![at_boundary]),
        Err(Error::CheckpointMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// (j) segment headers
// ---------------------------------------------------------------------------------------------

#[test]
fn edited_segment_header_with_recomputed_crc_is_reported_in_that_file() {
    let base = build();
    let name = base.segs[2].clone();
    let fs = first_seq(&name);
    type HeaderEdit = fn(&mut [u8]);
    let cases: [(&str, HeaderEdit, Location, &str); 4] = [
        (
            "log id",
            |h| h[16] ^= 1,
            loc(&name, Some(2), Some(16), None),
            "belongs to log",
        ),
        (
            "segment number",
            |h| h[32] = 9,
            loc(&name, Some(9), Some(32), Some(fs)),
            "segment number 9 where 2 was expected",
        ),
        (
            "first seq",
            |h| h[40] = h[40].wrapping_add(1),
            loc(&name, Some(2), Some(40), None),
            "does not match the file name",
        ),
        (
            "anchor",
            |h| h[60] ^= 0x80,
            loc(&name, Some(2), Some(48), Some(fs)),
            "anchor",
        ),
    ];
    for (field, f, want, text) in cases {
        let mut b = build();
        edit(&mut b.disk, &name, |bytes| {
            f(bytes);
            refresh_header_crc(bytes);
        });
        let (l, what) = corrupt(verify(&mut b.disk, vec![]));
        assert_eq!(l, want, "{field}: {what}");
        assert!(what.contains(text), "{field}: {what}");
    }

    // Without the CRC recomputed, the header itself is refused at offset 0.
    let mut b = build();
    edit(&mut b.disk, &name, |bytes| bytes[60] ^= 0x80);
    let (l, what) = corrupt(verify(&mut b.disk, vec![]));
    assert_eq!(l, loc(&name, None, Some(0), None), "{what}");
    assert!(what.contains("CRC"), "{what}");
}

// ---------------------------------------------------------------------------------------------
// (k), (l), (m) the tail of the last segment, and recovery
// ---------------------------------------------------------------------------------------------

/// The last segment's name, segment number, and the end of its last record.
fn tail_of(b: &Built) -> (String, u64, u64) {
    let name = b.segs.last().unwrap().clone();
    let end = records(&file(&b.disk, &name))
        .last()
        .map(|r| (r.offset + r.len) as u64)
        .unwrap();
    (name, b.segs.len() as u64 - 1, end)
}

/// Two ways to leave garbage after the last record: over the preallocated zeros right at the
/// end of the records, or past the end of the preallocated file (zeros, then garbage).
fn add_garbage(b: &mut Built, at_records_end: bool) {
    let (name, _, end) = tail_of(b);
    edit(&mut b.disk, &name, |bytes| {
        let garbage = [0xab_u8; 40];
        if at_records_end {
            let e = end as usize;
            bytes[e..e + garbage.len()].copy_from_slice(&garbage);
        } else {
            bytes.extend_from_slice(&garbage);
        }
    });
}

#[test]
fn garbage_after_the_last_record_is_a_torn_tail_that_recovery_cuts() {
    for at_records_end in [true, false] {
        let mut b = build();
        add_garbage(&mut b, at_records_end);
        let (name, segno, end) = tail_of(&b);
        let file_len = file(&b.disk, &name).len() as u64;
        match verify(&mut b.disk, vec![b.mid]) {
            Err(Error::TornTail { location, len }) => {
                assert_eq!(
                    location,
                    loc(&name, Some(segno), Some(end), Some(RECORDS + 1))
                );
                // The bytes of data torn, not the preallocated zeros after them.
                let data = if at_records_end { 40 } else { file_len - end };
                assert_eq!(len, data);
            }
            other => panic!("{other:?}"),
        }

        let (mut t, rep) = reopen(&mut b.disk, opts()).unwrap();
        match &rep.tail {
            TailReport::Truncated {
                file,
                offset,
                bytes,
                first_lost_seq,
                found,
            } => {
                assert_eq!(file, &name);
                assert_eq!(*offset, end);
                assert_eq!(*bytes, if at_records_end { 40 } else { file_len - end });
                assert_eq!(*first_lost_seq, RECORDS + 1);
                assert!(!found.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(rep.head, b.head, "every acknowledged record is still there");
        assert_eq!(
            file(&b.disk, &name).len() as u64,
            end,
            "cut at the end of the records"
        );
        let r = verify(&mut b.disk, vec![b.mid, b.head]).unwrap();
        assert_eq!((r.records, r.head), (RECORDS, b.head));

        // And the trail continues the chain.
        t.handle_append(1000, b"after repair".to_vec(), T0).unwrap();
        let (ev, _) = drive(&mut t, &mut b.disk, 10_000);
        assert!(
            matches!(&ev[..], [Event::Appended { token: 1000, receipt }] if receipt.seq == RECORDS + 1),
            "{ev:?}"
        );
        assert_eq!(
            verify(&mut b.disk, vec![b.head]).unwrap().records,
            RECORDS + 1
        );
    }
}

#[test]
fn absolute_consistency_refuses_a_torn_tail_and_changes_nothing() {
    let mut b = build();
    add_garbage(&mut b, true);
    let (name, segno, end) = tail_of(&b);
    let file_len = file(&b.disk, &name).len() as u64;
    let before = snapshot(&b.disk);
    let o = Options {
        recovery: RecoveryMode::AbsoluteConsistency,
        ..opts()
    };
    let (mut t, ev) = open_events(&mut b.disk, o);
    match &ev[..] {
        [Event::OpenFailed(Error::TornTail { location, len })] => {
            assert_eq!(
                location,
                &loc(&name, Some(segno), Some(end), Some(RECORDS + 1))
            );
            assert!(
                file_len - end > 40,
                "the garbage sits in preallocated space"
            );
            assert_eq!(*len, 40, "the data torn, not the zeros after it");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&b.disk), before, "nothing on disk changed");
    assert_eq!(t.handle_append(1, b"x".to_vec(), T0), Err(Error::NotOpen));
    assert!(t.is_closed());
}

#[test]
fn recovery_refuses_a_trail_cut_below_its_head_checkpoint() {
    let base = build();
    let (name, _, _) = tail_of(&base);
    let recs = records(&file(&base.disk, &name));
    assert!(recs.len() >= 3, "{recs:?}");
    let keep = recs[recs.len() - 3];
    let cut_at = keep.offset + keep.len;
    let last_kept = keep.seq;

    // Cut at a record boundary (what a crash can never produce below a synced checkpoint), or
    // the same records zeroed out (which looks like preallocated space).
    for zero_fill in [false, true] {
        let mut b = build();
        edit(&mut b.disk, &name, |bytes| {
            if zero_fill {
                bytes[cut_at..].fill(0);
            } else {
                bytes.truncate(cut_at);
            }
        });
        let before = snapshot(&b.disk);
        match reopen(&mut b.disk, opts()) {
            Err(Error::BehindCheckpoint {
                checkpoint,
                last_seq,
            }) => {
                assert_eq!((checkpoint, last_seq), (b.head, last_kept));
            }
            other => panic!("zero fill {zero_fill}: {:?}", other.map(|x| x.1)),
        }
        assert_eq!(snapshot(&b.disk), before, "a refused open changes nothing");
        match verify(&mut b.disk, vec![]) {
            Err(Error::BehindCheckpoint {
                checkpoint,
                last_seq,
            }) => {
                assert_eq!((checkpoint, last_seq), (b.head, last_kept));
            }
            other => panic!("{other:?}"),
        }
    }
}
