//! The archive decisions (core/src/archive) driven by a simulated trail: what a round uploads,
//! how manifests chain, what a manifest chain refuses, what a listing lacks, and what
//! retention may delete. The "bucket" here is a map the test owns: these are the decisions the
//! native adapter performs over S3 (its tests use a real S3 server).

use evident_core::archive::keys;
use evident_core::archive::listing::{check_listing, ListingProblem};
use evident_core::archive::manifest::describe_sealed_segment;
use evident_core::archive::plan::{plan_retention, segments_to_upload, LocalSegment};
use evident_core::archive::{sha256_hex, ArchiveHistory, ChainError, Manifest, MANIFEST_FORMAT};
use evident_core::header::SegmentHeader;
use evident_core::sim::{drive, FakeDisk, Faults};
use evident_core::{naming, Checkpoint, LogId, Options, Trail};
use std::collections::BTreeMap;

const LOG: LogId = LogId([9; 16]);

/// A trail of `n` records in 4 KiB segments on a fake disk (left open: the last segment is
/// the active one).
fn trail(n: u64) -> (FakeDisk, Trail) {
    let mut disk = FakeDisk::new(3, Faults::default());
    let o = Options {
        segment_bytes: 4096,
        ..Options::default()
    };
    let mut t = Trail::open(o, LOG, 1);
    drive(&mut t, &mut disk, 100_000);
    for i in 0..n {
        t.handle_append(
            i,
            format!("record {i} {}", "p".repeat(60)).into_bytes(),
            1000 + i,
        )
        .unwrap();
    }
    drive(&mut t, &mut disk, 1_000_000);
    (disk, t)
}

fn local_firsts(disk: &FakeDisk) -> Vec<u64> {
    let mut v: Vec<u64> = disk
        .file_names()
        .iter()
        .filter_map(|n| naming::parse_segment_name(n))
        .collect();
    v.sort();
    v
}

/// One archive round as the native adapter runs it, into `bucket` (relative key -> bytes).
fn round(disk: &FakeDisk, bucket: &mut BTreeMap<String, Vec<u8>>) -> Option<String> {
    let h = history(bucket).unwrap();
    let plan = segments_to_upload(&h, &local_firsts(disk)).unwrap();
    if plan.is_empty() {
        return None;
    }
    let mut prev = h.head;
    let mut entries = Vec::new();
    for first in plan {
        let name = naming::segment_name(first);
        let bytes = disk.read_file(&name).unwrap().to_vec();
        let described =
            describe_sealed_segment(&name, &bytes, (prev.seq > 0).then_some(prev)).unwrap();
        let e = described.entry;
        assert_eq!(described.log_id, LOG);
        prev = Checkpoint {
            log_id: LOG,
            seq: e.last_seq,
            hash: e.last_hash_value().unwrap(),
        };
        bucket.insert(e.key.clone(), bytes);
        entries.push(e);
    }
    let m = Manifest {
        format: MANIFEST_FORMAT.into(),
        log_id: LOG.to_hex(),
        round: h.next_round(),
        prev_manifest_sha256: h.last_manifest_sha256(),
        segments: entries,
        checkpoint: prev.to_text(),
        tree_checkpoint: None,
    };
    let key = keys::manifest_rel_key(m.round);
    bucket.insert(key.clone(), m.encode());
    Some(key)
}

fn history(bucket: &BTreeMap<String, Vec<u8>>) -> Result<ArchiveHistory, ChainError> {
    let manifests: Vec<(String, Vec<u8>)> = bucket
        .iter()
        .filter(|(k, _)| k.starts_with("manifest/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ArchiveHistory::from_manifests(LOG, &manifests)
}

fn listing(bucket: &BTreeMap<String, Vec<u8>>) -> Vec<(String, u64)> {
    bucket
        .iter()
        .map(|(k, v)| (k.clone(), v.len() as u64))
        .collect()
}

#[test]
fn rounds_upload_every_sealed_segment_once_and_chain_their_manifests() {
    let (mut disk, mut t) = trail(200);
    let mut bucket = BTreeMap::new();
    let firsts = local_firsts(&disk);
    assert!(firsts.len() >= 4);
    assert_eq!(
        round(&disk, &mut bucket).as_deref(),
        Some("manifest/00000000000000000001.json")
    );
    let h = history(&bucket).unwrap();
    assert_eq!(
        h.segments.len(),
        firsts.len() - 1,
        "never the active segment"
    );
    assert_eq!(round(&disk, &mut bucket), None, "nothing new");
    for i in 200..400 {
        t.handle_append(
            i,
            format!("more {i} {}", "q".repeat(60)).into_bytes(),
            2000 + i,
        )
        .unwrap();
    }
    drive(&mut t, &mut disk, 1_000_000);
    assert_eq!(
        round(&disk, &mut bucket).as_deref(),
        Some("manifest/00000000000000000002.json")
    );
    let h = history(&bucket).unwrap();
    assert_eq!(h.manifests.len(), 2);
    assert_eq!(h.segments.len(), local_firsts(&disk).len() - 1);
    let last = &h.segments.last().unwrap().1;
    assert_eq!(h.head.seq, last.last_seq);
    let report = check_listing(&h, &listing(&bucket));
    assert!(
        report.problems.is_empty() && report.extra.is_empty(),
        "{report:?}"
    );
}

#[test]
fn refused_chains_name_the_manifest() {
    let (mut disk, mut t) = trail(200);
    let mut bucket = BTreeMap::new();
    round(&disk, &mut bucket).unwrap();
    for i in 200..400 {
        t.handle_append(i, vec![b'x'; 70], 3000 + i).unwrap();
    }
    drive(&mut t, &mut disk, 1_000_000);
    round(&disk, &mut bucket).unwrap();
    let m1 = keys::manifest_rel_key(1);
    let m2 = keys::manifest_rel_key(2);

    // Edited round 1: round 2 no longer chains to it.
    let mut b = bucket.clone();
    let edited = String::from_utf8(b[&m1].clone())
        .unwrap()
        .replace("\"size\"", "\"size\" ");
    b.insert(m1.clone(), edited.into_bytes());
    assert_eq!(history(&b), Err(ChainError::Fork { key: m2.clone() }));

    // Rolled back: round 2's object holds round 1's manifest.
    let mut b = bucket.clone();
    b.insert(m2.clone(), bucket[&m1].clone());
    assert_eq!(
        history(&b),
        Err(ChainError::WrongRound {
            key: m2.clone(),
            claimed: 1
        })
    );

    // A hole: round 2 removed, round 3 present.
    let mut b = bucket.clone();
    let m2_bytes = b.remove(&m2).unwrap();
    b.insert(keys::manifest_rel_key(3), m2_bytes.clone());
    assert_eq!(history(&b), Err(ChainError::MissingRound { round: 2 }));

    // Backwards: a well-chained round 3 that lists round 2's segments again.
    let mut m3: Manifest = Manifest::decode(&m2, &m2_bytes).unwrap();
    m3.round = 3;
    m3.prev_manifest_sha256 = Some(sha256_hex(&m2_bytes));
    let mut b = bucket.clone();
    b.insert(keys::manifest_rel_key(3), m3.encode());
    let e = history(&b).unwrap_err();
    assert!(
        matches!(&e, ChainError::Discontinuous { what, .. } if what.contains("goes backwards")),
        "{e}"
    );

    // A manifest whose checkpoint is not its last segment's end.
    let mut m2x: Manifest = Manifest::decode(&m2, &m2_bytes).unwrap();
    m2x.checkpoint = Checkpoint {
        log_id: LOG,
        seq: 1,
        hash: m2x.segments[0].anchor_hash().unwrap(),
    }
    .to_text();
    let mut b = bucket.clone();
    b.insert(m2.clone(), m2x.encode());
    assert!(matches!(history(&b), Err(ChainError::Invalid { .. })));
}

#[test]
fn listings_name_missing_resized_and_extra_objects() {
    let (disk, _t) = trail(200);
    let mut bucket = BTreeMap::new();
    round(&disk, &mut bucket).unwrap();
    let h = history(&bucket).unwrap();
    let (_, a) = h.segments[0].clone();
    let (_, b) = h.segments[1].clone();
    bucket.remove(&a.key);
    bucket.get_mut(&b.key).unwrap().push(0);
    bucket.insert("seg/00000000000000099999.evseg".into(), vec![1]);
    let r = check_listing(&h, &listing(&bucket));
    assert_eq!(
        r.problems,
        vec![
            ListingProblem::Missing {
                key: a.key.clone(),
                first_seq: a.first_seq,
                last_seq: a.last_seq
            },
            ListingProblem::Resized {
                key: b.key.clone(),
                first_seq: b.first_seq,
                expected: b.size,
                found: b.size + 1
            },
        ]
    );
    assert_eq!(r.extra, vec!["seg/00000000000000099999.evseg".to_string()]);
}

#[test]
fn retention_deletes_only_archived_verified_identical_segments_and_keeps_the_active_one() {
    let (disk, _t) = trail(300);
    let mut bucket = BTreeMap::new();
    round(&disk, &mut bucket).unwrap();
    let h = history(&bucket).unwrap();
    let local: Vec<LocalSegment> = local_firsts(&disk)
        .into_iter()
        .map(|f| {
            let bytes = disk.read_file(&naming::segment_name(f)).unwrap();
            LocalSegment {
                first_seq: f,
                sha256: Some(sha256_hex(bytes)),
                anchor: Some(SegmentHeader::decode(&bytes[..128]).unwrap().anchor),
            }
        })
        .collect();
    let n = local.len();
    assert!(n >= 5);
    // Everything verified, keep 2 sealed: all but the last 3 go.
    let p = plan_retention(&h, &local, 2, |_| true).unwrap();
    assert_eq!(
        p.delete,
        local[..n - 3]
            .iter()
            .map(|s| s.first_seq)
            .collect::<Vec<_>>()
    );
    assert_eq!(p.retained.seq + 1, local[n - 3].first_seq);
    assert_eq!(Some(p.retained.hash), local[n - 3].anchor);
    // keep 0: every sealed one, never the active one.
    let p = plan_retention(&h, &local, 0, |_| true).unwrap();
    assert_eq!(p.delete.len(), n - 1);
    // Not read back from the bucket: nothing.
    assert_eq!(plan_retention(&h, &local, 0, |_| false), None);
    // The second not verified: only the first goes.
    let second = local[1].first_seq;
    let p = plan_retention(&h, &local, 0, |s| s != second).unwrap();
    assert_eq!(p.delete, vec![local[0].first_seq]);
    // A local copy that differs from the archived one stops retention there.
    let mut changed = local.clone();
    changed[0].sha256 = Some("0".repeat(64));
    assert_eq!(plan_retention(&h, &changed, 0, |_| true), None);
    // Not in any manifest (a sealed segment archived by no round): kept.
    let empty = ArchiveHistory::empty(LOG);
    assert_eq!(plan_retention(&empty, &local, 0, |_| true), None);
}

#[test]
fn a_round_refuses_a_local_trail_that_does_not_continue_the_archive() {
    let (disk, _t) = trail(200);
    let mut bucket = BTreeMap::new();
    round(&disk, &mut bucket).unwrap();
    let h = history(&bucket).unwrap();
    // The local trail lost its segments up to past the archived head (no local copy, no
    // archived copy of the records between): a gap.
    let firsts = local_firsts(&disk);
    let far = vec![h.head.seq + 10, h.head.seq + 20, h.head.seq + 30];
    assert!(segments_to_upload(&h, &far).is_err());
    assert_eq!(segments_to_upload(&h, &firsts).unwrap(), Vec::<u64>::new());
}

#[test]
#[ignore = "prints the FORMAT.md example"]
fn print_example_manifest() {
    let (disk, _t) = trail(40);
    let mut bucket = BTreeMap::new();
    round(&disk, &mut bucket).unwrap();
    print!(
        "{}",
        String::from_utf8_lossy(&bucket[&keys::manifest_rel_key(1)])
    );
}
