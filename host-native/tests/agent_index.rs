//! The agent index with real files and real processes: `evident append` killed with SIGKILL
//! while it writes many segments, then agent queries (library and CLI) equal a brute-force scan;
//! a deleted or damaged index file is rebuilt by the next query and never changes an answer.

mod common;

use common::{evident, temp_trail, BIN};
use evident_native::core::query::QuerySpec;
use evident_native::core::{AuditEvent, EventBody};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn line(i: u64) -> String {
    let k = (i * 7 + i / 13) % 9; // a skewed but deterministic share
    let agent = if i % 500 == 250 {
        "rare".to_string()
    } else {
        format!("agent-{}", k.min(4))
    };
    String::from_utf8(
        AuditEvent {
            agent_id: agent,
            correlation_id: format!("c{i}"),
            body: EventBody::Custom {
                name: "n".repeat((i % 70) as usize),
                data: serde_json::Value::Null,
            },
        }
        .to_json(),
    )
    .unwrap()
}

fn brute(dir: &Path, agent: &str) -> Vec<u64> {
    let all = evident_native::query::query(dir, QuerySpec::default()).unwrap();
    all.records
        .iter()
        .filter(|f| AuditEvent::from_json(&f.payload).is_ok_and(|e| e.agent_id == agent))
        .map(|f| f.seq)
        .collect()
}

fn by_index(dir: &Path, agent: &str) -> Vec<u64> {
    let spec = QuerySpec {
        agent: Some(agent.into()),
        ..QuerySpec::default()
    };
    evident_native::query::query(dir, spec)
        .unwrap()
        .records
        .iter()
        .map(|f| f.seq)
        .collect()
}

fn indexes(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".agents"))
        .collect();
    v.sort();
    v
}

#[test]
fn after_kill_9_agent_queries_equal_a_scan_and_damaged_indexes_are_rebuilt() {
    let (_tmp, dir) = temp_trail();
    let d = dir.to_str().unwrap();
    let mut child = Command::new(BIN)
        .args(["append", d, "--segment-bytes", "8192", "--durability", "os"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut input = String::new();
    for i in 0..3000 {
        input.push_str(&line(i));
        input.push('\n');
    }
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // Wait for many sealed segments, then kill the writer mid-stream (stdin still open).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while indexes(&dir).len() < 20 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
    drop(stdin);
    assert!(
        indexes(&dir).len() >= 20,
        "the writer sealed segments with indexes"
    );
    for agent in ["agent-0", "agent-3", "rare", "nobody"] {
        assert_eq!(by_index(&dir, agent), brute(&dir, agent), "{agent}");
    }
    // The CLI answers the same, and --exists says so.
    let out = evident(&["query", d, "--agent", "rare"], None);
    assert!(out.status.success());
    let seqs: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, brute(&dir, "rare"));
    assert!(evident(&["query", d, "--agent", "rare", "--exists"], None)
        .status
        .success());
    assert!(
        !evident(&["query", d, "--agent", "nobody", "--exists"], None)
            .status
            .success()
    );

    // Delete one index, damage another, cut a third: same answers, and the files come back
    // as the writer wrote them.
    let files = indexes(&dir);
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    std::fs::remove_file(&files[1]).unwrap();
    let mut bytes = originals[5].clone();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x10;
    std::fs::write(&files[5], bytes).unwrap();
    std::fs::write(&files[9], &originals[9][..originals[9].len() / 2]).unwrap();
    for agent in ["agent-0", "agent-3", "rare"] {
        assert_eq!(
            by_index(&dir, agent),
            brute(&dir, agent),
            "{agent} after damage"
        );
    }
    for (f, o) in files.iter().zip(&originals) {
        assert_eq!(&std::fs::read(f).unwrap(), o, "{} rebuilt", f.display());
    }
    // And the trail still verifies (the index files are explained names).
    assert!(evident(&["verify", d], None).status.success());
}
