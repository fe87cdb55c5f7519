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
    // Hold the writer lock while repairing.
    let lock = evident_native::lock_dir(&a.dir)?;
    let report = evident_native::repair::repair(&a.dir, evident_native::now_ns())?;
    drop(lock);
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
