//! Realistic audit events of about 250 bytes: the mix an agent platform records (tool calls
//! with decisions, exec lifecycle, queries), in the canonical JSON of `AuditEvent`.

use evident_core::{AuditEvent, Decision, EventBody};

/// A small deterministic generator (SplitMix64), so every run appends the same records.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

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

fn one(m: &mut Mix, i: u64) -> AuditEvent {
    let agent_id = format!("agent-{:03}", m.below(200));
    let correlation_id = format!("req-{:016x}", m.next());
    // The mix over 8 events: 3 tool calls, an exec request, started and 2 exits, a query.
    let body = match i % 8 {
        0 | 1 | 6 => EventBody::ToolCall {
            tool_name: m.pick(TOOLS).to_string(),
            call_id: format!("call_{:012x}", m.next() >> 16),
            operation: "execute_tool".into(),
            decision: [
                Decision::Allow,
                Decision::Allow,
                Decision::Deny,
                Decision::Modify,
            ][m.below(4) as usize],
            policy: Some(m.pick(POLICIES).to_string()),
            anomalies: if m.below(8) == 0 {
                vec!["rate_spike".into()]
            } else {
                vec![]
            },
            latency_ms: m.below(900),
            upstream_status: Some(200),
            arguments: None,
            arguments_hash: Some(format!("{:016x}{:016x}", m.next(), m.next())),
        },
        2 => EventBody::ExecRequest {
            machine: m.pick(MACHINES).to_string(),
            argv: vec![
                "python3".into(),
                "-m".into(),
                "pytest".into(),
                format!("tests/test_{}.py", m.below(90)),
                "-q".into(),
            ],
            policy: Some(m.pick(POLICIES).to_string()),
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
            query_id: format!("q-{:012x}", m.next() >> 16),
            parameters: serde_json_value(m),
            result_hash: format!("{:016x}{:016x}", m.next(), m.next()),
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

fn serde_json_value(m: &mut Mix) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("table".into(), "deployments".into());
    map.insert("since".into(), "2026-11-22T00:00:00Z".into());
    map.insert("limit".into(), (m.below(500) + 1).into());
    serde_json::Value::Object(map)
}

/// `n` events in canonical JSON.
pub fn generate(n: usize) -> Vec<Vec<u8>> {
    let mut m = Mix(0x5eed_2026_1122);
    (0..n as u64).map(|i| one(&mut m, i).to_json()).collect()
}

/// Mean payload size in bytes.
pub fn mean_len(events: &[Vec<u8>]) -> f64 {
    events.iter().map(Vec::len).sum::<usize>() as f64 / events.len().max(1) as f64
}
