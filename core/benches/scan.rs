//! `scan`: the recovery scanner (`SegmentScanner`) over one in-memory segment written by the
//! core's own writer, fed in 1 MiB chunks as recovery reads it. It checks every frame's
//! CRC32C, seq, timestamp and recomputes the chain, so it bounds how fast a trail opens.
//!
//! - `full`: 4096 records (~1.3 MB) and nothing after them (a cleanly closed segment);
//! - `zero_tail`: 16 records at the start of a segment preallocated to 4 MiB, the rest zeros:
//!   the open-after-crash case, where the scanner must walk the zeros to prove nothing valid
//!   follows the last record (it tests every 8-byte-aligned offset).
//!
//! Throughput is in bytes of the segment file.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evident_core::config::INDEX_STRIDE;
use evident_core::hash::genesis;
use evident_core::header::HEADER_LEN;
use evident_core::scan::{ScanStart, ScanSummary, SegmentEnd, SegmentScanner};
use std::hint::black_box;
use std::time::Duration;

mod common;

/// Scans the records of `bytes` (a whole segment file, header included) like recovery does.
fn scan(bytes: &[u8]) -> ScanSummary {
    let mut s = SegmentScanner::new(ScanStart {
        offset: HEADER_LEN as u64,
        file_len: bytes.len() as u64,
        seq: 1,
        prev_hash: Some(genesis(&common::LOG_ID)),
        prev_ts: 0,
        index_stride: INDEX_STRIDE,
        strict: false,
        version: evident_core::header::FormatVersion::V2,
    });
    for chunk in bytes[HEADER_LEN..].chunks(1 << 20) {
        s.push(chunk);
        while let Some(r) = s.next_record() {
            black_box(r);
        }
        if s.is_done() {
            break;
        }
    }
    s.finish()
}

fn bench(c: &mut Criterion) {
    let full = common::segment(&common::events(4096), None);
    let tail = common::segment(&common::events(16), Some(4 << 20));
    // The inputs are what they claim to be.
    let r = scan(&full.bytes);
    assert_eq!((r.records, r.end), (full.records, SegmentEnd::Clean));
    let r = scan(&tail.bytes);
    assert_eq!(r.records, tail.records);
    assert!(
        matches!(r.end, SegmentEnd::ZeroTail { offset, .. } if offset == tail.records_end as u64)
    );

    let mut g = c.benchmark_group("scan");
    g.measurement_time(Duration::from_secs(3)).sample_size(20);
    for (name, seg) in [("full", &full), ("zero_tail", &tail)] {
        g.throughput(Throughput::Bytes(seg.bytes.len() as u64));
        g.bench_function(name, |b| b.iter(|| scan(black_box(&seg.bytes))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
