//! `evident checkpoint`, `evident prove` and `evident check-proof`: the trail's C2SP checkpoint,
//! inclusion and consistency proofs made from the trail, and their offline check.

use crate::{existing_dir, print_json, Outcome};
use evident_native::jsonl::record_json;
use evident_native::prove::{check_proof_text, Checked, InclusionOptions, ProveError, Prover};
use evident_native::Error;
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct CheckpointArgs {
    /// The trail directory.
    dir: PathBuf,
    /// Machine-readable output (one JSON object: origin, size, root, the unsigned note, the
    /// signed note when there is one of the head, and the chain head).
    #[arg(long)]
    json: bool,
    /// Print the unsigned checkpoint body even when `checkpoint.note` holds the head signed.
    #[arg(long)]
    unsigned: bool,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["seq", "consistency"])))]
pub struct ProveArgs {
    /// The trail directory.
    dir: PathBuf,
    /// Prove that record SEQ is in the tree (an inclusion bundle, `c2sp.org/tlog-proof@v1`).
    #[arg(long)]
    seq: Option<u64>,
    /// The tree size to prove against (default: the trail's head). A smaller size is first
    /// proven consistent with the head.
    #[arg(long, requires = "seq")]
    size: Option<u64>,
    /// Leave the payload out of the bundle (it still proves the record's kind, seq, time and
    /// payload hash; whoever holds the payload can check it against the hash).
    #[arg(long, requires = "seq")]
    no_payload: bool,
    /// Prove that the trail's current tree extends the one in this older checkpoint file.
    #[arg(long, value_name = "OLD_CHECKPOINT", conflicts_with_all = ["seq", "size", "no_payload"])]
    consistency: Option<PathBuf>,
    /// Write the proof to FILE (created or replaced) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct CheckProofArgs {
    /// An inclusion bundle or a consistency proof (from `evident prove`).
    file: PathBuf,
    /// Machine-readable output (one JSON object).
    #[arg(long)]
    json: bool,
    /// The origin of the log the proof must be from (its checkpoint's first line): a proof
    /// of another log fails (exit 3).
    #[arg(long)]
    origin: Option<String>,
    /// A checkpoint note you trust (fetched from the log yourself): the proof must be against
    /// exactly this tree. Until checkpoints are signed this is what ties a proof to the log:
    /// without it, the proof shows the record is in the tree its own checkpoint names.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// A tlog-policy file: the proof's checkpoint must carry the log's signature and
    /// cosignatures meeting its quorum (exit 3 otherwise). Without it, the signatures present
    /// are listed, unchecked.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

/// A proof error as the CLI reports it: a verdict exits 3, anything else 1.
fn fail(e: ProveError) -> Result<Outcome, Error> {
    eprintln!("evident: {e}");
    if e.is_verdict() {
        Ok(Outcome::Corrupt)
    } else {
        Ok(Outcome::Failed)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| Error::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Reads a small text file named on the command line (a checkpoint or a proof: kilobytes, plus
/// one payload in a bundle), refusing one larger than a bundle can be.
pub fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = evident_native::safe_fs::read_small(path, evident_native::prove::MAX_PROOF_FILE)
        .map_err(io(path))?;
    String::from_utf8(bytes).map_err(|_| {
        io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8: not a checkpoint or proof",
        ))
    })
}

fn write_out(output: Option<&Path>, text: &str) -> Result<(), Error> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(io(path)),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            Ok(())
        }
    }
}

pub fn checkpoint(a: CheckpointArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let prover = match Prover::open(&a.dir) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let cp = prover.checkpoint();
    let signed = if a.unsigned {
        None
    } else {
        signed_note_of_head(&a.dir, cp)
    };
    if a.json {
        let chain = prover.chain_head();
        print_json(&json!({
            "origin": cp.origin,
            "size": cp.size,
            "root": cp.root_base64(),
            "note": prover.checkpoint_note(),
            "signed_note": signed,
            "chain": {"log_id": chain.log_id.to_hex(), "seq": chain.seq, "hash": chain.hash.to_hex()},
        }));
    } else {
        write_out(None, signed.as_deref().unwrap_or(&prover.checkpoint_note()))?;
    }
    Ok(Outcome::Ok)
}

/// `checkpoint.note` when it is a signed note of exactly the head `cp` (same origin, size and
/// root as the trail's records give): what `evident checkpoint` prints for a signed trail.
/// Otherwise `None`, saying on stderr why when there is a note (behind the head: the writer
/// signs at most every `checkpoint_interval`, `evident publish` signs now). The signatures
/// are not checked here (no key is given); whoever reads the note checks them.
fn signed_note_of_head(dir: &Path, cp: &evident_core::tree::TreeCheckpoint) -> Option<String> {
    let unsigned = "printing the head unsigned";
    let (note_cp, text) = read_signed_note(dir, unsigned)?;
    if note_cp != *cp {
        let why = if note_cp.origin == cp.origin && note_cp.size < cp.size {
            format!(
                "signed at size {}, the head is at {} (signed within the checkpoint interval, or now by `evident publish`)",
                note_cp.size, cp.size
            )
        } else {
            format!(
                "not a checkpoint of this trail's head ({} size {}, the head is {} size {})",
                note_cp.origin, note_cp.size, cp.origin, cp.size
            )
        };
        say_note(dir, &why, unsigned);
        return None;
    }
    Some(text)
}

/// The trail's `checkpoint.note` and its tree, when there is one and it is signed; one that
/// cannot be read or parsed is passed over, saying why on stderr followed by `then` (what the
/// caller does instead).
fn read_signed_note(
    dir: &Path,
    then: &str,
) -> Option<(evident_core::tree::TreeCheckpoint, String)> {
    let text = match evident_native::publish::read_checkpoint_note(dir) {
        Ok(note) => String::from_utf8(note?).ok()?,
        Err(e) => {
            say_note(dir, &e.to_string(), then);
            return None;
        }
    };
    match evident_core::tree::TreeCheckpoint::parse_note(text.as_bytes()) {
        Ok((cp, note)) => (!note.signatures().is_empty()).then_some((cp, text)),
        Err(e) => {
            say_note(dir, &e.to_string(), then);
            None
        }
    }
}

/// `evident: <dir>/checkpoint.note: <why>; <then>` on stderr.
fn say_note(dir: &Path, why: &str, then: &str) {
    let path = dir.join(evident_native::publish::CHECKPOINT_NOTE);
    eprintln!("evident: {}: {why}; {then}", path.display());
}

pub fn prove(a: ProveArgs) -> Result<Outcome, Error> {
    existing_dir(&a.dir)?;
    let prover = match Prover::open(&a.dir) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let text = if let Some(old) = &a.consistency {
        let old_text = read_text(old)?;
        let old_size = match evident_native::prove::parse_checkpoint_note(&old_text) {
            Ok(h) => h.size,
            Err(e) => return fail(e.in_file(old)),
        };
        // To the signed checkpoint.note when it covers the older tree: the proof then carries
        // its signatures (so `check-proof --policy` can check them); else to the head.
        let signed = signed_note_covering(&a.dir, old_size.max(1), "proof");
        let proven = match &signed {
            Some((_, note)) => prover.prove_consistency_to(&old_text, note),
            None => prover.prove_consistency(&old_text),
        };
        match (proven, signed) {
            (Ok(t), Some((_, note))) => with_signatures(t, &note),
            (Ok(t), None) => t,
            (Err(e), _) => return fail(e.in_file(old)),
        }
    } else {
        let seq = a.seq.expect("clap requires --seq or --consistency");
        // The signed checkpoint.note, when it covers the record: the bundle is made against
        // its tree and carries its signatures (so `check-proof --policy` can check them).
        let signed = if a.size.is_none() {
            signed_note_covering(&a.dir, seq, "bundle")
        } else {
            None
        };
        let opts = InclusionOptions {
            size: a.size.or(signed.as_ref().map(|(size, _)| *size)),
            include_payload: !a.no_payload,
        };
        match prover.prove(seq, opts) {
            Ok(bundle) => match signed {
                Some((_, note)) => with_signatures(bundle.text, &note),
                None => bundle.text,
            },
            Err(e) => return fail(e),
        }
    };
    write_out(a.output.as_deref(), &text)?;
    Ok(Outcome::Ok)
}

/// The JSON form of a checked bundle: the record (the event when it is one) and the tree.
/// The signed `checkpoint.note` of `dir` when it has signatures and covers `seq`: its size and
/// text. A note that is absent, unsigned or older than the record is passed over (the `what`,
/// bundle or proof, is then made against the trail's head, unsigned), saying so on stderr
/// when it exists.
fn signed_note_covering(dir: &Path, seq: u64, what: &str) -> Option<(u64, String)> {
    let unsigned = format!("the {what} is unsigned");
    let (cp, text) = read_signed_note(dir, &unsigned)?;
    if cp.size < seq {
        eprintln!(
            "evident: {} covers {} records, not seq {seq} yet; {unsigned} (publish again, or wait for the next signature)",
            dir.join(evident_native::publish::CHECKPOINT_NOTE).display(),
            cp.size
        );
        return None;
    }
    Some((cp.size, text))
}

/// The bundle or consistency proof `text` (whose last checkpoint is the unsigned body of
/// `note`) with `note`'s signature lines, checked again; the unsigned text if they do not
/// belong to it.
fn with_signatures(text: String, note: &str) -> String {
    let body_end = note.find("\n\n").map(|i| i + 1).unwrap_or(note.len());
    let body = &note[..body_end];
    if !text.ends_with(body) {
        eprintln!("evident: checkpoint.note is not of the tree proven; the proof is unsigned");
        return text;
    }
    let signed = format!("{text}{}", &note[body_end..]);
    match check_proof_text(&signed) {
        Ok(_) => signed,
        Err(e) => {
            eprintln!("evident: checkpoint.note's signatures do not fit the proof ({e}); the proof is unsigned");
            text
        }
    }
}

fn proven_json(r: &evident_native::prove::ProvenRecord) -> serde_json::Value {
    let mut v = json!({
        "ok": true,
        "proof": "inclusion",
        "origin": r.tree.origin,
        "tree_size": r.tree.size,
        "root": r.tree.root_base64(),
        "kind": r.kind,
        "seq": r.seq,
        "ts": r.ts,
        "time": evident_native::jsonl::rfc3339(r.ts),
        "payload_hash": r.payload_hash.to_hex(),
    });
    match &r.payload {
        Some(p) => {
            let rec = record_json(r.seq, r.ts, &r.payload_hash, p);
            for key in ["event", "payload", "payload_base64"] {
                if let Some(x) = rec.get(key) {
                    v[key] = x.clone();
                }
            }
        }
        None => v["payload_included"] = json!(false),
    }
    v
}

pub fn check_proof(a: CheckProofArgs) -> Result<Outcome, Error> {
    let text = read_text(&a.file)?;
    let checked = match check_proof_text(&text) {
        Ok(c) => c,
        Err(e) => return fail(e.in_file(&a.file)),
    };
    let tree = match &checked {
        Checked::Inclusion(r) => &r.tree,
        Checked::Consistency(c) => &c.new,
    };
    let origin = &tree.origin;
    if let Some(path) = &a.checkpoint {
        let trusted = match evident_core::prove::parse_checkpoint_note(&read_text(path)?) {
            Ok(t) => t,
            Err(e) => {
                return fail(ProveError::Invalid {
                    file: Some(path.clone()),
                    line: e.line,
                    reason: e.reason,
                })
            }
        };
        if trusted.origin != *origin {
            return fail(
                ProveError::OtherLog {
                    ours: trusted.origin,
                    theirs: origin.clone(),
                }
                .in_file(&a.file),
            );
        }
        if trusted != *tree {
            return fail(ProveError::Invalid {
                file: Some(a.file.clone()),
                line: None,
                reason: format!(
                    "the proof is against the tree of size {} with root {}, not the trusted \
                     checkpoint's size {} root {} ({})",
                    tree.size,
                    tree.root_base64(),
                    trusted.size,
                    trusted.root_base64(),
                    path.display()
                ),
            });
        }
    }
    if let Some(want) = a.origin.as_ref().filter(|w| *w != origin) {
        return fail(
            ProveError::OtherLog {
                ours: want.clone(),
                theirs: origin.clone(),
            }
            .in_file(&a.file),
        );
    }
    let signatures = signature_report(&text, a.policy.as_deref())?;
    if a.policy.is_some() && !signatures.satisfied() {
        let why = match &signatures.policy {
            Some(Err(e)) => e.clone(),
            _ => "no policy verdict".into(),
        };
        if a.json {
            let mut v = json!({"ok": false, "error": format!("the checkpoint does not satisfy the policy: {why}")});
            v["signatures"] = evident_native::signatures::report_json(&signatures);
            print_json(&v);
        } else {
            print!("{}", signatures.to_text());
        }
        eprintln!(
            "evident: {}: the checkpoint does not satisfy the policy: {why}",
            a.file.display()
        );
        return Ok(Outcome::Corrupt);
    }
    // Without a policy or a trusted checkpoint nothing ties the proof's checkpoint to the
    // log: anyone can build a tree and a bundle that verifies against it (tlog-proof's step 2
    // is the signature check). Still exit 0 (the proof itself holds), but say so.
    let authenticated = a.policy.is_some() || a.checkpoint.is_some();
    if !authenticated {
        eprintln!(
            "evident: {}: not authenticated: the proof verifies against the checkpoint it \
             carries, but no --policy (the log's key and witnesses) or --checkpoint (one you \
             trust) was given, so nothing shows that checkpoint is the log's",
            a.file.display()
        );
    }
    match checked {
        Checked::Inclusion(r) => {
            let mut v = proven_json(&r);
            if a.json {
                v["signatures"] = evident_native::signatures::report_json(&signatures);
                v["authenticated"] = json!(authenticated);
                print_json(&v);
                return Ok(Outcome::Ok);
            }
            println!(
                "ok: record seq {} is in {} (tree size {}, root {})",
                r.seq,
                r.tree.origin,
                r.tree.size,
                r.tree.root_base64()
            );
            println!(
                "time {}  payload hash {}",
                v["time"].as_str().unwrap_or(""),
                r.payload_hash
            );
            if let Some(e) = v.get("event") {
                println!("{e}");
            } else if let Some(p) = v.get("payload") {
                println!("{p}");
            } else if let Some(p) = v.get("payload_base64") {
                println!("payload (base64) {p}");
            } else {
                println!("payload not included (the bundle proves its hash)");
            }
            print!("{}", signatures.to_text());
        }
        Checked::Consistency(c) => {
            if a.json {
                print_json(&json!({
                    "ok": true,
                    "proof": "consistency",
                    "origin": c.new.origin,
                    "old_size": c.old.size,
                    "old_root": c.old.root_base64(),
                    "new_size": c.new.size,
                    "new_root": c.new.root_base64(),
                    "signatures": evident_native::signatures::report_json(&signatures),
                    "authenticated": authenticated,
                }));
            } else {
                println!(
                    "ok: the tree of size {} ({}) extends the tree of size {} ({}) of {}",
                    c.new.size,
                    c.new.root_base64(),
                    c.old.size,
                    c.old.root_base64(),
                    c.new.origin
                );
                print!("{}", signatures.to_text());
            }
        }
    }
    Ok(Outcome::Ok)
}

/// The signatures of a proof file's checkpoint (an inclusion bundle's, or a consistency
/// proof's newer one), checked against the policy in `policy` when given.
fn signature_report(
    text: &str,
    policy: Option<&Path>,
) -> Result<evident_native::signatures::NoteReport, Error> {
    let policy = policy
        .map(|p| evident_native::signatures::read_policy(p).map_err(io(p)))
        .transpose()?;
    // The proof itself was checked already.
    let note = evident_native::signatures::proof_checkpoint_note(text).unwrap_or_default();
    Ok(evident_native::signatures::NoteReport::of(
        note.as_bytes(),
        policy.as_ref(),
    ))
}
