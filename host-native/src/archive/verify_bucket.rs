//! Verifying an archived log from the bucket alone, and listing the logs under a prefix.

use super::objects::load_history;
use super::{ArchiveError, ArchiveTarget};
use evident_core::archive::listing::{check_listing, ListingProblem};
use evident_core::archive::ArchiveHistory;
use evident_core::verify::Verifier;
use evident_core::{naming, Checkpoint, LogId};
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::ObjectStoreExt;
use sha2::{Digest, Sha256};

/// The verdict on an archived log.
#[derive(Debug, Clone, Default)]
pub struct BucketReport {
    /// Segments read and verified.
    pub segments: u64,
    /// Records verified.
    pub records: u64,
    /// Bytes downloaded.
    pub bytes: u64,
    /// The archived head, when the manifests hold.
    pub head: Option<Checkpoint>,
    /// Manifests in the chain.
    pub manifests: u64,
    /// Checkpoints proven.
    pub checkpoints_verified: Vec<Checkpoint>,
    /// Damage or tampering, each naming the key and the seq: missing, altered, a refused
    /// manifest chain, a record that does not verify. Empty when the archive is intact.
    pub problems: Vec<String>,
    /// Objects no manifest lists (keys relative to the log's folder): not trusted, not damage.
    pub extra: Vec<String>,
    /// The last manifest's tree checkpoint (C2SP body: origin, size, root), when it has one and
    /// the root recomputed from the archived records matched it.
    pub tree: Option<evident_core::tree::TreeCheckpoint>,
}

/// Verifies log `log_id` in `target`: the manifest chain, every listed segment streamed
/// through the same verifier as a local trail (framing, chain, footers, segment links, and
/// `checkpoints`), each object's SHA-256 against its manifest. `progress(done, total)` counts
/// bytes. Problems are collected, not stopped at: the report names every missing or altered
/// object; the verifier stops at the first place the chain breaks.
pub async fn verify_bucket(
    target: &ArchiveTarget,
    log_id: &LogId,
    checkpoints: Vec<Checkpoint>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<BucketReport, ArchiveError> {
    let mut report = BucketReport::default();
    let (history, listing) = match load_history(target, log_id).await {
        Ok(h) => h,
        Err(ArchiveError::Chain(e)) => {
            report.problems.push(format!("manifest chain refused: {e}"));
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    if history.manifests.is_empty() {
        report.problems.push(format!(
            "no manifest under {}: nothing of log {log_id} is archived",
            target.key(log_id, "manifest/")
        ));
        return Ok(report);
    }
    report.manifests = history.manifests.len() as u64;
    let listed = check_listing(&history, &listing);
    report.extra = listed.extra;
    let missing: Vec<String> = listed
        .problems
        .iter()
        .filter_map(|p| match p {
            ListingProblem::Missing { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    report
        .problems
        .extend(listed.problems.iter().map(|p| p.to_string()));
    let total: u64 = history.segments.iter().map(|(_, e)| e.size).sum();
    let mut verifier = Some(Verifier::new(checkpoints, None));
    let mut done = 0;
    progress(0, total);
    for (round, e) in &history.segments {
        if missing.contains(&e.key) {
            // The chain cannot be followed past a hole.
            verifier = None;
            continue;
        }
        let key = target.key(log_id, &e.key);
        let store_err = |source| ArchiveError::Store {
            op: "GET",
            key: key.clone(),
            source,
        };
        let got = target.store.get(&Path::from(key.as_str())).await;
        let got = match got {
            Err(object_store::Error::NotFound { .. }) => {
                report.problems.push(format!(
                    "missing: {} (seq {}..={}) is listed by manifest round {round} but not in the bucket",
                    e.key, e.first_seq, e.last_seq
                ));
                verifier = None;
                continue;
            }
            r => r.map_err(store_err)?,
        };
        let mut stream = got.into_stream();
        let mut hasher = Sha256::new();
        let name = naming::segment_name(e.first_seq);
        let mut failed = None;
        if let Some(v) = verifier.as_mut() {
            if let Err(err) = v.begin_segment(&name, e.size, false) {
                failed = Some(err);
            }
        }
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(store_err)?;
            hasher.update(&chunk);
            report.bytes += chunk.len() as u64;
            done += chunk.len() as u64;
            progress(done, total);
            if failed.is_none() {
                if let Some(v) = verifier.as_mut() {
                    if let Err(err) = v.push(&chunk) {
                        failed = Some(err);
                    }
                }
            }
        }
        if failed.is_none() {
            if let Some(v) = verifier.as_mut() {
                if let Err(err) = v.end_segment() {
                    failed = Some(err);
                }
            }
        }
        let sha = evident_core::hash::to_hex_bytes(&hasher.finalize());
        if sha != e.sha256 {
            report.problems.push(format!(
                "altered: {} (seq {}..={}): SHA-256 {sha} but manifest round {round} says {}",
                e.key, e.first_seq, e.last_seq, e.sha256
            ));
        }
        if let Some(err) = failed {
            report.problems.push(format!(
                "{} (seq {}..={}): {err}",
                e.key, e.first_seq, e.last_seq
            ));
            verifier = None;
        }
        if verifier.is_some() {
            report.segments += 1;
        }
    }
    let mut tree_seen = None;
    let mut verified_all = false;
    if let Some(v) = verifier {
        match v.finish() {
            Ok(r) => {
                tree_seen = r.tree;
                verified_all = true;
                report.records = r.records;
                report.checkpoints_verified = r.checkpoints_verified;
                if r.head != history.head {
                    report.problems.push(format!(
                        "the segments end at seq {} but the last manifest's checkpoint says seq {}",
                        r.head.seq, history.head.seq
                    ));
                }
                report.head = Some(history.head);
            }
            Err(err) => report.problems.push(err.to_string()),
        }
    }
    if let Some(text) = &history.tree_checkpoint {
        // The last manifest vouches for the tree at its checkpoint's seq: the root recomputed
        // from the archived records must be the one it names.
        match evident_core::tree::TreeCheckpoint::parse_body(text) {
            Err(e) => report.problems.push(format!(
                "the last manifest's tree_checkpoint is not a checkpoint body: {e}"
            )),
            Ok(cp) => match tree_seen {
                Some((size, root)) if size == cp.size && root == cp.root => {
                    report.tree = Some(cp);
                }
                Some((size, root)) => report.problems.push(format!(
                    "the archived records give tree root {} at size {size}, but the last manifest's tree_checkpoint says root {} at size {}",
                    evident_core::tree::base64::encode(&root.0),
                    evident_core::tree::base64::encode(&cp.root.0),
                    cp.size
                )),
                None if verified_all => report.problems.push(format!(
                    "the last manifest has a tree_checkpoint (size {}) but the archived segments carry no tree (format 1)",
                    cp.size
                )),
                // Damage already reported stops the tree being recomputed.
                None => {}
            },
        }
    }
    Ok(report)
}

/// One log under a prefix, as `evident archive ls` shows it.
#[derive(Debug, Clone)]
pub struct LogSummary {
    /// The log.
    pub log_id: LogId,
    /// Its validated history, or why its manifests are refused.
    pub history: Result<ArchiveHistory, String>,
}

/// Every log under `target`'s prefix with its archived range and last checkpoint.
pub async fn list_logs(target: &ArchiveTarget) -> Result<Vec<LogSummary>, ArchiveError> {
    let prefix = target.prefix.clone();
    let p = (!prefix.is_empty()).then(|| Path::from(prefix.as_str()));
    let listing = target
        .store
        .list_with_delimiter(p.as_ref())
        .await
        .map_err(|source| ArchiveError::Store {
            op: "LIST",
            key: prefix.clone(),
            source,
        })?;
    let mut out = Vec::new();
    for dir in listing.common_prefixes {
        let Some(name) = dir.filename() else { continue };
        let Some(log_id) = LogId::from_hex(name) else {
            continue;
        };
        let history = match load_history(target, &log_id).await {
            Ok((h, _)) => Ok(h),
            Err(e @ ArchiveError::Chain(_)) => Err(e.to_string()),
            Err(e) => return Err(e),
        };
        out.push(LogSummary { log_id, history });
    }
    Ok(out)
}
