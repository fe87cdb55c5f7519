//! The component's agent queries and `has-any-records` go through the same agent indexes as
//! native ones and give the same answers; the component writes the same index files.

use evident_native::core::query::QuerySpec;
use evident_native::core::{AuditEvent, EventBody};
use evident_tests::wasm::{default_options, Instance, OpenOptions, Query};

fn event(i: u64) -> Vec<u8> {
    // A skewed share: agent-0 most, agent-5 rarely.
    let k = (i * 2654435761 % 64).trailing_zeros().min(5);
    AuditEvent {
        agent_id: format!("agent-{k}"),
        correlation_id: format!("c{i}"),
        body: EventBody::Custom {
            name: "z".repeat((i % 90) as usize),
            data: serde_json::Value::Null,
        },
    }
    .to_json()
}

#[test]
fn component_agent_queries_equal_native_and_use_the_same_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Instance::new(tmp.path());
    let opts = OpenOptions {
        segment_bytes: Some(4096),
        log_id: Some("00112233445566778899aabbccddeeff".into()),
        ..default_options()
    };
    let log = c.open("/data/t", &opts).unwrap();
    let ps: Vec<Vec<u8>> = (0..400).map(event).collect();
    let ts: Vec<u64> = (0..400).map(|n| 1_000_000 + n * 10).collect();
    for (p, t) in ps.chunks(37).zip(ts.chunks(37)) {
        c.append_batch_at(log, p, t).unwrap();
    }
    let dir = tmp.path().join("t");
    let indexes = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".agents")
        })
        .count();
    assert!(indexes >= 5, "the component wrote {indexes} agent indexes");
    for k in 0..7 {
        let agent = format!("agent-{k}");
        for (since, until, limit) in [
            (None, None, None),
            (Some(1_001_000), Some(1_003_000), None),
            (None, None, Some(3)),
        ] {
            let q = Query {
                from_seq: None,
                to_seq: None,
                since,
                until,
                agent: Some(agent.clone()),
                limit,
                newest: false,
            };
            let got = c.query(log, &q).unwrap();
            let native = evident_native::query::query(
                &dir,
                QuerySpec {
                    since,
                    until,
                    agent: Some(agent.clone()),
                    limit: limit.map(|l| l as usize),
                    ..QuerySpec::default()
                },
            )
            .unwrap();
            let seqs: Vec<u64> = got.entries.iter().map(|e| e.seq).collect();
            let want: Vec<u64> = native.records.iter().map(|f| f.seq).collect();
            assert_eq!(seqs, want, "{agent} {since:?} {until:?} {limit:?}");
            let brute: Vec<u64> = (1..=400u64)
                .filter(|s| {
                    let t = ts[*s as usize - 1];
                    AuditEvent::from_json(&ps[*s as usize - 1])
                        .unwrap()
                        .agent_id
                        == agent
                        && since.is_none_or(|v| t >= v)
                        && until.is_none_or(|u| t < u)
                })
                .take(limit.map_or(usize::MAX, |l| l as usize))
                .collect();
            assert_eq!(seqs, brute, "{agent}");
        }
        let has = c
            .bindings
            .evident_log_trail()
            .log()
            .call_has_any_records(&mut c.store, log, &agent)
            .unwrap()
            .unwrap();
        assert_eq!(has, k <= 5, "{agent}");
        assert_eq!(
            has,
            evident_native::query::has_any_records(&dir, &agent).unwrap()
        );
    }
    c.close(log).unwrap();
}
