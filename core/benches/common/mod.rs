//! Inputs shared by the micro benchmarks: realistic audit events and segments written by the
//! core's own writer.
//!
//! The events are the mix of the end-to-end bench program (`tests/src/bin/bench/events.rs`,
//! same generator and seed): per 8 events, 3 tool calls, an exec request, an exec start, 2 exec
//! exits and a query, in the canonical JSON of [`AuditEvent::to_json`], mean ~260 bytes.
//! Segments are made by driving a real [`Trail`] against the simulation's fake disk, so their
//! bytes are exactly what a host would have on disk.

// Each bench file includes this module and uses only part of it.
#![allow(dead_code)]

use evident_core::header::HEADER_LEN;
use evident_core::sim::{drive, FakeDisk, Faults};
use evident_core::{AuditEvent, Decision, EventBody, LogId, Options, Trail};

/// The trail every benchmark segment belongs to.
pub const LOG_ID: LogId = LogId([7; 16]);
/// Timestamp of the first record (ns since the epoch); records are 1 µs apart.
pub const T0: u64 = 1_800_000_000_000_000_000;

/// SplitMix64, so every run benchmarks the same records.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick(&mut self, xs: &[&str]) -> String {
        xs[self.below(xs.len() as u64) as usize].to_string()
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

fn event(m: &mut Mix, i: u64) -> AuditEvent {
    let agent_id = format!("agent-{:03}", m.below(200));
    let correlation_id = format!("req-{:016x}", m.next());
    let body = match i % 8 {
        0 | 1 | 6 => EventBody::ToolCall {
            tool_name: m.pick(TOOLS),
            call_id: format!("call_{:012x}", m.next() >> 16),
            operation: "execute_tool".into(),
            decision: [
                Decision::Allow,
                Decision::Allow,
                Decision::Deny,
                Decision::Modify,
            ][m.below(4) as usize],
            policy: Some(m.pick(POLICIES)),
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
            machine: m.pick(MACHINES),
            argv: vec![
                "python3".into(),
                "-m".into(),
                "pytest".into(),
                format!("tests/test_{}.py", m.below(90)),
                "-q".into(),
            ],
            policy: Some(m.pick(POLICIES)),
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
        _ => {
            // Draws in the order of the bench program's generator: id, then parameters.
            let query_id = format!("q-{:012x}", m.next() >> 16);
            let mut params = serde_json::Map::new();
            params.insert("table".into(), "deployments".into());
            params.insert("since".into(), "2026-11-22T00:00:00Z".into());
            params.insert("limit".into(), (m.below(500) + 1).into());
            EventBody::Query {
                query_id,
                parameters: serde_json::Value::Object(params),
                result_hash: format!("{:016x}{:016x}", m.next(), m.next()),
                confidence: Some(m.below(1000) as f64 / 1000.0),
                assertions: vec![
                    format!("a-{}", m.below(1000)),
                    format!("a-{}", m.below(1000)),
                ],
            }
        }
    };
    AuditEvent {
        agent_id,
        correlation_id,
        body,
    }
}

/// `n` events in canonical JSON.
pub fn events(n: usize) -> Vec<Vec<u8>> {
    let mut m = Mix(0x5eed_2026_1122);
    (0..n as u64).map(|i| event(&mut m, i).to_json()).collect()
}

/// One segment file as the writer left it.
pub struct Segment {
    /// File name (`<first seq>.evseg`).
    pub name: String,
    /// The whole file: header, frames, and any preallocated zeros.
    pub bytes: Vec<u8>,
    /// Records it holds.
    pub records: u64,
    /// File offset just past the last frame.
    pub records_end: usize,
}

/// Appends `events` (seq 1.., timestamps `T0 + i µs`) to a new trail on the fake disk, closes
/// it, and returns its only segment. With `preallocate = Some(n)` the segment is reserved to
/// `n` bytes up front, so what follows the records is zeros (what a crash leaves); otherwise
/// the file ends with the last record.
pub fn segment(events: &[Vec<u8>], preallocate: Option<u64>) -> Segment {
    let mut disk = FakeDisk::new(1, Faults::default());
    let opts = Options {
        segment_bytes: preallocate.unwrap_or(1 << 30),
        preallocate: preallocate.is_some(),
        ..Options::default()
    };
    let mut trail = Trail::open(opts, LOG_ID, T0);
    for (i, e) in events.iter().enumerate() {
        trail
            .handle_append(i as u64, e.clone(), T0 + i as u64 * 1000)
            .expect("append accepted");
    }
    trail.handle_close();
    drive(&mut trail, &mut disk, usize::MAX);
    let names: Vec<String> = disk
        .file_names()
        .into_iter()
        .filter(|n| n.ends_with(".evseg"))
        .collect();
    assert_eq!(names.len(), 1, "one segment expected, got {names:?}");
    let bytes = disk.read_file(&names[0]).expect("segment").to_vec();
    let frames: usize = events
        .iter()
        .map(|e| evident_core::frame::entry_frame_len(e.len()))
        .sum();
    Segment {
        name: names[0].clone(),
        bytes,
        records: events.len() as u64,
        records_end: HEADER_LEN + frames,
    }
}
