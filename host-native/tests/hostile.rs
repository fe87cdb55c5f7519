//! Hostile trail directories (issue 16 §1, §7, §8, §9, §17, §18): symlinks, FIFOs, directories
//! and devices under trail names, forged trailers and frames, segments renamed. Every command
//! runs under `timeout`, so a hang (a FIFO, a spin) fails the test instead of stalling it.

mod common;

use common::{describe, s, segments, BIN};
use evident_native::core::frame::{self, Frame};
use evident_native::core::{footer, naming};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `evident ARGS` under `timeout 30` (exit 124 = it hung), feeding `stdin`.
fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_with(&[], args, stdin)
}

/// Like [`run`], with shell commands (`ulimit ...`) run first.
fn run_with(setup: &[&str], args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut script = setup.join("; ");
    if !script.is_empty() {
        script.push_str("; ");
    }
    script.push_str("exec timeout 30 \"$@\"");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("runs");
    writer.join().expect("writer");
    out
}

fn code(out: &Output) -> i32 {
    let c = out.status.code().unwrap_or(-1);
    assert_ne!(c, 124, "the command hung: {}", describe(out));
    c
}

fn append(dir: &Path, n: usize, extra: &[&str]) {
    let input: String = (0..n).map(|i| format!("line {i}\n")).collect();
    let mut args = vec!["append", s(dir), "--raw"];
    args.extend_from_slice(extra);
    let out = run(&args, Some(input.as_bytes()));
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

/// The commands that only read, plus the two that repair, each on `dir`.
fn every_command(dir: &str) -> Vec<Vec<String>> {
    [
        vec!["verify", dir],
        vec!["head", dir],
        vec!["tail", dir],
        vec!["inspect", dir],
        vec!["query", dir],
        vec!["export", dir],
        vec!["stats", dir],
        vec!["recover", dir],
        vec!["repair", dir],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect()
}

/// Every command fails (exit 1, within the timeout) with a message naming `name`.
fn every_command_refuses(dir: &Path, name: &str) {
    for args in every_command(s(dir)) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, None);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(code(&out), 1, "{args:?}: {}", describe(&out));
        assert!(
            all.contains(name),
            "{args:?} must name {name}: {}",
            describe(&out)
        );
    }
}

#[test]
fn a_symlinked_first_segment_is_refused_and_its_target_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"do not touch\n").unwrap();
    let dir = tmp.path().join("t");
    std::fs::create_dir(&dir).unwrap();
    let seg = naming::segment_name(1);
    symlink(&victim, dir.join(&seg)).unwrap();
    let out = run(&["append", s(&dir), "--raw"], Some(b"a\nb\n"));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&seg),
        "{}",
        describe(&out)
    );
    every_command_refuses(&dir, &seg);
    assert_eq!(std::fs::read(&victim).unwrap(), b"do not touch\n");
}

#[test]
fn a_symlink_named_as_the_next_segment_is_refused_and_records_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"outside").unwrap();
    let dir = tmp.path().join("t");
    append(&dir, 3, &[]);
    let next = naming::segment_name(4);
    symlink(&victim, dir.join(&next)).unwrap();
    let input: String = (0..200)
        .map(|i| format!("rotating record {i:04}\n"))
        .collect();
    let out = run(
        &["append", s(&dir), "--raw", "--segment-bytes", "4096"],
        Some(input.as_bytes()),
    );
    assert_ne!(code(&out), 0, "{}", describe(&out));
    assert_eq!(std::fs::read(&victim).unwrap(), b"outside");
    every_command_refuses(&dir, &next);
    // Without the link, every acknowledged record is there.
    std::fs::remove_file(dir.join(&next)).unwrap();
    let out = run(&["head", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let head: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(head["seq"], 3, "{head}");
}

#[test]
fn stale_tmp_symlinks_are_removed_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"outside").unwrap();
    let dir = tmp.path().join("t");
    append(&dir, 2, &[]);
    for tmp_name in [naming::HEAD_CHECKPOINT_TMP, naming::RETAINED_CHECKPOINT_TMP] {
        symlink(&victim, dir.join(tmp_name)).unwrap();
    }
    let out = run(&["recover", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed leftover file"));
    assert_eq!(std::fs::read(&victim).unwrap(), b"outside");
    for tmp_name in [naming::HEAD_CHECKPOINT_TMP, naming::RETAINED_CHECKPOINT_TMP] {
        assert!(std::fs::symlink_metadata(dir.join(tmp_name)).is_err());
    }
    // head.checkpoint was written as a file of the trail.
    let cp = std::fs::symlink_metadata(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    assert!(cp.file_type().is_file());
    let out = run(&["verify", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

#[test]
fn a_lock_symlink_creates_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("created-outside");
    let dir = tmp.path().join("t");
    std::fs::create_dir(&dir).unwrap();
    symlink(&outside, dir.join("LOCK")).unwrap();
    let out = run(&["append", s(&dir), "--raw"], Some(b"x\n"));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("LOCK"),
        "{}",
        describe(&out)
    );
    assert!(!outside.exists(), "the lock followed the symlink");
}

#[test]
fn fifos_directories_and_devices_with_trail_names_are_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mkfifo = |p: &Path| {
        rustix_mkfifo(p);
    };
    // A FIFO as the only segment: reading it would block forever.
    let dir = tmp.path().join("fifo");
    std::fs::create_dir(&dir).unwrap();
    mkfifo(&dir.join(naming::segment_name(1)));
    every_command_refuses(&dir, &naming::segment_name(1));
    // A FIFO as head.checkpoint beside real records.
    let dir = tmp.path().join("fifo-cp");
    append(&dir, 2, &[]);
    std::fs::remove_file(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    mkfifo(&dir.join(naming::HEAD_CHECKPOINT));
    every_command_refuses(&dir, naming::HEAD_CHECKPOINT);
    // A directory as a later segment.
    let dir = tmp.path().join("dir-seg");
    append(&dir, 2, &[]);
    std::fs::create_dir(dir.join(naming::segment_name(3))).unwrap();
    every_command_refuses(&dir, &naming::segment_name(3));
    // head.checkpoint -> /dev/zero: a device behind a symlink.
    let dir = tmp.path().join("zero-cp");
    append(&dir, 2, &[]);
    std::fs::remove_file(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    symlink("/dev/zero", dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    every_command_refuses(&dir, naming::HEAD_CHECKPOINT);
    // A FIFO under a *.tmp name is not removed blindly either: it is named.
    let dir = tmp.path().join("fifo-tmp");
    append(&dir, 2, &[]);
    mkfifo(&dir.join(naming::HEAD_CHECKPOINT_TMP));
    let out = run(&["append", s(&dir), "--raw"], Some(b"x\n"));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(naming::HEAD_CHECKPOINT_TMP));
}

fn rustix_mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo runs");
    assert!(st.success());
}

#[test]
fn a_regular_file_given_as_the_directory_is_not_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let mut cmds = every_command(s(&file));
    cmds.push(vec!["append".into(), s(&file).into(), "--raw".into()]);
    for args in cmds {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args, Some(b"x\n"));
        assert_eq!(code(&out), 1, "{args:?}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not a directory"),
            "{args:?}: {}",
            describe(&out)
        );
    }
}

/// The end of the last record of `file`.
fn data_end(file: &Path) -> u64 {
    let bytes = std::fs::read(file).unwrap();
    let f = common::frames(&bytes);
    let last = f.last().expect("a record");
    last.offset + last.len
}

#[test]
fn tail_ends_on_a_large_last_frame_with_a_bad_crc() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    append(&dir, 5, &[]);
    let seg = dir.join(&segments(&dir)[0]);
    let end = data_end(&seg);
    // A frame claiming a 100 KB payload, all of it present, with a wrong CRC: what a torn
    // write of a large record into preallocated space leaves.
    let payload = 100_000usize;
    let total = frame::entry_frame_len(payload);
    let mut bytes = vec![0xabu8; total];
    let word0 = frame::KIND_ENTRY as u32 | ((payload as u32) << 8);
    bytes[0..4].copy_from_slice(&word0.to_le_bytes());
    bytes[4..8].copy_from_slice(&0xdead_beefu32.to_le_bytes());
    assert!(matches!(frame::decode(&bytes), Frame::Bad { .. }));
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &bytes, end).unwrap();
    drop(f);
    let out = run(&["tail", s(&dir), "-n", "2"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 2, "{}", describe(&out));
    assert!(lines[1].contains("\"seq\":5"), "{}", describe(&out));
}

#[test]
fn a_segment_named_for_another_first_seq_is_refused_by_every_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    append(&dir, 200, &["--segment-bytes", "4096"]);
    let segs = segments(&dir);
    assert!(segs.len() >= 3, "{segs:?}");
    // Rename the second segment to claim one seq later than its header says.
    let first = naming::parse_segment_name(&segs[1]).unwrap();
    let renamed = naming::segment_name(first + 1);
    std::fs::rename(dir.join(&segs[1]), dir.join(&renamed)).unwrap();
    for args in [
        vec!["tail", s(&dir), "-n", "1000"],
        vec!["query", s(&dir)],
        vec!["export", s(&dir)],
        vec!["verify", s(&dir)],
    ] {
        let out = run(&args, None);
        let c = code(&out);
        assert_ne!(c, 0, "{args:?} read a misnamed segment: {}", describe(&out));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains(&renamed), "{args:?}: {}", describe(&out));
    }
}

/// A sealed segment made sparse and 3 GB long, with a trailer at its end that points back to
/// just after the header: the "footer" would be the whole file.
fn forge_huge_footer(seg: &Path) {
    let f = std::fs::OpenOptions::new().write(true).open(seg).unwrap();
    let len = 3u64 << 30;
    f.set_len(len).unwrap();
    let mut t = [0u8; footer::TRAILER_LEN];
    let at = evident_native::core::header::HEADER_LEN as u64;
    t[0..8].copy_from_slice(&at.to_le_bytes());
    t[8..16].copy_from_slice(&footer::END_MAGIC);
    std::os::unix::fs::FileExt::write_all_at(&f, &t, len - t.len() as u64).unwrap();
}

#[test]
fn a_forged_trailer_on_a_sparse_segment_allocates_nothing_like_its_length() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    append(&dir, 200, &["--segment-bytes", "4096"]);
    let segs = segments(&dir);
    forge_huge_footer(&dir.join(&segs[0]));
    // 1 GB of address space: reading the 3 GB "footer" aborts the process.
    let limit = ["ulimit -v 1000000"];
    for args in [
        vec!["inspect", s(&dir)],
        vec!["query", s(&dir), "--from-seq", "3"],
        vec!["export", s(&dir), "--from-seq", "3"],
    ] {
        let out = run_with(&limit, &args, None);
        let c = code(&out);
        assert!(
            c == 0 || c == 1 || c == 3,
            "{args:?} must end with a verdict, not die: {}",
            describe(&out)
        );
        assert!(out.status.code().is_some(), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("memory allocation"), "{}", describe(&out));
    }
}

#[test]
fn checkpoint_files_are_read_through_a_bounded_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    append(&dir, 2, &[]);
    let big = tmp.path().join("big.checkpoint");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    for cp in [Path::new("/dev/zero"), big.as_path()] {
        let out = run_with(
            &["ulimit -v 1000000"],
            &["verify", s(&dir), "--checkpoint", cp.to_str().unwrap()],
            None,
        );
        assert_eq!(code(&out), 1, "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a checkpoint"), "{}", describe(&out));
    }
    // A real checkpoint still works, also through a pipe.
    let out = run(&["head", s(&dir)], None);
    let cp = tmp.path().join("cp");
    std::fs::write(&cp, &out.stdout).unwrap();
    let out = run(&["verify", s(&dir), "--checkpoint", s(&cp)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

/// A symlink planted as the next segment while a writer runs: rotation refuses to create
/// through it (O_EXCL), the link's target is untouched, and every acknowledged record is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_planted_as_the_next_segment_during_writes_receives_nothing() {
    use evident_native::Trail;
    use std::time::Duration;
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"outside").unwrap();
    let dir = tmp.path().join("t");
    let trail = Trail::open(&dir, common::opts(4096)).await.unwrap();
    let first = trail.append(b"first".to_vec()).await.unwrap();
    // Plant a link under every name the next segments could take.
    for seq in 2..200 {
        symlink(&victim, dir.join(naming::segment_name(seq))).unwrap();
    }
    let mut acked = vec![first.seq];
    for i in 0..200 {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            trail.append(format!("record {i:04} padding padding padding").into_bytes()),
        )
        .await;
        match r {
            Ok(Ok(receipt)) => acked.push(receipt.seq),
            Ok(Err(_)) => break,
            Err(_) => break, // a rotation that cannot proceed may hold the append: stop here
        }
    }
    drop(trail);
    assert_eq!(std::fs::read(&victim).unwrap(), b"outside");
    for seq in 2..200 {
        let _ = std::fs::remove_file(dir.join(naming::segment_name(seq)));
    }
    let recs = common::read_all(&dir);
    let have: Vec<u64> = recs.iter().map(|r| r.seq).collect();
    for seq in &acked {
        assert!(
            have.contains(seq),
            "acknowledged seq {seq} lost; have {have:?}"
        );
    }
}

/// `checkpoint.note` (written by a trail opened with a key, and by `publish`) is a trail file
/// like the others: a planted `checkpoint.note.tmp` symlink is removed, never written through
/// (it truncated and overwrote its target before), and a `checkpoint.note` symlink is never
/// read: `verify` names it and passes over it, `checkpoint` prints the unsigned head.
#[test]
fn checkpoint_note_and_its_temp_file_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"outside").unwrap();
    let key = tmp.path().join("log.key");
    let out = run(
        &["keygen", "--origin", "hostile.example/log", "-o", s(&key)],
        None,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let dir = tmp.path().join("t");
    append(&dir, 3, &["--key", s(&key)]);
    let note = dir.join("checkpoint.note");
    assert!(std::fs::read_to_string(&note).unwrap().contains("\n3\n"));

    // A planted temp-file link: the next signed note replaces the note, not the victim.
    symlink(&victim, dir.join("checkpoint.note.tmp")).unwrap();
    append(&dir, 2, &["--key", s(&key)]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"outside");
    assert!(std::fs::symlink_metadata(dir.join("checkpoint.note.tmp")).is_err());
    let signed = std::fs::read_to_string(&note).unwrap();
    assert!(
        signed.contains("\n5\n") && signed.contains("— hostile.example/log "),
        "{signed}"
    );
    // At the head and signed: `checkpoint` prints the signed note.
    let out = run(&["checkpoint", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), signed);

    // The note itself a link to a note-shaped file outside: refused, never read.
    std::fs::write(&victim, signed.as_bytes()).unwrap();
    std::fs::remove_file(&note).unwrap();
    symlink(&victim, &note).unwrap();
    // verify: the chain's verdict stands, the note is reported as not read (with a policy
    // requiring its signatures, the policy fails).
    let out = run(&["verify", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("checkpoint.note") && err.contains("symbolic link"),
        "{err}"
    );
    let out = run(&["checkpoint", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        !printed.contains('—'),
        "the linked note was printed: {printed}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert_eq!(std::fs::read(&victim).unwrap(), signed.as_bytes());
}
