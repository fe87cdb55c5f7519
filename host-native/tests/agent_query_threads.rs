//! A forward agent query without a limit is answered by several threads, each taking a group
//! of segments: on 2, 3 and 8 threads it must give exactly what one thread gives (records,
//! head, resume point, bytes and segments read, or the same error), over whole trails and cut
//! ranges, with indexes deleted, damaged or forged, and with a damaged record.

mod common;

use common::{build_batches, segments, temp_trail};
use evident_native::core::query::QuerySpec;
use evident_native::core::{AuditEvent, EventBody};
use evident_native::query::query_with;
use std::hash::Hasher;
use std::path::Path;

/// Records of four agents (skewed), one rare agent, a few non-event payloads that name an
/// agent (the index files them, the query drops them), in 16 KiB segments.
fn trail(dir: &Path) -> Vec<u64> {
    build_batches(dir, 16 << 10, 30, |i| {
        if i % 97 == 5 {
            return format!(r#"{{"gen_ai.agent.id":"agent-1","note":{i}}}"#).into_bytes();
        }
        let agent = match i {
            _ if i % 701 == 300 => "rare".to_string(),
            _ => format!("agent-{}", ((i * 7 + i / 13) % 9).min(3)),
        };
        AuditEvent {
            agent_id: agent,
            correlation_id: format!("c{i}"),
            body: EventBody::Custom {
                name: "n".repeat((i % 50) as usize),
                data: serde_json::Value::Null,
            },
        }
        .to_json()
    })
}

/// The queries asked, each as one line (the agent's records hashed, head, resume, segments
/// read; or the error) and the bytes it read, and whether it has an end of time (`until`).
fn answers(dir: &Path, threads: usize, ts: &[u64]) -> Vec<(String, u64, bool)> {
    let agent = |a: &str| QuerySpec {
        agent: Some(a.into()),
        ..QuerySpec::default()
    };
    let specs = [
        agent("agent-0"),
        agent("agent-1"),
        agent("rare"),
        agent("nobody"),
        QuerySpec {
            from_seq: Some(777),
            to_seq: Some(2222),
            ..agent("agent-2")
        },
        QuerySpec {
            to_seq: Some(20),
            ..agent("agent-3")
        },
        QuerySpec {
            since: Some(ts[7]),
            until: Some(ts[19]),
            ..agent("agent-0")
        },
        QuerySpec {
            from_seq: Some(2999),
            ..agent("agent-1")
        },
    ];
    specs
        .iter()
        .map(|spec| match query_with(dir, spec.clone(), threads) {
            Ok(r) => (
                {
                    let mut d = std::collections::hash_map::DefaultHasher::new();
                    for f in &r.records {
                        d.write_u64(f.seq);
                        d.write_u64(f.ts);
                        d.write(&f.hash.0);
                        d.write(&f.prev_hash.map_or([0; 32], |h| h.0));
                        d.write(&f.payload);
                    }
                    format!(
                        "{} records, digest {:x}, head {:?}, resume {:?}, {} segments",
                        r.records.len(),
                        d.finish(),
                        r.head,
                        r.resume,
                        r.segments_read
                    )
                },
                r.bytes_read,
                spec.until.is_some(),
            ),
            Err(e) => (format!("error {e}"), 0, spec.until.is_some()),
        })
        .collect()
}

/// [`answers`] on 2, 3 and 8 threads against 1 thread, each run after `damage()` (a query
/// rebuilds the indexes it found stale, so the damage is done again before each); returns the
/// one-thread answers. The bytes read are the same too.
fn agree(dir: &Path, ts: &[u64], damage: &dyn Fn()) -> Vec<(String, u64, bool)> {
    damage();
    let one = answers(dir, 1, ts);
    for threads in [2, 3, 8] {
        damage();
        for ((line, bytes, _), (line1, bytes1, _)) in answers(dir, threads, ts).iter().zip(&one) {
            assert_eq!(line, line1, "{threads} threads disagree");
            assert_eq!(bytes, bytes1, "{threads} threads read otherwise: {line}");
        }
    }
    one
}

fn lines(a: &[(String, u64, bool)]) -> Vec<&str> {
    a.iter().map(|(l, ..)| l.as_str()).collect()
}

#[test]
fn agent_queries_on_many_threads_answer_as_one_thread_does() {
    let (_tmp, dir) = temp_trail();
    let ts = trail(&dir);
    let segs = segments(&dir);
    assert!(segs.len() > 20, "{} segments", segs.len());
    let intact = agree(&dir, &ts, &|| {});
    assert!(
        lines(&intact).iter().all(|l| !l.starts_with("error")),
        "{intact:?}"
    );
    // Not vacuous: agent-1's records span the trail, and the non-events are left out.
    let spec = QuerySpec {
        agent: Some("agent-1".into()),
        ..QuerySpec::default()
    };
    let seqs: Vec<u64> = query_with(&dir, spec, 2)
        .unwrap()
        .records
        .iter()
        .map(|f| f.seq)
        .collect();
    assert!(seqs.len() > 300 && *seqs.last().unwrap() > 2900, "{seqs:?}");
    assert!(!seqs.contains(&6), "a non-event payload was returned");

    // A deleted index and a damaged one: those segments are scanned, answers unchanged.
    let index = |s: &str| dir.join(evident_native::core::agent_index::index_name(s));
    let (gone, hurt) = (index(&segs[3]), index(&segs[11]));
    // After the `until` of one query: one thread stops before it, the parts after must not
    // add what their scan reads. (Not the last segment's: a scanned segment's resume point is
    // the last record examined, so that answer would differ from the intact trail's.)
    let late = [index(&segs[segs.len() - 2])];
    assert!(late.iter().all(|p| p.exists()));
    let mut b = std::fs::read(&hurt).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x40;
    let damaged = agree(&dir, &ts, &|| {
        let _ = std::fs::remove_file(&gone);
        std::fs::write(&hurt, &b).unwrap();
        for p in &late {
            let _ = std::fs::remove_file(p);
        }
    });
    assert_eq!(lines(&damaged), lines(&intact));
    // The damage was seen: agent-0's query read more (it scanned the segments).
    assert!(
        damaged[0].1 > intact[0].1,
        "{} vs {} bytes",
        damaged[0].1,
        intact[0].1
    );

    // Two index files swapped: each is intact but describes another segment, which the query
    // must notice (core/tests/agent_index.rs forges entries within an index).
    let (a, b) = (index(&segs[5]), index(&segs[6]));
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let swapped = agree(&dir, &ts, &|| {
        std::fs::write(&a, &bb).unwrap();
        std::fs::write(&b, &ba).unwrap();
    });
    assert_eq!(lines(&swapped), lines(&intact));
    assert!(
        swapped[0].1 > intact[0].1,
        "{} vs {} bytes",
        swapped[0].1,
        intact[0].1
    );

    // A damaged record of agent-0 in a sealed segment: the same error, on any number of
    // threads.
    let first = |i: usize| evident_native::core::naming::parse_segment_name(&segs[i]).unwrap();
    let spec = QuerySpec {
        agent: Some("agent-0".into()),
        from_seq: Some(first(8)),
        to_seq: Some(first(9) - 1),
        ..QuerySpec::default()
    };
    let victim = query_with(&dir, spec, 1).unwrap().records[1].seq;
    let seg = dir.join(&segs[8]);
    let mut s = std::fs::read(&seg).unwrap();
    // Record `seq` has correlation id c{seq - 1}.
    let needle = format!("\"c{}\"", victim - 1);
    let at = s
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .expect("the record's correlation id");
    s[at + 1] = b'C';
    std::fs::write(&seg, &s).unwrap();
    let broken = agree(&dir, &ts, &|| {});
    assert!(
        lines(&broken).iter().any(|l| l.starts_with("error")),
        "the damage went unnoticed: {broken:?}"
    );
}
