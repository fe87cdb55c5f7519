//! The verifier world (no filesystem, as in a browser) checks a bundle's signatures against a
//! tlog-policy: a bundle of a native trail signed with its log key and cosigned by a witness
//! passes; a stricter quorum, a changed cosignature byte and an unsigned bundle are refused
//! with the reason; without a policy the signatures are listed, unchecked.

use evident_core::note::{cosign, KeyKind, SigningKey};
use evident_native::prove::{InclusionOptions, Prover};
use evident_native::signer::Signer;
use evident_native::{Trail, TrailOptions};
use evident_tests::wasm::verifier::VerifierInstance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_world_checks_a_bundle_against_a_policy() {
    let d = tempfile::tempdir().unwrap();
    let key = SigningKey::from_seed("example.com/browser", KeyKind::Ed25519, &[3; 32]).unwrap();
    let witness = SigningKey::from_seed("w.example", KeyKind::CosignatureV1, &[5; 32]).unwrap();
    let other = SigningKey::from_seed("w2.example", KeyKind::CosignatureV1, &[6; 32]).unwrap();
    let trail_dir = d.path().join("trail");
    let trail = Trail::open(
        &trail_dir,
        TrailOptions {
            signer: Some(Signer::new(key.clone(), d.path().join("log.key.signed")).unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for n in 0..3 {
        trail
            .append(format!("{{\"n\":{n}}}").into_bytes())
            .await
            .unwrap();
    }
    trail.close().await.unwrap();
    // The log-signed note, plus the witness's cosignature.
    let note = std::fs::read_to_string(trail_dir.join("checkpoint.note")).unwrap();
    let body_end = note.find("\n\n").unwrap() + 1;
    let line = cosign(&witness, &note[..body_end], 1_760_000_000).unwrap();
    let cosigned = format!("{note}{}", line.to_line());
    let unsigned = Prover::open(&trail_dir)
        .unwrap()
        .prove(
            2,
            InclusionOptions {
                size: Some(3),
                include_payload: true,
            },
        )
        .unwrap()
        .text;
    assert!(unsigned.ends_with(&note[..body_end]));
    let bundle = format!("{unsigned}{}", &cosigned[body_end..]);

    let policy = format!(
        "log {}\nwitness W {}\nquorum W\n",
        key.verifier(),
        witness.verifier()
    );
    let mut v = VerifierInstance::new();
    let r = v.check_signatures(&bundle, Some(&policy)).unwrap();
    assert!(r.policy_checked);
    assert_eq!(r.cosigned, ["W"]);
    assert_eq!(r.signatures.len(), 2);
    assert!(
        r.signatures.iter().all(|l| l.verified == Some(true)),
        "{r:?}"
    );
    assert_eq!(r.signatures[1].kind, "cosignature/v1");
    assert_eq!(r.signatures[1].timestamp, Some(1_760_000_000));

    // No policy: listed, unchecked.
    let r = v.check_signatures(&bundle, None).unwrap();
    assert!(!r.policy_checked);
    assert!(r.signatures.iter().all(|l| l.verified.is_none()));

    // A quorum of two witnesses: only W cosigned.
    let strict = format!(
        "log {}\nwitness W {}\nwitness X {}\ngroup both all W X\nquorum both\n",
        key.verifier(),
        witness.verifier(),
        other.verifier()
    );
    let e = v.check_signatures(&bundle, Some(&strict)).unwrap_err();
    assert!(e.contains("only W cosigned"), "{e}");

    // One byte of the cosignature changed.
    let sig = line.to_line();
    let b64 = sig.trim_end().rsplit_once(' ').unwrap().1;
    let mut changed = b64.as_bytes().to_vec();
    changed[12] = if changed[12] == b'A' { b'B' } else { b'A' };
    let forged = bundle.replace(b64, std::str::from_utf8(&changed).unwrap());
    let e = v.check_signatures(&forged, Some(&policy)).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");

    // The unsigned bundle fails the policy; a bad policy is named.
    let e = v.check_signatures(&unsigned, Some(&policy)).unwrap_err();
    assert!(e.contains("policy"), "{e}");
    let e = v
        .check_signatures(&bundle, Some("quorum nobody\n"))
        .unwrap_err();
    assert!(e.starts_with("policy:"), "{e}");
}
