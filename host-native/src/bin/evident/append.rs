//! `evident append DIR`: one record per stdin line, in input order, group-committed; each
//! acknowledged seq is printed (and flushed) only once the fsync covering it has succeeded.

use crate::{Outcome, WriteOpts};
use evident_native::{AuditEvent, Error, TailReport, Trail, TrailOptions};
use std::io::Write;
use std::path::PathBuf;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

/// Most lines handed to the trail at once.
const MAX_BATCH: usize = 8192;

#[derive(clap::Args)]
pub struct Args {
    /// The trail directory (created if missing).
    dir: PathBuf,
    /// Store each line as it is (bytes without the newline) instead of parsing it as JSON.
    #[arg(long)]
    raw: bool,
    /// Print `{"seq":…,"hash":…}` per record instead of the bare seq.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    write: WriteOpts,
}

/// The payload for one JSON line: an audit event in its canonical form, or any other JSON value
/// compacted.
fn json_payload(line: &str) -> Result<Vec<u8>, String> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| format!("not JSON ({e}); use --raw for plain lines"))?;
    match serde_json::from_value::<AuditEvent>(v.clone()) {
        Ok(ev) => Ok(ev.to_json()),
        Err(_) => Ok(serde_json::to_vec(&v).expect("a Value serializes")),
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
    // Records keep the order of the input lines. A reader task parses the lines; this task hands
    // whatever has arrived to the trail as one batch (contiguous seqs, in order), waits for the
    // fsync that covers it, prints the seqs, and repeats. One batch in flight is group commit:
    // the next batch gathers while the previous one is synced. (A task per line would let the
    // runtime reorder the appends.)
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(2 * MAX_BATCH);
    let raw = a.raw;
    let reader = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut line_no = 0u64;
        let mut bad = 0u64;
        loop {
            let line = match lines.next_line().await {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("evident: reading stdin after line {line_no}: {e}");
                    bad += 1;
                    break;
                }
            };
            line_no += 1;
            let payload = if raw {
                line.into_bytes()
            } else {
                match json_payload(&line) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("evident: stdin line {line_no}: {e}");
                        bad += 1;
                        continue;
                    }
                }
            };
            if payload.len() > max_payload {
                // Refused here, so that a batch fails only when the trail does.
                eprintln!(
                    "evident: stdin line {line_no}: payload of {} bytes exceeds the maximum of {max_payload}",
                    payload.len()
                );
                bad += 1;
                continue;
            }
            if tx.send(payload).await.is_err() {
                break;
            }
        }
        bad
    });
    let json = a.json;
    let mut failures = 0u64;
    let mut batch = Vec::new();
    while let Some(payload) = rx.recv().await {
        batch.push(payload);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        match trail.append_batch(std::mem::take(&mut batch)).await {
            Ok(receipts) => {
                let mut out = std::io::stdout().lock();
                for r in receipts {
                    let line = if json {
                        format!(
                            "{{\"seq\":{},\"ts\":{},\"hash\":\"{}\"}}",
                            r.seq, r.ts, r.hash
                        )
                    } else {
                        r.seq.to_string()
                    };
                    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                        failures += 1;
                    }
                }
            }
            Err(e) => {
                // Some of them may have been acknowledged; none is printed as durable.
                eprintln!("evident: append of {n} line(s) failed: {e}");
                failures += n;
            }
        }
    }
    let bad = reader.await.unwrap_or(1);
    trail.close().await?;
    if bad + failures > 0 {
        return Err(Error::Io {
            path: a.dir,
            error: std::io::Error::other(format!(
                "{bad} bad input line(s), {failures} failed append(s)"
            )),
        });
    }
    Ok(Outcome::Ok)
}
