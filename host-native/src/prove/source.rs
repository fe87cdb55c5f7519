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

impl ProofSource for DirSource {
    type Error = crate::Error;

    fn record(&mut self, seq: u64) -> crate::Result<Option<(u64, Vec<u8>)>> {
        Ok(self.reader.get(seq)?.map(|r| (r.ts, r.payload)))
    }

    fn read_tile(&mut self, path: &str, max_len: usize) -> crate::Result<Option<Vec<u8>>> {
        self.tiles_read += 1;
        let full = self.dir.join(path);
        let f = match std::fs::File::open(&full) {
            Ok(f) => f,
            // Missing, or anything else unreadable: the tile is derived data, so the prover
            // goes on without it (and rebuilds the hashes from the records).
            Err(_) => return Ok(None),
        };
        let mut buf = Vec::with_capacity(max_len);
        match f.take(max_len as u64 + 1).read_to_end(&mut buf) {
            Ok(_) => Ok(Some(buf)),
            Err(_) => Ok(None),
        }
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
