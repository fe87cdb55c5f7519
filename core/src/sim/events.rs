//! Realistic audit events of about 250 bytes for benchmarks: the mix an agent platform records
//! (tool calls with decisions, exec lifecycle, queries), in the canonical JSON of `AuditEvent`.

use super::SimRng;
use crate::{AuditEvent, Decision, EventBody};

const TOOLS: &[&str] = &[
    "web.search",
    "fs.read_file",
    "fs.write_file",
    "github.create_issue",
    "sql.query",
    "http.fetch",
];
const POLICIES: &[&str] = &["tool-policy-v3", "exec-sandbox-v2", "egress-allowlist-v7"];
const MACHINES: &[&str] = &["sandbox-eu-1", "sandbox-us-2", "build-runner-4"];

fn one(m: &mut SimRng, i: u64) -> AuditEvent {
    let agent_id = format!("agent-{:03}", m.below(200));
    let correlation_id = format!("req-{:016x}", m.next_u64());
    // The mix over 8 events: 3 tool calls, an exec request, started and 2 exits, a query.
    let body = match i % 8 {
        0 | 1 | 6 => EventBody::ToolCall {
            tool_name: pick(m, TOOLS),
            call_id: format!("call_{:012x}", m.next_u64() >> 16),
            operation: "execute_tool".into(),
            decision: [
                Decision::Allow,
                Decision::Allow,
                Decision::Deny,
                Decision::Modify,
            ][m.below(4) as usize],
            policy: Some(pick(m, POLICIES)),
            anomalies: if m.below(8) == 0 {
                vec!["rate_spike".into()]
            } else {
                vec![]
            },
            latency_ms: m.below(900),
            upstream_status: Some(200),
            arguments: None,
            arguments_hash: Some(format!("{:016x}{:016x}", m.next_u64(), m.next_u64())),
        },
        2 => EventBody::ExecRequest {
            machine: pick(m, MACHINES),
            argv: vec![
                "python3".into(),
                "-m".into(),
                "pytest".into(),
                format!("tests/test_{}.py", m.below(90)),
                "-q".into(),
            ],
            policy: Some(pick(m, POLICIES)),
            stdin_bytes: m.below(4096),
            timeout_ms: Some(30_000),
        },
        3 => EventBody::ExecStarted {
            pid: 1000 + m.below(60_000) as u32,
        },
        4 | 7 => EventBody::ExecExit {
            code: Some(m.below(3) as i32),
            signal: None,
            duration_ms: m.below(30_000),
            stdout_bytes: m.below(1 << 20),
            stderr_bytes: m.below(1 << 12),
            truncated: m.below(10) == 0,
        },
        _ => EventBody::Query {
            query_id: format!("q-{:012x}", m.next_u64() >> 16),
            parameters: serde_json_value(m),
            result_hash: format!("{:016x}{:016x}", m.next_u64(), m.next_u64()),
            confidence: Some((m.below(1000) as f64) / 1000.0),
            assertions: vec![
                format!("a-{}", m.below(1000)),
                format!("a-{}", m.below(1000)),
            ],
        },
    };
    AuditEvent {
        agent_id,
        correlation_id,
        body,
    }
}

fn serde_json_value(m: &mut SimRng) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("table".into(), "deployments".into());
    map.insert("since".into(), "2026-11-22T00:00:00Z".into());
    map.insert("limit".into(), (m.below(500) + 1).into());
    serde_json::Value::Object(map)
}

/// `n` realistic audit events in canonical JSON ([`AuditEvent::to_json`]), the same `n` on
/// every call: per 8 events, 3 tool calls, an exec request, an exec start, 2 exec exits and a
/// query; mean about 262 bytes (104–402). The benchmarks (`cargo bench -p evident-core` and the
/// `bench` program of `evident-tests`) append these.
pub fn sample_events(n: usize) -> Vec<Vec<u8>> {
    // `SimRng::new` mixes the seed with this constant; undoing it keeps the generator state
    // (and so the events, and the published figures measured over them) as they were.
    let mut m = SimRng::new(0x5eed_2026_1122 ^ 0x9e37_79b9_7f4a_7c15);
    (0..n as u64).map(|i| one(&mut m, i).to_json()).collect()
}

fn pick(m: &mut SimRng, xs: &[&str]) -> String {
    xs[m.below(xs.len() as u64) as usize].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_the_one_the_published_figures_were_measured_over() {
        let events = sample_events(4096);
        assert_eq!(events, sample_events(4096), "deterministic");
        let total: usize = events.iter().map(Vec::len).sum();
        let min = events.iter().map(Vec::len).min().unwrap();
        let max = events.iter().map(Vec::len).max().unwrap();
        // BENCHMARKS.md: 4096 events, mean 262 B (104–402 B).
        assert_eq!((total, min, max), (1_073_687, 104, 402));
        for e in &events {
            assert!(
                AuditEvent::from_json(e).is_ok(),
                "canonical JSON of an event"
            );
        }
    }
}
