//! `evident append DIR`: one record per stdin line, group-committed; each acknowledged seq is
//! printed (and flushed) only once the fsync covering it has succeeded.

use crate::{Outcome, WriteOpts};
use evident_native::{AuditEvent, Error, Receipt, TailReport, Trail, TrailOptions};
use std::io::Write;
use std::path::PathBuf;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    let trail = Trail::open(
        &a.dir,
        TrailOptions {
            core: a.write.core(),
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
    let (tx, mut rx) = mpsc::unbounded_channel::<JoinHandle<Result<Receipt, Error>>>();
    let json = a.json;
    // Receipts are printed in input order, each as soon as it (and those before it) are durable.
    let printer = tokio::spawn(async move {
        let mut failures = 0u64;
        while let Some(h) = rx.recv().await {
            match h.await {
                Ok(Ok(r)) => {
                    let mut out = std::io::stdout().lock();
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
                Ok(Err(e)) => {
                    eprintln!("evident: append failed: {e}");
                    failures += 1;
                }
                Err(e) => {
                    eprintln!("evident: append task failed: {e}");
                    failures += 1;
                }
            }
        }
        failures
    });
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
        let payload = if a.raw {
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
        let t = trail.clone();
        let _ = tx.send(tokio::spawn(async move { t.append(payload).await }));
    }
    drop(tx);
    let failures = printer.await.unwrap_or(1);
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
