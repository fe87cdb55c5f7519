//! `evident append DIR`: one record per stdin line, in input order, group-committed; each
//! acknowledged seq is printed (and flushed) only once the fsync covering it has succeeded.
//!
//! In order or stop: a line is appended only after every line before it was, so seq N+k always
//! holds the k-th line after the one seq N holds. A failed append is retried, same lines in the
//! same order, with backoff for up to `--retry-for`; then the command stops and names the first
//! input line that was not appended (nothing after it was).

use crate::append_input::{read_lines, BadLine, Input};
use crate::{Outcome, WriteOpts};
use evident_native::{Error, Receipt, TailReport, Trail, TrailOptions};
use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Most lines handed to the trail at once.
const MAX_BATCH: usize = 8192;
/// First pause before retrying a failed append; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between two attempts (longer than the trail's own backoff of 1 s, so every
/// retry reaches the disk).
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(clap::Args)]
pub struct Args {
    /// The trail directory (created if missing).
    dir: PathBuf,
    /// Store each line's bytes as they are (without the `\n`; a `\r` before it is kept, and the
    /// bytes need not be UTF-8) instead of parsing it as JSON.
    #[arg(long)]
    raw: bool,
    /// Print `{"line":…,"seq":…,"ts":…,"hash":…}` per record instead of the bare seq.
    #[arg(long)]
    json: bool,
    /// A line that cannot be stored as given (not JSON, not UTF-8, over the payload limit):
    /// `stop` the stream at it, `skip` it (counted and reported at exit), or store it `raw`.
    #[arg(long, value_enum, default_value_t = BadLine::Stop)]
    on_bad_line: BadLine,
    /// How long to keep retrying a failed append (disk full, failed fsync...) before stopping:
    /// `30s`, `500ms`, `5m`, `0` (no retry).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    retry_for: Duration,
    #[command(flatten)]
    write: WriteOpts,
    #[command(flatten)]
    archive: crate::archive::BackgroundOpts,
}

/// Parses `N`, `Nms`, `Ns`, `Nm` or `Nh` (a bare number is seconds).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a duration such as 30s, 500ms, 5m"))?;
    let ms = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("`{s}`: expected a duration such as 30s, 500ms, 5m"))
}

/// Prints acknowledgements; after stdout fails, counts what it could not print.
struct Acks {
    json: bool,
    /// The first line whose acknowledgement could not be printed, and why.
    broken: Option<(u64, std::io::Error)>,
    printed: u64,
}

impl Acks {
    fn print(&mut self, line: u64, r: &Receipt) {
        if self.broken.is_some() {
            return;
        }
        let text = if self.json {
            format!(
                "{{\"line\":{line},\"seq\":{},\"ts\":{},\"hash\":\"{}\"}}",
                r.seq, r.ts, r.hash
            )
        } else {
            r.seq.to_string()
        };
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}").and_then(|_| out.flush()) {
            Ok(()) => self.printed += 1,
            Err(e) => self.broken = Some((line, e)),
        }
    }
}

/// What was appended, for the report at exit.
#[derive(Default)]
struct Done {
    records: u64,
    first: Option<(u64, u64)>,
    last: Option<(u64, u64)>,
}

impl Done {
    fn add(&mut self, line: u64, seq: u64) {
        self.records += 1;
        self.first.get_or_insert((line, seq));
        self.last = Some((line, seq));
    }

    fn describe(&self) -> String {
        match (self.first, self.last) {
            (Some((l1, s1)), Some((l2, s2))) => format!(
                "{} record(s) appended durably: input lines {l1}..={l2} as seqs {s1}..={s2}",
                self.records
            ),
            _ => "no record appended".to_string(),
        }
    }
}

pub async fn run(a: Args) -> Result<Outcome, Error> {
    let core = a.write.core();
    let max_payload = core.max_payload as usize;
    let trail = Trail::open(
        &a.dir,
        TrailOptions {
            core,
            lease: a.write.lease(),
            archive: a.archive.background()?,
            signer: a.write.signer()?,
            ..Default::default()
        },
    )
    .await?;
    if let TailReport::Truncated {
        file,
        offset,
        bytes,
        first_lost_seq,
        ..
    } = &trail.open_report().tail
    {
        eprintln!("evident: recovery cut a torn tail of {bytes} bytes at {file} offset {offset} (seq {first_lost_seq} was never acknowledged)");
    }
    // A thread reads and checks the lines (bounded, in order); this task hands whatever has
    // arrived to the trail as one in-order batch, waits for the fsync that covers it, prints the
    // seqs, and repeats. One batch in flight is group commit: the next gathers meanwhile.
    let (tx, mut rx) = mpsc::channel::<Input>(2 * MAX_BATCH);
    let (raw, bad) = (a.raw, a.on_bad_line);
    std::thread::Builder::new()
        .name("evident-stdin".into())
        .spawn(move || read_lines(std::io::stdin().lock(), raw, bad, max_payload, tx))
        .map_err(|error| Error::Io {
            path: "stdin".into(),
            error: std::io::Error::other(format!("cannot start the reading thread: {error}")),
        })?;

    let mut acks = Acks {
        json: a.json,
        broken: None,
        printed: 0,
    };
    let mut done = Done::default();
    let mut skipped: Vec<u64> = Vec::new();
    let mut pending: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
    // Why the stream ended: `None` at the end of input.
    let mut stopped: Option<(u64, String)> = None;
    let mut input_done = false;
    let mut streak: Option<(Instant, Duration)> = None;
    let mut reported_checkpoint: Option<String> = None;
    loop {
        // Gather: wait for one item when nothing is pending, then take what has arrived.
        while !input_done && pending.len() < MAX_BATCH {
            let item = if pending.is_empty() {
                rx.recv().await
            } else {
                match rx.try_recv() {
                    Ok(item) => Some(item),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            match item {
                Some(Input::Line(line, payload)) => pending.push_back((line, payload)),
                Some(Input::Skipped(line, why)) => {
                    eprintln!("evident: input line {line} skipped: {why}");
                    skipped.push(line);
                }
                Some(Input::Stop(line, why)) => {
                    stopped = Some((line, why));
                    input_done = true;
                }
                Some(Input::End) | None => input_done = true,
            }
        }
        if pending.is_empty() {
            break;
        }
        let payloads: Vec<Vec<u8>> = pending.iter().map(|(_, p)| p.clone()).collect();
        let result = trail.append_in_order(payloads).await?;
        // A `head.checkpoint` rewrite (after a rotation) that failed: the records are fine,
        // the checkpoint on disk is stale. Said once per distinct failure.
        if let Some(e) = trail.checkpoint_error() {
            let text = e.to_string();
            if reported_checkpoint.as_deref() != Some(text.as_str()) {
                eprintln!(
                    "evident: head.checkpoint not updated: {text} (trail {})",
                    trail.health().state.as_str()
                );
                reported_checkpoint = Some(text);
            }
        }
        for receipt in &result.receipts {
            let (line, _) = pending.pop_front().expect("one pending line per receipt");
            done.add(line, receipt.seq);
            acks.print(line, receipt);
        }
        let Some(error) = result.error else {
            streak = None;
            continue;
        };
        let line = pending.front().map_or(0, |(l, _)| *l);
        let h = trail.health();
        eprintln!(
            "evident: input line {line} not appended: {error} (trail {}, {} consecutive failure(s))",
            h.state.as_str(),
            h.consecutive_failures
        );
        let (since, backoff) = *streak.get_or_insert((Instant::now(), FIRST_BACKOFF));
        let left = a.retry_for.saturating_sub(since.elapsed());
        if left.is_zero() || matches!(error, Error::Closed) {
            // Everything from this line on is not appended; lines read after it are dropped.
            let why = format!("{error} (retried for {:.1?})", since.elapsed());
            stopped = Some((line, why));
            pending.clear();
            break;
        }
        let wait = backoff.min(left);
        eprintln!(
            "evident: retrying from input line {line} in {wait:.1?} ({left:.1?} of --retry-for left)"
        );
        tokio::time::sleep(wait).await;
        streak = Some((since, (backoff * 2).min(MAX_BACKOFF)));
    }
    drop(rx); // the reading thread stops at its next line
    crate::archive::print_lag(&trail.health());
    let closed = trail.close().await;
    report(&a.dir, &done, &acks, &skipped, stopped, closed)
}

/// Says what was made durable and what was not, and picks the outcome.
fn report(
    dir: &std::path::Path,
    done: &Done,
    acks: &Acks,
    skipped: &[u64],
    stopped: Option<(u64, String)>,
    closed: Result<evident_native::Checkpoint, Error>,
) -> Result<Outcome, Error> {
    let mut problems = Vec::new();
    if !skipped.is_empty() {
        let shown: Vec<String> = skipped.iter().take(20).map(u64::to_string).collect();
        let more = if skipped.len() > 20 { ", ..." } else { "" };
        eprintln!(
            "evident: {} input line(s) skipped (--on-bad-line skip): {}{more}",
            skipped.len(),
            shown.join(", ")
        );
    }
    if let Some((line, why)) = &stopped {
        problems.push(format!(
            "stopped at input line {line}, which was not appended ({why}); nothing after it was appended; {}",
            done.describe()
        ));
    }
    if let Some((line, e)) = &acks.broken {
        problems.push(format!(
            "acknowledgements from input line {line} on could not be printed (stdout: {e}); {} (printed: {}): do not resend them",
            done.describe(),
            acks.printed
        ));
    }
    if let Err(e) = closed {
        problems.push(format!("closing the trail: {e}"));
    }
    if problems.is_empty() {
        return Ok(Outcome::Ok);
    }
    Err(Error::Io {
        path: dir.to_path_buf(),
        error: std::io::Error::other(problems.join("; ")),
    })
}
