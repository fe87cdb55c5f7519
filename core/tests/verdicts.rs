//! Honest verdicts: verification and recovery agree on damage a checkpoint covers, a torn tail
//! is measured in bytes of data, seqs never wrap, and the search for valid records after damage
//! does work linear in the bytes it searches.

use evident_core::frame::{encode_entry, entry_frame_len, KIND_ENTRY};
use evident_core::hash::{chain, genesis, leaf, Hash};
use evident_core::header::{SegmentHeader, HEADER_LEN};
use evident_core::naming::{self, HEAD_CHECKPOINT};
use evident_core::scan::{DamageKind, ScanStart, SegmentEnd, SegmentScanner};
use evident_core::sim::{drive, verify, FakeDisk, Faults};
use evident_core::verify::Verifier;
use evident_core::{Checkpoint, Error, Event, Options, Trail};

mod verdict_trails;
use verdict_trails::{reopen, LOG, T0};

/// [`verdict_trails::closed_trail`], and the offset of its record 10.
fn closed_trail(disk: &mut FakeDisk) -> (String, u64) {
    let name = verdict_trails::closed_trail(disk);
    let frame = entry_frame_len("record 01".len()) as u64;
    (name, HEADER_LEN as u64 + 9 * frame)
}

#[test]
fn damage_to_a_record_head_checkpoint_covers_is_corruption_in_verify_and_recovery() {
    let mut disk = FakeDisk::new(1, Faults::default());
    let (name, last) = closed_trail(&mut disk);
    // One bit of the last record's payload: nothing valid follows it, so without a checkpoint
    // it would look like an interrupted write.
    disk.flip_bit(&name, (last + 60) * 8);
    let v = verify(&mut disk, vec![]);
    let Err(Error::Corrupt { location, what }) = &v else {
        panic!("verify must call it corruption, got {v:?}");
    };
    assert_eq!((location.offset, location.seq), (Some(last), Some(10)));
    assert!(what.contains("checkpoint at seq 10"), "{what}");
    let r = reopen(&mut disk);
    let Err(Error::Corrupt { location: l2, .. }) = &r else {
        panic!("recovery must refuse it as corruption, got {r:?}");
    };
    assert_eq!(l2, location, "verify and recovery name the same place");
}

#[test]
fn a_checkpoint_given_on_the_command_line_also_makes_it_corruption() {
    let mut disk = FakeDisk::new(2, Faults::default());
    let (name, last) = closed_trail(&mut disk);
    let (head, _root) = Checkpoint::parse_own_file(&String::from_utf8_lossy(
        disk.read_file(HEAD_CHECKPOINT).unwrap(),
    ))
    .unwrap();
    disk.delete_file(HEAD_CHECKPOINT);
    disk.flip_bit(&name, (last + 60) * 8);
    assert!(matches!(
        verify(&mut disk, vec![head]),
        Err(Error::Corrupt { .. })
    ));
    // Without any checkpoint it is a torn tail of the record's bytes, not of the megabytes of
    // preallocated zeros after it.
    match verify(&mut disk, vec![]) {
        Err(Error::TornTail { location, len }) => {
            assert_eq!(location.offset, Some(last));
            // The frame up to its last non-zero byte (its zero padding looks like the zeros).
            assert_eq!(len, 56 + "record 10".len() as u64);
            let file_len = disk.read_file(&name).unwrap().len() as u64;
            assert!(file_len - last > 1 << 20, "preallocated zeros follow");
        }
        other => panic!("{other:?}"),
    }
}

/// A segment file: `header` then an entry per `(seq, payload)`, chained from the anchor.
fn segment(h: &SegmentHeader, seqs: &[u64]) -> Vec<u8> {
    let mut bytes = h.encode().to_vec();
    let mut prev = h.anchor;
    for &seq in seqs {
        let payload = format!("seq {seq}").into_bytes();
        let hash = chain(&prev, &leaf(KIND_ENTRY, seq, T0, &payload));
        encode_entry(&mut bytes, seq, T0, &hash, &payload);
        prev = hash;
    }
    bytes
}

#[test]
fn seqs_that_wrap_past_u64_max_are_corruption() {
    let retained = Checkpoint {
        log_id: LOG,
        seq: u64::MAX - 1,
        hash: Hash([5; 32]),
    };
    let h = SegmentHeader {
        version: evident_core::header::FormatVersion::V2,
        log_id: LOG,
        segno: 9,
        first_seq: u64::MAX,
        anchor: retained.hash,
    };
    let bytes = segment(&h, &[u64::MAX, 0, 1]);
    let name = naming::segment_name(u64::MAX);
    let mut v = Verifier::new(vec![], Some(retained));
    v.begin_segment(&name, bytes.len() as u64, true).unwrap();
    let r = v.push(&bytes).and_then(|()| v.finish().map(|_| ()));
    match r {
        Err(Error::Corrupt { location, what }) => {
            assert_eq!(location.offset, Some(HEADER_LEN as u64), "{what}");
            assert!(what.contains("wrap"), "{what}");
        }
        other => panic!("a wrapped seq must not verify: {other:?}"),
    }
}

#[test]
fn the_writer_refuses_to_assign_the_last_seq() {
    // A scanner started just before the end of the seq space accepts u64::MAX - 1 and refuses
    // u64::MAX; the writer's own refusal is tested in the trail module.
    let h = SegmentHeader {
        version: evident_core::header::FormatVersion::V2,
        log_id: LOG,
        segno: 3,
        first_seq: u64::MAX - 1,
        anchor: Hash([1; 32]),
    };
    let bytes = segment(&h, &[u64::MAX - 1, u64::MAX]);
    let mut s = SegmentScanner::new(ScanStart {
        version: evident_core::header::FormatVersion::V2,
        offset: HEADER_LEN as u64,
        file_len: bytes.len() as u64,
        seq: u64::MAX - 1,
        prev_hash: Some(h.anchor),
        prev_ts: 0,
        index_stride: 64 * 1024,
        strict: false,
    });
    s.push(&bytes[HEADER_LEN..]);
    let mut n = 0;
    while s.next_record().is_some() {
        n += 1;
    }
    let sum = s.finish();
    assert_eq!(n, 1);
    assert!(
        matches!(&sum.end, SegmentEnd::Corrupt(d) if d.kind == DamageKind::SeqOverflow),
        "{:?}",
        sum.end
    );
}

/// Junk after one good record in which every 16-byte pair of words starts a candidate entry
/// continuing the segment (kind 1, the next seq) that claims the largest frame fitting the
/// file, with a wrong CRC: the worst case for the search for valid records after damage (the
/// old search hashed each candidate's whole frame, so its work grew with the square of the
/// junk's size).
fn junk_segment(junk: usize) -> Vec<u8> {
    let h = SegmentHeader {
        version: evident_core::header::FormatVersion::V2,
        log_id: LOG,
        segno: 0,
        first_seq: 1,
        anchor: genesis(&LOG),
    };
    let mut bytes = segment(&h, &[1]);
    let start = bytes.len();
    bytes.resize(start + junk, 0);
    for at in (start..start + junk).step_by(16) {
        let room = start + junk - at;
        if room < 64 {
            break;
        }
        let payload = (room - 56).min((1 << 24) - 1);
        let word0 = KIND_ENTRY as u32 | ((payload as u32) << 8);
        bytes[at..at + 4].copy_from_slice(&word0.to_le_bytes());
        bytes[at + 4..at + 8].copy_from_slice(&(at as u32 ^ 0x5a5a_5a5a).to_le_bytes());
        bytes[at + 8..at + 16].copy_from_slice(&2u64.to_le_bytes());
    }
    bytes
}

#[test]
fn the_search_after_damage_does_linear_work_in_the_bytes_searched() {
    let mut per_mb = Vec::new();
    for mb in [1usize, 2, 4, 8] {
        let junk = mb << 20;
        let bytes = junk_segment(junk);
        let mut s = SegmentScanner::new(ScanStart {
            version: evident_core::header::FormatVersion::V2,
            offset: HEADER_LEN as u64,
            file_len: bytes.len() as u64,
            seq: 1,
            prev_hash: Some(genesis(&LOG)),
            prev_ts: 0,
            index_stride: 64 * 1024,
            strict: false,
        });
        for chunk in bytes[HEADER_LEN..].chunks(1 << 20) {
            s.push(chunk);
            while s.next_record().is_some() {}
        }
        let sum = s.finish();
        assert!(
            matches!(sum.end, SegmentEnd::Torn { .. }),
            "junk with no valid frame is a torn tail: {:?}",
            sum.end
        );
        assert!(sum.tail_search_hashed > 0, "candidates were checked");
        assert!(
            sum.tail_search_hashed <= 2 * junk as u64,
            "{mb} MiB of candidates cost {} bytes of CRC work",
            sum.tail_search_hashed
        );
        per_mb.push(sum.tail_search_hashed / mb as u64);
    }
    // Quadratic work would grow per MiB with the size; linear work stays flat.
    let (lo, hi) = (per_mb.iter().min().unwrap(), per_mb.iter().max().unwrap());
    assert!(hi - lo <= lo / 8, "work per MiB {per_mb:?}");
}

#[test]
fn a_limit_of_zero_returns_zero_records() {
    let mut disk = FakeDisk::new(3, Faults::default());
    closed_trail(&mut disk);
    for newest in [false, true] {
        let spec = evident_core::query::QuerySpec {
            limit: Some(0),
            newest,
            ..Default::default()
        };
        let r = evident_core::sim::query(&mut disk, spec).unwrap();
        assert_eq!(r.records.len(), 0, "newest {newest}");
    }
    let spec = evident_core::query::QuerySpec {
        limit: Some(1),
        ..Default::default()
    };
    assert_eq!(
        evident_core::sim::query(&mut disk, spec)
            .unwrap()
            .records
            .len(),
        1
    );
}

/// [`verdict_trails::multi_segment_trail`], and the checkpoint just before segment 1 (what a
/// retention removing segment 0 would record).
fn multi_segment_trail(disk: &mut FakeDisk) -> (Vec<String>, Checkpoint) {
    let segs = verdict_trails::multi_segment_trail(disk);
    let h1 = SegmentHeader::decode(&disk.read_file(&segs[1]).unwrap()[..HEADER_LEN]).unwrap();
    let cp = Checkpoint {
        log_id: LOG,
        seq: h1.first_seq - 1,
        hash: h1.anchor,
    };
    (segs, cp)
}

#[test]
fn a_wrong_retained_checkpoint_is_refused_when_segment_0_is_present() {
    let mut disk = FakeDisk::new(4, Faults::default());
    let (_, cp) = multi_segment_trail(&mut disk);
    disk.write_file(naming::RETAINED_CHECKPOINT, cp.to_text().into_bytes());
    verify(&mut disk, vec![]).expect("a right retention checkpoint is fine");
    let wrong = Checkpoint {
        hash: Hash([0xab; 32]),
        ..cp
    };
    disk.write_file(naming::RETAINED_CHECKPOINT, wrong.to_text().into_bytes());
    let r = verify(&mut disk, vec![]);
    assert!(
        matches!(r, Err(Error::CheckpointMismatch { checkpoint, .. }) if checkpoint == wrong),
        "{r:?}"
    );
}

#[test]
fn records_removed_behind_retained_checkpoint_are_not_proven() {
    let mut disk = FakeDisk::new(5, Faults::default());
    let (segs, cp) = multi_segment_trail(&mut disk);
    disk.delete_file(&segs[0]);
    disk.write_file(naming::RETAINED_CHECKPOINT, cp.to_text().into_bytes());
    let r = verify(&mut disk, vec![]).expect("the kept segments verify");
    assert_eq!(r.first_seq, cp.seq + 1);
    assert_eq!(
        r.anchored_by,
        Some(cp),
        "the report says what vouches for the start"
    );
    assert!(r.checkpoints_verified.iter().all(|c| c.seq > cp.seq));
    // A checkpoint given by the caller inside the missing range (even the one the retention
    // checkpoint repeats) is not proven by a trail that does not hold its record.
    for given in [cp] {
        match verify(&mut disk, vec![given]) {
            Err(Error::CheckpointMismatch { what, .. }) => {
                assert!(what.contains("not proven"), "{what}");
                assert!(what.contains(&format!("1..={}", cp.seq)), "{what}");
            }
            other => panic!("seq {} must not be proven: {other:?}", given.seq),
        }
    }
}

#[test]
fn out_of_range_options_fail_the_open_with_the_allowed_range() {
    let cases: Vec<(Options, &str)> = vec![
        (
            Options {
                segment_bytes: 0,
                ..Options::default()
            },
            "segment-bytes is 0; allowed range is 1024 ..= 1099511627776",
        ),
        (
            Options {
                segment_bytes: 1,
                ..Options::default()
            },
            "segment-bytes is 1;",
        ),
        (
            Options {
                max_payload: 1 << 24,
                ..Options::default()
            },
            "max-payload is 16777216; allowed range is 1 ..= 16777215",
        ),
        (
            Options {
                max_batch_records: 0,
                ..Options::default()
            },
            "max-batch-records is 0",
        ),
        (
            Options {
                read_chunk: 1,
                ..Options::default()
            },
            "read-chunk is 1",
        ),
    ];
    for (o, want) in cases {
        let mut disk = FakeDisk::new(6, Faults::default());
        let mut t = Trail::open(o, LOG, 1);
        let (ev, _) = drive(&mut t, &mut disk, 1000);
        match &ev[..] {
            [Event::OpenFailed(Error::InvalidArgument { what })] => {
                assert!(what.contains(want), "{what} / {want}")
            }
            other => panic!("{want}: {other:?}"),
        }
        assert!(disk.file_names().is_empty(), "nothing was created");
        assert!(Options::default().validate().is_ok());
    }
    let edge = Options {
        segment_bytes: 1024,
        max_payload: (1 << 24) - 1,
        ..Options::default()
    };
    assert_eq!(edge.validate(), Ok(()));
}

#[test]
fn head_checkpoint_is_refreshed_while_records_become_durable_and_a_crash_keeps_its_cover() {
    let mut disk = FakeDisk::new(8, Faults::default());
    let mut t = Trail::open(Options::default(), LOG, 1);
    drive(&mut t, &mut disk, 100_000);
    for i in 1..=5u64 {
        t.handle_append(i, format!("record {i:02}").into_bytes(), T0 + i)
            .unwrap();
    }
    let (ev, _) = drive(&mut t, &mut disk, 100_000);
    assert!(
        !ev.iter().any(|e| matches!(e, Event::CheckpointWritten(_))),
        "no refresh before the interval: {ev:?}"
    );
    let at = t.poll_timeout().expect("a refresh is scheduled");
    assert_eq!(at, 1 + 1_000_000_000, "one interval after the open");
    t.handle_timeout(at);
    let (ev, _) = drive(&mut t, &mut disk, 100_000);
    let written: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::CheckpointWritten(cp) => Some(cp.seq),
            _ => None,
        })
        .collect();
    assert_eq!(written, vec![5], "{ev:?}");
    assert_eq!(t.poll_timeout(), None, "nothing new to cover: no timer");
    // A crash (the trail is never closed), then damage to the last acknowledged record.
    disk.process_crash();
    let name = naming::segment_name(1);
    let last = HEADER_LEN as u64 + 4 * entry_frame_len("record 01".len()) as u64;
    disk.flip_bit(&name, (last + 60) * 8);
    assert!(matches!(
        verify(&mut disk, vec![]),
        Err(Error::Corrupt { .. })
    ));
    assert!(matches!(reopen(&mut disk), Err(Error::Corrupt { .. })));
}

#[test]
fn a_file_that_looks_like_a_segment_but_is_misnamed_fails_verification() {
    let mut disk = FakeDisk::new(9, Faults::default());
    let (segs, _) = multi_segment_trail(&mut disk);
    verify(&mut disk, vec![]).expect("intact");
    let copy = disk.read_file(&segs[1]).unwrap().to_vec();
    // Explained names pass: a copy set aside by repair.
    disk.write_file(
        &format!("{}{}7", segs[1], naming::DAMAGED_INFIX),
        copy.clone(),
    );
    let r = verify(&mut disk, vec![]).expect("a repair copy is explained");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    for odd in ["1.evseg", "00000000000000000017.evseg.bak", "backup.bin"] {
        disk.write_file(odd, copy.clone());
        match verify(&mut disk, vec![]) {
            Err(Error::Corrupt { location, what }) => {
                assert_eq!(location.file.as_deref(), Some(odd), "{what}");
                assert!(what.contains("naming rule"), "{what}");
            }
            other => panic!("{odd} must not pass silently: {other:?}"),
        }
        disk.delete_file(odd);
    }
    // A file of another kind is no business of the trail's.
    disk.write_file("notes.txt", b"operator notes".to_vec());
    verify(&mut disk, vec![]).expect("unrelated files are ignored");
}

#[test]
fn a_multi_segment_trail_without_head_checkpoint_is_flagged() {
    let mut disk = FakeDisk::new(10, Faults::default());
    multi_segment_trail(&mut disk);
    assert!(verify(&mut disk, vec![]).unwrap().warnings.is_empty());
    disk.delete_file(HEAD_CHECKPOINT);
    let r = verify(&mut disk, vec![]).unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].contains("no head.checkpoint"),
        "{:?}",
        r.warnings
    );
}
