//! A bounded local cache of archived segment objects for queries across the archive.
//!
//! The cache is never trusted over the manifest: an object is cached whole, because only the
//! whole object can be checked against the SHA-256 its manifest lists; it is checked when
//! fetched and again each time a query uses it, and a cached file that does not match (edited,
//! truncated, swapped) is removed and fetched again. The cache holds at most `cap` bytes: the
//! least recently used objects (by modification time, refreshed on use) are evicted first; an
//! object larger than the cap is not cached (the query falls back to range GETs).
//!
//! Layout: `<dir>/<log id hex>/<20-digit first seq>.evseg`, written to a temporary name and
//! renamed (a crash leaves a `.tmp` file, removed at the next insertion, or a file the SHA-256
//! check refuses).

use evident_core::LogId;
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Where fetched segment objects are kept, and how many bytes at most.
#[derive(Debug, Clone)]
pub struct SegmentCache {
    dir: PathBuf,
    cap: u64,
}

/// What using the cache did during one query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Segment objects served from the cache (checked against their manifest's SHA-256).
    pub hits: u64,
    /// Segment objects fetched whole from the bucket and cached.
    pub misses: u64,
    /// Cached files that did not match their manifest's SHA-256: removed and fetched again.
    pub refused: u64,
    /// Objects evicted to stay under the cap.
    pub evicted: u64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    evident_core::hash::to_hex_bytes(&Sha256::digest(bytes))
}

impl SegmentCache {
    /// A cache in `dir` (created when first used) of at most `cap` bytes.
    pub fn new(dir: impl Into<PathBuf>, cap: u64) -> SegmentCache {
        SegmentCache {
            dir: dir.into(),
            cap,
        }
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cap in bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    fn path(&self, log_id: &LogId, first_seq: u64) -> PathBuf {
        self.dir
            .join(log_id.to_hex())
            .join(evident_core::naming::segment_name(first_seq))
    }

    /// Whether an object of `size` bytes can be cached at all.
    pub fn fits(&self, size: u64) -> bool {
        size <= self.cap
    }

    /// The cached object of segment `first_seq` when its bytes have the SHA-256 `sha256`
    /// (marked as used); a cached file that differs is removed and counted as refused.
    pub fn get(
        &self,
        log_id: &LogId,
        first_seq: u64,
        sha256: &str,
        stats: &mut CacheStats,
    ) -> Option<Vec<u8>> {
        let path = self.path(log_id, first_seq);
        let bytes = std::fs::read(&path).ok()?;
        if sha256_hex(&bytes) != sha256 {
            stats.refused += 1;
            let _ = std::fs::remove_file(&path);
            return None;
        }
        // Used now: the last to be evicted.
        if let Ok(f) = std::fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        stats.hits += 1;
        Some(bytes)
    }

    /// Caches `bytes` (already checked against the manifest) for segment `first_seq`, evicting
    /// the least recently used objects to stay under the cap.
    pub fn put(
        &self,
        log_id: &LogId,
        first_seq: u64,
        bytes: &[u8],
        stats: &mut CacheStats,
    ) -> io::Result<()> {
        let len = bytes.len() as u64;
        if !self.fits(len) {
            return Ok(());
        }
        let path = self.path(log_id, first_seq);
        let folder = path.parent().expect("a log folder");
        std::fs::create_dir_all(folder)?;
        stats.evicted += self.evict_for(len)?;
        let tmp = path.with_extension("evseg.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &path)
    }

    /// Every cached file (path, size, last use), temporary files removed.
    fn entries(&self) -> io::Result<Vec<(PathBuf, u64, SystemTime)>> {
        let mut out = Vec::new();
        let Ok(logs) = std::fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for log in logs.flatten() {
            let Ok(files) = std::fs::read_dir(log.path()) else {
                continue;
            };
            for f in files.flatten() {
                let p = f.path();
                let Ok(meta) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                if p.extension().is_some_and(|e| e == "tmp") {
                    let _ = std::fs::remove_file(&p);
                    continue;
                }
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                out.push((p, meta.len(), used));
            }
        }
        Ok(out)
    }

    /// Evicts least recently used files until `incoming` more bytes fit; returns how many.
    fn evict_for(&self, incoming: u64) -> io::Result<u64> {
        let mut entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|(_, s, _)| s).sum();
        entries.sort_by_key(|(_, _, used)| *used);
        let mut evicted = 0;
        for (p, size, _) in entries {
            if total + incoming <= self.cap {
                break;
            }
            std::fs::remove_file(&p)?;
            total -= size;
            evicted += 1;
        }
        Ok(evicted)
    }

    /// Bytes the cache holds now.
    pub fn size(&self) -> u64 {
        self.entries()
            .map(|e| e.iter().map(|(_, s, _)| s).sum())
            .unwrap_or(0)
    }
}
