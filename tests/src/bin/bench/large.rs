//! Section 7: a large trail (10 million records by default): build it, open it after the
//! writer died and after a clean close, run time-range queries against full scans, and read
//! each phase's peak memory. Each phase is a child process (this binary, `__child ...`), so
//! its VmHWM is its own.

use crate::report::{fmt_ns, fmt_rate, fmt_ratio, median, mem_kb, Compare, Measure};
use crate::Ctx;
use evident_core::query::QuerySpec;
use evident_core::{Durability, Options};
use evident_native::{Reader, Trail, TrailOptions};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BATCH: usize = 8192;

// ---------------------------------------------------------------------------------------------
// The children

fn result(v: Value) {
    let (hwm, rss) = mem_kb();
    let mut v = v;
    v["hwm_kb"] = json!(hwm);
    v["rss_kb"] = json!(rss);
    println!("RESULT {v}");
}

/// Entry point of `bench __child CMD ARGS...`.
pub fn child(args: &[String]) {
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<u64>().expect("a number");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::path::PathBuf::from(arg(1));
    match arg(0).as_str() {
        "build" => child_build(&rt, &dir, num(2)),
        "prove" => crate::proofs::child(&dir, result),
        "open" => rt.block_on(async {
            let start = Instant::now();
            let trail = Trail::open(&dir, TrailOptions::default())
                .await
                .expect("open");
            let secs = start.elapsed().as_secs_f64();
            let rep = trail.open_report().clone();
            let segments = Reader::open(&dir).expect("reader").segments().len();
            trail.close().await.expect("close");
            result(json!({
                "secs": secs,
                "segments": segments,
                "tail": format!("{:?}", rep.tail),
            }));
        }),
        "query" => {
            let spec = QuerySpec {
                since: Some(num(2)),
                until: Some(num(3)),
                ..QuerySpec::default()
            };
            let start = Instant::now();
            let r = evident_native::query::query(&dir, spec).expect("query");
            let secs = start.elapsed().as_secs_f64();
            result(json!({
                "secs": secs,
                "records": r.records.len(),
                "segments_read": r.segments_read,
                "bytes_read": r.bytes_read,
            }));
        }
        "scan" => {
            // What an export does: pages of 8192 records, each resuming where the last stopped,
            // the filter applied by the client (a scan that cannot use the time index).
            let (since, until) = (num(2), num(3));
            let start = Instant::now();
            let mut spec = QuerySpec {
                limit: Some(BATCH),
                ..QuerySpec::default()
            };
            let (mut seen, mut matched, mut bytes_read) = (0u64, 0u64, 0u64);
            loop {
                let page = evident_native::query::query(&dir, spec.clone()).expect("page");
                bytes_read += page.bytes_read;
                seen += page.records.len() as u64;
                matched += page
                    .records
                    .iter()
                    .filter(|r| r.ts >= since && r.ts < until)
                    .count() as u64;
                match page.records.last() {
                    Some(last) if page.records.len() == BATCH => {
                        spec.from_seq = Some(last.seq + 1);
                        spec.resume_at = page.resume;
                    }
                    _ => break,
                }
            }
            result(json!({
                "secs": start.elapsed().as_secs_f64(),
                "records": matched,
                "seen": seen,
                "bytes_read": bytes_read,
            }));
        }
        "verify" => {
            let start = Instant::now();
            let r = evident_native::fs_exec::verify_dir(&dir, Vec::new(), |_, _| {})
                .expect("the trail verifies");
            result(json!({
                "secs": start.elapsed().as_secs_f64(),
                "records": r.records,
                "bytes_read": r.bytes,
            }));
        }
        "reader" => {
            let (since, until) = (num(2), num(3));
            let start = Instant::now();
            let mut r = Reader::open(&dir).expect("reader");
            let (mut seen, mut matched) = (0u64, 0u64);
            while let Some(rec) = r.next_available().expect("read") {
                seen += 1;
                if rec.ts >= since && rec.ts < until {
                    matched += 1;
                }
            }
            result(json!({
                "secs": start.elapsed().as_secs_f64(),
                "records": matched,
                "seen": seen,
            }));
        }
        other => panic!("unknown child command {other:?}"),
    }
}

fn child_build(rt: &tokio::runtime::Runtime, dir: &Path, records: u64) {
    let events = crate::events::generate(4096);
    rt.block_on(async {
        let opts = TrailOptions {
            core: Options {
                durability: Durability::Os,
                ..Options::default()
            },
            ..TrailOptions::default()
        };
        let trail = Trail::open(dir, opts).await.expect("open");
        let start = Instant::now();
        let mut samples = vec![json!([0, mem_kb().1])];
        let step = (records / 10).max(1);
        let mut next_sample = step;
        let (mut done, mut first_ts, mut last_ts) = (0u64, 0u64, 0u64);
        // Each batch gets one timestamp: remember them to pick query windows on batch edges.
        let mut batch_ts = Vec::new();
        while done < records {
            let n = (records - done).min(BATCH as u64) as usize;
            let batch: Vec<Vec<u8>> = (0..n)
                .map(|j| events[(done as usize + j) % events.len()].clone())
                .collect();
            let r = trail.append_batch(batch).await.expect("append_batch");
            if done == 0 {
                first_ts = r[0].ts;
            }
            last_ts = r[r.len() - 1].ts;
            batch_ts.push(r[0].ts);
            done += n as u64;
            if done >= next_sample {
                samples.push(json!([done, mem_kb().1]));
                next_sample += step;
            }
        }
        trail.sync().await.expect("sync");
        let secs = start.elapsed().as_secs_f64();
        // The tiles follow durability (under `Os`, the final sync): let the tile lane finish
        // them (outside the timed part), so that section 7's `prove` reads tiles, as it would
        // on a trail written over time, instead of rebuilding from every record.
        let deadline = Instant::now() + std::time::Duration::from_secs(900);
        while trail.tile_status().tiled < trail.head().seq && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        trail.sync().await.expect("sync"); // the partial tiles of the head
        let mut written = u64::MAX;
        while trail.tile_status().files_written != written {
            written = trail.tile_status().files_written;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let segments = Reader::open(dir).expect("reader").segments().len();
        let bytes: u64 = std::fs::read_dir(dir)
            .expect("list")
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        // Windows in the middle of the trail: 1% of the batches, and one batch.
        let nb = batch_ts.len();
        let ts_at = |k: usize| batch_ts.get(k).copied().unwrap_or(last_ts + 1);
        let mid = nb / 2;
        let wide = [ts_at(mid), ts_at(mid + (nb / 100).max(1))];
        let narrow = [ts_at(mid), ts_at(mid + 1)];
        result(json!({
            "secs": secs,
            "records": done,
            "wide": wide,
            "narrow": narrow,
            "first_ts": first_ts,
            "last_ts": last_ts,
            "segments": segments,
            "bytes": bytes,
            "rss_samples": samples,
        }));
        // Exit without closing, as a crashed writer would (everything is synced): the next
        // open is a recovery.
        std::process::exit(0);
    });
}

/// Runs a child phase; returns its RESULT object.
fn run_child(args: &[String]) -> Value {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe)
        .arg("__child")
        .args(args)
        .output()
        .expect("running a child phase");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        panic!(
            "child {args:?} failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("child {args:?} printed no result: {stdout}"));
    serde_json::from_str(line).expect("a JSON result")
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(0.0)
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn available_bytes(dir: &Path) -> Option<u64> {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)?
        .trim()
        .parse()
        .ok()
}

/// Section 7.
pub fn section7(ctx: &mut Ctx) {
    eprintln!("section 7: a large trail");
    let mut records = ctx.large_records;
    let need = records * 320 + (256 << 20);
    let mut note = String::new();
    if let Some(avail) = available_bytes(&ctx.dir) {
        if avail < need + (2 << 30) {
            let fit = avail.saturating_sub(2 << 30).saturating_sub(256 << 20) / 320;
            note = format!(
                " Only {:.1} GB free: the trail was cut to {fit} records.",
                avail as f64 / 1e9
            );
            records = fit;
        }
    }
    let dir = ctx.dir.join("large");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating the large trail's directory");
    let d = dir.display().to_string();

    eprintln!("  building {records} records in {d}");
    let b = run_child(&["build".into(), d.clone(), records.to_string()]);
    let mut md = format!(
        "\n## 7. A trail of {} records: queries, open time, memory\n\n\
         Built by one writer process with `append_batch` of {BATCH} records, \
         `Durability::Os`, default 64 MiB segments; a sync at the end, then the writer exits \
         without closing (as if killed).{note}\n\n\
         | | |\n|---|---|\n\
         | records | {} |\n\
         | on disk | {:.2} GB in {} segments |\n\
         | build time | {:.1} s ({} records/s, {:.0} MB/s) |\n\
         | writer peak RSS (VmHWM) | {} |\n\
         | writer RSS as the trail grew (records → RSS) | {} |\n",
        fmt_rate(records as f64),
        fmt_rate(u(&b, "records") as f64),
        f(&b, "bytes") / 1e9,
        u(&b, "segments"),
        f(&b, "secs"),
        fmt_rate(u(&b, "records") as f64 / f(&b, "secs")),
        f(&b, "bytes") / 1e6 / f(&b, "secs"),
        mib(u(&b, "hwm_kb")),
        b["rss_samples"]
            .as_array()
            .map(|a| a
                .iter()
                .map(|s| format!(
                    "{} → {}",
                    fmt_rate(s[0].as_f64().unwrap_or(0.0)),
                    mib(s[1].as_u64().unwrap_or(0))
                ))
                .collect::<Vec<_>>()
                .join("; "))
            .unwrap_or_default(),
    );
    // Writer memory flat in trail size: RSS at the end against RSS at the first 10%.
    if let Some(a) = b["rss_samples"].as_array() {
        let first = a.get(1).and_then(|s| s[1].as_u64()).unwrap_or(0);
        let last = a.last().and_then(|s| s[1].as_u64()).unwrap_or(0);
        if first > 0 {
            let ratio = last as f64 / first as f64;
            ctx.report.target_text(
                "writer memory flat in trail size",
                "—",
                &format!(
                    "RSS {} at 10% of {} records, {} at 100% ({})",
                    mib(first),
                    fmt_rate(records as f64),
                    mib(last),
                    fmt_ratio(ratio)
                ),
                "≤ 1.25x from 10% to 100%",
                ratio <= 1.25,
            );
        }
    }

    // Open: first the recovery after the writer died, then clean opens.
    let first = run_child(&["open".into(), d.clone()]);
    let mut clean = Vec::new();
    for _ in 0..if ctx.quick { 2 } else { 5 } {
        clean.push(run_child(&["open".into(), d.clone()]));
    }
    let clean_secs = median(clean.iter().map(|v| f(v, "secs")).collect()).unwrap_or(0.0);
    let _ = write!(
        md,
        "| open after the writer exited without closing (recovery) | {} (tail: {}) |\n\
         | open after a clean close (median of {}) | {} |\n\
         | peak RSS of an open | {} |\n",
        fmt_ns(f(&first, "secs") * 1e9),
        first["tail"].as_str().unwrap_or("?"),
        clean.len(),
        fmt_ns(clean_secs * 1e9),
        mib(u(&first, "hwm_kb")),
    );
    ctx.report.line(&md);

    // Queries against full scans, interleaved.
    let window = |k: &str| (b[k][0].as_u64().unwrap_or(0), b[k][1].as_u64().unwrap_or(0));
    let (wide, narrow) = (window("wide"), window("narrow"));
    let arg = |cmd: &str, (a, z): (u64, u64)| -> Vec<String> {
        vec![cmd.into(), d.clone(), a.to_string(), z.to_string()]
    };
    let batch_name = format!("time-range query, one batch ({BATCH} records)");
    let plans = [
        ("time-range query, 1% of the records", arg("query", wide)),
        (batch_name.as_str(), arg("query", narrow)),
        (
            "full scan: paged query (export-like), filter in the client",
            arg("scan", wide),
        ),
        (
            "full scan: Reader iteration, filter in the client",
            arg("reader", wide),
        ),
        (
            "verify the whole trail (verify_dir)",
            vec!["verify".into(), d.clone()],
        ),
    ];
    let names: Vec<&str> = plans.iter().map(|p| p.0).collect();
    let rounds = if ctx.quick { 2 } else { 3 };
    let mut outputs: Vec<Vec<Value>> = vec![Vec::new(); plans.len()];
    let s = ctx.interleave(
        "Queries on the large trail",
        &names,
        rounds,
        Compare::VsBase(3),
        |_ctx, c| {
            let v = run_child(&plans[c].1);
            let m = Measure {
                ops: u(&v, "records"),
                secs: f(&v, "secs"),
                bytes: 0,
                lat_ns: Vec::new(),
                syncs: 0,
            };
            outputs[c].push(v);
            m
        },
    );
    let mut q = format!(
        "\n**Time-range queries vs full scans** ({rounds} interleaved rounds, each in its own \
         process; page cache warm: the trail was just written and this machine has more memory \
         than the trail)\n\n\
         | operation | records returned | bytes read | time (median) | peak RSS (median) | full Reader scan ÷ this |\n\
         |---|---:|---:|---:|---:|---:|\n"
    );
    let secs_of = |c: usize| median(outputs[c].iter().map(|v| f(v, "secs")).collect());
    let full = secs_of(3);
    for (c, name) in names.iter().enumerate() {
        let o = &outputs[c];
        let Some(first) = o.first() else { continue };
        let t = secs_of(c).unwrap_or(0.0);
        let hwm = median(o.iter().map(|v| u(v, "hwm_kb") as f64).collect()).unwrap_or(0.0);
        let bytes = match first.get("bytes_read").and_then(Value::as_u64) {
            Some(b) => format!("{:.1} MB", b as f64 / 1e6),
            None => "all".into(),
        };
        let _ = writeln!(
            q,
            "| {name} | {} | {bytes} | {} | {} | {} |",
            fmt_rate(u(first, "records") as f64),
            fmt_ns(t * 1e9),
            mib(hwm as u64),
            full.map_or("—".into(), |fs| fmt_ratio(fs / t.max(1e-9)))
        );
    }
    ctx.report.line(&q);
    let _ = s;

    // Proofs: on the large trail, and on a small one for the open-time comparison.
    eprintln!("  proofs");
    let big = run_child(&["prove".into(), d.clone()]);
    let small_dir = ctx.scratch("small-for-proofs");
    let sd = small_dir.display().to_string();
    run_child(&["build".into(), sd.clone(), "10000".into()]);
    let small = run_child(&["prove".into(), sd]);
    crate::proofs::report(ctx, &big, &small);
    crate::remove(&small_dir);
    if ctx.keep {
        // Move it out of the run directory, which is removed at the end.
        let kept = ctx.dir.parent().map(|p| p.join("large-kept"));
        if let Some(k) = kept {
            let _ = std::fs::remove_dir_all(&k);
            if std::fs::rename(&dir, &k).is_ok() {
                eprintln!("  kept the large trail in {}", k.display());
            }
        }
    } else {
        crate::remove(&dir);
    }
}
