//! Read-only commands: verify, head, export, tail, inspect.

use crate::{existing_dir, print_json, Outcome};
use evident_core::footer::Footer;
use evident_core::{naming, Checkpoint};
use evident_native::fs_exec::verify_dir;
use evident_native::jsonl::record_json;
use evident_native::safe_fs::TrailDir;
use evident_native::{Error, Reader};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct DirArgs {
    /// The trail directory.
    dir: PathBuf,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The trail directory, or an archived log: s3://BUCKET/PREFIX/LOG_ID.
    dir: PathBuf,
    /// A checkpoint file (from `evident head`) the trail must still contain; repeatable.
    #[arg(long = "checkpoint", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Verify the whole history of a retained trail: the records only in its archive
    /// (s3://BUCKET/PREFIX, as given to `evident archive --to`) and the local ones, joined.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    archive: Option<String>,
    #[command(flatten)]
    store: crate::archive::StoreOpts,
    /// A tlog-policy file: the trail's checkpoint.note must carry the log's signature and
    /// cosignatures meeting its quorum, and the trail must prove its tree (exit 3 otherwise).
    /// Without it, the signatures of checkpoint.note (if any) are listed, unchecked.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct TailArgs {
    /// The trail directory.
    dir: PathBuf,
    /// How many of the last records to print.
    #[arg(short = 'n', long, default_value_t = 10)]
    lines: usize,
    /// Keep printing records as they are appended.
    #[arg(short = 'f', long)]
    follow: bool,
}

fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    use std::io::IsTerminal;
    if quiet || total < (64 << 20) || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .expect("a valid template"),
    );
    pb
}

fn error_json(e: &evident_core::Error) -> serde_json::Value {
    let loc = e.location();
    let kind = match e {
        evident_core::Error::Corrupt { .. } => "corrupt",
        evident_core::Error::TornTail { .. } => "torn_tail",
        evident_core::Error::BehindCheckpoint { .. } => "behind_checkpoint",
        evident_core::Error::CheckpointMismatch { .. } => "checkpoint_mismatch",
        evident_core::Error::Io { .. } => "io",
        _ => "other",
    };
    json!({
        "kind": kind,
        "message": e.to_string(),
        "file": loc.and_then(|l| l.file.clone()),
        "segment": loc.and_then(|l| l.segment),
        "offset": loc.and_then(|l| l.offset),
        "seq": loc.and_then(|l| l.seq),
    })
}

/// A checkpoint file named on the command line, read through a bounded prefix: a checkpoint is
/// a few hundred bytes, so `/dev/zero` or a 3 GB file is refused after a few KiB.
fn read_checkpoint_file(path: &Path) -> Result<String, Error> {
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    let bytes =
        evident_native::safe_fs::read_small(path, evident_native::safe_fs::MAX_CHECKPOINT_FILE)
            .map_err(io)?;
    String::from_utf8(bytes).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8: not a checkpoint",
        ))
    })
}

pub async fn verify(a: VerifyArgs) -> Result<Outcome, Error> {
    let url = a.dir.to_str().filter(|s| s.starts_with("s3://"));
    if url.is_none() {
        existing_dir(&a.dir)?;
    }
    let mut cps = Vec::new();
    // C2SP checkpoint notes (origin, tree size, root): proven after the chain verifies, by the
    // root recomputed from the records at that size.
    let mut notes = Vec::new();
    for path in &a.checkpoints {
        let text = read_checkpoint_file(path)?;
        if evident_core::prove::parse_checkpoint_note(&text).is_ok() {
            notes.push((path.clone(), text));
            continue;
        }
        let cp = Checkpoint::parse(&text).map_err(|e| Error::Io {
            path: path.clone(),
            error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        })?;
        cps.push(cp);
    }
    if let Some(url) = url {
        return crate::archive::verify_url(url, cps, a.json, a.quiet, &a.store).await;
    }
    if let Some(url) = &a.archive {
        return crate::archive::verify_history(&a.dir, url, cps, a.json, &a.store).await;
    }
    let mut pb: Option<ProgressBar> = None;
    let quiet = a.quiet || a.json;
    let mut result = verify_dir(&a.dir, cps, |done, total| {
        let bar = pb.get_or_insert_with(|| progress_bar(total, quiet));
        bar.set_position(done);
    });
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let policy = a
        .policy
        .as_deref()
        .map(|p| {
            evident_native::signatures::read_policy(p).map_err(|error| Error::Io {
                path: p.to_path_buf(),
                error,
            })
        })
        .transpose()?;
    let note_path = a.dir.join(evident_native::publish::CHECKPOINT_NOTE);
    // An unreadable note (a symlink planted under its name, say) never hides the chain's
    // verdict: without a policy it is reported and passed over, with one it fails the policy
    // once the chain is intact.
    let (signed_note, note_error) = match evident_native::publish::read_checkpoint_note(&a.dir) {
        Ok(note) => (note.map(|b| String::from_utf8_lossy(&b).into_owned()), None),
        Err(error) => {
            if policy.is_none() {
                eprintln!(
                    "evident: {}: {error}; its signatures are not reported",
                    note_path.display()
                );
            }
            (None, Some(error))
        }
    };
    if let (Some(_), Some(error)) = (&policy, &note_error) {
        let what = format!("the signed checkpoint cannot be read: {error}");
        let location = evident_core::Location::file(note_path.display().to_string());
        result = result.and(Err(evident_core::Error::Corrupt { location, what }));
    } else if policy.is_some() && signed_note.is_none() {
        notes.push((note_path.clone(), String::new())); // refused below, naming the file
    } else if let (Some(_), Some(text)) = (&policy, &signed_note) {
        notes.push((note_path.clone(), text.clone()));
    }
    let signatures = signed_note
        .as_ref()
        .map(|t| evident_native::signatures::NoteReport::of(t.as_bytes(), policy.as_ref()));
    // Each note's tree, once the chain is intact: a failure is a verdict like any other.
    let mut trees = Vec::new();
    let result = result.and_then(|r| {
        if let Some(Some(Err(why))) = signatures.as_ref().map(|s| s.policy.as_ref()) {
            return Err(evident_core::Error::Corrupt {
                location: evident_core::Location::file(note_path.display().to_string()),
                what: format!("the signed checkpoint does not satisfy the policy: {why}"),
            });
        }
        for (path, text) in &notes {
            match evident_native::prove::check_tree_checkpoint(&a.dir, text) {
                Ok(t) => trees.push(t),
                Err(e) => {
                    return Err(evident_core::Error::Corrupt {
                        location: evident_core::Location::file(path.display().to_string()),
                        what: format!("the trail does not prove this tree checkpoint: {e}"),
                    })
                }
            }
        }
        Ok(r)
    });
    match result {
        Ok(r) => {
            if a.json {
                print_json(&json!({
                    "ok": true,
                    "log_id": r.log_id.to_hex(),
                    "segments": r.segments,
                    "records": r.records,
                    "bytes": r.bytes,
                    "first_seq": r.first_seq,
                    "head": {"seq": r.head.seq, "hash": r.head.hash.to_hex()},
                    "checkpoints_verified": r.checkpoints_verified.iter().map(|c| c.seq).collect::<Vec<_>>(),
                    "trees_verified": trees.iter().map(|t| json!({"origin": t.origin, "size": t.size, "root": t.root_base64()})).collect::<Vec<_>>(),
                    "unfinished_seals": r.unfinished_seals,
                    "warnings": r.warnings,
                    "live_tail": r.live_tail,
                    "signed_checkpoint": signatures.as_ref().map(evident_native::signatures::report_json),
                    // Records removed behind retained.checkpoint: not present, so not proven.
                    "not_present": r.anchored_by.map(|a| json!({
                        "first_seq": 1,
                        "last_seq": a.seq,
                        "proven": false,
                        "anchored_by": {"seq": a.seq, "hash": a.hash.to_hex()},
                    })),
                }));
            } else {
                println!(
                    "intact: {} records in {} segments ({} bytes), log {}",
                    r.records, r.segments, r.bytes, r.log_id
                );
                println!("head: seq {} hash {}", r.head.seq, r.head.hash);
                for cp in &r.checkpoints_verified {
                    println!("checkpoint proven: seq {} hash {}", cp.seq, cp.hash);
                }
                for t in &trees {
                    println!(
                        "tree checkpoint proven: {} size {} root {}",
                        t.origin,
                        t.size,
                        t.root_base64()
                    );
                }
                if let Some(a) = r.anchored_by {
                    println!(
                        "NOT PROVEN: records 1..={} are not present (removed by retention); the first kept segment's anchor is vouched for only by retained.checkpoint (seq {} hash {})",
                        a.seq, a.seq, a.hash
                    );
                }
                if let Some(t) = &r.live_tail {
                    println!("note: {t}; records the writer may still be writing are not counted");
                }
                for w in &r.warnings {
                    println!("warning: {w}");
                }
                for s in &r.unfinished_seals {
                    println!(
                        "note: {s} has zero bytes after its footer (an interrupted seal; harmless)"
                    );
                }
                if let Some(s) = &signatures {
                    print!("checkpoint.note:\n{}", s.to_text());
                }
            }
            Ok(Outcome::Ok)
        }
        Err(e) if e.is_corruption() || matches!(e, evident_core::Error::TornTail { .. }) => {
            if a.json {
                print_json(&json!({"ok": false, "error": error_json(&e)}));
            } else {
                println!("NOT INTACT: {e}");
                if let evident_core::Error::TornTail { .. } = e {
                    println!("hint: an interrupted write; `evident recover` cuts it without losing acknowledged records");
                }
            }
            Ok(if matches!(e, evident_core::Error::TornTail { .. }) {
                Outcome::Torn
            } else {
                Outcome::Corrupt
            })
        }
        Err(e) => Err(Error::Trail(e)),
    }
}

pub fn head(a: DirArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let r = verify_dir(&a.dir, Vec::new(), |_, _| {}).map_err(Error::Trail)?;
    if a.json {
        println!("{}", r.head.to_json());
    } else {
        print!("{}", r.head.to_text());
    }
    Ok(Outcome::Ok)
}

pub async fn tail(a: TailArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let mut reader = Reader::open(&a.dir)?;
    let firsts: Vec<u64> = reader.segments().iter().map(|(f, _)| *f).collect();
    let mut last: VecDeque<evident_native::Record> = VecDeque::new();
    // Start from the last segment, going back only as far as needed for N records.
    for start in (0..firsts.len()).rev() {
        last.clear();
        reader.seek(firsts[start])?;
        while let Some(r) = reader.next_available()? {
            last.push_back(r);
            if last.len() > a.lines {
                last.pop_front();
            }
        }
        if last.len() >= a.lines || start == 0 {
            break;
        }
    }
    for r in &last {
        println!("{}", record_json(r.seq, r.ts, &r.hash, &r.payload));
    }
    if a.follow {
        loop {
            let r = reader.next_following(Duration::from_millis(100)).await?;
            println!("{}", record_json(r.seq, r.ts, &r.hash, &r.payload));
        }
    }
    Ok(Outcome::Ok)
}

/// The footer of a sealed segment, read through the directory handle (never a symlink) and
/// bounded by the format's largest footer whatever the trailer claims.
fn footer_of(dir: &TrailDir, name: &str) -> Option<Footer> {
    let f = dir.open_file(name, false).ok()?;
    let len = f.metadata().ok()?.len();
    let mut t = [0u8; 16];
    f.read_exact_at(&mut t, len.checked_sub(16)?).ok()?;
    let off = Footer::trailer_offset(&t, len).ok()?;
    let mut b = vec![0u8; (len - off) as usize];
    f.read_exact_at(&mut b, off).ok()?;
    Footer::decode(&b).ok()
}

/// `head.checkpoint`, read through the directory handle and a bounded prefix (a FIFO or a
/// symlink to `/dev/zero` is refused, not read).
fn head_checkpoint(dir: &TrailDir) -> Option<Checkpoint> {
    use std::io::Read;
    let f = dir.open_file(naming::HEAD_CHECKPOINT, false).ok()?;
    let mut buf = Vec::new();
    f.take(evident_native::safe_fs::MAX_CHECKPOINT_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .ok()?;
    if buf.len() > evident_native::safe_fs::MAX_CHECKPOINT_FILE {
        return None;
    }
    // The trail's own file: the checkpoint, and (format 2) the tree root line.
    Checkpoint::parse_own_file(std::str::from_utf8(&buf).ok()?)
        .ok()
        .map(|(cp, _root)| cp)
}

pub fn inspect(a: DirArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let reader = Reader::open(&a.dir)?;
    let segs = reader.segments().to_vec();
    let mut rows = Vec::new();
    let handle = TrailDir::open(&a.dir, false).map_err(|error| Error::Io {
        path: a.dir.clone(),
        error,
    })?;
    for (i, (first, name)) in segs.iter().enumerate() {
        let size = handle.len_of(name).unwrap_or(0);
        let footer = footer_of(&handle, name);
        let last = match &footer {
            Some(f) => Some(f.last_seq),
            None => segs.get(i + 1).map(|(next, _)| next - 1),
        };
        rows.push(json!({
            "file": name,
            "bytes": size,
            "first_seq": first,
            "last_seq": last,
            "sealed": footer.is_some(),
            "records": footer.as_ref().map(|f| f.count),
            "first_time": footer.as_ref().map(|f| evident_native::jsonl::rfc3339(f.first_ts)),
            "last_time": footer.as_ref().map(|f| evident_native::jsonl::rfc3339(f.last_ts)),
        }));
    }
    let cp = head_checkpoint(&handle);
    // Nothing is opened for writing: a shared probe of the directory's flock, and LOCK read.
    let native_active = evident_native::lease::native_writer_active(&a.dir)?;
    let lease = evident_native::lease::lease_state(&a.dir)?;
    let writer_active = native_active || lease.as_ref().is_some_and(|l| l.live);
    let lease_text = match (&lease, native_active) {
        (Some(l), _) => l.text.clone(),
        (None, true) => "no LOCK file, but a native writer holds the directory".to_string(),
        (None, false) => "none".to_string(),
    };
    let mut tail_state = "unknown".to_string();
    if !writer_active {
        tail_state = match verify_dir(&a.dir, Vec::new(), |_, _| {}) {
            Ok(r) => format!("intact, head seq {}", r.head.seq),
            Err(e) if e.is_corruption() || matches!(e, evident_core::Error::TornTail { .. }) => {
                format!("NOT INTACT: {e}")
            }
            // An IO error says nothing about the records: not "NOT INTACT".
            Err(e) => format!("unknown: could not read the trail ({e})"),
        };
    }
    if a.json {
        print_json(&json!({
            "dir": a.dir,
            "segments": rows,
            "checkpoint": cp.map(|c| json!({"log_id": c.log_id.to_hex(), "seq": c.seq, "hash": c.hash.to_hex()})),
            "writer_active": writer_active,
            "lease": lease_text,
            "state": tail_state,
        }));
    } else {
        println!(
            "{:<28} {:>12} {:>12} {:>12} {:>7}",
            "segment", "bytes", "first seq", "last seq", "sealed"
        );
        for r in &rows {
            println!(
                "{:<28} {:>12} {:>12} {:>12} {:>7}",
                r["file"].as_str().unwrap_or(""),
                r["bytes"].as_u64().unwrap_or(0),
                r["first_seq"].as_u64().unwrap_or(0),
                r["last_seq"]
                    .as_u64()
                    .map_or("(active)".to_string(), |v| v.to_string()),
                if r["sealed"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                }
            );
        }
        match cp {
            Some(c) => println!("head.checkpoint: seq {} hash {}", c.seq, c.hash),
            None => println!("head.checkpoint: none"),
        }
        println!("writer: {}", if writer_active { "active" } else { "none" });
        println!("lease: {lease_text}");
        println!("state: {tail_state}");
    }
    Ok(Outcome::Ok)
}
