//! Signed checkpoints in the component: the `signer` open option keeps `checkpoint.note` in
//! the trail directory holding the durable head's C2SP checkpoint signed with the log's key,
//! with the same core steps as the native signer ([`evident_core::witness::sign_check`]), so
//! both write the same record and the same note for the same head and key.
//!
//! When: at open (after the fork check), after a call that rotated a segment, at `sync`,
//! `checkpoint` and `close`, and after any other call once `interval-ms` has passed since the
//! last signature and the durable head moved. A component has no thread: the periodic
//! signature runs at the end of a call, after that call's own records are acknowledged and
//! its outcome decided, and its failure never fails that call (it is in `signer-status`).
//!
//! Never sign a fork: before each signature the head is checked against the signing record
//! (a file the host names, beside the trail directory by default) and recorded durably there;
//! the note is written after. A component cannot `flock`: the record is guarded only by the
//! trail's `LOCK` lease, so two signers must not share one key's record.

use super::State;
use crate::bindings::evident::log::types as wit;
use crate::bindings::exports::evident::log::trail::{SignerOptions, SignerStatus};
use crate::wasi_fs::WasiExecutor;
use evident_core::note::{KeyKind, SigningKey};
use evident_core::witness::{
    check_signing, note_to_write, CheckpointBody, ForkRefusal, SignCheckError,
};
use evident_core::{Error, IoDone, IoErrorKind, IoOp, Location};

/// The default signing interval (the native adapter's): 1 s.
const DEFAULT_INTERVAL_MS: u64 = 1000;
/// The largest interval accepted (1 hour, as the core's checkpoint interval).
const MAX_INTERVAL_MS: u64 = 3_600_000;
/// The largest signing record read (a checkpoint body is under 400 bytes).
const MAX_RECORD_LEN: u64 = 4096;
/// The largest `checkpoint.note` read back (a note with the most signatures allowed).
const MAX_NOTE_LEN: u64 = evident_core::note::MAX_NOTE_LEN as u64;
/// The note's file name in the trail directory (the native adapter's).
const CHECKPOINT_NOTE: &str = "checkpoint.note";

/// The signing record: a file in a directory under a preopen (its own executor, no lease).
struct RecordFile {
    exec: WasiExecutor,
    /// Its name in that directory.
    name: String,
    /// Its absolute guest path, for errors.
    path: String,
}

/// The live signer of one open trail.
pub(super) struct Signing {
    key: SigningKey,
    record: RecordFile,
    interval_ns: u64,
    /// The head this signer last recorded and signed.
    mine: Option<CheckpointBody>,
    /// When the last signature was tried (monotonic ns).
    last_try: Option<u64>,
    /// A segment rotated since the last signature.
    pub(super) rotated: bool,
    status: SignerStatus,
}

impl Signing {
    /// The signer of `o` for the trail in `dir`; the key's name is the trail's origin.
    pub(super) fn new(o: &SignerOptions, dir: &str) -> Result<Signing, wit::Error> {
        // Never quoted: the key text is secret (the core's parse errors do not quote it).
        let key = SigningKey::parse(&o.key)
            .map_err(|e| wit::Error::InvalidArgument(format!("signer key: {e}")))?;
        if key.kind() != KeyKind::Ed25519 {
            return Err(wit::Error::InvalidArgument(format!(
                "key {} is a witness key: a trail is signed with a log key",
                key.name()
            )));
        }
        let interval_ms = o.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS);
        if interval_ms > MAX_INTERVAL_MS {
            return Err(wit::Error::InvalidArgument(format!(
                "signer interval-ms is {interval_ms}; allowed range is 0 ..= {MAX_INTERVAL_MS}"
            )));
        }
        let path = match &o.record_path {
            Some(p) => p.clone(),
            None => format!("{}.signed", dir.trim_end_matches('/')),
        };
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) if !n.is_empty() && n != "." && n != ".." => (p, n),
            _ => {
                return Err(wit::Error::InvalidArgument(format!(
                    "signing record `{path}`: not a file path"
                )))
            }
        };
        let parent = if parent.is_empty() { "/" } else { parent };
        let exec = WasiExecutor::new(parent).map_err(|e| {
            wit::Error::InvalidArgument(format!(
                "signing record `{path}`: {e} (give signer.record-path a path under a preopened directory, outside the trail directory)"
            ))
        })?;
        Ok(Signing {
            key,
            record: RecordFile {
                exec,
                name: name.to_string(),
                path: path.clone(),
            },
            interval_ns: interval_ms.saturating_mul(1_000_000),
            mine: None,
            last_try: None,
            rotated: false,
            status: SignerStatus {
                signed_size: None,
                notes_written: 0,
                last_error: None,
            },
        })
    }

    /// The trail's origin: the key's name.
    pub(super) fn origin(&self) -> &str {
        self.key.name()
    }

    /// What the signer did.
    pub(super) fn status(&self) -> SignerStatus {
        self.status.clone()
    }

    fn io(&self, op: &'static str, error: evident_core::IoError) -> wit::Error {
        crate::convert::error(&Error::Io {
            op,
            location: Location::file(&self.record.path),
            error,
        })
    }

    /// The record's checkpoint; `None` when the key never signed. A record that cannot be
    /// read as a checkpoint is an error: signing without knowing what was signed could fork.
    fn read_record(&mut self) -> Result<Option<CheckpointBody>, wit::Error> {
        let name = self.record.name.clone();
        let len = match self
            .record
            .exec
            .perform(&IoOp::Length { file: name.clone() })
        {
            Ok(IoDone::Length(len)) => len,
            Ok(_) => 0,
            Err(e) if e.kind == IoErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("read the signing record", e)),
        };
        let bad = |why: String, path: &str| {
            wit::Error::Corrupt(wit::Corruption {
                location: crate::convert::location(Some(&Location::file(path))),
                message: format!(
                    "signing record {path}: {why} (refusing to sign without knowing what was signed)"
                ),
            })
        };
        if len > MAX_RECORD_LEN {
            return Err(bad(
                format!("{len} bytes, more than a checkpoint"),
                &self.record.path,
            ));
        }
        let op = IoOp::Read {
            file: name,
            offset: 0,
            len: len as u32,
        };
        let data = match self.record.exec.perform(&op) {
            Ok(IoDone::Read(d)) => d,
            Ok(_) => Vec::new(),
            Err(e) => return Err(self.io("read the signing record", e)),
        };
        std::str::from_utf8(&data)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(CheckpointBody::parse)
            .map(Some)
            .map_err(|why| bad(why, &self.record.path))
    }

    fn write_record(&mut self, head: &CheckpointBody) -> Result<(), wit::Error> {
        let name = self.record.name.clone();
        write_atomic(&mut self.record.exec, &name, head.to_text().as_bytes())
            .map_err(|e| self.io("write the signing record", e))
    }

    /// The refusal as the WIT error that says what it is, at the record.
    fn refused(&self, r: ForkRefusal) -> wit::Error {
        let corruption = wit::Corruption {
            location: crate::convert::location(Some(&Location::file(&self.record.path))),
            message: format!("signing record {}: {r}", self.record.path),
        };
        match r {
            ForkRefusal::Rollback { .. } => wit::Error::BehindCheckpoint(corruption),
            ForkRefusal::Fork { .. } => wit::Error::CheckpointMismatch(corruption),
            ForkRefusal::OtherOrigin { .. } => wit::Error::InvalidArgument(corruption.message),
        }
    }
}

/// Writes `bytes` to `name` atomically: temp, fsync, rename, directory fsync (as the native
/// adapter's `write_atomic`).
fn write_atomic(
    exec: &mut WasiExecutor,
    name: &str,
    bytes: &[u8],
) -> Result<(), evident_core::IoError> {
    let tmp = format!("{name}.tmp");
    for op in [
        IoOp::Create { file: tmp.clone() },
        IoOp::Write {
            file: tmp.clone(),
            offset: 0,
            data: bytes.to_vec(),
        },
        IoOp::Sync {
            file: tmp.clone(),
            metadata: true,
        },
        IoOp::Close { file: tmp.clone() },
        IoOp::Rename {
            from: tmp.clone(),
            to: name.to_string(),
        },
        IoOp::SyncDir,
    ] {
        exec.perform(&op)?;
    }
    Ok(())
}

/// The text of a WIT error, for the status.
fn message(e: &wit::Error) -> String {
    match e {
        wit::Error::Io(f) => f.message.clone(),
        wit::Error::Corrupt(c)
        | wit::Error::TornTail(c)
        | wit::Error::BehindCheckpoint(c)
        | wit::Error::CheckpointMismatch(c) => c.message.clone(),
        wit::Error::TooLarge(n) => format!("too large: {n} bytes"),
        wit::Error::Failed(s) | wit::Error::InvalidArgument(s) | wit::Error::Locked(s) => s.clone(),
        wit::Error::Closed => "closed".into(),
    }
}

impl State {
    /// The durable head as a checkpoint body.
    fn signing_head(&self) -> Result<CheckpointBody, wit::Error> {
        let t = self.tree_head()?;
        Ok(CheckpointBody {
            origin: t.origin,
            size: t.size,
            root: t.root,
        })
    }

    /// Signs the durable head now (unless it is the one signed last): check the record,
    /// record the head, sign, write `checkpoint.note`. The outcome is kept in the status.
    pub(super) fn sign_now(&mut self) -> Result<(), wit::Error> {
        let Some(mut signing) = self.signing.take() else {
            return Ok(());
        };
        let result = self.sign_with(&mut signing);
        signing.last_try = Some(super::monotonic());
        signing.rotated = false;
        match &result {
            Ok(head) => {
                signing.status.signed_size = Some(head.size);
                signing.status.last_error = None;
                signing.mine = Some(head.clone());
            }
            Err(e) => signing.status.last_error = Some(message(e)),
        }
        self.signing = Some(signing);
        result.map(|_| ())
    }

    fn sign_with(&mut self, signing: &mut Signing) -> Result<CheckpointBody, wit::Error> {
        let head = self.signing_head()?;
        if signing.mine.as_ref() == Some(&head) && signing.status.last_error.is_none() {
            return Ok(head);
        }
        let recorded = signing.read_record()?;
        let mine = signing.mine.clone();
        let checked = check_signing(
            || Ok(super::prove::Source::new(self)),
            recorded.as_ref(),
            mine.as_ref(),
            &head,
        );
        match checked {
            Ok(()) => {}
            Err(SignCheckError::Refused(r)) => return Err(signing.refused(r)),
            Err(SignCheckError::Prove(e)) => return Err(super::prove::prove_error(e)),
        }
        if recorded.as_ref() != Some(&head) {
            signing.write_record(&head)?;
        }
        let existing = self.read_note();
        let note = note_to_write(&signing.key, &head, existing.as_deref())
            .map_err(|e| wit::Error::Failed(format!("signing {}: {e}", CHECKPOINT_NOTE)))?;
        if let Some(note) = note {
            write_atomic(&mut self.exec, CHECKPOINT_NOTE, &note).map_err(|error| {
                crate::convert::error(&Error::Io {
                    op: "write checkpoint.note",
                    location: Location::file(CHECKPOINT_NOTE),
                    error,
                })
            })?;
        }
        signing.status.notes_written += 1;
        Ok(head)
    }

    /// The note in `checkpoint.note` now, if it can be read.
    fn read_note(&mut self) -> Option<Vec<u8>> {
        let len = match self.exec.perform(&IoOp::Length {
            file: CHECKPOINT_NOTE.into(),
        }) {
            Ok(IoDone::Length(len)) if len <= MAX_NOTE_LEN => len,
            _ => return None,
        };
        match self.exec.perform(&IoOp::Read {
            file: CHECKPOINT_NOTE.into(),
            offset: 0,
            len: len as u32,
        }) {
            Ok(IoDone::Read(d)) => Some(d),
            _ => None,
        }
    }

    /// Signs when due after a call: a rotation happened, or the interval passed since the
    /// last signature and the durable head moved. A failure is kept in the status only.
    pub(super) fn sign_if_due(&mut self) {
        let Some(s) = &self.signing else {
            return;
        };
        let due = s.rotated
            || s.last_try
                .is_none_or(|t| super::monotonic().saturating_sub(t) >= s.interval_ns);
        if !due {
            return;
        }
        let moved = match self.signing_head() {
            Ok(head) => s.mine.as_ref() != Some(&head) || s.status.last_error.is_some(),
            Err(_) => false,
        };
        if moved {
            let _ = self.sign_now();
        }
    }
}
