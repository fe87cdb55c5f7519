//! A last segment whose header is short or does not decode (an interrupted segment creation)
//! is a torn tail only when no available checkpoint covers its first seq (FORMAT.md,
//! "Verification rules", rule 1): then verification and recovery agree that it is corruption,
//! at that file, offset 0, that seq, and recovery refuses before it removes anything.

use evident_core::header::{SegmentHeader, HEADER_LEN};
use evident_core::naming::{self, HEAD_CHECKPOINT};
use evident_core::sim::{verify, FakeDisk, Faults};
use evident_core::{Checkpoint, Error};

mod verdict_trails;
use verdict_trails::{closed_trail, multi_segment_trail, reopen, LOG};

/// The segment's content after the damage: a header cut short (file under 128 bytes), a
/// header of zeros (the whole file zeroed), and a file of only zeros shorter than a header.
fn damaged_versions(original: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("cut to 100 bytes", original[..100].to_vec()),
        ("cut to 0 bytes", Vec::new()),
        ("zeroed, short", vec![0; 60]),
        ("zeroed, full length", vec![0; original.len()]),
    ]
}

fn assert_covered_corruption(r: &Result<impl std::fmt::Debug, Error>, name: &str, case: &str) {
    let Err(Error::Corrupt { location, what }) = r else {
        panic!("{case}: must be corruption, got {r:?}");
    };
    assert_eq!(location.file.as_deref(), Some(name), "{case}: {what}");
    assert_eq!(location.offset, Some(0), "{case}: {what}");
    assert_eq!(location.seq, Some(1), "{case}: {what}");
    assert!(what.contains("checkpoint at seq 10"), "{case}: {what}");
}

#[test]
fn verify_calls_an_unwritten_header_a_checkpoint_covers_corruption() {
    for case in 0..4 {
        let mut disk = FakeDisk::new(10 + case as u64, Faults::default());
        let name = closed_trail(&mut disk);
        let (what, bytes) = damaged_versions(disk.read_file(&name).unwrap()).swap_remove(case);
        disk.write_file(&name, bytes);
        assert_covered_corruption(&verify(&mut disk, vec![]), &name, what);
    }
}

#[test]
fn recovery_refuses_an_unwritten_header_a_checkpoint_covers_and_changes_nothing() {
    for case in 0..4 {
        let mut disk = FakeDisk::new(20 + case as u64, Faults::default());
        let name = closed_trail(&mut disk);
        let (what, bytes) = damaged_versions(disk.read_file(&name).unwrap()).swap_remove(case);
        disk.write_file(&name, bytes.clone());
        let names = disk.file_names();
        let r = reopen(&mut disk);
        assert_covered_corruption(&r, &name, what);
        assert_eq!(
            disk.file_names(),
            names,
            "{what}: nothing removed or created"
        );
        assert_eq!(
            disk.read_file(&name),
            Some(&bytes[..]),
            "{what}: file unchanged"
        );
        // And verification still says the same afterwards.
        assert_covered_corruption(&verify(&mut disk, vec![]), &name, what);
    }
}

#[test]
fn without_a_covering_checkpoint_a_short_header_is_a_torn_tail_of_its_data_bytes() {
    let mut disk = FakeDisk::new(30, Faults::default());
    let name = closed_trail(&mut disk);
    disk.delete_file(HEAD_CHECKPOINT);
    // 40 bytes of header, then zeros up to 100 bytes: the torn data is the 40 bytes.
    let mut bytes = disk.read_file(&name).unwrap()[..HEADER_LEN].to_vec();
    bytes.truncate(100);
    bytes[40..].fill(0);
    let last_non_zero = bytes.iter().rposition(|&b| b != 0).unwrap() as u64 + 1;
    assert!(last_non_zero <= 40 && last_non_zero > 0);
    disk.write_file(&name, bytes);
    match verify(&mut disk, vec![]) {
        Err(Error::TornTail { location, len }) => {
            assert_eq!(location.file.as_deref(), Some(name.as_str()));
            assert_eq!(location.offset, Some(0));
            assert_eq!(len, last_non_zero, "zeros after the data are not torn data");
        }
        other => panic!("{other:?}"),
    }
    // A file of only zeros shorter than a header holds no data at all.
    disk.write_file(&name, vec![0; 60]);
    match verify(&mut disk, vec![]) {
        Err(Error::TornTail { len, .. }) => assert_eq!(len, 0),
        other => panic!("{other:?}"),
    }
    // Recovery removes it (nothing in it was acknowledged) and starts the trail anew.
    reopen(&mut disk).expect("an interrupted creation nothing covers is removed");
    verify(&mut disk, vec![]).expect("the recovered trail verifies");
}

#[test]
fn the_last_of_several_segments_cut_to_a_short_header_is_corruption_when_covered() {
    let mut disk = FakeDisk::new(40, Faults::default());
    let segs = multi_segment_trail(&mut disk);
    let name = segs.last().unwrap().clone();
    let first = naming::parse_segment_name(&name).unwrap();
    let bytes = disk.read_file(&name).unwrap()[..100].to_vec();
    disk.write_file(&name, bytes.clone());
    for r in [
        verify(&mut disk, vec![]),
        reopen(&mut disk).map(|_| unreachable!()),
    ] {
        let Err(Error::Corrupt { location, what }) = &r else {
            panic!("must be corruption, got {r:?}");
        };
        assert_eq!(location.file.as_deref(), Some(name.as_str()), "{what}");
        assert_eq!(
            (location.offset, location.seq),
            (Some(0), Some(first)),
            "{what}"
        );
    }
    assert_eq!(
        disk.read_file(&name),
        Some(&bytes[..]),
        "recovery changed nothing"
    );
}

#[test]
fn an_interrupted_segment_creation_after_the_checkpoint_is_still_removed() {
    // A crash while rotating: the previous segment is sealed, the new one (first seq F) has no
    // header yet, and `head.checkpoint` is at F - 1. It does not cover the new segment, so that
    // is an interrupted creation (a torn tail, removed by recovery), not damage.
    let mut disk = FakeDisk::new(41, Faults::default());
    let segs = multi_segment_trail(&mut disk);
    let name = segs.last().unwrap().clone();
    let h = SegmentHeader::decode(&disk.read_file(&name).unwrap()[..HEADER_LEN]).unwrap();
    let cp = Checkpoint {
        log_id: LOG,
        seq: h.first_seq - 1,
        hash: h.anchor,
    };
    disk.write_file(HEAD_CHECKPOINT, cp.to_text().into_bytes());
    disk.write_file(&name, vec![0; 60]);
    match verify(&mut disk, vec![]) {
        Err(Error::TornTail { location, len }) => {
            assert_eq!(location.file.as_deref(), Some(name.as_str()));
            assert_eq!(len, 0);
        }
        other => panic!("{other:?}"),
    }
    reopen(&mut disk).expect("recovery removes the unwritten segment");
    let r = verify(&mut disk, vec![]).expect("recovered trail verifies");
    assert_eq!(r.head.seq, cp.seq);
    assert_eq!(
        disk.read_file(&name).map(|b| b.len() >= HEADER_LEN),
        Some(true),
        "the segment was made anew with a header"
    );
}

#[test]
fn only_the_last_segment_may_be_an_unwritten_one_and_a_refusal_removes_nothing() {
    // Two trailing segments without a header after a sealed one, `head.checkpoint` before
    // both: verify calls the earlier one corruption (only the last segment may be an
    // interrupted creation), so recovery must refuse it too, and must not have removed the
    // last one first.
    let mut disk = FakeDisk::new(42, Faults::default());
    let segs = multi_segment_trail(&mut disk);
    let first = segs.last().unwrap().clone();
    let h = SegmentHeader::decode(&disk.read_file(&first).unwrap()[..HEADER_LEN]).unwrap();
    let cp = Checkpoint {
        log_id: LOG,
        seq: h.first_seq - 1,
        hash: h.anchor,
    };
    disk.write_file(HEAD_CHECKPOINT, cp.to_text().into_bytes());
    disk.write_file(&first, vec![0; 60]);
    let second = naming::segment_name(h.first_seq + 1);
    disk.write_file(&second, vec![0; 60]);
    let names = disk.file_names();
    let v = verify(&mut disk, vec![]);
    let r = reopen(&mut disk);
    for r in [v.map(|_| ()), r] {
        let Err(Error::Corrupt { location, what }) = &r else {
            panic!("must be corruption, got {r:?}");
        };
        assert_eq!(location.file.as_deref(), Some(first.as_str()), "{what}");
        assert_eq!(location.offset, Some(0), "{what}");
    }
    assert_eq!(disk.file_names(), names, "nothing removed");
}

#[test]
fn an_open_that_refuses_the_trail_leaves_an_unwritten_last_segment_in_place() {
    // After a sealed segment (`head.checkpoint` before it), the last segment has no header and
    // the segment before it has an edited record. Recovery refuses the edit; it must not have
    // removed the unwritten segment on the way.
    let mut disk = FakeDisk::new(43, Faults::default());
    let segs = multi_segment_trail(&mut disk);
    let unwritten = segs.last().unwrap().clone();
    let sealed = segs[segs.len() - 2].clone();
    let h = SegmentHeader::decode(&disk.read_file(&unwritten).unwrap()[..HEADER_LEN]).unwrap();
    let cp = Checkpoint {
        log_id: LOG,
        seq: h.first_seq - 1,
        hash: h.anchor,
    };
    disk.write_file(HEAD_CHECKPOINT, cp.to_text().into_bytes());
    disk.write_file(&unwritten, vec![0; 60]);
    disk.flip_bit(&sealed, (HEADER_LEN as u64 + 60) * 8);
    let names = disk.file_names();
    let r = reopen(&mut disk);
    let Err(Error::Corrupt { location, .. }) = &r else {
        panic!("the edited record must be refused as corruption: {r:?}");
    };
    assert_eq!(location.file.as_deref(), Some(sealed.as_str()), "{r:?}");
    assert_eq!(disk.file_names(), names, "nothing removed: {r:?}");
    assert_eq!(disk.read_file(&unwritten), Some(&[0u8; 60][..]));
}
