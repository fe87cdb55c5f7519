//! Object operations with the archive's rules: create-only PUTs compared on conflict, listings
//! relative to a log's folder, and the validated manifest chain.

use super::{ArchiveError, ArchiveTarget};
use evident_core::archive::keys::{self, RelKey};
use evident_core::archive::ArchiveHistory;
use evident_core::LogId;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

/// What a create-only PUT found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was created.
    Created,
    /// The object existed with exactly these bytes (a retry after a lost answer, or another
    /// archiver that uploaded the same segment): success.
    AlreadyThere,
    /// The object existed with other bytes (returned): never overwritten.
    Differs(Vec<u8>),
}

impl ArchiveTarget {
    /// The full key of `rel` in log `log_id`'s folder.
    pub fn key(&self, log_id: &LogId, rel: &str) -> String {
        format!("{}/{rel}", keys::log_dir(&self.prefix, log_id))
    }

    /// PUT `bytes` at `key` only if no object is there (`If-None-Match: *`, SHA-256 checksum);
    /// when one is, fetch it and compare.
    pub async fn put_create_only(
        &self,
        key: &str,
        bytes: Vec<u8>,
    ) -> Result<PutOutcome, ArchiveError> {
        let path = Path::from(key);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let payload = PutPayload::from(bytes.clone());
        match self.store.put_opts(&path, payload, opts).await {
            Ok(_) => Ok(PutOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let existing = self.get(key).await?;
                Ok(if existing == bytes {
                    PutOutcome::AlreadyThere
                } else {
                    PutOutcome::Differs(existing)
                })
            }
            Err(source) => Err(ArchiveError::Store {
                op: "PUT",
                key: key.to_string(),
                source,
            }),
        }
    }

    /// GET the whole object at `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ArchiveError> {
        let store_err = |source| ArchiveError::Store {
            op: "GET",
            key: key.to_string(),
            source,
        };
        let r = self.store.get(&Path::from(key)).await.map_err(store_err)?;
        Ok(r.bytes().await.map_err(store_err)?.to_vec())
    }

    /// Every object in log `log_id`'s folder: key relative to the folder, size.
    pub async fn list_log(&self, log_id: &LogId) -> Result<Vec<(String, u64)>, ArchiveError> {
        let listed = self.list_log_tagged(log_id).await?;
        Ok(listed
            .into_iter()
            .map(|(rel, size, _)| (rel, size))
            .collect())
    }

    /// [`ArchiveTarget::list_log`] with each object's ETag (when the store gives one), sorted.
    async fn list_log_tagged(
        &self,
        log_id: &LogId,
    ) -> Result<Vec<(String, u64, Option<String>)>, ArchiveError> {
        let dir = keys::log_dir(&self.prefix, log_id);
        let prefix = Path::from(dir.as_str());
        let mut stream = self.store.list(Some(&prefix));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|source| ArchiveError::Store {
                op: "LIST",
                key: dir.clone(),
                source,
            })?;
            let full = meta.location.to_string();
            let rel = full
                .strip_prefix(&dir)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(&full)
                .to_string();
            out.push((rel, meta.size, meta.e_tag));
        }
        out.sort();
        Ok(out)
    }
}

/// The validated manifest chain of log `log_id` (an empty history when nothing is archived),
/// with the folder's listing.
pub async fn load_history(
    target: &ArchiveTarget,
    log_id: &LogId,
) -> Result<(ArchiveHistory, Vec<(String, u64)>), ArchiveError> {
    let listing = target.list_log(log_id).await?;
    let mut manifests = Vec::new();
    for (rel, _) in &listing {
        if let RelKey::Manifest(_) = keys::parse_rel_key(rel) {
            let bytes = target.get(&target.key(log_id, rel)).await?;
            manifests.push((rel.clone(), bytes));
        }
    }
    let history = ArchiveHistory::from_manifests(*log_id, &manifests)?;
    Ok((history, listing))
}

/// The manifests an archiver validated in its earlier rounds: key, size and ETag of each, as
/// listed then, with the history they make.
#[derive(Debug, Clone)]
pub(crate) struct KnownChain {
    listed: Vec<(String, u64, Option<String>)>,
    history: ArchiveHistory,
}

/// [`load_history`] for an archiver that runs round after round: the folder is listed each
/// time, but only the manifests added since `known` are fetched and validated (appended to the
/// chain `known` holds), as long as every manifest of `known` is still listed with the same
/// size and ETag (a replaced or removed one: the whole chain is fetched and validated again,
/// which refuses it). Returns the history and how many manifests were fetched.
pub(crate) async fn load_history_incremental(
    target: &ArchiveTarget,
    log_id: &LogId,
    known: &mut Option<KnownChain>,
) -> Result<(ArchiveHistory, u64), ArchiveError> {
    let mut listed = target.list_log_tagged(log_id).await?;
    listed.retain(|(rel, _, _)| matches!(keys::parse_rel_key(rel), RelKey::Manifest(_)));
    if let Some(k) = known.as_ref() {
        let n = k.listed.len();
        if listed.len() >= n && listed[..n] == k.listed[..] {
            let mut history = k.history.clone();
            let mut ok = true;
            for (rel, _, _) in &listed[n..] {
                let bytes = target.get(&target.key(log_id, rel)).await?;
                if history.append(rel, &bytes).is_err() {
                    ok = false; // the full validation below names what is wrong
                    break;
                }
            }
            if ok {
                let fetched = (listed.len() - n) as u64;
                *known = Some(KnownChain {
                    listed,
                    history: history.clone(),
                });
                return Ok((history, fetched));
            }
        }
    }
    let mut manifests = Vec::new();
    for (rel, _, _) in &listed {
        let bytes = target.get(&target.key(log_id, rel)).await?;
        manifests.push((rel.clone(), bytes));
    }
    let history = ArchiveHistory::from_manifests(*log_id, &manifests)?;
    let fetched = manifests.len() as u64;
    *known = Some(KnownChain {
        listed,
        history: history.clone(),
    });
    Ok((history, fetched))
}
