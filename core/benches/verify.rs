//! `verify`: the byte-fed `Verifier` over a one-segment trail of 4096 realistic records
//! (~1.3 MB, the `full` segment of the `scan` bench), fed in 1 MiB chunks; next to the
//! reference of BLAKE3 (unkeyed, one hash per record frame) over the same frames. The ratio
//! is how close verification comes to "just hashing the bytes" at record-sized inputs, where
//! BLAKE3 cannot use its wide SIMD paths.
//!
//! Throughput is in bytes: the segment file for the verifier, the frames for the reference.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evident_core::frame::entry_frame_len;
use evident_core::header::HEADER_LEN;
use evident_core::verify::Verifier;
use std::hint::black_box;
use std::time::Duration;

mod common;

fn bench(c: &mut Criterion) {
    let events = common::events(4096);
    let seg = common::segment(&events, None);
    // The record frames of the segment, as (start, end) offsets.
    let mut spans = Vec::new();
    let mut at = HEADER_LEN;
    for e in &events {
        let end = at + entry_frame_len(e.len());
        spans.push(at..end);
        at = end;
    }
    assert_eq!(at, seg.bytes.len(), "the segment holds exactly the frames");

    let verify = || {
        let mut v = Verifier::new(Vec::new(), None);
        v.begin_segment(&seg.name, seg.bytes.len() as u64, true)
            .expect("begin");
        for chunk in seg.bytes.chunks(1 << 20) {
            v.push(chunk).expect("push");
        }
        v.finish().expect("the trail verifies")
    };
    assert_eq!(verify().records, seg.records);

    let mut g = c.benchmark_group("verify");
    g.measurement_time(Duration::from_secs(3)).sample_size(20);

    g.throughput(Throughput::Bytes(seg.bytes.len() as u64));
    g.bench_function("Verifier", |b| b.iter(|| black_box(verify())));

    g.throughput(Throughput::Bytes((seg.bytes.len() - HEADER_LEN) as u64));
    g.bench_function("ref: BLAKE3 per frame", |b| {
        b.iter(|| {
            for s in &spans {
                black_box(blake3::hash(&seg.bytes[s.clone()]));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
