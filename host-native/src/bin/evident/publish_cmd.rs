//! `evident publish DIR --policy FILE --key KEYFILE`.

use crate::{existing_dir, print_json, Outcome};
use clap::Args;
use evident_core::note::{KeyKind, Policy};
use evident_native::keys::load_key_file;
use evident_native::publish::{default_record, publish, root_b64, WitnessOutcome};
use evident_native::Error;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `evident publish`.
#[derive(Args)]
pub struct PublishArgs {
    /// The trail directory.
    dir: PathBuf,
    /// The tlog-policy file naming the witnesses (with URLs) and the quorum.
    #[arg(long)]
    policy: PathBuf,
    /// The log's private key file (its name must be the trail's origin).
    #[arg(long)]
    key: PathBuf,
    /// The record of what the key last signed (default: KEYFILE.signed, kept with the key).
    #[arg(long)]
    record: Option<PathBuf>,
    /// How long to wait for each witness, in milliseconds.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    timeout: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn label(what: &str, error: std::io::Error) -> Error {
    Error::Io {
        path: PathBuf::from(what),
        error,
    }
}

/// Runs `evident publish`: exit 0 when the quorum is met (and `checkpoint.note` written), 1
/// when it is not, 3 when a witness shows evidence of a fork or the log refuses to sign one.
pub async fn run(a: PublishArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let key = load_key_file(&a.key, KeyKind::Ed25519).map_err(|e| label("publish", e))?;
    let text = std::fs::read_to_string(&a.policy).map_err(|error| Error::Io {
        path: a.policy.clone(),
        error,
    })?;
    let policy = Policy::parse(&text).map_err(|e| Error::Io {
        path: a.policy.clone(),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    })?;
    let record = a.record.clone().unwrap_or_else(|| default_record(&a.key));
    let p = match publish(
        &a.dir,
        &key,
        &record,
        &policy,
        Duration::from_millis(a.timeout),
    )
    .await
    {
        Ok(p) => p,
        Err(e) if e.to_string().contains("refusing to sign") => {
            eprintln!("evident: publish: {e}");
            return Ok(Outcome::Corrupt);
        }
        Err(e) => return Err(label("publish", e)),
    };
    for r in &p.reports {
        if let WitnessOutcome::Fork(why) = &r.outcome {
            eprintln!(
                "evident: FORK EVIDENCE from witness {} ({}): {why}",
                r.name, r.url
            );
        }
    }
    if a.json {
        let reports: Vec<_> = p
            .reports
            .iter()
            .map(|r| {
                let (status, detail) = match &r.outcome {
                    WitnessOutcome::Cosigned { timestamp } => ("cosigned", json!(timestamp)),
                    WitnessOutcome::Refused { status, reason } => {
                        ("refused", json!({"status": status, "reason": reason}))
                    }
                    WitnessOutcome::Failed(e) => ("failed", json!(e)),
                    WitnessOutcome::Fork(e) => ("fork", json!(e)),
                };
                json!({"witness": r.name, "url": r.url, "outcome": status, "detail": detail})
            })
            .collect();
        print_json(&json!({
            "origin": p.checkpoint.origin,
            "size": p.checkpoint.size,
            "root": root_b64(&p.checkpoint.root),
            "quorum_met": p.quorum_met,
            "cosigned": p.cosigned,
            "witnesses": reports,
        }));
    } else {
        println!(
            "{} size {} root {}",
            p.checkpoint.origin,
            p.checkpoint.size,
            root_b64(&p.checkpoint.root)
        );
        for r in &p.reports {
            let what = match &r.outcome {
                WitnessOutcome::Cosigned { timestamp } => format!("cosigned at {timestamp}"),
                WitnessOutcome::Refused { status, reason } => format!("refused {status}: {reason}"),
                WitnessOutcome::Failed(e) => format!("failed: {e}"),
                WitnessOutcome::Fork(e) => format!("FORK EVIDENCE: {e}"),
            };
            println!("  witness {}: {what}", r.name);
        }
        if p.quorum_met {
            println!(
                "quorum met: wrote {}",
                a.dir.join("checkpoint.note").display()
            );
        }
    }
    if p.fork_evidence() {
        return Ok(Outcome::Corrupt);
    }
    if !p.quorum_met {
        eprintln!(
            "evident: publish: witness quorum not met ({} cosigned); checkpoint.note not written",
            if p.cosigned.is_empty() {
                "none".to_string()
            } else {
                p.cosigned.join(", ")
            }
        );
        return Err(label(
            "publish",
            std::io::Error::other("witness quorum not met"),
        ));
    }
    Ok(Outcome::Ok)
}
