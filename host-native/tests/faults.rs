//! Damage on real files: torn tails at every offset, zero-filled tails, bit flips, edited
//! records, deleted segments, and the CLI's verify / recover / repair on them.

mod common;

use common::{code, copy_dir, describe, evident, frames, read_all, s, segments, temp_trail};
use evident_native::core::frame::frame_crc;
use evident_native::core::naming;
use evident_native::fs_exec::verify_dir;
use evident_native::{Options, Receipt, TailReport, Trail, TrailOptions};
use std::path::Path;

fn options(segment_bytes: u64, preallocate: bool) -> TrailOptions {
    TrailOptions {
        core: Options {
            segment_bytes,
            preallocate,
            ..Options::default()
        },
        ..Default::default()
    }
}

fn payload(i: usize) -> Vec<u8> {
    format!("r{i:02}").into_bytes()
}

/// A closed trail of `n` small records whose `head.checkpoint` covers only the first `n - 1`
/// (as after a crash that came after the last record was written but before close), so the
/// last record may be cut as a torn tail without contradicting the checkpoint.
async fn trail_with_uncheckpointed_last(dir: &Path, n: usize, preallocate: bool) -> Vec<Receipt> {
    let trail = Trail::open(dir, options(64 * 1024, preallocate))
        .await
        .unwrap();
    let mut receipts = Vec::new();
    for i in 1..n {
        receipts.push(trail.append(payload(i)).await.unwrap());
    }
    let cp = trail.checkpoint().await.unwrap();
    assert_eq!(cp.seq, n as u64 - 1);
    let cp_text = std::fs::read(dir.join(naming::HEAD_CHECKPOINT)).unwrap();
    receipts.push(trail.append(payload(n)).await.unwrap());
    trail.close().await.unwrap();
    std::fs::write(dir.join(naming::HEAD_CHECKPOINT), cp_text).unwrap();
    receipts
}

fn set_len(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn write_at(path: &Path, offset: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(data, offset).unwrap();
}

async fn truncate_last_record_everywhere(preallocate: bool) {
    const N: usize = 12;
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine");
    let receipts = trail_with_uncheckpointed_last(&pristine, N, preallocate).await;
    let segs = segments(&pristine);
    assert_eq!(segs.len(), 1);
    let seg = &segs[0];
    let bytes = std::fs::read(pristine.join(seg)).unwrap();
    let last = *frames(&bytes).last().unwrap();
    assert_eq!(last.seq, N as u64);
    assert_eq!(last.len, 64, "small payloads make a one-block frame");

    for k in last.offset + 1..last.offset + last.len {
        let work = tmp.path().join(format!("cut-{preallocate}-{k}"));
        copy_dir(&pristine, &work);
        set_len(&work.join(seg), k);
        let bytes_of_cut = &bytes;

        let trail = Trail::open(&work, options(64 * 1024, preallocate))
            .await
            .unwrap_or_else(|e| panic!("cut at {k}: reopening failed: {e}"));
        match &trail.open_report().tail {
            TailReport::Truncated {
                file,
                offset,
                bytes,
                first_lost_seq,
                ..
            } => {
                assert_eq!(file, seg, "cut at {k}");
                assert_eq!(*offset, last.offset, "cut at {k}: start of the torn record");
                // The data torn: up to its last non-zero byte (zeros after it cannot be told
                // from preallocated space, and are not counted).
                let torn = &bytes_of_cut[last.offset as usize..k as usize];
                let data = torn
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |i| i as u64 + 1);
                assert_eq!(*bytes, data, "cut at {k}");
                assert_eq!(*first_lost_seq, N as u64, "cut at {k}");
            }
            other => panic!("cut at {k}: expected a truncated tail, got {other:?}"),
        }
        let head = trail.head();
        assert_eq!(head.seq, N as u64 - 1, "cut at {k}");
        assert_eq!(head.hash, receipts[N - 2].hash, "cut at {k}");
        // The trail continues where the cut left it.
        let r = trail.append("after the cut").await.unwrap();
        assert_eq!(r.seq, N as u64, "cut at {k}");
        let closed = trail.close().await.unwrap();

        let report = verify_dir(&work, vec![closed], |_, _| {})
            .unwrap_or_else(|e| panic!("cut at {k}: verify failed: {e}"));
        assert_eq!(report.records, N as u64);
        let records = read_all(&work);
        for (rec, r) in records.iter().zip(&receipts[..N - 1]) {
            assert_eq!((rec.seq, rec.hash), (r.seq, r.hash), "cut at {k}");
        }
        assert_eq!(records[N - 1].payload, b"after the cut");
        std::fs::remove_dir_all(&work).unwrap();
    }
}

#[tokio::test]
async fn truncation_inside_the_last_record_is_cut_as_a_torn_tail() {
    truncate_last_record_everywhere(false).await;
}

#[tokio::test]
async fn truncation_inside_the_last_record_of_a_preallocated_segment_is_cut_as_a_torn_tail() {
    truncate_last_record_everywhere(true).await;
}

#[tokio::test]
async fn zero_filled_tail_is_a_clean_end() {
    for zeros in [5u64, 8, 4096, 100_000] {
        let (_tmp, dir) = temp_trail();
        let payloads: Vec<Vec<u8>> = (1..=12).map(payload).collect();
        let receipts = common::build(&dir, options(64 * 1024, false), &payloads).await;
        let seg = dir.join(&segments(&dir)[0]);
        let len = std::fs::metadata(&seg).unwrap().len();
        set_len(&seg, len + zeros);

        let report = verify_dir(&dir, vec![], |_, _| {})
            .unwrap_or_else(|e| panic!("{zeros} zero bytes: verify failed: {e}"));
        assert_eq!(report.records, 12);
        let trail = Trail::open(&dir, options(64 * 1024, false))
            .await
            .unwrap_or_else(|e| panic!("{zeros} zero bytes: reopen failed: {e}"));
        match &trail.open_report().tail {
            TailReport::Preallocated { bytes } => assert_eq!(*bytes, zeros),
            TailReport::Clean => {}
            other => panic!("{zeros} zero bytes: expected a clean end, got {other:?}"),
        }
        assert_eq!(trail.head().seq, 12);
        assert_eq!(trail.head().hash, receipts[11].hash);
        assert_eq!(trail.append("next").await.unwrap().seq, 13);
        let head = trail.close().await.unwrap();
        verify_dir(&dir, vec![head], |_, _| {}).unwrap();
        let records = read_all(&dir);
        assert_eq!(records.len(), 13);
        for (rec, r) in records.iter().zip(&receipts) {
            assert_eq!(rec.hash, r.hash);
        }
    }
}

#[tokio::test]
async fn bit_flip_in_a_middle_record_is_refused_with_its_location() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (1..=20).map(payload).collect();
    common::build(&dir, options(64 * 1024, true), &payloads).await;
    let seg = segments(&dir)[0].clone();
    let path = dir.join(&seg);
    let bytes = std::fs::read(&path).unwrap();
    let target = frames(&bytes)[9];
    assert_eq!(target.seq, 10);
    let mut damaged = bytes.clone();
    damaged[target.offset as usize + 57] ^= 0x08; // a payload bit
    std::fs::write(&path, &damaged).unwrap();
    let checkpoint_before = std::fs::read(dir.join(naming::HEAD_CHECKPOINT)).unwrap();

    for attempt in 0..2 {
        let err = Trail::open(&dir, TrailOptions::default())
            .await
            .expect_err("a damaged middle record must be refused");
        assert!(err.is_corruption(), "attempt {attempt}: {err}");
        let loc = err
            .as_trail()
            .and_then(|e| e.location())
            .unwrap_or_else(|| panic!("no location in {err:?}"));
        assert_eq!(loc.file.as_deref(), Some(seg.as_str()), "{err}");
        assert_eq!(loc.offset, Some(target.offset), "{err}");
        assert_eq!(loc.seq, Some(10), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&seg)
                && msg.contains(&format!("offset {}", target.offset))
                && msg.contains("seq 10"),
            "{msg}"
        );
        // Refusing changes nothing on disk.
        assert_eq!(std::fs::read(&path).unwrap(), damaged, "attempt {attempt}");
        assert_eq!(
            std::fs::read(dir.join(naming::HEAD_CHECKPOINT)).unwrap(),
            checkpoint_before
        );
    }
    let err = verify_dir(&dir, vec![], |_, _| {}).unwrap_err();
    let loc = err.location().unwrap();
    assert_eq!(
        (loc.file.as_deref(), loc.offset, loc.seq),
        (Some(seg.as_str()), Some(target.offset), Some(10)),
        "{err}"
    );
}

#[tokio::test]
async fn damaged_last_record_covered_by_the_checkpoint_is_refused() {
    // A flipped last record looks like a torn write, but head.checkpoint proves it was there.
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (1..=20).map(payload).collect();
    common::build(&dir, options(64 * 1024, true), &payloads).await;
    let path = dir.join(&segments(&dir)[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = *frames(&bytes).last().unwrap();
    bytes[last.offset as usize + 57] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = Trail::open(&dir, TrailOptions::default())
        .await
        .expect_err("must not cut a checkpointed record");
    assert!(err.is_corruption(), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was cut");
}

#[tokio::test]
async fn edited_payload_with_a_recomputed_crc_fails_verification() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (1..=20).map(payload).collect();
    common::build(&dir, options(64 * 1024, true), &payloads).await;
    assert_eq!(code(&evident(&["verify", s(&dir), "-q"], None)), 0);
    let seg = segments(&dir)[0].clone();
    let path = dir.join(&seg);
    let mut bytes = std::fs::read(&path).unwrap();
    let target = frames(&bytes)[6];
    assert_eq!(target.seq, 7);
    let (start, end) = (
        target.offset as usize,
        (target.offset + target.len) as usize,
    );
    assert_eq!(&bytes[start + 56..start + 59], b"r07");
    bytes[start + 56] = b'R';
    let crc = frame_crc(&bytes[start..end]);
    bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    // The frame itself is well-formed: only the chain can tell.
    assert_eq!(frames(&bytes).len(), 20, "the edited frame passes its CRC");

    let out = evident(&["verify", s(&dir), "-q"], None);
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT INTACT"), "{}", describe(&out));
    assert!(
        text.contains("seq 7") && text.contains(&seg),
        "{}",
        describe(&out)
    );

    let out = evident(&["verify", s(&dir), "--json"], None);
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "corrupt");
    assert_eq!(v["error"]["seq"], 7);
    assert_eq!(v["error"]["file"], seg.as_str());
    assert_eq!(v["error"]["offset"], target.offset);

    let err = Trail::open(&dir, TrailOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(err.as_trail().unwrap().location().unwrap().seq, Some(7));
}

#[tokio::test]
async fn deleted_middle_segment_is_reported_at_the_next_segment() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (0..400)
        .map(|i| format!("segment filler {i:05}").into_bytes())
        .collect();
    common::build(&dir, options(4096, true), &payloads).await;
    let segs = segments(&dir);
    assert!(segs.len() >= 6, "{segs:?}");
    assert_eq!(code(&evident(&["verify", s(&dir), "-q"], None)), 0);
    std::fs::remove_file(dir.join(&segs[3])).unwrap();

    let err = verify_dir(&dir, vec![], |_, _| {}).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(
        err.location().and_then(|l| l.file.as_deref()),
        Some(segs[4].as_str()),
        "{err}"
    );

    let out = evident(&["verify", s(&dir), "-q"], None);
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&segs[4]),
        "{}",
        describe(&out)
    );
    let out = evident(&["verify", s(&dir), "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["file"], segs[4].as_str());
}

#[tokio::test]
async fn torn_tail_verify_exits_4_and_recover_cuts_it() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (1..=15).map(payload).collect();
    let receipts = common::build(&dir, options(64 * 1024, true), &payloads).await;
    let seg = segments(&dir)[0].clone();
    let path = dir.join(&seg);
    let bytes = std::fs::read(&path).unwrap();
    let last = *frames(&bytes).last().unwrap();
    let end = last.offset + last.len;
    // The first 40 bytes of a 104-byte frame: an interrupted write into preallocated space.
    let mut torn = vec![0x01, 48, 0, 0];
    torn.extend(std::iter::repeat_n(0xab, 36));
    write_at(&path, end, &torn);
    let damaged = std::fs::read(&path).unwrap();

    let out = evident(&["verify", s(&dir), "-q"], None);
    assert_eq!(code(&out), 4, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("torn"),
        "{}",
        describe(&out)
    );
    let out = evident(&["verify", s(&dir), "--json"], None);
    assert_eq!(code(&out), 4, "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "torn_tail");
    assert_eq!(v["error"]["offset"], end);
    assert_eq!(v["error"]["seq"], 16);

    // The absolute mode refuses to cut and changes nothing.
    let out = evident(&["recover", s(&dir), "--mode", "absolute"], None);
    assert_eq!(code(&out), 4, "{}", describe(&out));
    assert_eq!(std::fs::read(&path).unwrap(), damaged);

    let out = evident(&["recover", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cut a torn tail") && text.contains(&format!("offset {end}")),
        "{}",
        describe(&out)
    );
    assert!(text.contains("head: seq 15"), "{}", describe(&out));

    let out = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("intact: 15 records"),
        "{}",
        describe(&out)
    );
    let records = read_all(&dir);
    assert_eq!(records.len(), 15);
    for (rec, r) in records.iter().zip(&receipts) {
        assert_eq!(rec.hash, r.hash);
    }
}

/// A crash during rotation: the full segment is sealed, and the next one either does not exist
/// yet or exists without its header. Recovery continues from the sealed segment, losing nothing.
#[tokio::test]
async fn interrupted_rotation_is_recovered() {
    for header_written in [false, true] {
        for next_file_created in [false, true] {
            if header_written && !next_file_created {
                continue;
            }
            let (_tmp, dir) = temp_trail();
            let payloads: Vec<Vec<u8>> = (0..200)
                .map(|i| format!("rotation {i:05}").into_bytes())
                .collect();
            let receipts = common::build(&dir, options(4096, true), &payloads).await;
            let segs = segments(&dir);
            let last = segs.last().unwrap().clone();
            let next_first = naming::parse_segment_name(&last).unwrap();
            let last_bytes = std::fs::read(dir.join(&last)).unwrap();
            // The state just after the seal of the segment before `last` (and its checkpoint).
            std::fs::remove_file(dir.join(&last)).unwrap();
            let sealed_head = evident_native::Checkpoint {
                log_id: evident_native::Checkpoint::parse_own_file(
                    &std::fs::read_to_string(dir.join(naming::HEAD_CHECKPOINT)).unwrap(),
                )
                .unwrap()
                .0
                .log_id,
                seq: next_first - 1,
                hash: receipts[next_first as usize - 2].hash,
            };
            std::fs::write(dir.join(naming::HEAD_CHECKPOINT), sealed_head.to_text()).unwrap();
            if next_file_created {
                let content = if header_written {
                    &last_bytes[..128]
                } else {
                    &[][..]
                };
                std::fs::write(dir.join(&last), content).unwrap();
            }
            let case = format!("next file created: {next_file_created}, header: {header_written}");

            let out = evident(&["verify", s(&dir), "--json"], None);
            let verdict = code(&out);
            if next_file_created && !header_written {
                // Verification reports the headerless segment (as damage: exit 3).
                assert_ne!(verdict, 0, "{case}: {}", describe(&out));
            } else {
                assert_eq!(verdict, 0, "{case}: {}", describe(&out));
            }

            let trail = Trail::open(&dir, options(4096, true))
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            let report = trail.open_report().clone();
            assert_eq!(report.head, sealed_head, "{case}");
            if next_file_created && !header_written {
                assert!(report.removed_files.contains(&last), "{case}: {report:?}");
            }
            let r = trail.append("after the crash").await.unwrap();
            assert_eq!(r.seq, next_first, "{case}");
            let head = trail.close().await.unwrap();
            assert!(segments(&dir).contains(&last), "{case}");
            verify_dir(&dir, vec![head, sealed_head], |_, _| {})
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            let records = read_all(&dir);
            assert_eq!(records.len() as u64, next_first, "{case}");
            for (rec, r) in records.iter().zip(&receipts[..next_first as usize - 1]) {
                assert_eq!(rec.hash, r.hash, "{case}");
            }
        }
    }
}

#[tokio::test]
async fn repair_sets_the_damaged_files_aside_and_keeps_the_records_before_the_damage() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("repairable {i:05}").into_bytes())
        .collect();
    let receipts = common::build(&dir, options(4096, true), &payloads).await;
    let segs = segments(&dir);
    assert!(segs.len() >= 5, "{segs:?}");
    let originals: Vec<(String, Vec<u8>)> = segs
        .iter()
        .chain(std::iter::once(&naming::HEAD_CHECKPOINT.to_string()))
        .map(|n| (n.clone(), std::fs::read(dir.join(n)).unwrap()))
        .collect();

    // Flip a bit in a record in the middle of the third segment.
    let victim = &segs[2];
    let mut bytes = originals[2].1.clone();
    let fr = frames(&bytes);
    let target = fr[fr.len() / 2];
    bytes[target.offset as usize + 60] ^= 0x40;
    std::fs::write(dir.join(victim), &bytes).unwrap();
    let damaged_bytes = bytes;
    assert_eq!(code(&evident(&["verify", s(&dir), "-q"], None)), 3);

    let out = evident(&["repair", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["repaired"], true, "{v}");
    assert_eq!(v["kept_up_to"], target.seq - 1, "{v}");
    assert_eq!(v["cut"]["file"], victim.as_str(), "{v}");
    assert_eq!(v["cut"]["offset"], target.offset, "{v}");
    let mut removed: Vec<String> = v["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    removed.sort();
    assert_eq!(removed, segs[3..].to_vec());

    // Every affected file was copied aside with its bytes as they were.
    let aside = v["set_aside"].as_array().unwrap();
    let mut copied: Vec<&str> = Vec::new();
    for entry in aside {
        let (file, copy) = (
            entry["file"].as_str().unwrap(),
            entry["copy"].as_str().unwrap(),
        );
        assert!(copy.starts_with(&format!("{file}{}", naming::DAMAGED_INFIX)));
        let expected = if file == victim.as_str() {
            damaged_bytes.clone()
        } else {
            originals.iter().find(|(n, _)| n == file).unwrap().1.clone()
        };
        assert_eq!(
            std::fs::read(dir.join(copy)).unwrap(),
            expected,
            "copy of {file}"
        );
        copied.push(file);
    }
    for name in segs[2..]
        .iter()
        .map(String::as_str)
        .chain([naming::HEAD_CHECKPOINT])
    {
        assert!(copied.contains(&name), "{name} not set aside: {copied:?}");
    }
    let damaged_files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(naming::DAMAGED_INFIX))
        .collect();
    assert!(damaged_files
        .iter()
        .any(|n| n.starts_with(&format!("{victim}{}", naming::DAMAGED_INFIX))));
    // Segments before the damage are untouched; the damaged one is cut at the bad record.
    assert_eq!(std::fs::read(dir.join(&segs[0])).unwrap(), originals[0].1);
    assert_eq!(std::fs::read(dir.join(&segs[1])).unwrap(), originals[1].1);
    assert_eq!(
        std::fs::read(dir.join(victim)).unwrap(),
        originals[2].1[..target.offset as usize]
    );
    assert_eq!(segments(&dir), segs[..3].to_vec());

    let out = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let records = read_all(&dir);
    assert_eq!(records.len() as u64, target.seq - 1);
    for (i, (rec, r)) in records.iter().zip(&receipts).enumerate() {
        assert_eq!(rec.hash, r.hash);
        assert_eq!(rec.payload, payloads[i]);
    }
    let out = evident(&["repair", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to repair"));

    // The trail is usable again and continues after the kept records.
    let trail = Trail::open(&dir, options(4096, true)).await.unwrap();
    assert_eq!(trail.head().seq, target.seq - 1);
    assert_eq!(trail.append("after repair").await.unwrap().seq, target.seq);
    let head = trail.close().await.unwrap();
    verify_dir(&dir, vec![head], |_, _| {}).unwrap();
}
