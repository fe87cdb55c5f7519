//! Known answers for the signed-note room: the examples of the C2SP specs and the vectors of
//! Go's golang.org/x/mod/sumdb/note tests, plus the refusals the specs require.

use evident_core::note::{
    cosign, open, sign_note, KeyId, KeyKind, Note, NoteError, SigningKey, VerifierKey,
    MAX_SIGNATURES,
};

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn signed_note_spec_example_verifies() {
    let vkey =
        VerifierKey::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
            .unwrap();
    assert_eq!(vkey.id(), KeyId(0x530d903a));
    let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let opened = open(note.as_bytes(), &[vkey]).unwrap();
    assert_eq!(opened.note.text(), "This is an example message.\n");
    assert_eq!(opened.verified.len(), 1);
}

#[test]
fn go_vectors_sign_and_round_trip_keys() {
    let skey = SigningKey::parse(PETER_SKEY).unwrap();
    assert_eq!(skey.id(), KeyId(0xc74f20a3));
    assert_eq!(skey.verifier().to_string(), PETER_VKEY);
    assert_eq!(skey.private_text().expose(), PETER_SKEY);
    assert_eq!(
        VerifierKey::parse(PETER_VKEY).unwrap().to_string(),
        PETER_VKEY
    );
    let note = sign_note(PETER_TEXT, &skey).unwrap();
    let want = format!("{PETER_TEXT}\n{PETER_SIG}");
    assert_eq!(String::from_utf8(note.to_bytes()).unwrap(), want);
}

#[test]
fn go_open_vector_ignores_the_unknown_key() {
    let peter = VerifierKey::parse(PETER_VKEY).unwrap();
    let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
    let msg = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let opened = open(msg.as_bytes(), std::slice::from_ref(&peter)).unwrap();
    assert_eq!(opened.verified.len(), 1);
    assert_eq!(opened.verified[0].name, "PeterNeumann");
    assert_eq!(opened.unknown.len(), 1);
    assert_eq!(opened.unknown[0].name, "EnochRoot");
    let both = open(msg.as_bytes(), &[peter, enoch]).unwrap();
    assert_eq!(both.verified.len(), 2);
}

#[test]
fn go_bad_keys_are_refused() {
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
    ] {
        assert!(VerifierKey::parse(bad).is_err(), "{bad} accepted");
    }
    assert!(SigningKey::parse(
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    )
    .is_err());
    assert!(SigningKey::parse(PETER_VKEY).is_err());
}

#[test]
fn a_known_key_with_a_bad_signature_refuses_the_note() {
    let peter = VerifierKey::parse(PETER_VKEY).unwrap();
    // Enoch's signature bytes under Peter's name and id.
    let forged = format!(
        "{PETER_TEXT}\n— PeterNeumann x08go/ZmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
    );
    assert!(matches!(
        open(forged.as_bytes(), &[peter]),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn a_note_with_only_unknown_keys_is_refused() {
    let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
    let msg = format!("{PETER_TEXT}\n{PETER_SIG}");
    assert_eq!(
        open(msg.as_bytes(), &[enoch]),
        Err(NoteError::NoKnownSignature)
    );
}

#[test]
fn a_key_matching_name_but_not_id_is_ignored() {
    // Same name as Peter, another key: signature ignored, not an error.
    let other = SigningKey::from_seed("PeterNeumann", KeyKind::Ed25519, &[7; 32]).unwrap();
    let msg = format!("{PETER_TEXT}\n{PETER_SIG}");
    assert_eq!(
        open(msg.as_bytes(), &[other.verifier().clone()]),
        Err(NoteError::NoKnownSignature)
    );
}

#[test]
fn cosignature_spec_example_carries_its_timestamp() {
    // tlog-cosignature's example line: key id 8d66cf3f, then the u64 timestamp 1679315147.
    let line = evident_core::note::SignatureLine::parse(
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==",
        1,
    )
    .unwrap();
    assert_eq!(line.id, KeyId(0x8d66cf3f));
    assert_eq!(line.signature.len(), 72);
    assert_eq!(
        u64::from_be_bytes(line.signature[..8].try_into().unwrap()),
        1679315147
    );
}

#[test]
fn cosignature_message_is_the_specs() {
    let text =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    assert_eq!(
        evident_core::note::cosignature_message(text, 1679315147),
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}

fn checkpoint_text() -> &'static str {
    "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
}

fn log_and_witness() -> (SigningKey, SigningKey) {
    (
        SigningKey::from_seed("example.com/log", KeyKind::Ed25519, &[1; 32]).unwrap(),
        SigningKey::from_seed("witness.example/w1", KeyKind::CosignatureV1, &[2; 32]).unwrap(),
    )
}

#[test]
fn cosignature_round_trip_and_key_kinds() {
    let (log, witness) = log_and_witness();
    let mut note = sign_note(checkpoint_text(), &log).unwrap();
    note.add_signature(cosign(&witness, note.text(), 1_700_000_000).unwrap())
        .unwrap();
    let bytes = note.to_bytes();
    let opened = open(
        &bytes,
        &[log.verifier().clone(), witness.verifier().clone()],
    )
    .unwrap();
    assert_eq!(opened.verified.len(), 2);
    assert_eq!(opened.verified[1].timestamp, Some(1_700_000_000));
    // The vkey of a cosigner carries type 0x04 and its id is computed with 0x04.
    let vk = witness.verifier().to_string();
    assert_eq!(
        VerifierKey::parse(&vk).unwrap().kind(),
        KeyKind::CosignatureV1
    );
    assert_ne!(
        KeyId::compute(
            "witness.example/w1",
            KeyKind::Ed25519,
            &witness.verifier().public_bytes()
        ),
        witness.id()
    );
    // A log key does not cosign, a witness key does not sign notes.
    assert!(matches!(
        cosign(&log, checkpoint_text(), 1),
        Err(NoteError::WrongKeyKind { .. })
    ));
    assert!(matches!(
        sign_note(checkpoint_text(), &witness),
        Err(NoteError::WrongKeyKind { .. })
    ));
    assert!(matches!(
        cosign(&witness, checkpoint_text(), 1u64 << 63),
        Err(NoteError::BadTimestamp { .. })
    ));
}

/// Every one-byte change of a signed, cosigned checkpoint makes it fail (or it parses to the
/// same meaning, which a one-byte change cannot do here): each byte is replaced by several
/// others, so text, names, ids, base64 and separators are all covered.
#[test]
fn every_one_byte_change_fails() {
    let (log, witness) = log_and_witness();
    let mut note = sign_note(checkpoint_text(), &log).unwrap();
    note.add_signature(cosign(&witness, note.text(), 1_700_000_000).unwrap())
        .unwrap();
    let good = note.to_bytes();
    let keys = [log.verifier().clone(), witness.verifier().clone()];
    let verified = open(&good, &keys).unwrap().verified;
    for i in 0..good.len() {
        for delta in [1u8, 0x20, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] = bad[i].wrapping_add(delta);
            // A change must not leave both signatures verified.
            if let Ok(o) = open(&bad, &keys) {
                assert!(
                    o.verified.len() < verified.len(),
                    "byte {i} + {delta} still verifies both signatures"
                );
            }
        }
    }
}

#[test]
fn more_than_sixteen_signatures_are_refused() {
    let (log, _) = log_and_witness();
    let note = sign_note(checkpoint_text(), &log).unwrap();
    let line = note.signatures()[0].to_line();
    let mut sixteen = format!("{}\n", checkpoint_text());
    for i in 0..MAX_SIGNATURES - 1 {
        let k = SigningKey::from_seed(&format!("other{i}"), KeyKind::Ed25519, &[i as u8 + 9; 32])
            .unwrap();
        sixteen.push_str(&sign_note(checkpoint_text(), &k).unwrap().signatures()[0].to_line());
    }
    sixteen.push_str(&line);
    assert_eq!(
        open(sixteen.as_bytes(), &[log.verifier().clone()])
            .unwrap()
            .verified
            .len(),
        1
    );
    let seventeen = format!("{sixteen}{line}");
    assert_eq!(
        Note::parse(seventeen.as_bytes()),
        Err(NoteError::TooManySignatures {
            limit: MAX_SIGNATURES
        })
    );
    // A huge number of lines is refused at the limit, quickly (no per-line quadratic work).
    let mut huge = format!("{}\n", checkpoint_text());
    while huge.len() < evident_core::note::MAX_NOTE_LEN - line.len() {
        huge.push_str(&line);
    }
    let t = std::time::Instant::now();
    assert_eq!(
        Note::parse(huge.as_bytes()),
        Err(NoteError::TooManySignatures {
            limit: MAX_SIGNATURES
        })
    );
    assert!(t.elapsed() < std::time::Duration::from_millis(200));
    // Past the length limit: refused before anything else.
    let mut long = huge.clone();
    long.push_str(&line);
    long.push_str(&line);
    assert!(matches!(
        Note::parse(long.as_bytes()),
        Err(NoteError::TooLong { .. })
    ));
}

#[test]
fn a_repeated_known_signature_is_dropped_and_counts_once() {
    // As Go's sumdb/note `Open`: "Drop repeated signatures by a single verifier."
    let (log, _) = log_and_witness();
    let note = sign_note(checkpoint_text(), &log).unwrap();
    let line = note.signatures()[0].to_line();
    let dup = format!("{}\n{line}{line}", checkpoint_text());
    let opened = open(dup.as_bytes(), &[log.verifier().clone()]).unwrap();
    assert_eq!(opened.verified.len(), 1);
    assert!(opened.unknown.is_empty());
}

#[test]
fn malformed_notes_are_refused_with_a_reason() {
    let (log, _) = log_and_witness();
    let good = String::from_utf8(sign_note(checkpoint_text(), &log).unwrap().to_bytes()).unwrap();
    for bad in [
        good.trim_end().to_string(),    // last line without newline
        good.replacen("\n\n", "\n", 1), // no blank line
        good.replacen("— ", "-- ", 1),  // not an em dash
        good.replacen("example.com/log\n", "example.com/log\r\n", 1), // control character
        format!("{}\n", checkpoint_text()), // no signatures
    ] {
        let e = Note::parse(bad.as_bytes()).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
    assert!(Note::parse(&[0xff, b'\n', b'\n']).is_err());
}

#[test]
fn secrets_never_show_in_debug_or_errors() {
    let (log, _) = log_and_witness();
    let text = log.private_text();
    let secret_b64 = text.expose().splitn(5, '+').nth(4).unwrap().to_string();
    for shown in [
        format!("{log:?}"),
        format!("{text:?}"),
        format!("{:?}", log.verifier()),
    ] {
        assert!(!shown.contains(&secret_b64), "secret in {shown}");
        assert!(!shown.contains("PRIVATE"), "private text in {shown}");
    }
    // A broken private key's error does not quote it.
    let broken = text.expose().replacen("+K", "+X", 1);
    let e = SigningKey::parse(&broken).unwrap_err();
    assert!(!e.to_string().contains(&secret_b64));
    assert!(!format!("{e:?}").contains(&secret_b64));
    let wrong_id = {
        let mut parts: Vec<&str> = text.expose().splitn(5, '+').collect();
        parts[3] = "00000000";
        parts.join("+")
    };
    let e = SigningKey::parse(&wrong_id).unwrap_err();
    assert!(matches!(e, NoteError::KeyIdMismatch { .. }));
    assert!(!format!("{e:?} {e}").contains(&secret_b64));
}
