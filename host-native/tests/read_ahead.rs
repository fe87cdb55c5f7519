//! Verification and scanning queries that read ahead and hash record leaves on other threads
//! must reach exactly the verdict and the answer of the single-threaded ones, on intact trails
//! and under every kind of damage and forgery, wherever it falls relative to the 1 MiB read
//! chunks, the chunk a query reads ahead of and the page edges of a paged query.

mod common;

use common::{frames, segments, temp_trail, FrameAt};
use evident_native::core::frame::{frame_crc, KIND_ENTRY, RECORD_HEADER_LEN};
use evident_native::core::hash::{chain, leaf, Hash};
use evident_native::core::query::QuerySpec;
use evident_native::fs_exec::verify_dir_with;
use evident_native::query::query_with;
use evident_native::{Durability, Options, Trail, TrailOptions};
use std::hash::Hasher;
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

/// What the scanning queries answer on `threads` threads, in one line per query: pages of 700
/// and 4096 records (each resuming after the last: the resumed scan starts mid-segment, and a
/// page's last read is shorter than the chunk read ahead), the whole trail at once, a time
/// range from `since` (its scan starts at a sparse-index entry), and the newest 500 records.
/// Each answer is its records (seq, timestamp, hashes, payload) hashed, its head and resume
/// position and the bytes it read; an error is its message.
fn answers(dir: &Path, threads: usize, since: u64) -> Vec<String> {
    let mut out = Vec::new();
    let specs = [
        QuerySpec {
            limit: Some(700),
            ..QuerySpec::default()
        },
        QuerySpec {
            limit: Some(4096),
            ..QuerySpec::default()
        },
        QuerySpec::default(),
        QuerySpec {
            since: Some(since),
            ..QuerySpec::default()
        },
        QuerySpec {
            limit: Some(500),
            newest: true,
            ..QuerySpec::default()
        },
    ];
    for first in specs {
        let mut spec = first.clone();
        let mut digest = std::collections::hash_map::DefaultHasher::new();
        let mut line = String::new();
        loop {
            let page = match query_with(dir, spec.clone(), threads) {
                Ok(page) => page,
                Err(e) => {
                    line += &format!("error {e}");
                    break;
                }
            };
            for r in &page.records {
                digest.write_u64(r.seq);
                digest.write_u64(r.ts);
                digest.write(&r.hash.0);
                digest.write(&r.prev_hash.map_or([0; 32], |h| h.0));
                digest.write(&r.payload);
            }
            line += &format!(
                "{} records to {:?}, head {:?}, resume {:?}, {} bytes; ",
                page.records.len(),
                page.records.last().map(|r| r.seq),
                page.head,
                page.resume,
                page.bytes_read
            );
            match (first.limit, first.newest) {
                (Some(l), false) if page.records.len() == l => spec.resume_at = page.resume,
                _ => break,
            }
        }
        out.push(format!("{line} digest {:x}", digest.finish()));
    }
    out
}

/// [`answers`] on 2, 3 and 8 threads, checked against 1 thread.
fn queries_agree(dir: &Path, since: u64) -> Vec<String> {
    let one = answers(dir, 1, since);
    for threads in [2, 3, 8] {
        assert_eq!(
            answers(dir, threads, since),
            one,
            "queries on {threads} threads disagree with one"
        );
    }
    one
}

/// The timestamp of the middle record of the sealed segment: a time range from it starts at
/// one of the segment's sparse-index entries, not at its first record.
fn middle_ts(dir: &Path) -> u64 {
    let bytes = std::fs::read(dir.join(&segments(dir)[0])).unwrap();
    let fr = frames(&bytes);
    let s = fr[fr.len() / 2].offset as usize;
    u64::from_le_bytes(bytes[s + 16..s + 24].try_into().unwrap())
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

/// Calls `damage` for each frame [`targets`] picks in each segment, with the segment's path,
/// its original bytes, its frames and the frame's index, offset and seq; `damage` writes
/// whatever it damages, and each segment is restored after its last target. Returns how many
/// targets there were.
fn each_target(
    dir: &Path,
    mut damage: impl FnMut(&Path, &[u8], &[FrameAt], usize, u64, u64),
) -> usize {
    let mut cases = 0;
    for seg in segments(dir) {
        let path = dir.join(seg);
        let original = std::fs::read(&path).unwrap();
        let fr = frames(&original);
        for (i, offset, seq) in targets(&original) {
            damage(&path, &original, &fr, i, offset, seq);
            cases += 1;
        }
        std::fs::write(&path, &original).unwrap();
    }
    cases
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

    let cases = each_target(&dir, |path, original, fr, i, offset, seq| {
        let f = fr[i];
        let p = (offset as usize) + RECORD_HEADER_LEN + 3;

        // A flipped payload bit: the CRC catches it.
        let mut bytes = original.to_vec();
        bytes[p] ^= 0x10;
        std::fs::write(path, &bytes).unwrap();
        let verdict = both(&dir);
        assert!(
            verdict.contains(&format!("seq {seq}")),
            "flip at seq {seq}: {verdict}"
        );

        // An edited payload with a recomputed CRC: only the chain catches it.
        bytes[p] ^= 0x10 ^ 0x01;
        recrc(&mut bytes, offset, f.len);
        std::fs::write(path, &bytes).unwrap();
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
            std::fs::write(path, &bytes).unwrap();
            let verdict = both(&dir);
            assert!(!verdict.starts_with("ok"), "forgery at seq {seq} verified");
        }
    });
    assert!(cases >= 12, "only {cases} damage positions");
    assert_eq!(both(&dir), "ok 12000 records");
}

#[tokio::test]
async fn reading_ahead_never_changes_a_query_answer() {
    let (_tmp, dir) = temp_trail();
    big_trail(&dir).await;
    let segs = segments(&dir);
    assert_eq!(segs.len(), 2, "{segs:?}");
    let since = middle_ts(&dir);
    let intact = queries_agree(&dir, since);
    for (i, a) in intact.iter().enumerate() {
        assert!(!a.contains("error"), "query {i}: {a}");
    }
    assert!(
        intact[2].starts_with("12000 records to Some(12000)"),
        "{}",
        intact[2]
    );
    // The time range began mid-segment: fewer records than the whole trail, more than a batch.
    let n: usize = intact[3].split(' ').next().unwrap().parse().unwrap();
    assert!((1000..12000).contains(&n), "{}", intact[3]);

    let cases = each_target(&dir, |path, original, fr, i, offset, seq| {
        let f = fr[i];
        let p = (offset as usize) + RECORD_HEADER_LEN + 3;
        // An edited payload with a recomputed CRC: only the chain (and so the leaf a
        // read-ahead thread may have hashed) tells the record is not what was written.
        let mut bytes = original.to_vec();
        bytes[p] ^= 0x01;
        recrc(&mut bytes, offset, f.len);
        std::fs::write(path, &bytes).unwrap();
        let got = queries_agree(&dir, since);
        let whole = &got[2];
        assert!(
            whole.contains(&format!("seq {seq}")) && whole.contains("chain"),
            "edit at seq {seq}: {whole}"
        );
        // Every query that returns the record fails (the time range and the newest 500
        // return only the later records; one that reads the record without returning it
        // may fail too).
        let returns = [true, true, true, seq > 12000 - n as u64, seq > 11500];
        for (q, a) in got.iter().enumerate().filter(|(q, _)| returns[*q]) {
            assert!(a.contains("error"), "edit at seq {seq}: query {q}: {a}");
        }
    });
    assert!(cases >= 12, "only {cases} damage positions");
    assert_eq!(queries_agree(&dir, since), intact);
}
