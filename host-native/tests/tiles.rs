//! The writer's tiles on a real file system: what it leaves is every C2SP tile of the tree
//! (compared with tiles cut from an independent in-memory tree of the records), `prove` then
//! reads O(log n) tiles and never falls back to reading every record; a writer process killed
//! with SIGKILL while tiles are being written leaves a trail whose proofs verify and whose tiles
//! the next open repairs; a deleted or corrupted tile directory is rebuilt; a tampered tile
//! never yields a verifying bundle for a wrong record.

mod common;

use common::{read_all, s, temp_trail, BIN};
use evident_native::core::frame::KIND_ENTRY;
use evident_native::core::hash::leaf;
use evident_native::core::tree::{HashReader, MemoryTree, TILE_WIDTH};
use evident_native::prove::{check_proof_text, InclusionOptions, Prover};
use evident_native::Trail;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Every tile file under `dir/tile` (path relative to `dir`), without the hint.
fn tiles_on_disk(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(at) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                if rel != "tile/size" {
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &dir.join("tile"), &mut out);
    out
}

/// The tiles of the tree over the trail's records, cut from a [`MemoryTree`] (every stored
/// node of every level), not from the writer's tile code: full tiles and the partial tiles
/// at the trail's size.
fn expected_tiles(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tree = MemoryTree::new();
    for r in read_all(dir) {
        tree.push_leaf(&leaf(KIND_ENTRY, r.seq, r.ts, &r.payload));
    }
    let size = tree.size();
    let mut out = BTreeMap::new();
    for tile_level in 0..8u8 {
        let hashes = size >> (8 * u32::from(tile_level));
        if hashes == 0 {
            break;
        }
        for index in 0..hashes.div_ceil(TILE_WIDTH) {
            let width = (hashes - index * TILE_WIDTH).min(TILE_WIDTH);
            let mut bytes = Vec::new();
            for i in 0..width {
                let h = tree.stored(tile_level * 8, index * TILE_WIDTH + i).unwrap();
                bytes.extend_from_slice(&h.0);
            }
            let id = evident_native::core::tree::TileId {
                level: tile_level,
                index,
                width: width as u16,
            };
            out.insert(id.path(), bytes);
        }
    }
    out
}

#[track_caller]
fn assert_tiles_match(dir: &Path, what: &str) {
    let got = tiles_on_disk(dir);
    let want = expected_tiles(dir);
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    // A partial tile a crash left behind (written, its removal not reached) is allowed when it
    // is a true prefix of its tile (FORMAT.md, "What the writer writes, and when").
    let stale_prefix = |k: &str| {
        let Some((tile, _)) = k.split_once(".p/") else {
            return false;
        };
        let bytes = &got[k];
        want.iter()
            .find(|(w, _)| *w == tile || w.split_once(".p/").is_some_and(|(t, _)| t == tile))
            .is_some_and(|(_, v)| v.len() > bytes.len() && v.starts_with(bytes))
    };
    let extra: Vec<&String> = got
        .keys()
        .filter(|k| !want.contains_key(*k) && !stale_prefix(k))
        .collect();
    let wrong: Vec<&String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && wrong.is_empty(),
        "{what}: missing {missing:?}, extra {extra:?}, wrong {wrong:?}"
    );
}

/// Opens the trail, appends `n` records, waits until the tile lane has caught up (a rebuild
/// after damage runs in the background), closes.
async fn write(dir: &Path, n: usize, tag: &str) {
    let t = Trail::open(dir, common::opts(256 * 1024)).await.unwrap();
    for chunk in 0..n.div_ceil(100) {
        let batch: Vec<Vec<u8>> = (0..100.min(n - chunk * 100))
            .map(|i| format!("{tag} {chunk} {i}").into_bytes())
            .collect();
        t.append_batch(batch).await.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while t.tile_status().tiled < t.head().seq {
        assert!(
            std::time::Instant::now() < deadline,
            "tiles never caught up: {:?}",
            t.tile_status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(t.tile_status().disabled, None);
    t.close().await.unwrap();
}

/// Proves `seq` and checks the bundle offline; returns (tiles read, rebuilt).
fn prove(dir: &Path, seq: u64) -> (usize, bool) {
    let p = Prover::open(dir).unwrap();
    let b = p.prove(seq, InclusionOptions::default()).unwrap();
    check_proof_text(&b.text).unwrap();
    let want = &read_all(dir)[seq as usize - 1];
    assert_eq!(b.inclusion.seq, seq);
    assert_eq!(b.inclusion.payload.as_deref(), Some(&want.payload[..]));
    (b.tiles_read, b.inclusion.rebuilt)
}

#[tokio::test]
async fn the_writer_leaves_every_tile_and_prove_reads_only_log_n_of_them() {
    let (_tmp, dir) = temp_trail();
    write(&dir, 70_000, "a").await;
    assert_tiles_match(&dir, "after close");
    let size = 70_000u64;
    for seq in [1, 256, 257, 65_536, 65_537, size - 300, size - 1, size] {
        let (tiles_read, rebuilt) = prove(&dir, seq);
        assert!(!rebuilt, "seq {seq}: the record rebuild ran");
        // At most three tries per tile the plan names (the full tile, the head's partial,
        // the exact width), at most two tiles per tile level, three levels here.
        assert!(tiles_read <= 12, "seq {seq}: {tiles_read} tiles read");
    }
    // A reopen resumes the tiles; more records, then again every tile.
    write(&dir, 1_000, "b").await;
    assert_tiles_match(&dir, "after a reopen");
    assert!(!prove(&dir, 70_999).1);
}

#[tokio::test]
async fn deleted_or_corrupted_tiles_are_rebuilt_and_never_prove_a_wrong_record() {
    let (_tmp, dir) = temp_trail();
    write(&dir, 3_000, "a").await;
    assert_tiles_match(&dir, "first");

    // A tampered level-0 tile: the prover passes over it (its check against the checkpoint
    // fails), rebuilds from the records, and proves the record on disk, never another.
    let t0 = dir.join("tile/0/001");
    let mut bytes = std::fs::read(&t0).unwrap();
    // Entry 256 + 4: the sibling of entry 256 + 5 (seq 262), so its proof path goes through it.
    bytes[32 * 4..32 * 5].copy_from_slice(&[0x55; 32]);
    std::fs::write(&t0, &bytes).unwrap();
    let (_, rebuilt) = prove(&dir, 256 + 6);
    assert!(rebuilt, "the tampered tile was not trusted");

    // Corrupted partial (the edge the open checks) and a tile deleted: the next writer
    // rebuilds every tile from the segments.
    let partial = tiles_on_disk(&dir)
        .into_keys()
        .find(|k| k.starts_with("tile/0/") && k.contains(".p/"))
        .unwrap();
    std::fs::write(dir.join(&partial), vec![0u8; 32 * 184]).unwrap();
    write(&dir, 0, "none").await;
    assert_tiles_match(&dir, "corrupt partial rebuilt");
    assert!(
        !prove(&dir, 256 + 6).1,
        "the repaired tile serves the proof"
    );

    // The whole directory deleted.
    std::fs::remove_dir_all(dir.join("tile")).unwrap();
    write(&dir, 10, "c").await;
    assert_tiles_match(&dir, "deleted directory rebuilt");
    assert!(!prove(&dir, 3_005).1);
}

#[tokio::test]
async fn a_writer_killed_while_writing_tiles_leaves_proofs_that_verify_and_tiles_repaired() {
    let (_tmp, dir) = temp_trail();
    let mut rng = evident_native::core::sim::SimRng::new(0x711e5);
    for round in 0..4u64 {
        let mut child = Command::new(BIN)
            .args(["append", s(&dir), "--raw", "--segment-bytes", "65536"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("evident append starts");
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0.. {
                if writeln!(stdin, "round {round} line {i}").is_err() {
                    break;
                }
            }
        });
        std::thread::sleep(Duration::from_millis(150 + rng.below(400)));
        let pid = child.id();
        // SIGKILL by pid (the child we started), mid-stream: tiles are being written.
        let _ = child.kill();
        let _ = child.wait();
        let _ = writer.join();
        let records = read_all(&dir).len() as u64;
        assert!(
            records > 0,
            "round {round} (pid {pid}): nothing was written"
        );
        // Proofs verify straight after the crash, whatever the tiles look like.
        for seq in [1, records / 2 + 1, records] {
            prove(&dir, seq);
        }
        // A reopen repairs the tiles (from the hint, or from the segments).
        write(&dir, 0, "none").await;
        assert_tiles_match(&dir, &format!("round {round}"));
        let (_, rebuilt) = prove(&dir, records);
        assert!(!rebuilt, "round {round}: repaired tiles serve the proof");
    }
}
