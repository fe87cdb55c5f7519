//! `bench --profile WHAT [--profile-secs S]`: one contender alone for S seconds (default 10),
//! its rate printed, so that `perf record -g -- target/release/bench --profile ...` profiles
//! nothing else. Profile first, then optimise (BENCHMARKS.md says what each profile showed).
//!
//! WHAT is one of `durable:N`, `durable-no-tree:N` (evident, N producers, durable, with and
//! without the tree), `bare:N`, `bare-hashing:N` (the bare group-commit thread, without and with
//! the format's hashing), `batch`, `batch-no-tree` (`append_batch(1024)` under
//! `Durability::Os`), `component-batch`, `native-batch` (section 6's durable `append-batch(64)`
//! through the WASI component and natively; the component is compiled before the timed run).
//!
//! Environment: `EVIDENT_BENCH_TIMELINE=1` prints a durable run's records made durable per
//! 200 ms (stalls show as zeros); `EVIDENT_BENCH_TILES=1` prints a batch run's tile status.
//! `EVIDENT_BENCH_AGENT_LOOP=S` makes section 8 repeat its 1% agent query for S seconds
//! after building its trail (use `perf record -D` to skip the build).

use crate::costs::{self, Variant};
use crate::peers::{self, Space, Work};
use crate::{remove, Ctx};
use evident_native::Durability;
use std::time::Duration;

/// Runs `what` for `secs` seconds and prints its rate on stderr.
pub fn run(ctx: &mut Ctx, what: &str, secs: u64) {
    let dur = Duration::from_secs(secs);
    eprintln!(
        "file creation here: {:?} (median of 64)",
        crate::probe::file_create_cost(&ctx.dir)
    );
    let (kind, n) = match what.split_once(':') {
        Some((k, n)) => (k, n.parse::<usize>().unwrap_or_else(|_| bad(what))),
        None => (what, 0),
    };
    let m = match kind {
        "durable" | "durable-no-tree" => {
            let v = if kind == "durable" {
                Variant::Tree
            } else {
                Variant::NoTree
            };
            costs::durable(ctx, costs::options(v, Durability::Always), n, dur, |t| {
                eprintln!("tiles at the end: {:?}", t.tile_status())
            })
        }
        "bare" | "bare-hashing" => {
            let work = if kind == "bare" {
                Work::None
            } else {
                Work::Hashing
            };
            let dir = ctx.scratch("profile-bare");
            let m = peers::bare(&ctx.rt, &dir, n, dur, &ctx.events, Space::Fallocated, work);
            remove(&dir);
            m
        }
        "batch" => costs::unsynced_batch(ctx, Variant::Tree, dur),
        "batch-no-tree" => costs::unsynced_batch(ctx, Variant::NoTree, dur),
        "component-batch" | "native-batch" => {
            crate::wasm::durable_batch(ctx, kind == "component-batch", dur)
        }
        _ => bad(what),
    };
    eprintln!(
        "{what}: {} records in {:.2} s = {:.0}/s, {} fdatasyncs",
        m.ops,
        m.secs,
        m.ops as f64 / m.secs,
        m.syncs
    );
}

fn bad(what: &str) -> ! {
    eprintln!("--profile {what}: expected durable:N, durable-no-tree:N, bare:N, bare-hashing:N, batch, batch-no-tree, component-batch or native-batch");
    std::process::exit(2)
}
