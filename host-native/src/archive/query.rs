//! Queries across the local trail and its archive: the core's [`QueryTask`] runs unchanged over
//! a view in which the segments retention removed are the bucket's objects. Its reads become
//! range GETs, so a time-range query fetches only what the footers' first/last timestamps and
//! sparse index point it to: the segments holding the answer, from the index entry before it.

use super::cache::SegmentCache;
use super::objects::load_history;
use super::{ArchiveError, ArchiveTarget};
use crate::fs_exec::FsExecutor;
use evident_core::archive::{sha256_hex, SegmentEntry};
use evident_core::io::{DirEntry, IoDone, IoError, IoErrorKind, IoOp};
use evident_core::naming;
use evident_core::query::{QueryResult, QuerySpec, QueryTask};
use object_store::path::Path as ObjPath;
use object_store::ObjectStoreExt;
use std::collections::BTreeMap;
use std::path::Path;

/// What a query fetched from the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Range GETs made.
    pub requests: u64,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Bytes fetched per segment object (keys relative to the log's folder). Segments the
    /// binary search over footers only probed show a trailer and footer's worth; the segments
    /// holding the answer show the records read.
    pub per_object: BTreeMap<String, u64>,
    /// What the local cache did (all zero without one).
    pub cache: super::cache::CacheStats,
}

/// Runs `spec` over the trail at `dir` (`None`: the bucket alone) and the archived segments it
/// no longer holds locally. Only segments a validated manifest lists are read from the bucket.
pub async fn query_with_archive(
    dir: Option<&Path>,
    target: &ArchiveTarget,
    log_id: &evident_core::LogId,
    spec: QuerySpec,
) -> Result<(QueryResult, FetchStats), ArchiveError> {
    query_with_archive_cached(dir, target, log_id, spec, None).await
}

/// [`query_with_archive`] with a local cache of segment objects: a segment the query reads is
/// fetched whole once (one GET, checked against its manifest's SHA-256), kept in `cache`, and
/// served from there to later queries after the same check; a cached file that fails it is
/// removed and fetched again. Segments larger than the cache's cap are read with range GETs.
pub async fn query_with_archive_cached(
    dir: Option<&Path>,
    target: &ArchiveTarget,
    log_id: &evident_core::LogId,
    spec: QuerySpec,
    cache: Option<&SegmentCache>,
) -> Result<(QueryResult, FetchStats), ArchiveError> {
    let (history, _) = load_history(target, log_id).await?;
    let mut exec = dir.map(FsExecutor::read_only);
    let local: Vec<DirEntry> = match exec.as_mut().map(|e| e.perform(&IoOp::List)) {
        Some(Ok(IoDone::Listed(l))) => l,
        Some(Err(e)) => {
            return Err(ArchiveError::Trail(crate::Error::Trail(
                evident_core::Error::Io {
                    op: "list",
                    location: Default::default(),
                    error: e,
                },
            )))
        }
        _ => Vec::new(),
    };
    let local_first = local
        .iter()
        .filter_map(|e| naming::parse_segment_name(&e.name))
        .min()
        .unwrap_or(u64::MAX);
    // Segment file name -> (object key, size, manifest entry) for the archived segments not
    // present locally.
    let remote: BTreeMap<String, (String, u64, &SegmentEntry)> = history
        .segments
        .iter()
        .filter(|(_, e)| e.first_seq < local_first)
        .map(|(_, e)| {
            (
                naming::segment_name(e.first_seq),
                (target.key(log_id, &e.key), e.size, e),
            )
        })
        .collect();
    let mut listing = local;
    listing.extend(remote.iter().map(|(name, (_, size, _))| DirEntry {
        name: name.clone(),
        len: *size,
    }));
    // The whole object last read through the cache (a query reads one segment at a time).
    let mut memo: Option<(String, Vec<u8>)> = None;
    let mut stats = FetchStats::default();
    let mut task = QueryTask::new(spec, 1 << 20);
    while let Some(op) = task.poll_io() {
        let r = match &op {
            IoOp::List => Ok(IoDone::Listed(listing.clone())),
            IoOp::Read { file, offset, len } if remote.contains_key(file) => {
                let (key, size, entry) = &remote[file];
                let end = (offset.saturating_add(*len as u64)).min(*size);
                let cached = cache.filter(|c| c.fits(*size));
                if let (Some(c), true) = (cached, *offset < end) {
                    let fresh = memo.as_ref().is_some_and(|(n, _)| n == file);
                    let whole = if fresh {
                        Ok(())
                    } else {
                        whole_object(target, c, log_id, key, entry, &mut stats)
                            .await
                            .map(|b| memo = Some((file.clone(), b)))
                    };
                    whole.map(|()| {
                        let b = &memo.as_ref().expect("just read").1;
                        IoDone::Read(b[*offset as usize..end as usize].to_vec())
                    })
                } else if *offset >= end {
                    Ok(IoDone::Read(Vec::new()))
                } else {
                    stats.requests += 1;
                    match target
                        .store
                        .get_range(&ObjPath::from(key.as_str()), *offset..end)
                        .await
                    {
                        Ok(b) => {
                            stats.bytes += b.len() as u64;
                            let rel = key
                                .rsplit_once("/seg/")
                                .map_or(key.clone(), |(_, n)| format!("seg/{n}"));
                            *stats.per_object.entry(rel).or_default() += b.len() as u64;
                            Ok(IoDone::Read(b.to_vec()))
                        }
                        Err(e) => Err(IoError {
                            kind: IoErrorKind::Other,
                            message: format!("GET {key} bytes {offset}..{end}: {e}"),
                        }),
                    }
                }
            }
            other => match exec.as_mut() {
                Some(e) => e.perform(other),
                None => Err(IoError {
                    kind: IoErrorKind::NotFound,
                    message: "not in the archive".into(),
                }),
            },
        };
        task.handle_io(&op, r);
    }
    drop(memo);
    let result = task
        .take_result()
        .expect("the task ends with a result")
        .map_err(|e| ArchiveError::Trail(crate::Error::Trail(e)))?;
    Ok((result, stats))
}

/// Segment `entry`'s whole object, from `cache` when it holds it with the manifest's SHA-256,
/// else from the bucket (one GET, checked the same way, then cached).
async fn whole_object(
    target: &ArchiveTarget,
    cache: &SegmentCache,
    log_id: &evident_core::LogId,
    key: &str,
    entry: &SegmentEntry,
    stats: &mut FetchStats,
) -> Result<Vec<u8>, IoError> {
    if let Some(b) = cache.get(log_id, entry.first_seq, &entry.sha256, &mut stats.cache) {
        return Ok(b);
    }
    stats.requests += 1;
    let b = target.get(key).await.map_err(|e| IoError {
        kind: IoErrorKind::Other,
        message: e.to_string(),
    })?;
    stats.bytes += b.len() as u64;
    *stats.per_object.entry(entry.key.clone()).or_default() += b.len() as u64;
    let sha = sha256_hex(&b);
    if sha != entry.sha256 {
        return Err(IoError {
            kind: IoErrorKind::Other,
            message: format!(
                "GET {key}: SHA-256 {sha}, but its manifest says {}: the archived object was altered",
                entry.sha256
            ),
        });
    }
    stats.cache.misses += 1;
    // The cache only saves work: a cache that cannot be written leaves the query unaffected.
    let _ = cache.put(log_id, entry.first_seq, &b, &mut stats.cache);
    Ok(b)
}
