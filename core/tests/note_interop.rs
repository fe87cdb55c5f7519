//! Interop with an independent implementation of c2sp.org/signed-note: Cloudflare's
//! `signed_note` crate (a dev-dependency only). Keys and notes evident writes open there,
//! and the reverse.

use evident_core::note::{open, sign_note, KeyKind, SigningKey, VerifierKey};
use signed_note::{Note as TheirNote, StandardSigner, StandardVerifier, VerifierList};

const TEXT: &str = "evident/interop\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

#[test]
fn evident_keys_and_notes_verify_in_signed_note() {
    for seed in [[3u8; 32], [200u8; 32], [0u8; 32]] {
        let key = SigningKey::from_seed("evident/interop", KeyKind::Ed25519, &seed).unwrap();
        // Their parser takes our key texts.
        let their_verifier = StandardVerifier::new(&key.verifier().to_string()).unwrap();
        let _their_signer = StandardSigner::new(key.private_text().expose()).unwrap();
        let ours = sign_note(TEXT, &key).unwrap().to_bytes();
        let parsed = TheirNote::from_bytes(&ours).unwrap();
        let (verified, unverified) = parsed
            .verify(&VerifierList::new(vec![Box::new(their_verifier)]))
            .unwrap();
        assert_eq!(verified.len(), 1);
        assert!(unverified.is_empty());
        assert_eq!(parsed.text(), TEXT.as_bytes());
    }
}

#[test]
fn signed_note_keys_and_notes_verify_in_evident() {
    let mut rng = rand_core_06::OsRng;
    let (skey, vkey) = signed_note::generate_key(&mut rng, "example.org/their-log");
    let signer = StandardSigner::new(&skey).unwrap();
    let mut theirs = TheirNote::new(TEXT.as_bytes(), &[]).unwrap();
    theirs.add_sigs(&[&signer]).unwrap();
    let bytes = theirs.to_bytes();
    let verifier = VerifierKey::parse(&vkey).unwrap();
    assert_eq!(verifier.to_string(), vkey);
    let opened = open(&bytes, &[verifier]).unwrap();
    assert_eq!(opened.verified.len(), 1);
    // Their private key text is ours too, and signs the same bytes (Ed25519 is deterministic).
    let ours = SigningKey::parse(&skey).unwrap();
    assert_eq!(ours.private_text().expose(), skey);
    assert_eq!(sign_note(TEXT, &ours).unwrap().to_bytes(), bytes);
}

#[test]
fn a_changed_note_fails_in_both() {
    let key = SigningKey::from_seed("evident/interop", KeyKind::Ed25519, &[5; 32]).unwrap();
    let mut bytes = sign_note(TEXT, &key).unwrap().to_bytes();
    bytes[17] ^= 1; // inside the size line
    let their_verifier = StandardVerifier::new(&key.verifier().to_string()).unwrap();
    let parsed = TheirNote::from_bytes(&bytes).unwrap();
    assert!(parsed
        .verify(&VerifierList::new(vec![Box::new(their_verifier)]))
        .is_err());
    assert!(open(&bytes, &[key.verifier().clone()]).is_err());
}

#[test]
fn the_tree_rooms_signer_hook_signs_the_same_bytes() {
    use evident_core::tree::TreeCheckpoint;
    let key = SigningKey::from_seed("evident/interop", KeyKind::Ed25519, &[8; 32]).unwrap();
    let cp = TreeCheckpoint::new("evident/interop", 42, evident_core::hash::Hash([7; 32])).unwrap();
    let theirs = cp.signed_note(&[&key]).unwrap().to_text();
    let ours = sign_note(&cp.body(), &key).unwrap().to_bytes();
    assert_eq!(theirs.as_bytes(), ours.as_slice());
    open(&ours, &[key.verifier().clone()]).unwrap();
}
