//! `evident checkpoint`, `evident prove`, `evident check-proof`, `query --proof` and
//! `verify --checkpoint` with a C2SP checkpoint: end to end through the binary, with the
//! trail's tiles tampered with or removed.

mod common;

use common::{code, describe, evident, read_all, s, temp_trail};
use evident_native::{AuditEvent, Decision, EventBody};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn event(i: usize) -> AuditEvent {
    AuditEvent {
        agent_id: format!("agent-{}", i % 3),
        correlation_id: format!("req-{i}"),
        body: EventBody::ToolCall {
            tool_name: "web.search".into(),
            call_id: format!("call_{i}"),
            operation: "execute_tool".into(),
            decision: Decision::Allow,
            policy: None,
            anomalies: vec![],
            latency_ms: i as u64,
            upstream_status: Some(200),
            arguments: None,
            arguments_hash: None,
        },
    }
}

/// Appends events `from..to` with `evident append` (small segments, so a trail spans several).
fn append_events(dir: &Path, from: usize, to: usize) {
    let mut input = String::new();
    for i in from..to {
        input.push_str(&String::from_utf8(event(i).to_json()).unwrap());
        input.push('\n');
    }
    let out = evident(
        &["append", s(dir), "--segment-bytes", "16384"],
        Some(input.as_bytes()),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

/// `evident ARGS`, expecting exit 0; its stdout.
fn ok(args: &[&str]) -> String {
    let out = evident(args, None);
    assert_eq!(code(&out), 0, "{args:?}\n{}", describe(&out));
    stdout(&out)
}

/// `evident ARGS`, expecting exit `want`; its stderr (and stdout, where `verify` reports).
fn fails(args: &[&str], want: i32) -> String {
    let out = evident(args, None);
    assert_eq!(code(&out), want, "{args:?}\n{}", describe(&out));
    stderr(&out) + &stdout(&out)
}

fn checkpoint_note(dir: &Path) -> String {
    ok(&["checkpoint", s(dir)])
}

fn origin(dir: &Path) -> String {
    checkpoint_note(dir).lines().next().unwrap().to_string()
}

fn prove_to(dir: &Path, seq: u64, extra: &[&str], file: &Path) {
    let seq = seq.to_string();
    let mut args = vec!["prove", s(dir), "--seq", &seq, "-o", s(file)];
    args.extend_from_slice(extra);
    ok(&args);
}

fn check_json(file: &Path) -> Value {
    serde_json::from_str(&ok(&["check-proof", s(file), "--json"])).unwrap()
}

/// Files under the trail's `tile/` directory.
fn tile_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.file_name().is_some_and(|n| n != "size") {
                // `tile/size` is the writer's resume hint, not a tile.
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("tile"), &mut out);
    out.sort();
    out
}

#[test]
fn checkpoint_prove_and_check_proof_round_trip() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 300);
    let note = checkpoint_note(&dir);
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines.len(), 3, "{note}");
    assert!(lines[0].starts_with("evident/"), "{note}");
    assert_eq!(lines[1], "300");
    assert!(note.ends_with('\n') && !note.contains('\r'));
    let j: Value = serde_json::from_str(&ok(&["checkpoint", s(&dir), "--json"])).unwrap();
    assert_eq!(j["size"], 300);
    assert_eq!(j["origin"], lines[0]);
    assert_eq!(j["root"], lines[2]);
    assert_eq!(j["chain"]["seq"], 300);

    let records = read_all(&dir);
    for seq in [1u64, 2, 77, 256, 257, 300] {
        let file = tmp.path().join(format!("b{seq}"));
        prove_to(&dir, seq, &[], &file);
        let bundle = std::fs::read_to_string(&file).unwrap();
        assert!(bundle.starts_with("c2sp.org/tlog-proof@v1\n"), "{bundle}");
        assert!(
            bundle.ends_with(&note),
            "the bundle ends with the checkpoint verbatim"
        );
        let v = check_json(&file);
        assert_eq!(v["seq"], seq);
        assert_eq!(v["tree_size"], 300);
        assert_eq!(v["ts"], records[seq as usize - 1].ts);
        let want: Value = serde_json::from_slice(&records[seq as usize - 1].payload).unwrap();
        assert_eq!(v["event"], want, "the event is printed as JSON");
        let text = ok(&["check-proof", s(&file)]);
        assert!(
            text.starts_with(&format!("ok: record seq {seq} ")),
            "{text}"
        );
    }
    // Without the payload: still proves the record's hash and position.
    let file = tmp.path().join("bare");
    prove_to(&dir, 5, &["--no-payload"], &file);
    let v = check_json(&file);
    assert_eq!(v["seq"], 5);
    assert!(v.get("event").is_none(), "{v}");
    assert_eq!(v["payload_included"], false);
    // To stdout, the same bytes as to a file.
    let out = ok(&["prove", s(&dir), "--seq", "77"]);
    assert_eq!(
        out,
        std::fs::read_to_string(tmp.path().join("b77")).unwrap()
    );
}

#[test]
fn every_one_byte_change_to_a_bundle_fails_with_a_reason() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 40);
    let origin = origin(&dir);
    let file = tmp.path().join("bundle");
    prove_to(&dir, 13, &["--no-payload"], &file);
    let good = std::fs::read(&file).unwrap();
    // The checkpoint the checker trusts (fetched from the log itself): without a signature,
    // it is what ties the bundle's checkpoint lines to the log.
    let trusted = tmp.path().join("trusted");
    std::fs::write(&trusted, checkpoint_note(&dir)).unwrap();
    ok(&["check-proof", s(&file), "--checkpoint", s(&trusted)]);
    ok(&["check-proof", s(&file), "--origin", &origin]);
    let bad = tmp.path().join("bad");
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x01;
        std::fs::write(&bad, &b).unwrap();
        // The bundle alone (its extra repeats the checkpoint's origin and size), and
        // against the checkpoint the checker trusts.
        let alone = evident(&["check-proof", s(&bad)], None);
        assert_eq!(code(&alone), 3, "byte {i} alone: {}", describe(&alone));
        let out = evident(&["check-proof", s(&bad), "--checkpoint", s(&trusted)], None);
        assert_eq!(
            code(&out),
            3,
            "byte {i} ({:?} -> {:?}) changed, yet: {}",
            good[i] as char,
            b[i] as char,
            describe(&out)
        );
        let err = stderr(&out);
        assert!(err.contains(s(&bad)), "the file is named: {err}");
        assert!(err.trim().len() > 20, "a reason is given: {err}");
    }
}

#[test]
fn wrong_size_seq_beyond_the_tree_and_another_log_are_clear_errors() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 20);
    let err = fails(&["prove", s(&dir), "--seq", "21"], 1);
    assert!(err.contains("seq 21") && err.contains("size 20"), "{err}");
    let err = fails(&["prove", s(&dir), "--seq", "0"], 1);
    assert!(err.contains("seq 0"), "{err}");
    let err = fails(&["prove", s(&dir), "--seq", "3", "--size", "21"], 1);
    assert!(err.contains("size 21") && err.contains("20"), "{err}");
    let err = fails(&["prove", s(&dir), "--seq", "3", "--size", "0"], 1);
    assert!(err.contains("size 0"), "{err}");
    let err = fails(&["prove", s(&dir), "--seq", "10", "--size", "9"], 1);
    assert!(err.contains("seq 10") && err.contains("size 9"), "{err}");

    // A bundle of another log: its origin is not the one expected.
    let (_tmp2, other) = temp_trail();
    append_events(&other, 0, 20);
    let file = tmp.path().join("theirs");
    prove_to(&other, 3, &[], &file);
    let ours = origin(&dir);
    let err = fails(&["check-proof", s(&file), "--origin", &ours], 3);
    assert!(err.contains("another log") && err.contains(&ours), "{err}");
    // A checkpoint of another log cannot be proven consistent with this one.
    let cp = tmp.path().join("their.checkpoint");
    std::fs::write(&cp, checkpoint_note(&other)).unwrap();
    let err = fails(&["prove", s(&dir), "--consistency", s(&cp)], 3);
    assert!(err.contains("another log"), "{err}");
    // Not a proof at all.
    std::fs::write(&file, "hello\n").unwrap();
    let err = fails(&["check-proof", s(&file)], 3);
    assert!(err.contains(s(&file)) && err.contains("line 1"), "{err}");
}

#[test]
fn a_smaller_size_is_proven_through_the_head() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 600);
    let file = tmp.path().join("b");
    prove_to(&dir, 100, &["--size", "333"], &file);
    let v = check_json(&file);
    assert_eq!(v["seq"], 100);
    assert_eq!(v["tree_size"], 333);
}

#[test]
fn consistency_between_two_heads() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 100);
    let old = tmp.path().join("old.checkpoint");
    std::fs::write(&old, checkpoint_note(&dir)).unwrap();
    append_events(&dir, 100, 700);
    let proof = tmp.path().join("consistency");
    ok(&["prove", s(&dir), "--consistency", s(&old), "-o", s(&proof)]);
    let v = check_json(&proof);
    assert_eq!(v["proof"], "consistency");
    assert_eq!(v["old_size"], 100);
    assert_eq!(v["new_size"], 700);
    let text = ok(&["check-proof", s(&proof)]);
    assert!(text.contains("extends the tree of size 100"), "{text}");
    // Every one-byte change to the proof fails (against the head the checker trusts).
    let trusted = tmp.path().join("trusted");
    std::fs::write(&trusted, checkpoint_note(&dir)).unwrap();
    let good = std::fs::read(&proof).unwrap();
    let bad = tmp.path().join("bad");
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x01;
        std::fs::write(&bad, &b).unwrap();
        let out = evident(&["check-proof", s(&bad), "--checkpoint", s(&trusted)], None);
        assert_eq!(code(&out), 3, "byte {i}: {}", describe(&out));
    }
    // An old checkpoint whose root this trail never had: the trail does not extend it.
    let note = std::fs::read_to_string(&old).unwrap();
    let mut lines: Vec<String> = note.lines().map(String::from).collect();
    let mut root = lines[2].clone().into_bytes();
    root[0] = if root[0] == b'A' { b'B' } else { b'A' };
    lines[2] = String::from_utf8(root).unwrap();
    std::fs::write(&old, lines.join("\n") + "\n").unwrap();
    let err = fails(&["prove", s(&dir), "--consistency", s(&old)], 3);
    assert!(err.contains("does not extend"), "{err}");
    // An old checkpoint larger than the trail.
    lines[1] = "701".into();
    std::fs::write(&old, lines.join("\n") + "\n").unwrap();
    let err = fails(&["prove", s(&dir), "--consistency", s(&old)], 1);
    assert!(err.contains("size 701"), "{err}");
}

/// Writes the trail's genuine tiles (as the writer stores them) from its records, so the
/// tests below tamper with real tile files whatever the writer has stored so far.
fn write_genuine_tiles(dir: &Path) {
    use evident_native::core::frame::KIND_ENTRY;
    use evident_native::core::hash::{leaf_v2, payload_hash};
    use evident_native::core::tree::{leaf_node, TileBuilder};
    let mut b = TileBuilder::new();
    let mut tiles = Vec::new();
    for r in read_all(dir) {
        let leaf = leaf_v2(KIND_ENTRY, r.seq, r.ts, &payload_hash(&r.payload));
        tiles.extend(b.push_node(leaf_node(&leaf)));
    }
    tiles.extend(b.partial_tiles());
    for (id, bytes) in tiles {
        let path = dir.join(id.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn tampered_tiles_never_yield_a_proof_for_a_wrong_record() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 700);
    write_genuine_tiles(&dir);
    let tiles = tile_files(&dir);
    assert!(tiles.len() >= 4, "{tiles:?}");
    let records = read_all(&dir);
    // Every hash of every tile changed (one byte each): prove still emits correct proofs.
    for t in &tiles {
        let mut b = std::fs::read(t).unwrap();
        for h in b.chunks_mut(32) {
            h[7] ^= 0x40;
        }
        std::fs::write(t, &b).unwrap();
    }
    let note = checkpoint_note(&dir);
    for seq in [1u64, 200, 256, 511, 700] {
        let file = tmp.path().join(format!("b{seq}"));
        prove_to(&dir, seq, &[], &file);
        assert!(std::fs::read_to_string(&file).unwrap().ends_with(&note));
        let v = check_json(&file);
        assert_eq!(v["seq"], seq);
        let want: Value = serde_json::from_slice(&records[seq as usize - 1].payload).unwrap();
        assert_eq!(v["event"], want);
    }
    // One tile swapped for another tile's bytes (well-formed, wrong place): still correct.
    if tiles.len() >= 2 {
        let a = std::fs::read(&tiles[0]).unwrap();
        let b = std::fs::read(&tiles[1]).unwrap();
        std::fs::write(&tiles[0], &b[..a.len().min(b.len())]).unwrap();
        let file = tmp.path().join("swapped");
        prove_to(&dir, 3, &[], &file);
        assert_eq!(check_json(&file)["seq"], 3);
    }
}

#[test]
fn a_deleted_tile_directory_does_not_stop_prove() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 300);
    write_genuine_tiles(&dir);
    let note = checkpoint_note(&dir);
    match std::fs::remove_dir_all(dir.join("tile")) {
        Ok(()) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
    }
    assert_eq!(checkpoint_note(&dir), note);
    let file = tmp.path().join("b");
    prove_to(&dir, 299, &[], &file);
    assert_eq!(check_json(&file)["seq"], 299);
    let old = tmp.path().join("old");
    std::fs::write(&old, &note).unwrap();
    ok(&["prove", s(&dir), "--consistency", s(&old)]);
}

#[test]
fn query_proof_attaches_a_bundle_to_each_record() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 30);
    let out = ok(&["query", s(&dir), "--agent", "agent-1", "--proof"]);
    let mut n = 0;
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let Some(bundle) = v.get("bundle") else {
            assert!(v.get("head").is_some(), "{line}");
            continue;
        };
        let file = tmp.path().join(format!("q{n}"));
        std::fs::write(&file, bundle.as_str().unwrap()).unwrap();
        let c = check_json(&file);
        assert_eq!(c["seq"], v["seq"]);
        assert_eq!(c["event"], v["event"]);
        n += 1;
    }
    assert_eq!(n, 10, "{out}");
}

#[test]
fn verify_accepts_a_c2sp_checkpoint() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 50);
    let cp = tmp.path().join("c2sp.checkpoint");
    std::fs::write(&cp, checkpoint_note(&dir)).unwrap();
    append_events(&dir, 50, 80);
    ok(&["verify", s(&dir), "--checkpoint", s(&cp)]);
    // A root this trail never had at that size.
    let note = std::fs::read_to_string(&cp).unwrap();
    let mut lines: Vec<String> = note.lines().map(String::from).collect();
    let mut root = lines[2].clone().into_bytes();
    root[1] = if root[1] == b'A' { b'B' } else { b'A' };
    lines[2] = String::from_utf8(root).unwrap();
    std::fs::write(&cp, lines.join("\n") + "\n").unwrap();
    let err = fails(&["verify", s(&dir), "--checkpoint", s(&cp)], 3);
    assert!(err.contains("size 50") && err.contains("root"), "{err}");
    // Larger than the trail.
    let mut lines2: Vec<String> = note.lines().map(String::from).collect();
    lines2[1] = "81".into();
    std::fs::write(&cp, lines2.join("\n") + "\n").unwrap();
    let err = fails(&["verify", s(&dir), "--checkpoint", s(&cp)], 3);
    assert!(err.contains("81"), "{err}");
}

#[test]
fn a_forged_root_in_head_checkpoint_is_never_stated_or_proven() {
    let (_tmp, dir) = temp_trail();
    append_events(&dir, 0, 300);
    write_genuine_tiles(&dir);
    let path = dir.join("head.checkpoint");
    let text = std::fs::read_to_string(&path).unwrap();
    let root_line = text.lines().last().unwrap().to_string();
    assert!(
        root_line.starts_with("root "),
        "a format-2 head.checkpoint: {text}"
    );
    let mut forged = root_line.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    std::fs::write(
        &path,
        text.replace(&root_line, std::str::from_utf8(&forged).unwrap()),
    )
    .unwrap();
    let err = fails(&["checkpoint", s(&dir)], 3);
    assert!(err.contains("root"), "{err}");
    let err = fails(&["prove", s(&dir), "--seq", "7"], 3);
    assert!(err.contains("does not prove its own checkpoint"), "{err}");
}

#[test]
fn the_origin_set_at_creation_names_the_log_in_every_proof() {
    let (tmp, dir) = temp_trail();
    let input = String::from_utf8(event(1).to_json()).unwrap() + "\n";
    let out = evident(
        &["append", s(&dir), "--origin", "example.com/agent-audit"],
        Some(input.as_bytes()),
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(origin(&dir), "example.com/agent-audit");
    let file = tmp.path().join("b");
    prove_to(&dir, 1, &[], &file);
    assert_eq!(check_json(&file)["origin"], "example.com/agent-audit");
    ok(&[
        "check-proof",
        s(&file),
        "--origin",
        "example.com/agent-audit",
    ]);
    let err = fails(
        &["check-proof", s(&file), "--origin", "example.com/other"],
        3,
    );
    assert!(err.contains("another log"), "{err}");
}

#[test]
fn check_proof_says_when_nothing_authenticates_the_checkpoint() {
    let (tmp, dir) = temp_trail();
    append_events(&dir, 0, 10);
    let file = tmp.path().join("bundle");
    prove_to(&dir, 4, &[], &file);
    // Alone, the bundle proves only that the record is in the tree it names: exit 0, a
    // warning on stderr, and `authenticated: false` in JSON.
    let out = evident(&["check-proof", s(&file)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        stderr(&out).contains("not authenticated"),
        "{}",
        describe(&out)
    );
    assert_eq!(check_json(&file)["authenticated"], false);
    // Against a checkpoint the checker trusts: no warning.
    let trusted = tmp.path().join("trusted");
    std::fs::write(&trusted, checkpoint_note(&dir)).unwrap();
    let out = evident(
        &["check-proof", s(&file), "--checkpoint", s(&trusted)],
        None,
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        !stderr(&out).contains("not authenticated"),
        "{}",
        describe(&out)
    );
    let out = evident(
        &[
            "check-proof",
            s(&file),
            "--checkpoint",
            s(&trusted),
            "--json",
        ],
        None,
    );
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["authenticated"], true);
}
