//! Agent indexes and retention, against a real S3 server (SeaweedFS started by the test):
//! retention removes the indexes of the segments it removes, an index left behind by an
//! interrupted retention is removed when the writer next opens the trail, and agent queries
//! after retention equal a brute-force scan of what is left.

mod seaweed;

use evident_native::archive;
use evident_native::core::agent_index::{parse_index_name, INDEX_EXT};
use evident_native::core::query::QuerySpec;
use evident_native::core::{naming, AuditEvent, EventBody};
use seaweed::cli::*;
use seaweed::Seaweed;
use std::path::Path;

/// Appends `n` events from `from` on, of a few agents (one rare), in 4 KiB segments.
fn append_events(dir: &Path, from: u64, n: u64) {
    let input: String = (from..from + n)
        .map(|i| {
            let agent = if i % 97 == 13 {
                "rare".to_string()
            } else {
                format!("agent-{}", i % 3)
            };
            let ev = AuditEvent {
                agent_id: agent,
                correlation_id: format!("c{i}"),
                body: EventBody::Custom {
                    name: "x".repeat((i % 50) as usize),
                    data: serde_json::Value::Null,
                },
            };
            format!("{}\n", String::from_utf8(ev.to_json()).unwrap())
        })
        .collect();
    let d = dir.to_str().unwrap();
    let args = ["append", d, "--segment-bytes", "4096", "--lease", "200"];
    let out = evident_env(&args, &[], Some(input.as_bytes()));
    assert!(out.status.success(), "{}", text(&out));
}

fn index_firsts(dir: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| parse_index_name(&e.unwrap().file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

fn segment_firsts(dir: &Path) -> Vec<u64> {
    archive::local_segments(dir)
        .unwrap()
        .into_iter()
        .map(|(f, _)| f)
        .collect()
}

fn seqs(dir: &Path, spec: QuerySpec) -> Vec<u64> {
    let r = evident_native::query::query(dir, spec).unwrap();
    r.records.iter().map(|f| f.seq).collect()
}

fn assert_agent_queries_match_a_scan(dir: &Path) {
    let all = evident_native::query::query(dir, QuerySpec::default()).unwrap();
    for agent in ["agent-0", "agent-2", "rare", "nobody"] {
        let brute: Vec<u64> = all
            .records
            .iter()
            .filter(|f| AuditEvent::from_json(&f.payload).is_ok_and(|e| e.agent_id == agent))
            .map(|f| f.seq)
            .collect();
        let spec = QuerySpec {
            agent: Some(agent.into()),
            ..QuerySpec::default()
        };
        assert_eq!(seqs(dir, spec), brute, "{agent}");
    }
}

#[test]
fn retention_removes_the_indexes_of_the_segments_it_removes() {
    let s = Seaweed::start_with(&[BUCKET]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    append_events(&dir, 0, 600);
    let before = segment_firsts(&dir);
    assert!(before.len() >= 8, "{} segments", before.len());
    // Every segment has its index (the live one's written at close).
    assert_eq!(index_firsts(&dir), before);
    let url = format!("s3://{BUCKET}/agents-retain");
    assert!(archive_cli(&s, &dir, &url).status.success());
    let d = dir.to_str().unwrap();
    let out = evident_env(
        &["retain", d, "--keep-local", "2", "--archive", &url],
        &s.env(),
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let after = segment_firsts(&dir);
    assert_eq!(after.len(), 3, "2 sealed kept + the active one");
    assert_eq!(index_firsts(&dir), after, "no index outlives its segment");
    assert_agent_queries_match_a_scan(&dir);

    // An index an interrupted retention left behind (its segment removed, the index not yet):
    // the writer's next open removes it, and it never changes an answer meanwhile.
    let orphan = naming::segment_name(before[1]).replace(naming::SEGMENT_EXT, INDEX_EXT);
    let kept_index = naming::segment_name(after[0]).replace(naming::SEGMENT_EXT, INDEX_EXT);
    std::fs::copy(dir.join(&kept_index), dir.join(&orphan)).unwrap();
    assert_agent_queries_match_a_scan(&dir);
    let out = evident_env(&["recover", d], &[], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!dir.join(&orphan).exists(), "{orphan} removed at open");
    assert_eq!(index_firsts(&dir), after);

    // The writer appends to the retained trail; queries still equal a scan.
    append_events(&dir, 600, 200);
    assert_agent_queries_match_a_scan(&dir);
    let out = evident_env(&["verify", d], &[], None);
    assert!(out.status.success(), "{}", text(&out));
}
