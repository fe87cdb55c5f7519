//! Process crashes of the real binary: `evident append` is killed with SIGKILL at a random
//! moment while lines stream in; every seq it printed must be in the trail with the line that
//! was sent for it, the trail must verify after recovery, and nothing may be missing in between.
//!
//! `EVIDENT_CRASH_ITERS` (default 8) sets the number of kills, `EVIDENT_CRASH_SEED` the seed.

mod common;

use common::{code, describe, evident, read_all, s, temp_trail, BIN};
use evident_native::core::sim::SimRng;
use evident_native::fs_exec::verify_dir;
use evident_native::{TailReport, Trail};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEGMENT_BYTES: &str = "65536";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spawn_append(dir: &Path) -> Child {
    Command::new(BIN)
        .args(["append", s(dir), "--raw", "--segment-bytes", SEGMENT_BYTES])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("evident append starts")
}

/// Collects the seqs printed on stdout (complete lines only) until EOF.
fn collect_seqs(out: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut seqs = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.last() == Some(&b'\n') => {
                    let text = std::str::from_utf8(&line[..line.len() - 1]).expect("utf-8 seq");
                    seqs.push(
                        text.parse()
                            .unwrap_or_else(|_| panic!("not a seq: {text:?}")),
                    );
                }
                Ok(_) => break, // a partial last line: the process died mid-print
            }
        }
        seqs
    })
}

fn collect_text(err: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(err).read_to_string(&mut s);
        s
    })
}

fn line(tag: &str, n: u64) -> String {
    format!("{tag}-line-{n}")
}

/// Checks the trail after a run that started at `base` and sent lines `tag-line-1...` in order.
/// `expected` holds the payload of every record before `base`; it is extended with the records
/// this run left. Returns the new head.
async fn check_after_run(
    dir: &Path,
    base: u64,
    tag: &str,
    printed: &[u64],
    expected: &mut Vec<Vec<u8>>,
    context: &str,
) -> u64 {
    // Before recovery: intact (0) or an interrupted write at the end (4). A crash between
    // creating a segment file and writing its header leaves a headerless last segment, which
    // verification reports as a torn tail at offset 0 of that file and recovery removes.
    // A kill before the first segment was created leaves no trail at all to verify.
    let segs = if dir.exists() {
        common::segments(dir)
    } else {
        Vec::new()
    };
    let out = evident(&["verify", s(dir), "--json"], None);
    let verdict = code(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let headerless_last = verdict == 4
        && json["error"]["offset"] == 0
        && json["error"]["file"].as_str() == segs.last().map(String::as_str);
    let no_trail_yet = base == 0 && segs.is_empty() && (verdict == 1 || verdict == 3);
    assert!(
        verdict == 0 || verdict == 4 || no_trail_yet,
        "{context}: verify before recovery: {}",
        describe(&out)
    );

    let trail = Trail::open(dir, common::opts(65536))
        .await
        .unwrap_or_else(|e| panic!("{context}: recovery failed: {e}"));
    let report = trail.open_report().clone();
    if headerless_last {
        // Removed by recovery (the report's tail then describes the segment before it).
        let name = segs.last().unwrap();
        assert!(
            report.removed_files.contains(name),
            "{context}: {report:?} after {}",
            describe(&out)
        );
    }
    match (&report.tail, verdict) {
        (TailReport::Truncated { .. }, 4) => {}
        (TailReport::AbandonedSegmentRemoved, 4) if headerless_last => {}
        (TailReport::Truncated { .. }, v) | (TailReport::AbandonedSegmentRemoved, v) => {
            panic!(
                "{context}: recovery did {:?} after verify said {v}: {}",
                report.tail,
                describe(&out)
            )
        }
        (_, 0) => {}
        (_, _) if no_trail_yet => assert!(report.created, "{context}: {report:?}"),
        (tail, v) => panic!(
            "{context}: verify said {v} but recovery found {tail:?}: {}",
            describe(&out)
        ),
    }
    let head = trail.close().await.unwrap().seq;
    let verified = verify_dir(dir, vec![], |_, _| {})
        .unwrap_or_else(|e| panic!("{context}: verify after recovery failed: {e}"));
    assert_eq!(verified.head.seq, head, "{context}");
    assert_eq!(verified.records, head, "{context}: no gap, nothing extra");

    // What was printed: consecutive seqs from the start of this run, all kept.
    if let Some(i) = (0..printed.len()).find(|&i| printed[i] != base + 1 + i as u64) {
        panic!(
            "{context}: printed seq #{i} is {} where {} was expected (near: {:?})",
            printed[i],
            base + 1 + i as u64,
            &printed[i.saturating_sub(3)..(i + 4).min(printed.len())]
        );
    }
    assert!(
        head >= base + printed.len() as u64,
        "{context}: {} seqs printed after {base} but the trail ends at {head}",
        printed.len()
    );
    for seq in base + 1..=head {
        expected.push(line(tag, seq - base).into_bytes());
    }
    let records = read_all(dir);
    assert_eq!(records.len() as u64, head, "{context}");
    for (rec, want) in records.iter().zip(expected.iter()) {
        assert_eq!(
            rec.payload,
            *want,
            "{context}: seq {} holds {:?}",
            rec.seq,
            String::from_utf8_lossy(&rec.payload)
        );
    }
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_no_acknowledged_record() {
    let iters = env_u64("EVIDENT_CRASH_ITERS", 8);
    let seed = env_u64("EVIDENT_CRASH_SEED", 0x00e7_1de7);
    eprintln!("crash test: {iters} iterations, EVIDENT_CRASH_SEED={seed}");
    let mut rng = SimRng::new(seed);
    let (_tmp, dir) = temp_trail();
    let mut expected: Vec<Vec<u8>> = Vec::new();
    let mut head = 0;
    let mut total_printed = 0;
    for it in 0..iters {
        let delay = Duration::from_millis(5 + rng.below(296));
        let tag = format!("it{it}");
        let mut child = spawn_append(&dir);
        let seqs = collect_seqs(child.stdout.take().unwrap());
        let stderr = collect_text(child.stderr.take().unwrap());
        let mut stdin = child.stdin.take().unwrap();
        let writer_tag = tag.clone();
        let writer = std::thread::spawn(move || {
            // Unbuffered: each line goes out as it is produced, until the pipe breaks.
            let mut n = 0u64;
            loop {
                n += 1;
                if stdin
                    .write_all(format!("{}\n", line(&writer_tag, n)).as_bytes())
                    .is_err()
                {
                    return n - 1;
                }
            }
        });
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "killed, not exited: {status:?}");
        let sent = writer.join().unwrap();
        let printed = seqs.join().unwrap();
        let err = stderr.join().unwrap();
        let context = format!(
            "iteration {it} (seed {seed}, killed after {delay:?}, {sent} lines sent, {} printed, stderr: {err})",
            printed.len()
        );
        head = check_after_run(&dir, head, &tag, &printed, &mut expected, &context).await;
        total_printed += printed.len();
    }
    eprintln!("crash test: {total_printed} acknowledged appends over {iters} kills, head {head}");

    // And a run that ends normally: stdin closed, exit 0, one seq per line.
    const LINES: u64 = 500;
    let mut child = spawn_append(&dir);
    let seqs = collect_seqs(child.stdout.take().unwrap());
    let stderr = collect_text(child.stderr.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    for n in 1..=LINES {
        stdin
            .write_all(format!("{}\n", line("final", n)).as_bytes())
            .unwrap();
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "evident append did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    let printed = seqs.join().unwrap();
    let err = stderr.join().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(printed.len() as u64, LINES, "one seq per line");
    let before = head;
    head = check_after_run(&dir, head, "final", &printed, &mut expected, "normal run").await;
    assert_eq!(head, before + LINES);
    let out = evident(&["verify", s(&dir), "-q"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
}
