//! The sans-IO witness decision: every tlog-witness answer, forks and rollbacks refused.

use evident_core::hash::Hash;
use evident_core::note::{open, sign_note, KeyKind, SigningKey, VerifierKey};
use evident_core::tree::{consistency_proof, root_at, MemoryTree};
use evident_core::witness::{check_request, AddCheckpoint, LogState, Refusal};

const ORIGIN: &str = "example.com/witnessed";

fn log_key() -> SigningKey {
    SigningKey::from_seed(ORIGIN, KeyKind::Ed25519, &[11; 32]).unwrap()
}

fn witness_key() -> SigningKey {
    SigningKey::from_seed("witness.example/w", KeyKind::CosignatureV1, &[12; 32]).unwrap()
}

/// A tree of `n` entries, entry i's leaf derived from (`fork`, i).
fn tree(n: u64, fork: u8) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        let mut leaf = [fork; 32];
        leaf[..8].copy_from_slice(&i.to_be_bytes());
        t.push_leaf(&Hash(leaf));
    }
    t
}

fn checkpoint(t: &MemoryTree, key: &SigningKey) -> Vec<u8> {
    let root = root_at(t.size(), t).unwrap();
    let text = format!(
        "{}\n{}\n{}\n",
        key.name(),
        t.size(),
        evident_core::tree::base64::encode(&root.0)
    );
    sign_note(&text, key).unwrap().to_bytes()
}

fn request(t: &MemoryTree, old: u64, key: &SigningKey) -> Vec<u8> {
    let proof = if old == 0 {
        vec![]
    } else {
        consistency_proof(old, t.size(), t).unwrap()
    };
    AddCheckpoint {
        old,
        proof,
        checkpoint: checkpoint(t, key),
    }
    .to_bytes()
}

fn submit(body: &[u8], stored: Option<&LogState>) -> Result<LogState, Refusal> {
    let logs = [log_key().verifier().clone()];
    let sub = check_request(body, &logs)?;
    let c = sub.decide(stored, &witness_key(), 1_800_000_000)?;
    // The answer is one cosignature line that verifies over the checkpoint.
    let mut cosigned = sub.request.checkpoint.clone();
    cosigned.extend_from_slice(&c.response);
    let o = open(&cosigned, &[witness_key().verifier().clone()]).unwrap();
    assert_eq!(o.verified[0].timestamp, Some(1_800_000_000));
    Ok(c.state)
}

#[test]
fn a_log_grows_under_the_witness() {
    let s5 = submit(&request(&tree(5, 0), 0, &log_key()), None).unwrap();
    assert_eq!(s5.size, 5);
    let s9 = submit(&request(&tree(9, 0), 5, &log_key()), Some(&s5)).unwrap();
    assert_eq!(s9.size, 9);
    // The same checkpoint again is cosigned again, state unchanged.
    let again = submit(&request(&tree(9, 0), 9, &log_key()), Some(&s9)).unwrap();
    assert_eq!((again.size, again.root), (s9.size, s9.root));
    // The state file round-trips, checked by the witness's own key.
    let own: VerifierKey = witness_key().verifier().clone();
    assert_eq!(LogState::load(&s9.note, ORIGIN, &own).unwrap(), s9);
    // A damaged state file is refused, never read as "never cosigned".
    for i in 0..s9.note.len() {
        let mut bad = s9.note.clone();
        bad[i] ^= 0x01;
        assert!(
            LogState::load(&bad, ORIGIN, &own)
                .map(|s| s != s9)
                .unwrap_or(true),
            "byte {i}"
        );
    }
    assert!(LogState::load(&s9.note, "other", &own).is_err());
}

#[test]
fn a_wrong_old_size_gets_409_with_the_known_size() {
    let s5 = submit(&request(&tree(5, 0), 0, &log_key()), None).unwrap();
    let e = submit(&request(&tree(9, 0), 3, &log_key()), Some(&s5)).unwrap_err();
    assert_eq!((e.status, e.known_size), (409, Some(5)));
    assert_eq!(e.body(), "5\n");
    let e = submit(&request(&tree(9, 0), 4, &log_key()), None).unwrap_err();
    assert_eq!((e.status, e.known_size), (409, Some(0)));
}

#[test]
fn forks_and_rollbacks_are_refused() {
    let s8 = submit(&request(&tree(8, 0), 0, &log_key()), None).unwrap();
    // Same size, other history.
    let e = submit(&request(&tree(8, 1), 8, &log_key()), Some(&s8)).unwrap_err();
    assert_eq!(e.status, 422, "{e}");
    // Larger, other history (its own proof from 8 does not lead to the root the witness holds).
    let e = submit(&request(&tree(12, 1), 8, &log_key()), Some(&s8)).unwrap_err();
    assert_eq!(e.status, 422, "{e}");
    // Rolled back: a smaller size with the witness's size as old is malformed (400); with its
    // own size as old, the witness answers with the size it holds (409).
    let e = submit(&request(&tree(5, 0), 0, &log_key()), Some(&s8)).unwrap_err();
    assert_eq!((e.status, e.known_size), (409, Some(8)));
    let mut r = AddCheckpoint::parse(&request(&tree(5, 0), 0, &log_key())).unwrap();
    r.old = 8;
    let e = submit(&r.to_bytes(), Some(&s8)).unwrap_err();
    assert_eq!(e.status, 400, "{e}");
}

#[test]
fn bad_proofs_get_422() {
    let s5 = submit(&request(&tree(5, 0), 0, &log_key()), None).unwrap();
    let good = AddCheckpoint::parse(&request(&tree(9, 0), 5, &log_key())).unwrap();
    for i in 0..good.proof.len() {
        let mut bad = good.clone();
        bad.proof[i].0[7] ^= 0x40;
        assert_eq!(submit(&bad.to_bytes(), Some(&s5)).unwrap_err().status, 422);
    }
    let mut short = good.clone();
    short.proof.pop();
    assert_eq!(
        submit(&short.to_bytes(), Some(&s5)).unwrap_err().status,
        422
    );
    // A proof with old = 0.
    let mut with_proof = AddCheckpoint::parse(&request(&tree(5, 0), 0, &log_key())).unwrap();
    with_proof.proof = good.proof.clone();
    assert_eq!(
        submit(&with_proof.to_bytes(), None).unwrap_err().status,
        422
    );
    // Size 0 with a root that is not the empty tree's.
    let text = format!(
        "{ORIGIN}\n0\n{}\n",
        evident_core::tree::base64::encode(&[1; 32])
    );
    let r = AddCheckpoint {
        old: 0,
        proof: vec![],
        checkpoint: sign_note(&text, &log_key()).unwrap().to_bytes(),
    };
    assert_eq!(submit(&r.to_bytes(), None).unwrap_err().status, 422);
}

#[test]
fn signatures_and_origins() {
    // Another key under the log's name: no trusted signature (403).
    let impostor = SigningKey::from_seed(ORIGIN, KeyKind::Ed25519, &[99; 32]).unwrap();
    assert_eq!(
        submit(&request(&tree(3, 0), 0, &impostor), None)
            .unwrap_err()
            .status,
        403
    );
    // The right key, a changed checkpoint: the signature fails (403).
    let body = request(&tree(3, 0), 0, &log_key());
    let text = String::from_utf8(body)
        .unwrap()
        .replacen("\n3\n", "\n4\n", 1);
    assert_eq!(submit(text.as_bytes(), None).unwrap_err().status, 403);
    // Unknown origin (404).
    let other = SigningKey::from_seed("example.com/other", KeyKind::Ed25519, &[11; 32]).unwrap();
    assert_eq!(
        submit(&request(&tree(3, 0), 0, &other), None)
            .unwrap_err()
            .status,
        404
    );
}

#[test]
fn malformed_requests_get_400_with_a_reason() {
    let good = request(&tree(5, 0), 0, &log_key());
    let good_s = String::from_utf8(good.clone()).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"old 0".to_vec(),
        b"old 00\n\n".to_vec(),
        b"new 0\n\n".to_vec(),
        b"old 0\nnot-base64\n\n".to_vec(),
        good_s.replacen("old 0\n\n", "old 0\n", 1).into_bytes(),
        b"old 0\n\nnot a note\n".to_vec(),
        {
            let mut v = b"old 1\n".to_vec();
            for _ in 0..64 {
                v.extend_from_slice(b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
            }
            v.push(b'\n');
            v.extend_from_slice(&good[7..]);
            v
        },
        vec![b'o'; evident_core::witness::MAX_REQUEST_LEN + 1],
    ];
    for c in cases {
        let e = submit(&c, None).unwrap_err();
        assert_eq!(
            e.status,
            400,
            "{:?}: {e}",
            String::from_utf8_lossy(&c[..c.len().min(40)])
        );
        assert!(!e.reason.is_empty());
    }
}

#[test]
fn sixteen_signatures_a_repeated_log_signature_and_a_clock_at_the_epoch() {
    use evident_core::note::{cosign, Note, MAX_SIGNATURES};
    let t = tree(5, 0);
    let text = String::from_utf8(checkpoint(&t, &log_key())).unwrap();
    let body = text.split("\n\n").next().unwrap().to_string() + "\n";
    // The log's signature and 15 other witnesses' cosignatures: 16 lines, as many as
    // signed-note says a verifier must accept. The witness cosigns; its stored copy keeps the
    // log's line and its own within the limit.
    let mut note = sign_note(&body, &log_key()).unwrap();
    for k in 0..(MAX_SIGNATURES as u8 - 1) {
        let other = SigningKey::from_seed(
            &format!("other.example/w{k}"),
            KeyKind::CosignatureV1,
            &[40 + k; 32],
        )
        .unwrap();
        note.add_signature(cosign(&other, note.text(), 1_700_000_000).unwrap())
            .unwrap();
    }
    assert_eq!(note.signatures().len(), MAX_SIGNATURES);
    let req = AddCheckpoint {
        old: 0,
        proof: vec![],
        checkpoint: note.to_bytes(),
    }
    .to_bytes();
    let logs = [log_key().verifier().clone()];
    let sub = check_request(&req, &logs).expect("16 signatures are accepted");
    let c = sub
        .decide(None, &witness_key(), 1_800_000_000)
        .expect("a checkpoint with 16 signatures is cosigned");
    // The answer is our line over the checkpoint's text.
    let ours = format!("{body}\n{}", String::from_utf8(c.response).unwrap());
    open(ours.as_bytes(), &[witness_key().verifier().clone()]).unwrap();
    let stored = Note::parse(&c.state.note).unwrap();
    assert!(stored.signatures().len() <= MAX_SIGNATURES);
    let names: Vec<&str> = stored
        .signatures()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert!(names.contains(&ORIGIN), "{names:?}");
    assert!(names.contains(&witness_key().name()), "{names:?}");

    // The log's signature line twice: dropped as a repeat (as Go's note.Open), not a 403.
    let line = text.split("\n\n").nth(1).unwrap();
    let twice = format!("{body}\n{line}{line}");
    let req = AddCheckpoint {
        old: 0,
        proof: vec![],
        checkpoint: twice.into_bytes(),
    }
    .to_bytes();
    submit(&req, None).expect("a repeated log signature is cosigned");

    // tlog-witness: a cosignature's timestamp must not be zero.
    let sub = check_request(&request(&t, 0, &log_key()), &logs).unwrap();
    assert_eq!(sub.decide(None, &witness_key(), 0).unwrap_err().status, 500);
}
