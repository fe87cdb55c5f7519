//! Section 7's proof figures on the large trail: `prove` of one record (median, tiles read),
//! bundle size, consistency-proof size between two heads, bundle verifications per second on
//! one core, and the prover's open time against a small trail's (flat in trail size). Runs in
//! a child process (`__child prove DIR`), like the other phases of section 7.

use crate::report::{fmt_ns, fmt_rate, median};
use crate::Ctx;
use evident_native::prove::{check_proof_text, InclusionOptions, Prover};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

/// The child: measures everything on the trail in `dir` and prints one RESULT line.
pub fn child(dir: &Path, result: impl FnOnce(Value)) {
    let start = Instant::now();
    let prover = Prover::open(dir).expect("open the prover");
    let open_secs = start.elapsed().as_secs_f64();
    let size = prover.checkpoint().size;
    // Seqs spread over the trail (a fixed LCG: the same seqs every run).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut times = Vec::new();
    let mut tiles = Vec::new();
    let mut rebuilt = 0;
    let mut bundle_bytes = Vec::new();
    let mut overhead = Vec::new();
    let mut sample = String::new();
    for _ in 0..200 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let seq = 1 + (x >> 11) % size.max(1);
        let t = Instant::now();
        let b = prover
            .prove(seq, InclusionOptions::default())
            .expect("prove");
        times.push(t.elapsed().as_secs_f64());
        tiles.push(b.tiles_read as f64);
        rebuilt += usize::from(b.inclusion.rebuilt);
        let payload = b.inclusion.payload.as_ref().map_or(0, Vec::len);
        bundle_bytes.push(b.text.len() as f64);
        // What the bundle costs beyond the record: its payload travels base64-encoded.
        overhead.push((b.text.len() - payload.div_ceil(3) * 4) as f64);
        sample = b.text;
    }
    // Consistency between the head and the tree at half its size.
    let half = prover
        .prove(
            (size / 2).max(1),
            InclusionOptions {
                size: Some((size / 2).max(1)),
                include_payload: false,
            },
        )
        .expect("a bundle at half the size");
    let old_note = evident_core::prove::checkpoint_note(&half.inclusion.tree);
    let t = Instant::now();
    let consistency = prover.prove_consistency(&old_note).expect("consistency");
    let consistency_secs = t.elapsed().as_secs_f64();
    // Verifications per second, one thread, for about a second.
    let t = Instant::now();
    let mut checks = 0u64;
    while t.elapsed().as_secs_f64() < 1.0 {
        for _ in 0..100 {
            check_proof_text(&sample).expect("the bundle checks");
        }
        checks += 100;
    }
    let checks_per_sec = checks as f64 / t.elapsed().as_secs_f64();
    result(json!({
        "size": size,
        "open_secs": open_secs,
        "prove_median_secs": median(times).unwrap_or(0.0),
        "tiles_median": median(tiles).unwrap_or(0.0),
        "rebuilt": rebuilt,
        "bundle_median_bytes": median(bundle_bytes).unwrap_or(0.0),
        "bundle_overhead_bytes": median(overhead).unwrap_or(0.0),
        "consistency_bytes": consistency.len(),
        "consistency_secs": consistency_secs,
        "checks_per_sec": checks_per_sec,
    }))
}

/// Reports the figures of a `prove` child on the large trail (`big`) and on a small one.
pub fn report(ctx: &mut Ctx, big: &Value, small: &Value) {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let md = format!(
        "\n**Proofs on the large trail** (one process, page cache warm; 200 records at spread \
         seqs)\n\n\
         | | |\n|---|---|\n\
         | `prove` of one record (median) | {} ({} tile files read, median; {} rebuilt) |\n\
         | bundle size (median, with the payload) | {} bytes ({} beyond the base64 payload) |\n\
         | consistency proof, size {} → {} | {} bytes, made in {} |\n\
         | bundle verifications per second, one core | {} |\n\
         | prover open: {} records vs {} records | {} vs {} |\n",
        fmt_ns(f(big, "prove_median_secs") * 1e9),
        f(big, "tiles_median"),
        big["rebuilt"],
        f(big, "bundle_median_bytes"),
        f(big, "bundle_overhead_bytes"),
        (f(big, "size") as u64 / 2).max(1),
        f(big, "size") as u64,
        f(big, "consistency_bytes"),
        fmt_ns(f(big, "consistency_secs") * 1e9),
        fmt_rate(f(big, "checks_per_sec")),
        fmt_rate(f(big, "size")),
        fmt_rate(f(small, "size")),
        fmt_ns(f(big, "open_secs") * 1e9),
        fmt_ns(f(small, "open_secs") * 1e9),
    );
    ctx.report.line(&md);
    let prove_ms = f(big, "prove_median_secs") * 1e3;
    ctx.report.target_text(
        "prove of one record",
        "—",
        &format!("{prove_ms:.3} ms"),
        "≤ 1 ms median",
        prove_ms <= 1.0,
    );
    let overhead = f(big, "bundle_overhead_bytes");
    ctx.report.target_text(
        "bundle size",
        "—",
        &format!("{overhead:.0} bytes plus the record"),
        "≤ 1 KB plus the record",
        overhead <= 1024.0,
    );
    let c = f(big, "consistency_bytes");
    ctx.report.target_text(
        "consistency proof between two heads",
        "—",
        &format!("{c:.0} bytes"),
        "≤ 1 KB",
        c <= 1024.0,
    );
    let v = f(big, "checks_per_sec");
    ctx.report.target_text(
        "bundle verifications per second, one core",
        "—",
        &fmt_rate(v),
        "≥ 20,000/s",
        v >= 20_000.0,
    );
    let ratio = f(big, "open_secs") / f(small, "open_secs").max(1e-9);
    ctx.report.target_text(
        "prover open time flat in trail size",
        "—",
        &format!("{ratio:.2}x the small trail's"),
        "flat (≤ 3x)",
        ratio <= 3.0,
    );
}
