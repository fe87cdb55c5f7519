//! Section 6: appends through the WASI component hosted by wasmtime (`evident_tests::wasm`)
//! against the native adapter, durable and not, one record per call and batches of 64.
//!
//! wasmtime-wasi's synchronous bindings run a tokio runtime of their own, so the component is
//! driven from a plain thread, never from inside our runtime.

use crate::report::{Compare, Measure};
use crate::{remove, Ctx};
use evident_core::{Durability, Options};
use evident_native::{Trail, TrailOptions};
use evident_tests::wasm::{self as host, Instance};
use std::time::{Duration, Instant};

const BATCH: usize = 64;

#[derive(Clone, Copy)]
struct Mode {
    durable: bool,
    batch: bool,
}

fn component(ctx: &mut Ctx, mode: Mode, dur: Duration) -> Measure {
    let dir = ctx.scratch("component");
    let events = ctx.events.clone();
    let mut inst = Instance::new(&dir);
    let opts = host::OpenOptions {
        durability: Some(if mode.durable {
            host::Durability::Always
        } else {
            host::Durability::Os
        }),
        ..host::default_options()
    };
    let log = inst.open("/data/trail", &opts).expect("open");
    let mut lat = Vec::new();
    let mut n = 0u64;
    let mut k = 0usize;
    let start = Instant::now();
    while start.elapsed() < dur {
        let t = Instant::now();
        if mode.batch {
            let batch: Vec<Vec<u8>> = (0..BATCH)
                .map(|j| events[(k + j) % events.len()].clone())
                .collect();
            k += BATCH;
            let r = inst.append_batch(log, &batch).expect("append-batch");
            n += r.len() as u64;
        } else {
            let r = inst.append(log, &events[k % events.len()]).expect("append");
            debug_assert_eq!(r.durable, mode.durable);
            k += 1;
            n += 1;
        }
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let mut m = Measure::timed(n, 0, start);
    m.lat_ns = lat;
    inst.close(log).expect("close");
    drop(inst);
    remove(&dir);
    m
}

fn native(ctx: &mut Ctx, mode: Mode, dur: Duration) -> Measure {
    let dir = ctx.scratch("native");
    let events = ctx.events.clone();
    let opts = TrailOptions {
        core: Options {
            durability: if mode.durable {
                Durability::Always
            } else {
                Durability::Os
            },
            ..Options::default()
        },
        ..TrailOptions::default()
    };
    let m = ctx.rt.block_on(async {
        let trail = Trail::open(&dir, opts).await.expect("open");
        let mut lat = Vec::new();
        let mut n = 0u64;
        let mut k = 0usize;
        let start = Instant::now();
        while start.elapsed() < dur {
            let t = Instant::now();
            if mode.batch {
                let batch: Vec<Vec<u8>> = (0..BATCH)
                    .map(|j| events[(k + j) % events.len()].clone())
                    .collect();
                k += BATCH;
                n += trail.append_batch(batch).await.expect("append_batch").len() as u64;
            } else {
                trail
                    .append(events[k % events.len()].clone())
                    .await
                    .expect("append");
                k += 1;
                n += 1;
            }
            lat.push(t.elapsed().as_nanos() as u64);
        }
        let mut m = Measure::timed(n, 0, start);
        m.lat_ns = lat;
        trail.close().await.expect("close");
        m
    });
    remove(&dir);
    m
}

fn section6_on_this_thread(ctx: &mut Ctx) {
    ctx.report.line(
        "\n## 6. The WASI component (wasmtime 48) vs the native adapter\n\n\
         The component `evident_wasi.wasm` (release build), instantiated by the wasmtime host \
         of `tests/src/wasm.rs` (Cranelift, `allow_blocking_current_thread`, a preopened \
         directory), called from one plain thread: `append` (one record per call) and \
         `append-batch` of 64 records. Native: `Trail::append` / `append_batch` of the same \
         records from one task. Durable = `Durability::Always` (each call is one write and one \
         fdatasync for both); unsynced = `Durability::Os`. p50/p99 are per call (a call of a \
         batch acknowledges 64 records).",
    );
    let rounds = ctx.rounds(5);
    for (durable, batch) in [(true, false), (true, true), (false, false), (false, true)] {
        let mode = Mode { durable, batch };
        let dur = ctx.run_time(if durable { 2000 } else { 1000 });
        let title = format!(
            "{}, {} ({rounds} rounds)",
            if durable { "Durable" } else { "Unsynced (Os)" },
            if batch {
                "batches of 64"
            } else {
                "one record per call"
            }
        );
        let names = if batch {
            ["component append-batch(64)", "native append_batch(64)"]
        } else {
            ["component append", "native append"]
        };
        let s = ctx.interleave(&title, &names, rounds, Compare::SubjectVs(0), |ctx, c| {
            if c == 0 {
                component(ctx, mode, dur)
            } else {
                native(ctx, mode, dur)
            }
        });
        ctx.report.series(&s);
    }
}

/// Section 6's durable `append-batch(64)` alone, through the component or natively (for
/// `--profile`); the component is compiled first, and driven from a plain thread.
pub fn durable_batch(ctx: &mut Ctx, through_component: bool, dur: Duration) -> Measure {
    let mode = Mode {
        durable: true,
        batch: true,
    };
    if !through_component {
        return native(ctx, mode, dur);
    }
    let warm = ctx.scratch("component-warm");
    drop(Instance::new(&warm));
    remove(&warm);
    std::thread::scope(|s| {
        s.spawn(|| component(ctx, mode, dur))
            .join()
            .expect("the component run panicked")
    })
}

/// Section 6.
pub fn section6(ctx: &mut Ctx) {
    eprintln!("section 6: the WASI component vs native");
    // Compile the component before the first timed run.
    let warm = ctx.scratch("component-warm");
    drop(Instance::new(&warm));
    remove(&warm);
    std::thread::scope(|s| {
        s.spawn(|| section6_on_this_thread(ctx))
            .join()
            .expect("section 6 panicked");
    });
}
