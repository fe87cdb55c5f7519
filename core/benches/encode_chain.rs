//! `encode_chain`: what the writer does per record before any IO — the leaf hash, the chain step
//! and the frame (header, payload, padding, CRC32C) — next to the bare costs it is built from:
//! keyed BLAKE3 of the payload alone, and CRC32C of the finished frame alone.
//!
//! One iteration handles a batch of 1024 realistic events (~260 B each), so time per record is
//! the reported time / 1024; throughput is in records/s.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use evident_core::frame::{encode_entry, KIND_ENTRY};
use evident_core::hash::{chain, genesis, leaf, K_LEAF};
use std::hint::black_box;
use std::time::Duration;

mod common;

const N: usize = 1024;

fn bench(c: &mut Criterion) {
    let events = common::events(N);
    // The frames as the writer encodes them, for the CRC32C reference.
    let mut frames = Vec::new();
    let mut spans = Vec::new();
    for e in &events {
        let start = frames.len();
        encode_entry(&mut frames, 1, common::T0, &Default::default(), e);
        spans.push(start..frames.len());
    }

    let mut g = c.benchmark_group("encode_chain");
    g.measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Elements(N as u64));

    // The full per-record work of the writer: leaf, chain step, frame with CRC32C into the
    // batch buffer (reused, as the writer reuses its write buffer).
    let mut out = Vec::with_capacity(frames.len());
    g.bench_function("leaf+chain+frame", |b| {
        b.iter(|| {
            out.clear();
            let mut head = genesis(&common::LOG_ID);
            for (i, e) in events.iter().enumerate() {
                let seq = i as u64 + 1;
                let ts = common::T0 + i as u64 * 1000;
                head = chain(&head, &leaf(KIND_ENTRY, seq, ts, e));
                encode_entry(&mut out, seq, ts, &head, e);
            }
            black_box(&out);
        })
    });

    // The hashing alone (no framing): the part that cannot be avoided.
    g.bench_function("leaf+chain", |b| {
        b.iter(|| {
            let mut head = genesis(&common::LOG_ID);
            for (i, e) in events.iter().enumerate() {
                head = chain(&head, &leaf(KIND_ENTRY, i as u64 + 1, common::T0, e));
            }
            black_box(head)
        })
    });

    // Reference: one keyed BLAKE3 of each payload, nothing else.
    g.bench_function("ref: keyed BLAKE3 of payload", |b| {
        b.iter(|| {
            for e in &events {
                black_box(blake3::keyed_hash(&K_LEAF, e));
            }
        })
    });

    // Reference: CRC32C of each finished frame, nothing else.
    g.bench_function("ref: CRC32C of frame", |b| {
        b.iter(|| {
            for s in &spans {
                black_box(crc32c::crc32c(&frames[s.clone()]));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
