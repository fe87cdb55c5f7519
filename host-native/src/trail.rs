//! The async handle a Rust service holds: cloneable, usable from many tasks at once.

use crate::driver::{self, Cmd, Snapshot};
use crate::error::{Error, Result};
use crate::fs_exec::FsExecutor;
use crate::lease::NativeLease;
use crate::mirror::Mirror;
use evident_core::lease::Timing;
use evident_core::{
    AuditEvent, Checkpoint, Health, LogId, OpenReport, Options, PreparedPayload, Receipt,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Name of the writer lease file that keeps two writers out of one directory.
pub const LOCK_FILE: &str = evident_core::lease::LOCK_FILE;

/// Options of a trail opened by this adapter: the core's options plus host choices.
#[derive(Debug, Default)]
pub struct TrailOptions {
    /// Segment size, durability policy, recovery mode, batch limits, health threshold...
    pub core: Options,
    /// Mirror every committed record as one JSON line to this sink (usually
    /// [`Mirror::stdout`]). Off by default.
    pub mirror: Option<Mirror>,
    /// Log id for a new trail; random when `None`. Ignored when the trail exists.
    pub log_id: Option<LogId>,
    /// Capacity of the request queue in front of the driver; appends wait when it is full.
    /// Default 65,536.
    pub queue: Option<usize>,
    /// How long the writer lease in `LOCK` lasts between renewals (renewed every fifth of it):
    /// after a kill -9, a component writer waits this long (plus a tenth) before taking over;
    /// a native writer takes over at once. Default 10 s; 50 ms to one day.
    pub lease: Option<std::time::Duration>,
    /// Archive sealed segments to an S3-compatible store in the background (see
    /// [`crate::archive::BackgroundArchive`]; [`Trail::archive_status`] shows the lag). Off by
    /// default.
    pub archive: Option<crate::archive::BackgroundArchive>,
    /// Sign the trail's checkpoints with a log key and keep the signed one in
    /// `checkpoint.note` (see [`crate::signer`]). The trail's origin is the key's name: a new
    /// trail takes it, an existing trail of another origin is refused. Off by default.
    pub signer: Option<crate::signer::Signer>,
}

impl TrailOptions {
    /// Turns the Merkle tree and its tiles off ([`Options::merkle_tree`]), for one purpose
    /// only: measuring what keeping the tree costs the writer (BENCHMARKS.md compares the two
    /// in one run). The trail this opens lacks what the tree gives: no tree edge in its
    /// footers, no root in its checkpoint, no tiles, no C2SP checkpoint (the head's tree is
    /// empty), so it cannot be proven, signed, witnessed or archived. To keep it from passing
    /// for a real trail, the open only creates a new trail (a directory holding segments is
    /// refused), refuses a signer or an archive destination beside it, and marks the
    /// directory (`no-merkle-tree`) so that any later open or `verify` refuses it. The CLI has
    /// no way to ask for it.
    pub fn without_merkle_tree_for_benchmarks(mut self) -> TrailOptions {
        self.core.merkle_tree = false;
        self
    }
}

/// What [`Trail::append_in_order`] did.
#[derive(Debug)]
pub struct InOrderAppend {
    /// Receipts of the records acknowledged, the first ones of the batch, in order.
    pub receipts: Vec<Receipt>,
    /// Why the rest of the batch (from `receipts.len()` on) was not appended; `None` when every
    /// record was.
    pub error: Option<Error>,
}

struct Inner {
    tx: mpsc::Sender<Cmd>,
    snapshot: Arc<Mutex<Snapshot>>,
    dir: PathBuf,
    log_id: LogId,
    report: OpenReport,
    /// The background archiver, stopped when the last handle goes.
    archiver: Option<crate::archive::Background>,
    /// The live signer, when the trail was opened with a key.
    signer: Option<Signing>,
    /// The largest payload accepted (refused before it is hashed in the caller's task).
    max_payload: u32,
}

/// A trail's live signer and its background task (stopped, after a last signature, when the
/// stop sender is used or dropped with the last handle).
struct Signing {
    live: Arc<crate::signer::Live>,
    /// The stop senders of the signer's task and of the publisher's.
    stop: Mutex<Vec<oneshot::Sender<()>>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    publish: Option<Arc<Mutex<crate::signer::PublishStatus>>>,
}

/// An open trail. Clone it freely: every clone talks to the same driver. The trail closes
/// cleanly when [`Trail::close`] is called or the last clone is dropped (then the driver flushes
/// what it accepted, syncs and writes the checkpoint on its own, keeping the directory locked
/// until it is done).
#[derive(Clone)]
pub struct Trail {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Trail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trail")
            .field("dir", &self.inner.dir)
            .field("log_id", &self.inner.log_id)
            .finish()
    }
}

/// A random log id from the operating system's generator (std's hasher keys come from it).
fn random_log_id() -> LogId {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(driver::now_ns());
        h.write_u32(std::process::id());
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    LogId(bytes)
}

/// Takes a trail directory for writing (the directory's `flock` and the `LOCK` lease, with the
/// default lease of 10 s): held until the returned lease is dropped. [`Error::Locked`] names the
/// holder when another writer has it.
pub fn lock_dir(dir: &Path) -> Result<NativeLease> {
    NativeLease::acquire(dir, Timing::default())
}

/// The lease timing for `options.lease`.
fn timing(dir: &Path, options: &TrailOptions) -> Result<Timing> {
    match options.lease {
        None => Ok(Timing::default()),
        Some(d) => {
            let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            Timing::new(ns).map_err(|msg| Error::Io {
                path: dir.to_path_buf(),
                error: std::io::Error::new(std::io::ErrorKind::InvalidInput, msg),
            })
        }
    }
}

impl Trail {
    /// Opens (or creates) the trail in `dir`: takes the directory's lock, runs recovery, and
    /// starts the IO driver. Recovery's findings (a torn tail cut, a seal finished...) are in
    /// [`Trail::open_report`]; corruption it must not cut is an error naming its place.
    pub async fn open(dir: impl AsRef<Path>, mut options: TrailOptions) -> Result<Trail> {
        let dir = dir.as_ref().to_path_buf();
        if !options.core.merkle_tree && (options.signer.is_some() || options.archive.is_some()) {
            // Signing, witnessing and archiving all rest on the tree's checkpoints.
            return Err(Error::Io {
                path: dir,
                error: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a trail without its Merkle tree (a benchmark option) cannot be signed or archived",
                ),
            });
        }
        if let Some(signer) = &options.signer {
            match &options.core.origin {
                Some(o) if o != signer.origin() => {
                    return Err(Error::Io {
                        path: dir,
                        error: std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!(
                                "origin {o:?} was asked but the signing key is named {:?}: a signed trail's origin is its key's name",
                                signer.origin()
                            ),
                        ),
                    })
                }
                _ => options.core.origin = Some(signer.origin().to_string()),
            }
        }
        // Created if missing; a regular file says "not a directory" (not "File exists").
        crate::safe_fs::TrailDir::open(&dir, true).map_err(|error| Error::Io {
            path: dir.clone(),
            error,
        })?;
        // The lease refuses a LOCK that is a symlink, FIFO, directory... (naming it) before it
        // opens or creates anything under that name.
        let lease = NativeLease::acquire(&dir, timing(&dir, &options)?)?;
        // A retention a crash interrupted is finished before the trail is read (FORMAT.md,
        // "Retention: retained.checkpoint"): segments it had vouched away are removed.
        crate::archive::finish_interrupted_retention(&dir)?;
        let log_id = options.log_id.unwrap_or_else(random_log_id);
        let max_payload = options.core.max_payload;
        let core = evident_core::Trail::open(options.core, log_id, driver::monotonic_ns());
        let snapshot = Arc::new(Mutex::new(Snapshot {
            health: core.health(),
            head: core.head(),
            written_head: core.written_head(),
            tree: core.tree_head(),
            origin: core.origin().to_string(),
            checkpoint_error: None,
            lost: None,
            rotations: 0,
            wake: options
                .signer
                .is_some()
                .then(|| Arc::new(tokio::sync::Notify::new())),
            tiles: evident_core::TileStatus::default(),
        }));
        let (tx, rx) = mpsc::channel(options.queue.unwrap_or(65_536).max(1));
        // The driver holds the lease (in its executor) until it has stopped touching the files,
        // which may be after every handle is gone (it flushes and closes on its own then).
        let exec = FsExecutor::new(&dir).with_lease(lease);
        let opened =
            driver::spawn(core, exec, rx, snapshot.clone(), options.mirror).map_err(|error| {
                Error::Io {
                    path: dir.clone(),
                    error,
                }
            })?;
        let report = opened.await.map_err(|_| Error::Closed)??;
        let signer = match options.signer {
            None => None,
            Some(signer) => {
                let record = signer.record_path().to_path_buf();
                let publishing = signer.publishing().cloned();
                let (head, _) = crate::signer::current_head(&snapshot);
                match crate::signer::Live::start(signer, dir.clone(), head).await {
                    Ok(live) => Some((live, publishing)),
                    Err(error) => {
                        // Refused (a fork, a rollback) or failed: the trail is not left open.
                        let (reply, done) = oneshot::channel();
                        if tx.send(Cmd::Close { reply }).await.is_ok() {
                            let _ = done.await;
                        }
                        return Err(Error::Io {
                            path: record,
                            error,
                        });
                    }
                }
            }
        };
        let signer = signer.map(|(live, publishing)| {
            let (stop, stopped) = oneshot::channel();
            let wake = snapshot
                .lock()
                .expect("snapshot lock")
                .wake
                .clone()
                .unwrap_or_default();
            let task = crate::signer::spawn(live.clone(), snapshot.clone(), wake, stopped);
            let mut stops = vec![stop];
            let mut tasks = vec![task];
            let publish = publishing.map(|p| {
                let status = Arc::new(Mutex::new(crate::signer::PublishStatus::default()));
                let (stop, stopped) = oneshot::channel();
                stops.push(stop);
                tasks.push(crate::signer::spawn_publisher(
                    live.clone(),
                    &dir,
                    p,
                    status.clone(),
                    stopped,
                ));
                status
            });
            Signing {
                live,
                stop: Mutex::new(stops),
                tasks: Mutex::new(tasks),
                publish,
            }
        });
        let archiver = options.archive.map(|a| {
            let link = crate::archive::DriverLink {
                tx: tx.downgrade(),
                snapshot: snapshot.clone(),
            };
            crate::archive::Background::start(dir.clone(), a, link)
        });
        Ok(Trail {
            inner: Arc::new(Inner {
                tx,
                snapshot,
                dir,
                log_id: report.log_id,
                report,
                archiver,
                signer,
                max_payload,
            }),
        })
    }

    /// Prepares one payload in the caller's task (its payload hash and agent id, so the
    /// driver thread does not); one over the trail's `max_payload` is refused first, unhashed.
    fn prepare(&self, payload: Vec<u8>) -> Result<PreparedPayload> {
        let max = self.inner.max_payload as usize;
        if payload.len() > max {
            return Err(Error::Trail(evident_core::Error::TooLarge {
                len: payload.len(),
                max,
            }));
        }
        Ok(PreparedPayload::new(payload))
    }

    /// Signs the durable head now (the `sync`, `checkpoint` and `close` trigger).
    async fn sign_now(&self) -> Result<()> {
        let Some(s) = &self.inner.signer else {
            return Ok(());
        };
        let (head, _) = crate::signer::current_head(&self.inner.snapshot);
        s.live.sign(head).await.map_err(|error| Error::Io {
            path: self.inner.dir.join(crate::publish::CHECKPOINT_NOTE),
            error,
        })
    }

    /// What the signer did (`None` without [`TrailOptions::signer`]): the size last signed into
    /// `checkpoint.note`, notes written, the last signing error.
    pub fn signer_status(&self) -> Option<crate::signer::SignerStatus> {
        self.inner.signer.as_ref().map(|s| s.live.status())
    }

    /// How far background publishing got (`None` without [`crate::signer::Signer::with_publishing`]):
    /// the size last cosigned by a quorum, and each witness's cosigned size, last error and
    /// fork evidence.
    pub fn publish_status(&self) -> Option<crate::signer::PublishStatus> {
        let s = self.inner.signer.as_ref()?.publish.as_ref()?;
        Some(s.lock().expect("publish status lock").clone())
    }

    /// What recovery found and did when this trail was opened.
    pub fn open_report(&self) -> &OpenReport {
        &self.inner.report
    }

    /// The trail's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The trail's identity.
    pub fn log_id(&self) -> LogId {
        self.inner.log_id
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<std::result::Result<T, evident_core::Error>>) -> Cmd,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        // A driver that stopped because another writer took the trail says so, not "closed".
        let stopped = || match self
            .inner
            .snapshot
            .lock()
            .expect("snapshot lock")
            .lost
            .clone()
        {
            Some(reason) => Error::Trail(evident_core::Error::Failed { reason }),
            None => Error::Closed,
        };
        self.inner.tx.send(make(tx)).await.map_err(|_| stopped())?;
        Ok(rx.await.map_err(|_| stopped())??)
    }

    /// Appends one record, timestamped now; returns its receipt once it is acknowledged under
    /// the durability policy (by default: after the fsync that covers it).
    pub async fn append(&self, payload: impl Into<Vec<u8>>) -> Result<Receipt> {
        // Hashed here, in the caller's task, not on the driver thread (see PreparedPayload).
        let payload = self.prepare(payload.into())?;
        self.ask(|reply| Cmd::Append {
            payload,
            ts: None,
            reply,
        })
        .await
    }

    /// Appends one record with a caller-supplied timestamp (nanoseconds since the Unix epoch).
    pub async fn append_at(&self, payload: impl Into<Vec<u8>>, ts: u64) -> Result<Receipt> {
        let payload = self.prepare(payload.into())?;
        self.ask(|reply| Cmd::Append {
            payload,
            ts: Some(ts),
            reply,
        })
        .await
    }

    /// Appends a typed audit event (its canonical JSON).
    pub async fn append_event(&self, event: &AuditEvent) -> Result<Receipt> {
        self.append(event.to_json()).await
    }

    /// Appends many records at once, in order, contiguously; receipts in the same order. If any
    /// of them fails the call fails (the others may have been acknowledged: check the trail).
    pub async fn append_batch(&self, payloads: Vec<Vec<u8>>) -> Result<Vec<Receipt>> {
        let payloads = payloads.into_iter().map(PreparedPayload::new).collect();
        self.ask(|reply| Cmd::AppendBatch { payloads, reply }).await
    }

    /// Appends many records in order, each only if every one before it was acknowledged: the
    /// result holds the receipts of the acknowledged prefix and, if the batch stopped, the error
    /// that stopped it. Nothing after the first failed record is written, so a producer can
    /// resend from `receipts.len()` without a hole or a duplicate (what `evident append` does).
    /// Unlike [`Trail::append_batch`], a failure never leaves later records stored.
    pub async fn append_in_order(&self, payloads: Vec<Vec<u8>>) -> Result<InOrderAppend> {
        let payloads = payloads.into_iter().map(PreparedPayload::new).collect();
        let (tx, rx) = oneshot::channel();
        self.inner
            .tx
            .send(Cmd::AppendInOrder {
                payloads,
                reply: tx,
            })
            .await
            .map_err(|_| Error::Closed)?;
        let r = rx.await.map_err(|_| Error::Closed)?;
        Ok(InOrderAppend {
            receipts: r.receipts,
            error: r.error.map(Error::from),
        })
    }

    /// Why the last write of `head.checkpoint` failed, if it did and none has succeeded since
    /// (the trail itself is unaffected, but the checkpoint on disk is stale).
    pub fn checkpoint_error(&self) -> Option<Error> {
        self.inner
            .snapshot
            .lock()
            .expect("snapshot lock")
            .checkpoint_error
            .clone()
            .map(Error::from)
    }

    /// Makes everything appended so far durable, whatever the policy; returns the durable head.
    /// With a signer, `checkpoint.note` is then signed at that head (a signing failure does
    /// not fail the sync: it is in [`Trail::signer_status`]).
    pub async fn sync(&self) -> Result<Checkpoint> {
        let head = self.ask(|reply| Cmd::Sync { reply }).await?;
        let _ = self.sign_now().await;
        Ok(head)
    }

    /// Rewrites `head.checkpoint` atomically with the durable head and returns it; with a
    /// signer, also `checkpoint.note` (its failure is this call's error).
    pub async fn checkpoint(&self) -> Result<Checkpoint> {
        let head = self.ask(|reply| Cmd::Checkpoint { reply }).await?;
        self.sign_now().await?;
        Ok(head)
    }

    /// The durable head: a checkpoint to ship off the host (stdout, a SIEM, a witness).
    pub fn head(&self) -> Checkpoint {
        self.inner.snapshot.lock().expect("snapshot lock").head
    }

    /// The head including records acknowledged but not yet synced (`Os`/`Interval` policies).
    pub fn written_head(&self) -> Checkpoint {
        self.inner
            .snapshot
            .lock()
            .expect("snapshot lock")
            .written_head
    }

    /// The background archiver's lag (`None` without [`TrailOptions::archive`]): segments and
    /// bytes sealed but not yet archived, the archived head, the last error.
    pub fn archive_status(&self) -> Option<crate::archive::ArchiveStatus> {
        self.inner.archiver.as_ref().map(|a| a.status())
    }

    /// The Merkle tree at the durable head ([`Trail::head`]): size (= the head's seq) and
    /// RFC 6962 root.
    pub fn tree_head(&self) -> evident_core::TreeHead {
        self.inner.snapshot.lock().expect("snapshot lock").tree
    }

    /// The trail's origin: its C2SP checkpoints' first line (`evident/<log id hex>` unless
    /// set with `Options::origin` when the trail was created).
    pub fn origin(&self) -> String {
        self.inner
            .snapshot
            .lock()
            .expect("snapshot lock")
            .origin
            .clone()
    }

    /// The C2SP checkpoint of the durable head (origin, size, root); `.body()` is its
    /// unsigned text, `.signed_note(signers)` a signed note.
    pub fn tree_checkpoint(&self) -> evident_core::tree::checkpoint::TreeCheckpoint {
        let s = self.inner.snapshot.lock().expect("snapshot lock");
        evident_core::tree::checkpoint::TreeCheckpoint {
            origin: s.origin.clone(),
            size: s.tree.size,
            root: s.tree.root,
        }
    }

    /// How far the tree's tiles on disk are (`tile/`, derived data written beside the
    /// acknowledgement path): entries tiled, files written, failed tile writes (each retried),
    /// rebuilds from the records. A failing tile write never affects [`Trail::health`].
    pub fn tile_status(&self) -> evident_core::TileStatus {
        self.inner
            .snapshot
            .lock()
            .expect("snapshot lock")
            .tiles
            .clone()
    }

    /// Health state and counters.
    pub fn health(&self) -> Health {
        self.inner
            .snapshot
            .lock()
            .expect("snapshot lock")
            .health
            .clone()
    }

    /// Writes and syncs everything accepted, writes the checkpoint, and stops the driver.
    /// Other clones fail with [`Error::Closed`] afterwards. The trail is closed either way; an
    /// error says what closing could not do (write `head.checkpoint`, create a segment for the
    /// appends still queued, re-verify after a failed sync).
    /// With a signer, `checkpoint.note` is signed at the final head before this returns.
    pub async fn close(self) -> Result<Checkpoint> {
        let closed = self.ask(|reply| Cmd::Close { reply }).await;
        if let Some(s) = &self.inner.signer {
            let stops = std::mem::take(&mut *s.stop.lock().expect("signer lock"));
            let tasks = std::mem::take(&mut *s.tasks.lock().expect("signer lock"));
            drop(stops); // the signer signs the final head once more; the publisher stops
            for t in tasks {
                let _ = t.await;
            }
        }
        let head = closed?;
        self.sign_now().await?;
        Ok(head)
    }
}
