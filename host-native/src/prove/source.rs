//! The native [`ProofSource`]: records through the [`Reader`] (segment names and sparse
//! indexes locate a seq; CRC and chain are checked as on every read), tiles as plain files
//! under the trail directory, read through a bounded prefix.

use crate::reader::Reader;
use evident_core::frame::KIND_ENTRY;
use evident_core::hash::{leaf_v2, payload_hash, Hash};
use evident_core::prove::ProofSource;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Reads what a prover asks for from a trail directory; never writes.
#[derive(Debug)]
pub struct DirSource {
    dir: PathBuf,
    reader: Reader,
    /// Tile files read (for the O(log n) figure the benchmarks report).
    pub tiles_read: usize,
    /// Whether the slow path (every leaf from the records) ran.
    pub leaves_read: bool,
}

impl DirSource {
    /// A source over the trail in `dir`.
    pub fn open(dir: &Path) -> crate::Result<DirSource> {
        Ok(DirSource {
            dir: dir.to_path_buf(),
            reader: Reader::open(dir)?,
            tiles_read: 0,
            leaves_read: false,
        })
    }
}

impl DirSource {
    /// At most `max_len + 1` bytes of a file under the trail directory (one more than a tile
    /// holds, so a longer file is refused by the tile's length check); `None` when it cannot be
    /// read: tiles are derived data, so the prover goes on without it (and rebuilds the hashes
    /// from the records).
    fn read_file(&self, path: &str, max_len: usize) -> Option<Vec<u8>> {
        let f = std::fs::File::open(self.dir.join(path)).ok()?;
        let mut buf = Vec::with_capacity(max_len);
        f.take(max_len as u64 + 1).read_to_end(&mut buf).ok()?;
        Some(buf)
    }
}

impl ProofSource for DirSource {
    type Error = crate::Error;

    fn record(&mut self, seq: u64) -> crate::Result<Option<(u64, Vec<u8>)>> {
        Ok(self.reader.get(seq)?.map(|r| (r.ts, r.payload)))
    }

    fn read_tile(&mut self, path: &str, max_len: usize) -> crate::Result<Option<Vec<u8>>> {
        self.tiles_read += 1;
        let found = self.read_file(path, max_len);
        if found.is_some() {
            return Ok(found);
        }
        // A partial tile `tile/L/N.p/W` that is not there: a wider partial of the same tile
        // (written at a later checkpoint refresh) holds the same first W hashes.
        let Some((dir, width)) = path.rsplit_once(".p/") else {
            return Ok(None);
        };
        let Ok(width) = width.parse::<usize>() else {
            return Ok(None);
        };
        let wider = std::fs::read_dir(self.dir.join(format!("{dir}.p")))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<usize>().ok())
            .filter(|w| *w > width && *w < 256)
            .min();
        Ok(wider.and_then(|w| {
            let mut bytes = self.read_file(&format!("{dir}.p/{w}"), w * 32)?;
            bytes.truncate(max_len.min(bytes.len()));
            Some(bytes)
        }))
    }

    fn leaves(&mut self, size: u64) -> crate::Result<Vec<Hash>> {
        self.leaves_read = true;
        self.reader.seek(1)?;
        let mut out = Vec::with_capacity(size.min(1 << 24) as usize);
        while (out.len() as u64) < size {
            let Some(r) = self.reader.next_available()? else {
                break; // fewer records than the checkpoint: the caller reports it
            };
            out.push(leaf_v2(KIND_ENTRY, r.seq, r.ts, &payload_hash(&r.payload)));
        }
        Ok(out)
    }
}
