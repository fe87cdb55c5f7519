//! Inputs shared by the micro benchmarks: realistic audit events and segments written by the
//! core's own writer.
//!
//! The events are `evident_core::sim::sample_events`, the records of the end-to-end bench
//! program too.
//! Segments are made by driving a real [`Trail`] against the simulation's fake disk, so their
//! bytes are exactly what a host would have on disk.

// Each bench file includes this module and uses only part of it.
#![allow(dead_code)]

use evident_core::header::HEADER_LEN;
use evident_core::sim::{drive, sample_events, FakeDisk, Faults};
use evident_core::{LogId, Options, Trail};

/// The trail every benchmark segment belongs to.
pub const LOG_ID: LogId = LogId([7; 16]);
/// Timestamp of the first record (ns since the epoch); records are 1 µs apart.
pub const T0: u64 = 1_800_000_000_000_000_000;

/// `n` events in canonical JSON (the simulation's sample events).
pub fn events(n: usize) -> Vec<Vec<u8>> {
    sample_events(n)
}

/// One segment file as the writer left it.
pub struct Segment {
    /// File name (`<first seq>.evseg`).
    pub name: String,
    /// The whole file: header, frames, and any preallocated zeros.
    pub bytes: Vec<u8>,
    /// Records it holds.
    pub records: u64,
    /// File offset just past the last frame.
    pub records_end: usize,
}

/// Appends `events` (seq 1.., timestamps `T0 + i µs`) to a new trail on the fake disk, closes
/// it, and returns its only segment. With `preallocate = Some(n)` the segment is reserved to
/// `n` bytes up front, so what follows the records is zeros (what a crash leaves); otherwise
/// the file ends with the last record.
pub fn segment(events: &[Vec<u8>], preallocate: Option<u64>) -> Segment {
    let mut disk = FakeDisk::new(1, Faults::default());
    let opts = Options {
        segment_bytes: preallocate.unwrap_or(1 << 30),
        preallocate: preallocate.is_some(),
        ..Options::default()
    };
    let mut trail = Trail::open(opts, LOG_ID, T0);
    for (i, e) in events.iter().enumerate() {
        trail
            .handle_append(i as u64, e.clone(), T0 + i as u64 * 1000)
            .expect("append accepted");
    }
    trail.handle_close();
    drive(&mut trail, &mut disk, usize::MAX);
    let names: Vec<String> = disk
        .file_names()
        .into_iter()
        .filter(|n| n.ends_with(".evseg"))
        .collect();
    assert_eq!(names.len(), 1, "one segment expected, got {names:?}");
    let bytes = disk.read_file(&names[0]).expect("segment").to_vec();
    let frames: usize = events
        .iter()
        .map(|e| evident_core::frame::entry_frame_len(e.len()))
        .sum();
    Segment {
        name: names[0].clone(),
        bytes,
        records: events.len() as u64,
        records_end: HEADER_LEN + frames,
    }
}
