//! The live signer's steps before and after each signature, sans-IO, shared by the native
//! trail's signer and the component's so both refuse the same forks and write the same notes.
//!
//! A host signing a trail's head keeps a *signing record* (the last (origin, size, root) its
//! key signed, durable before the signature: see [`super::sign_guard`]). Before it signs it
//! calls [`check_signing`] with the record as it reads it now and the one it wrote itself
//! last; after recording the head it calls [`note_to_write`] for the bytes of
//! `checkpoint.note`. The host does the reads and writes (record, note, the consistency
//! proof's tiles and records through a [`ProofSource`]).

use super::body::CheckpointBody;
use super::sign_guard::{check_before_signing, ForkRefusal};
use crate::note::{sign_note, NoteError, SigningKey};
use crate::prove::{prove_consistency, ProofSource, ProveError, TreeHead};

/// Why [`check_signing`] did not allow the signature.
#[derive(Debug)]
pub enum SignCheckError<E> {
    /// Signing would fork or roll back the log (the message names both roots).
    Refused(ForkRefusal),
    /// The consistency proof from the record to the head could not be made from the trail.
    Prove(ProveError<E>),
}

impl<E: std::fmt::Display> std::fmt::Display for SignCheckError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignCheckError::Refused(r) => write!(f, "{r}"),
            SignCheckError::Prove(e) => write!(f, "{e}"),
        }
    }
}

fn tree_head(b: &CheckpointBody) -> TreeHead {
    TreeHead {
        origin: b.origin.clone(),
        size: b.size,
        root: b.root,
    }
}

/// Whether the trail whose tree is now `head` extends `signed` (a signing record): the
/// consistency proof is made from the trail through the source `open_source` gives (called
/// only when a proof is needed: its tiles, or every record when they fail) and checked by the
/// never-sign-a-fork guard. A trail whose tree at the signed size has another root is
/// refused naming both roots.
pub fn check_against_trail<S: ProofSource>(
    open_source: impl FnOnce() -> Result<S, S::Error>,
    signed: &CheckpointBody,
    head: &CheckpointBody,
) -> Result<(), SignCheckError<S::Error>> {
    let proof = if signed.size > 0 && signed.size < head.size && signed.origin == head.origin {
        let mut src = open_source().map_err(|e| SignCheckError::Prove(ProveError::Source(e)))?;
        match prove_consistency(&mut src, &tree_head(head), &tree_head(signed)) {
            Ok(c) => c.proof,
            Err(ProveError::NotExtended { size, actual, .. }) => {
                return Err(SignCheckError::Refused(ForkRefusal::Fork {
                    signed_size: signed.size,
                    signed_root: signed.root,
                    size: head.size,
                    root: head.root,
                    reason: format!(
                        "the trail's tree of size {size} has root {}",
                        crate::tree::base64::encode(&actual.0)
                    ),
                }))
            }
            Err(e) => return Err(SignCheckError::Prove(e)),
        }
    } else {
        Vec::new()
    };
    check_before_signing(Some(signed), head, &proof).map_err(SignCheckError::Refused)
}

/// Checks that `head` may be signed. `recorded` is the signing record as read now (`None`:
/// the key never signed); `mine` is the record this signer wrote last while the trail stayed
/// open. A record equal to `mine` is extended by construction when the head is larger (the
/// open trail's tree only grows) and needs no proof; any other record (written before the
/// trail was opened, or by another signer meanwhile) is checked against the trail's files,
/// through the source `open_source` gives (called only then).
pub fn check_signing<S: ProofSource>(
    open_source: impl FnOnce() -> Result<S, S::Error>,
    recorded: Option<&CheckpointBody>,
    mine: Option<&CheckpointBody>,
    head: &CheckpointBody,
) -> Result<(), SignCheckError<S::Error>> {
    match recorded {
        None => Ok(()),
        Some(r) if Some(r) == mine && r.origin == head.origin && head.size > r.size => Ok(()),
        Some(r) if Some(r) == mine => {
            check_before_signing(Some(r), head, &[]).map_err(SignCheckError::Refused)
        }
        Some(r) => check_against_trail(open_source, r, head),
    }
}

/// The bytes to write to `checkpoint.note` for `head` signed by `key`, or `None` when
/// `existing` (the note there now) already is a note of this very head that `key`'s signature
/// verifies (say `evident publish`'s, with cosignatures): it is kept as it is. Ed25519 is
/// deterministic, so every host writes the same bytes for the same head and key.
pub fn note_to_write(
    key: &SigningKey,
    head: &CheckpointBody,
    existing: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, NoteError> {
    let text = head.to_text();
    if let Some(existing) = existing {
        let same = crate::note::open(existing, std::slice::from_ref(key.verifier()))
            .is_ok_and(|o| o.note.text() == text);
        if same {
            return Ok(None);
        }
    }
    Ok(Some(sign_note(&text, key)?.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;
    use crate::note::KeyKind;

    struct NoSource;
    impl ProofSource for NoSource {
        type Error = String;
        fn record(&mut self, _: u64) -> Result<Option<(u64, Vec<u8>)>, String> {
            Err("no records".into())
        }
        fn read_tile(&mut self, _: &str, _: usize) -> Result<Option<Vec<u8>>, String> {
            Err("no tiles".into())
        }
        fn leaves(&mut self, _: u64) -> Result<Vec<Hash>, String> {
            Err("no leaves".into())
        }
    }

    fn body(size: u64, root: u8) -> CheckpointBody {
        CheckpointBody {
            origin: "example.com/log".into(),
            size,
            root: Hash([root; 32]),
        }
    }

    #[test]
    fn own_record_grows_without_a_proof_and_anything_else_is_checked() {
        let mine = body(3, 1);
        // Extended by construction: no read of the trail.
        check_signing(|| Ok(NoSource), Some(&mine), Some(&mine), &body(5, 2)).unwrap();
        // Same head again: allowed; same size, another root: refused naming both.
        check_signing(|| Ok(NoSource), Some(&mine), Some(&mine), &mine).unwrap();
        let e = check_signing(|| Ok(NoSource), Some(&mine), Some(&mine), &body(3, 9)).unwrap_err();
        assert!(matches!(
            e,
            SignCheckError::Refused(ForkRefusal::Fork { .. })
        ));
        // A record this signer did not write is checked against the trail: here the trail
        // cannot be read, and that is the error (never a signature).
        let e = check_signing(|| Ok(NoSource), Some(&mine), None, &body(5, 2)).unwrap_err();
        assert!(matches!(e, SignCheckError::Prove(_)), "{e}");
        // Smaller than signed: a rollback, whoever wrote the record.
        let e = check_signing(|| Ok(NoSource), Some(&mine), None, &body(2, 2)).unwrap_err();
        assert!(matches!(
            e,
            SignCheckError::Refused(ForkRefusal::Rollback { .. })
        ));
        let text = e.to_string();
        assert!(
            text.contains(&crate::tree::base64::encode(&[1; 32])),
            "{text}"
        );
        assert!(
            text.contains(&crate::tree::base64::encode(&[2; 32])),
            "{text}"
        );
        check_signing(|| Ok(NoSource), None, None, &body(2, 2)).unwrap();
    }

    #[test]
    fn a_note_of_the_same_head_is_kept_and_any_other_replaced() {
        let key = SigningKey::from_seed("example.com/log", KeyKind::Ed25519, &[7; 32]).unwrap();
        let head = body(4, 3);
        let note = note_to_write(&key, &head, None).unwrap().unwrap();
        assert_eq!(note_to_write(&key, &head, Some(&note)).unwrap(), None);
        let other = note_to_write(&key, &body(5, 3), None).unwrap().unwrap();
        assert_eq!(
            note_to_write(&key, &head, Some(&other)).unwrap(),
            Some(note.clone())
        );
        assert_eq!(
            note_to_write(&key, &head, Some(b"garbage")).unwrap(),
            Some(note)
        );
    }
}
