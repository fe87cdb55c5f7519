//! Background archiving from an open `Trail` against a real S3 server (SeaweedFS started by
//! the tests): the store stopped while the trail appends (appends unaffected, the lag and the
//! last error visible), then restarted (the archiver catches up).

mod seaweed;

use evident_native::archive::{self, BackgroundArchive};
use evident_native::{Options, Trail, TrailOptions};
use seaweed::cli::BUCKET;
use seaweed::Seaweed;
use std::time::{Duration, Instant};

async fn wait_for(trail: &Trail, what: &str, f: impl Fn(&archive::ArchiveStatus) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = trail.archive_status().unwrap();
        if f(&s) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the trail's health shows an archive lag that satisfies `f`, and returns it.
async fn wait_health(
    trail: &Trail,
    what: &str,
    f: impl Fn(&evident_native::core::ArchiveLag) -> bool,
) -> evident_native::core::ArchiveLag {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = trail.health();
        if let Some(lag) = h.archive.as_ref().filter(|l| f(l)) {
            return lag.clone();
        }
        assert!(Instant::now() < deadline, "{what}: {:?}", h.archive);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_go_on_while_the_store_is_down_and_the_archive_catches_up() {
    let s = tokio::task::spawn_blocking(|| Seaweed::start_with(&[BUCKET]))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    let url = format!("s3://{BUCKET}/background");
    let opts = TrailOptions {
        core: Options {
            segment_bytes: 4096,
            ..Options::default()
        },
        archive: Some(BackgroundArchive::new(
            s.target(&url),
            Duration::from_millis(200),
        )),
        ..TrailOptions::default()
    };
    let trail = Trail::open(&dir, opts).await.unwrap();
    for i in 0..300 {
        trail
            .append(format!("before {i} {}", "x".repeat(50)).into_bytes())
            .await
            .unwrap();
    }
    wait_for(&trail, "first rounds", |st| {
        st.rounds_ok > 0 && st.pending_segments == 0
    })
    .await;
    // The store goes down while records keep coming: every append is acknowledged, none
    // waits for the store.
    let (s, stopped) = tokio::task::spawn_blocking(move || {
        let mut s = s;
        s.stop();
        (s, Instant::now())
    })
    .await
    .unwrap();
    let mut slowest = Duration::ZERO;
    for i in 0..600 {
        let t0 = Instant::now();
        trail
            .append(format!("during {i} {}", "y".repeat(50)).into_bytes())
            .await
            .unwrap();
        slowest = slowest.max(t0.elapsed());
    }
    assert!(
        slowest < Duration::from_millis(500),
        "an append waited {slowest:?}"
    );
    wait_for(&trail, "the lag and the error", |st| {
        st.last_error.is_some() && st.pending_segments > 0 && st.pending_bytes > 0
    })
    .await;
    let st = trail.archive_status().unwrap();
    assert!(st.failures >= 1, "{st:?}");
    assert!(stopped.elapsed() > Duration::ZERO);
    // The trail's health says the same: the error, the segments, bytes and records not yet
    // archived; and the lag grows while the store stays down (measured between attempts).
    let lag = wait_health(&trail, "the lag in health", |l| {
        l.last_error.is_some() && l.pending_segments > 0 && l.failed_rounds >= 1
    })
    .await;
    assert!(lag.records_behind >= 600, "{lag:?}");
    assert!(lag.pending_bytes > 0, "{lag:?}");
    assert!(lag.last_success_at.is_some(), "{lag:?}");
    for i in 0..600 {
        trail
            .append(format!("still down {i} {}", "y".repeat(50)).into_bytes())
            .await
            .unwrap();
    }
    let grown = wait_health(&trail, "the lag growing", |l| {
        l.pending_segments > lag.pending_segments && l.pending_bytes > lag.pending_bytes
    })
    .await;
    assert!(
        grown.records_behind >= lag.records_behind + 600,
        "{grown:?}"
    );
    assert!(grown.last_error.is_some(), "{grown:?}");
    assert_eq!(grown.archived_seq, lag.archived_seq, "{grown:?}");
    // Back up: the archiver catches up with its retries.
    let s = tokio::task::spawn_blocking(move || {
        let mut s = s;
        s.start();
        s
    })
    .await
    .unwrap();
    wait_for(&trail, "catch-up", |st| {
        st.last_error.is_none() && st.pending_segments == 0
    })
    .await;
    let archived = trail.archive_status().unwrap().archived_seq;
    assert!(archived > 300, "{archived}");
    let caught_up = wait_health(&trail, "caught up in health", |l| {
        l.last_error.is_none() && l.pending_segments == 0 && l.failed_rounds == 0
    })
    .await;
    assert!(caught_up.archived_seq > grown.archived_seq, "{caught_up:?}");
    assert!(
        caught_up.last_success_at > lag.last_success_at,
        "{caught_up:?}"
    );
    trail.close().await.unwrap();
    let log = archive::read_log_id(&dir).unwrap();
    let t = s.target(&url);
    let r = archive::verify_bucket(&t, &log, vec![], &mut |_, _| {})
        .await
        .unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.head.unwrap().seq, archived);
    tokio::task::spawn_blocking(move || drop(s)).await.unwrap();
}

/// The background archiver fetches only the manifests added since its last round, but a
/// manifest of an earlier round replaced in the bucket (same size, other bytes) is still
/// noticed: its listing changed, the whole chain is validated again and refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_archiver_notices_an_earlier_manifest_replaced() {
    let s = tokio::task::spawn_blocking(|| Seaweed::start_with(&[BUCKET]))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    let url = format!("s3://{BUCKET}/replaced");
    let opts = TrailOptions {
        core: Options {
            segment_bytes: 4096,
            ..Options::default()
        },
        archive: Some(BackgroundArchive::new(
            s.target(&url),
            Duration::from_millis(100),
        )),
        ..TrailOptions::default()
    };
    let trail = Trail::open(&dir, opts).await.unwrap();
    for i in 0..300 {
        trail
            .append(format!("first {i} {}", "x".repeat(50)).into_bytes())
            .await
            .unwrap();
    }
    wait_for(&trail, "archived", |st| {
        st.archived_seq > 0 && st.pending_segments == 0
    })
    .await;
    let st = trail.archive_status().unwrap();
    // (How many manifests a round fetched depends on how the appends fell into rounds: a
    // round that wrote the only manifest fetches none, so that count is not asserted.)
    assert!(st.rounds_ok >= 1, "{st:?}");
    let log = archive::read_log_id(&dir).unwrap();
    let t = s.target(&url);
    let key = t.key(
        &log,
        &evident_native::core::archive::keys::manifest_rel_key(1),
    );
    let (t2, k2) = (t.clone(), key.clone());
    tokio::task::spawn_blocking(move || {
        let bytes = seaweed::cli::get_raw(&t2, &k2);
        let text = String::from_utf8(bytes).unwrap();
        // The same length, another last hash digit.
        let i = text.rfind("\"last_hash\": \"").unwrap() + 14;
        let mut b = text.into_bytes();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        seaweed::cli::put_raw(&t2, &k2, b);
    })
    .await
    .unwrap();
    for i in 0..300 {
        trail
            .append(format!("second {i} {}", "y".repeat(50)).into_bytes())
            .await
            .unwrap();
    }
    wait_for(&trail, "refused", |st| {
        st.last_error
            .as_deref()
            .is_some_and(|e| e.contains("manifest") && e.contains("refused"))
    })
    .await;
    trail.close().await.unwrap();
    tokio::task::spawn_blocking(move || drop(s)).await.unwrap();
}
