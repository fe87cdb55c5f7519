//! The `tracing` layer (feature `tracing`): chosen events become audit events in the trail,
//! mapped to the schema; the caller never waits for the trail (a full disk stalls the writer,
//! not the log call, under DropAndCount); drops are counted and recorded; the guard flushes.

mod common;

use common::*;
use evident_native::tracing_layer::{AuditLayer, Select, WhenFull};
use evident_native::{AuditEvent, Decision, EventBody, Trail, TrailOptions};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tracing_subscriber::layer::SubscriberExt;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn events(dir: &Path) -> Vec<AuditEvent> {
    read_all(dir)
        .iter()
        .map(|r| AuditEvent::from_json(&r.payload).expect("every record is an audit event"))
        .collect()
}

#[test]
fn audit_target_events_become_typed_audit_events() {
    let rt = rt();
    let (_tmp, dir) = temp_trail();
    let trail = rt
        .block_on(Trail::open(&dir, TrailOptions::default()))
        .unwrap();
    let (layer, guard) = AuditLayer::builder(trail.clone())
        .default_agent("gateway")
        .build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "audit", kind = "tool.call", agent_id = "agent-7",
            correlation_id = "req-42", tool_name = "web.search", call_id = "call_1",
            decision = "deny", policy = "no-net", anomalies = "rate_spike, new_host",
            latency_ms = 87u64, upstream_status = 403u64, arguments = r#"{"q":"rust"}"#);
        tracing::warn!(target: "audit::exec", kind = "exec.request", correlation_id = "req-43",
            machine = "sandbox-1", argv = "git push origin", timeout_ms = 30000u64);
        // The schema's own (dotted) names work too.
        tracing::info!(target: "audit", kind = "exec.exit", "gen_ai.agent.id" = "agent-9",
            "correlation.id" = "r", code = 1i64, duration_ms = 12u64, truncated = true);
        tracing::info!(target: "audit", kind = "query", query_id = "q-1",
            parameters = r#"{"subject":"acct-1"}"#, result_hash = "ab", confidence = 0.5f64);
        tracing::info!(target: "audit", user = "alice", "login from new device");
        tracing::info!(target: "audit", kind = "tool.call", tool_name = "missing-fields");
        tracing::info!(target: "audit", kind = "custom", name = "heartbeat", ok = true);
        // Not selected: another target, and one that only starts like it.
        tracing::info!(target: "app", kind = "tool.call", "ignored");
        tracing::info!(target: "auditor", "ignored too");
    });
    let stats = guard.shutdown();
    assert_eq!((stats.appended, stats.dropped, stats.failed), (7, 0, 0));
    rt.block_on(trail.close()).unwrap();

    let got = events(&dir);
    assert_eq!(got.len(), 7, "{got:#?}");
    assert_eq!(got[0].agent_id, "agent-7");
    assert_eq!(got[0].correlation_id, "req-42");
    match &got[0].body {
        EventBody::ToolCall {
            tool_name,
            call_id,
            decision,
            policy,
            anomalies,
            latency_ms,
            upstream_status,
            arguments,
            ..
        } => {
            assert_eq!(
                (tool_name.as_str(), call_id.as_str()),
                ("web.search", "call_1")
            );
            assert_eq!(*decision, Decision::Deny);
            assert_eq!(policy.as_deref(), Some("no-net"));
            assert_eq!(anomalies, &["rate_spike", "new_host"]);
            assert_eq!((*latency_ms, *upstream_status), (87, Some(403)));
            assert_eq!(arguments.as_ref().unwrap()["q"], "rust");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got[1].agent_id, "gateway", "the default agent");
    match &got[1].body {
        EventBody::ExecRequest {
            machine,
            argv,
            timeout_ms,
            ..
        } => {
            assert_eq!(machine, "sandbox-1");
            assert_eq!(argv, &["git", "push", "origin"]);
            assert_eq!(*timeout_ms, Some(30000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(got[2].agent_id, "agent-9");
    assert!(matches!(
        got[2].body,
        EventBody::ExecExit {
            code: Some(1),
            duration_ms: 12,
            truncated: true,
            ..
        }
    ));
    match &got[3].body {
        EventBody::Query {
            parameters,
            confidence,
            ..
        } => {
            assert_eq!(parameters["subject"], "acct-1");
            assert_eq!(*confidence, Some(0.5));
        }
        other => panic!("{other:?}"),
    }
    match &got[4].body {
        EventBody::Custom { name, data } => {
            assert_eq!(name, "login from new device", "named by the message");
            assert_eq!(data["user"], "alice");
            assert_eq!(
                (data["target"].as_str(), data["level"].as_str()),
                (Some("audit"), Some("INFO"))
            );
        }
        other => panic!("{other:?}"),
    }
    match &got[5].body {
        EventBody::Custom { name, data } => {
            assert_eq!(
                name, "tool.call",
                "a kind whose fields do not fit is kept, not lost"
            );
            assert!(
                data["evident.error"]
                    .as_str()
                    .unwrap()
                    .contains("missing field"),
                "{data}"
            );
            assert_eq!(data["gen_ai.tool.name"], "missing-fields");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&got[6].body, EventBody::Custom { name, data } if name == "heartbeat" && data["ok"] == true)
    );
}

#[test]
fn selection_by_field_leaves_the_marker_out() {
    let rt = rt();
    let (_tmp, dir) = temp_trail();
    let trail = rt
        .block_on(Trail::open(&dir, TrailOptions::default()))
        .unwrap();
    let (layer, guard) = AuditLayer::builder(trail.clone())
        .select(Select::Field("audit".into()))
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "my_service::db", audit = true, kind = "exec.started", pid = 42u64);
        tracing::info!(target: "audit", "not selected: no `audit` field");
    });
    guard.flush();
    assert_eq!(guard.stats().appended, 1);
    drop(guard);
    rt.block_on(trail.close()).unwrap();
    let got = events(&dir);
    assert_eq!(got.len(), 1);
    assert!(
        matches!(got[0].body, EventBody::ExecStarted { pid: 42 }),
        "{:?}",
        got[0]
    );
}

#[test]
fn wait_loses_nothing_from_many_threads_and_shutdown_flushes() {
    let rt = rt();
    let (_tmp, dir) = temp_trail();
    let trail = rt.block_on(Trail::open(&dir, opts(1 << 16))).unwrap();
    // A queue of 2 keeps the callers waiting on the writer most of the time.
    let (layer, guard) = AuditLayer::builder(trail.clone()).capacity(2).build();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let dispatch = dispatch.clone();
            std::thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..150u64 {
                        tracing::info!(target: "audit", kind = "custom", name = "step",
                            agent_id = format!("t{t}"), i);
                    }
                })
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    drop(dispatch);
    let stats = guard.shutdown(); // drains what is queued
    assert_eq!((stats.appended, stats.dropped), (600, 0));
    rt.block_on(trail.close()).unwrap();
    let got = events(&dir);
    assert_eq!(got.len(), 600);
    for t in 0..4 {
        let mine: Vec<u64> = got
            .iter()
            .filter(|e| e.agent_id == format!("t{t}"))
            .map(|e| match &e.body {
                EventBody::Custom { data, .. } => data["i"].as_u64().unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            mine,
            (0..150).collect::<Vec<_>>(),
            "a thread's events in its order"
        );
    }
    evident_native::fs_exec::verify_dir(&dir, vec![], |_, _| {}).unwrap();
}

/// A tmpfs mounted for the test; unmounted when dropped (also when the test fails).
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        if !Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success())
        {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

#[test]
fn a_stalled_trail_never_blocks_the_caller_under_drop_and_count() {
    let rt = rt();
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "mount -t tmpfs needs root (the tests run as root here)"
    );
    let mount = Mount(mnt.clone());
    let dir = mnt.join("trail");
    let options = TrailOptions {
        core: evident_native::Options {
            preallocate: false,
            ..evident_native::Options::default()
        },
        ..TrailOptions::default()
    };
    let trail = rt.block_on(Trail::open(&dir, options)).unwrap();
    // Fill the disk: the writer's appends fail and it retries (for up to 30 s).
    let filler = mnt.join("filler");
    let free = rustix::fs::statvfs(&mnt).unwrap();
    std::fs::write(&filler, vec![0u8; (free.f_bavail * free.f_frsize) as usize]).ok();
    let (layer, guard) = AuditLayer::builder(trail.clone())
        .capacity(8)
        .when_full(WhenFull::DropAndCount)
        .retry_for(Duration::from_secs(30))
        .build();
    let big = "x".repeat(8 << 10);
    let started = Instant::now();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..500u64 {
            tracing::info!(target: "audit", kind = "custom", name = "big", i, big = big.as_str());
        }
    });
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "500 log calls took {took:?}: the caller waited for the trail"
    );
    let stalled = guard.stats();
    assert!(stalled.dropped >= 400, "{stalled:?}");
    // The writer thread reports the trail's refusal once its first batch has been tried: the
    // 500 calls above return before that (they never wait), so give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    while guard.last_error().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        guard
            .last_error()
            .is_some_and(|e| e.to_lowercase().contains("space")),
        "{:?}",
        guard.last_error()
    );
    // Space again: the retried batch lands, then a report of the drops.
    std::fs::remove_file(&filler).unwrap();
    let stats = guard.shutdown();
    assert_eq!(stats.failed, 0, "{stats:?}");
    rt.block_on(trail.close()).unwrap();
    let got = events(&dir);
    assert_eq!(got.len() as u64, stats.appended);
    // One drop report per batch that followed new drops: usually one, two when the writer
    // took its first batch while the 500 calls were still dropping.
    let reports: Vec<serde_json::Value> = got
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Custom { name, data } if name == "evident.tracing.dropped" => {
                Some(data.clone())
            }
            _ => None,
        })
        .collect();
    assert!(!reports.is_empty(), "the drops are recorded in the trail");
    // Every event is either in the trail or counted, and every drop is on the record.
    assert_eq!(
        stats.appended + stats.dropped,
        500 + reports.len() as u64,
        "{stats:?} (500 events and {} drop reports)",
        reports.len()
    );
    let reported: u64 = reports.iter().map(|r| r["dropped"].as_u64().unwrap()).sum();
    assert_eq!(reported, stats.dropped, "{reports:?}");
    assert_eq!(
        reports.last().unwrap()["total"].as_u64(),
        Some(stats.dropped)
    );
    drop(mount);
}
