//! Helpers shared by the integration tests of `evident-native` (each test file includes this
//! module; not every file uses every helper).
#![allow(dead_code)]

use evident_native::core::frame::{self, Frame};
use evident_native::core::header::HEADER_LEN;
use evident_native::core::naming;
use evident_native::{Options, Reader, Receipt, Record, Trail, TrailOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `evident` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_evident");

/// Runs `evident ARGS`, feeding `stdin` (if any), and returns its output.
pub fn evident(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the evident binary starts");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        // Written from another thread so a large input cannot deadlock against a full stdout.
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().expect("evident runs");
        writer.join().expect("stdin writer");
        return out;
    }
    child.wait_with_output().expect("evident runs")
}

/// Exit code of a finished command (panics on death by signal).
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("evident died by a signal: {}", describe(out)))
}

/// Exit status, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `dir` as a `&str` for command lines.
pub fn s(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 temp path")
}

/// Segment file names of the trail in `dir`, oldest first.
pub fn segments(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("trail dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| naming::parse_segment_name(n).is_some())
        .collect();
    v.sort();
    v
}

/// One record frame found in a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameAt {
    pub offset: u64,
    pub len: u64,
    pub seq: u64,
}

/// The valid entry frames of a segment file, in order, stopping at the first non-entry.
pub fn frames(bytes: &[u8]) -> Vec<FrameAt> {
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        match frame::decode(&bytes[at..]) {
            Frame::Entry(e) => {
                out.push(FrameAt {
                    offset: at as u64,
                    len: e.frame_len as u64,
                    seq: e.seq,
                });
                at += e.frame_len;
            }
            _ => break,
        }
    }
    out
}

/// Copies the trail in `from` into the new directory `to`: its files and, recursively, its
/// directories (the tile directory: derived data, but a copy is of the whole trail). `LOCK`
/// comes along too: a trail without one makes the next writer wait out the lease's settle
/// time (a component writer may be creating it).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy dir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let kind = e.file_type().expect("file type");
        if kind.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else if kind.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy file");
        }
    }
}

/// Options with a segment size (everything else default).
pub fn opts(segment_bytes: u64) -> TrailOptions {
    TrailOptions {
        core: Options {
            segment_bytes,
            ..Options::default()
        },
        ..Default::default()
    }
}

/// Opens (creates) a trail, appends `payloads` one by one, closes it; returns the receipts.
pub async fn build(dir: &Path, options: TrailOptions, payloads: &[Vec<u8>]) -> Vec<Receipt> {
    let trail = Trail::open(dir, options).await.expect("open for build");
    let mut receipts = Vec::new();
    for p in payloads {
        receipts.push(trail.append(p.clone()).await.expect("append"));
    }
    trail.close().await.expect("close");
    receipts
}

/// Creates a trail of `batches` batches of 100 records (`payload(i)` for record index `i`) in
/// segments of `segment_bytes`, appended with `append_batch` under `Durability::Os` a couple
/// of milliseconds apart, so time ranges can cut between batches; closes it and returns each
/// batch's first timestamp.
pub fn build_batches(
    dir: &Path,
    segment_bytes: u64,
    batches: u64,
    payload: impl Fn(u64) -> Vec<u8>,
) -> Vec<u64> {
    let mut options = opts(segment_bytes);
    options.core.durability = evident_native::Durability::Os;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let trail = Trail::open(dir, options).await.expect("open for build");
        let mut first_ts = Vec::new();
        for b in 0..batches {
            let batch = (b * 100..(b + 1) * 100).map(&payload).collect();
            first_ts.push(trail.append_batch(batch).await.expect("append")[0].ts);
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        trail.close().await.expect("close");
        first_ts
    })
}

/// Every record of the trail in `dir`, read with a [`Reader`] from the start.
pub fn read_all(dir: &Path) -> Vec<Record> {
    let mut r = Reader::open(dir).expect("reader");
    let mut out = Vec::new();
    while let Some(rec) = r.next_available().expect("read a record") {
        out.push(rec);
    }
    out
}

/// A temporary directory and a trail path inside it (not created yet).
pub fn temp_trail() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("trail");
    (tmp, dir)
}
