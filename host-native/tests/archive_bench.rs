//! Archive benchmarks against a real S3 server (SeaweedFS on loopback, started here). Not part
//! of the test run (ignored); run them with
//! `cargo test --release -p evident-native --test archive_bench -- --ignored --nocapture`.
//! They print figures and check the ratios loosely (a shared machine is noisy).

mod seaweed;

use evident_native::archive::{self, BackgroundArchive};
use evident_native::{Options, Trail, TrailOptions};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use seaweed::cli::*;
use seaweed::Seaweed;
use std::time::{Duration, Instant};

#[test]
#[ignore = "benchmark"]
fn archive_throughput_against_a_plain_upload_of_the_same_files() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // About 64 MiB in 4 MiB segments.
    rt.block_on(async {
        let t = Trail::open(
            &dir,
            TrailOptions {
                core: Options {
                    segment_bytes: 4 << 20,
                    durability: evident_native::Durability::Os,
                    ..Options::default()
                },
                ..TrailOptions::default()
            },
        )
        .await
        .unwrap();
        let payload = vec![b'a'; 1000];
        for _ in 0..66_000 {
            t.append(payload.clone()).await.unwrap();
        }
        t.close().await.unwrap();
    });
    let segs = archive::local_segments(&dir).unwrap();
    let sealed = &segs[..segs.len() - 1];
    let bytes: u64 = sealed
        .iter()
        .map(|(_, n)| std::fs::metadata(dir.join(n)).unwrap().len())
        .sum();
    let t = s.target(&format!("s3://{BUCKET}/bench"));
    let plain = s.target(&format!("s3://{BUCKET}/plain"));
    let (archive_s, plain_s) = rt.block_on(async {
        // Plain PUTs first (and a warm-up of the server's volumes), so that neither side pays
        // for the server's first allocations.
        let (plain, dir) = (&plain, &dir);
        let put_all = |prefix: &'static str| async move {
            let t0 = Instant::now();
            for (_, n) in sealed {
                let data = std::fs::read(dir.join(n)).unwrap();
                plain
                    .store
                    .put(
                        &ObjPath::from(format!("{prefix}/{n}")),
                        PutPayload::from(data),
                    )
                    .await
                    .unwrap();
            }
            t0.elapsed().as_secs_f64()
        };
        put_all("warmup").await;
        let plain_s = put_all("plain").await;
        let t0 = Instant::now();
        let r = archive::archive_round(dir, &t, &mut |_, _| {})
            .await
            .unwrap();
        let archive_s = t0.elapsed().as_secs_f64();
        assert_eq!(r.bytes, bytes);
        (archive_s, plain_s)
    });
    let mb = bytes as f64 / 1e6;
    println!(
        "archive round: {mb:.1} MB in {archive_s:.2} s = {:.1} MB/s; plain PUTs of the same files: {:.1} MB/s; ratio {:.2}",
        mb / archive_s,
        mb / plain_s,
        plain_s / archive_s
    );
}

#[test]
#[ignore = "benchmark"]
fn durable_appends_at_64_producers_with_and_without_background_archiving() {
    let s = Seaweed::start_with(&[BUCKET]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |archive: Option<BackgroundArchive>| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("trail");
        rt.block_on(async move {
            let t = Trail::open(
                &dir,
                TrailOptions {
                    core: Options {
                        segment_bytes: 1 << 20,
                        ..Options::default()
                    },
                    archive,
                    ..TrailOptions::default()
                },
            )
            .await
            .unwrap();
            let t0 = Instant::now();
            let mut tasks = Vec::new();
            for p in 0..64 {
                let t = t.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..2000 {
                        t.append(
                            format!("producer {p} record {i} {}", "z".repeat(300)).into_bytes(),
                        )
                        .await
                        .unwrap();
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            let rate = 64.0 * 2000.0 / t0.elapsed().as_secs_f64();
            let status = t.archive_status();
            t.close().await.unwrap();
            (rate, status)
        })
    };
    let (without, _) = run(None);
    let target = s.target(&format!("s3://{BUCKET}/bench64"));
    let (with, status) = run(Some(BackgroundArchive::new(
        target,
        Duration::from_millis(100),
    )));
    println!(
        "durable appends, 64 producers: {without:.0}/s without archiving, {with:.0}/s while archiving every 100 ms ({:.2}x); archive status {status:?}",
        with / without
    );
}
