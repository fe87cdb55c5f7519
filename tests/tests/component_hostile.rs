//! The component in a hostile trail directory (issue 16 §1): through `wasi:filesystem` it
//! never follows a symlink (no `symlink-follow` flag), creates new files exclusively, and
//! refuses a non-regular entry with a trail name, naming it.

use evident_core::naming;
use evident_tests::wasm::{default_options, Instance, OpenOptions};
use std::os::unix::fs::symlink;

fn opts() -> OpenOptions {
    OpenOptions {
        segment_bytes: Some(4096),
        ..default_options()
    }
}

#[test]
fn a_symlinked_segment_is_refused_and_its_target_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    // Inside the preopen but outside the trail: reachable if the link were followed.
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"outside").unwrap();
    let dir = tmp.path().join("t");
    std::fs::create_dir(&dir).unwrap();
    let seg = naming::segment_name(1);
    symlink("../victim", dir.join(&seg)).unwrap();
    let mut i = Instance::new(tmp.path());
    let e = match i.open("/data/t", &opts()) {
        Ok(_) => panic!("a symlinked segment was accepted"),
        Err(e) => format!("{e:?}"),
    };
    // Refused as what it is, not merely failing a later create through it.
    assert!(e.contains(&seg) && e.contains("SymbolicLink"), "{e}");
    assert!(e.contains("expects a regular file"), "{e}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"outside");
}

#[test]
fn a_fifo_segment_is_an_error_not_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    std::fs::create_dir(&dir).unwrap();
    let seg = naming::segment_name(1);
    let st = std::process::Command::new("mkfifo")
        .arg(dir.join(&seg))
        .status()
        .unwrap();
    assert!(st.success());
    let mut i = Instance::new(tmp.path());
    let e = match i.open("/data/t", &opts()) {
        Ok(_) => panic!("a FIFO segment was accepted"),
        Err(e) => format!("{e:?}"),
    };
    // WASI hosts show a FIFO as `fifo` or `unknown`: either way not a regular file.
    // Refused where the directory is first looked at (the writer lease's check that segments
    // exist, or the listing): naming the entry, never opening it.
    assert!(e.contains(&seg), "the entry is named: {e}");
    assert!(e.contains("expects a regular file"), "{e}");
}

#[test]
fn stale_tmp_symlinks_are_removed_and_new_files_are_the_trails_own() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"outside").unwrap();
    let dir = tmp.path().join("t");
    std::fs::create_dir(&dir).unwrap();
    symlink("../victim", dir.join(naming::HEAD_CHECKPOINT_TMP)).unwrap();
    let mut i = Instance::new(tmp.path());
    let log = i.open("/data/t", &opts()).expect("open");
    i.append(log, b"one").unwrap();
    i.checkpoint(log).unwrap();
    i.close(log).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"outside");
    let cp = std::fs::symlink_metadata(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    assert!(cp.file_type().is_file());
    assert!(std::fs::symlink_metadata(dir.join(naming::HEAD_CHECKPOINT_TMP)).is_err());
}
