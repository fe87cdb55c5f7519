//! Publishing a signed, witnessed checkpoint: `evident publish DIR --policy FILE --key KEY`.
//!
//! 1. The trail's head (origin, size, root) is computed from its records; the key's name must
//!    be the trail's origin.
//! 2. **Never sign a fork**: the key's record of what it last signed (`<KEYFILE>.signed` by
//!    default, kept with the key so that restoring a backup of the trail does not restore it)
//!    must be extended by the head, checked with a consistency proof computed from the trail's
//!    records; then the new (size, root) is recorded durably, and only then signed.
//! 3. Each witness of the policy (those with a URL) gets `add-checkpoint` in parallel, with a
//!    timeout; a 409 teaches the witness's size and the request is retried with the proof
//!    from it. Every cosignature is verified before it is kept. A witness holding a larger
//!    size than the log, or refusing the proof from its own size (it cosigned another
//!    history), is reported as **fork evidence**.
//! 4. If the verified cosignatures meet the policy's quorum, `checkpoint.note` is written
//!    atomically (temp, fsync, rename, directory fsync) in the trail directory.

use crate::prove::DirSource;
use evident_core::hash::Hash;
use evident_core::note::{open, sign_note, Policy, SignatureLine, SigningKey};
use evident_core::prove::ProofSource;
use evident_core::tree::{consistency_proof, root_at, MemoryTree};
use evident_core::witness::{check_before_signing, AddCheckpoint, CheckpointBody};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The cosigned checkpoint's file name in the trail directory.
pub const CHECKPOINT_NOTE: &str = "checkpoint.note";

/// What one witness did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessOutcome {
    /// Cosigned; the cosignature verified.
    Cosigned {
        /// Its timestamp.
        timestamp: u64,
    },
    /// Refused (status and its reason).
    Refused {
        /// HTTP status.
        status: u16,
        /// The witness's reason.
        reason: String,
    },
    /// Not reached, or answered nonsense (a bad cosignature is this too).
    Failed(String),
    /// Evidence of a fork: the witness holds a larger tree than the log, or refuses the
    /// consistency from its size (it cosigned another history of this origin).
    Fork(String),
}

/// One witness's line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessReport {
    /// Its name in the policy.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// What happened.
    pub outcome: WitnessOutcome,
}

/// The result of a publish.
#[derive(Debug, Clone)]
pub struct Published {
    /// The checkpoint (origin, size, root) signed.
    pub checkpoint: CheckpointBody,
    /// The cosigned note (written to `checkpoint.note` when the quorum is met).
    pub note: Vec<u8>,
    /// Policy names of the witnesses that cosigned.
    pub cosigned: Vec<String>,
    /// Every witness's outcome.
    pub reports: Vec<WitnessReport>,
    /// Whether the quorum was met (and the note written).
    pub quorum_met: bool,
}

impl Published {
    /// Whether some witness showed evidence of a fork.
    pub fn fork_evidence(&self) -> bool {
        self.reports
            .iter()
            .any(|r| matches!(r.outcome, WitnessOutcome::Fork(_)))
    }
}

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// The default record of what `key_file`'s key signed: `<key_file>.signed`.
pub fn default_record(key_file: &Path) -> PathBuf {
    crate::signer::record::default_record(key_file)
}

/// Reads the trail's `checkpoint.note`: `None` when there is none. Opened relative to the
/// directory, never through a symlink (one planted under that name is an error saying so; the
/// caller names the file), and at most [`evident_core::note::MAX_NOTE_LEN`] bytes (a longer file is refused).
pub fn read_checkpoint_note(dir: &Path) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match crate::safe_fs::TrailDir::open(dir, false)
        .and_then(|d| d.open_file(CHECKPOINT_NOTE, false))
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let max = evident_core::note::MAX_NOTE_LEN;
    let mut buf = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("longer than {max} bytes: not a checkpoint note"),
        ));
    }
    Ok(Some(buf))
}

/// Writes `bytes` to `path` atomically: temp, fsync, rename, directory fsync.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let at = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // Never through a symlink: whoever can write to the directory could plant `<name>.tmp`
    // pointing anywhere, and opening it to write would write there. A stale temp file or link
    // (a crash between create and rename, or a planted one) is removed, the link itself and
    // never its target; anything else there is refused. The temp file is then created with
    // O_EXCL, which a link planted meanwhile makes fail instead of being followed.
    match std::fs::symlink_metadata(&tmp) {
        Ok(m) if m.file_type().is_symlink() || m.file_type().is_file() => {
            std::fs::remove_file(&tmp).map_err(at)?
        }
        Ok(_) => {
            return Err(at(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} is not a regular file: refusing to replace it",
                    tmp.display()
                ),
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(at(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(at)?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(at)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(at)?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent).and_then(|d| d.sync_all()).map_err(at)
}

/// The trail's tree, rebuilt from its records (every leaf recomputed; O(size)).
fn trail_tree(dir: &Path) -> io::Result<(CheckpointBody, MemoryTree)> {
    let prover = crate::prove::Prover::open(dir).map_err(|e| other(e.to_string()))?;
    let head = prover.checkpoint().clone();
    let mut src = DirSource::open(dir).map_err(|e| other(e.to_string()))?;
    let leaves = src.leaves(head.size).map_err(|e| other(e.to_string()))?;
    let mut tree = MemoryTree::new();
    for l in &leaves {
        tree.push_leaf(l);
    }
    let root = root_at(tree.size(), &tree).map_err(|e| other(e.to_string()))?;
    if tree.size() != head.size || root != head.root {
        return Err(other(format!(
            "{}: the records changed while the head was read; try again",
            dir.display()
        )));
    }
    Ok((
        CheckpointBody {
            origin: head.origin,
            size: head.size,
            root: head.root,
        },
        tree,
    ))
}

/// Signs the trail's head after the never-sign-a-fork check, recording it first. Returns the
/// signed note and the tree it is over.
pub fn sign_head(
    dir: &Path,
    key: &SigningKey,
    record: &Path,
) -> io::Result<(CheckpointBody, Vec<u8>, MemoryTree)> {
    let (head, tree) = trail_tree(dir)?;
    if key.name() != head.origin {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the key is named {:?} but the trail's origin is {:?}: a checkpoint is signed by a key named after its origin",
                key.name(),
                head.origin
            ),
        ));
    }
    let _lock = crate::signer::record::lock(record)?;
    let signed = crate::signer::record::read(record)?;
    let proof = match &signed {
        Some(s) if s.size < head.size && s.size > 0 => {
            consistency_proof(s.size, head.size, &tree).map_err(|e| other(e.to_string()))?
        }
        _ => Vec::new(),
    };
    check_before_signing(signed.as_ref(), &head, &proof)
        .map_err(|r| io::Error::new(io::ErrorKind::InvalidData, r.to_string()))?;
    write_atomic(record, head.to_text().as_bytes())?;
    let note = sign_note(&head.to_text(), key)
        .map_err(|e| other(e.to_string()))?
        .to_bytes();
    Ok((head, note, tree))
}

fn body_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

/// One witness: add-checkpoint from `old` (0 when the witness's size is not known), then
/// from the size a 409 names (at most 3 tries). Returns the outcome and the verified
/// cosignature lines.
pub(crate) async fn witness_one(
    mut old: u64,
    url: String,
    key: evident_core::note::VerifierKey,
    head: CheckpointBody,
    note: Arc<Vec<u8>>,
    tree: Arc<MemoryTree>,
    timeout: Duration,
) -> (WitnessOutcome, Vec<SignatureLine>) {
    for _ in 0..3 {
        let proof = if old == 0 || old == head.size {
            Vec::new()
        } else {
            match consistency_proof(old, head.size, tree.as_ref()) {
                Ok(p) => p,
                Err(e) => return (WitnessOutcome::Failed(e.to_string()), vec![]),
            }
        };
        let body = AddCheckpoint {
            old,
            proof,
            checkpoint: note.as_ref().clone(),
        }
        .to_bytes();
        let a = match crate::witness::client::add_checkpoint(&url, body, timeout).await {
            Ok(a) => a,
            Err(e) => return (WitnessOutcome::Failed(e), vec![]),
        };
        match a.status {
            200 => {
                let mut cosigned = note.as_ref().clone();
                cosigned.extend_from_slice(&a.body);
                return match open(&cosigned, std::slice::from_ref(&key)) {
                    Ok(o) => {
                        let lines: Vec<SignatureLine> = o
                            .note
                            .signatures()
                            .iter()
                            .filter(|l| l.name == key.name() && l.id == key.id())
                            .cloned()
                            .collect();
                        let ts = o.verified[0].timestamp.unwrap_or(0);
                        (WitnessOutcome::Cosigned { timestamp: ts }, lines)
                    }
                    Err(e) => (
                        WitnessOutcome::Failed(format!("its cosignature does not verify: {e}")),
                        vec![],
                    ),
                };
            }
            409 => {
                let size: Option<u64> = body_text(&a.body).parse().ok();
                match size {
                    Some(s) if s > head.size => {
                        return (
                            WitnessOutcome::Fork(format!(
                                "the witness cosigned size {s} of {}, larger than the log's {}: the log was cut, rolled back or forked",
                                head.origin, head.size
                            )),
                            vec![],
                        )
                    }
                    Some(s) if s != old => old = s,
                    _ => {
                        return (
                            WitnessOutcome::Failed(format!(
                                "409 with an unusable size {:?}",
                                body_text(&a.body)
                            )),
                            vec![],
                        )
                    }
                }
            }
            422 if old > 0 => {
                return (
                    WitnessOutcome::Fork(format!(
                    "the witness refuses the log's history from size {old}, which it cosigned: {}",
                    body_text(&a.body)
                )),
                    vec![],
                )
            }
            status => {
                return (
                    WitnessOutcome::Refused {
                        status,
                        reason: body_text(&a.body),
                    },
                    vec![],
                )
            }
        }
    }
    (
        WitnessOutcome::Failed("the witness's size kept changing".into()),
        vec![],
    )
}

/// Signs the trail's head and collects the policy's witnesses' cosignatures; writes
/// `checkpoint.note` when the quorum is met.
pub async fn publish(
    dir: &Path,
    key: &SigningKey,
    record: &Path,
    policy: &Policy,
    timeout: Duration,
) -> io::Result<Published> {
    let (head, note, tree) = {
        let (dir, key, record) = (dir.to_path_buf(), key.clone(), record.to_path_buf());
        tokio::task::spawn_blocking(move || sign_head(&dir, &key, &record))
            .await
            .map_err(|e| other(e.to_string()))??
    };
    let note = Arc::new(note);
    let tree = Arc::new(tree);
    let mut tasks = tokio::task::JoinSet::new();
    let mut reports = Vec::new();
    for (i, w) in policy.witnesses.iter().enumerate() {
        let Some(url) = w.url.clone() else {
            reports.push(WitnessReport {
                name: w.name.clone(),
                url: String::new(),
                outcome: WitnessOutcome::Failed("the policy gives no URL".into()),
            });
            continue;
        };
        let (key, head, note, tree) = (w.key.clone(), head.clone(), note.clone(), tree.clone());
        tasks.spawn(async move {
            let r = witness_one(0, url.clone(), key, head, note, tree, timeout).await;
            (i, url, r)
        });
    }
    let mut signed = evident_core::note::Note::parse(&note).map_err(|e| other(e.to_string()))?;
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|e| other(e.to_string()))?);
    }
    results.sort_by_key(|(i, _, _)| *i);
    for (i, url, (outcome, lines)) in results {
        for l in lines {
            signed.add_signature(l).map_err(|e| other(e.to_string()))?;
        }
        reports.push(WitnessReport {
            name: policy.witnesses[i].name.clone(),
            url,
            outcome,
        });
    }
    let bytes = signed.to_bytes();
    let (quorum_met, cosigned) = match policy.verify(&bytes) {
        Ok(v) => (true, v.cosigned),
        Err(evident_core::note::PolicyError::QuorumNotMet { cosigned }) => (false, cosigned),
        Err(e) => return Err(other(format!("the cosigned checkpoint: {e}"))),
    };
    if quorum_met {
        write_atomic(&dir.join(CHECKPOINT_NOTE), &bytes)?;
    }
    Ok(Published {
        checkpoint: head,
        note: bytes,
        cosigned,
        reports,
        quorum_met,
    })
}

/// The root as base64 (for reports).
pub fn root_b64(h: &Hash) -> String {
    evident_core::tree::base64::encode(&h.0)
}
