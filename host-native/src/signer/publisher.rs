//! Background publishing: a signing trail sends its signed checkpoints to the witnesses of a
//! tlog-policy and, once their verified cosignatures meet the quorum, replaces
//! `checkpoint.note` with the cosigned note.
//!
//! A round starts at most every [`Publishing::interval`] when the signed note is newer than
//! what was cosigned. Each witness is asked in parallel, from the size it is known to hold (0
//! at first: a 409 teaches it), with the consistency proof made from the publisher's own tree
//! of the trail (its leaves are read from the trail's files once, then only the new ones). A
//! witness that fails (down, timed out, refused) is retried with a doubling backoff, from the
//! interval up to [`MAX_BACKOFF`]; its error stays in [`PublishStatus`] until it cosigns. A
//! witness that shows evidence of a fork (a larger tree, or a refused proof from its own size)
//! is recorded in the status and never retried: it needs a person. Appends never wait for any
//! of this.

use super::Live;
use crate::publish::{witness_one, WitnessOutcome};
use evident_core::frame::KIND_ENTRY;
use evident_core::hash::{leaf_v2, payload_hash};
use evident_core::note::{Note, Policy, SignatureLine};
use evident_core::tree::{root_at, MemoryTree};
use evident_core::witness::CheckpointBody;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The longest wait between two tries of a failing witness.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where and how often a signing trail publishes (see [`super::Signer::with_publishing`]).
#[derive(Debug, Clone)]
pub struct Publishing {
    /// The policy: its witnesses with a URL are asked; its quorum decides when
    /// `checkpoint.note` is replaced with the cosigned note.
    pub policy: Policy,
    /// At most one round per interval while there is something new to cosign (default 10 s).
    pub interval: Duration,
    /// Timeout of one witness request (default 5 s).
    pub timeout: Duration,
}

impl Publishing {
    /// Publishing to `policy`'s witnesses every 10 s, with a 5 s timeout.
    pub fn new(policy: Policy) -> Publishing {
        Publishing {
            policy,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }
    }

    /// Sets the interval between rounds.
    pub fn with_interval(mut self, interval: Duration) -> Publishing {
        self.interval = interval;
        self
    }
}

/// One witness's state, as [`crate::Trail::publish_status`] shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessStatus {
    /// Its name in the policy.
    pub name: String,
    /// Its URL (empty when the policy gives none: it is never asked).
    pub url: String,
    /// The largest tree size it cosigned for this publisher.
    pub cosigned_size: Option<u64>,
    /// Why the last request failed, until one succeeds.
    pub last_error: Option<String>,
    /// Evidence of a fork it showed (never cleared; the witness is not asked again).
    pub fork_evidence: Option<String>,
}

/// What background publishing achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishStatus {
    /// The largest size whose cosigned note (quorum met) was written to `checkpoint.note`.
    pub cosigned_size: Option<u64>,
    /// Each witness of the policy, in policy order.
    pub witnesses: Vec<WitnessStatus>,
}

impl PublishStatus {
    /// Whether some witness showed evidence of a fork.
    pub fn fork_evidence(&self) -> bool {
        self.witnesses.iter().any(|w| w.fork_evidence.is_some())
    }
}

/// The publisher's copy of the trail's tree, grown from the trail's files.
struct TreeCopy {
    dir: PathBuf,
    tree: Arc<MemoryTree>,
}

impl TreeCopy {
    /// Grows the tree to `head.size` and checks it gives `head.root` (blocking: reads files).
    fn grow_to(&mut self, head: &CheckpointBody) -> Result<Arc<MemoryTree>, String> {
        if self.tree.size() > head.size {
            return Err(format!(
                "the publisher's tree has {} records, the note {}",
                self.tree.size(),
                head.size
            ));
        }
        if self.tree.size() < head.size {
            let tree = Arc::make_mut(&mut self.tree);
            let mut reader = crate::Reader::open(&self.dir).map_err(|e| e.to_string())?;
            reader.seek(tree.size() + 1).map_err(|e| e.to_string())?;
            while tree.size() < head.size {
                let Some(r) = reader.next_available().map_err(|e| e.to_string())? else {
                    return Err(format!(
                        "{}: record {} is not readable yet",
                        self.dir.display(),
                        tree.size() + 1
                    ));
                };
                tree.push_leaf(&leaf_v2(KIND_ENTRY, r.seq, r.ts, &payload_hash(&r.payload)));
            }
        }
        let root = root_at(head.size, self.tree.as_ref()).map_err(|e| e.to_string())?;
        if root != head.root {
            return Err(format!(
                "{}: the records give another root at size {} than the signed note",
                self.dir.display(),
                head.size
            ));
        }
        Ok(self.tree.clone())
    }
}

struct Backoff {
    next_try: Instant,
    wait: Duration,
}

/// Runs background publishing until `stop` fires or its sender is dropped.
pub(crate) fn spawn(
    live: Arc<Live>,
    dir: &Path,
    publishing: Publishing,
    status: Arc<Mutex<PublishStatus>>,
    mut stop: oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    let policy = Arc::new(publishing.policy.clone());
    {
        let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
        s.witnesses = policy
            .witnesses
            .iter()
            .map(|w| WitnessStatus {
                name: w.name.clone(),
                url: w.url.clone().unwrap_or_default(),
                ..Default::default()
            })
            .collect();
    }
    let mut copy = Some(TreeCopy {
        dir: dir.to_path_buf(),
        tree: Arc::new(MemoryTree::new()),
    });
    tokio::spawn(async move {
        let n = policy.witnesses.len();
        let mut backoff: Vec<Backoff> = (0..n)
            .map(|_| Backoff {
                next_try: Instant::now(),
                wait: publishing.interval,
            })
            .collect();
        // The cosignatures gathered for the note being published (a witness that cosigned it
        // is not asked again for it).
        let mut gathered: Option<(CheckpointBody, Vec<Option<Vec<SignatureLine>>>)> = None;
        let tick = publishing.interval.min(Duration::from_millis(250));
        let mut last_round = Instant::now() - publishing.interval;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = &mut stop => break,
            }
            let Some((head, note)) = live.current_note() else {
                continue;
            };
            let done = status
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .cosigned_size
                .is_some_and(|s| s >= head.size);
            if done {
                continue;
            }
            let fresh = gathered.as_ref().is_none_or(|(h, _)| *h != head);
            if fresh && last_round.elapsed() < publishing.interval {
                continue;
            }
            if fresh {
                last_round = Instant::now();
                gathered = Some((head.clone(), vec![None; n]));
            }
            let now = Instant::now();
            let ask: Vec<usize> = {
                let s = status.lock().unwrap_or_else(|p| p.into_inner());
                (0..n)
                    .filter(|&i| {
                        policy.witnesses[i].url.is_some()
                            && s.witnesses[i].fork_evidence.is_none()
                            && gathered.as_ref().is_some_and(|(_, g)| g[i].is_none())
                            && backoff[i].next_try <= now
                    })
                    .collect()
            };
            if ask.is_empty() {
                continue;
            }
            // The tree for the proofs, grown on the blocking pool.
            let Some(mut c) = copy.take() else { break };
            let h = head.clone();
            let (c, grown) = match tokio::task::spawn_blocking(move || {
                let r = c.grow_to(&h);
                (c, r)
            })
            .await
            {
                Ok(x) => x,
                Err(_) => break,
            };
            copy = Some(c);
            let tree = match grown {
                Ok(t) => t,
                Err(e) => {
                    let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
                    for &i in &ask {
                        s.witnesses[i].last_error = Some(e.clone());
                    }
                    continue;
                }
            };
            let note = Arc::new(note);
            let mut tasks = tokio::task::JoinSet::new();
            for &i in &ask {
                let w = &policy.witnesses[i];
                let old = status.lock().unwrap_or_else(|p| p.into_inner()).witnesses[i]
                    .cosigned_size
                    .unwrap_or(0);
                let (url, key, h, note, tree) = (
                    w.url.clone().unwrap_or_default(),
                    w.key.clone(),
                    head.clone(),
                    note.clone(),
                    tree.clone(),
                );
                let timeout = publishing.timeout;
                tasks.spawn(async move {
                    (i, witness_one(old, url, key, h, note, tree, timeout).await)
                });
            }
            let mut results = Vec::new();
            loop {
                tokio::select! {
                    joined = tasks.join_next() => match joined {
                        Some(Ok(r)) => results.push(r),
                        Some(Err(_)) => {}
                        None => break,
                    },
                    _ = &mut stop => return,
                }
            }
            {
                let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
                for (i, (outcome, lines)) in results {
                    let ws = &mut s.witnesses[i];
                    match outcome {
                        WitnessOutcome::Cosigned { .. } => {
                            ws.cosigned_size = Some(head.size);
                            ws.last_error = None;
                            backoff[i].wait = publishing.interval;
                            backoff[i].next_try = Instant::now();
                            if let Some((_, g)) = gathered.as_mut() {
                                g[i] = Some(lines);
                            }
                        }
                        WitnessOutcome::Fork(e) => ws.fork_evidence = Some(e),
                        WitnessOutcome::Refused { status, reason } => {
                            ws.last_error = Some(format!("{status} {reason}"));
                            backoff[i].next_try = Instant::now() + backoff[i].wait;
                            backoff[i].wait = (backoff[i].wait * 2).min(MAX_BACKOFF);
                        }
                        WitnessOutcome::Failed(e) => {
                            ws.last_error = Some(e);
                            backoff[i].next_try = Instant::now() + backoff[i].wait;
                            backoff[i].wait = (backoff[i].wait * 2).min(MAX_BACKOFF);
                        }
                    }
                }
            }
            // The quorum with what was gathered for this note?
            let Some((h, g)) = gathered.as_ref() else {
                continue;
            };
            let Ok(mut cosigned) = Note::parse(&note) else {
                continue;
            };
            for line in g.iter().flatten().flatten() {
                let _ = cosigned.add_signature(line.clone());
            }
            let bytes = cosigned.to_bytes();
            if policy.verify(&bytes).is_ok() {
                if let Ok(true) = live.write_cosigned(h, bytes).await {
                    status
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .cosigned_size = Some(h.size);
                }
            }
        }
    })
}
