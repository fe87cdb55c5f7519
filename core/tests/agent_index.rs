//! Agent queries through the sealed segments' agent indexes, checked against a brute-force
//! scan on generated trails (many segments, the unsealed last one, after a crash), and against
//! damaged, deleted and forged index files: an index changes what a query reads, never what it
//! answers.

use evident_core::agent_index::{self, AgentEntry, IndexHead, INDEX_EXT, INDEX_HEADER_LEN};
use evident_core::agent_rebuild::RebuildTask;
use evident_core::footer::{Footer, TRAILER_LEN};
use evident_core::query::{Found, QuerySpec};
use evident_core::sim::{drive, query, FakeDisk, Faults, SimRng};
use evident_core::{AuditEvent, EventBody, LogId, Options, Trail};
use proptest::prelude::*;

const AGENTS: u64 = 12;

/// A payload for record `i`: mostly events of a few busy agents (Zipf-like), some raw bytes,
/// some JSON with an agent id that is not an event (the index files it, the query drops it).
fn payload(rng: &mut SimRng, i: u64) -> Vec<u8> {
    let roll = rng.below(100);
    if roll < 8 {
        let n = 1 + rng.below(60) as usize;
        return rng.bytes(n);
    }
    // Agent k with weight ~ 1/(k+1).
    let mut k = 0;
    while k + 1 < AGENTS && rng.chance(0.55) {
        k += 1;
    }
    let agent = format!("agent-{k}");
    if roll < 12 {
        return format!(r#"{{"gen_ai.agent.id":"{agent}","note":{i}}}"#).into_bytes();
    }
    AuditEvent {
        agent_id: agent,
        correlation_id: format!("c{i}"),
        body: EventBody::Custom {
            name: "x".repeat(rng.below(300) as usize),
            data: serde_json::Value::Null,
        },
    }
    .to_json()
}

fn opts(segment_bytes: u64) -> Options {
    Options {
        segment_bytes,
        ..Options::default()
    }
}

/// A trail of about `n` records; with `crash`, the writer is crashed half way (unsynced data
/// dropped) and the trail reopened and appended to. Returns the disk and whether it is closed.
fn build(seed: u64, n: u64, segment_bytes: u64, crash: bool) -> FakeDisk {
    let mut rng = SimRng::new(seed);
    let mut disk = FakeDisk::new(seed, Faults::default());
    let mut t = Trail::open(opts(segment_bytes), LogId([5; 16]), 1);
    let mut ts = 1_000_000u64;
    for i in 0..n {
        if crash && i == n / 2 {
            drive(&mut t, &mut disk, 1_000_000);
            disk.power_loss();
            t = Trail::open(opts(segment_bytes), LogId([5; 16]), ts);
            drive(&mut t, &mut disk, 1_000_000);
        }
        ts += rng.below(3) * 1000;
        let p = payload(&mut rng, i);
        t.handle_append(i, p, ts).unwrap();
        if rng.chance(0.2) {
            drive(&mut t, &mut disk, 1_000_000);
        }
    }
    if rng.chance(0.5) {
        t.handle_close();
    }
    drive(&mut t, &mut disk, 1_000_000);
    disk
}

/// The answer by brute force: every record, filtered as the spec says.
fn brute(all: &[Found], spec: &QuerySpec) -> Vec<u64> {
    let mut v: Vec<u64> = all
        .iter()
        .filter(|f| {
            spec.from_seq.is_none_or(|s| f.seq >= s)
                && spec.to_seq.is_none_or(|s| f.seq <= s)
                && spec.since.is_none_or(|s| f.ts >= s)
                && spec.until.is_none_or(|s| f.ts < s)
                && AuditEvent::from_json(&f.payload)
                    .is_ok_and(|e| Some(&e.agent_id) == spec.agent.as_ref())
        })
        .map(|f| f.seq)
        .collect();
    if let Some(l) = spec.limit {
        v.truncate(l);
    }
    v
}

fn specs(all: &[Found], rng: &mut SimRng, n: usize) -> Vec<QuerySpec> {
    let max_seq = all.last().map_or(1, |f| f.seq);
    let (t0, t1) = (all[0].ts, all.last().unwrap().ts);
    (0..n)
        .map(|_| {
            let ts = |rng: &mut SimRng| t0 + rng.below(t1 - t0 + 2000);
            QuerySpec {
                agent: Some(format!("agent-{}", rng.below(AGENTS + 1))),
                from_seq: rng.chance(0.3).then(|| rng.below(max_seq + 2)),
                to_seq: rng.chance(0.3).then(|| rng.below(max_seq + 2)),
                since: rng.chance(0.5).then(|| ts(rng)),
                until: rng.chance(0.5).then(|| ts(rng)),
                limit: rng.chance(0.4).then(|| rng.below(20) as usize),
                ..QuerySpec::default()
            }
        })
        .collect()
}

fn check_answers(disk: &mut FakeDisk, all: &[Found], specs: &[QuerySpec]) {
    for spec in specs {
        let got = query(disk, spec.clone()).unwrap();
        let seqs: Vec<u64> = got.records.iter().map(|f| f.seq).collect();
        assert_eq!(seqs, brute(all, spec), "{spec:?}");
        for f in &got.records {
            let want = &all[(f.seq - all[0].seq) as usize];
            assert_eq!(
                (f.ts, f.hash, &f.payload),
                (want.ts, want.hash, &want.payload)
            );
        }
    }
}

fn index_files(disk: &FakeDisk) -> Vec<String> {
    let mut v: Vec<String> = disk
        .file_names()
        .into_iter()
        .filter(|n| n.ends_with(INDEX_EXT))
        .collect();
    v.sort();
    v
}

fn segment_of(index: &str) -> String {
    format!("{}.evseg", index.strip_suffix(INDEX_EXT).unwrap())
}

fn footer_of(disk: &FakeDisk, segment: &str) -> Footer {
    let d = disk.read_file(segment).unwrap();
    let off = Footer::trailer_offset(&d[d.len() - TRAILER_LEN..], d.len() as u64).unwrap();
    Footer::decode(&d[off as usize..]).unwrap()
}

/// What an index describes: its segment's footer, or for the live segment's index (which has
/// none) the records the index covers, as its header says.
fn described_by(disk: &FakeDisk, index: &[u8]) -> Footer {
    let h = IndexHead::decode(index).unwrap();
    let segment = evident_core::naming::segment_name(h.first_seq);
    let d = disk.read_file(&segment).unwrap();
    if h.last_len == 0 {
        return footer_of(disk, &segment);
    }
    assert!(h.footer_offset <= d.len() as u64);
    Footer {
        count: h.count,
        first_seq: h.first_seq,
        last_seq: h.last_seq,
        last_hash: h.last_hash,
        first_ts: h.first_ts,
        last_ts: h.last_ts,
        index_stride: 0,
        index: Vec::new(),
        edge: Vec::new(),
        offset: h.footer_offset,
    }
}

/// An index with `agents` and `unfiled` for what `original` described (a live index keeps its
/// last record's frame length, which is outside the checksum).
fn forge(
    disk: &FakeDisk,
    original: &[u8],
    agents: &[(String, Vec<AgentEntry>)],
    unfiled: u64,
) -> Vec<u8> {
    let footer = described_by(disk, original);
    let mut bytes = agent_index::encode(
        &footer,
        unfiled,
        agents.iter().map(|(n, e)| (n.as_str(), e.clone())),
    );
    bytes[116..120].copy_from_slice(&original[116..120]);
    bytes
}

/// The index's contents: (agent, entries) in name order, and the unfiled count.
fn decode(bytes: &[u8]) -> (Vec<(String, Vec<AgentEntry>)>, u64) {
    let h = IndexHead::decode(bytes).unwrap();
    let table_end = INDEX_HEADER_LEN + h.table_len as usize;
    let rows = h.table(bytes, &bytes[INDEX_HEADER_LEN..table_end]).unwrap();
    let agents = rows
        .into_iter()
        .map(|(name, row)| {
            let at = row.list_offset as usize;
            let list = &bytes[at..at + row.list_len as usize];
            (name, h.entries(&row, list).unwrap())
        })
        .collect();
    (agents, h.unindexed)
}

fn rebuild(disk: &mut FakeDisk, segment: &str) -> bool {
    let len = disk.read_file(segment).unwrap().len() as u64;
    let mut task = RebuildTask::new(segment, len, 64 * 1024);
    while let Some(op) = task.poll_io() {
        let r = disk.perform(&op);
        task.handle_io(&op, r);
    }
    task.written()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn agent_queries_match_a_brute_force_scan(
        seed in 0u64..10_000,
        seg_kb in prop_oneof![Just(4u64), Just(16), Just(1024)],
        crash in any::<bool>(),
    ) {
        let mut disk = build(seed, 600, seg_kb * 1024, crash);
        let all = query(&mut disk, QuerySpec::default()).unwrap().records;
        let segments = disk.file_names().iter().filter(|n| n.ends_with(".evseg")).count();
        if !crash {
            // Every sealed segment has its index (the last one is being written).
            prop_assert!(index_files(&disk).len() + 1 >= segments);
        }
        let mut rng = SimRng::new(seed ^ 0x5eed);
        let specs = specs(&all, &mut rng, 40);
        check_answers(&mut disk, &all, &specs);
    }

    #[test]
    fn damaged_deleted_or_forged_indexes_never_change_an_answer(
        seed in 0u64..10_000,
        damage in proptest::collection::vec((0u8..6, any::<u64>()), 1..6),
    ) {
        let mut disk = build(seed, 500, 4096, false);
        let all = query(&mut disk, QuerySpec::default()).unwrap().records;
        let files = index_files(&disk);
        prop_assume!(files.len() >= 2);
        let mut rng = SimRng::new(seed ^ 0xda);
        let specs = specs(&all, &mut rng, 30);
        let originals: Vec<(String, Vec<u8>)> =
            files.iter().map(|f| (f.clone(), disk.read_file(f).unwrap().to_vec())).collect();
        for (kind, pick) in damage {
            let (name, bytes) = &originals[(pick % originals.len() as u64) as usize];
            let (mut agents, unfiled) = decode(bytes);
            match kind {
                0 => disk.delete_file(name),
                1 => {
                    let bit = pick % (bytes.len() as u64 * 8);
                    disk.flip_bit(name, bit);
                }
                2 => disk.write_file(name, bytes[..(pick % bytes.len() as u64) as usize].to_vec()),
                3 => {
                    // Hide a record: drop an entry (checksums recomputed).
                    let a = (pick % agents.len() as u64) as usize;
                    agents[a].1.remove(0);
                    agents.retain(|(_, e)| !e.is_empty());
                    let forged = forge(&disk, bytes, &agents, unfiled);
                    disk.write_file(name, forged);
                }
                4 => {
                    // Point one agent's entry at another agent's record (counts kept).
                    prop_assume!(agents.len() >= 2);
                    let a = (pick % agents.len() as u64) as usize;
                    let b = (a + 1) % agents.len();
                    let stolen = agents[a].1[0];
                    agents[b].1[0] = stolen;
                    agents[b].1.sort_by_key(|e| e.seq);
                    let forged = forge(&disk, bytes, &agents, unfiled);
                    disk.write_file(name, forged);
                }
                _ => {
                    // An entry that points inside another frame.
                    let a = (pick % agents.len() as u64) as usize;
                    agents[a].1[0].offset += 8;
                    let forged = forge(&disk, bytes, &agents, unfiled);
                    disk.write_file(name, forged);
                }
            }
        }
        check_answers(&mut disk, &all, &specs);
        // Rebuilt from the segments, every index is the one the writer wrote.
        for (name, bytes) in &originals {
            if IndexHead::decode(bytes).unwrap().last_len != 0 {
                // The live segment's index is the writer's to write again, not a reader's.
                continue;
            }
            if disk.read_file(name) != Some(bytes.as_slice()) {
                prop_assert!(rebuild(&mut disk, &segment_of(name)), "{} rebuilt", name);
            }
            prop_assert_eq!(disk.read_file(name), Some(bytes.as_slice()), "{}", name);
        }
        check_answers(&mut disk, &all, &specs);
    }
}

#[test]
fn a_rare_agent_reads_its_records_not_the_trail() {
    let mut rng = SimRng::new(7);
    let mut disk = FakeDisk::new(7, Faults::default());
    let mut t = Trail::open(opts(16 * 1024), LogId([5; 16]), 1);
    for i in 0..4000u64 {
        let agent = if i % 1000 == 500 {
            "rare".to_string()
        } else {
            format!("busy-{}", i % 3)
        };
        let ev = AuditEvent {
            agent_id: agent,
            correlation_id: format!("c{i}"),
            body: EventBody::Custom {
                name: "y".repeat(rng.below(200) as usize),
                data: serde_json::Value::Null,
            },
        };
        t.handle_append(i, ev.to_json(), 1_000 + i).unwrap();
        if i % 50 == 0 {
            drive(&mut t, &mut disk, 1_000_000);
        }
    }
    t.handle_close();
    drive(&mut t, &mut disk, 1_000_000);
    let full = query(&mut disk, QuerySpec::default()).unwrap();
    let spec = QuerySpec {
        agent: Some("rare".into()),
        ..QuerySpec::default()
    };
    let rare = query(&mut disk, spec.clone()).unwrap();
    assert_eq!(
        rare.records.iter().map(|f| f.seq).collect::<Vec<_>>(),
        brute(&full.records, &spec)
    );
    assert_eq!(rare.records.len(), 4);
    assert!(
        rare.records.iter().all(|f| f.prev_hash.is_some()),
        "chain checked from the record before"
    );
    assert!(
        rare.bytes_read * 4 < full.bytes_read,
        "agent query read {} bytes, a full scan {}",
        rare.bytes_read,
        full.bytes_read
    );
    // Absent: answered from the indexes (and the last segment's scan).
    let absent = QuerySpec {
        agent: Some("nobody".into()),
        limit: Some(1),
        ..QuerySpec::default()
    };
    let r = query(&mut disk, absent).unwrap();
    assert!(r.records.is_empty());
    assert!(
        r.bytes_read * 4 < full.bytes_read,
        "exists read {} bytes",
        r.bytes_read
    );
}

#[test]
fn the_index_file_layout_matches_format_md() {
    // FORMAT.md "Agent index": one segment [1, 3] whose records are agent "a" (seq 1, 3) and a
    // raw payload (seq 2).
    let footer = Footer {
        count: 3,
        first_seq: 1,
        last_seq: 3,
        last_hash: evident_core::Hash([0xab; 32]),
        first_ts: 1000,
        last_ts: 1300,
        index_stride: 65536,
        index: Vec::new(),
        edge: Vec::new(),
        offset: 440,
    };
    let entries = vec![
        AgentEntry {
            seq: 1,
            ts: 1000,
            offset: 128,
            len: 104,
            prev_len: 0,
        },
        AgentEntry {
            seq: 3,
            ts: 1300,
            offset: 312,
            len: 128,
            prev_len: 80,
        },
    ];
    let bytes = agent_index::encode(&footer, 1, std::iter::once(("a", entries.clone())));
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, include_str!("format_vectors/agent_index.hex").trim());
    let (agents, unfiled) = decode(&bytes);
    assert_eq!(agents, vec![("a".to_string(), entries)]);
    assert_eq!(unfiled, 1);
}

/// A closed trail of `n` records from `from` on, in one 1 MiB segment (the live one), on
/// `disk`: its live index, written at close, covers every record.
fn append_closed(disk: &mut FakeDisk, seed: u64, from: u64, n: u64) {
    let mut rng = SimRng::new(seed);
    let mut t = Trail::open(opts(1 << 20), LogId([5; 16]), 1);
    drive(&mut t, disk, 1_000_000);
    for i in from..from + n {
        let p = payload(&mut rng, i);
        t.handle_append(i, p, 1_000 + i).unwrap();
        if i % 64 == 0 {
            drive(&mut t, disk, 1_000_000);
        }
    }
    t.handle_close();
    drive(&mut t, disk, 1_000_000);
}

#[test]
fn the_live_segment_is_read_through_its_index_and_a_stale_one_never_changes_an_answer() {
    let mut disk = FakeDisk::new(3, Faults::default());
    append_closed(&mut disk, 3, 0, 3000);
    let files = index_files(&disk);
    assert_eq!(files.len(), 1, "the live segment's index, written at close");
    let live = files[0].clone();
    let first_index = disk.read_file(&live).unwrap().to_vec();
    assert_ne!(IndexHead::decode(&first_index).unwrap().last_len, 0);
    let all = query(&mut disk, QuerySpec::default()).unwrap();
    let rare = format!("agent-{}", AGENTS - 1);
    let mut rng = SimRng::new(33);
    let mut specs = specs(&all.records, &mut rng, 30);
    specs.push(QuerySpec {
        agent: Some(rare.clone()),
        ..QuerySpec::default()
    });
    check_answers(&mut disk, &all.records, &specs);
    for agent in [rare.as_str(), "nobody"] {
        let spec = QuerySpec {
            agent: Some(agent.into()),
            limit: Some(1),
            ..QuerySpec::default()
        };
        let r = query(&mut disk, spec).unwrap();
        assert!(
            r.bytes_read * 5 < all.bytes_read,
            "{agent}: read {} of {} bytes",
            r.bytes_read,
            all.bytes_read
        );
    }

    // Reopened and appended to: an older live index covers a prefix, the rest is scanned.
    append_closed(&mut disk, 4, 3000, 400);
    disk.write_file(&live, first_index.clone());
    let all = query(&mut disk, QuerySpec::default()).unwrap();
    check_answers(&mut disk, &all.records, &specs);

    // A live index of another history of the same log (the segment rewritten after a crash,
    // say): its last record is not in this segment, so the segment is scanned.
    let mut other = FakeDisk::new(5, Faults::default());
    append_closed(&mut other, 99, 0, 2500);
    other.write_file(&live, first_index.clone());
    let all = query(&mut other, QuerySpec::default()).unwrap();
    check_answers(&mut other, &all.records, &specs);

    // A wrong frame length of the last record (outside the checksum) changes nothing either.
    let mut bytes = first_index;
    bytes[116] ^= 0x08;
    disk.write_file(&live, bytes);
    let all = query(&mut disk, QuerySpec::default()).unwrap();
    check_answers(&mut disk, &all.records, &specs);
}

/// The index files a record under `agent_of`, and an agent query takes the agent of an event
/// from its full decoding: the two must agree on every payload that decodes as an event, or a
/// query would miss (or reject) records the index filed. Key order, escapes, nesting,
/// duplicates and surrounding whitespace, each decided one way or the other.
#[test]
fn agent_of_gives_every_events_own_agent() {
    let payloads: Vec<Vec<u8>> = vec![
        br#"{"gen_ai.agent.id":"a","correlation.id":"c","kind":"exec.started","pid":1}"#.to_vec(),
        br#"{"kind":"exec.started","pid":1,"correlation.id":"c","gen_ai.agent.id":"a"}"#.to_vec(),
        br#"{"gen_ai.agent.id":"a\"b\\\u00e9","correlation.id":"c","kind":"exec.started","pid":1}"#
            .to_vec(),
        br#"{"gen_ai.agent.id":"a","correlation.id":"c","kind":"custom","name":"n","data":{"gen_ai.agent.id":"b"}}"#
            .to_vec(),
        br#"{"data":{"gen_ai.agent.id":"b"},"kind":"custom","name":"n","correlation.id":"c","gen_ai.agent.id":"a"}"#
            .to_vec(),
        br#"{"gen_ai.agent.id":"a","gen_ai.agent.id":"b","correlation.id":"c","kind":"exec.started","pid":1}"#
            .to_vec(),
        br#"  {"gen_ai.agent.id" : "a" , "correlation.id":"c","kind":"exec.started","pid":1}  "#
            .to_vec(),
        br#"{"gen_ai.agent.id":"a","correlation.id":"c","kind":"exec.started","pid":1} x"#.to_vec(),
        br#"{"gen_ai.agent.id":"a","correlation.id":"c","kind":"no.such.kind"}"#.to_vec(),
        br#"{"gen_ai.agent.id":"a","note":1}"#.to_vec(),
    ];
    let mut events = 0;
    for p in &payloads {
        if let Ok(e) = AuditEvent::from_json(p) {
            events += 1;
            assert_eq!(
                agent_index::agent_of(p).as_deref(),
                Some(e.agent_id.as_str()),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
    }
    // Not vacuous: most of them are events.
    assert!(events >= 5, "{events} events");
    // A JSON object with the field but no event is still filed (the query drops it).
    assert_eq!(
        agent_index::agent_of(br#"{"gen_ai.agent.id":"a","note":1}"#).as_deref(),
        Some("a")
    );
}
