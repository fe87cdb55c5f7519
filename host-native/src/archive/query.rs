//! Queries across the local trail and its archive: the core's [`QueryTask`] runs unchanged over
//! a view in which the segments retention removed are the bucket's objects. Its reads become
//! range GETs, so a time-range query fetches only what the footers' first/last timestamps and
//! sparse index point it to: the segments holding the answer, from the index entry before it.

use super::objects::load_history;
use super::{ArchiveError, ArchiveTarget};
use crate::fs_exec::FsExecutor;
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
}

/// Runs `spec` over the trail at `dir` (`None`: the bucket alone) and the archived segments it
/// no longer holds locally. Only segments a validated manifest lists are read from the bucket.
pub async fn query_with_archive(
    dir: Option<&Path>,
    target: &ArchiveTarget,
    log_id: &evident_core::LogId,
    spec: QuerySpec,
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
    // Segment file name -> (object key, size) for the archived segments not present locally.
    let remote: BTreeMap<String, (String, u64)> = history
        .segments
        .iter()
        .filter(|(_, e)| e.first_seq < local_first)
        .map(|(_, e)| {
            (
                naming::segment_name(e.first_seq),
                (target.key(log_id, &e.key), e.size),
            )
        })
        .collect();
    let mut listing = local;
    listing.extend(remote.iter().map(|(name, (_, size))| DirEntry {
        name: name.clone(),
        len: *size,
    }));
    let mut stats = FetchStats::default();
    let mut task = QueryTask::new(spec, 1 << 20);
    while let Some(op) = task.poll_io() {
        let r = match &op {
            IoOp::List => Ok(IoDone::Listed(listing.clone())),
            IoOp::Read { file, offset, len } if remote.contains_key(file) => {
                let (key, size) = &remote[file];
                let end = (offset.saturating_add(*len as u64)).min(*size);
                if *offset >= end {
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
    let result = task
        .take_result()
        .expect("the task ends with a result")
        .map_err(|e| ArchiveError::Trail(crate::Error::Trail(e)))?;
    Ok((result, stats))
}
