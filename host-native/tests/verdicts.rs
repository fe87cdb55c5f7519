//! Honest verdicts of the real binary: verify and recover agree on damage a checkpoint covers
//! (also after a kill -9, thanks to the periodic head checkpoint refresh), a torn tail is
//! measured in data bytes, `-n 0` means zero, and out-of-range options are refused with their
//! range.

mod common;

use common::{code, describe, evident, frames, s, segments, temp_trail, BIN};
use evident_native::core::naming;
use evident_native::Checkpoint;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn lines(n: usize) -> Vec<u8> {
    (1..=n)
        .map(|i| format!("{{\"i\":{i},\"kind\":\"exec.requested\"}}\n"))
        .collect::<String>()
        .into_bytes()
}

fn head_checkpoint(dir: &Path) -> Option<Checkpoint> {
    let text = std::fs::read_to_string(dir.join(naming::HEAD_CHECKPOINT)).ok()?;
    Checkpoint::parse_own_file(&text).ok().map(|(cp, _root)| cp)
}

/// Flips one payload bit of the last record of the only segment; returns that segment's path.
fn damage_last_record(dir: &Path) -> std::path::PathBuf {
    let segs = segments(dir);
    let path = dir.join(segs.last().unwrap());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = *frames(&bytes).last().unwrap();
    bytes[last.offset as usize + 60] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    path
}

/// Kills the child (SIGKILL) and reaps it, also when the test fails early.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn verify_and_recover_agree_that_damage_head_checkpoint_covers_is_corruption() {
    let (_tmp, dir) = temp_trail();
    let out = evident(&["append", s(&dir), "--raw"], Some(&lines(30)));
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(head_checkpoint(&dir).map(|c| c.seq), Some(30));
    let path = damage_last_record(&dir);
    let before = std::fs::read(&path).unwrap();
    let v = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&v), 3, "corruption, not a torn tail: {}", describe(&v));
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(!text.contains("recover` cuts it"), "{text}");
    assert!(text.contains("seq 30"), "{text}");
    let r = evident(&["recover", s(&dir)], None);
    assert_eq!(code(&r), 3, "{}", describe(&r));
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was cut");
}

#[test]
fn a_torn_tail_counts_the_bytes_of_data_not_the_preallocated_zeros() {
    let (_tmp, dir) = temp_trail();
    let out = evident(&["append", s(&dir), "--raw"], Some(&lines(30)));
    assert_eq!(code(&out), 0, "{}", describe(&out));
    std::fs::remove_file(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    let path = damage_last_record(&dir);
    assert!(
        std::fs::metadata(&path).unwrap().len() > 1 << 20,
        "preallocated"
    );
    let v = evident(&["verify", s(&dir), "--json"], None);
    assert_eq!(code(&v), 4, "{}", describe(&v));
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    let msg = j["error"]["message"].as_str().unwrap().to_string();
    let n: u64 = msg
        .split("torn tail of ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{msg}"));
    assert!(n < 200, "one record's bytes, not the file's rest: {msg}");
}

#[test]
fn after_a_kill_9_damage_to_a_record_acknowledged_before_the_last_refresh_is_corruption() {
    let (_tmp, dir) = temp_trail();
    let mut child = Killed(
        Command::new(BIN)
            .args(["append", s(&dir), "--raw"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("evident append starts"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(&lines(40)).unwrap();
    stdin.flush().unwrap();
    // stdin stays open: the writer is live, never closes, never rotates. Only the periodic
    // refresh (default every second) can make head.checkpoint cover the records.
    let deadline = Instant::now() + Duration::from_secs(15);
    while head_checkpoint(&dir).map(|c| c.seq) != Some(40) {
        assert!(
            Instant::now() < deadline,
            "head.checkpoint never covered the 40 durable records: {:?}",
            head_checkpoint(&dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    drop(stdin);
    damage_last_record(&dir);
    let v = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&v), 3, "{}", describe(&v));
    let r = evident(&["recover", s(&dir)], None);
    assert_eq!(code(&r), 3, "{}", describe(&r));
}

#[test]
fn query_with_limit_zero_prints_nothing() {
    let (_tmp, dir) = temp_trail();
    let out = evident(&["append", s(&dir), "--raw"], Some(&lines(5)));
    assert_eq!(code(&out), 0, "{}", describe(&out));
    for args in [
        vec!["query", s(&dir), "-n", "0"],
        vec!["query", s(&dir), "--newest", "-n", "0"],
    ] {
        let q = evident(&args, None);
        assert_eq!(code(&q), 0, "{}", describe(&q));
        assert!(q.stdout.is_empty(), "{args:?}: {}", describe(&q));
    }
    let q = evident(&["query", s(&dir), "-n", "1"], None);
    assert_eq!(String::from_utf8_lossy(&q.stdout).lines().count(), 1);
}

#[test]
fn out_of_range_segment_bytes_is_refused_with_the_allowed_range() {
    for bad in ["0", "1", "1023"] {
        let (_tmp, dir) = temp_trail();
        let out = evident(
            &["append", s(&dir), "--raw", "--segment-bytes", bad],
            Some(b"a\n"),
        );
        assert_ne!(code(&out), 0, "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("segment-bytes") && err.contains("allowed range is 1024"),
            "{}",
            describe(&out)
        );
        assert!(segments(&dir).is_empty(), "no segment was created");
    }
}

#[test]
fn verify_beside_a_live_writer_gives_no_false_alarms() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let (_tmp, dir) = temp_trail();
    // Small segments: rotations (seal, cut of the preallocated space, a new preallocated
    // segment) happen all the time while verify reads.
    let mut child = Killed(
        Command::new(BIN)
            .args(["append", s(&dir), "--raw", "--segment-bytes", "65536"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("evident append starts"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut batch = String::new();
                for _ in 0..20 {
                    i += 1;
                    batch.push_str(&format!(
                        "{{\"i\":{i},\"kind\":\"tool.call\",\"pad\":\"{}\"}}\n",
                        "x".repeat(150)
                    ));
                }
                if stdin.write_all(batch.as_bytes()).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            i
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.is_dir() || segments(&dir).len() < 2 {
        assert!(Instant::now() < deadline, "the writer never rotated");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut failures = Vec::new();
    let mut live_tails = 0;
    // Bounded: 60 runs, spread over the writer's work.
    for run in 0..60 {
        std::thread::sleep(Duration::from_millis(8));
        let v = evident(&["verify", s(&dir), "--json"], None);
        if code(&v) != 0 {
            failures.push(format!("run {run}: {}", describe(&v)));
            continue;
        }
        let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
        live_tails += j["live_tail"].is_string() as u32;
        // The newest records, as an agent dashboard asks for them beside the writer: the last
        // five (printed in seq order), with consecutive seqs.
        let q = evident(&["query", s(&dir), "--newest", "-n", "5"], None);
        if code(&q) != 0 {
            failures.push(format!("run {run}: query --newest: {}", describe(&q)));
            continue;
        }
        let seqs: Vec<u64> = String::from_utf8_lossy(&q.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        if seqs.len() != 5 || seqs.windows(2).any(|w| w[1] != w[0] + 1) {
            failures.push(format!("run {run}: query --newest gave seqs {seqs:?}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = feeder.join().unwrap();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "the writer ends at EOF");
    assert!(
        failures.is_empty(),
        "{} false alarms:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Quiescent again: everything verifies, nothing is left unverified.
    let v = evident(&["verify", s(&dir), "--json"], None);
    assert_eq!(code(&v), 0, "{}", describe(&v));
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(j["records"].as_u64(), Some(sent), "{j}");
    assert!(j["live_tail"].is_null(), "{j}");
    eprintln!("{live_tails} of 60 runs saw an in-flight tail");
}

#[test]
fn verify_says_records_removed_behind_retained_checkpoint_are_not_proven() {
    use evident_native::core::header::{SegmentHeader, HEADER_LEN};
    let (_tmp, dir) = temp_trail();
    let out = evident(
        &["append", s(&dir), "--raw", "--segment-bytes", "1024"],
        Some(&lines(60)),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let segs = segments(&dir);
    assert!(segs.len() >= 3, "{segs:?}");
    let h1 =
        SegmentHeader::decode(&std::fs::read(dir.join(&segs[1])).unwrap()[..HEADER_LEN]).unwrap();
    let cp = Checkpoint {
        log_id: h1.log_id,
        seq: h1.first_seq - 1,
        hash: h1.anchor,
    };
    std::fs::remove_file(dir.join(&segs[0])).unwrap();
    std::fs::write(dir.join(naming::RETAINED_CHECKPOINT), cp.to_text()).unwrap();
    let v = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&v), 0, "{}", describe(&v));
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(
        text.contains(&format!(
            "NOT PROVEN: records 1..={} are not present",
            cp.seq
        )),
        "{text}"
    );
    let v = evident(&["verify", s(&dir), "--json"], None);
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(j["not_present"]["last_seq"].as_u64(), Some(cp.seq), "{j}");
    assert_eq!(j["not_present"]["proven"].as_bool(), Some(false), "{j}");
    // The public checkpoint at that seq is not proven by a trail without its record.
    let cp_file = dir.parent().unwrap().join("cp.checkpoint");
    std::fs::write(&cp_file, cp.to_text()).unwrap();
    let v = evident(
        &["verify", s(&dir), "--checkpoint", cp_file.to_str().unwrap()],
        None,
    );
    assert_eq!(code(&v), 3, "{}", describe(&v));
    assert!(
        String::from_utf8_lossy(&v.stdout).contains("not proven"),
        "{}",
        describe(&v)
    );
}

#[test]
fn queries_answer_beside_a_last_segment_whose_header_is_not_written_yet() {
    // What a reader sees mid-rotation (or after a crash between sealing a segment and writing
    // the next one's header): a last segment with no header yet. It holds no record for a
    // query, which answers from the segments before it (judging it is verify's work).
    let (_tmp, dir) = temp_trail();
    let input: String = (1..=50).map(|i| format!("{i}\n")).collect();
    let out = evident(
        &["append", s(&dir), "--raw", "--segment-bytes", "1024"],
        Some(input.as_bytes()),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let segs = segments(&dir);
    assert!(segs.len() >= 3, "{segs:?}");
    let last = dir.join(segs.last().unwrap());
    let first_of_last: u64 = segs.last().unwrap()[..20].parse().unwrap();
    std::fs::File::create(&last).unwrap(); // truncated to nothing: no header yet
    let q = evident(&["query", s(&dir), "--newest", "-n", "2"], None);
    assert_eq!(code(&q), 0, "{}", describe(&q));
    let seqs: Vec<u64> = String::from_utf8_lossy(&q.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, vec![first_of_last - 2, first_of_last - 1]);
    // The same with the header's space preallocated (zeros), and a forward query.
    std::fs::write(&last, vec![0u8; 4096]).unwrap();
    let q = evident(&["query", s(&dir), "--from-seq", "1"], None);
    assert_eq!(code(&q), 0, "{}", describe(&q));
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).lines().count() as u64,
        first_of_last - 1
    );
}

#[test]
fn after_kill_9_of_a_native_writer_its_torn_tail_is_not_taken_for_a_live_one() {
    // The dead writer's lease in LOCK is unexpired for a while, but its directory flock died
    // with it: verify must judge the tail (torn: exit 4), not skip it as in flight.
    let (_tmp, dir) = temp_trail();
    let mut child = Killed(
        Command::new(BIN)
            .args(["append", s(&dir), "--raw"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("evident append starts"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(&lines(10)).unwrap();
    stdin.flush().unwrap();
    let seg = dir.join(naming::segment_name(1));
    let deadline = Instant::now() + Duration::from_secs(10);
    let last = loop {
        let f = std::fs::read(&seg).map(|b| frames(&b)).unwrap_or_default();
        if f.len() == 10 {
            break *f.last().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the writer never wrote 10 records"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    drop(stdin);
    // A torn write after the last record.
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.write_all_at(&[0x55; 40], last.offset + last.len).unwrap();
    let v = evident(&["verify", s(&dir), "--json"], None);
    assert_eq!(code(&v), 4, "{}", describe(&v));
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert!(j["live_tail"].is_null(), "{j}");
}

/// The only segment cut to under 128 bytes (and, second, zeroed), while `head.checkpoint` covers
/// its records: verify and recover both call it corruption at that file, offset 0, seq 1, and
/// recover removes and cuts nothing (FORMAT.md, "Verification rules", rule 1).
#[test]
fn an_unwritten_header_head_checkpoint_covers_is_corruption_and_recover_keeps_the_file() {
    for zeroed in [false, true] {
        let (_tmp, dir) = temp_trail();
        let out = evident(&["append", s(&dir), "--raw"], Some(&lines(30)));
        assert_eq!(code(&out), 0, "{}", describe(&out));
        assert_eq!(head_checkpoint(&dir).map(|c| c.seq), Some(30));
        let segs = segments(&dir);
        assert_eq!(segs.len(), 1, "{segs:?}");
        let path = dir.join(&segs[0]);
        let mut bytes = std::fs::read(&path).unwrap();
        if zeroed {
            bytes.fill(0);
        } else {
            bytes.truncate(100);
        }
        std::fs::write(&path, &bytes).unwrap();
        let place = format!("file {}, offset 0, seq 1", segs[0]);
        let v = evident(&["verify", s(&dir)], None);
        assert_eq!(code(&v), 3, "corruption, not a torn tail: {}", describe(&v));
        let text = String::from_utf8_lossy(&v.stdout);
        assert!(text.contains(&place), "{place} in {text}");
        let r = evident(&["recover", s(&dir)], None);
        assert_eq!(code(&r), 3, "{}", describe(&r));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(all.contains(&place), "{place} in {all}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "nothing removed or cut"
        );
        assert_eq!(segments(&dir), segs, "no segment removed or created");
    }
}
