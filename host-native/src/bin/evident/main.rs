//! `evident`: the operator's command line for evident trails.
//!
//! Exit codes: 0 success; 1 an operational error (IO, bad input, a trail locked by a writer);
//! 2 bad usage; 3 corruption or tampering found (or a checkpoint the trail no longer proves);
//! 4 a torn tail found (an interrupted write: `evident recover` cuts it, losing nothing that was
//! acknowledged).

mod append;
mod append_input;
mod archive;
mod demo;
mod fix;
mod prove;
mod publish_cmd;
mod query;
mod read;
mod witness_cmd;

use clap::{Parser, Subcommand};
use evident_native::{Durability, Error};
use std::process::ExitCode;

/// A tamper-evident, crash-safe audit trail for AI agents.
#[derive(Parser)]
#[command(name = "evident", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by the commands that write.
#[derive(clap::Args, Clone, Debug)]
pub struct WriteOpts {
    /// Rotate to a new segment at this size (bytes).
    #[arg(long, default_value_t = 64 << 20)]
    pub segment_bytes: u64,
    /// When appends are acknowledged: `always` (after the covering fsync, group-committed),
    /// `os` (once written; fsync at rotation and close), or `interval:MS` (once written; fsync
    /// at most MS milliseconds later).
    #[arg(long, default_value = "always", value_parser = parse_durability)]
    pub durability: Durability,
    /// The writer lease in LOCK, in milliseconds (renewed every fifth of it): how long a
    /// component writer waits after this process dies before it takes the trail over (a native
    /// writer takes over at once). 50 to 86400000.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub lease: u64,
    /// The trail's origin, the first line of its C2SP checkpoints: set when this command
    /// creates the trail (default `evident/<log id hex>`) and never changed; naming another
    /// origin than an existing trail's is refused.
    #[arg(long)]
    pub origin: Option<String>,
    /// Sign the trail's checkpoints with this log key (from `evident keygen --origin`): keeps
    /// checkpoint.note signed (at most every second while records arrive, and at close),
    /// recording what was signed in KEYFILE.signed; the trail's origin is the key's name.
    #[arg(long, value_name = "KEYFILE")]
    pub key: Option<std::path::PathBuf>,
}

impl WriteOpts {
    /// The lease as the adapter's option.
    pub fn lease(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_millis(self.lease))
    }

    /// The signer of `--key`, if given.
    pub fn signer(&self) -> Result<Option<evident_native::signer::Signer>, Error> {
        signer_of(self.key.as_deref())
    }

    pub fn core(&self) -> evident_native::Options {
        evident_native::Options {
            segment_bytes: self.segment_bytes,
            durability: self.durability,
            origin: self.origin.clone(),
            ..Default::default()
        }
    }
}

/// The signer of a `--key KEYFILE` argument.
pub fn signer_of(
    key: Option<&std::path::Path>,
) -> Result<Option<evident_native::signer::Signer>, Error> {
    key.map(|k| {
        evident_native::signer::Signer::from_key_file(k).map_err(|error| Error::Io {
            path: k.to_path_buf(),
            error,
        })
    })
    .transpose()
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    match s {
        "always" => Ok(Durability::Always),
        "os" => Ok(Durability::Os),
        _ => match s
            .strip_prefix("interval:")
            .and_then(|ms| ms.parse::<u64>().ok())
        {
            Some(ms) => Ok(Durability::Interval {
                nanos: ms * 1_000_000,
            }),
            None => Err(format!(
                "`{s}`: expected always, os or interval:MILLISECONDS"
            )),
        },
    }
}

#[derive(Subcommand)]
enum Command {
    /// Simulated agents append a realistic mix of exec, tool-call and query events concurrently,
    /// then the trail is verified and its head, health and throughput printed.
    Demo(demo::Args),
    /// Append one record per stdin line; print each acknowledged seq once it is durable.
    Append(append::Args),
    /// Verify framing, chain, segment links and checkpoints; exit 0 only when intact.
    Verify(read::VerifyArgs),
    /// Print the trail's verified head as a checkpoint (for `verify --checkpoint`).
    Head(read::DirArgs),
    /// Print the trail's C2SP checkpoint note: origin, tree size, base64 tree root.
    Checkpoint(prove::CheckpointArgs),
    /// Write an inclusion bundle for one record (`--seq`), or a consistency proof from an
    /// older checkpoint (`--consistency`); every proof is checked before it is written.
    Prove(prove::ProveArgs),
    /// Check an inclusion bundle or consistency proof offline (no trail needed); print the
    /// record; exit 0, or 3 naming what fails.
    CheckProof(prove::CheckProofArgs),
    /// Print records as one JSON object per line (jsonl, or OCSF API Activity), filtered by
    /// time, agent and seq.
    Export(query::ExportArgs),
    /// Records of an agent in a time range, the N most recent, or whether any exist.
    Query(query::QueryArgs),
    /// Counts by kind, agent and decision.
    Stats(query::StatsArgs),
    /// Print the last records, and with -f follow new ones.
    Tail(read::TailArgs),
    /// Segments, sizes, seq ranges, the checkpoint and the trail's state.
    Inspect(read::DirArgs),
    /// Open the trail to run crash recovery (cutting a torn tail only), then close it.
    Recover(fix::RecoverArgs),
    /// Cut a damaged trail before its first damage, after copying the damaged files aside.
    Repair(fix::RepairArgs),
    /// Show the writer lease in LOCK and remove it: refused while a native writer holds the
    /// directory; an unexpired component lease needs --force (only when you know that writer
    /// is gone).
    BreakLock(fix::BreakLockArgs),
    /// Upload the sealed segments not yet archived to s3://BUCKET/PREFIX, then the round's
    /// manifest; or `archive ls s3://BUCKET/PREFIX` to list the archived logs.
    Archive(archive::ArchiveArgs),
    /// Delete local sealed segments that are archived and were read back and verified from the
    /// bucket, keeping the newest N (retained.checkpoint vouches for the oldest kept one).
    Retain(archive::RetainArgs),
    /// Generate a log signing key (--origin) or a witness key (--witness): writes the private
    /// key file with mode 0600 and prints the verifier key.
    Keygen(witness_cmd::KeygenArgs),
    /// Sign the trail's head (never a fork of what the key signed before), collect the policy's
    /// witness cosignatures, and write checkpoint.note when the quorum is met.
    Publish(publish_cmd::PublishArgs),
    /// Run a C2SP tlog-witness: cosign checkpoints consistent with what it cosigned before.
    #[command(subcommand)]
    Witness(witness_cmd::WitnessCommand),
}

/// How a command ended, for the exit code.
pub enum Outcome {
    Ok,
    /// An operational failure already reported on stderr (exit 1).
    Failed,
    Corrupt,
    Torn,
}

/// The exit code for an error.
pub fn exit_for(e: &Error) -> u8 {
    match e.as_trail() {
        Some(evident_core::Error::TornTail { .. }) => 4,
        Some(t) if t.is_corruption() => 3,
        _ => 1,
    }
}

fn main() -> ExitCode {
    // `evident export … | head` closes our stdout early: that ends the command quietly, as it
    // would a C program killed by SIGPIPE, instead of a panic message from `println!`.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    // One thread runs every command: the trail's own IO happens on its driver thread, and no
    // command needs a pool of workers. Under a tight thread or memory limit (`ulimit -u`,
    // `ulimit -v`) a thread that cannot be started is an error with its reason, never a panic.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("evident: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Demo(a) => demo::run(a).await,
            Command::Append(a) => append::run(a).await,
            Command::Verify(a) => read::verify(a).await,
            Command::Head(a) => read::head(a),
            Command::Checkpoint(a) => prove::checkpoint(a),
            Command::Prove(a) => prove::prove(a),
            Command::CheckProof(a) => prove::check_proof(a),
            Command::Export(a) => query::export(a),
            Command::Query(a) => query::query_cmd(a),
            Command::Stats(a) => query::stats_cmd(a),
            Command::Tail(a) => read::tail(a).await,
            Command::Inspect(a) => read::inspect(a),
            Command::Recover(a) => fix::recover(a).await,
            Command::Repair(a) => fix::repair(a),
            Command::BreakLock(a) => fix::break_lock(a),
            Command::Archive(a) => archive::run(a).await,
            Command::Retain(a) => archive::retain(a).await,
            Command::Keygen(a) => witness_cmd::keygen(a),
            Command::Publish(a) => publish_cmd::run(a).await,
            Command::Witness(c) => witness_cmd::run(c).await,
        }
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Corrupt) => ExitCode::from(3),
        Ok(Outcome::Torn) => ExitCode::from(4),
        Err(e) => {
            eprintln!("evident: {e}");
            ExitCode::from(exit_for(&e))
        }
    }
}

/// Prints `v` as one JSON line.
pub fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

/// A directory argument that must exist.
pub fn existing_dir(dir: &std::path::Path) -> Result<(), Error> {
    // Opens it as `safe_fs` does, so a regular file says "not a directory".
    evident_native::safe_fs::TrailDir::open(dir, false)
        .map(|_| ())
        .map_err(|error| Error::Io {
            path: dir.to_path_buf(),
            error,
        })
}
