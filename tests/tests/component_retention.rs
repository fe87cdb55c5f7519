//! A retention a crash interrupted, finished at open by the component (wasmtime) as by the
//! native adapter: a trail directory left in each intermediate state of retention (FORMAT.md,
//! "Retention: retained.checkpoint") is opened by both; both remove exactly the segments the
//! checkpoint vouched away, leave the same files, and the trail verifies and takes appends.

use evident_core::header::{SegmentHeader, HEADER_LEN};
use evident_core::{naming, Checkpoint};
use evident_native::{Options, Trail, TrailOptions};
use evident_tests::wasm::{default_options, Instance, OpenOptions};
use std::path::Path;

/// Opens `dir` with the native adapter (small segments), appends `payloads`, closes.
fn append_natively(dir: &Path, payloads: Vec<Vec<u8>>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = Trail::open(
            dir,
            TrailOptions {
                core: Options {
                    segment_bytes: 4096,
                    ..Options::default()
                },
                ..TrailOptions::default()
            },
        )
        .await
        .unwrap();
        for p in payloads {
            t.append(p).await.unwrap();
        }
        t.close().await.unwrap();
    });
}

/// A trail of many small segments written by the native adapter.
fn make_trail(dir: &Path) {
    let records = (0..400).map(|i| format!("record {i} {}", "r".repeat(40)).into_bytes());
    append_natively(dir, records.collect());
}

fn segments(dir: &Path) -> Vec<(u64, String)> {
    evident_native::archive::local_segments(dir).unwrap()
}

/// The files of `dir`, sorted, except `LOCK` (each writer leaves its own lease).
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "LOCK")
        .collect();
    v.sort();
    v
}

/// `retained.checkpoint` for removing the segments before the `k`-th: the anchor in its
/// header.
fn retained_before(dir: &Path, k: usize) -> Checkpoint {
    let (first, name) = &segments(dir)[k];
    let bytes = std::fs::read(dir.join(name)).unwrap();
    let h = SegmentHeader::decode(&bytes[..HEADER_LEN]).unwrap();
    Checkpoint {
        log_id: h.log_id,
        seq: first - 1,
        hash: h.anchor,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        // The tile directory comes along (derived data, but the copy is of the whole trail).
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn opts() -> OpenOptions {
    OpenOptions {
        segment_bytes: Some(4096),
        ..default_options()
    }
}

/// Opens `dir` natively, appends one record, closes.
fn open_native(dir: &Path) {
    append_natively(dir, vec![b"after".to_vec()]);
}

/// Opens `root/trail` through the component, appends one record, verifies (when `verify`),
/// closes.
fn open_component(root: &Path, verify: bool) {
    let mut i = Instance::new(root);
    let log = i.open("/data/trail", &opts()).expect("the component opens");
    i.append(log, b"after").unwrap();
    if verify {
        i.verify(log).expect("verifies through the component");
    }
    i.close(log).unwrap();
}

/// The states a crash can leave, each made from a fresh copy of the trail: what the test
/// changes, and the first seq that must remain.
#[test]
fn the_component_finishes_an_interrupted_retention_at_open_as_native_does() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    make_trail(&base);
    let segs = segments(&base);
    assert!(segs.len() >= 8, "{}", segs.len());
    let cp = retained_before(&base, 4);
    type Make = fn(&Path, &Checkpoint, &[(u64, String)]);
    let states: [(&str, Make, u64); 5] = [
        // The temporary file written, not renamed: nothing vouched away, nothing removed.
        (
            "tmp written",
            |d, cp, _| {
                std::fs::write(d.join(naming::RETAINED_CHECKPOINT_TMP), cp.to_text()).unwrap()
            },
            1,
        ),
        // retained.checkpoint in place, no segment deleted yet (case b).
        (
            "renamed",
            |d, cp, _| std::fs::write(d.join(naming::RETAINED_CHECKPOINT), cp.to_text()).unwrap(),
            0,
        ),
        // Some deleted, oldest first (case c).
        (
            "half deleted",
            |d, cp, segs| {
                std::fs::write(d.join(naming::RETAINED_CHECKPOINT), cp.to_text()).unwrap();
                for (_, n) in &segs[..2] {
                    std::fs::remove_file(d.join(n)).unwrap();
                }
            },
            0,
        ),
        // Every one deleted: nothing left to do.
        (
            "all deleted",
            |d, cp, segs| {
                std::fs::write(d.join(naming::RETAINED_CHECKPOINT), cp.to_text()).unwrap();
                for (_, n) in &segs[..4] {
                    std::fs::remove_file(d.join(n)).unwrap();
                }
            },
            0,
        ),
        // A checkpoint whose hash is not the next segment's anchor vouches for nothing:
        // nothing is removed (verification names the mismatch).
        (
            "wrong anchor",
            |d, cp, _| {
                let mut bad = *cp;
                bad.hash.0[0] ^= 1;
                std::fs::write(d.join(naming::RETAINED_CHECKPOINT), bad.to_text()).unwrap()
            },
            1,
        ),
    ];
    for (what, make, first_left) in states {
        let first_left = if first_left == 0 {
            cp.seq + 1
        } else {
            first_left
        };
        let native = tmp.path().join(format!("native {what}")).join("trail");
        let component_root = tmp.path().join(format!("component {what}"));
        let component = component_root.join("trail");
        copy_dir(&base, &native);
        copy_dir(&base, &component);
        make(&native, &cp, &segs);
        make(&component, &cp, &segs);
        if what != "wrong anchor" {
            open_native(&native);
            evident_native::fs_exec::verify_dir(&native, vec![], |_, _| {})
                .unwrap_or_else(|e| panic!("{what}: native: {e}"));
        }
        open_component(&component_root, what != "wrong anchor");
        let left = segments(&component);
        assert_eq!(left[0].0, first_left, "{what}: {left:?}");
        assert!(
            !component.join(naming::RETAINED_CHECKPOINT_TMP).exists(),
            "{what}"
        );
        if what != "wrong anchor" {
            assert_eq!(files(&component), files(&native), "{what}: the same files");
            evident_native::fs_exec::verify_dir(&component, vec![], |_, _| {})
                .unwrap_or_else(|e| panic!("{what}: component: {e}"));
        }
    }
}
