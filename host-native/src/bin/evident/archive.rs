//! `evident archive DIR --to s3://…`, `evident archive ls s3://…`, and `evident verify s3://…`.

use crate::{print_json, Outcome};
use evident_native::archive::{self, ArchiveError, ArchiveTarget, StoreConfig};
use evident_native::{Checkpoint, Error};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;

/// How to reach the store (besides AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
/// AWS_ENDPOINT_URL in the environment).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StoreOpts {
    /// S3 endpoint URL for stores other than AWS (overrides AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Allow a plain-HTTP endpoint.
    #[arg(long)]
    pub allow_http: bool,
}

impl StoreOpts {
    /// The destination `url` reached with these options.
    pub fn target(&self, url: &str) -> Result<ArchiveTarget, Error> {
        ArchiveTarget::from_url(
            url,
            &StoreConfig {
                endpoint: self.endpoint.clone(),
                allow_http: self.allow_http,
                ..Default::default()
            },
        )
        .map_err(|e| op_error(url, e))
    }
}

/// Background archiving (and retention) while a command writes the trail.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BackgroundOpts {
    /// Archive sealed segments to s3://BUCKET/PREFIX in the background while appending (the
    /// appends never wait for the store; the lag is reported at exit).
    #[arg(long = "archive", value_name = "s3://BUCKET/PREFIX")]
    pub archive: Option<String>,
    /// Time between two archive rounds, in milliseconds.
    #[arg(
        long,
        default_value_t = 60_000,
        value_name = "MS",
        requires = "archive"
    )]
    pub archive_interval: u64,
    /// After each archive round, keep only the newest N sealed segments locally (at least 1),
    /// deleting older ones as `evident retain` does.
    #[arg(long, value_name = "N", requires = "archive")]
    pub keep_local: Option<usize>,
    #[command(flatten)]
    pub store: StoreOpts,
}

impl BackgroundOpts {
    /// The trail option, when `--archive` is given.
    pub fn background(&self) -> Result<Option<archive::BackgroundArchive>, Error> {
        let Some(url) = &self.archive else {
            return Ok(None);
        };
        let mut b = archive::BackgroundArchive::new(
            self.store.target(url)?,
            std::time::Duration::from_millis(self.archive_interval.max(1)),
        );
        b.keep_local = self.keep_local;
        Ok(Some(b))
    }
}

/// One line on stderr with the archive's lag from the trail's health.
pub fn print_lag(h: &evident_native::Health) {
    let Some(l) = &h.archive else { return };
    let error = l.last_error.as_ref().map_or(String::new(), |e| {
        format!("; last error ({} failed rounds): {e}", l.failed_rounds)
    });
    eprintln!(
        "evident: archive: records 1..={} archived, {} behind; {} sealed segments ({} bytes) not yet archived{error}",
        l.archived_seq, l.records_behind, l.pending_segments, l.pending_bytes
    );
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    sub: Option<ArchiveSub>,
    /// The trail directory.
    dir: Option<PathBuf>,
    /// The destination, s3://BUCKET/PREFIX (the log gets the folder PREFIX/LOG_ID, LOG_ID the log id in hex).
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    to: Option<String>,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    store: StoreOpts,
}

#[derive(clap::Subcommand)]
enum ArchiveSub {
    /// List the logs under s3://BUCKET/PREFIX with their archived range and last checkpoint.
    Ls(LsArgs),
}

#[derive(clap::Args)]
struct LsArgs {
    /// s3://BUCKET/PREFIX
    url: String,
    /// Machine-readable output (one JSON object per log).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreOpts,
}

/// An archive error as the CLI's error (exit 1), or a verdict of tampering (exit 3).
fn op_error(what: &str, e: ArchiveError) -> Error {
    Error::Io {
        path: PathBuf::from(what),
        error: std::io::Error::other(e.to_string()),
    }
}

fn finish(what: &str, e: ArchiveError) -> Result<Outcome, Error> {
    if e.is_corruption() {
        eprintln!("evident: {what}: {e}");
        Ok(Outcome::Corrupt)
    } else {
        Err(op_error(what, e))
    }
}

fn bar(quiet: bool) -> ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
        )
        .expect("a valid template"),
    );
    pb
}

pub async fn run(a: ArchiveArgs) -> Result<Outcome, Error> {
    if let Some(ArchiveSub::Ls(ls)) = a.sub {
        return list(ls).await;
    }
    let (Some(dir), Some(to)) = (a.dir, a.to) else {
        eprintln!("evident archive: give DIR --to s3://BUCKET/PREFIX, or `ls s3://BUCKET/PREFIX`");
        return Err(Error::Io {
            path: PathBuf::from("archive"),
            error: std::io::Error::new(std::io::ErrorKind::InvalidInput, "missing arguments"),
        });
    };
    crate::existing_dir(&dir)?;
    let target = a.store.target(&to)?;
    let pb = bar(a.quiet || a.json);
    let r = archive::archive_round(&dir, &target, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })
    .await;
    pb.finish_and_clear();
    let r = match r {
        Ok(r) => r,
        Err(e) => return finish(&to, e),
    };
    if a.json {
        print_json(&json!({
            "ok": true,
            "log_id": r.log_id.to_hex(),
            "segments": r.segments,
            "bytes": r.bytes,
            "already_there": r.already_there,
            "manifest": r.manifest,
            "head": {"seq": r.head.seq, "hash": r.head.hash.to_hex()},
        }));
    } else {
        match &r.manifest {
            Some(m) => println!(
                "archived {} segments ({} bytes) of log {} to {}; manifest {m}",
                r.segments,
                r.bytes,
                r.log_id,
                target.url()
            ),
            None => println!("nothing new to archive for log {}", r.log_id),
        }
        println!("archived head: seq {} hash {}", r.head.seq, r.head.hash);
    }
    Ok(Outcome::Ok)
}

async fn list(a: LsArgs) -> Result<Outcome, Error> {
    let target = a.store.target(&a.url)?;
    let logs = match archive::list_logs(&target).await {
        Ok(l) => l,
        Err(e) => return finish(&a.url, e),
    };
    let mut outcome = Outcome::Ok;
    for l in logs {
        match &l.history {
            Ok(h) => {
                if a.json {
                    print_json(&json!({
                        "log_id": l.log_id.to_hex(),
                        "manifests": h.manifests.len(),
                        "segments": h.segments.len(),
                        "first_seq": h.segments.first().map(|(_, e)| e.first_seq),
                        "last_seq": h.head.seq,
                        "checkpoint": h.head.to_text(),
                        "tree_checkpoint": h.tree_checkpoint,
                    }));
                } else {
                    println!(
                        "{}  seq 1..={}  {} segments  {} manifests  head {}",
                        l.log_id,
                        h.head.seq,
                        h.segments.len(),
                        h.manifests.len(),
                        h.head.hash
                    );
                }
            }
            Err(e) => {
                outcome = Outcome::Corrupt;
                if a.json {
                    print_json(&json!({"log_id": l.log_id.to_hex(), "error": e}));
                } else {
                    println!("{}  REFUSED: {e}", l.log_id);
                }
            }
        }
    }
    Ok(outcome)
}

/// `evident verify s3://BUCKET/PREFIX/<log id>`.
pub async fn verify_url(
    url: &str,
    checkpoints: Vec<Checkpoint>,
    json_out: bool,
    quiet: bool,
    store: &StoreOpts,
) -> Result<Outcome, Error> {
    let trimmed = url.trim_end_matches('/');
    let (parent, id) = trimmed.rsplit_once('/').unwrap_or(("", ""));
    let Some(log_id) = evident_native::core::LogId::from_hex(id) else {
        return Err(Error::Io {
            path: PathBuf::from(url),
            error: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "expected s3://BUCKET/PREFIX/<log id: 32 hex digits>",
            ),
        });
    };
    let target = store.target(if parent == "s3:/" { trimmed } else { parent })?;
    let pb = bar(quiet || json_out);
    let r = archive::verify_bucket(&target, &log_id, checkpoints, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })
    .await;
    pb.finish_and_clear();
    let r = match r {
        Ok(r) => r,
        Err(e) => return finish(url, e),
    };
    let ok = r.problems.is_empty();
    if json_out {
        print_json(&json!({
            "ok": ok,
            "log_id": log_id.to_hex(),
            "manifests": r.manifests,
            "segments": r.segments,
            "records": r.records,
            "bytes": r.bytes,
            "head": r.head.map(|h| json!({"seq": h.seq, "hash": h.hash.to_hex()})),
            "checkpoints_verified": r.checkpoints_verified.iter().map(|c| c.seq).collect::<Vec<_>>(),
            "tree_checkpoint": r.tree.as_ref().map(|t| t.body()),
            "problems": r.problems,
            "extra": r.extra,
        }));
    } else {
        if ok {
            println!(
                "intact: {} records in {} segments ({} bytes, {} manifests), log {log_id} in {}",
                r.records,
                r.segments,
                r.bytes,
                r.manifests,
                target.url()
            );
            if let Some(h) = r.head {
                println!("head: seq {} hash {}", h.seq, h.hash);
            }
            for cp in &r.checkpoints_verified {
                println!("checkpoint proven: seq {} hash {}", cp.seq, cp.hash);
            }
            if let Some(t) = &r.tree {
                println!(
                    "tree checkpoint of the last manifest proven: {} size {} root {}",
                    t.origin,
                    t.size,
                    evident_core::tree::base64::encode(&t.root.0)
                );
            }
        }
        for p in &r.problems {
            println!("{p}");
        }
        for x in &r.extra {
            println!("extra: {x} is listed by no manifest (not trusted, not read)");
        }
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Corrupt })
}

#[derive(clap::Args)]
pub struct RetainArgs {
    /// The trail directory (no writer may hold it: retention takes the writer lease).
    dir: PathBuf,
    /// Sealed segments to keep locally besides the active one (at least 1).
    #[arg(long, value_name = "N")]
    keep_local: usize,
    /// Where the trail is archived: s3://BUCKET/PREFIX (as given to `evident archive --to`).
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    archive: String,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreOpts,
}

/// `evident retain DIR --keep-local N --archive s3://…`.
pub async fn retain(a: RetainArgs) -> Result<Outcome, Error> {
    crate::existing_dir(&a.dir)?;
    let target = a.store.target(&a.archive)?;
    let r = match archive::retain(&a.dir, &target, a.keep_local).await {
        Ok(r) => r,
        Err(ArchiveError::Trail(e)) => return Err(e),
        Err(e) => return finish(&a.archive, e),
    };
    if a.json {
        print_json(&json!({
            "ok": true,
            "deleted": r.deleted,
            "finished_interrupted": r.finished,
            "retained": r.retained.map(|c| json!({"seq": c.seq, "hash": c.hash.to_hex()})),
            "kept_sealed": r.kept_sealed,
        }));
    } else {
        for n in &r.finished {
            println!("removed {n} (left by an interrupted retention)");
        }
        match r.retained {
            Some(c) => println!(
                "deleted {} local segments archived in {}; records 1..={} now only in the archive (retained.checkpoint seq {} hash {})",
                r.deleted.len(),
                target.url(),
                c.seq,
                c.seq,
                c.hash
            ),
            None => println!("nothing to delete ({} sealed segments kept)", r.kept_sealed),
        }
    }
    Ok(Outcome::Ok)
}

/// `evident verify DIR --archive s3://…`: the whole history of a retained trail.
pub async fn verify_history(
    dir: &std::path::Path,
    url: &str,
    checkpoints: Vec<Checkpoint>,
    json_out: bool,
    store: &StoreOpts,
) -> Result<Outcome, Error> {
    crate::existing_dir(dir)?;
    let target = store.target(url)?;
    let r = match archive::verify_with_archive(dir, &target, checkpoints).await {
        Ok(r) => r,
        Err(ArchiveError::Trail(e)) => return Err(e),
        Err(e) => return finish(url, e),
    };
    let ok = r.ok();
    let local_first = r.local.as_ref().map(|l| l.first_seq).ok();
    let head = r.local.as_ref().map(|l| l.head).ok();
    let mut problems: Vec<String> = r.archive.problems.clone();
    if let Err(e) = &r.local {
        problems.push(format!("local trail: {e}"));
    }
    problems.extend(r.join_problems.iter().cloned());
    let proven: Vec<u64> = r
        .archive
        .checkpoints_verified
        .iter()
        .chain(r.local.iter().flat_map(|l| l.checkpoints_verified.iter()))
        .map(|c| c.seq)
        .collect();
    if json_out {
        print_json(&json!({
            "ok": ok,
            "archive_head": r.archive.head.map(|h| h.seq),
            "local_first_seq": local_first,
            "head": head.map(|h| json!({"seq": h.seq, "hash": h.hash.to_hex()})),
            "checkpoints_verified": proven,
            "problems": problems,
        }));
    } else {
        if let (true, Some(h)) = (ok, head) {
            println!(
                "intact: records 1..={} (1..={} from {}, {}..={} local), log {}",
                h.seq,
                r.archive.head.map_or(0, |a| a.seq),
                target.url(),
                local_first.unwrap_or(1),
                h.seq,
                h.log_id
            );
            println!("head: seq {} hash {}", h.seq, h.hash);
            for s in &proven {
                println!("checkpoint proven: seq {s}");
            }
        }
        for p in &problems {
            println!("NOT INTACT: {p}");
        }
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Corrupt })
}
