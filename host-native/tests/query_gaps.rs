//! A segment file removed from the middle of a trail, or a segment whose anchor is not the
//! chain value the segment before it ends with: every query that reads both sides of that
//! place fails naming it (the next segment file, the seqs missing), instead of answering with
//! the records before and after the hole. Queries whose range lies wholly before or after it
//! still answer.

mod common;

use common::{build_batches, segments, temp_trail};
use evident_native::core::header::SegmentHeader;
use evident_native::core::naming::parse_segment_name;
use evident_native::core::query::QuerySpec;
use evident_native::core::{AuditEvent, EventBody};
use evident_native::query::{has_any_records, query_with};
use std::path::Path;

/// 2,000 events of agents a0..a3 in 16 KiB segments (about 22), a few ms apart per batch.
fn trail(dir: &Path) -> Vec<u64> {
    build_batches(dir, 16 << 10, 20, |i| {
        AuditEvent {
            agent_id: format!("a{}", i % 4),
            correlation_id: format!("c{i}"),
            body: EventBody::Custom {
                name: "step".into(),
                data: serde_json::Value::Null,
            },
        }
        .to_json()
    })
}

fn agent(a: &str) -> QuerySpec {
    QuerySpec {
        agent: Some(a.into()),
        ..QuerySpec::default()
    }
}

/// The queries that read across segment `hole` (removed or replaced), on 1 and 2 threads.
fn across(ts: &[u64], first_after: u64) -> Vec<QuerySpec> {
    vec![
        QuerySpec::default(),
        QuerySpec {
            since: Some(ts[1]),
            ..QuerySpec::default()
        },
        QuerySpec {
            newest: true,
            limit: Some(1_000_000),
            ..QuerySpec::default()
        },
        agent("a1"),
        QuerySpec {
            limit: Some(100_000),
            ..agent("a2")
        },
        QuerySpec {
            from_seq: Some(10),
            to_seq: Some(first_after + 5),
            ..agent("a3")
        },
    ]
}

fn expect_error(dir: &Path, spec: &QuerySpec, want: &[&str]) {
    for threads in [1, 2] {
        match query_with(dir, spec.clone(), threads) {
            Ok(r) => panic!(
                "{spec:?} on {threads} threads answered {} records around the damage",
                r.records.len()
            ),
            Err(e) => {
                let e = e.to_string();
                for w in want {
                    assert!(e.contains(w), "{spec:?}: {e:?} does not say {w:?}");
                }
            }
        }
    }
}

#[test]
fn a_removed_middle_segment_fails_every_query_across_it() {
    let (_tmp, dir) = temp_trail();
    let ts = trail(&dir);
    let segs = segments(&dir);
    assert!(segs.len() > 12, "{} segments", segs.len());
    let first = |i: usize| parse_segment_name(&segs[i]).unwrap();
    // Every query answers before the damage.
    for spec in across(&ts, first(9)) {
        query_with(&dir, spec, 2).unwrap();
    }
    std::fs::remove_file(dir.join(&segs[8])).unwrap();
    let missing = format!("records {}..={} are missing", first(8), first(9) - 1);
    for spec in across(&ts, first(9)) {
        expect_error(&dir, &spec, &[&segs[9], &missing]);
    }
    // `exists` reads on until it finds one record: a1's first is before the hole.
    assert!(has_any_records(&dir, "a1").unwrap());
    // Wholly before or after the hole: answered.
    let before = QuerySpec {
        to_seq: Some(first(7) + 3),
        ..agent("a1")
    };
    let after = QuerySpec {
        from_seq: Some(first(10)),
        ..agent("a1")
    };
    for spec in [before, after] {
        for threads in [1, 2] {
            let r = query_with(&dir, spec.clone(), threads).unwrap();
            assert!(!r.records.is_empty(), "{spec:?}");
        }
    }
}

#[test]
fn a_segment_that_does_not_chain_to_the_one_before_fails_every_query_across_it() {
    let (_tmp, dir) = temp_trail();
    let ts = trail(&dir);
    let segs = segments(&dir);
    let first = |i: usize| parse_segment_name(&segs[i]).unwrap();
    // Segment 9's header names another anchor (its CRC redone): its records chain from that
    // anchor no more, and the segment before does not end with it.
    let path = dir.join(&segs[9]);
    let mut bytes = std::fs::read(&path).unwrap();
    let mut h = SegmentHeader::decode(&bytes[..128]).unwrap();
    h.anchor.0[0] ^= 1;
    bytes[..128].copy_from_slice(&h.encode());
    std::fs::write(&path, &bytes).unwrap();
    for spec in across(&ts, first(9)) {
        // Either the link or, for a scan, the first record's chain step may be seen first; both
        // name segment 9.
        expect_error(&dir, &spec, &[&segs[9]]);
    }
    let link = query_with(&dir, agent("a1"), 1).unwrap_err().to_string();
    assert!(
        link.contains("segment anchor is not the previous segment's last hash"),
        "{link}"
    );
    // The same segment without its index: scanned instead, and its anchor still checked,
    // also when it is the last segment the query reads.
    std::fs::remove_file(dir.join(evident_native::core::agent_index::index_name(&segs[9])))
        .unwrap();
    let ends_there = QuerySpec {
        to_seq: Some(first(9) + 3),
        ..agent("a1")
    };
    for spec in [agent("a1"), ends_there] {
        for threads in [1, 2] {
            let e = query_with(&dir, spec.clone(), threads)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&segs[9]) && e.contains("segment anchor is not"),
                "{spec:?} on {threads} threads: {e}"
            );
        }
    }
}
