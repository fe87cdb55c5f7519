//! `evident demo`: simulated agents record a realistic mix of events concurrently; then the trail
//! is verified and its head, health and throughput are printed.

use crate::{print_json, Outcome, WriteOpts};
use evident_core::sim::SimRng;
use evident_native::fs_exec::verify_dir;
use evident_native::{AuditEvent, Decision, Error, EventBody, Trail, TrailOptions};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the trail (created; appended to if it exists). Without it, a fresh
    /// directory under the system's temporary directory, printed at the start.
    dir: Option<PathBuf>,
    /// Concurrent simulated agents.
    #[arg(long, default_value_t = 64)]
    agents: u64,
    /// Events each agent records.
    #[arg(long, default_value_t = 500)]
    events: u64,
    /// Machine-readable summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    write: WriteOpts,
}

const TOOLS: [&str; 6] = [
    "web.search",
    "fs.read",
    "fs.write",
    "git.push",
    "db.query",
    "http.get",
];
const COMMANDS: [&[&str]; 5] = [
    &["ls", "-la"],
    &["cargo", "test"],
    &["git", "status"],
    &["curl", "https://example.com"],
    &["rm", "-rf", "/tmp/x"],
];

/// The events one agent action produces: an exec lifecycle, a tool call, or a query.
fn action(rng: &mut SimRng, agent: &str, n: u64) -> Vec<AuditEvent> {
    let corr = format!("{agent}-req-{n}");
    let ev = |body| AuditEvent {
        agent_id: agent.to_string(),
        correlation_id: corr.clone(),
        body,
    };
    match rng.below(10) {
        0..=3 => {
            let argv: Vec<String> = COMMANDS[rng.below(5) as usize]
                .iter()
                .map(|s| s.to_string())
                .collect();
            if argv[0] == "rm" {
                return vec![ev(EventBody::ExecDenied {
                    reason: "destructive command".into(),
                    policy: Some("no-rm-rf".into()),
                })];
            }
            let mut v = vec![
                ev(EventBody::ExecRequest {
                    machine: format!("sandbox-{}", rng.below(4)),
                    argv,
                    policy: Some("default-exec".into()),
                    stdin_bytes: 0,
                    timeout_ms: Some(30_000),
                }),
                ev(EventBody::ExecStarted {
                    pid: 1000 + rng.below(60_000) as u32,
                }),
            ];
            let truncated = rng.chance(0.1);
            if truncated {
                v.push(ev(EventBody::ExecWarning {
                    warning: "output_truncated".into(),
                    bytes: 1 << 20,
                }));
            }
            v.push(ev(EventBody::ExecExit {
                code: Some(if rng.chance(0.9) { 0 } else { 1 }),
                signal: None,
                duration_ms: rng.below(5000),
                stdout_bytes: rng.below(1 << 16),
                stderr_bytes: rng.below(1024),
                truncated,
            }));
            v
        }
        4..=7 => {
            let decision = match rng.below(20) {
                0..=14 => Decision::Allow,
                15..=16 => Decision::Deny,
                17 => Decision::Modify,
                18 => Decision::Audit,
                _ => Decision::Warn,
            };
            let args = json!({"q": format!("query {}", rng.below(1000))});
            vec![ev(EventBody::ToolCall {
                tool_name: TOOLS[rng.below(TOOLS.len() as u64) as usize].into(),
                call_id: format!("call_{n}"),
                operation: "execute_tool".into(),
                decision,
                policy: Some("tool-policy-v3".into()),
                anomalies: if rng.chance(0.05) {
                    vec!["unusual_volume".into()]
                } else {
                    vec![]
                },
                latency_ms: rng.below(800),
                upstream_status: Some(if rng.chance(0.95) { 200 } else { 502 }),
                arguments: None,
                arguments_hash: Some(AuditEvent::hash_arguments(&args)),
            })]
        }
        _ => vec![ev(EventBody::Query {
            query_id: format!("q-{n}"),
            parameters: json!({"subject": format!("acct-{}", rng.below(100))}),
            result_hash: blake3_hex(n),
            confidence: Some((rng.below(1000) as f64) / 1000.0),
            assertions: vec![format!("as-{}", rng.below(50))],
        })],
    }
}

fn blake3_hex(n: u64) -> String {
    evident_core::hash::leaf(0, n, 0, b"result").to_hex()
}

/// A new, empty directory under the system's temporary directory for a demo trail (never the
/// current directory, which is often a repository).
fn fresh_demo_dir() -> Result<PathBuf, Error> {
    let base = std::env::temp_dir();
    let stamp = evident_native::now_ns();
    for attempt in 0..100u32 {
        let dir = base.join(format!(
            "evident-demo-{}-{stamp}-{attempt}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(Error::Io { path: dir, error }),
        }
    }
    Err(Error::Io {
        path: base,
        error: std::io::Error::other("no fresh name for a demo directory after 100 tries"),
    })
}

pub async fn run(a: Args) -> Result<Outcome, Error> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            let d = fresh_demo_dir()?;
            eprintln!("evident: writing the demo trail to {}", d.display());
            d
        }
    };
    let trail = Trail::open(
        &dir,
        TrailOptions {
            core: a.write.core(),
            lease: a.write.lease(),
            signer: a.write.signer()?,
            ..Default::default()
        },
    )
    .await?;
    let start_seq = trail.head().seq;
    let total = a.agents * a.events;
    let pb = if a.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    pb.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} events {wide_bar} {per_sec} eta {eta}")
            .expect("a valid template"),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.agents {
        let trail = trail.clone();
        let pb = pb.clone();
        let events = a.events;
        tasks.push(tokio::spawn(async move {
            let agent = format!("agent-{i:03}");
            let mut rng = SimRng::new(i);
            let mut done = 0;
            let mut n = 0;
            while done < events {
                n += 1;
                for ev in action(&mut rng, &agent, n) {
                    if done == events {
                        break;
                    }
                    trail.append_event(&ev).await?;
                    done += 1;
                    pb.inc(1);
                }
            }
            Ok::<u64, Error>(done)
        }));
    }
    let mut appended = 0;
    for t in tasks {
        appended += t.await.map_err(|e| Error::Io {
            path: dir.clone(),
            error: std::io::Error::other(e),
        })??;
    }
    let elapsed = started.elapsed();
    pb.finish_and_clear();
    let health = trail.health();
    let head = trail.close().await?;
    let verify_started = Instant::now();
    let report = verify_dir(&dir, vec![head], |_, _| {}).map_err(Error::Trail)?;
    let verify_elapsed = verify_started.elapsed();
    let rate = appended as f64 / elapsed.as_secs_f64();
    if a.json {
        print_json(&json!({
            "dir": dir,
            "appended": appended,
            "seconds": elapsed.as_secs_f64(),
            "appends_per_second": rate,
            "fsyncs": health.fsyncs,
            "mean_batch": health.mean_batch(),
            "max_batch": health.max_batch,
            "health": health.state.as_str(),
            "verified_records": report.records,
            "segments": report.segments,
            "head": {"log_id": head.log_id.to_hex(), "seq": head.seq, "hash": head.hash.to_hex()},
        }));
    } else {
        println!(
            "{} agents appended {appended} events to {} in {:.2?}",
            a.agents,
            dir.display(),
            elapsed
        );
        println!(
            "throughput: {rate:.0} durable appends/s, {} fsyncs, {:.1} records per fsync on average (largest batch {})",
            health.fsyncs,
            health.mean_batch(),
            health.max_batch
        );
        println!(
            "health: {} ({} failures)",
            health.state.as_str(),
            health.total_failures
        );
        println!(
            "verified: {} records (seq {}..={}) in {} segments in {:.2?}",
            report.records, report.first_seq, report.head.seq, report.segments, verify_elapsed
        );
        println!("new records this run: {}", head.seq - start_seq);
        println!("\nhead checkpoint (save it off this host; `evident verify DIR --checkpoint FILE` proves it later):");
        print!("{}", head.to_text());
    }
    Ok(Outcome::Ok)
}
