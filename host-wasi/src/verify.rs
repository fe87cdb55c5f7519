//! The `verify` interface: pure verification over bytes the host hands in.

use crate::bindings::evident::log::types as wit;
use crate::bindings::exports::evident::log::verify::{
    Guest, GuestSession, ProvenConsistency, ProvenRecord, SegmentFile, SignatureLine,
    SignatureReport, VerifyReport,
};
use crate::convert;
use evident_core::verify::{Verifier, VerifyReport as CoreReport};
use evident_core::Checkpoint;
use std::cell::RefCell;

fn report(r: CoreReport) -> VerifyReport {
    VerifyReport {
        log_id: r.log_id.to_hex(),
        segments: r.segments,
        records: r.records,
        first_seq: r.first_seq,
        head: convert::checkpoint(&r.head),
        checkpoints_verified: r
            .checkpoints_verified
            .iter()
            .map(convert::checkpoint)
            .collect(),
    }
}

fn checkpoints(cps: &[wit::Checkpoint]) -> Result<Vec<Checkpoint>, wit::Error> {
    cps.iter().map(convert::from_checkpoint).collect()
}

impl Guest for crate::Component {
    type Session = Session;

    fn verify_segments(
        mut segments: Vec<SegmentFile>,
        cps: Vec<wit::Checkpoint>,
    ) -> Result<VerifyReport, wit::Error> {
        segments.sort_by(|a, b| a.name.cmp(&b.name));
        let mut v = Verifier::new(checkpoints(&cps)?, None);
        let n = segments.len();
        for (i, s) in segments.iter().enumerate() {
            v.begin_segment(&s.name, s.bytes.len() as u64, i + 1 == n)
                .map_err(|e| convert::error(&e))?;
            v.push(&s.bytes).map_err(|e| convert::error(&e))?;
            v.end_segment().map_err(|e| convert::error(&e))?;
        }
        v.finish().map(report).map_err(|e| convert::error(&e))
    }

    fn parse_checkpoint(text: String) -> Result<wit::Checkpoint, String> {
        Checkpoint::parse(&text)
            .map(|c| convert::checkpoint(&c))
            .map_err(|e| e.to_string())
    }

    fn checkpoint_text(checkpoint: wit::Checkpoint) -> String {
        match convert::from_checkpoint(&checkpoint) {
            Ok(c) => c.to_text(),
            Err(_) => String::new(),
        }
    }

    fn check_bundle(text: String) -> Result<ProvenRecord, String> {
        let r = evident_core::prove::check_bundle_text(&text).map_err(|e| e.to_string())?;
        Ok(ProvenRecord {
            root: r.tree.root_base64(),
            origin: r.tree.origin,
            tree_size: r.tree.size,
            kind: r.kind,
            seq: r.seq,
            timestamp: r.ts,
            payload_hash: r.payload_hash.to_hex(),
            payload: r.payload,
        })
    }

    fn check_signatures(proof: String, policy: Option<String>) -> Result<SignatureReport, String> {
        use evident_core::note::report::{proof_checkpoint_note, NoteReport};
        use evident_core::note::Policy;
        if evident_core::prove::is_consistency_text(&proof) {
            evident_core::prove::check_consistency_text(&proof).map_err(|e| e.to_string())?;
        } else {
            evident_core::prove::check_bundle_text(&proof).map_err(|e| e.to_string())?;
        }
        let policy = policy
            .map(|p| Policy::parse(&p).map_err(|e| format!("policy: {e}")))
            .transpose()?;
        let note = proof_checkpoint_note(&proof).unwrap_or_default();
        let r = NoteReport::of(note.as_bytes(), policy.as_ref());
        let cosigned = match r.policy {
            None => Vec::new(),
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(format!("the checkpoint does not satisfy the policy: {e}")),
        };
        Ok(SignatureReport {
            signatures: r
                .lines
                .into_iter()
                .map(|l| SignatureLine {
                    name: l.name,
                    key_id: l.key_id,
                    kind: l.kind.to_string(),
                    verified: l.verified,
                    timestamp: l.timestamp,
                })
                .collect(),
            policy_checked: policy.is_some(),
            cosigned,
        })
    }

    fn check_consistency(text: String) -> Result<ProvenConsistency, String> {
        let c = evident_core::prove::check_consistency_text(&text).map_err(|e| e.to_string())?;
        Ok(ProvenConsistency {
            old_root: c.old.root_base64(),
            new_root: c.new.root_base64(),
            origin: c.new.origin,
            old_size: c.old.size,
            new_size: c.new.size,
        })
    }
}

/// A streaming verification.
pub struct Session {
    verifier: RefCell<Option<Verifier>>,
    error: Option<wit::Error>,
}

impl Session {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Verifier) -> Result<T, evident_core::Error>,
    ) -> Result<T, wit::Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut v = self.verifier.borrow_mut();
        let v = v.as_mut().ok_or(wit::Error::Closed)?;
        f(v).map_err(|e| convert::error(&e))
    }
}

impl GuestSession for Session {
    fn new(cps: Vec<wit::Checkpoint>) -> Session {
        match checkpoints(&cps) {
            Ok(cps) => Session {
                verifier: RefCell::new(Some(Verifier::new(cps, None))),
                error: None,
            },
            Err(e) => Session {
                verifier: RefCell::new(None),
                error: Some(e),
            },
        }
    }

    fn begin_segment(&self, name: String, length: u64, is_last: bool) -> Result<(), wit::Error> {
        self.with(|v| v.begin_segment(&name, length, is_last))
    }

    fn push(&self, bytes: Vec<u8>) -> Result<(), wit::Error> {
        self.with(|v| v.push(&bytes))
    }

    fn end_segment(&self) -> Result<(), wit::Error> {
        self.with(|v| v.end_segment())
    }

    fn finish(&self) -> Result<VerifyReport, wit::Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let v = self
            .verifier
            .borrow_mut()
            .take()
            .ok_or(wit::Error::Closed)?;
        v.finish().map(report).map_err(|e| convert::error(&e))
    }
}
