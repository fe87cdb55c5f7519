//! Verification that hashes record leaves on several threads must reach exactly the verdict of
//! the single-threaded verification, on intact trails and under every kind of damage and
//! forgery, wherever it falls relative to the 1 MiB read chunks that are split across threads.

mod common;

use common::{frames, segments, temp_trail};
use evident_native::core::frame::{frame_crc, KIND_ENTRY, RECORD_HEADER_LEN};
use evident_native::core::hash::{chain, leaf, Hash};
use evident_native::fs_exec::verify_dir_with;
use evident_native::{Durability, Options, Trail, TrailOptions};
use std::path::Path;

const CHUNK: u64 = 1 << 20;

/// ~3.4 MB of ~260-byte records in segments of 2 MiB: a sealed segment, then an unsealed one
/// preallocated to 2 MiB.
async fn big_trail(dir: &Path) {
    let trail = Trail::open(
        dir,
        TrailOptions {
            core: Options {
                segment_bytes: 2 << 20,
                durability: Durability::Os,
                ..Options::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for b in 0..12 {
        let batch: Vec<Vec<u8>> = (0..1000)
            .map(|i| {
                format!(
                    r#"{{"kind":"tool_call","agent":"a{b}","tool":"web.search","seq_hint":{i},"args":"{}"}}"#,
                    "x".repeat(150 + (i * 7) % 80)
                )
                .into_bytes()
            })
            .collect();
        trail.append_batch(batch).await.unwrap();
    }
    trail.close().await.unwrap();
}

fn both(dir: &Path) -> String {
    let one = verify_dir_with(dir, vec![], 1, |_, _| {});
    for threads in [2, 3, 8] {
        let many = verify_dir_with(dir, vec![], threads, |_, _| {});
        assert_eq!(
            format!("{many:?}"),
            format!("{one:?}"),
            "{threads} threads disagree with one"
        );
    }
    match one {
        Ok(r) => format!("ok {} records", r.records),
        Err(e) => format!("{e}"),
    }
}

/// The record frames worth damaging: first, last, the ones across and next to each chunk edge.
fn targets(bytes: &[u8]) -> Vec<(usize, u64, u64)> {
    let fr = frames(bytes);
    let mut picks = vec![0, 1, fr.len() / 2, fr.len() - 1];
    for (i, f) in fr.iter().enumerate() {
        let end = f.offset + f.len;
        if f.offset / CHUNK != (end - 1) / CHUNK || end % CHUNK == 0 || f.offset % CHUNK == 0 {
            picks.extend([i.saturating_sub(1), i, (i + 1).min(fr.len() - 1)]);
        }
    }
    picks.sort();
    picks.dedup();
    picks
        .into_iter()
        .map(|i| (i, fr[i].offset, fr[i].seq))
        .collect()
}

fn recrc(bytes: &mut [u8], offset: u64, len: u64) {
    let (s, e) = (offset as usize, (offset + len) as usize);
    let crc = frame_crc(&bytes[s..e]);
    bytes[s + 4..s + 8].copy_from_slice(&crc.to_le_bytes());
}

#[tokio::test]
async fn threads_never_change_the_verdict() {
    let (_tmp, dir) = temp_trail();
    big_trail(&dir).await;
    let segs = segments(&dir);
    assert_eq!(segs.len(), 2, "{segs:?}");
    assert_eq!(both(&dir), "ok 12000 records");

    let mut cases = 0;
    for seg in &segs {
        let path = dir.join(seg);
        let original = std::fs::read(&path).unwrap();
        let fr = frames(&original);
        for (i, offset, seq) in targets(&original) {
            let f = fr[i];
            let p = (offset as usize) + RECORD_HEADER_LEN + 3;

            // A flipped payload bit: the CRC catches it.
            let mut bytes = original.clone();
            bytes[p] ^= 0x10;
            std::fs::write(&path, &bytes).unwrap();
            let verdict = both(&dir);
            assert!(
                verdict.contains(&format!("seq {seq}")),
                "flip at seq {seq}: {verdict}"
            );

            // An edited payload with a recomputed CRC: only the chain catches it.
            bytes[p] ^= 0x10 ^ 0x01;
            recrc(&mut bytes, offset, f.len);
            std::fs::write(&path, &bytes).unwrap();
            let verdict = both(&dir);
            assert!(
                verdict.contains(&format!("seq {seq}")),
                "edit at seq {seq}: {verdict}"
            );
            assert!(verdict.contains("chain"), "edit at seq {seq}: {verdict}");

            // A forger who also recomputes this record's chain hash (the hash keys are public):
            // the next record's link breaks, or the footer's last hash when it is the last.
            let prev = if i == 0 {
                None
            } else {
                let pf = fr[i - 1];
                let h = &bytes[pf.offset as usize + 24..pf.offset as usize + 56];
                Some(Hash(h.try_into().unwrap()))
            };
            if let Some(prev) = prev {
                let s = offset as usize;
                let ts = u64::from_le_bytes(bytes[s + 16..s + 24].try_into().unwrap());
                let len = (u32::from_le_bytes(bytes[s..s + 4].try_into().unwrap()) >> 8) as usize;
                let payload = &bytes[s + RECORD_HEADER_LEN..s + RECORD_HEADER_LEN + len];
                let forged = chain(&prev, &leaf(KIND_ENTRY, seq, ts, payload));
                bytes[s + 24..s + 56].copy_from_slice(&forged.0);
                recrc(&mut bytes, offset, f.len);
                std::fs::write(&path, &bytes).unwrap();
                let verdict = both(&dir);
                assert!(!verdict.starts_with("ok"), "forgery at seq {seq} verified");
            }
            cases += 1;
        }
        std::fs::write(&path, &original).unwrap();
    }
    assert!(cases >= 12, "only {cases} damage positions");
    assert_eq!(both(&dir), "ok 12000 records");
}
