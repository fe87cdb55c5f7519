//! `evident query`, `evident stats` and `evident export`: records by agent, time and seq, counts,
//! and the SIEM export — all streaming, located through the segments' footers and indexes.

use crate::{existing_dir, print_json, Outcome};
use evident_core::query::{Found, QueryResult, QuerySpec};
use evident_core::AuditEvent;
use evident_native::jsonl::{parse_time, record_json, rfc3339};
use evident_native::prove::{InclusionOptions, Prover};
use evident_native::query::{query, stats};
use evident_native::Error;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

fn time_arg(s: &str) -> Result<u64, String> {
    parse_time(s).ok_or_else(|| {
        format!("`{s}`: expected RFC 3339 UTC (2024-05-01T12:00:00Z) or nanoseconds")
    })
}

/// Where records come from besides the trail directory: its archive.
#[derive(clap::Args, Default)]
pub struct Source {
    /// Also read the records retention removed, from this archive (s3://BUCKET/PREFIX): range
    /// GETs of the segments holding the answer; the bytes fetched are reported on stderr.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    archive: Option<String>,
    /// With --archive: keep the archived segments a query reads in this directory, so later
    /// queries read them locally (each checked against its manifest's SHA-256 on every use;
    /// one that fails is fetched again).
    #[arg(long, value_name = "DIR", requires = "archive")]
    archive_cache: Option<PathBuf>,
    /// The cache's size limit in bytes (least recently used segments are evicted first).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30, requires = "archive_cache")]
    archive_cache_bytes: u64,
    #[command(flatten)]
    store: crate::archive::StoreOpts,
    #[arg(skip)]
    fetched: std::cell::Cell<(u64, u64, usize)>,
    #[arg(skip)]
    cache_stats: std::cell::Cell<evident_native::archive::CacheStats>,
}

impl Source {
    /// Runs `spec` over the trail at `dir`, and its archive when one is given.
    fn query(&self, dir: &std::path::Path, spec: QuerySpec) -> Result<QueryResult, Error> {
        let Some(url) = &self.archive else {
            return query(dir, spec);
        };
        let target = self.store.target(url)?;
        let log_id = evident_native::archive::read_log_id(dir)?;
        // The commands run inside the CLI's single-threaded runtime, synchronously: the archive
        // query gets a runtime of its own on a thread of its own.
        let cache = self
            .archive_cache
            .as_ref()
            .map(|d| evident_native::archive::SegmentCache::new(d, self.archive_cache_bytes));
        let r = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| Error::Io {
                            path: dir.to_path_buf(),
                            error: e,
                        })?;
                    rt.block_on(evident_native::archive::query_with_archive_cached(
                        Some(dir),
                        &target,
                        &log_id,
                        spec,
                        cache.as_ref(),
                    ))
                    .map_err(|e| match e {
                        evident_native::archive::ArchiveError::Trail(t) => t,
                        e => Error::Io {
                            path: PathBuf::from(url),
                            error: std::io::Error::other(e.to_string()),
                        },
                    })
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(Error::Io {
                        path: PathBuf::from(url),
                        error: std::io::Error::other("the archive query stopped"),
                    })
                })
        })?;
        let (result, stats) = r;
        let (b, n, o) = self.fetched.get();
        self.fetched.set((
            b + stats.bytes,
            n + stats.requests,
            o.max(stats.per_object.len()),
        ));
        let mut c = self.cache_stats.get();
        c.hits += stats.cache.hits;
        c.misses += stats.cache.misses;
        c.refused += stats.cache.refused;
        c.evicted += stats.cache.evicted;
        self.cache_stats.set(c);
        Ok(result)
    }

    /// Says on stderr what was fetched from the archive.
    fn report(&self) {
        if self.archive.is_some() {
            let (bytes, requests, _) = self.fetched.get();
            eprintln!("archive: fetched {bytes} bytes in {requests} range GETs");
            if self.archive_cache.is_some() {
                let c = self.cache_stats.get();
                eprintln!(
                    "archive cache: {} segments served from the cache, {} fetched and cached, {} cached files refused (SHA-256 not the manifest's) and fetched again, {} evicted",
                    c.hits, c.misses, c.refused, c.evicted
                );
            }
        }
    }
}

/// Filters shared by query, stats and export.
#[derive(clap::Args, Clone)]
pub struct Filter {
    /// Only records at or after this time (RFC 3339 UTC, or nanoseconds since the epoch).
    #[arg(long, value_parser = time_arg)]
    since: Option<u64>,
    /// Only records before this time.
    #[arg(long, value_parser = time_arg)]
    until: Option<u64>,
    /// Only events of this agent (`gen_ai.agent.id`).
    #[arg(long)]
    agent: Option<String>,
    /// Only records with seq ≥ this.
    #[arg(long)]
    from_seq: Option<u64>,
    /// Only records with seq ≤ this.
    #[arg(long)]
    to_seq: Option<u64>,
}

impl Filter {
    fn spec(&self) -> QuerySpec {
        QuerySpec {
            from_seq: self.from_seq,
            to_seq: self.to_seq,
            since: self.since,
            until: self.until,
            agent: self.agent.clone(),
            limit: None,
            newest: false,
            resume_at: None,
        }
    }
}

#[derive(clap::Args)]
pub struct QueryArgs {
    /// The trail directory.
    dir: PathBuf,
    #[command(flatten)]
    filter: Filter,
    /// At most this many records.
    #[arg(long, short = 'n')]
    limit: Option<usize>,
    /// The most recent matching records (with --limit: the last N) instead of the first.
    #[arg(long)]
    newest: bool,
    /// Only say whether any record matches (exit 0 if so, 1 if none).
    #[arg(long)]
    exists: bool,
    /// Print each record with its proofs: its chain hash, the previous hash when known, the
    /// head checkpoint the records chain to (`evident verify --checkpoint` proves the chain),
    /// and an inclusion bundle against the trail's current tree checkpoint (`bundle`, the text
    /// `evident prove` writes; `evident check-proof` checks it offline).
    #[arg(long)]
    proof: bool,
    #[command(flatten)]
    source: Source,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// The trail directory.
    dir: PathBuf,
    #[command(flatten)]
    filter: Filter,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The trail directory.
    dir: PathBuf,
    /// `jsonl`: one JSON object per record (seq, ts, time, hash, event or payload);
    /// `ocsf`: OCSF API Activity (class 6003) objects, one per line.
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "ocsf"])]
    format: String,
    #[command(flatten)]
    filter: Filter,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    source: Source,
}

fn found_json(f: &Found, proof: bool) -> Value {
    let mut v = record_json(f.seq, f.ts, &f.hash, &f.payload);
    if proof {
        v["prev_hash"] = json!(f.prev_hash.map(|h| h.to_hex()));
    }
    v
}

/// Records per page when a query without `-n` streams its results.
const QUERY_PAGE: usize = 4096;

pub fn query_cmd(a: QueryArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let mut spec = a.filter.spec();
    spec.limit = if a.exists { Some(1) } else { a.limit };
    spec.newest = a.newest;
    if a.exists {
        let r = a.source.query(&a.dir, spec)?;
        a.source.report();
        println!("{}", !r.records.is_empty());
        return if r.records.is_empty() {
            Err(Error::Io {
                path: a.dir,
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "no matching record"),
            })
        } else {
            Ok(Outcome::Ok)
        };
    }
    // Without `-n` every match is printed: stream it in pages (each continuing where the last
    // stopped), so memory holds one page, not every result. `--newest` without `-n` selects
    // every match too, and they print oldest first either way.
    let streaming = spec.limit.is_none();
    if streaming {
        spec.newest = false;
        spec.limit = Some(QUERY_PAGE);
    }
    // The tree checkpoint every bundle is made against: the head when the query starts (a
    // record appended later is not in it, and says so).
    let prover = if a.proof {
        Some(Prover::open(&a.dir).map_err(|e| Error::Io {
            path: a.dir.clone(),
            error: std::io::Error::other(e.to_string()),
        })?)
    } else {
        None
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut prev_hash = None;
    let head = loop {
        let r = a.source.query(&a.dir, spec.clone())?;
        for f in &r.records {
            let mut v = found_json(f, a.proof);
            if a.proof && f.prev_hash.is_none() && f.seq > 1 {
                // The first record of a continued page: its predecessor ended the last page.
                v["prev_hash"] = json!(prev_hash.map(|h: evident_core::Hash| h.to_hex()));
            }
            if let Some(p) = &prover {
                match p.prove(f.seq, InclusionOptions::default()) {
                    Ok(b) => v["bundle"] = json!(b.text),
                    Err(e) => {
                        v["bundle"] = Value::Null;
                        v["bundle_error"] = json!(e.to_string());
                    }
                }
            }
            if writeln!(out, "{v}").is_err() {
                return Ok(Outcome::Ok); // a closed pipe (`| head`) is not an error
            }
            prev_hash = Some(f.hash);
        }
        match r.records.last() {
            Some(last) if streaming && r.records.len() == QUERY_PAGE => {
                spec.from_seq = Some(last.seq + 1);
                // An agent query pages by seq: each page goes through the agent indexes again
                // (a resumed page would scan on from the resume point).
                spec.resume_at = r.resume.filter(|_| spec.agent.is_none());
            }
            _ => break r.head,
        }
    };
    if a.proof {
        if let Some(h) = head {
            let _ = writeln!(
                out,
                "{}",
                json!({
                    "head": {"log_id": h.log_id.to_hex(), "seq": h.seq, "hash": h.hash.to_hex()},
                    // The tree checkpoint every `bundle` above is against.
                    "checkpoint": prover.as_ref().map(|p| p.checkpoint_note()),
                })
            );
        }
    }
    let _ = out.flush();
    a.source.report();
    Ok(Outcome::Ok)
}

pub fn stats_cmd(a: StatsArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let s = stats(&a.dir, a.filter.spec())?;
    if a.json {
        print_json(&json!({
            "records": s.records,
            "raw": s.raw,
            "by_kind": s.by_kind,
            "by_agent": s.by_agent,
            "by_decision": s.by_decision,
            "from": s.time_range.map(|t| rfc3339(t.0)),
            "to": s.time_range.map(|t| rfc3339(t.1)),
        }));
        return Ok(Outcome::Ok);
    }
    println!("records: {} ({} not audit events)", s.records, s.raw);
    if let Some((a, b)) = s.time_range {
        println!("from {} to {}", rfc3339(a), rfc3339(b));
    }
    for (title, map) in [
        ("by kind", &s.by_kind),
        ("by decision", &s.by_decision),
        ("by agent", &s.by_agent),
    ] {
        if map.is_empty() {
            continue;
        }
        println!("{title}:");
        let mut rows: Vec<_> = map.iter().collect();
        rows.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
        for (k, n) in rows {
            println!("  {k:<32} {n:>12}");
        }
    }
    Ok(Outcome::Ok)
}

/// OCSF API Activity (class 6003): the agent is the actor, the tool or command the API operation.
fn ocsf(f: &Found) -> Value {
    let ev = AuditEvent::from_json(&f.payload).ok();
    let (operation, status_id, status) = match ev.as_ref().map(|e| &e.body) {
        Some(evident_core::EventBody::ToolCall {
            tool_name,
            decision,
            ..
        }) => {
            let denied = matches!(decision, evident_core::Decision::Deny);
            (
                tool_name.clone(),
                if denied { 2 } else { 1 },
                decision.as_str().to_string(),
            )
        }
        Some(evident_core::EventBody::ExecDenied { .. }) => ("exec".into(), 2, "deny".into()),
        Some(b) => (b.kind().to_string(), 1, "success".into()),
        None => ("record".into(), 0, "unknown".into()),
    };
    json!({
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": 99,
        "activity_name": "Other",
        "type_uid": 600399,
        "severity_id": 1,
        "status_id": status_id,
        "status": status,
        "time": f.ts / 1_000_000,
        "actor": {"user": {"uid": ev.as_ref().map(|e| e.agent_id.clone()), "type": "Agent"}},
        "api": {
            "operation": operation,
            "request": {"uid": ev.as_ref().map(|e| e.correlation_id.clone())},
        },
        "metadata": {
            "version": "1.3.0",
            "product": {"name": "evident", "vendor_name": "evident"},
            "uid": f.hash.to_hex(),
            "sequence": f.seq,
            "original_time": rfc3339(f.ts),
        },
        "unmapped": record_json(f.seq, f.ts, &f.hash, &f.payload),
    })
}

pub fn export(a: ExportArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    use std::io::IsTerminal;
    let segments = evident_native::Reader::open(&a.dir)?.segments().len() as u64;
    let pb = if a.quiet || segments < 4 || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{spinner} {pos} records {per_sec}")
                .expect("a valid template"),
        );
        pb
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // Pages of records: memory holds one page, not the trail. Each page continues the scan
    // where the last one stopped (`resume_at`), so the export reads the trail about once; a
    // page located by `from_seq` alone would rescan the unsealed last segment from its start.
    let mut spec = a.filter.spec();
    loop {
        let page = a.source.query(
            &a.dir,
            QuerySpec {
                limit: Some(8192),
                ..spec.clone()
            },
        )?;
        for f in &page.records {
            let line = if a.format == "ocsf" {
                ocsf(f)
            } else {
                found_json(f, false)
            };
            if writeln!(out, "{line}").is_err() {
                return Ok(Outcome::Ok); // a closed pipe (`| head`) is not an error
            }
        }
        pb.inc(page.records.len() as u64);
        match page.records.last() {
            Some(last) if page.records.len() == 8192 => {
                spec.from_seq = Some(last.seq + 1);
                spec.resume_at = page.resume;
            }
            _ => break,
        }
    }
    let _ = out.flush();
    pb.finish_and_clear();
    a.source.report();
    Ok(Outcome::Ok)
}
