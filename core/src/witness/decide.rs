//! The witness's decision on an `add-checkpoint` request, sans-IO: the host reads the stored
//! state for the origin, asks [`Submission::decide`], durably stores the new state, and only
//! then answers. Holding the origin's lock across read, decide and store is the host's part
//! (the compare-and-swap tlog-witness requires, so that two requests never roll a log back).
//!
//! Order of checks (tlog-witness §add-checkpoint): malformed → 400; unknown origin → 404; no
//! trusted signature, or a trusted one that fails → 403; `old` above the checkpoint's size →
//! 400; `old` not the stored size → 409 with the stored size; a size-0 checkpoint whose root
//! is not the empty root, a proof for `old = 0`, equal sizes with different roots, or a
//! consistency proof that does not verify → 422.

use super::body::CheckpointBody;
use super::request::AddCheckpoint;
use super::state::LogState;
use crate::hash::Hash;
use crate::note::envelope::MAX_SIGNATURES;
use crate::note::{cosign, verify_note, KeyKind, Note, NoteError, SigningKey, VerifierKey};
use crate::tree::{verify_consistency, EMPTY_ROOT};

/// A refused request: the HTTP status and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400, 403, 404, 409 or 422.
    pub status: u16,
    /// Why, in words (the answer's body, except for 409).
    pub reason: String,
    /// For 409: the size the witness holds (the answer's body is this size and a newline).
    pub known_size: Option<u64>,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
            known_size: None,
        }
    }

    /// The answer's body: the size line for 409 (`text/x.tlog.size`), the reason otherwise.
    pub fn body(&self) -> String {
        match self.known_size {
            Some(size) => format!("{size}\n"),
            None => format!("{}\n", self.reason),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

/// A request whose checkpoint is validly signed by a log the witness knows.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The parsed request.
    pub request: AddCheckpoint,
    /// The checkpoint note (log signature verified).
    pub note: Note,
    /// Its body.
    pub body: CheckpointBody,
}

/// What the witness cosigned: the state to store before answering, and the answer.
#[derive(Debug, Clone)]
pub struct Cosigned {
    /// The log's new state (store it durably, then answer).
    pub state: LogState,
    /// The answer's body: the cosignature line.
    pub response: Vec<u8>,
}

/// Checks a request up to what needs no stored state: form, origin, log signature.
pub fn check_request(body: &[u8], logs: &[VerifierKey]) -> Result<Submission, Refusal> {
    let request = AddCheckpoint::parse(body).map_err(|r| Refusal::new(400, r))?;
    let note = Note::parse(&request.checkpoint)
        .map_err(|e| Refusal::new(400, format!("the checkpoint: {e}")))?;
    let body = CheckpointBody::parse(note.text())
        .map_err(|r| Refusal::new(400, format!("the checkpoint: {r}")))?;
    let trusted: Vec<VerifierKey> = logs
        .iter()
        .filter(|k| k.name() == body.origin && k.kind() == KeyKind::Ed25519)
        .cloned()
        .collect();
    if trusted.is_empty() {
        return Err(Refusal::new(
            404,
            format!("unknown log origin {:?}", body.origin),
        ));
    }
    match verify_note(note.clone(), &trusted) {
        Ok(_) => {}
        Err(e @ (NoteError::InvalidSignature { .. } | NoteError::DuplicateSignature { .. })) => {
            return Err(Refusal::new(403, format!("log signature refused: {e}")))
        }
        Err(NoteError::NoKnownSignature) => {
            return Err(Refusal::new(
                403,
                format!("no signature by a trusted key of {}", body.origin),
            ))
        }
        Err(e) => return Err(Refusal::new(400, format!("the checkpoint: {e}"))),
    }
    if request.old > body.size {
        return Err(Refusal::new(
            400,
            format!(
                "old size {} is above the checkpoint's size {}",
                request.old, body.size
            ),
        ));
    }
    Ok(Submission {
        request,
        note,
        body,
    })
}

impl Submission {
    /// Decides against the stored state of the origin (`None`: never cosigned), cosigning
    /// with `key` at `now` (seconds since the epoch).
    pub fn decide(
        &self,
        stored: Option<&LogState>,
        key: &SigningKey,
        now: u64,
    ) -> Result<Cosigned, Refusal> {
        // tlog-witness: the cosignature's timestamp must not be zero (a clock at the epoch).
        if now == 0 {
            return Err(Refusal::new(
                500,
                "the witness's clock reads the epoch: no cosignature is made with time 0",
            ));
        }
        let (known_size, known_root) = match stored {
            Some(s) => (s.size, s.root),
            None => (0, EMPTY_ROOT),
        };
        let old = self.request.old;
        let (size, root) = (self.body.size, self.body.root);
        if old != known_size {
            return Err(Refusal {
                status: 409,
                reason: format!("the witness holds size {known_size}, not {old}"),
                known_size: Some(known_size),
            });
        }
        if size == 0 && root != EMPTY_ROOT {
            return Err(Refusal::new(
                422,
                "a checkpoint of size 0 must have the empty tree's root",
            ));
        }
        if old == 0 && !self.request.proof.is_empty() {
            return Err(Refusal::new(
                422,
                "old size 0 needs an empty consistency proof",
            ));
        }
        if old == size && root != known_root {
            return Err(Refusal::new(
                422,
                format!(
                    "size {size} was cosigned with root {}, not {} (a fork)",
                    b64(&known_root),
                    b64(&root)
                ),
            ));
        }
        if old != 0 && old != size {
            verify_consistency(old, size, &self.request.proof, &known_root, &root).map_err(
                |e| {
                    Refusal::new(
                        422,
                        format!(
                            "the consistency proof from size {old} (root {}) to size {size} does not verify: {e}",
                            b64(&known_root)
                        ),
                    )
                },
            )?;
        }
        let line = cosign(key, self.note.text(), now)
            .map_err(|e| Refusal::new(400, format!("cannot cosign: {e}")))?;
        let mut cosigned = self.note.clone();
        // The stored copy keeps at most MAX_SIGNATURES lines: a checkpoint that came with
        // that many (signed-note: accept at least 16) gives up other witnesses'
        // cosignatures, last first, to make room for ours; the log's stay. The answer is our
        // line alone either way.
        if !cosigned
            .signatures()
            .iter()
            .any(|s| s.name == line.name && s.id == line.id)
        {
            cosigned.drop_signatures_for_room(&self.body.origin, MAX_SIGNATURES - 1);
        }
        cosigned
            .add_signature(line.clone())
            .map_err(|e| Refusal::new(400, format!("cannot cosign: {e}")))?;
        Ok(Cosigned {
            state: LogState {
                origin: self.body.origin.clone(),
                size,
                root,
                note: cosigned.to_bytes(),
            },
            response: line.to_line().into_bytes(),
        })
    }
}

fn b64(h: &Hash) -> String {
    crate::tree::base64::encode(&h.0)
}
