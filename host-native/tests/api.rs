//! The public library API of `evident-native` on real files: concurrency and group commit,
//! reopening, rotation, readers following a writer, batches, locking, limits, heads and
//! durability policies.

mod common;

use common::{build, opts, read_all, segments, temp_trail};
use evident_native::core::naming;
use evident_native::fs_exec::verify_dir;
use evident_native::{
    Checkpoint, Durability, Error, Options, Reader, Receipt, TailReport, Trail, TrailOptions,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Opens `dir`, retrying while another (closing) writer still holds its lock.
async fn open_when_unlocked(dir: &std::path::Path, options: impl Fn() -> TrailOptions) -> Trail {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Trail::open(dir, options()).await {
            Ok(t) => return t,
            Err(Error::Locked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Err(e) => panic!("reopen failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_group_committed_and_all_verify() {
    const TASKS: u64 = 64;
    const EACH: u64 = 1000;
    const TOTAL: u64 = TASKS * EACH;
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(
        &dir,
        TrailOptions {
            core: Options {
                durability: Durability::Always,
                ..Options::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let trail = trail.clone();
        tasks.push(tokio::spawn(async move {
            let mut receipts = Vec::with_capacity(EACH as usize);
            for i in 0..EACH {
                let r = trail
                    .append(format!("task {t} record {i}").into_bytes())
                    .await
                    .expect("append");
                receipts.push((t, i, r));
            }
            receipts
        }));
    }
    let mut all: Vec<(u64, u64, Receipt)> = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        // One task's appends are sequential: its seqs and timestamps must increase.
        for w in mine.windows(2) {
            assert!(w[0].2.seq < w[1].2.seq, "{:?}", w);
            assert!(w[0].2.ts <= w[1].2.ts, "{:?}", w);
        }
        all.extend(mine);
    }
    assert!(
        all.iter().all(|(_, _, r)| r.durable),
        "Always acknowledges after fsync"
    );
    let mut seqs: Vec<u64> = all.iter().map(|(_, _, r)| r.seq).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=TOTAL).collect::<Vec<_>>(),
        "seqs unique and gap-free"
    );

    let health = trail.health();
    assert_eq!(health.records, TOTAL);
    assert!(
        health.fsyncs < TOTAL / 4,
        "group commit should share fsyncs: {} fsyncs for {TOTAL} appends",
        health.fsyncs
    );
    assert!(health.max_batch > 1, "{health:?}");
    assert_eq!(trail.head().seq, TOTAL);

    let head = trail.close().await.unwrap();
    assert_eq!(head.seq, TOTAL);
    let report = verify_dir(&dir, vec![head], |_, _| {}).expect("verifies");
    assert_eq!(report.records, TOTAL);
    assert_eq!(report.head, head);
    let last = all.iter().find(|(_, _, r)| r.seq == TOTAL).unwrap();
    assert_eq!(report.head.hash, last.2.hash);

    // Every payload is stored under the seq its receipt named.
    let by_seq: HashMap<u64, (u64, u64, Receipt)> = all.iter().map(|x| (x.2.seq, *x)).collect();
    let records = read_all(&dir);
    assert_eq!(records.len() as u64, TOTAL);
    for rec in &records {
        let (t, i, r) = by_seq[&rec.seq];
        assert_eq!(rec.hash, r.hash, "seq {}", rec.seq);
        assert_eq!(rec.ts, r.ts, "seq {}", rec.seq);
        assert_eq!(rec.payload, format!("task {t} record {i}").into_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_drop_without_close_keeps_every_acknowledged_record() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, TrailOptions::default()).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let trail = trail.clone();
        tasks.push(tokio::spawn(async move {
            let mut v = Vec::new();
            for i in 0..250 {
                v.push(trail.append(format!("{t}/{i}")).await.unwrap());
            }
            v
        }));
    }
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.extend(t.await.unwrap());
    }
    drop(trail); // no close: the driver closes on its own once every handle is gone

    let trail = open_when_unlocked(&dir, TrailOptions::default).await;
    let report = trail.open_report().clone();
    assert!(!report.created);
    assert_eq!(report.head.seq, 2000, "{report:?}");
    assert!(
        matches!(
            report.tail,
            TailReport::Clean | TailReport::Preallocated { .. }
        ),
        "a clean close leaves a clean end: {:?}",
        report.tail
    );
    assert_eq!(trail.head().seq, 2000);
    // The drop-close wrote the checkpoint.
    let (cp, _root) = Checkpoint::parse_own_file(
        &std::fs::read_to_string(dir.join(naming::HEAD_CHECKPOINT)).unwrap(),
    )
    .unwrap();
    assert_eq!(cp, report.head);

    let mut reader = Reader::open(&dir).unwrap();
    for r in receipts.iter().filter(|r| r.seq % 97 == 0 || r.seq == 2000) {
        let rec = reader
            .get(r.seq)
            .unwrap()
            .expect("acknowledged record present");
        assert_eq!(rec.hash, r.hash, "seq {}", r.seq);
    }
    let by_seq: HashMap<u64, Receipt> = receipts.iter().map(|r| (r.seq, *r)).collect();
    let all = read_all(&dir);
    assert_eq!(all.len(), 2000);
    for rec in &all {
        assert_eq!(rec.hash, by_seq[&rec.seq].hash);
    }
    // The reopened trail continues the chain.
    let next = trail.append("after reopen").await.unwrap();
    assert_eq!(next.seq, 2001);
    let head = trail.close().await.unwrap();
    verify_dir(&dir, vec![head, cp], |_, _| {}).expect("verifies with both checkpoints");
}

/// A request accepted by the driver must be written before the directory's lock is released:
/// the lock keeps a second writer out while the first one still flushes. Here the caller gives
/// up waiting on a large batch (the command is already queued), drops its handle, and
/// immediately reopens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_is_held_until_a_dropped_trail_has_finished_writing() {
    const N: usize = 60_000;
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, TrailOptions::default()).await.unwrap();
    let payloads: Vec<Vec<u8>> = (0..N).map(|i| format!("{i:0>200}").into_bytes()).collect();
    // The first poll queues the batch; the timeout then drops the waiting future.
    let gave_up = tokio::time::timeout(Duration::from_micros(1), trail.append_batch(payloads))
        .await
        .is_err();
    assert!(gave_up, "the batch should still be in progress");
    drop(trail);

    let trail = open_when_unlocked(&dir, TrailOptions::default).await;
    let at_open = trail.open_report().head.seq;
    // The old driver, if it is still running, would now be writing into our segment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let head = trail.close().await.unwrap();
    let verified = verify_dir(&dir, vec![], |_, _| {});
    assert_eq!(
        at_open, N as u64,
        "the reopen saw {at_open} of {N} accepted records: the lock was released while the \
         dropped trail was still flushing (verify afterwards: {verified:?})"
    );
    let verified = verified.expect("verifies");
    assert_eq!(verified.head, head);
    assert_eq!(verified.records, N as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_across_many_segments_verifies_and_reads_in_order() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (0..2000)
        .map(|i| format!("rotating record number {i:05}").into_bytes())
        .collect();
    let receipts = build(&dir, opts(4096), &payloads).await;
    let segs = segments(&dir);
    assert!(
        segs.len() >= 20,
        "expected many segments, got {}",
        segs.len()
    );
    for s in &segs {
        // Records stay within the limit (the footer of a sealed segment comes after them).
        let bytes = std::fs::read(dir.join(s)).unwrap();
        let frames = common::frames(&bytes);
        let end = frames.last().map(|f| f.offset + f.len).unwrap();
        assert!(end <= 4096, "{s}: records end at {end}");
    }
    let report = verify_dir(&dir, vec![], |_, _| {}).expect("verifies");
    assert_eq!(report.records, 2000);
    assert_eq!(report.segments, segs.len() as u64);
    assert_eq!(report.head.hash, receipts[1999].hash);

    let records = read_all(&dir);
    assert_eq!(records.len(), 2000);
    for (i, rec) in records.iter().enumerate() {
        assert_eq!(rec.seq, i as u64 + 1);
        assert_eq!(rec.payload, payloads[i]);
        assert_eq!(rec.hash, receipts[i].hash);
    }
    // Random access lands on the right record in any segment.
    let mut reader = Reader::open(&dir).unwrap();
    for seq in [1u64, 2, 37, 500, 999, 1000, 1001, 1733, 2000] {
        let rec = reader.get(seq).unwrap().expect("present");
        assert_eq!(rec.seq, seq);
        assert_eq!(rec.payload, payloads[seq as usize - 1]);
    }
    assert_eq!(reader.get(2001).unwrap(), None);
    // Past the end: answered (None), not waited for; a seek there returns nothing earlier.
    let far = {
        let dir = dir.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = Reader::open(&dir).unwrap();
            let got = reader.get(2005).unwrap();
            reader.seek(3000).unwrap();
            let _ = tx.send((got, reader.next_available().unwrap()));
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("Reader::get past the end must return, not spin")
    };
    assert_eq!(far, (None, None));
    reader.seek(1990).unwrap();
    let rest: Vec<u64> = std::iter::from_fn(|| reader.next_available().unwrap())
        .map(|r| r.seq)
        .collect();
    assert_eq!(rest, (1990..=2000).collect::<Vec<_>>());
}

/// Opening lists names only and asks the length of the last two segments: after many rotations
/// it still finds the right tail, counts every segment, and cuts a torn last record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_many_rotations_reports_the_right_tail() {
    let (tmp, dir) = temp_trail();
    const N: usize = 600;
    let payloads: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("record {i:05} of a rotating trail").into_bytes())
        .collect();
    let receipts = build(&dir, opts(4096), &payloads).await;
    let segs = segments(&dir);
    assert!(segs.len() >= 5, "expected rotations, got {segs:?}");
    // (A directory with a segment's name is an error naming it: see tests/hostile.rs.)

    let torn = tmp.path().join("torn");
    common::copy_dir(&dir, &torn);

    let trail = Trail::open(&dir, opts(4096)).await.unwrap();
    let report = trail.open_report().clone();
    assert_eq!(report.segments, segs.len(), "{report:?}");
    assert_eq!(report.head.seq, N as u64);
    assert_eq!(report.head.hash, receipts[N - 1].hash);
    assert!(
        matches!(
            report.tail,
            TailReport::Clean | TailReport::Preallocated { .. }
        ),
        "{report:?}"
    );
    let r = trail.append("after reopen").await.unwrap();
    assert_eq!(r.seq, N as u64 + 1);
    trail.close().await.unwrap();

    // Tear the last record of the last segment, as a crash before the close would have left it
    // (no checkpoint covering that record: one would refuse the cut as a shortened trail).
    std::fs::remove_file(torn.join(naming::HEAD_CHECKPOINT)).unwrap();
    let last_seg = segs.last().unwrap();
    let bytes = std::fs::read(torn.join(last_seg)).unwrap();
    let last = *common::frames(&bytes)
        .last()
        .expect("records in the last segment");
    assert_eq!(last.seq, N as u64);
    std::fs::OpenOptions::new()
        .write(true)
        .open(torn.join(last_seg))
        .unwrap()
        .set_len(last.offset + last.len / 2)
        .unwrap();
    let trail = Trail::open(&torn, opts(4096)).await.unwrap();
    let report = trail.open_report().clone();
    match &report.tail {
        TailReport::Truncated {
            file,
            offset,
            first_lost_seq,
            ..
        } => {
            assert_eq!(file, last_seg);
            assert_eq!(*offset, last.offset);
            assert_eq!(*first_lost_seq, N as u64);
        }
        other => panic!("expected a truncated tail, got {other:?}"),
    }
    assert_eq!(report.segments, segs.len());
    assert_eq!(trail.head().hash, receipts[N - 2].hash);
    let head = trail.close().await.unwrap();
    verify_dir(&torn, vec![head], |_, _| {}).expect("verifies after the cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_following_a_live_writer_sees_every_new_record_in_order() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, opts(4096)).await.unwrap();
    for i in 0..25 {
        trail.append(format!("before {i}")).await.unwrap();
    }
    let start = trail.head().seq + 1;
    let mut reader = Reader::open(&dir).unwrap();
    reader.seek(start).unwrap();
    const N: usize = 1200;
    let follower = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < N {
            got.push(
                reader
                    .next_following(Duration::from_millis(1))
                    .await
                    .expect("follow"),
            );
        }
        got
    });
    let writer = {
        let trail = trail.clone();
        tokio::spawn(async move {
            let mut receipts = Vec::new();
            for i in 0..N {
                // Vary sizes so records straddle read buffers and rotations differently.
                let p = format!("live {i} {}", "x".repeat(i % 300));
                receipts.push((trail.append(p.clone()).await.unwrap(), p));
                if i % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            receipts
        })
    };
    let receipts = writer.await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("the follower receives every record")
        .unwrap();
    assert_eq!(got.len(), N);
    for (rec, (r, p)) in got.iter().zip(&receipts) {
        assert_eq!(rec.seq, r.seq);
        assert_eq!(rec.hash, r.hash);
        assert_eq!(rec.payload, p.as_bytes());
    }
    assert_eq!(got[0].seq, start);
    let segs = trail.close().await.map(|_| segments(&dir)).unwrap();
    assert!(segs.len() > 10, "the follower crossed rotations: {segs:?}");
}

/// A rotation creates the next segment file, then writes its header: a reader that lists the
/// directory in between sees an empty last segment. That is "nothing more yet", not an error.
#[tokio::test]
async fn a_reader_waits_for_the_header_of_a_segment_being_created() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("rec {i:04}").into_bytes())
        .collect();
    build(&dir, opts(4096), &payloads).await;
    let segs = segments(&dir);
    let last = segs.last().unwrap().clone();
    let first_of_last = naming::parse_segment_name(&last).unwrap();
    let last_bytes = std::fs::read(dir.join(&last)).unwrap();
    std::fs::write(dir.join(&last), b"").unwrap(); // created, header not written yet

    let mut follower = Reader::open(&dir).unwrap();
    let mut n = 0;
    while let Some(r) = follower
        .next_available()
        .expect("no error at the new segment")
    {
        n += 1;
        assert_eq!(r.seq, n);
    }
    assert_eq!(n, first_of_last - 1, "everything before the new segment");
    let mut seeker = Reader::open(&dir).unwrap();
    seeker
        .seek(first_of_last)
        .expect("seek into the segment being created");
    assert_eq!(seeker.next_available().unwrap(), None);
    assert_eq!(seeker.get(first_of_last).unwrap(), None);

    std::fs::write(dir.join(&last), &last_bytes[..64]).unwrap(); // half a header
    assert_eq!(follower.next_available().unwrap(), None);

    std::fs::write(dir.join(&last), &last_bytes).unwrap(); // the header and records arrive
    let next = follower
        .next_available()
        .unwrap()
        .expect("records of the new segment");
    assert_eq!(next.seq, first_of_last);
    assert_eq!(next.payload, payloads[first_of_last as usize - 1]);
    seeker.seek(first_of_last).unwrap();
    assert_eq!(seeker.next_available().unwrap().unwrap().seq, first_of_last);

    // Not the last segment: a missing header is damage.
    std::fs::write(dir.join(&segs[1]), b"").unwrap();
    let mut r = Reader::open(&dir).unwrap();
    let err = std::iter::from_fn(|| r.next_available().transpose())
        .find_map(|x| x.err())
        .expect("an empty middle segment is an error");
    assert!(err.is_corruption(), "{err}");
}

#[tokio::test]
async fn a_reader_positioned_past_the_end_starts_at_its_target_once_written() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, TrailOptions::default()).await.unwrap();
    for i in 1..=3 {
        trail.append(format!("early {i}")).await.unwrap();
    }
    // Seeking past the end returns at once (run on a thread so a spinning seek fails the test).
    let (tx, rx) = std::sync::mpsc::channel();
    let d = dir.clone();
    std::thread::spawn(move || {
        let mut reader = Reader::open(&d).unwrap();
        reader.seek(6).unwrap();
        let _ = tx.send(reader);
    });
    let mut reader = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("seek past the end must return");
    assert_eq!(reader.next_available().unwrap(), None);
    for i in 4..=8 {
        trail.append(format!("late {i}")).await.unwrap();
    }
    let next = tokio::time::timeout(
        Duration::from_secs(10),
        reader.next_following(Duration::from_millis(1)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((next.seq, next.payload), (6, b"late 6".to_vec()));
    assert_eq!(reader.next_available().unwrap().unwrap().seq, 7);
    trail.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_batch_returns_contiguous_receipts_in_order() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, opts(8192)).await.unwrap();
    assert_eq!(trail.append_batch(Vec::new()).await.unwrap(), Vec::new());
    // Single appends from other tasks interleave with the batches.
    let noise = {
        let trail = trail.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                trail.append(format!("single {i}")).await.unwrap();
            }
        })
    };
    let mut batches = Vec::new();
    for b in 0..20 {
        let payloads: Vec<Vec<u8>> = (0..37)
            .map(|i| format!("batch {b} item {i}").into_bytes())
            .collect();
        let receipts = trail.append_batch(payloads.clone()).await.unwrap();
        assert_eq!(receipts.len(), 37);
        for w in receipts.windows(2) {
            assert_eq!(w[1].seq, w[0].seq + 1, "batch {b} is contiguous");
        }
        assert!(receipts.iter().all(|r| r.durable));
        batches.push((receipts, payloads));
    }
    noise.await.unwrap();
    let head = trail.close().await.unwrap();
    assert_eq!(head.seq, 300 + 20 * 37);
    let records = read_all(&dir);
    for (receipts, payloads) in &batches {
        for (r, p) in receipts.iter().zip(payloads) {
            let rec = &records[r.seq as usize - 1];
            assert_eq!(&rec.payload, p);
            assert_eq!(rec.hash, r.hash);
        }
    }
    verify_dir(&dir, vec![head], |_, _| {}).unwrap();
}

#[tokio::test]
async fn a_second_writer_is_refused_with_locked() {
    let (_tmp, dir) = temp_trail();
    let first = Trail::open(&dir, TrailOptions::default()).await.unwrap();
    first.append("one").await.unwrap();
    match Trail::open(&dir, TrailOptions::default()).await {
        Err(Error::Locked { dir: d, .. }) => assert_eq!(d, dir),
        other => panic!("expected Locked, got {other:?}"),
    }
    // The refused open changed nothing: the first writer still works.
    assert_eq!(first.append("two").await.unwrap().seq, 2);
    // Closing through one handle releases the directory even while other handles exist; they
    // are closed too.
    let straggler = first.clone();
    first.close().await.unwrap();
    let again = Trail::open(&dir, TrailOptions::default())
        .await
        .expect("unlocked after close");
    assert_eq!(again.head().seq, 2);
    assert!(matches!(straggler.append("late").await, Err(Error::Closed)));
    assert_eq!(again.append("three").await.unwrap().seq, 3);
    again.close().await.unwrap();
    drop(straggler);
    assert_eq!(read_all(&dir).len(), 3);
}

#[tokio::test]
async fn payload_over_max_payload_is_too_large() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(
        &dir,
        TrailOptions {
            core: Options {
                max_payload: 1024,
                ..Options::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let err = trail.append(vec![7u8; 1025]).await.unwrap_err();
    match err.as_trail() {
        Some(evident_native::core::Error::TooLarge { len, max }) => {
            assert_eq!((*len, *max), (1025, 1024))
        }
        other => panic!("expected TooLarge, got {other:?} ({err})"),
    }
    assert!(!err.is_corruption());
    // Nothing was written, and the limit itself is allowed.
    assert_eq!(trail.head().seq, 0);
    let r = trail.append(vec![7u8; 1024]).await.unwrap();
    assert_eq!(r.seq, 1);
    let err = trail
        .append_batch(vec![b"ok".to_vec(), vec![0; 5000]])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.as_trail(),
            Some(evident_native::core::Error::TooLarge { .. })
        ),
        "{err}"
    );
    let head = trail.close().await.unwrap();
    let report = verify_dir(&dir, vec![head], |_, _| {}).unwrap();
    assert!(read_all(&dir).iter().all(|r| r.payload.len() <= 1024));
    assert_eq!(report.records, head.seq);
}

#[tokio::test]
async fn head_sync_and_checkpoint() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, TrailOptions::default()).await.unwrap();
    assert!(trail.open_report().created);
    let log_id = trail.log_id();
    assert_eq!(
        trail.head(),
        Checkpoint::empty(log_id),
        "empty trail: genesis"
    );
    // A checkpoint of the empty trail is valid and written.
    let cp0 = trail.checkpoint().await.unwrap();
    assert_eq!(cp0, Checkpoint::empty(log_id));

    let mut last = None;
    for i in 0..10 {
        let r = trail.append(format!("event {i}")).await.unwrap();
        assert!(r.durable);
        // Always: the head has advanced by the time the append returns.
        let h = trail.head();
        assert_eq!((h.seq, h.hash, h.log_id), (r.seq, r.hash, log_id));
        last = Some(r);
    }
    let last = last.unwrap();
    let synced = trail.sync().await.unwrap();
    assert_eq!(synced, trail.head());
    assert_eq!(synced.seq, 10);
    assert_eq!(trail.written_head(), synced);

    let cp = trail.checkpoint().await.unwrap();
    assert_eq!(cp, trail.head());
    assert_eq!(cp.hash, last.hash);
    let text = std::fs::read_to_string(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    let (own, root) = Checkpoint::parse_own_file(&text).unwrap();
    assert_eq!(own, cp);
    assert!(
        root.is_some(),
        "head.checkpoint carries the tree root: {text}"
    );
    assert!(!dir.join(naming::HEAD_CHECKPOINT_TMP).exists());

    // A later checkpoint replaces it; close writes the final head.
    trail.append("one more").await.unwrap();
    let closed = trail.close().await.unwrap();
    assert_eq!(closed.seq, 11);
    let text = std::fs::read_to_string(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    assert_eq!(Checkpoint::parse_own_file(&text).unwrap().0, closed);
    let report = verify_dir(&dir, vec![cp0, cp, closed], |_, _| {}).unwrap();
    let mut proven: Vec<u64> = report.checkpoints_verified.iter().map(|c| c.seq).collect();
    proven.sort_unstable();
    proven.dedup();
    assert_eq!(proven, [0, 10, 11], "{:?}", report.checkpoints_verified);
}

#[tokio::test]
async fn os_durability_acknowledges_before_sync() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(
        &dir,
        TrailOptions {
            core: Options {
                durability: Durability::Os,
                ..Options::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut receipts = Vec::new();
    for i in 0..20 {
        receipts.push(trail.append(format!("os {i}")).await.unwrap());
    }
    assert!(
        receipts.iter().all(|r| !r.durable),
        "Os acknowledges once written, before any fsync"
    );
    assert_eq!(trail.head().seq, 0, "nothing synced yet");
    assert_eq!(trail.written_head().seq, 20);
    assert_eq!(trail.written_head().hash, receipts[19].hash);

    let synced = trail.sync().await.unwrap();
    assert_eq!(synced.seq, 20);
    assert_eq!(synced.hash, receipts[19].hash);
    assert_eq!(trail.head(), synced);

    // Further appends again run ahead of the durable head until the next sync (or close).
    let r = trail.append("after sync").await.unwrap();
    assert!(!r.durable);
    assert_eq!(trail.head().seq, 20);
    let closed = trail.close().await.unwrap();
    assert_eq!((closed.seq, closed.hash), (21, r.hash));
    verify_dir(&dir, vec![synced, closed], |_, _| {}).unwrap();
}

/// A writer the test can read back: the mirror's sink.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_mirror_prints_every_committed_record_as_one_json_line_in_seq_order() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = SharedBuf::default();
    let trail = Trail::open(
        tmp.path().join("t"),
        evident_native::TrailOptions {
            mirror: Some(evident_native::Mirror::to(Box::new(sink.clone()))),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ev = r#"{"gen_ai.agent.id":"a","correlation.id":"c","kind":"exec.started","pid":7}"#;
    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let t = trail.clone();
        let payload = if i == 0 {
            ev.as_bytes().to_vec()
        } else {
            format!("line {i}").into_bytes()
        };
        tasks.push(tokio::spawn(
            async move { t.append(payload).await.unwrap() },
        ));
    }
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(t.await.unwrap());
    }
    trail.close().await.unwrap();
    let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 50, "one line per record");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"], i as u64 + 1, "in seq order");
        let r = receipts.iter().find(|r| r.seq == i as u64 + 1).unwrap();
        assert_eq!(l["hash"], r.hash.to_hex());
    }
    let event_line = lines
        .iter()
        .find(|l| l.get("event").is_some())
        .expect("the event is rendered as an event");
    assert_eq!(event_line["event"]["pid"], 7);
}

/// A seek past a sealed segment's first sparse-index entry jumps there without a chain value;
/// reading on must still cross the footer into the next segment, every record in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_deep_into_a_sealed_segment_reads_across_its_footer() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, opts(512 << 10)).await.unwrap();
    for b in 0..6 {
        let batch: Vec<Vec<u8>> = (0..1000)
            .map(|n| format!("{b}-{n}-{}", "p".repeat(200)).into_bytes())
            .collect();
        trail.append_batch(batch).await.unwrap();
    }
    trail.close().await.unwrap();
    assert!(segments(&dir).len() >= 3);
    let all = read_all(&dir);
    assert_eq!(all.len(), 6000);
    for from in [700u64, 1500, 2100, 2999] {
        let mut reader = Reader::open(&dir).unwrap();
        reader.seek(from).unwrap();
        let got: Vec<_> = std::iter::from_fn(|| reader.next_available().unwrap()).collect();
        assert_eq!(got, all[from as usize - 1..], "seek to {from}");
    }
}
