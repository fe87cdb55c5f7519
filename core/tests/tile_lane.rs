//! The writer's tile lane on the fake disk: the tiles it leaves are exactly the C2SP tiles an
//! independent implementation (`tlog_tiles`) computes from the acknowledged records; reopening
//! resumes from the hint without reading a segment; deleted, corrupt or lagging tiles (a crash
//! in the middle of a tile) are rebuilt from the records; failing tile IO never fails or delays
//! an append.

use evident_core::hash::leaf;
use evident_core::sim::{drive_with_tiles, FakeDisk, Faults, OpKind, Scripted};
use evident_core::tree::leaf_node;
use evident_core::{Event, HealthState, IoOp, LogId, Options, Trail};
use std::collections::BTreeMap;
use tlog_tiles as oracle;

struct Store(Vec<oracle::Hash>);

impl oracle::HashReader for Store {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<oracle::Hash>, oracle::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

/// The final tiles of the tree over `records` (seq, ts, payload), from the oracle: every full
/// tile and the partial tiles at that size, by path.
fn oracle_tiles(records: &[(u64, u64, Vec<u8>)]) -> BTreeMap<String, Vec<u8>> {
    let mut store = Store(Vec::new());
    for (i, (seq, ts, payload)) in records.iter().enumerate() {
        let node = leaf_node(&leaf(1, *seq, *ts, payload));
        let new =
            oracle::stored_hashes_for_record_hash(i as u64, oracle::Hash(node.0), &store).unwrap();
        store.0.extend(new);
    }
    let mut out = BTreeMap::new();
    let mut widest: BTreeMap<(u8, u64), oracle::Tile> = BTreeMap::new();
    for t in oracle::Tile::new_tiles(8, 0, records.len() as u64) {
        widest.insert((t.level(), t.level_index()), t);
    }
    for t in widest.values() {
        out.insert(
            t.path().replacen("tile/8/", "tile/", 1),
            t.read_data(&store).unwrap(),
        );
    }
    out
}

/// Asserts that the disk holds exactly the tiles `want`, naming the paths that differ.
#[track_caller]
fn assert_tiles(disk: &FakeDisk, want: &BTreeMap<String, Vec<u8>>, what: &str) {
    let got = disk_tiles(disk);
    if &got != want {
        let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
        let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        let wrong: Vec<&String> = want
            .iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .map(|(k, _)| k)
            .collect();
        panic!("{what}: tiles differ: missing {missing:?}, extra {extra:?}, wrong {wrong:?}");
    }
}

/// The tile files on the disk (without the hint).
fn disk_tiles(disk: &FakeDisk) -> BTreeMap<String, Vec<u8>> {
    disk.file_names()
        .into_iter()
        .filter(|n| n.starts_with("tile/") && n != "tile/size")
        .map(|n| (n.clone(), disk.read_file(&n).unwrap().to_vec()))
        .collect()
}

fn opts() -> Options {
    Options {
        segment_bytes: 64 * 1024,
        max_batch_records: 50,
        ..Options::default()
    }
}

fn open(disk: &mut FakeDisk) -> Trail {
    let mut t = Trail::open(opts(), LogId([9; 16]), 1);
    let (ev, _) = drive_with_tiles(&mut t, disk, 1_000_000);
    assert!(matches!(ev.first(), Some(Event::Opened(_))), "{ev:?}");
    t
}

/// Appends `n` records (acknowledged ones recorded in `records`), then settles both lanes.
fn append(t: &mut Trail, disk: &mut FakeDisk, records: &mut Vec<(u64, u64, Vec<u8>)>, n: u64) {
    let mut pending = BTreeMap::new();
    for i in 0..n {
        let payload = format!("record {} {i}", records.len()).into_bytes();
        let token = 1_000_000 + records.len() as u64 * 1000 + i;
        t.handle_append(token, payload.clone(), 5 + i).unwrap();
        pending.insert(token, payload);
        if i % 37 == 0 {
            settle(t, disk, &mut pending, records);
        }
    }
    settle(t, disk, &mut pending, records);
    assert!(pending.is_empty(), "every append acknowledged");
}

fn settle(
    t: &mut Trail,
    disk: &mut FakeDisk,
    pending: &mut BTreeMap<u64, Vec<u8>>,
    records: &mut Vec<(u64, u64, Vec<u8>)>,
) {
    let (ev, _) = drive_with_tiles(t, disk, 1_000_000);
    for e in ev {
        match e {
            Event::Appended { token, receipt } => {
                let p = pending.remove(&token).unwrap();
                records.push((receipt.seq, receipt.ts, p));
            }
            Event::AppendFailed { token, error } => panic!("append {token} failed: {error}"),
            Event::HealthChanged { to, reason, .. } if to != HealthState::Healthy => {
                panic!("health went to {to:?}: {reason}")
            }
            _ => {}
        }
    }
}

fn close(mut t: Trail, disk: &mut FakeDisk) {
    t.handle_close();
    drive_with_tiles(&mut t, disk, 1_000_000);
    assert!(t.is_closed());
    // Drained after the close too (as hosts do).
    while let Some(req) = t.poll_tile_io() {
        let r = disk.perform(&req.op);
        t.handle_tile_io(req.id, r);
    }
}

/// Tile-lane ops performed by an open (read through a recording run).
fn open_counting_segment_reads(disk: &mut FakeDisk) -> (Trail, usize) {
    let mut t = Trail::open(opts(), LogId([9; 16]), 1);
    let mut segment_reads = 0;
    loop {
        let mut progressed = false;
        if let Some(req) = t.poll_io() {
            let r = disk.perform(&req.op);
            t.handle_io(req.id, r);
            progressed = true;
        }
        if let Some(req) = t.poll_tile_io() {
            if let IoOp::Read { file, .. } | IoOp::Length { file } = &req.op {
                if file.ends_with(".evseg") {
                    segment_reads += 1;
                }
            }
            let r = disk.perform(&req.op);
            t.handle_tile_io(req.id, r);
            progressed = true;
        }
        while t.poll_event().is_some() {
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    (t, segment_reads)
}

#[test]
fn the_lane_leaves_exactly_the_oracle_tiles_and_reopens_without_reading_segments() {
    let mut disk = FakeDisk::new(1, Faults::default());
    let mut records = Vec::new();
    let mut t = open(&mut disk);
    append(&mut t, &mut disk, &mut records, 700);
    t.handle_checkpoint();
    append(&mut t, &mut disk, &mut records, 100);
    close(t, &mut disk);
    assert_tiles(&disk, &oracle_tiles(&records), "after close");
    assert_eq!(disk.read_file("tile/size"), Some(&b"800\n"[..]));

    let (mut t, segment_reads) = open_counting_segment_reads(&mut disk);
    assert_eq!(
        segment_reads, 0,
        "a clean reopen reads no record for the tiles"
    );
    assert_eq!(t.tile_status().rebuilds, 0);
    assert_eq!(t.tile_status().tiled, 800);
    append(&mut t, &mut disk, &mut records, 300);
    close(t, &mut disk);
    assert_tiles(&disk, &oracle_tiles(&records), "after a reopen");
}

#[test]
fn deleted_or_corrupt_tiles_are_rebuilt_from_the_records() {
    let mut disk = FakeDisk::new(2, Faults::default());
    let mut records = Vec::new();
    let mut t = open(&mut disk);
    append(&mut t, &mut disk, &mut records, 1000);
    close(t, &mut disk);
    let want = oracle_tiles(&records);
    assert_tiles(&disk, &want, "first");

    // The whole tile directory deleted.
    for name in disk.file_names() {
        if name.starts_with("tile/") {
            disk.delete_file(&name);
        }
    }
    let (t, segment_reads) = open_counting_segment_reads(&mut disk);
    assert!(segment_reads > 0, "rebuilt from the segments");
    assert_eq!(t.tile_status().rebuilds, 1);
    assert_tiles(&disk, &want, "rebuilt");
    close(t, &mut disk);

    // A partial tile (the edge the open checks) corrupted, then a full tile cut short with
    // the hint pointing before it: both rebuilt.
    disk.flip_bit("tile/0/003.p/232", 77);
    let (t, _) = open_counting_segment_reads(&mut disk);
    assert_eq!(t.tile_status().rebuilds, 1);
    assert_tiles(&disk, &want, "corrupt partial rebuilt");
    close(t, &mut disk);
    disk.write_file("tile/size", b"3\n".to_vec());
    disk.write_file("tile/0/000.p/3", b"short".to_vec());
    let (t, _) = open_counting_segment_reads(&mut disk);
    assert_eq!(t.tile_status().rebuilds, 1);
    close(t, &mut disk);
    assert_tiles(&disk, &want, "short partial rebuilt");
}

#[test]
fn a_crash_in_the_middle_of_the_tiles_is_caught_up_from_the_records() {
    for cut in [1usize, 3, 4, 9, 17, 40] {
        let mut disk = FakeDisk::new(3, Faults::default());
        let mut records = Vec::new();
        let mut t = open(&mut disk);
        append(&mut t, &mut disk, &mut records, 300);
        t.handle_sync(1);
        drive_with_tiles(&mut t, &mut disk, 1_000_000);
        // More records, made durable, with the tile lane stopped after `cut` requests: the
        // process dies while tiles are being written (a temp file, a rename not done...).
        let mut pending = BTreeMap::new();
        for i in 0..600u64 {
            let p = format!("late {i}").into_bytes();
            t.handle_append(i, p.clone(), 400 + i).unwrap();
            pending.insert(i, p);
        }
        t.handle_sync(2);
        let mut tile_ops = 0;
        loop {
            let mut progressed = false;
            if let Some(req) = t.poll_io() {
                let r = disk.perform(&req.op);
                t.handle_io(req.id, r);
                progressed = true;
            }
            if tile_ops < cut {
                if let Some(req) = t.poll_tile_io() {
                    let r = disk.perform(&req.op);
                    t.handle_tile_io(req.id, r);
                    tile_ops += 1;
                    progressed = true;
                }
            }
            while let Some(e) = t.poll_event() {
                if let Event::Appended { token, receipt } = e {
                    records.push((receipt.seq, receipt.ts, pending.remove(&token).unwrap()));
                }
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        assert!(pending.is_empty());
        disk.process_crash();
        let (t, _) = open_counting_segment_reads(&mut disk);
        assert_eq!(t.tile_status().disabled, None);
        assert_eq!(
            t.tile_status().rebuilds,
            0,
            "cut {cut}: caught up from the hint"
        );
        close(t, &mut disk);
        assert_tiles(&disk, &oracle_tiles(&records), &format!("cut {cut}"));
    }
}

#[test]
fn failing_tile_io_never_fails_an_append() {
    let mut disk = FakeDisk::new(4, Faults::default());
    let mut records = Vec::new();
    let mut t = open(&mut disk);
    for _ in 0..40 {
        disk.script(OpKind::Tile, Scripted::Eio);
        disk.script(OpKind::Tile, Scripted::NoSpace);
    }
    // `append` panics on a failed append or a health change.
    let mut now = 1;
    for _ in 0..10 {
        append(&mut t, &mut disk, &mut records, 100);
        now += 2_000_000_000; // past any tile backoff
        t.handle_timeout(now);
    }
    assert!(t.tile_status().failures > 0, "{:?}", t.tile_status());
    assert_eq!(t.health().state, HealthState::Healthy);
    while disk.scripted_pending() > 0 {
        // Faults left: let the lane run into them (each retried after its backoff).
        now += 2_000_000_000;
        t.handle_timeout(now);
        let Some(req) = t.poll_tile_io() else { break };
        let r = disk.perform(&req.op);
        t.handle_tile_io(req.id, r);
    }
    assert_eq!(disk.scripted_pending(), 0);
    t.handle_timeout(now + 2_000_000_000);
    close(t, &mut disk);
    assert_tiles(&disk, &oracle_tiles(&records), "after the faults");
}

/// The full tiles on the disk that differ from the oracle's (torn or wrong), by path.
fn wrong_full_tiles(disk: &FakeDisk, want: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    disk_tiles(disk)
        .into_iter()
        .filter(|(path, bytes)| {
            !path.contains(".p/") && path != "tile/pending.tmp" && want.get(path) != Some(bytes)
        })
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn tiles_due_together_go_in_one_put_and_a_put_failing_midway_is_tried_again_whole() {
    let mut disk = FakeDisk::new(4, Faults::default());
    let mut t = open(&mut disk);
    // 20 full tiles' worth of records made durable before the lane runs (main lane only).
    let mut records = Vec::new();
    let mut pending = BTreeMap::new();
    for i in 0..20 * 256 + 7u64 {
        let payload = format!("record {i}").into_bytes();
        t.handle_append(i, payload.clone(), 10 + i).unwrap();
        pending.insert(i, payload);
    }
    let (ev, _) = evident_core::sim::drive(&mut t, &mut disk, 1_000_000);
    for e in ev {
        if let Event::Appended { token, receipt } = e {
            records.push((receipt.seq, receipt.ts, pending.remove(&token).unwrap()));
        }
    }
    assert!(pending.is_empty(), "every append acknowledged");
    let want = oracle_tiles(&records);

    // The first put: the 16 first full tiles; its second rename fails.
    let written_before = t.tile_status().files_written;
    let req = t.poll_tile_io().expect("the lane has tiles to write");
    let IoOp::PutFiles { files, .. } = &req.op else {
        panic!("expected a put, got {:?}", req.op.name());
    };
    assert_eq!(files.len(), 16, "one request for the tiles due together");
    assert_eq!(files[0].0, "tile/0/000");
    let mut renames = 0;
    let r = req.op.perform_put_files(|step| {
        if matches!(step, IoOp::Rename { .. }) {
            renames += 1;
            if renames == 2 {
                return Err(evident_core::IoError::new(
                    evident_core::IoErrorKind::Other,
                    "injected: rename",
                ));
            }
        }
        disk.perform(step)
    });
    assert!(r.is_err());
    assert!(
        disk.read_file("tile/0/000").is_some(),
        "the first file is in place"
    );
    assert!(disk.read_file("tile/0/001").is_none(), "the second is not");
    assert_eq!(wrong_full_tiles(&disk, &want), Vec::<String>::new());
    t.handle_tile_io(req.id, r);
    assert_eq!(t.tile_status().failures, 1);
    assert_eq!(
        t.tile_status().files_written,
        written_before,
        "a failed put counts none"
    );

    // After the backoff the same put again, whole; now the third file's write is short.
    assert!(t.poll_tile_io().is_none(), "nothing before the backoff");
    t.handle_timeout(2_000_000_000);
    let req = t.poll_tile_io().expect("the put again");
    let IoOp::PutFiles { tmp, files } = &req.op else {
        panic!("expected a put, got {:?}", req.op.name());
    };
    assert_eq!(files.len(), 16);
    assert_eq!(files[0].0, "tile/0/000", "tried again from its first file");
    let mut writes = 0;
    let r = req.op.perform_put_files(|step| {
        if let IoOp::Write { data, .. } = step {
            writes += 1;
            if writes == 3 {
                let short = IoOp::Write {
                    file: tmp.clone(),
                    offset: 0,
                    data: data[..100].to_vec(),
                };
                return disk.perform(&short);
            }
        }
        disk.perform(step)
    });
    let e = r.as_ref().expect_err("a short write fails the put");
    assert!(e.to_string().contains("short write"), "{e}");
    assert!(
        disk.read_file("tile/0/002").is_none(),
        "a torn tile is not renamed"
    );
    assert_eq!(wrong_full_tiles(&disk, &want), Vec::<String>::new());
    t.handle_tile_io(req.id, r);
    assert_eq!(t.tile_status().failures, 2);

    // Then everything: the exact tiles, every file counted once.
    t.handle_timeout(10_000_000_000);
    drive_with_tiles(&mut t, &mut disk, 1_000_000);
    let status = t.tile_status();
    assert_eq!(status.tiled, records.len() as u64);
    close(t, &mut disk);
    assert_tiles(&disk, &want, "after the failed puts");
}
