//! Explicit repair of a damaged trail: find the first damage, set every affected file aside
//! (copied, never deleted), cut the trail just before the damage, and say exactly what was
//! removed. Recovery never does this on its own: cutting valid records is an operator's act.

use crate::error::{Error, Result};
use crate::fs_exec::FsExecutor;
use evident_core::header::HEADER_LEN;
use evident_core::verify::VerifyTask;
use evident_core::{naming, IoOp};
use std::path::Path;

/// What repair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// The damage found, as verification reported it.
    pub damage: String,
    /// Files copied aside: (original, copy).
    pub set_aside: Vec<(String, String)>,
    /// The segment cut, and the offset it was cut at (None when it was removed entirely).
    pub cut: Option<(String, u64)>,
    /// Segments removed after being set aside.
    pub removed: Vec<String>,
    /// The last seq kept; records after it are only in the copies.
    pub kept_up_to: u64,
}

fn run(exec: &mut FsExecutor, op: IoOp) -> Result<()> {
    exec.perform(&op).map(|_| ()).map_err(|error| {
        Error::Trail(evident_core::Error::Io {
            op: op.name(),
            location: evident_core::Location::file(op.file().unwrap_or_default()),
            error,
        })
    })
}

fn verify_physical(
    dir: &Path,
) -> std::result::Result<evident_core::verify::VerifyReport, evident_core::Error> {
    let mut exec = FsExecutor::read_only(dir);
    let mut task = VerifyTask::with_head(Vec::new(), 1 << 20, false);
    while let Some(op) = task.poll_io() {
        let r = exec.perform(&op);
        task.handle_io(&op, r);
    }
    task.take_result().expect("the task ends with a result")
}

/// Repairs the trail in `dir` (which must not be open for writing). Returns `None` when there is
/// nothing to repair. `stamp` distinguishes the copies (e.g. the current time).
pub fn repair(dir: &Path, stamp: u64) -> Result<Option<RepairReport>> {
    let damage = match verify_physical(dir) {
        Ok(_) => return Ok(None),
        // Only corruption (or a torn tail) is damage. An IO error (EMFILE, EIO, a refused
        // symlink...) says nothing about the records: abort with it and change nothing.
        Err(e) if e.is_corruption() || matches!(e, evident_core::Error::TornTail { .. }) => e,
        Err(e) => return Err(Error::Trail(e)),
    };
    let Some(loc) = damage.location().cloned() else {
        return Err(Error::Trail(damage));
    };
    let Some(file) = loc
        .file
        .clone()
        .filter(|f| naming::parse_segment_name(f).is_some())
    else {
        return Err(Error::Trail(damage));
    };
    let offset = loc.offset.unwrap_or(0);
    let mut exec = FsExecutor::new(dir);
    let mut report = RepairReport {
        damage: damage.to_string(),
        set_aside: Vec::new(),
        cut: None,
        removed: Vec::new(),
        kept_up_to: 0,
    };
    let io = |error| Error::Io {
        path: dir.to_path_buf(),
        error,
    };
    let handle = crate::safe_fs::TrailDir::open(dir, false).map_err(io)?;
    let entries = handle.entries().map_err(io)?;
    let mut segments: Vec<String> = entries
        .iter()
        .map(|e| e.name.clone())
        .filter(|n| naming::parse_segment_name(n).is_some())
        .collect();
    segments.sort();
    let Some(at) = segments.iter().position(|s| *s == file) else {
        return Err(Error::Trail(damage)); // the named segment is gone: change nothing
    };
    let aside = |exec: &mut FsExecutor, name: &str, report: &mut RepairReport| -> Result<()> {
        let copy = format!("{name}{}{stamp}", naming::DAMAGED_INFIX);
        run(
            exec,
            IoOp::Copy {
                from: name.to_string(),
                to: copy.clone(),
            },
        )?;
        report.set_aside.push((name.to_string(), copy));
        Ok(())
    };
    for name in &segments[at..] {
        aside(&mut exec, name, &mut report)?;
    }
    if entries.iter().any(|e| e.name == naming::HEAD_CHECKPOINT) {
        aside(&mut exec, naming::HEAD_CHECKPOINT, &mut report)?;
        run(
            &mut exec,
            IoOp::Remove {
                file: naming::HEAD_CHECKPOINT.into(),
            },
        )?;
    }
    run(&mut exec, IoOp::SyncDir)?;
    for name in segments[at + 1..].iter().rev() {
        run(&mut exec, IoOp::Remove { file: name.clone() })?;
        report.removed.push(name.clone());
    }
    // The agent indexes of the segments removed or cut describe records that are gone
    // (derived data: best effort, a query never trusts one that does not match its segment).
    for name in &segments[at..] {
        let _ = exec.perform(&IoOp::Remove {
            file: evident_core::agent_index::index_name(name),
        });
    }
    if offset <= HEADER_LEN as u64 {
        run(&mut exec, IoOp::Remove { file: file.clone() })?;
        report.removed.push(file.clone());
    } else {
        run(
            &mut exec,
            IoOp::Truncate {
                file: file.clone(),
                len: offset,
            },
        )?;
        run(
            &mut exec,
            IoOp::Sync {
                file: file.clone(),
                metadata: true,
            },
        )?;
        report.cut = Some((file.clone(), offset));
    }
    run(&mut exec, IoOp::SyncDir)?;
    // Everything before the cut verified already; check the result as a whole.
    report.kept_up_to = match verify_physical(dir) {
        Ok(r) => r.head.seq,
        Err(evident_core::Error::Corrupt { what, .. }) if what.starts_with("no segment") => 0,
        Err(e) => return Err(Error::Trail(e)),
    };
    Ok(Some(report))
}
