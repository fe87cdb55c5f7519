//! The C2SP text formats: checkpoint bodies, notes, inclusion bundles and evident's
//! consistency files. Round trips, strict parsing, and the mutation rule: every one-byte
//! change (or deletion) of a bundle or consistency file makes the check fail, with a reason.

use evident_core::hash::{payload_hash, Hash};
use evident_core::tree::{
    check_bundle, check_consistency_file, consistency_proof, format_bundle, inclusion_proof,
    parse_bundle, prove_bundle, prove_consistency_file, root_at, BundleError, MemoryTree, Note,
    NoteSigner, ProofError, RecordExtra, TreeCheckpoint,
};
use proptest::prelude::*;

const ORIGIN: &str = "evident/00112233445566778899aabbccddeeff";

struct Log {
    tree: MemoryTree,
    records: Vec<RecordExtra>,
}

fn log(n: u64, keep_payload: bool) -> Log {
    let mut tree = MemoryTree::new();
    let mut records = Vec::new();
    for seq in 1..=n {
        let payload = format!("{{\"action\":\"step {seq}\"}}");
        let r = RecordExtra::of_record(
            1,
            seq,
            1_700_000_000 + seq,
            payload.as_bytes(),
            keep_payload,
        );
        tree.push_leaf(&r.leaf());
        records.push(r);
    }
    Log { tree, records }
}

fn checkpoint(log: &Log, size: u64) -> TreeCheckpoint {
    let c = TreeCheckpoint::new(ORIGIN, size, root_at(size, &log.tree).unwrap()).unwrap();
    let mut range = evident_core::tree::CompactRange::new();
    for r in &log.records[..size as usize] {
        range.push_leaf(&r.leaf());
    }
    assert_eq!(TreeCheckpoint::of_range(ORIGIN, &range).unwrap(), c);
    c
}

fn bundle(log: &Log, seq: u64, size: u64) -> String {
    let proof = inclusion_proof(seq - 1, size, &log.tree).unwrap();
    let note = checkpoint(log, size).unsigned_note().unwrap();
    prove_bundle(&log.records[seq as usize - 1], seq - 1, &proof, &note).unwrap()
}

struct FakeSigner(&'static str);

impl NoteSigner for FakeSigner {
    fn name(&self) -> &str {
        self.0
    }
    fn key_id(&self) -> u32 {
        0x0102_0304
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, String> {
        Ok(blake3::hash(text).as_bytes().to_vec())
    }
}

#[test]
fn checkpoint_body_is_three_strict_lines() {
    let c = TreeCheckpoint::new("example.com/log", 20852163, Hash([0xab; 32])).unwrap();
    let body = c.body();
    assert_eq!(
        body,
        "example.com/log\n20852163\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n"
    );
    assert_eq!(TreeCheckpoint::parse_body(&body).unwrap(), c);
    // The spec's example parses.
    let spec =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(TreeCheckpoint::parse_body(spec).unwrap().size, 20852163);
    for (bad, line) in [
        (
            "example.com/log\n020852163\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
            2,
        ),
        (
            "example.com/log\n+1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
            2,
        ),
        (
            "example.com/log\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6t=\n",
            3,
        ),
        (
            "example.com/log\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s\n",
            3,
        ),
        (
            "example.com/log\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\next\n",
            4,
        ),
        (
            "example.com/log\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
            0,
        ),
        ("example.com/log\n1\n", 3),
        (
            "example com\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
            1,
        ),
        ("\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n", 1),
        ("a+b\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n", 1),
        (
            "example.com/log\n18446744073709551616\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
            2,
        ),
    ] {
        let err = TreeCheckpoint::parse_body(bad).unwrap_err();
        assert_eq!(err.line, line, "{bad:?}: {err}");
    }
}

#[test]
fn notes_keep_signature_lines_verbatim() {
    let c = TreeCheckpoint::new(ORIGIN, 3, Hash([1; 32])).unwrap();
    let unsigned = c.unsigned_note().unwrap();
    assert_eq!(unsigned.to_text(), c.body());
    assert_eq!(Note::parse(c.body().as_bytes()).unwrap(), unsigned);
    let signed = c
        .signed_note(&[&FakeSigner(ORIGIN), &FakeSigner("witness.example")])
        .unwrap();
    let text = signed.to_text();
    assert!(
        text.starts_with(&format!("{}\n\u{2014} {ORIGIN} AQIDB", c.body())),
        "{text}"
    );
    let again = Note::parse(text.as_bytes()).unwrap();
    assert_eq!(again, signed);
    assert_eq!(again.to_text(), text);
    assert_eq!(again.signatures()[1].name, "witness.example");
    assert_eq!(again.signatures()[1].key_id, 0x0102_0304);
    assert_eq!(
        again.signatures()[1].signature,
        blake3::hash(c.body().as_bytes()).as_bytes()
    );
    assert_eq!(TreeCheckpoint::parse_note(text.as_bytes()).unwrap().0, c);
    // The spec's example note parses (text with an empty line, one signature).
    let spec = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let n = Note::parse(spec.as_bytes()).unwrap();
    assert_eq!(n.signatures().len(), 1);
    assert!(n.text().ends_with("sera.\n"));
    for bad in [
        format!("{}\n", c.body()),
        format!("{}\n- {ORIGIN} AQIDBAU=\n", c.body()),
        format!("{}\n\u{2014} {ORIGIN} AQID\n", c.body()),
        format!("{}\n\u{2014} {ORIGIN}AQIDBAU=\n", c.body()),
        format!("{}\n\u{2014} {ORIGIN} AQIDBAU=", c.body()),
        format!("{}\r\n", c.body()),
        "a\u{1}\n".to_string(),
    ] {
        assert!(Note::parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert!(Note::parse(b"\xff\n").is_err());
    let many = format!("{}\n{}", c.body(), "\u{2014} k AQIDBAU=\n".repeat(65));
    assert!(Note::parse(many.as_bytes())
        .unwrap_err()
        .reason
        .contains("more than 64"));
    assert!(Note::unsigned("a\n\nb\n").is_err());
}

#[test]
fn bundles_verify_and_say_what_they_prove() {
    let l = log(300, true);
    for (seq, size) in [(1, 1), (1, 300), (150, 300), (300, 300), (7, 9)] {
        let text = bundle(&l, seq, size);
        let b = check_bundle(text.as_bytes()).unwrap();
        assert_eq!(
            (b.seq, b.index, b.size, b.origin.as_str()),
            (seq, seq - 1, size, ORIGIN)
        );
        let payload = format!("{{\"action\":\"step {seq}\"}}");
        assert_eq!(b.payload.as_deref(), Some(payload.as_bytes()));
        assert_eq!(b.payload_hash, payload_hash(payload.as_bytes()));
        assert_eq!(b.ts, 1_700_000_000 + seq);
        assert_eq!(
            parse_bundle(text.as_bytes()).unwrap().proof.len(),
            inclusion_proof(seq - 1, size, &l.tree).unwrap().len()
        );
    }
    // Without the payload the bundle still proves the payload hash and position.
    let hidden = log(20, false);
    let b = check_bundle(bundle(&hidden, 5, 20).as_bytes()).unwrap();
    assert_eq!(b.payload, None);
    assert_eq!(b.payload_hash, payload_hash(b"{\"action\":\"step 5\"}"));
}

#[test]
fn wrong_bundles_are_clear_errors() {
    let l = log(10, true);
    let size = 10;
    let note = checkpoint(&l, size).unsigned_note().unwrap();
    let proof = inclusion_proof(3, size, &l.tree).unwrap();
    // A proof for another record.
    let err = prove_bundle(&l.records[4], 4, &proof, &note).unwrap_err();
    assert!(
        matches!(err, BundleError::Proof(ProofError::RootMismatch { .. })),
        "{err}"
    );
    // seq beyond the tree.
    let mut r = l.records[3].clone();
    r.seq = 11;
    let err = prove_bundle(&r, 10, &proof, &note).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::Proof(ProofError::IndexBeyondSize {
                index: 10,
                size: 10
            })
        ),
        "{err}"
    );
    // Seq and index disagree.
    let err = prove_bundle(&l.records[3], 4, &proof, &note).unwrap_err();
    assert_eq!(err, BundleError::SeqNotIndex { seq: 4, index: 4 });
    // A proof against another log's checkpoint (another tree of the same size).
    let mut other_tree = MemoryTree::new();
    for i in 0..size {
        other_tree.push_leaf(&Hash([i as u8; 32]));
    }
    let other =
        TreeCheckpoint::new("evident/other", size, root_at(size, &other_tree).unwrap()).unwrap();
    let err = prove_bundle(&l.records[3], 3, &proof, &other.unsigned_note().unwrap()).unwrap_err();
    assert!(
        matches!(err, BundleError::Proof(ProofError::RootMismatch { .. })),
        "{err}"
    );
    // A bundle whose checkpoint origin or size line was edited names another log or size
    // than its extra.
    let good = prove_bundle(&l.records[3], 3, &proof, &note).unwrap();
    let edited = good.replace(&format!("\n{ORIGIN}\n"), "\nevident/other\n");
    let err = check_bundle(edited.as_bytes()).unwrap_err();
    assert!(matches!(err, BundleError::OriginMismatch { .. }), "{err}");
    let edited = good.replace(&format!("\n{ORIGIN}\n10\n"), &format!("\n{ORIGIN}\n11\n"));
    let err = check_bundle(edited.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        BundleError::SizeMismatch {
            extra: 10,
            checkpoint: 11
        }
    );
    // A payload that is not the one hashed.
    let mut r = l.records[3].clone();
    r.payload = Some(b"forged".to_vec());
    let err = prove_bundle(&r, 3, &proof, &note).unwrap_err();
    assert!(matches!(err, BundleError::PayloadMismatch { .. }), "{err}");
    // Wrong size: the checkpoint of another size.
    let note9 = checkpoint(&l, 9).unsigned_note().unwrap();
    assert!(matches!(
        prove_bundle(&l.records[3], 3, &proof, &note9).unwrap_err(),
        BundleError::Proof(_)
    ));
    for bad in [
        "",
        "c2sp.org/tlog-proof@v1\n",
        "c2sp.org/tlog-proof@v1\nindex 0\n\n",
    ] {
        let err = check_bundle(bad.as_bytes()).unwrap_err();
        assert!(matches!(err, BundleError::Syntax { .. }), "{bad:?}: {err}");
    }
}

/// Every one-byte change (each position, a set of values) and every one-byte deletion fails.
fn assert_every_mutation_fails(text: &str, check: &dyn Fn(&[u8]) -> Result<(), BundleError>) {
    let bytes = text.as_bytes();
    check(bytes).unwrap();
    let mut failures = 0usize;
    for i in 0..bytes.len() {
        let mut values: Vec<u8> = vec![
            bytes[i] ^ 1,
            bytes[i] ^ 0x20,
            bytes[i] ^ 0x80,
            b'0',
            b'A',
            b'\n',
            b' ',
            b'=',
            b'/',
            b'+',
            0,
        ];
        values.extend((0..8).map(|b| bytes[i] ^ (1 << b)));
        for v in values {
            if v == bytes[i] {
                continue;
            }
            let mut m = bytes.to_vec();
            m[i] = v;
            let err = check(&m).expect_err(&format!(
                "byte {i} {:?} -> {:?} still verifies",
                bytes[i] as char, v as char
            ));
            assert!(!err.to_string().is_empty());
            failures += 1;
        }
        let mut d = bytes.to_vec();
        d.remove(i);
        assert!(check(&d).is_err(), "deleting byte {i} still verifies");
    }
    assert!(failures > bytes.len() * 10);
}

#[test]
fn every_one_byte_change_to_a_bundle_fails() {
    let l = log(13, true);
    for (seq, size) in [(6, 13), (1, 1), (13, 13)] {
        assert_every_mutation_fails(&bundle(&l, seq, size), &|b| check_bundle(b).map(|_| ()));
    }
    let hidden = log(5, false);
    assert_every_mutation_fails(&bundle(&hidden, 2, 5), &|b| check_bundle(b).map(|_| ()));
}

fn consistency_file(l: &Log, old: u64, new: u64) -> String {
    let proof = consistency_proof(old, new, &l.tree).unwrap();
    let o = checkpoint(l, old).unsigned_note().unwrap();
    let n = checkpoint(l, new).unsigned_note().unwrap();
    prove_consistency_file(&proof, &o, &n).unwrap()
}

#[test]
fn consistency_files_verify_and_every_one_byte_change_fails() {
    let l = log(40, true);
    for (old, new) in [(1, 40), (13, 40), (32, 40), (40, 40), (7, 8)] {
        let text = consistency_file(&l, old, new);
        let c = check_consistency_file(text.as_bytes()).unwrap();
        assert_eq!(
            (c.old_size, c.new_size, c.origin.as_str()),
            (old, new, ORIGIN)
        );
    }
    assert_every_mutation_fails(&consistency_file(&l, 13, 40), &|b| {
        check_consistency_file(b).map(|_| ())
    });
    // Signed notes (signatures kept verbatim) parse too.
    let proof = consistency_proof(5, 9, &l.tree).unwrap();
    let o = checkpoint(&l, 5)
        .signed_note(&[&FakeSigner(ORIGIN)])
        .unwrap();
    let n = checkpoint(&l, 9)
        .signed_note(&[&FakeSigner(ORIGIN), &FakeSigner("w.example")])
        .unwrap();
    let text = prove_consistency_file(&proof, &o, &n).unwrap();
    let c = check_consistency_file(text.as_bytes()).unwrap();
    assert_eq!((c.old_note, c.new_note), (o, n));
    // Old newer than new, other logs: clear errors.
    let o = checkpoint(&l, 9).unsigned_note().unwrap();
    let n = checkpoint(&l, 5).unsigned_note().unwrap();
    let err = prove_consistency_file(&[], &o, &n).unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::Proof(ProofError::OldBeyondNew { old: 9, new: 5 })
        ),
        "{err}"
    );
    let other = TreeCheckpoint::new("evident/other", 9, checkpoint(&l, 9).root).unwrap();
    let err = prove_consistency_file(
        &proof,
        &checkpoint(&l, 5).unsigned_note().unwrap(),
        &other.unsigned_note().unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, BundleError::OriginMismatch { .. }), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn extra_round_trips(kind in any::<u8>(), seq in any::<u64>(), ts in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..300), keep in any::<bool>(), origin in "[a-z./0-9]{1,255}") {
        let mut r = RecordExtra::of_record(kind, seq, ts, &payload, keep);
        r.origin = origin;
        r.tree_size = seq ^ ts;
        let bytes = r.encode().unwrap();
        prop_assert_eq!(RecordExtra::decode(&bytes).unwrap(), r.clone());
        for cut in 0..bytes.len() {
            prop_assert!(RecordExtra::decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(RecordExtra::decode(&longer).is_err());
    }

    #[test]
    fn checkpoint_and_note_round_trip(origin in "[a-zA-Z0-9./_-]{1,100}", size in any::<u64>(), root in any::<[u8; 32]>()) {
        let c = TreeCheckpoint::new(&origin, size, Hash(root)).unwrap();
        prop_assert_eq!(TreeCheckpoint::parse_body(&c.body()).unwrap(), c.clone());
        let signed = c.signed_note(&[&FakeSigner("a.example")]).unwrap();
        let (again, note) = TreeCheckpoint::parse_note(signed.to_text().as_bytes()).unwrap();
        prop_assert_eq!(again, c);
        prop_assert_eq!(note.to_text(), signed.to_text());
    }

    #[test]
    fn arbitrary_text_never_panics_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = check_bundle(&bytes);
        let _ = check_consistency_file(&bytes);
        let _ = Note::parse(&bytes);
        let _ = RecordExtra::decode(&bytes);
    }
}

#[test]
fn format_bundle_without_checking_writes_what_parse_reads() {
    let l = log(4, true);
    let note = checkpoint(&l, 4).unsigned_note().unwrap();
    let proof = inclusion_proof(2, 4, &l.tree).unwrap();
    let text = format_bundle(&l.records[2], 2, &proof, &note).unwrap();
    let b = parse_bundle(text.as_bytes()).unwrap();
    let mut want = l.records[2].clone();
    (want.origin, want.tree_size) = (ORIGIN.to_string(), 4);
    assert_eq!((b.extra, b.index, b.proof, b.note), (want, 2, proof, note));
}
