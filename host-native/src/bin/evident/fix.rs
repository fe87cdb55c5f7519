//! Commands that change a trail to bring it back: recover (what open does, on demand) and repair
//! (an explicit cut before damage, after copying the damaged files aside).

use crate::{existing_dir, print_json, Outcome};
use evident_native::{Error, RecoveryMode, Trail, TrailOptions};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct RecoverArgs {
    /// The trail directory.
    dir: PathBuf,
    /// `tolerate-torn-tail` cuts an interrupted write at the end (and nothing else);
    /// `absolute` refuses any damage and changes nothing.
    #[arg(long, default_value = "tolerate-torn-tail", value_parser = ["tolerate-torn-tail", "absolute"])]
    mode: String,
    /// Sign the recovered head with this log key into checkpoint.note (refused, naming both
    /// roots, when recovery cut records the key already signed).
    #[arg(long, value_name = "KEYFILE")]
    key: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct RepairArgs {
    /// The trail directory.
    dir: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct BreakLockArgs {
    /// The trail directory.
    dir: PathBuf,
    /// Remove a component writer's lease that has not lapsed yet (only when you know that
    /// writer is gone: a live one would go on writing beside the next writer until its next
    /// check).
    #[arg(long)]
    force: bool,
}

pub fn break_lock(a: BreakLockArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let was = evident_native::lease::break_lock(&a.dir, a.force)?;
    println!("removed LOCK of {}: {was}", a.dir.display());
    Ok(Outcome::Ok)
}

pub async fn recover(a: RecoverArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let recovery = if a.mode == "absolute" {
        RecoveryMode::AbsoluteConsistency
    } else {
        RecoveryMode::TolerateTornTail
    };
    let core = evident_native::Options {
        recovery,
        ..Default::default()
    };
    let trail = Trail::open(
        &a.dir,
        TrailOptions {
            core,
            signer: crate::signer_of(a.key.as_deref())?,
            ..Default::default()
        },
    )
    .await?;
    let report = trail.open_report().clone();
    let head = trail.close().await?;
    if a.json {
        print_json(&json!({
            "ok": true,
            "tail": report.tail.to_string(),
            "removed_files": report.removed_files,
            "head": {"seq": head.seq, "hash": head.hash.to_hex()},
        }));
    } else {
        println!("recovered: {}", report.tail);
        for f in &report.removed_files {
            println!("removed leftover file {f}");
        }
        println!("head: seq {} hash {}", head.seq, head.hash);
    }
    Ok(Outcome::Ok)
}

pub fn repair(a: RepairArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    // Hold the writer lease while repairing, renewed on a thread of its own: a repair of a large
    // trail can outlast the lease, and a component writer would otherwise take the trail over
    // halfway through.
    let lease = std::sync::Arc::new(std::sync::Mutex::new(evident_native::lock_dir(&a.dir)?));
    let renewal = LeaseRenewal::start(lease.clone());
    let report = evident_native::repair::repair(&a.dir, evident_native::now_ns());
    drop(renewal);
    let lost = lease.lock().ok().and_then(|mut l| {
        let lost = l.check().err();
        l.release();
        lost
    });
    let report = report?;
    if let Some(why) = lost {
        return Err(Error::Trail(evident_native::core::Error::Failed {
            reason: format!("repair lost the writer lease while it ran: {why}"),
        }));
    }
    match report {
        None => {
            if a.json {
                print_json(&json!({"ok": true, "repaired": false}));
            } else {
                println!("nothing to repair: the trail verifies");
            }
        }
        Some(r) => {
            if a.json {
                print_json(&json!({
                    "ok": true,
                    "repaired": true,
                    "damage": r.damage,
                    "set_aside": r.set_aside.iter().map(|(f, c)| json!({"file": f, "copy": c})).collect::<Vec<_>>(),
                    "cut": r.cut.as_ref().map(|(f, o)| json!({"file": f, "offset": o})),
                    "removed": r.removed,
                    "kept_up_to": r.kept_up_to,
                }));
            } else {
                println!("damage: {}", r.damage);
                for (f, c) in &r.set_aside {
                    println!("copied {f} aside to {c}");
                }
                if let Some((f, o)) = &r.cut {
                    println!("cut {f} at offset {o}");
                }
                for f in &r.removed {
                    println!("removed {f} (its copy is kept)");
                }
                println!(
                    "the trail now holds records 1..={} and verifies",
                    r.kept_up_to
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

/// Renews a writer lease every time it is due, until dropped. Where no thread can be started
/// (a process limit), the lease is not renewed: a repair longer than the lease then fails at its
/// end instead of being silently overtaken.
struct LeaseRenewal {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaseRenewal {
    fn start(lease: std::sync::Arc<std::sync::Mutex<evident_native::lease::NativeLease>>) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("evident-lease".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let wait = lease.lock().map(|l| l.next_renewal_in()).unwrap_or(0);
                    std::thread::park_timeout(std::time::Duration::from_nanos(
                        wait.clamp(1_000_000, 1_000_000_000),
                    ));
                    if let Ok(mut l) = lease.lock() {
                        l.tick();
                    }
                }
            })
            .ok();
        LeaseRenewal { stop, thread }
    }
}

impl Drop for LeaseRenewal {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
