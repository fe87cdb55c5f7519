//! One archive round: upload the sealed segments not yet archived, then the round's manifest.
//!
//! Order is what makes a crash harmless: segment objects first (each one create-only and
//! atomic: an interrupted PUT leaves no object), the manifest last. A round killed before its
//! manifest leaves segment objects no manifest lists (never trusted, reported as extra); the
//! next round PUTs them again, finds them equal and lists them.

use super::local::{local_segments, read_header, read_segment};
use super::objects::{load_history_incremental, KnownChain, PutOutcome};
use super::{ArchiveError, ArchiveTarget};
use evident_core::archive::keys;
use evident_core::archive::manifest::describe_sealed_segment;
use evident_core::archive::plan::segments_to_upload;
use evident_core::archive::{Manifest, MANIFEST_FORMAT};
use evident_core::Checkpoint;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a round did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// The log.
    pub log_id: evident_core::LogId,
    /// Segments uploaded by this round (created, or found equal after a lost answer).
    pub segments: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Segment objects that were already in the bucket with the same bytes.
    pub already_there: u64,
    /// The manifest written, if any (relative key).
    pub manifest: Option<String>,
    /// The archived head after the round.
    pub head: Checkpoint,
    /// Sealed local segments not archived (0 after a successful round).
    pub pending_segments: u64,
    /// Where the round's time went.
    pub timings: RoundTimings,
}

/// Where one round's time went (what the archiver costs beside a busy writer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTimings {
    /// Listing the log's folder and fetching and validating manifests.
    pub history: Duration,
    /// Manifests fetched (only the new ones when the archiver knows the earlier rounds).
    pub manifests_fetched: u64,
    /// Reading the sealed segments and verifying them (framing, chain, footer, SHA-256), off
    /// the async workers.
    pub verify: Duration,
    /// PUTs of segments and the manifest.
    pub upload: Duration,
}

/// How many times a round re-reads the manifests after another archiver wrote the round's
/// manifest first.
const RACE_ATTEMPTS: usize = 4;

/// Runs one round for the trail at `dir`. `progress(done, total)` is called with bytes.
pub async fn archive_round(
    dir: &Path,
    target: &ArchiveTarget,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<RoundReport, ArchiveError> {
    archive_round_incremental(dir, target, progress, &mut None).await
}

/// [`archive_round`] for an archiver that runs round after round: `known` carries the
/// manifests validated by its earlier rounds, so a round fetches only the new ones (see
/// [`load_history_incremental`]).
pub(crate) async fn archive_round_incremental(
    dir: &Path,
    target: &ArchiveTarget,
    progress: &mut (dyn FnMut(u64, u64) + Send),
    known: &mut Option<KnownChain>,
) -> Result<RoundReport, ArchiveError> {
    let mut timings = RoundTimings::default();
    let local = local_segments(dir)?;
    let Some((_, oldest)) = local.first() else {
        return Err(ArchiveError::Trail(crate::Error::Io {
            path: dir.to_path_buf(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "no segment: not a trail"),
        }));
    };
    let log_id = read_header(dir, oldest)?.log_id;
    let firsts: Vec<u64> = local.iter().map(|(s, _)| *s).collect();
    let (segments, bytes_done) = (0, 0);
    let mut already_there = 0;
    for _ in 0..RACE_ATTEMPTS {
        let t0 = Instant::now();
        let (history, fetched) = load_history_incremental(target, &log_id, known).await?;
        timings.history += t0.elapsed();
        timings.manifests_fetched += fetched;
        let plan = segments_to_upload(&history, &firsts)?;
        if plan.is_empty() {
            return Ok(RoundReport {
                log_id,
                segments,
                bytes: bytes_done,
                already_there,
                manifest: None,
                head: history.head,
                pending_segments: 0,
                timings,
            });
        }
        let names: Vec<&String> = plan
            .iter()
            .filter_map(|s| local.iter().find(|(f, _)| f == s).map(|(_, n)| n))
            .collect();
        let mut total = 0;
        for n in &names {
            total += std::fs::metadata(dir.join(n)).map(|m| m.len()).unwrap_or(0);
        }
        let mut prev = history.head;
        let mut last_edge: Option<Vec<evident_core::Hash>> = None;
        let mut entries = Vec::new();
        let mut done = 0;
        progress(0, total);
        for name in names {
            let anchor = (prev.seq > 0).then_some(prev);
            // Reading, verifying and hashing a segment is CPU work: on a blocking thread, so
            // the async workers (the producers' tasks) are never held up by it.
            let t0 = Instant::now();
            let (d, n) = (dir.to_path_buf(), name.clone());
            let (bytes, described) = tokio::task::spawn_blocking(move || {
                let bytes = read_segment(&d, &n)?;
                let described = describe_sealed_segment(&n, &bytes, anchor)?;
                Ok::<_, ArchiveError>((bytes, described))
            })
            .await
            .map_err(|e| ArchiveError::Config(format!("verifying {name}: {e}")))??;
            timings.verify += t0.elapsed();
            let (entry, id) = (described.entry, described.log_id);
            if id != log_id {
                return Err(ArchiveError::Trail(crate::Error::Trail(
                    evident_core::Error::Corrupt {
                        location: evident_core::Location::file(name.as_str()),
                        what: format!("segment of log {id} in the trail of log {log_id}"),
                    },
                )));
            }
            // Format 1 has no tree: its footers carry no edge (a non-empty trail's edge is
            // never empty in format 2).
            last_edge = (entry.last_seq == 0 || !described.tree_edge.is_empty())
                .then_some(described.tree_edge);
            let key = target.key(&log_id, &entry.key);
            let len = bytes.len() as u64;
            let t0 = Instant::now();
            let put = target.put_create_only(&key, bytes).await?;
            timings.upload += t0.elapsed();
            match put {
                PutOutcome::Created => {}
                PutOutcome::AlreadyThere => already_there += 1,
                PutOutcome::Differs(other) => {
                    return Err(ArchiveError::Tamper {
                        key,
                        what: format!(
                            "the bucket holds {} bytes with SHA-256 {} where segment {name} (seq {}..={}, {len} bytes, SHA-256 {}) belongs",
                            other.len(),
                            evident_core::archive::sha256_hex(&other),
                            entry.first_seq,
                            entry.last_seq,
                            entry.sha256
                        ),
                    });
                }
            }
            fault_pause();
            done += len;
            progress(done, total);
            prev = Checkpoint {
                log_id,
                seq: entry.last_seq,
                hash: entry.last_hash_value().expect("hex we wrote"),
            };
            entries.push(entry);
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT.to_string(),
            log_id: log_id.to_hex(),
            round: history.next_round(),
            prev_manifest_sha256: history.last_manifest_sha256(),
            segments: entries,
            checkpoint: prev.to_text(),
            tree_checkpoint: tree_checkpoint(dir, prev.seq, last_edge)?,
        };
        let rel = keys::manifest_rel_key(manifest.round);
        let n = manifest.segments.len() as u64;
        let t0 = Instant::now();
        let put = target
            .put_create_only(&target.key(&log_id, &rel), manifest.encode())
            .await?;
        timings.upload += t0.elapsed();
        match put {
            PutOutcome::Created | PutOutcome::AlreadyThere => {
                return Ok(RoundReport {
                    log_id,
                    segments: segments + n,
                    bytes: bytes_done + done,
                    already_there,
                    manifest: Some(rel),
                    head: prev,
                    pending_segments: 0,
                    timings,
                });
            }
            // Another archiver wrote this round first: its manifest (once validated by the
            // next pass) may list our segments already; plan again from it.
            PutOutcome::Differs(_) => {}
        }
    }
    Err(ArchiveError::Race(format!(
        "another archiver wrote the next manifest of log {log_id} {RACE_ATTEMPTS} times in a row; try again"
    )))
}

/// Test-only: `EVIDENT_FAULT_ARCHIVE_PAUSE_MS` pauses after each segment PUT, so a test can
/// kill the archiver between a segment and its manifest.
fn fault_pause() {
    #[cfg(feature = "fault-hooks")]
    if let Some(ms) = std::env::var("EVIDENT_FAULT_ARCHIVE_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// The C2SP checkpoint (origin, size, root) of the tree at the round's last seq, from the last
/// uploaded segment's footer edge, so a verifier of the bucket checks the tree root it
/// recomputes from the archived records against it. `None` for a format-1 trail.
fn tree_checkpoint(
    dir: &Path,
    size: u64,
    edge: Option<Vec<evident_core::Hash>>,
) -> Result<Option<String>, ArchiveError> {
    let Some(edge) = edge else {
        return Ok(None);
    };
    let range = evident_core::tree::CompactRange::from_edge(size, edge)
        .map_err(|e| ArchiveError::Config(format!("tree edge of seq {size}: {e}")))?;
    let origin = crate::prove::origin_of(dir)
        .map_err(|e| ArchiveError::Config(format!("the trail's origin: {e}")))?;
    let cp = evident_core::tree::TreeCheckpoint::of_range(&origin, &range)
        .map_err(|e| ArchiveError::Config(format!("tree checkpoint at seq {size}: {e}")))?;
    Ok(Some(cp.body()))
}
