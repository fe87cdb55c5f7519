//! Queries checked against a brute-force scan on generated trails spanning many segments, and
//! their cost: a time-range query reads only the segments its answer is in (plus the footers of
//! a binary search), not the whole trail.

use evident_core::hash::Hash;
use evident_core::query::{Found, QuerySpec};
use evident_core::sim::{drive, query, FakeDisk, Faults, SimRng};
use evident_core::{AuditEvent, EventBody, LogId, Options, Trail};
use proptest::prelude::*;

struct Rec {
    seq: u64,
    ts: u64,
    agent: String,
    hash: Hash,
    payload: Vec<u8>,
}

/// A closed trail of `n` events from 5 agents with non-decreasing timestamps (with repeats).
fn build(seed: u64, n: u64, segment_bytes: u64) -> (FakeDisk, Vec<Rec>) {
    let mut rng = SimRng::new(seed);
    let mut disk = FakeDisk::new(seed, Faults::default());
    let mut t = Trail::open(
        Options {
            segment_bytes,
            ..Options::default()
        },
        LogId([9; 16]),
        1,
    );
    let mut ts = 1_000_000u64;
    let mut pending = Vec::new();
    for i in 0..n {
        ts += rng.below(3) * 1000; // repeats allowed
        let agent = format!("agent-{}", rng.below(5));
        let pad = "x".repeat(rng.below(1200) as usize);
        let ev = AuditEvent {
            agent_id: agent.clone(),
            correlation_id: format!("c{i}"),
            body: EventBody::Custom {
                name: pad,
                data: serde_json::Value::Null,
            },
        };
        let payload = ev.to_json();
        t.handle_append(i, payload.clone(), ts).unwrap();
        pending.push((i, ts, agent, payload));
        if rng.chance(0.2) {
            drive(&mut t, &mut disk, 1_000_000);
        }
    }
    t.handle_close();
    let (events, _) = drive(&mut t, &mut disk, 1_000_000);
    let mut receipts = std::collections::HashMap::new();
    for e in events {
        if let evident_core::Event::Appended { token, receipt } = e {
            receipts.insert(token, receipt);
        }
    }
    // Receipts from earlier drives were consumed there; rebuild from the trail itself instead.
    let all = query(&mut disk, QuerySpec::default()).unwrap().records;
    assert_eq!(all.len() as u64, n);
    let recs = pending
        .into_iter()
        .zip(all)
        .map(|((_, ts, agent, payload), f)| {
            assert_eq!(f.payload, payload);
            assert_eq!(f.ts, ts);
            Rec {
                seq: f.seq,
                ts,
                agent,
                hash: f.hash,
                payload,
            }
        })
        .collect();
    (disk, recs)
}

fn brute(recs: &[Rec], s: &QuerySpec) -> Vec<u64> {
    let m: Vec<u64> = recs
        .iter()
        .filter(|r| s.from_seq.is_none_or(|f| r.seq >= f))
        .filter(|r| s.to_seq.is_none_or(|t| r.seq <= t))
        .filter(|r| s.since.is_none_or(|v| r.ts >= v))
        .filter(|r| s.until.is_none_or(|u| r.ts < u))
        .filter(|r| s.agent.as_ref().is_none_or(|a| &r.agent == a))
        .map(|r| r.seq)
        .collect();
    match (s.limit, s.newest) {
        (Some(l), true) => m[m.len().saturating_sub(l)..].to_vec(),
        (Some(l), false) => m.into_iter().take(l).collect(),
        (None, _) => m,
    }
}

fn check(recs: &[Rec], found: &[Found]) {
    for f in found {
        let r = &recs[f.seq as usize - 1];
        assert_eq!(
            (f.ts, &f.hash, &f.payload),
            (r.ts, &r.hash, &r.payload),
            "record {}",
            f.seq
        );
        if let Some(prev) = f.prev_hash {
            let expect = if f.seq == 1 {
                None
            } else {
                Some(recs[f.seq as usize - 2].hash)
            };
            if let Some(e) = expect {
                assert_eq!(prev, e, "prev hash of {}", f.seq);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn queries_match_a_brute_force_scan(
        seed in 0u64..1000,
        seg_kb in prop_oneof![Just(8u64), Just(64), Just(300)],
        specs in proptest::collection::vec((any::<[u16; 6]>(), 0u8..32), 12),
    ) {
        let (mut disk, recs) = build(seed, 1500, seg_kb * 1024);
        let max_ts = recs.last().unwrap().ts;
        for (v, flags) in specs {
            let pick = |x: u16, bit: u8, max: u64| (flags & (1 << bit) != 0).then(|| x as u64 % (max + 2));
            let spec = QuerySpec {
                from_seq: pick(v[0], 0, 1500),
                to_seq: pick(v[1], 1, 1500),
                since: pick(v[2], 2, 0).map(|_| 1_000_000 + (v[2] as u64 * 997) % (max_ts - 1_000_000 + 2000)),
                until: pick(v[3], 3, 0).map(|_| 1_000_000 + (v[3] as u64 * 991) % (max_ts - 1_000_000 + 2000)),
                agent: (flags & 16 != 0).then(|| format!("agent-{}", v[4] % 6)),
                limit: (v[5] % 3 != 0).then_some(v[5] as usize % 200),
                newest: v[5] % 2 == 0,
                resume_at: None,
            };
            let got = query(&mut disk, spec.clone()).unwrap();
            let seqs: Vec<u64> = got.records.iter().map(|f| f.seq).collect();
            prop_assert_eq!(&seqs, &brute(&recs, &spec), "{:?}", spec);
            check(&recs, &got.records);
            if let Some(h) = got.head {
                prop_assert!(h.seq <= 1500);
                prop_assert_eq!(h.hash, recs[h.seq as usize - 1].hash);
            }
        }
    }
}

#[test]
fn a_time_range_reads_only_the_segments_it_returns() {
    let (mut disk, recs) = build(7, 6000, 16 * 1024);
    let segments = disk
        .file_names()
        .iter()
        .filter(|n| n.ends_with(".evseg"))
        .count();
    assert!(segments > 100, "{segments} segments");
    let mid = recs[3000].ts;
    let spec = QuerySpec {
        since: Some(mid),
        until: Some(mid + 5_000),
        ..QuerySpec::default()
    };
    let got = query(&mut disk, spec.clone()).unwrap();
    assert_eq!(
        got.records.iter().map(|f| f.seq).collect::<Vec<_>>(),
        brute(&recs, &spec)
    );
    assert!(!got.records.is_empty());
    // The answer spans a few segments; reading it must not touch most of the trail.
    assert!(
        got.segments_read <= 6,
        "read {} of {segments} segments",
        got.segments_read
    );
    let full = query(&mut disk, QuerySpec::default()).unwrap();
    assert!(
        got.bytes_read * 20 < full.bytes_read,
        "{} vs {} bytes",
        got.bytes_read,
        full.bytes_read
    );
    // The N most recent read from the end only.
    let newest = query(
        &mut disk,
        QuerySpec {
            limit: Some(10),
            newest: true,
            ..QuerySpec::default()
        },
    )
    .unwrap();
    assert_eq!(
        newest.records.iter().map(|f| f.seq).collect::<Vec<_>>(),
        (5991..=6000).collect::<Vec<_>>()
    );
    assert!(newest.segments_read <= 2);
    assert_eq!(newest.head.unwrap().seq, 6000);
}

#[test]
fn agent_existence_stops_at_the_first_match() {
    let (mut disk, recs) = build(11, 2000, 16 * 1024);
    let first = recs.iter().find(|r| r.agent == "agent-3").unwrap().seq;
    let spec = QuerySpec {
        agent: Some("agent-3".into()),
        limit: Some(1),
        ..QuerySpec::default()
    };
    let got = query(&mut disk, spec).unwrap();
    assert_eq!(got.records[0].seq, first);
    let none = query(
        &mut disk,
        QuerySpec {
            agent: Some("nobody".into()),
            limit: Some(1),
            ..QuerySpec::default()
        },
    )
    .unwrap();
    assert!(none.records.is_empty());
}

/// Pages through `spec` with pages of `page` records, each resuming where the last stopped;
/// returns the records and the bytes read.
fn paged(disk: &mut FakeDisk, spec: &QuerySpec, page: usize, resume: bool) -> (Vec<Found>, u64) {
    let mut spec = QuerySpec {
        limit: Some(page),
        ..spec.clone()
    };
    let (mut out, mut bytes) = (Vec::new(), 0);
    loop {
        let got = query(disk, spec.clone()).unwrap();
        bytes += got.bytes_read;
        let n = got.records.len();
        if let (Some(last), Some(r)) = (got.records.last(), got.resume) {
            // The resume point is at or after the last record returned.
            assert!(r.after.seq >= last.seq);
        }
        out.extend(got.records);
        if n < page {
            return (out, bytes);
        }
        if resume {
            spec.resume_at = got.resume;
        } else {
            spec.from_seq = Some(out.last().unwrap().seq + 1);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn resumed_pages_concatenate_to_the_unpaged_answer(
        seed in 0u64..1000,
        seg_kb in prop_oneof![Just(8u64), Just(64), Just(2048)],
        specs in proptest::collection::vec((any::<[u16; 5]>(), 0u8..32, 1usize..60), 6),
    ) {
        // 2 MiB segments hold the whole trail: every page but the first resumes inside the
        // unsealed last segment. Smaller ones make pages cross sealed segments' ends.
        let (mut disk, recs) = build(seed, 1200, seg_kb * 1024);
        let max_ts = recs.last().unwrap().ts;
        for (v, flags, page) in specs {
            let pick = |x: u16, bit: u8, max: u64| (flags & (1 << bit) != 0).then(|| x as u64 % (max + 2));
            let spec = QuerySpec {
                from_seq: pick(v[0], 0, 1200),
                to_seq: pick(v[1], 1, 1200),
                since: pick(v[2], 2, 0).map(|_| 1_000_000 + (v[2] as u64 * 997) % (max_ts - 1_000_000 + 2000)),
                until: pick(v[3], 3, 0).map(|_| 1_000_000 + (v[3] as u64 * 991) % (max_ts - 1_000_000 + 2000)),
                agent: (flags & 16 != 0).then(|| format!("agent-{}", v[4] % 6)),
                ..QuerySpec::default()
            };
            let whole = query(&mut disk, spec.clone()).unwrap().records;
            let (pages, _) = paged(&mut disk, &spec, page, true);
            let seqs = |f: &[Found]| f.iter().map(|f| f.seq).collect::<Vec<_>>();
            prop_assert_eq!(seqs(&pages), seqs(&whole), "{:?} in pages of {}", spec, page);
            prop_assert_eq!(seqs(&pages), brute(&recs, &spec));
            check(&recs, &pages);
            // A resumed page read the record before its first one again: every record after the
            // first page has its predecessor's hash.
            for f in pages.iter().skip(page) {
                prop_assert!(f.prev_hash.is_some(), "seq {} has no prev_hash", f.seq);
            }
        }
    }
}

#[test]
fn paging_with_resume_reads_the_trail_about_once() {
    // One segment, unsealed (no index): a page located by `from_seq` rescans it from the
    // header, so paging by seq is quadratic; resuming reads each byte about once.
    let (mut disk, recs) = build(3, 6000, 8 << 20);
    let segments = disk
        .file_names()
        .into_iter()
        .filter(|n| n.ends_with(".evseg"))
        .collect::<Vec<_>>();
    assert_eq!(segments.len(), 1);
    let full = query(&mut disk, QuerySpec::default()).unwrap();
    assert_eq!(full.records.len(), 6000);
    let spec = QuerySpec::default();
    let (pages, resumed) = paged(&mut disk, &spec, 200, true);
    assert_eq!(pages, full.records);
    assert!(
        resumed * 10 <= full.bytes_read * 12,
        "paging with resume read {resumed} bytes, one full scan {}",
        full.bytes_read
    );
    let (by_seq, rescanned) = paged(&mut disk, &spec, 200, false);
    assert_eq!(by_seq.len(), recs.len());
    assert!(
        rescanned > 5 * full.bytes_read,
        "paging by seq read {rescanned} bytes, one full scan {}",
        full.bytes_read
    );
    // The last page's position is the head: polling from it finds nothing new, cheaply.
    let tail = query(
        &mut disk,
        QuerySpec {
            resume_at: full.resume,
            ..QuerySpec::default()
        },
    )
    .unwrap();
    assert!(tail.records.is_empty());
    assert_eq!(full.resume.unwrap().after.seq, 6000);
    assert_eq!(tail.resume, full.resume);
    assert!(tail.bytes_read < 300 * 1024, "{}", tail.bytes_read);
}

#[test]
fn a_resume_point_that_does_not_match_the_trail_is_refused_or_relocated() {
    use evident_core::Error;
    let (mut disk, recs) = build(5, 1500, 16 * 1024);
    let page = query(
        &mut disk,
        QuerySpec {
            limit: Some(700),
            ..QuerySpec::default()
        },
    )
    .unwrap();
    let r = page.resume.unwrap();
    assert_eq!(r.after.seq, 700);
    let with = |disk: &mut FakeDisk, r| {
        query(
            disk,
            QuerySpec {
                resume_at: Some(r),
                ..QuerySpec::default()
            },
        )
    };
    let rest: Vec<u64> = (701..=1500).collect();
    let ok = with(&mut disk, r).unwrap();
    assert_eq!(ok.records.iter().map(|f| f.seq).collect::<Vec<_>>(), rest);
    // Another hash, another seq, an offset inside the frame, past the file: refused.
    let mut bad_hash = r;
    bad_hash.after.hash = recs[10].hash;
    let mut bad_seq = r;
    bad_seq.after.seq += 1;
    let mut inside = r;
    inside.offset += 8;
    let mut past = r;
    past.offset = 1 << 40;
    for bad in [bad_hash, bad_seq, inside, past] {
        match with(&mut disk, bad) {
            Err(Error::CheckpointMismatch { checkpoint, what }) => {
                assert_eq!(checkpoint, bad.after);
                assert!(what.contains("resume point"), "{what}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // A segment that is gone (retention): located by seq instead, same answer.
    let mut gone = r;
    gone.segment = 999_999;
    let relocated = with(&mut disk, gone).unwrap();
    assert_eq!(relocated.records, ok.records);
}
