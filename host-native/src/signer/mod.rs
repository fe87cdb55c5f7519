//! Signed checkpoints from a live trail: a trail opened with a [`Signer`] keeps
//! `checkpoint.note` in its directory holding the current C2SP checkpoint signed with the log's
//! key.
//!
//! When the note is written (never on an append's path: the driver only wakes the signer):
//! - when the trail opens (after the fork check below), at every segment rotation, at
//!   [`crate::Trail::sync`], [`crate::Trail::checkpoint`] and [`crate::Trail::close`];
//! - and at most every [`Signer::interval`] (default 1 s) while new records become durable,
//!   by a background task woken by the driver's durable-head updates.
//!
//! The note is written atomically (temp, fsync, rename, directory fsync), so a crash leaves
//! the old note or the new one. **Never sign a fork**: before each signature the (size, root)
//! being signed is recorded durably in the key's signing record ([`record`], beside the key
//! file), and a head that does not extend the record is refused, naming both roots. At open
//! the record is checked against the trail's files with a consistency proof (so a cut tail or a
//! restored backup of the trail directory is refused: the trail does not open with the key);
//! while the trail stays open, the record this process wrote is extended by construction (its
//! in-memory tree only grows), and a record another signer changed meanwhile is checked against
//! the files again.

mod publisher;
pub mod record;
mod task;

use crate::prove::DirSource;
use crate::publish::{write_atomic, CHECKPOINT_NOTE};
use evident_core::note::{KeyKind, SigningKey};
use evident_core::witness::{
    check_signing, note_to_write, CheckpointBody, ForkRefusal, SignCheckError,
};
pub(crate) use publisher::spawn as spawn_publisher;
pub use publisher::{PublishStatus, Publishing, WitnessStatus, MAX_BACKOFF};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub(crate) use task::{current_head, spawn};

/// The default [`Signer::interval`]: at most one signature a second while records arrive.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// A log signing key and where its signing record lives: what [`crate::TrailOptions::signer`]
/// takes. A trail created with it takes the key's name as its origin; an existing trail of
/// another origin is refused.
#[derive(Debug, Clone)]
pub struct Signer {
    key: SigningKey,
    record: PathBuf,
    interval: Duration,
    publishing: Option<Publishing>,
}

impl Signer {
    /// A signer with `key` (an Ed25519 log key) recording what it signs in `record` (keep it
    /// outside the trail directory, with the key).
    pub fn new(key: SigningKey, record: impl Into<PathBuf>) -> io::Result<Signer> {
        if key.kind() != KeyKind::Ed25519 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "key {} is a witness key: a trail is signed with a log key",
                    key.name()
                ),
            ));
        }
        Ok(Signer {
            key,
            record: record.into(),
            interval: DEFAULT_INTERVAL,
            publishing: None,
        })
    }

    /// The key in `key_file` (mode 0600, see [`crate::keys::load_key_file`]), recording in
    /// `<key_file>.signed`.
    pub fn from_key_file(key_file: &Path) -> io::Result<Signer> {
        let key = crate::keys::load_key_file(key_file, KeyKind::Ed25519)?;
        Signer::new(key, record::default_record(key_file))
    }

    /// Signs at most this often while records arrive (default 1 s; rotation, sync, checkpoint
    /// and close sign at once).
    pub fn with_interval(mut self, interval: Duration) -> Signer {
        self.interval = interval;
        self
    }

    /// Also publish the signed checkpoints to the witnesses of a policy in the background
    /// (see [`Publishing`]; [`crate::Trail::publish_status`] shows how far it got).
    pub fn with_publishing(mut self, publishing: Publishing) -> Signer {
        self.publishing = Some(publishing);
        self
    }

    /// The background publishing, if set.
    pub fn publishing(&self) -> Option<&Publishing> {
        self.publishing.as_ref()
    }

    /// The key's name: the trail's origin.
    pub fn origin(&self) -> &str {
        self.key.name()
    }

    /// The signing record's path.
    pub fn record_path(&self) -> &Path {
        &self.record
    }

    /// The interval between background signatures.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

/// What the live signer did (see [`crate::Trail::signer_status`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignerStatus {
    /// The tree size of the last checkpoint signed and written to `checkpoint.note`.
    pub signed_size: Option<u64>,
    /// Notes written since the trail opened.
    pub notes_written: u64,
    /// Why the last signature failed, until one succeeds.
    pub last_error: Option<String>,
}

fn refusal(r: ForkRefusal) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, r.to_string())
}

fn sign_check_error(dir: &Path, e: SignCheckError<crate::Error>) -> io::Error {
    match e {
        SignCheckError::Refused(r) => refusal(r),
        SignCheckError::Prove(e) => io::Error::other(format!("{}: {e}", dir.display())),
    }
}

/// Whether the trail in `dir`, whose tree is now `head`, extends the recorded `signed`: a
/// consistency proof made from the trail's files (tiles, or every record when they fail),
/// checked by the never-sign-a-fork guard ([`evident_core::witness::sign_check`]). The
/// refusal names both roots.
pub fn check_against_trail(
    dir: &Path,
    signed: &CheckpointBody,
    head: &CheckpointBody,
) -> io::Result<()> {
    evident_core::witness::sign_check::check_against_trail(|| DirSource::open(dir), signed, head)
        .map_err(|e| sign_check_error(dir, e))
}

/// Signs `head` for the trail in `dir`: lock the record, check it (`mine`: the record this
/// process wrote last, extended by construction), record `head`, sign, write `checkpoint.note`.
fn sign_blocking(
    signer: &Signer,
    dir: &Path,
    mine: Option<&CheckpointBody>,
    head: &CheckpointBody,
) -> io::Result<Vec<u8>> {
    let _lock = record::lock(&signer.record)?;
    let recorded = record::read(&signer.record)?;
    check_signing(|| DirSource::open(dir), recorded.as_ref(), mine, head)
        .map_err(|e| sign_check_error(dir, e))?;
    if recorded.as_ref() != Some(head) {
        record::write(&signer.record, head)?;
    }
    let note_path = dir.join(CHECKPOINT_NOTE);
    // Unreadable (a planted symlink, say) is as good as absent: the note is written anew,
    // replacing the entry itself.
    let existing = crate::publish::read_checkpoint_note(dir).ok().flatten();
    match note_to_write(&signer.key, head, existing.as_deref())
        .map_err(|e| io::Error::other(e.to_string()))?
    {
        // Already a note of this very head signed by this key: kept as it is.
        None => Ok(existing.unwrap_or_default()),
        Some(note) => {
            write_atomic(&note_path, &note)?;
            Ok(note)
        }
    }
}

/// The signer of one open trail: serializes signatures, remembers what it recorded.
pub(crate) struct Live {
    signer: Arc<Signer>,
    dir: PathBuf,
    /// The head this process last recorded and signed.
    last: tokio::sync::Mutex<Option<CheckpointBody>>,
    /// The note in `checkpoint.note` now (what the publisher sends to witnesses).
    note: Mutex<Option<(CheckpointBody, Vec<u8>)>>,
    status: Mutex<SignerStatus>,
}

impl Live {
    /// Checks the record against the trail (whose tree is `head`) and signs `head`: the
    /// open-time check that refuses a cut tail or a restored backup.
    pub(crate) async fn start(
        signer: Signer,
        dir: PathBuf,
        head: CheckpointBody,
    ) -> io::Result<Arc<Live>> {
        let live = Arc::new(Live {
            signer: Arc::new(signer),
            dir,
            last: tokio::sync::Mutex::new(None),
            note: Mutex::new(None),
            status: Mutex::new(SignerStatus::default()),
        });
        live.sign(head).await?;
        Ok(live)
    }

    pub(crate) fn interval(&self) -> Duration {
        self.signer.interval
    }

    pub(crate) fn status(&self) -> SignerStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Signs `head` unless it is the one signed last; records the outcome in the status.
    pub(crate) async fn sign(&self, head: CheckpointBody) -> io::Result<()> {
        let mut last = self.last.lock().await;
        if last.as_ref() == Some(&head) && self.status().last_error.is_none() {
            return Ok(());
        }
        let (signer, dir, mine, h) = (
            self.signer.clone(),
            self.dir.clone(),
            last.clone(),
            head.clone(),
        );
        let result =
            tokio::task::spawn_blocking(move || sign_blocking(&signer, &dir, mine.as_ref(), &h))
                .await
                .unwrap_or_else(|e| Err(io::Error::other(format!("the signing task failed: {e}"))));
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(note) => {
                *self.note.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((head.clone(), note.clone()));
                status.signed_size = Some(head.size);
                status.notes_written += 1;
                status.last_error = None;
                *last = Some(head);
            }
            Err(e) => status.last_error = Some(e.to_string()),
        }
        result.map(|_| ())
    }

    /// The signed note in `checkpoint.note` and its checkpoint.
    pub(crate) fn current_note(&self) -> Option<(CheckpointBody, Vec<u8>)> {
        self.note.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces `checkpoint.note` with `cosigned` (the note of `head` with cosignatures), unless
    /// a newer head was signed meanwhile (then the next round cosigns that one).
    pub(crate) async fn write_cosigned(
        &self,
        head: &CheckpointBody,
        cosigned: Vec<u8>,
    ) -> io::Result<bool> {
        let last = self.last.lock().await;
        if last.as_ref() != Some(head) {
            return Ok(false);
        }
        let path = self.dir.join(CHECKPOINT_NOTE);
        let bytes = cosigned.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(format!("the writing task failed: {e}"))))?;
        *self.note.lock().unwrap_or_else(|p| p.into_inner()) = Some((head.clone(), cosigned));
        drop(last);
        Ok(true)
    }
}
