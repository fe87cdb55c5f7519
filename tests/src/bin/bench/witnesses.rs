//! Witnesses for sections 9's signing runs and witness figures: real `evident witness serve`
//! processes on loopback (the release `evident` binary next to this one), stopped by their pid
//! when dropped (also when the bench panics), and logs kept in memory whose add-checkpoint
//! requests are made with the core's tree and note signing.

use evident_native::core::hash::Hash;
use evident_native::core::note::{sign_note, KeyKind, SigningKey};
use evident_native::core::tree::{consistency_proof, root_at, MemoryTree};
use evident_native::core::witness::AddCheckpoint;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The release `evident` binary beside this bench binary (`cargo build --release -p
/// evident-native --bin evident` builds it).
pub fn evident_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let bin = me.with_file_name("evident");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build --release -p evident-native --bin evident`",
            bin.display()
        ))
    }
}

/// An `evident witness serve` process on a free loopback port; killed (by its pid) and
/// reaped when dropped.
pub struct WitnessProc {
    child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// Its cosigner verifier key, for the policy.
    pub verifier: String,
}

impl WitnessProc {
    /// Starts a witness named `name` following `logs` (verifier keys), its key and state under
    /// `dir`. Its per-request log lines go to `dir/<name>.stderr`.
    pub fn start(dir: &Path, name: &str, logs: &[String]) -> Result<WitnessProc, String> {
        let bin = evident_binary()?;
        let key = evident_native::keys::generate(name, KeyKind::CosignatureV1)
            .map_err(|e| format!("witness key: {e}"))?;
        let key_file = dir.join(format!("{name}.key"));
        evident_native::keys::write_key_file(&key_file, &key)
            .map_err(|e| format!("witness key file: {e}"))?;
        let stderr = std::fs::File::create(dir.join(format!("{name}.stderr")))
            .map_err(|e| format!("witness stderr file: {e}"))?;
        let mut cmd = Command::new(bin);
        cmd.args(["witness", "serve", "--addr", "127.0.0.1:0", "--key"])
            .arg(&key_file)
            .arg("--state")
            .arg(dir.join(format!("{name}.state")));
        for l in logs {
            cmd.args(["--log", l]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting the witness: {e}"))?;
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .map_err(|e| e.to_string());
        let mut proc = WitnessProc {
            child,
            url: String::new(),
            verifier: key.verifier().to_string(),
        };
        match line.trim().rsplit_once("listening on ") {
            Some((_, u)) if read.is_ok() => proc.url = u.to_string(),
            _ => return Err(format!("the witness did not start: {line:?} {read:?}")), // dropped: killed
        }
        Ok(proc)
    }
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log key of the `i`th log of a benchmark (fixed seeds: the same keys every run).
pub fn log_key(i: usize) -> SigningKey {
    let mut seed = [0x42u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    SigningKey::from_seed(&format!("bench.evident/log-{i}"), KeyKind::Ed25519, &seed)
        .expect("a valid key name")
}

/// A log kept in memory (entry i derived from its index), for add-checkpoint requests.
pub struct MemLog {
    key: SigningKey,
    tree: MemoryTree,
}

impl MemLog {
    pub fn new(key: SigningKey) -> MemLog {
        MemLog {
            key,
            tree: MemoryTree::new(),
        }
    }

    /// Grows the log by `n` entries and returns the add-checkpoint request from `old` (the
    /// size before) to the new size: the consistency proof and the signed checkpoint.
    pub fn grow_request(&mut self, n: u64) -> Vec<u8> {
        let old = self.tree.size();
        for _ in 0..n {
            let i = self.tree.size();
            let mut leaf = [7u8; 32];
            leaf[..8].copy_from_slice(&i.to_be_bytes());
            self.tree.push_leaf(&Hash(leaf));
        }
        let size = self.tree.size();
        let proof = if old == 0 {
            Vec::new()
        } else {
            consistency_proof(old, size, &self.tree).expect("a proof within the tree")
        };
        let root = root_at(size, &self.tree).expect("a root within the tree");
        let text = format!(
            "{}\n{size}\n{}\n",
            self.key.name(),
            evident_native::core::tree::base64::encode(&root.0)
        );
        let checkpoint = sign_note(&text, &self.key)
            .expect("signing a checkpoint")
            .to_bytes();
        AddCheckpoint {
            old,
            proof,
            checkpoint,
        }
        .to_bytes()
    }
}
