//! `evident keygen`, `evident witness serve` and `evident witness cosign`.

use crate::{print_json, Outcome};
use clap::{Args, Subcommand};
use evident_core::note::{KeyKind, VerifierKey};
use evident_native::keys::{generate, load_key_file, write_key_file};
use evident_native::witness::{http::serve, now_secs, Witness, WitnessError};
use evident_native::Error;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An error about `path`, named once (the library's messages often name their file already).
fn io_err(path: &Path, error: std::io::Error) -> Error {
    let named = error.to_string().contains(&path.display().to_string());
    Error::Io {
        path: if named {
            PathBuf::from("witness")
        } else {
            path.to_path_buf()
        },
        error,
    }
}

/// Arguments of `evident keygen`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["origin", "witness"])))]
pub struct KeygenArgs {
    /// A log signing key (Ed25519, type 0x01) whose name is this checkpoint origin.
    #[arg(long)]
    origin: Option<String>,
    /// A witness cosigning key (cosignature/v1, type 0x04) with this name.
    #[arg(long)]
    witness: Option<String>,
    /// The private key file to create (mode 0600; never overwritten).
    #[arg(short, long)]
    out: PathBuf,
    /// Print the verifier key as JSON.
    #[arg(long)]
    json: bool,
}

/// Writes a new key file and prints its verifier key (never the private key).
pub fn keygen(a: KeygenArgs) -> Result<Outcome, Error> {
    let (name, kind) = match (&a.origin, &a.witness) {
        (Some(o), None) => (o.as_str(), KeyKind::Ed25519),
        (None, Some(w)) => (w.as_str(), KeyKind::CosignatureV1),
        _ => unreachable!("clap requires exactly one"),
    };
    let label = |error| Error::Io {
        path: PathBuf::from("keygen"),
        error,
    };
    let key = generate(name, kind).map_err(label)?;
    write_key_file(&a.out, &key).map_err(label)?;
    let vkey = key.verifier().to_string();
    if a.json {
        print_json(&json!({
            "verifier_key": vkey,
            "name": name,
            "kind": if kind == KeyKind::Ed25519 { "log" } else { "witness" },
            "key_file": a.out.display().to_string(),
        }));
    } else {
        println!("{vkey}");
    }
    Ok(Outcome::Ok)
}

/// `evident witness ...`.
#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Serve the tlog-witness add-checkpoint API over HTTP.
    Serve(ServeArgs),
    /// Answer one add-checkpoint request read from a file (air-gapped witnessing).
    Cosign(CosignArgs),
}

/// What every witness command needs.
#[derive(Args)]
pub struct WitnessOpts {
    /// The witness's private key file (from `evident keygen --witness NAME`).
    #[arg(long)]
    key: PathBuf,
    /// The directory holding the witness's state (one file per log).
    #[arg(long)]
    state: PathBuf,
    /// A log verifier key to follow (`<origin>+<id>+<key>`), repeatable.
    #[arg(long = "log", required = true, value_name = "VERIFIER_KEY")]
    logs: Vec<String>,
}

impl WitnessOpts {
    fn open(&self) -> Result<Witness, Error> {
        let key =
            load_key_file(&self.key, KeyKind::CosignatureV1).map_err(|e| io_err(&self.key, e))?;
        let mut logs = Vec::new();
        for l in &self.logs {
            let k = VerifierKey::parse(l).map_err(|e| {
                io_err(
                    Path::new("--log"),
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
                )
            })?;
            if k.kind() != KeyKind::Ed25519 {
                return Err(io_err(
                    Path::new("--log"),
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("{} is not a log (type 0x01) key", k.name()),
                    ),
                ));
            }
            logs.push(k);
        }
        Witness::open(key, logs, &self.state).map_err(|e| io_err(&self.state, e))
    }
}

/// Arguments of `evident witness serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    opts: WitnessOpts,
    /// Address to listen on (loopback by default; port 0 picks a free port, printed).
    #[arg(long, default_value = "127.0.0.1:7380")]
    addr: String,
}

/// Arguments of `evident witness cosign`.
#[derive(Args)]
pub struct CosignArgs {
    #[command(flatten)]
    opts: WitnessOpts,
    /// The add-checkpoint request body.
    #[arg(long)]
    request: PathBuf,
    /// Where to write the answer (the cosignature line); stdout if absent.
    #[arg(short, long)]
    out: Option<PathBuf>,
}

/// Runs `evident witness ...`.
pub async fn run(cmd: WitnessCommand) -> Result<Outcome, Error> {
    match cmd {
        WitnessCommand::Serve(a) => {
            let witness = Arc::new(a.opts.open()?);
            let listener = tokio::net::TcpListener::bind(&a.addr)
                .await
                .map_err(|e| io_err(Path::new(&a.addr), e))?;
            let local = listener
                .local_addr()
                .map_err(|e| io_err(Path::new(&a.addr), e))?;
            println!("witness {} listening on http://{local}", witness.verifier());
            serve(witness, listener)
                .await
                .map_err(|e| io_err(Path::new(&a.addr), e))?;
            Ok(Outcome::Ok)
        }
        WitnessCommand::Cosign(a) => {
            let witness = a.opts.open()?;
            let body = std::fs::read(&a.request).map_err(|e| io_err(&a.request, e))?;
            match witness.add_checkpoint(&body, now_secs()) {
                Ok(line) => {
                    match &a.out {
                        Some(p) => std::fs::write(p, &line).map_err(|e| io_err(p, e))?,
                        None => print!("{}", String::from_utf8_lossy(&line)),
                    }
                    Ok(Outcome::Ok)
                }
                Err(WitnessError::Refused(r)) => Err(io_err(
                    &a.request,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("refused: {r}")),
                )),
                Err(e) => Err(io_err(&a.opts.state, std::io::Error::other(e.to_string()))),
            }
        }
    }
}
