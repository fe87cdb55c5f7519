//! Section 4: verify throughput against BLAKE3's own single-core speed, and open (recovery)
//! time against the number of sealed segments.

use crate::probe::State;
use crate::report::{fmt_ns, fmt_ratio, median, Compare, Measure};
use crate::{remove, Ctx};
use evident_core::frame::{encode_entry, entry_frame_len, KIND_ENTRY};
use evident_core::hash::{chain, leaf, Hash};
use evident_core::{Durability, Options};
use evident_native::{Reader, Trail, TrailOptions};
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// Writes `records` of the benchmark's events into a new trail (`Durability::Os`, batches of
/// 4096) and closes it; returns the bytes of records written (frames, padding included).
pub fn build(ctx: &Ctx, dir: &Path, records: u64, segment_bytes: u64) -> u64 {
    let events = ctx.events.clone();
    ctx.rt.block_on(async {
        let opts = TrailOptions {
            core: Options {
                durability: Durability::Os,
                segment_bytes,
                ..Options::default()
            },
            ..TrailOptions::default()
        };
        let trail = Trail::open(dir, opts).await.expect("open");
        let mut bytes = 0u64;
        let mut done = 0u64;
        while done < records {
            let n = (records - done).min(4096) as usize;
            let batch: Vec<Vec<u8>> = (0..n)
                .map(|j| events[(done as usize + j) % events.len()].clone())
                .collect();
            bytes += batch
                .iter()
                .map(|p| entry_frame_len(p.len()) as u64)
                .sum::<u64>();
            trail.append_batch(batch).await.expect("append_batch");
            done += n as u64;
        }
        trail.close().await.expect("close");
        bytes
    })
}

/// Section 4.
pub fn section4(ctx: &mut Ctx) {
    eprintln!("section 4: verify throughput, open time");
    ctx.report.line(
        "\n## 4. Verify throughput and open time\n\n\
         `fs_exec::verify_dir_with` (the core's `VerifyTask`, 1 MiB reads; with 2 threads a \
         read-ahead thread reads the next chunk and hashes most of its record leaves while the \
         calling thread checks the current one) over a trail \
         just written and therefore in the page cache: it checks every frame's CRC32C, \
         recomputes every leaf and chain hash, and checks headers, footers and the head \
         checkpoint. MB/s are of record bytes (frames with padding). BLAKE3 references run on \
         one core over the same record bytes held in memory.",
    );
    let records: u64 = if ctx.quick { 50_000 } else { 1_000_000 };
    let dir = ctx.scratch("verify");
    let t = Instant::now();
    let data_bytes = build(ctx, &dir, records, 64 << 20);
    eprintln!(
        "  built {records} records ({:.0} MB) in {:.1} s",
        data_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let events = ctx.events.clone();
    let frames: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let mut f = Vec::new();
            encode_entry(&mut f, 1, 1, &Hash::default(), e);
            f
        })
        .collect();
    let big = vec![0xa5u8; 1 << 20];
    let names = [
        "evident verify, 1 thread (verify_dir_with 1)",
        "BLAKE3, one hash per record frame",
        "BLAKE3 leaf + chain step per record (the hashing verify must do)",
        "BLAKE3 over 1 MiB inputs (SIMD best case)",
        "evident verify, leaves on 2 threads (verify_dir)",
    ];
    let rounds = ctx.rounds(5);
    let s = ctx.interleave(
        &format!(
            "Verify throughput, {records} records ({:.0} MB), {rounds} rounds",
            data_bytes as f64 / 1e6
        ),
        &names,
        rounds,
        Compare::VsBase(1),
        |_ctx, c| match c {
            0 | 4 => {
                let threads = if c == 0 { 1 } else { 2 };
                let start = Instant::now();
                let r =
                    evident_native::fs_exec::verify_dir_with(&dir, Vec::new(), threads, |_, _| {})
                        .expect("the trail verifies");
                black_box(r);
                Measure::timed(records, data_bytes, start)
            }
            1 => {
                let start = Instant::now();
                let mut bytes = 0;
                let mut i = 0;
                while bytes < data_bytes {
                    let f = &frames[i % frames.len()];
                    black_box(blake3::hash(f));
                    bytes += f.len() as u64;
                    i += 1;
                }
                Measure::timed(i as u64, bytes, start)
            }
            2 => {
                let start = Instant::now();
                let mut bytes = 0;
                let mut head = Hash::default();
                let mut i = 0;
                while bytes < data_bytes {
                    let k = i % events.len();
                    head = chain(&head, &leaf(KIND_ENTRY, i as u64, 1, &events[k]));
                    bytes += frames[k].len() as u64;
                    i += 1;
                }
                black_box(head);
                Measure::timed(i as u64, bytes, start)
            }
            _ => {
                let start = Instant::now();
                let mut bytes = 0;
                while bytes < data_bytes {
                    black_box(blake3::hash(&big));
                    bytes += big.len() as u64;
                }
                Measure::timed(bytes >> 20, bytes, start)
            }
        },
    );
    let mut s = s;
    s.show_mbps = true;
    ctx.report.series(&s);
    for st in [State::Fast, State::Slow, State::Mixed] {
        if s.median_mbps(0, st).is_none() {
            continue;
        }
        ctx.report.target(
            "verify ≥ 0.7× single-core BLAKE3 at the same record size (verify on 1 thread)",
            st,
            s.rate_ratio(0, 1, st),
            0.7,
            true,
            "",
        );
        ctx.report.target(
            "verify on 2 cores faster than single-core BLAKE3 (leaves hashed in parallel)",
            st,
            s.rate_ratio(4, 1, st),
            1.0,
            true,
            "",
        );
    }
    remove(&dir);
    open_time(ctx);
}

/// Open time of trails that differ only in their number of sealed segments.
fn open_time(ctx: &mut Ctx) {
    const SEGMENT: u64 = 256 << 10;
    let counts: &[u64] = if ctx.quick {
        &[10, 100]
    } else {
        &[10, 100, 1000]
    };
    // Records per segment: as many frames as fit after the header, minus room for the footer.
    let mean = crate::events::mean_len(&ctx.events);
    let per_segment = ((SEGMENT - 8192) as f64 / entry_frame_len(mean as usize) as f64) as u64;
    let mut dirs = Vec::new();
    for &n in counts {
        let dir = ctx.scratch(&format!("open-{n}"));
        let t = Instant::now();
        // n sealed segments plus a half-full last one.
        build(ctx, &dir, per_segment * n + per_segment / 2, SEGMENT);
        let segs = Reader::open(&dir).expect("reader").segments().len();
        eprintln!(
            "  built a trail with {segs} segments in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        dirs.push((segs, dir));
    }
    let names: Vec<String> = dirs
        .iter()
        .map(|(segs, _)| format!("{} sealed segments", segs - 1))
        .collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let rounds = if ctx.quick { 3 } else { 9 };
    let s = ctx.interleave(
        "Open time vs sealed segments",
        &name_refs,
        rounds,
        Compare::VsBase(0),
        |ctx, c| {
            let dir = dirs[c].1.clone();
            ctx.rt.block_on(async {
                let start = Instant::now();
                let trail = Trail::open(&dir, TrailOptions::default())
                    .await
                    .expect("open");
                let m = Measure::timed(1, 0, start);
                trail.close().await.expect("close");
                m
            })
        },
    );
    let mut md = format!(
        "\n**Open time vs the number of sealed segments** (256 KiB segments, {per_segment} \
         records each; the last segment half full; `Trail::open` until it returns, page cache \
         warm; {rounds} interleaved rounds)\n\n\
         | fsync state | trail | open time (median) | min | max | ÷ fewest segments | read_dir + stat of every file |\n\
         |---|---|---:|---:|---:|---:|---:|\n"
    );
    // What listing the directory costs by itself: read_dir and one stat per entry (the
    // executor's `List`, which gives the core every file's length).
    let listing: Vec<f64> = dirs
        .iter()
        .map(|(_, d)| {
            let xs = (0..9)
                .map(|_| {
                    let t = Instant::now();
                    for e in std::fs::read_dir(d).expect("list") {
                        black_box(e.expect("entry").metadata().expect("stat").len());
                    }
                    t.elapsed().as_nanos() as f64
                })
                .collect();
            median(xs).expect("not empty")
        })
        .collect();
    let mut slopes = Vec::new();
    let mut worst: Option<f64> = None;
    for st in [State::Fast, State::Slow, State::Mixed] {
        let mut last_m = None;
        let base = median(
            s.runs
                .iter()
                .filter(|r| r.contender == 0 && r.state == st)
                .map(|r| 1e9 / r.rate)
                .collect(),
        );
        for (c, name) in names.iter().enumerate() {
            let xs: Vec<f64> = s
                .runs
                .iter()
                .filter(|r| r.contender == c && r.state == st)
                .map(|r| 1e9 / r.rate)
                .collect();
            if xs.is_empty() {
                continue;
            }
            let min = xs.iter().cloned().fold(f64::MAX, f64::min);
            let max = xs.iter().cloned().fold(0.0, f64::max);
            let m = median(xs).expect("not empty");
            let ratio = base.map(|b| m / b);
            last_m = Some(m);
            if c + 1 == names.len() && st != State::Mixed {
                if let Some(r) = ratio {
                    worst = Some(worst.map_or(r, |w: f64| w.max(r)));
                }
            }
            let _ = writeln!(
                md,
                "| {} | {name} | {} | {} | {} | {} | {} |",
                st.label(),
                fmt_ns(m),
                fmt_ns(min),
                fmt_ns(max),
                ratio.map_or("—".into(), fmt_ratio),
                fmt_ns(listing[c]),
            );
        }
        if let (Some(b), Some(l)) = (base, last_m) {
            let extra = (dirs[dirs.len() - 1].0 - dirs[0].0) as f64;
            slopes.push(format!(
                "{}: {:.1} µs per additional sealed segment",
                st.label(),
                (l - b) / 1e3 / extra
            ));
        }
    }
    let _ = writeln!(
        md,
        "\nGrowth: {}. Listing the directory with one stat per file grows by {:.1} µs per \
         segment on its own.",
        slopes.join("; "),
        (listing[listing.len() - 1] - listing[0])
            / 1e3
            / (dirs[dirs.len() - 1].0 - dirs[0].0) as f64
    );
    ctx.report.line(&md);
    if let Some(w) = worst {
        ctx.report.target_text(
            "open time flat in the number of sealed segments",
            "per state",
            &format!(
                "{} sealed ÷ {} sealed = {} ({})",
                dirs.last().map_or(0, |d| d.0 - 1),
                dirs[0].0 - 1,
                fmt_ratio(w),
                slopes.join("; ")
            ),
            "≤ 2x over 100× the segments",
            w <= 2.0,
        );
    }
    for (_, d) in dirs {
        remove(&d);
    }
}
