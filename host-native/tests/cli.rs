//! The `evident` command line: every subcommand's output and exit code.

mod common;

use common::{code, describe, evident, read_all, s, segments, temp_trail};
use evident_native::core::naming;
use evident_native::jsonl::rfc3339;
use evident_native::{AuditEvent, Checkpoint, Decision, EventBody, Trail};
use serde_json::Value;
use std::path::Path;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn one_json(out: &std::process::Output) -> Value {
    let v = json_lines(out);
    assert_eq!(v.len(), 1, "{}", describe(out));
    v.into_iter().next().unwrap()
}

/// Appends `lines` with `evident append --raw`, checking success.
fn append_raw(dir: &Path, lines: &[String], extra: &[&str]) -> Vec<u64> {
    let mut input = lines.join("\n");
    input.push('\n');
    let mut args = vec!["append", s(dir), "--raw"];
    args.extend_from_slice(extra);
    let out = evident(&args, Some(input.as_bytes()));
    assert_eq!(code(&out), 0, "{}", describe(&out));
    stdout(&out)
        .lines()
        .map(|l| l.parse().expect("a seq per line"))
        .collect()
}

#[test]
fn every_subcommand_has_help() {
    let cases = [
        ("demo", "Simulated agents append"),
        ("append", "Append one record per stdin line"),
        (
            "verify",
            "Verify framing, chain, segment links and checkpoints",
        ),
        ("head", "Print the trail's verified head as a checkpoint"),
        ("export", "Print records as one JSON object per line"),
        ("query", "Records of an agent in a time range"),
        ("stats", "Counts by kind, agent and decision"),
        ("tail", "Print the last records"),
        ("inspect", "Segments, sizes, seq ranges"),
        ("recover", "crash recovery"),
        ("repair", "Cut a damaged trail before its first damage"),
    ];
    let top = evident(&["--help"], None);
    assert_eq!(code(&top), 0, "{}", describe(&top));
    for (sub, purpose) in cases {
        assert!(stdout(&top).contains(sub), "top-level help lists {sub}");
        let out = evident(&[sub, "--help"], None);
        assert_eq!(code(&out), 0, "{sub}: {}", describe(&out));
        let text = stdout(&out);
        assert!(text.contains(purpose), "{sub} --help: {text}");
        assert!(
            text.contains(&format!("Usage: evident {sub}")),
            "{sub}: {text}"
        );
    }
    let out = evident(&["--version"], None);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn demo_appends_and_verifies() {
    let (_tmp, dir) = temp_trail();
    let out = evident(
        &["demo", s(&dir), "--agents", "4", "--events", "50", "--json"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = one_json(&out);
    assert_eq!(v["appended"], 200, "{v}");
    assert!(v["verified_records"].as_u64().unwrap() >= 200, "{v}");
    assert_eq!(v["verified_records"], 200, "a fresh trail: {v}");
    assert_eq!(v["head"]["seq"], 200, "{v}");
    assert_eq!(v["health"], "healthy", "{v}");
    assert!(v["fsyncs"].as_u64().unwrap() >= 1, "{v}");

    // A second run appends to the same trail; every record is an audit event of some agent.
    let out = evident(
        &["demo", s(&dir), "--agents", "2", "--events", "10", "--json"],
        None,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = one_json(&out);
    assert_eq!(
        (v["appended"].as_u64(), v["verified_records"].as_u64()),
        (Some(20), Some(220))
    );
    let records = read_all(&dir);
    assert_eq!(records.len(), 220);
    for r in &records {
        let ev = AuditEvent::from_json(&r.payload).expect("demo records are events");
        assert!(ev.agent_id.starts_with("agent-"), "{}", ev.agent_id);
    }
    let out = evident(&["verify", s(&dir), "-q"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

#[test]
fn head_output_is_a_checkpoint_verify_accepts_and_a_changed_one_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    let lines: Vec<String> = (1..=30).map(|i| format!("entry {i}")).collect();
    append_raw(&dir, &lines, &[]);

    let out = evident(&["head", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    let cp = Checkpoint::parse(&text).expect("head prints a checkpoint");
    assert_eq!(cp.seq, 30);
    assert_eq!(text, cp.to_text(), "the canonical text form");
    let file = tmp.path().join("head.txt");
    std::fs::write(&file, &text).unwrap();
    let out = evident(&["verify", s(&dir), "--checkpoint", s(&file)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        stdout(&out).contains(&format!("checkpoint proven: seq 30 hash {}", cp.hash)),
        "{}",
        describe(&out)
    );

    // The JSON form works too, and the trail still proves the old head after growing.
    let out = evident(&["head", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0);
    assert_eq!(Checkpoint::parse(&stdout(&out)).unwrap(), cp);
    let json_file = tmp.path().join("head.json");
    std::fs::write(&json_file, stdout(&out)).unwrap();
    append_raw(&dir, &["later".to_string()], &[]);
    let out = evident(
        &[
            "verify",
            s(&dir),
            "--checkpoint",
            s(&file),
            "--checkpoint",
            s(&json_file),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));

    // One changed hex digit of the hash: rejected as tampering.
    let mut forged = cp;
    forged.hash.0[31] ^= 1;
    let forged_file = tmp.path().join("forged.txt");
    std::fs::write(&forged_file, forged.to_text()).unwrap();
    let out = evident(&["verify", s(&dir), "--checkpoint", s(&forged_file)], None);
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert!(stdout(&out).contains("NOT INTACT"), "{}", describe(&out));
    assert!(stdout(&out).contains("seq 30"), "{}", describe(&out));

    // A checkpoint beyond the end: records were removed.
    let mut ahead = cp;
    ahead.seq = 1000;
    std::fs::write(&forged_file, ahead.to_text()).unwrap();
    let out = evident(&["verify", s(&dir), "--checkpoint", s(&forged_file)], None);
    assert_eq!(code(&out), 3, "{}", describe(&out));

    // Not a checkpoint at all: an operational error, not tampering.
    std::fs::write(&forged_file, "hello\n").unwrap();
    let out = evident(&["verify", s(&dir), "--checkpoint", s(&forged_file)], None);
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let out = evident(
        &[
            "verify",
            s(&dir),
            "--checkpoint",
            s(&tmp.path().join("missing")),
        ],
        None,
    );
    assert_eq!(code(&out), 1, "{}", describe(&out));
}

#[tokio::test]
async fn verify_json_reports_the_trail() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (0..120).map(|i| format!("v{i:04}").into_bytes()).collect();
    let receipts = common::build(&dir, common::opts(4096), &payloads).await;
    let out = evident(&["verify", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = one_json(&out);
    let (cp, _root) = Checkpoint::parse_own_file(
        &std::fs::read_to_string(dir.join(naming::HEAD_CHECKPOINT)).unwrap(),
    )
    .unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["log_id"], cp.log_id.to_hex());
    assert_eq!(v["records"], 120);
    assert_eq!(v["segments"], segments(&dir).len());
    assert_eq!(v["first_seq"], 1);
    assert_eq!(v["head"]["seq"], 120);
    assert_eq!(v["head"]["hash"], receipts[119].hash.to_hex());
    assert!(v["bytes"].as_u64().unwrap() > 120 * 56);
    assert_eq!(v["checkpoints_verified"], serde_json::json!([120]));
    assert_eq!(v["unfinished_seals"], serde_json::json!([]));
}

const T0: u64 = 1_700_000_000_000_000_000;
const SEC: u64 = 1_000_000_000;

/// 30 records one second apart from `T0`, in segments of 4 KiB: seq 1, 4, 7... (i = seq - 1
/// divisible by 3) are `exec.denied` events of agent `a0` (even i) or `a1` (odd i); i % 3 == 1
/// are text, i % 3 == 2 binary.
async fn mixed_trail(dir: &Path) -> Vec<evident_native::Receipt> {
    let trail = Trail::open(&dir, common::opts(4096)).await.unwrap();
    let mut receipts = Vec::new();
    for i in 0..30u64 {
        let ts = T0 + i * SEC;
        let r = match i % 3 {
            0 => {
                let ev = AuditEvent {
                    agent_id: format!("a{}", i % 2),
                    correlation_id: format!("c{i}"),
                    body: EventBody::ExecDenied {
                        reason: "policy".into(),
                        policy: Some("p".into()),
                    },
                };
                trail.append_at(ev.to_json(), ts).await.unwrap()
            }
            1 => trail.append_at(format!("text {i}"), ts).await.unwrap(),
            _ => trail
                .append_at(vec![0xff, 0xfe, i as u8], ts)
                .await
                .unwrap(),
        };
        assert_eq!(r.ts, ts);
        receipts.push(r);
    }
    trail.close().await.unwrap();
    receipts
}

fn seqs_of(out: &std::process::Output) -> Vec<u64> {
    assert_eq!(code(out), 0, "{}", describe(out));
    json_lines(out)
        .iter()
        .map(|v| v["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn export_prints_every_record_and_filters() {
    let (_tmp, dir) = temp_trail();
    let receipts = mixed_trail(&dir).await;
    let out = evident(&["export", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let all = json_lines(&out);
    assert_eq!(all.len(), 30);
    for (i, (v, r)) in all.iter().zip(&receipts).enumerate() {
        assert_eq!(v["seq"], r.seq);
        assert_eq!(v["ts"], r.ts);
        assert_eq!(v["time"], rfc3339(r.ts));
        assert_eq!(v["hash"], r.hash.to_hex());
        match i % 3 {
            0 => {
                assert_eq!(v["event"]["kind"], "exec.denied", "{v}");
                assert_eq!(v["event"]["gen_ai.agent.id"], format!("a{}", i % 2));
                assert!(v.get("payload").is_none() && v.get("payload_base64").is_none());
            }
            1 => {
                assert_eq!(v["payload"], format!("text {i}"), "{v}");
                assert!(v.get("event").is_none());
            }
            _ => {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, i as u8]);
                assert_eq!(v["payload_base64"], b64, "{v}");
            }
        }
    }
    let seqs = seqs_of;
    // --since is inclusive, --until exclusive; RFC 3339 and nanoseconds both work.
    let since = rfc3339(T0 + 10 * SEC);
    let out = evident(&["export", s(&dir), "--since", &since], None);
    assert_eq!(seqs(&out), (11..=30).collect::<Vec<_>>());
    let until = (T0 + 5 * SEC).to_string();
    let out = evident(&["export", s(&dir), "--until", &until], None);
    assert_eq!(seqs(&out), (1..=5).collect::<Vec<_>>());
    let out = evident(
        &[
            "export",
            s(&dir),
            "--since",
            &since,
            "--until",
            "2023-11-14T22:13:40Z",
        ],
        None,
    );
    assert_eq!(seqs(&out), (11..=20).collect::<Vec<_>>());
    let out = evident(&["export", s(&dir), "--agent", "a1"], None);
    let want: Vec<u64> = (0..30u64)
        .filter(|i| i % 3 == 0 && i % 2 == 1)
        .map(|i| i + 1)
        .collect();
    assert_eq!(seqs(&out), want);
    let out = evident(
        &["export", s(&dir), "--agent", "a0", "--since", &since],
        None,
    );
    let want: Vec<u64> = (10..30u64)
        .filter(|i| i % 3 == 0 && i % 2 == 0)
        .map(|i| i + 1)
        .collect();
    assert_eq!(seqs(&out), want);
    let out = evident(&["export", s(&dir), "--agent", "nobody"], None);
    assert_eq!(seqs(&out), Vec::<u64>::new());
    let out = evident(
        &["export", s(&dir), "--from-seq", "7", "--to-seq", "9"],
        None,
    );
    assert_eq!(seqs(&out), [7, 8, 9]);
    let out = evident(&["export", s(&dir), "--since", "yesterday"], None);
    assert_eq!(code(&out), 2, "{}", describe(&out));

    // OCSF API Activity: one object per record, the original record kept under `unmapped`.
    let out = evident(&["export", s(&dir), "--format", "ocsf"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let ocsf = json_lines(&out);
    assert_eq!(ocsf.len(), 30);
    for (v, (r, plain)) in ocsf.iter().zip(receipts.iter().zip(&all)) {
        assert_eq!(v["class_uid"], 6003, "{v}");
        assert_eq!(v["metadata"]["sequence"], r.seq);
        assert_eq!(v["metadata"]["uid"], r.hash.to_hex());
        assert_eq!(v["time"], r.ts / 1_000_000);
        assert_eq!(&v["unmapped"], plain);
    }
    assert_eq!(ocsf[0]["actor"]["user"]["uid"], "a0");
    assert_eq!(ocsf[0]["status"], "deny");
    assert_eq!(ocsf[1]["status"], "unknown", "a raw record");
}

#[tokio::test]
async fn export_pages_through_a_long_trail_in_order() {
    // More records than one page of the export (8192), over sealed segments and the unsealed
    // last one: every page resumes where the last stopped, and the lines are the trail.
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, common::opts(1 << 20)).await.unwrap();
    let mut receipts = Vec::new();
    for batch in 0..10u64 {
        let payloads = (0..2000u64)
            .map(|i| {
                let n = batch * 2000 + i;
                AuditEvent {
                    agent_id: if n % 5 == 0 { "a0" } else { "a1" }.to_string(),
                    correlation_id: format!("c{n}"),
                    body: EventBody::Custom {
                        name: "step".into(),
                        data: Value::Null,
                    },
                }
                .to_json()
            })
            .collect();
        receipts.extend(trail.append_batch(payloads).await.unwrap());
    }
    trail.close().await.unwrap();
    assert!(
        segments(&dir).len() >= 3,
        "{} segments",
        segments(&dir).len()
    );
    let out = evident(&["export", s(&dir), "--quiet"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let all = json_lines(&out);
    assert_eq!(all.len(), 20_000);
    for (v, r) in all.iter().zip(&receipts) {
        assert_eq!(
            (v["seq"].as_u64(), v["hash"].as_str()),
            (Some(r.seq), Some(&*r.hash.to_hex()))
        );
    }
    // A filter that skips records: pages of matches, still every match once, in order.
    let out = evident(
        &[
            "export",
            s(&dir),
            "--quiet",
            "--agent",
            "a1",
            "--from-seq",
            "5",
        ],
        None,
    );
    let want: Vec<u64> = (5..=20_000u64).filter(|seq| (seq - 1) % 5 != 0).collect();
    assert!(want.len() > 8192);
    assert_eq!(seqs_of(&out), want);
}

#[tokio::test]
async fn query_and_stats_select_and_count() {
    let (_tmp, dir) = temp_trail();
    let receipts = mixed_trail(&dir).await;
    let a1: Vec<u64> = (0..30u64)
        .filter(|i| i % 3 == 0 && i % 2 == 1)
        .map(|i| i + 1)
        .collect();
    assert_eq!(a1, [4, 10, 16, 22, 28]);
    let out = evident(&["query", s(&dir), "--agent", "a1"], None);
    assert_eq!(seqs_of(&out), a1);
    let out = evident(&["query", s(&dir), "--agent", "a1", "--limit", "2"], None);
    assert_eq!(seqs_of(&out), [4, 10]);
    let out = evident(
        &["query", s(&dir), "--agent", "a1", "--newest", "-n", "2"],
        None,
    );
    let mut newest = seqs_of(&out);
    newest.sort_unstable();
    assert_eq!(newest, [22, 28]);
    let since = rfc3339(T0 + 12 * SEC);
    let out = evident(
        &[
            "query",
            s(&dir),
            "--since",
            &since,
            "--until",
            &(T0 + 15 * SEC).to_string(),
        ],
        None,
    );
    assert_eq!(seqs_of(&out), [13, 14, 15]);

    let out = evident(&["query", s(&dir), "--agent", "a0", "--exists"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(stdout(&out).trim(), "true");
    let out = evident(&["query", s(&dir), "--agent", "nobody", "--exists"], None);
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert_eq!(stdout(&out).trim(), "false");

    // --proof: each record with its predecessor's hash, then the head they chain to.
    let out = evident(
        &[
            "query",
            s(&dir),
            "--from-seq",
            "5",
            "--to-seq",
            "6",
            "--proof",
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = json_lines(&out);
    assert_eq!(v.len(), 3, "{}", describe(&out));
    assert_eq!(v[0]["seq"], 5);
    assert_eq!(v[0]["prev_hash"], receipts[3].hash.to_hex());
    assert_eq!(v[1]["prev_hash"], receipts[4].hash.to_hex());
    // The head is a checkpoint at or after the last record returned, which verify proves.
    let head_seq = v[2]["head"]["seq"].as_u64().unwrap();
    assert!((6..=30).contains(&head_seq), "{}", v[2]);
    assert_eq!(
        v[2]["head"]["hash"],
        receipts[head_seq as usize - 1].hash.to_hex()
    );
    let cp_file = dir.with_file_name("proof-head.json");
    std::fs::write(&cp_file, v[2]["head"].to_string()).unwrap();
    let out = evident(
        &["verify", s(&dir), "-q", "--checkpoint", s(&cp_file)],
        None,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));

    let out = evident(&["stats", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = one_json(&out);
    assert_eq!(v["records"], 30, "{v}");
    assert_eq!(v["raw"], 20, "{v}");
    assert_eq!(v["by_kind"], serde_json::json!({"exec.denied": 10}), "{v}");
    assert_eq!(v["by_agent"], serde_json::json!({"a0": 5, "a1": 5}), "{v}");
    assert_eq!(v["by_decision"], serde_json::json!({"deny": 10}), "{v}");
    assert_eq!(v["from"], rfc3339(T0));
    assert_eq!(v["to"], rfc3339(T0 + 29 * SEC));
    let out = evident(
        &[
            "stats",
            s(&dir),
            "--json",
            "--agent",
            "a1",
            "--since",
            &since,
        ],
        None,
    );
    let v = one_json(&out);
    assert_eq!(
        (v["records"].as_u64(), v["raw"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
    let out = evident(&["stats", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        stdout(&out).contains("records: 30 (20 not audit events)"),
        "{}",
        describe(&out)
    );
}

#[tokio::test]
async fn tail_prints_the_last_records() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (1..=200).map(|i| format!("t{i}").into_bytes()).collect();
    common::build(&dir, common::opts(4096), &payloads).await;
    assert!(segments(&dir).len() > 3);
    let tail = |n: &str| -> Vec<(u64, String)> {
        let out = evident(&["tail", s(&dir), "-n", n], None);
        assert_eq!(code(&out), 0, "{}", describe(&out));
        json_lines(&out)
            .iter()
            .map(|v| {
                (
                    v["seq"].as_u64().unwrap(),
                    v["payload"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        tail("3"),
        vec![
            (198, "t198".to_string()),
            (199, "t199".to_string()),
            (200, "t200".to_string())
        ]
    );
    // More than the last segment holds: earlier segments are read too.
    let got = tail("100");
    assert_eq!(
        got.iter().map(|x| x.0).collect::<Vec<_>>(),
        (101..=200).collect::<Vec<_>>()
    );
    assert_eq!(tail("1000").len(), 200);
    let out = evident(&["tail", s(&dir)], None);
    assert_eq!(json_lines(&out).len(), 10, "default is 10");
}

#[tokio::test]
async fn inspect_lists_segments() {
    let (_tmp, dir) = temp_trail();
    let payloads: Vec<Vec<u8>> = (1..=150).map(|i| format!("i{i:03}").into_bytes()).collect();
    common::build(&dir, common::opts(4096), &payloads).await;
    let segs = segments(&dir);
    let out = evident(&["inspect", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = one_json(&out);
    let rows = v["segments"].as_array().unwrap();
    assert_eq!(rows.len(), segs.len());
    let mut next_first = 1;
    for (i, (row, name)) in rows.iter().zip(&segs).enumerate() {
        assert_eq!(row["file"], name.as_str());
        assert_eq!(row["first_seq"], next_first, "{row}");
        assert_eq!(
            row["bytes"],
            std::fs::metadata(dir.join(name)).unwrap().len()
        );
        let last = i + 1 == rows.len();
        assert_eq!(row["sealed"], !last, "{row}");
        if !last {
            let l = row["last_seq"].as_u64().unwrap();
            assert_eq!(
                row["records"].as_u64().unwrap(),
                l - next_first + 1,
                "{row}"
            );
            next_first = l + 1;
        }
    }
    assert_eq!(v["checkpoint"]["seq"], 150);
    assert_eq!(v["writer_active"], false);
    assert_eq!(v["state"], "intact, head seq 150");

    // With a writer holding the lock, inspect says so and does not judge the tail.
    let trail = Trail::open(&dir, common::opts(4096)).await.unwrap();
    let out = evident(&["inspect", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = one_json(&out);
    assert_eq!(v["writer_active"], true);
    assert_eq!(v["state"], "unknown");
    trail.close().await.unwrap();

    let out = evident(&["inspect", s(&dir)], None);
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).contains(&segs[0]), "{}", describe(&out));
    assert!(
        stdout(&out).contains("head.checkpoint: seq 150"),
        "{}",
        describe(&out)
    );
}

#[test]
fn recover_on_a_clean_trail_changes_nothing() {
    let (_tmp, dir) = temp_trail();
    let lines: Vec<String> = (1..=5).map(|i| format!("clean {i}")).collect();
    append_raw(&dir, &lines, &[]);
    let before = read_all(&dir);
    let out = evident(&["recover", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        stdout(&out).contains("recovered: clean end"),
        "{}",
        describe(&out)
    );
    assert!(stdout(&out).contains("head: seq 5"), "{}", describe(&out));
    let out = evident(&["recover", s(&dir), "--json"], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = one_json(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["head"]["seq"], 5);
    assert_eq!(v["removed_files"], serde_json::json!([]));
    assert_eq!(read_all(&dir), before);
    assert_eq!(code(&evident(&["verify", s(&dir), "-q"], None)), 0);
}

#[test]
fn append_prints_seqs_in_input_order_and_stores_lines_in_order() {
    let (_tmp, dir) = temp_trail();
    let lines: Vec<String> = (1..=3000).map(|i| format!("ordered {i}")).collect();
    let seqs = append_raw(&dir, &lines, &[]);
    assert_eq!(seqs.len(), 3000);
    if let Some(i) = (0..seqs.len()).find(|&i| seqs[i] != i as u64 + 1) {
        panic!(
            "line {} was printed as seq {} (near: {:?})",
            i + 1,
            seqs[i],
            &seqs[i.saturating_sub(3)..(i + 4).min(seqs.len())]
        );
    }
    let records = read_all(&dir);
    assert_eq!(records.len(), 3000);
    for (rec, line) in records.iter().zip(&lines) {
        assert_eq!(
            rec.payload,
            line.as_bytes(),
            "seq {} holds {:?}",
            rec.seq,
            String::from_utf8_lossy(&rec.payload)
        );
    }
    // --json receipts, and a second run continues the numbering.
    let out = evident(
        &["append", s(&dir), "--raw", "--json", "--durability", "os"],
        Some(b"x\ny\n"),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let v = json_lines(&out);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[0]["seq"].as_u64(), v[1]["seq"].as_u64()),
        (Some(3001), Some(3002))
    );
    let records = read_all(&dir);
    assert_eq!(v[1]["hash"], records[3001].hash.to_hex());
    assert_eq!(v[1]["ts"], records[3001].ts);
}

#[test]
fn append_stops_at_a_malformed_json_line_or_skips_it() {
    let (_tmp, dir) = temp_trail();
    let event = AuditEvent {
        agent_id: "agent-7".into(),
        correlation_id: "req-1".into(),
        body: EventBody::ToolCall {
            tool_name: "web.search".into(),
            call_id: "call_1".into(),
            operation: "execute_tool".into(),
            decision: Decision::Allow,
            policy: None,
            anomalies: vec![],
            latency_ms: 12,
            upstream_status: Some(200),
            arguments: None,
            arguments_hash: None,
        },
    };
    let canonical = String::from_utf8(event.to_json()).unwrap();
    // The same event with extra spaces: stored in canonical form.
    let spaced = canonical.replace(',', " , ");
    let input = format!("{{\"a\": 1}}\nnot json at all\n{spaced}\n[1, 2]\n{{\"open\": \n");
    // By default the stream stops at the first line that is not JSON: nothing after it.
    let out = evident(&["append", s(&dir)], Some(input.as_bytes()));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("stopped at input line 2"), "{err}");
    assert!(!err.contains("line 5"), "{err}");
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["1"]);
    assert_eq!(read_all(&dir).len(), 1);
    // With `--on-bad-line skip` the good lines are kept and the skipped ones reported.
    let (_tmp2, dir) = temp_trail();
    let out = evident(
        &["append", s(&dir), "--on-bad-line", "skip"],
        Some(input.as_bytes()),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("input line 2 skipped"), "{err}");
    assert!(err.contains("input line 5 skipped"), "{err}");
    assert!(
        err.contains("2 input line(s) skipped (--on-bad-line skip): 2, 5"),
        "{err}"
    );
    assert!(!err.contains("line 3"), "{err}");
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["1", "2", "3"]);
    let payloads: Vec<String> = read_all(&dir)
        .into_iter()
        .map(|r| String::from_utf8(r.payload).unwrap())
        .collect();
    assert_eq!(payloads, [r#"{"a":1}"#, canonical.as_str(), "[1,2]"]);
    assert_eq!(code(&evident(&["verify", s(&dir), "-q"], None)), 0);
}

#[test]
fn append_stops_at_an_oversized_line_or_skips_it() {
    let (_tmp, dir) = temp_trail();
    let big = "x".repeat((1 << 20) + 1);
    let input = format!("first\n{big}\nthird\n");
    let out = evident(&["append", s(&dir), "--raw"], Some(input.as_bytes()));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let err = stderr(&out);
    assert!(err.contains("stopped at input line 2"), "{err}");
    assert!(err.contains("payload limit of 1048576 bytes"), "{err}");
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["1"]);
    let payloads: Vec<Vec<u8>> = read_all(&dir).into_iter().map(|r| r.payload).collect();
    assert_eq!(
        payloads,
        [b"first".to_vec()],
        "nothing after the oversized line"
    );
    // Skipped on request: only that line is left out.
    let (_tmp2, dir) = temp_trail();
    let out = evident(
        &["append", s(&dir), "--raw", "--on-bad-line", "skip"],
        Some(input.as_bytes()),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), ["1", "2"]);
    let payloads: Vec<Vec<u8>> = read_all(&dir).into_iter().map(|r| r.payload).collect();
    assert_eq!(payloads, [b"first".to_vec(), b"third".to_vec()]);
}

#[tokio::test]
async fn append_to_a_locked_trail_is_an_operational_error() {
    let (_tmp, dir) = temp_trail();
    let trail = Trail::open(&dir, Default::default()).await.unwrap();
    let out = evident(&["append", s(&dir), "--raw"], Some(b"x\n"));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(stderr(&out).contains("already open"), "{}", describe(&out));
    let out = evident(&["repair", s(&dir)], None);
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert_eq!(trail.close().await.unwrap().seq, 0);
}

#[test]
fn missing_directory_is_an_operational_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    for sub in [
        "verify", "head", "export", "query", "stats", "tail", "inspect", "recover", "repair",
    ] {
        let out = evident(&[sub, s(&missing)], None);
        assert_eq!(code(&out), 1, "{sub}: {}", describe(&out));
        assert!(stderr(&out).contains("nope"), "{sub}: {}", describe(&out));
    }
    assert!(!missing.exists(), "no command created the directory");
}

#[test]
fn bad_usage_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = s(tmp.path());
    for args in [
        vec!["verify", dir, "--bogus"],
        vec!["frobnicate"],
        vec![],
        vec!["verify"],
        vec!["append", dir, "--durability", "sometimes"],
        vec!["tail", dir, "-n", "many"],
        vec!["recover", dir, "--mode", "yolo"],
    ] {
        let out = evident(&args, None);
        assert_eq!(code(&out), 2, "{args:?}: {}", describe(&out));
        assert!(
            !stderr(&out).is_empty(),
            "{args:?}: usage errors are explained"
        );
    }
    let out = evident(&["verify", dir, "--bogus"], None);
    assert!(stderr(&out).contains("--bogus"), "{}", describe(&out));
}
