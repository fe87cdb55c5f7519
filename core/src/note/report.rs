//! Which signatures a checkpoint note carries, which verified, and whether they satisfy a
//! tlog-policy: what `evident verify --policy`, `evident check-proof --policy` and the
//! component's `check-signatures` report.
//!
//! Without a policy no key is known, so each line is reported as present with the kind its
//! length suggests (64 bytes: an Ed25519 note signature; 72: a timestamped `cosignature/v1`)
//! and `verified: None`. With a policy, every line from a key the policy names is verified
//! (one that fails refuses the whole note, as the signed-note rules say), lines from other keys
//! are reported as unknown, and the quorum is evaluated.

use super::envelope::Note;
use super::error::NoteError;
use super::key::KeyKind;
use super::open::open;
use super::policy::Policy;

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineReport {
    /// Key name.
    pub name: String,
    /// Key id, 8 hex digits.
    pub key_id: String,
    /// `ed25519` (a log's signature), `cosignature/v1` (a witness's), or `unknown`.
    pub kind: &'static str,
    /// `Some(true)` verified, `Some(false)` failed, `None` no key known for it.
    pub verified: Option<bool>,
    /// A cosignature's timestamp (seconds since the epoch).
    pub timestamp: Option<u64>,
}

/// A note's signatures and, with a policy, its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteReport {
    /// Every signature line, in note order.
    pub lines: Vec<LineReport>,
    /// With a policy: `Ok(witnesses that cosigned)` when it is satisfied, or why not.
    pub policy: Option<Result<Vec<String>, String>>,
}

fn kind_name(k: KeyKind) -> &'static str {
    match k {
        KeyKind::Ed25519 => "ed25519",
        KeyKind::CosignatureV1 => "cosignature/v1",
    }
}

impl NoteReport {
    /// Reports on `note` (a checkpoint note, signed or not), checking it against `policy`.
    pub fn of(note: &[u8], policy: Option<&Policy>) -> NoteReport {
        let parsed = Note::parse(note);
        let mut lines: Vec<LineReport> = match &parsed {
            Ok(n) => n
                .signatures()
                .iter()
                .map(|l| LineReport {
                    name: l.name.clone(),
                    key_id: l.id.to_string(),
                    kind: match l.signature.len() {
                        64 => "ed25519",
                        72 => "cosignature/v1",
                        _ => "unknown",
                    },
                    verified: None,
                    timestamp: (l.signature.len() == 72).then(|| {
                        let mut ts = [0u8; 8];
                        ts.copy_from_slice(&l.signature[..8]);
                        u64::from_be_bytes(ts)
                    }),
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let Some(policy) = policy else {
            return NoteReport {
                lines,
                policy: None,
            };
        };
        let verdict = match open(note, &policy.known_keys()) {
            Ok(opened) => {
                for v in &opened.verified {
                    if let Some(l) = lines
                        .iter_mut()
                        .find(|l| l.name == v.name && l.key_id == v.id.to_string())
                    {
                        l.verified = Some(true);
                        l.kind = kind_name(v.kind);
                        l.timestamp = v.timestamp;
                    }
                }
                policy
                    .check_opened(opened)
                    .map(|v| v.cosigned)
                    .map_err(|e| e.to_string())
            }
            Err(e) => {
                if let NoteError::InvalidSignature { name, id } = &e {
                    for l in lines
                        .iter_mut()
                        .filter(|l| l.name == *name && l.key_id == id.to_string())
                    {
                        l.verified = Some(false);
                    }
                }
                Err(match (&e, parsed.is_err()) {
                    (_, true) => format!("the checkpoint is not a signed note: {e}"),
                    _ => e.to_string(),
                })
            }
        };
        NoteReport {
            lines,
            policy: Some(verdict),
        }
    }

    /// Whether a policy was given and is satisfied.
    pub fn satisfied(&self) -> bool {
        matches!(self.policy, Some(Ok(_)))
    }

    /// One line per signature, then the policy's verdict, for people.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.lines.is_empty() {
            out.push_str("signatures: none (an unsigned checkpoint)\n");
        }
        for l in &self.lines {
            let state = match l.verified {
                Some(true) => "verified",
                Some(false) => "FAILED",
                None => "not checked (no key for it)",
            };
            let ts = l
                .timestamp
                .map(|t| format!(", time {t}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "signature: {} {} ({}{ts}): {state}\n",
                l.name, l.key_id, l.kind
            ));
        }
        match &self.policy {
            None => {}
            Some(Ok(c)) if c.is_empty() => {
                out.push_str("policy: satisfied (no cosignature needed)\n")
            }
            Some(Ok(c)) => out.push_str(&format!(
                "policy: satisfied, cosigned by {}\n",
                c.join(", ")
            )),
            Some(Err(e)) => out.push_str(&format!("policy: NOT satisfied: {e}\n")),
        }
        out
    }
}

/// The checkpoint note a proof file carries: an inclusion bundle's, or a consistency proof's
/// newer one (`None` when the text is neither).
pub fn proof_checkpoint_note(text: &str) -> Option<String> {
    if crate::prove::is_consistency_text(text) {
        crate::tree::consistency::check_consistency_file(text.as_bytes())
            .ok()
            .map(|c| c.new_note.to_text())
    } else {
        crate::tree::bundle::parse_bundle(text.as_bytes())
            .ok()
            .map(|b| b.note.to_text())
    }
}
