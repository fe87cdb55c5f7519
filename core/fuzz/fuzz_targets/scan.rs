//! The segment scanner on arbitrary bytes, fed in arbitrary chunks, strict or not: never panics,
//! always reaches a verdict, the verdict does not depend on the chunking, and every record it
//! yields has consecutive seqs.
#![no_main]

use evident_core::hash::Hash;
use evident_core::scan::{ScanStart, SegmentScanner};
use libfuzzer_sys::fuzz_target;

fn run(data: &[u8], chunk: usize, strict: bool, chain: bool) -> (Vec<u64>, String) {
    let mut s = SegmentScanner::new(ScanStart {
        offset: 128,
        file_len: 128 + data.len() as u64,
        seq: 1,
        prev_hash: chain.then_some(Hash([0; 32])),
        prev_ts: 0,
        index_stride: 65536,
        strict,
        version: evident_core::header::FormatVersion::V2,
    });
    let mut seqs = Vec::new();
    for part in data.chunks(chunk.max(1)) {
        s.push(part);
        while let Some(r) = s.next_record() {
            seqs.push(r.seq);
        }
    }
    let summary = s.finish();
    (seqs, format!("{:?}", summary.end))
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let strict = ctl & 1 != 0;
    let chain = ctl & 2 != 0;
    let chunk = 1 + (ctl as usize >> 2) * 7;
    let whole = run(rest, rest.len().max(1), strict, chain);
    let chunked = run(rest, chunk, strict, chain);
    assert_eq!(whole, chunked, "the verdict depends on chunking");
    for (i, s) in whole.0.iter().enumerate() {
        assert_eq!(*s, i as u64 + 1);
    }
});
