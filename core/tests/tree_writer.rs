//! The writer's tree: the root at the durable head equals the root recomputed from the
//! records at every size, across rotations and reopenings; opening continues the tree from
//! the previous footer's edge (a forged edge is found by `verify` at that footer); `verify`
//! proves or refuses tree roots given to it and the one `head.checkpoint` states.

use evident_core::footer::{Footer, TRAILER_LEN};
use evident_core::hash::{leaf, Hash, LogId};
use evident_core::naming::HEAD_CHECKPOINT;
use evident_core::sim::{drive, verify, FakeDisk, Faults};
use evident_core::tree::{leaf_node, subtree_root, CompactRange, EMPTY_ROOT};
use evident_core::verify::VerifyTask;
use evident_core::{Checkpoint, Error, Event, Options, Trail};

const LOG: LogId = LogId([0x5a; 16]);
const T0: u64 = 1_700_000_000_000_000_000;

fn opts() -> Options {
    Options {
        segment_bytes: 2048,
        ..Options::default()
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("{{\"i\":{i},\"kind\":\"tool.call\"}}").into_bytes()
}

/// The root of the tree over records 1..=n, from the recursive definition.
fn root_of(n: u64) -> Hash {
    let nodes: Vec<Hash> = (1..=n)
        .map(|i| leaf_node(&leaf(1, i, T0 + i, &payload(i))))
        .collect();
    subtree_root(&nodes)
}

fn open(disk: &mut FakeDisk) -> Trail {
    let mut t = Trail::open(opts(), LOG, 1);
    let (ev, _) = drive(&mut t, disk, 100_000);
    assert!(matches!(ev.first(), Some(Event::Opened(_))), "{ev:?}");
    t
}

fn close(t: &mut Trail, disk: &mut FakeDisk) {
    t.handle_close();
    drive(t, disk, 100_000);
    assert!(t.is_closed());
}

/// Runs a verification with tree roots to prove.
fn verify_roots(disk: &mut FakeDisk, roots: &[(u64, Hash)]) -> Result<(), Error> {
    let mut task = VerifyTask::new(vec![], 64 * 1024);
    for &(size, root) in roots {
        task.check_tree_root(size, root);
    }
    while let Some(op) = task.poll_io() {
        let r = disk.perform(&op);
        task.handle_io(&op, r);
    }
    task.take_result().expect("finished").map(|_| ())
}

#[test]
fn every_durable_head_has_the_root_of_its_records_across_rotations_and_reopens() {
    let mut disk = FakeDisk::new(3, Faults::default());
    let mut t = open(&mut disk);
    assert_eq!(t.tree_head().size, 0);
    assert_eq!(t.tree_head().root, EMPTY_ROOT);
    let mut n = 0;
    for round in 0..4 {
        for _ in 0..(7 + 13 * round) {
            n += 1;
            t.handle_append(n, payload(n), T0 + n).unwrap();
            drive(&mut t, &mut disk, 100_000);
            let th = t.tree_head();
            assert_eq!((th.size, th.root), (n, root_of(n)), "size {n}");
        }
        close(&mut t, &mut disk);
        t = open(&mut disk);
        let th = t.tree_head();
        assert_eq!((th.size, th.root), (n, root_of(n)), "reopened at {n}");
    }
    assert!(t.segments().len() >= 3, "{:?}", t.segments());
    close(&mut t, &mut disk);
    // head.checkpoint states the root, and verify checks it and the given roots.
    let text = String::from_utf8(disk.read_file(HEAD_CHECKPOINT).unwrap().to_vec()).unwrap();
    let (cp, root) = Checkpoint::parse_own_file(&text).unwrap();
    assert_eq!((cp.seq, root), (n, Some(root_of(n))));
    let report = verify(&mut disk, vec![]).unwrap();
    assert_eq!(report.tree, Some((n, root_of(n))));
    assert_eq!(report.tree_roots_verified, vec![(n, root_of(n))]);
    verify_roots(
        &mut disk,
        &[(0, EMPTY_ROOT), (1, root_of(1)), (17, root_of(17))],
    )
    .unwrap();
}

#[test]
fn a_wrong_or_unreachable_tree_root_is_a_tree_mismatch() {
    let mut disk = FakeDisk::new(4, Faults::default());
    let mut t = open(&mut disk);
    for i in 1..=40 {
        t.handle_append(i, payload(i), T0 + i).unwrap();
    }
    drive(&mut t, &mut disk, 100_000);
    close(&mut t, &mut disk);
    for (size, root) in [(20, root_of(21)), (41, root_of(40)), (0, root_of(1))] {
        match verify_roots(&mut disk, &[(size, root)]) {
            Err(e @ Error::TreeMismatch { .. }) => assert!(e.is_corruption(), "{e}"),
            other => panic!("size {size}: {other:?}"),
        }
    }
    // head.checkpoint's root line is checked too: a wrong one is a mismatch.
    let text = String::from_utf8(disk.read_file(HEAD_CHECKPOINT).unwrap().to_vec()).unwrap();
    let (cp, _) = Checkpoint::parse_own_file(&text).unwrap();
    disk.write_file(
        HEAD_CHECKPOINT,
        cp.to_text_with_root(&root_of(39)).into_bytes(),
    );
    assert!(matches!(
        verify(&mut disk, vec![]),
        Err(Error::TreeMismatch { size: 40, .. })
    ));
}

/// Opening trusts the previous footer's edge (so that it does not rehash the trail); verify
/// recomputes the tree and reports a forged edge at that footer.
#[test]
fn a_forged_footer_edge_is_corruption_at_that_footer() {
    let mut disk = FakeDisk::new(5, Faults::default());
    let mut t = open(&mut disk);
    for i in 1..=60 {
        t.handle_append(i, payload(i), T0 + i).unwrap();
    }
    drive(&mut t, &mut disk, 100_000);
    let segs: Vec<String> = t.segments().iter().map(|(_, n)| n.clone()).collect();
    close(&mut t, &mut disk);
    assert!(segs.len() >= 3, "{segs:?}");
    let name = &segs[1];
    let mut bytes = disk.read_file(name).unwrap().to_vec();
    let at = Footer::trailer_offset(&bytes[bytes.len() - TRAILER_LEN..], bytes.len() as u64)
        .unwrap() as usize;
    let mut footer = Footer::decode(&bytes[at..]).unwrap();
    let last = footer.last_seq;
    // An edge that is well formed (its CRC recomputed) but not the tree of the records.
    footer.edge[0].0[5] ^= 1;
    bytes.truncate(at);
    bytes.extend_from_slice(&footer.encode());
    disk.write_file(name, bytes);
    let e = verify(&mut disk, vec![]).expect_err("a forged edge");
    let Error::Corrupt { location, what } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (location.file.as_deref(), location.offset, location.seq),
        (Some(name.as_str()), Some(at as u64), Some(last + 1)),
        "{e}"
    );
    assert!(what.contains("tree edge"), "{what}");

    // The compact range from a footer at its size is the tree of the records up to there.
    let nodes: Vec<Hash> = (1..=last)
        .map(|i| leaf_node(&leaf(1, i, T0 + i, &payload(i))))
        .collect();
    let mut want = CompactRange::new();
    for n in nodes {
        want.push_node(n);
    }
    assert_ne!(footer.edge, want.edge());
}

fn open_with(disk: &mut FakeDisk, origin: Option<&str>) -> Result<Trail, Error> {
    let o = Options {
        origin: origin.map(str::to_string),
        ..opts()
    };
    let mut t = Trail::open(o, LOG, 1);
    let (ev, _) = drive(&mut t, disk, 100_000);
    match ev.first() {
        Some(Event::Opened(_)) => Ok(t),
        Some(Event::OpenFailed(e)) => Err(e.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_origin_is_set_at_creation_persisted_and_never_changes() {
    // Default: evident/<log id hex>, written to the `origin` file.
    let mut disk = FakeDisk::new(6, Faults::default());
    let mut t = open_with(&mut disk, None).unwrap();
    let default = format!("evident/{}", LOG.to_hex());
    assert_eq!(t.origin(), default);
    assert_eq!(
        disk.read_file(evident_core::naming::ORIGIN),
        Some(format!("{default}\n").as_bytes())
    );
    t.handle_append(1, payload(1), T0 + 1).unwrap();
    drive(&mut t, &mut disk, 100_000);
    let cp = t.tree_checkpoint().unwrap();
    assert_eq!(
        (cp.origin.as_str(), cp.size, cp.root),
        (default.as_str(), 1, root_of(1))
    );
    close(&mut t, &mut disk);
    assert!(matches!(
        open_with(&mut disk, Some("example.com/other")),
        Err(Error::InvalidArgument { .. })
    ));

    // Set at creation: kept by later opens that name it or none; another one is refused.
    let mut disk = FakeDisk::new(7, Faults::default());
    let mut t = open_with(&mut disk, Some("example.com/audit/agents")).unwrap();
    close(&mut t, &mut disk);
    let mut t = open_with(&mut disk, None).unwrap();
    assert_eq!(t.origin(), "example.com/audit/agents");
    close(&mut t, &mut disk);
    let mut t = open_with(&mut disk, Some("example.com/audit/agents")).unwrap();
    close(&mut t, &mut disk);
    let e = open_with(&mut disk, Some("example.com/audit"))
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("example.com/audit/agents")
            && e.to_string().contains("never changes"),
        "{e}"
    );

    // An origin the checkpoint format cannot carry is refused before anything is created.
    let mut disk = FakeDisk::new(8, Faults::default());
    for bad in ["", "has space", "a+b", &"x".repeat(256)] {
        assert!(
            matches!(
                open_with(&mut disk, Some(bad)),
                Err(Error::InvalidArgument { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(disk.file_names().is_empty(), "{:?}", disk.file_names());

    // A damaged origin file is named.
    let mut disk = FakeDisk::new(9, Faults::default());
    let mut t = open_with(&mut disk, None).unwrap();
    close(&mut t, &mut disk);
    disk.write_file(evident_core::naming::ORIGIN, b"two words\n".to_vec());
    let e = open_with(&mut disk, None).err().unwrap();
    assert!(
        matches!(&e, Error::Corrupt { location, .. } if location.file.as_deref() == Some("origin")),
        "{e:?}"
    );
}
