//! The C2SP tlog-policy parser and quorum evaluation over verified cosignatures.

use evident_core::note::{cosign, sign_note, KeyKind, Policy, PolicyError, Quorum, SigningKey};

fn witness(i: u8) -> SigningKey {
    SigningKey::from_seed(
        &format!("w{i}.example"),
        KeyKind::CosignatureV1,
        &[i + 100; 32],
    )
    .unwrap()
}

fn log() -> SigningKey {
    SigningKey::from_seed("example.com/log", KeyKind::Ed25519, &[1; 32]).unwrap()
}

/// The spec's two-level example, with real keys.
fn spec_policy() -> String {
    let v = |i| witness(i).verifier().to_string();
    format!(
        "# the example of tlog-policy.md\nlog {}\n\nwitness X1 {}\nwitness X2 {}\nwitness X3 {} https://x3.example/\ngroup X-witnesses 2 X1 X2 X3\n\n  witness Y1\t{}\nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
        log().verifier(), v(1), v(2), v(3), v(4), v(5), v(6)
    )
}

fn cosigned_by(ws: &[u8]) -> Vec<u8> {
    let text = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let mut note = sign_note(text, &log()).unwrap();
    for &i in ws {
        note.add_signature(cosign(&witness(i), text, 1_700_000_000 + i as u64).unwrap())
            .unwrap();
    }
    note.to_bytes()
}

#[test]
fn the_spec_example_parses_and_its_quorum_holds() {
    let p = Policy::parse(&spec_policy()).unwrap();
    assert_eq!(p.logs.len(), 1);
    assert_eq!(p.witnesses.len(), 6);
    assert_eq!(p.groups.len(), 3);
    assert_eq!(p.witnesses[2].url.as_deref(), Some("https://x3.example/"));
    // Two X and one Y: met.
    let v = p.verify(&cosigned_by(&[1, 3, 5])).unwrap();
    assert_eq!(v.log, "example.com/log");
    assert_eq!(v.cosigned, ["X1", "X3", "Y2"]);
    // One X and all Y: not met; the error names who cosigned.
    match p.verify(&cosigned_by(&[2, 4, 5, 6])) {
        Err(PolicyError::QuorumNotMet { cosigned }) => {
            assert_eq!(cosigned, ["X2", "Y1", "Y2", "Y3"])
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        p.verify(&cosigned_by(&[])),
        Err(PolicyError::QuorumNotMet { .. })
    ));
    // An unknown witness's cosignature is ignored, not counted.
    assert!(p.verify(&cosigned_by(&[1, 2, 9])).is_err());
}

#[test]
fn quorum_none_needs_only_the_log() {
    let p = Policy::parse(&format!("log {}\nquorum none\n", log().verifier())).unwrap();
    assert_eq!(p.quorum, Quorum::None);
    p.verify(&cosigned_by(&[])).unwrap();
    // A checkpoint signed by another log is refused.
    let other = SigningKey::from_seed("example.com/log", KeyKind::Ed25519, &[2; 32]).unwrap();
    let p2 = Policy::parse(&format!("log {}\nquorum none\n", other.verifier())).unwrap();
    assert!(matches!(
        p2.verify(&cosigned_by(&[])),
        Err(PolicyError::Note(_))
    ));
}

#[test]
fn a_log_key_whose_name_is_not_the_origin_does_not_count() {
    let misnamed = SigningKey::from_seed("example.com/other", KeyKind::Ed25519, &[1; 32]).unwrap();
    let text = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let note = sign_note(text, &misnamed).unwrap().to_bytes();
    let p = Policy::parse(&format!("log {}\nquorum none\n", misnamed.verifier())).unwrap();
    assert!(matches!(
        p.verify(&note),
        Err(PolicyError::NoLogSignature { .. })
    ));
}

#[test]
fn bad_policies_are_refused_with_their_line() {
    let w1 = witness(1).verifier().to_string();
    let w2 = witness(2).verifier().to_string();
    let lk = log().verifier().to_string();
    let cases: Vec<(String, usize)> = vec![
        (format!("witness A {w1}\n"), 2),           // no quorum
        (format!("witness A {w1}\nquorum B\n"), 2), // undefined name
        (format!("quorum A\nwitness A {w1}\n"), 1), // forward reference
        (format!("witness A {w1}\nwitness B {w1}\nquorum A\n"), 2), // duplicate key
        (format!("witness A {w1}\nwitness A {w2}\nquorum A\n"), 2), // duplicate name
        (format!("witness A {w1}\ngroup G 3 A\nquorum G\n"), 2), // k > n
        (format!("witness A {w1}\ngroup G 0 A\nquorum G\n"), 2), // k = 0
        (format!("witness A {w1}\ngroup G any A A\nquorum G\n"), 2), // member twice
        (format!("witness A {w1}\ngroup G any\nquorum G\n"), 2), // no member
        (format!("witness none {w1}\nquorum none\n"), 1), // reserved name
        (format!("witness A {lk}\nquorum A\n"), 1), // log key as witness
        (format!("log {w1}\nquorum none\n"), 1),    // witness key as log
        (format!("log {lk}\nlog {lk}\nquorum none\n"), 2), // duplicate log
        (format!("witness A {w1}\nquorum A\nquorum A\n"), 3), // two quorums
        ("frobnicate\nquorum none\n".to_string(), 1), // unknown keyword
        ("quorum none\x0b\n".to_string(), 1),       // control character
        ("witness A not-a-key\nquorum A\n".to_string(), 1), // bad vkey
    ];
    for (text, line) in cases {
        match Policy::parse(&text) {
            Err(PolicyError::Parse { line: l, reason }) => {
                assert_eq!(l, line, "{text:?}: {reason}");
                assert!(!reason.is_empty());
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn thresholds_all_any_and_numeric() {
    let v = |i| witness(i).verifier().to_string();
    let p = Policy::parse(&format!(
        "witness A {}\nwitness B {}\nwitness C {}\ngroup two 2 A B C\ngroup all all A B C\ngroup any any A B C\ngroup top 2 two all any\nquorum top\n",
        v(1), v(2), v(3)
    ))
    .unwrap();
    assert!(!p.quorum_met(&[true, false, false])); // any only
    assert!(p.quorum_met(&[true, true, false])); // two + any
    assert!(p.quorum_met(&[true, true, true]));
    assert!(!p.quorum_met(&[]));
}
