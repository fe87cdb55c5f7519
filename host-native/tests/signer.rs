//! A trail opened with a signer keeps `checkpoint.note` signed: at open, at `sync`,
//! `checkpoint`, rotation and close, and by the interval while records arrive; the note is
//! replaced atomically (a kill -9 leaves the old note or the new one); the origin is the key's
//! name; and a cut tail or a restored backup of the trail directory is refused, naming both
//! roots, because the signing record lives beside the key.
mod common;

use evident_native::core::note::{open, KeyKind, SigningKey, VerifierKey};
use evident_native::core::witness::CheckpointBody;
use evident_native::signer::Signer;
use evident_native::{Options, Trail, TrailOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_evident");

struct Keys {
    dir: tempfile::TempDir,
    key: SigningKey,
}

impl Keys {
    fn new(name: &str) -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let key = evident_native::keys::generate(name, KeyKind::Ed25519).unwrap();
        Keys { dir, key }
    }

    fn record(&self) -> PathBuf {
        self.dir.path().join("log.key.signed")
    }

    fn signer(&self, interval: Duration) -> Signer {
        Signer::new(self.key.clone(), self.record())
            .unwrap()
            .with_interval(interval)
    }

    fn vkey(&self) -> VerifierKey {
        self.key.verifier().clone()
    }
}

fn opts(signer: Option<Signer>, segment_bytes: u64) -> TrailOptions {
    TrailOptions {
        core: Options {
            segment_bytes,
            ..Default::default()
        },
        signer,
        ..Default::default()
    }
}

/// The note in `dir`, verified with `vkey`; `None` when there is none.
fn note(dir: &Path, vkey: &VerifierKey) -> Option<CheckpointBody> {
    let bytes = std::fs::read(dir.join("checkpoint.note")).ok()?;
    let opened = open(&bytes, std::slice::from_ref(vkey))
        .unwrap_or_else(|e| panic!("checkpoint.note does not verify: {e}"));
    Some(CheckpointBody::parse(opened.note.text()).unwrap())
}

fn size_of_note(dir: &Path, vkey: &VerifierKey) -> u64 {
    note(dir, vkey).map_or(0, |b| b.size)
}

async fn wait_for_size(dir: &Path, vkey: &VerifierKey, size: u64, within: Duration) -> bool {
    let end = std::time::Instant::now() + within;
    while std::time::Instant::now() < end {
        if size_of_note(dir, vkey) == size {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn append_n(trail: &Trail, from: u64, n: u64) {
    for i in from..from + n {
        trail
            .append(format!("record {i}").into_bytes())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_note_is_signed_at_open_sync_checkpoint_and_close_and_matches_the_tree() {
    let k = Keys::new("signer.example/a");
    let t = tempfile::tempdir().unwrap();
    let hour = Duration::from_secs(3600);
    let trail = Trail::open(t.path(), opts(Some(k.signer(hour)), 64 << 20))
        .await
        .unwrap();
    assert_eq!(
        trail.origin(),
        "signer.example/a",
        "the origin is the key's name"
    );
    let at_open = note(t.path(), &k.vkey()).expect("signed at open");
    assert_eq!(
        (at_open.size, at_open.origin.as_str()),
        (0, "signer.example/a")
    );

    append_n(&trail, 0, 3).await;
    trail.sync().await.unwrap();
    let b = note(t.path(), &k.vkey()).unwrap();
    assert_eq!(b.size, 3, "sync signs");
    assert_eq!(b.root, trail.tree_head().root);

    append_n(&trail, 3, 2).await;
    trail.checkpoint().await.unwrap();
    assert_eq!(size_of_note(t.path(), &k.vkey()), 5, "checkpoint signs");

    append_n(&trail, 5, 4).await;
    let root = {
        trail.sync().await.unwrap();
        trail.tree_head().root
    };
    append_n(&trail, 9, 1).await;
    let status = trail.signer_status().unwrap();
    assert_eq!(status.last_error, None);
    trail.close().await.unwrap();
    let b = note(t.path(), &k.vkey()).unwrap();
    assert_eq!(b.size, 10, "close signs the final head");
    assert_ne!(b.root, root);
    // The record beside the key holds what was signed last.
    let rec = std::fs::read_to_string(k.record()).unwrap();
    assert_eq!(rec, b.to_text());
}

#[tokio::test]
async fn the_interval_signs_while_records_arrive_and_rotation_signs_at_once() {
    let k = Keys::new("signer.example/interval");
    let t = tempfile::tempdir().unwrap();
    let trail = Trail::open(
        t.path(),
        opts(Some(k.signer(Duration::from_millis(200))), 64 << 20),
    )
    .await
    .unwrap();
    append_n(&trail, 0, 5).await;
    // No sync, no checkpoint call: the background signer catches up within the interval.
    assert!(
        wait_for_size(t.path(), &k.vkey(), 5, Duration::from_secs(5)).await,
        "the interval signed the durable head (note at {})",
        size_of_note(t.path(), &k.vkey())
    );
    trail.close().await.unwrap();

    // Rotation: with an interval of an hour, only the rotation can sign in between.
    let k = Keys::new("signer.example/rotate");
    let t = tempfile::tempdir().unwrap();
    let trail = Trail::open(
        t.path(),
        opts(Some(k.signer(Duration::from_secs(3600))), 1024),
    )
    .await
    .unwrap();
    let payload = vec![b'x'; 300];
    let mut n = 0;
    // Enough for a few rotations of 1 KiB segments.
    for _ in 0..8 {
        trail.append(payload.clone()).await.unwrap();
        n += 1;
    }
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while size_of_note(t.path(), &k.vkey()) == 0 && std::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signed = size_of_note(t.path(), &k.vkey());
    assert!(
        signed > 0 && signed <= n,
        "a rotation signed a head (note at {signed}; segments {:?}; {:?})",
        segments(t.path()),
        trail.signer_status()
    );
    trail.close().await.unwrap();
    assert_eq!(size_of_note(t.path(), &k.vkey()), n);
}

#[tokio::test]
async fn a_key_of_another_name_is_refused_naming_both() {
    let k = Keys::new("signer.example/one");
    let t = tempfile::tempdir().unwrap();
    let trail = Trail::open(
        t.path(),
        opts(Some(k.signer(Duration::from_secs(1))), 64 << 20),
    )
    .await
    .unwrap();
    append_n(&trail, 0, 2).await;
    trail.close().await.unwrap();
    let other = Keys::new("signer.example/two");
    let e = Trail::open(
        t.path(),
        opts(Some(other.signer(Duration::from_secs(1))), 64 << 20),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("signer.example/one") && e.contains("signer.example/two"),
        "{e}"
    );
    // An unsigned trail with the default origin is refused too (its origin is not the key's).
    let t2 = tempfile::tempdir().unwrap();
    Trail::open(t2.path(), opts(None, 64 << 20))
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let e = Trail::open(
        t2.path(),
        opts(Some(k.signer(Duration::from_secs(1))), 64 << 20),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("signer.example/one") && e.contains("evident/"),
        "{e}"
    );
}

fn b64(b: &CheckpointBody) -> String {
    evident_native::core::tree::base64::encode(&b.root.0)
}

#[tokio::test]
async fn a_restored_backup_or_another_history_is_refused_naming_both_roots() {
    let k = Keys::new("signer.example/backup");
    let base = tempfile::tempdir().unwrap();
    let live = base.path().join("trail");
    let backup = base.path().join("backup");
    let trail = Trail::open(
        &live,
        opts(Some(k.signer(Duration::from_secs(1))), 64 << 20),
    )
    .await
    .unwrap();
    append_n(&trail, 0, 5).await;
    trail.close().await.unwrap();
    common::copy_dir(&live, &backup);
    let trail = Trail::open(
        &live,
        opts(Some(k.signer(Duration::from_secs(1))), 64 << 20),
    )
    .await
    .unwrap();
    append_n(&trail, 5, 5).await;
    trail.close().await.unwrap();
    let signed = note(&live, &k.vkey()).unwrap();
    assert_eq!(signed.size, 10);

    // The backup (5 records, its own checkpoint.note of size 5) restored over the trail.
    std::fs::remove_dir_all(&live).unwrap();
    common::copy_dir(&backup, &live);
    let small = note(&live, &k.vkey()).unwrap();
    let e = Trail::open(
        &live,
        opts(Some(k.signer(Duration::from_secs(1))), 64 << 20),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("fork") && e.contains(&b64(&signed)) && e.contains(&b64(&small)),
        "{e}"
    );
    assert_eq!(
        note(&live, &k.vkey()),
        Some(small.clone()),
        "nothing signed"
    );

    // The backup grown past the signed size with other records: another history.
    let trail = Trail::open(&live, opts(None, 64 << 20)).await.unwrap();
    assert_eq!(trail.origin(), "signer.example/backup");
    append_n(&trail, 100, 7).await;
    let forked = trail.tree_head();
    trail.close().await.unwrap();
    let e = Trail::open(
        &live,
        opts(Some(k.signer(Duration::from_secs(1))), 64 << 20),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("fork")
            && e.contains(&b64(&signed))
            && e.contains(&evident_native::core::tree::base64::encode(&forked.root.0)),
        "{e}"
    );
    assert_eq!(note(&live, &k.vkey()), Some(small), "nothing signed");
    // The record beside the key still holds the size-10 head.
    assert_eq!(
        std::fs::read_to_string(k.record()).unwrap(),
        signed.to_text()
    );
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "evseg"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_cut_tail_is_refused_naming_both_roots() {
    let k = Keys::new("signer.example/cut");
    let t = tempfile::tempdir().unwrap();
    let mut o = opts(Some(k.signer(Duration::from_secs(1))), 64 << 20);
    o.core.preallocate = false;
    let trail = Trail::open(t.path(), o).await.unwrap();
    append_n(&trail, 0, 6).await;
    trail.close().await.unwrap();
    let signed = note(t.path(), &k.vkey()).unwrap();
    // Whoever holds the host damages the newest record (recovery cuts it as a torn tail) and
    // removes the local checkpoints that would say it was there.
    let last = segments(t.path()).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    for f in ["head.checkpoint", "checkpoint.note"] {
        let _ = std::fs::remove_file(t.path().join(f));
    }
    let mut o = opts(Some(k.signer(Duration::from_secs(1))), 64 << 20);
    o.core.preallocate = false;
    let e = Trail::open(t.path(), o).await.unwrap_err().to_string();
    assert!(
        e.contains("refusing to sign a fork")
            && e.contains("size 6")
            && e.contains(&b64(&signed))
            && e.contains("only 5 records"),
        "{e}"
    );
    assert!(note(t.path(), &k.vkey()).is_none(), "nothing signed");
}

/// `evident append --key` killed with -9 at random moments: the note is always absent (before
/// the first signature), or whole, verifying, and of a tree the trail still has.
#[test]
fn kill_9_leaves_the_old_note_or_the_new_one() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let base = tempfile::tempdir().unwrap();
    let key = base.path().join("log.key");
    let o = Command::new(BIN)
        .args(["keygen", "--origin", "signer.example/kill", "-o"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let vkey = VerifierKey::parse(String::from_utf8(o.stdout).unwrap().trim()).unwrap();
    let dir = base.path().join("trail");
    let mut seen_sizes = Vec::new();
    for round in 0..6u64 {
        let mut child = Command::new(BIN)
            .args(["append", "--raw", "--key"])
            .arg(&key)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0.. {
                if stdin
                    .write_all(format!("r{round}-{i}\n").as_bytes())
                    .is_err()
                {
                    break;
                }
                if i % 50 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        // 1 s interval: run past a few signatures, then kill at an uneven moment.
        std::thread::sleep(Duration::from_millis(1100 + round * 170));
        let pid = child.id();
        kill_9(pid);
        let status = child.wait().unwrap();
        assert!(!status.success());
        writer.join().unwrap();
        // What is on disk: the note verifies and the recovered trail extends it.
        let b = note(&dir, &vkey).expect("a note after a second of appends");
        let check = Command::new(BIN)
            .args(["verify"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        seen_sizes.push(b.size);
        // Reopening with the key checks the record against the trail: never refused here.
        let o = Command::new(BIN)
            .args(["recover", "--key"])
            .arg(&key)
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let after = note(&dir, &vkey).unwrap();
        assert!(after.size >= b.size);
    }
    assert!(
        seen_sizes.windows(2).all(|w| w[0] <= w[1]),
        "{seen_sizes:?}"
    );
}

fn kill_9(pid: u32) {
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}
