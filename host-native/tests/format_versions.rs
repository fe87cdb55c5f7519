//! Format versions with real files: a version-1 trail (written here byte by byte, as the
//! version-1 writer did) is read and verified, a writer refuses to append to it (naming the
//! file and the version) without changing a byte, and a trail mixing versions is corruption
//! naming the segment.

mod common;

use common::{code, describe, evident, s, temp_trail};
use evident_native::core::config::INDEX_STRIDE;
use evident_native::core::footer::{Footer, IndexBuilder};
use evident_native::core::frame::{encode_entry, KIND_ENTRY};
use evident_native::core::hash::{chain, genesis, leaf_v1, Hash, LogId};
use evident_native::core::header::{FormatVersion, SegmentHeader};
use evident_native::core::naming;
use evident_native::core::tree::CompactRange;
use evident_native::{Error, Trail};
use std::collections::BTreeMap;
use std::path::Path;

const LOG: LogId = LogId([0x42; 16]);
const T0: u64 = 1_700_000_000_000_000_000;

/// Writes a version-1 trail: segment 0 sealed with records 1..=3, segment 1 (the last,
/// unsealed) with records 4 and 5; `last_version` is the version of segment 1's header (2 makes
/// a trail that mixes versions). Returns the tree root over the five version-1 leaves.
fn write_v1_trail(dir: &Path, last_version: FormatVersion) -> Hash {
    std::fs::create_dir_all(dir).unwrap();
    let mut prev = genesis(&LOG);
    let mut tree = CompactRange::new();
    let mut seg = |segno: u64, seqs: std::ops::RangeInclusive<u64>, version, sealed: bool| {
        let first = *seqs.start();
        let h = SegmentHeader {
            version,
            log_id: LOG,
            segno,
            first_seq: first,
            anchor: prev,
        };
        let mut bytes = h.encode().to_vec();
        let mut index = IndexBuilder::new(INDEX_STRIDE);
        for seq in seqs.clone() {
            let payload = format!("version-1 record {seq}").into_bytes();
            let l = leaf_v1(KIND_ENTRY, seq, T0 + seq, &payload);
            tree.push_leaf(&l);
            prev = chain(&prev, &l);
            index.observe(seq, T0 + seq, bytes.len() as u64);
            encode_entry(&mut bytes, seq, T0 + seq, &prev, &payload);
        }
        if sealed {
            let footer = Footer {
                count: seqs.clone().count() as u64,
                first_seq: first,
                last_seq: *seqs.end(),
                last_hash: prev,
                first_ts: T0 + first,
                last_ts: T0 + seqs.end(),
                index_stride: INDEX_STRIDE,
                index: index.take(),
                edge: Vec::new(), // version 1: no tree edge
                offset: bytes.len() as u64,
            };
            bytes.extend_from_slice(&footer.encode());
        }
        std::fs::write(dir.join(naming::segment_name(first)), bytes).unwrap();
    };
    seg(0, 1..=3, FormatVersion::V1, true);
    seg(1, 4..=5, last_version, false);
    tree.root()
}

/// Every file of `dir` and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_version_1_trail_is_verified_with_its_tree() {
    let (_tmp, dir) = temp_trail();
    let root = write_v1_trail(&dir, FormatVersion::V1);
    let out = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let report = evident_native::fs_exec::verify_dir(&dir, vec![], |_, _| {}).unwrap();
    assert_eq!(report.version, FormatVersion::V1);
    assert_eq!(report.records, 5);
    assert_eq!(report.tree, Some((5, root)));

    // One changed payload byte of a version-1 record is still found where it is.
    let first = dir.join(naming::segment_name(1));
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[128 + 56] ^= 1;
    std::fs::write(&first, bytes).unwrap();
    let out = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&out), 3, "{}", describe(&out));
}

#[tokio::test]
async fn appending_to_a_version_1_trail_is_refused_naming_the_file_and_changes_nothing() {
    let (_tmp, dir) = temp_trail();
    write_v1_trail(&dir, FormatVersion::V1);
    let before = snapshot(&dir);
    let last = naming::segment_name(4);
    let e = Trail::open(&dir, Default::default())
        .await
        .err()
        .unwrap_or_else(|| panic!("a version-1 trail is not opened for appending"));
    let Error::Trail(evident_native::core::Error::UnsupportedVersion { file, version }) = &e else {
        panic!("expected an unsupported-version error, got {e:?}");
    };
    assert_eq!((file.as_str(), *version), (last.as_str(), 1));
    let text = e.to_string();
    assert!(
        text.contains(&last) && text.contains("format version 1"),
        "{text}"
    );

    let out = evident(&["append", s(&dir), "--raw"], Some(b"one more\n"));
    assert_ne!(code(&out), 0, "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&last) && err.contains("format version 1"),
        "{err}"
    );

    // Nothing was changed, created or removed (the lease file aside).
    let mut after = snapshot(&dir);
    after.remove(evident_native::LOCK_FILE);
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_trail_mixing_versions_is_corruption_naming_the_segment() {
    let (_tmp, dir) = temp_trail();
    write_v1_trail(&dir, FormatVersion::V2);
    let out = evident(&["verify", s(&dir)], None);
    assert_eq!(code(&out), 3, "{}", describe(&out));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains(&naming::segment_name(4)) && text.contains("version"),
        "{text}"
    );
    let e = Trail::open(&dir, Default::default())
        .await
        .err()
        .unwrap_or_else(|| panic!("a trail mixing versions is refused"));
    let Error::Trail(core) = &e else {
        panic!("{e:?}")
    };
    assert!(core.is_corruption(), "{e}");
    assert!(e.to_string().contains("never mixes versions"), "{e}");
}

/// Paging through a version-1 trail (what `export`, `stats` and `query --limit` do): each page
/// resumes after the record the last one stopped at and checks the chain from it, with the
/// version-1 leaf; the pages together are the whole trail. A resumed page whose record was
/// changed since is refused, not read past.
#[test]
fn a_version_1_trail_is_read_page_by_page() {
    use evident_native::core::query::QuerySpec;
    let (_tmp, dir) = temp_trail();
    write_v1_trail(&dir, FormatVersion::V1);
    for limit in 1..=3 {
        let mut spec = QuerySpec {
            limit: Some(limit),
            ..QuerySpec::default()
        };
        let mut seqs = Vec::new();
        loop {
            let page = evident_native::query::query(&dir, spec.clone())
                .unwrap_or_else(|e| panic!("page after {:?} (limit {limit}): {e}", seqs.last()));
            seqs.extend(page.records.iter().map(|r| r.seq));
            for r in &page.records {
                let payload = format!("version-1 record {}", r.seq).into_bytes();
                assert_eq!(r.payload, payload);
            }
            if page.records.len() < limit {
                break;
            }
            spec.resume_at = page.resume;
        }
        assert_eq!(seqs, vec![1, 2, 3, 4, 5], "limit {limit}");
    }
    let out = evident(&["export", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);
}
