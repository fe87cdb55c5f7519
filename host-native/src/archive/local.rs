//! The local side of archiving: a trail directory's segments, read without a writer's lease
//! (sealed segments never change).

use crate::safe_fs::TrailDir;
use crate::Error;
use evident_core::header::{SegmentHeader, HEADER_LEN};
use evident_core::{naming, LogId};
use std::io::Read;
use std::path::Path;

fn io(dir: &Path, error: std::io::Error) -> Error {
    Error::Io {
        path: dir.to_path_buf(),
        error,
    }
}

/// The trail's segments (first seq, file name), in seq order.
pub fn local_segments(dir: &Path) -> Result<Vec<(u64, String)>, Error> {
    let d = TrailDir::open(dir, false).map_err(|e| io(dir, e))?;
    let mut segs: Vec<(u64, String)> = d
        .entries()
        .map_err(|e| io(dir, e))?
        .into_iter()
        .filter(|e| e.regular)
        .filter_map(|e| naming::parse_segment_name(&e.name).map(|s| (s, e.name)))
        .collect();
    segs.sort();
    Ok(segs)
}

/// The whole file `name` of the trail at `dir`.
pub fn read_segment(dir: &Path, name: &str) -> Result<Vec<u8>, Error> {
    let d = TrailDir::open(dir, false).map_err(|e| io(dir, e))?;
    let path = dir.join(name);
    let mut f = d.open_file(name, false).map_err(|e| io(&path, e))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(|e| io(&path, e))?;
    Ok(buf)
}

/// The header of segment `name` (log id, segno, first seq, anchor).
pub fn read_header(dir: &Path, name: &str) -> Result<SegmentHeader, Error> {
    let d = TrailDir::open(dir, false).map_err(|e| io(dir, e))?;
    let path = dir.join(name);
    let mut f = d.open_file(name, false).map_err(|e| io(&path, e))?;
    let mut buf = [0u8; HEADER_LEN];
    f.read_exact(&mut buf).map_err(|e| io(&path, e))?;
    SegmentHeader::decode(&buf).map_err(|d| {
        Error::Trail(evident_core::Error::Corrupt {
            location: evident_core::Location::file(name).at(0),
            what: d.to_string(),
        })
    })
}

/// The log id of the trail at `dir` (from its oldest segment's header).
pub fn read_log_id(dir: &Path) -> Result<LogId, Error> {
    let segs = local_segments(dir)?;
    let Some((_, name)) = segs.first() else {
        return Err(io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no segment: not a trail"),
        ));
    };
    Ok(read_header(dir, name)?.log_id)
}
