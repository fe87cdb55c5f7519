//! Helpers for the witness tests: key files, witness processes on loopback, a log kept in
//! memory whose checkpoints and consistency proofs are made with the core's tree.
#![allow(dead_code)]

use evident_native::core::hash::Hash;
use evident_native::core::note::{sign_note, KeyKind, SigningKey};
use evident_native::core::tree::{consistency_proof, root_at, MemoryTree};
use evident_native::core::witness::AddCheckpoint;
use evident_native::witness::client::{add_checkpoint, Answer};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_evident");

/// `evident keygen`, returning the printed verifier key.
pub fn keygen(flag: &str, name: &str, out: &Path) -> String {
    let o = Command::new(BIN)
        .args(["keygen", flag, name, "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// A witness process; killed (by its pid) when dropped.
pub struct WitnessProc {
    pub child: Child,
    pub url: String,
    pub stderr_path: std::path::PathBuf,
}

impl WitnessProc {
    /// Starts `evident witness serve` on a free loopback port.
    pub fn start(dir: &Path, key: &Path, state: &Path, logs: &[&str], addr: &str) -> WitnessProc {
        let stderr_path = dir.join(format!("witness-{}.stderr", std::process::id()));
        let mut cmd = Command::new(BIN);
        cmd.args(["witness", "serve", "--key", key.to_str().unwrap()])
            .args(["--state", state.to_str().unwrap(), "--addr", addr]);
        for l in logs {
            cmd.args(["--log", l]);
        }
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("witness starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = match line.trim().rsplit_once("listening on ") {
            Some((_, u)) => u.to_string(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "witness did not start: {line:?} {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            }
        };
        WitnessProc {
            child,
            url,
            stderr_path,
        }
    }

    /// kill -9 and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A log kept in memory: a key and a tree whose entry i is derived from (`history`, i).
pub struct MemLog {
    pub key: SigningKey,
    pub tree: MemoryTree,
    pub history: u8,
}

impl MemLog {
    pub fn new(key: SigningKey, history: u8) -> MemLog {
        MemLog {
            key,
            tree: MemoryTree::new(),
            history,
        }
    }

    pub fn grow(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.tree.size();
            let mut leaf = [self.history; 32];
            leaf[..8].copy_from_slice(&i.to_be_bytes());
            self.tree.push_leaf(&Hash(leaf));
        }
    }

    pub fn checkpoint(&self) -> Vec<u8> {
        let root = root_at(self.tree.size(), &self.tree).unwrap();
        let text = format!(
            "{}\n{}\n{}\n",
            self.key.name(),
            self.tree.size(),
            evident_native::core::tree::base64::encode(&root.0)
        );
        sign_note(&text, &self.key).unwrap().to_bytes()
    }

    pub fn request(&self, old: u64) -> Vec<u8> {
        let proof = if old == 0 || old > self.tree.size() {
            vec![]
        } else {
            consistency_proof(old, self.tree.size(), &self.tree).unwrap()
        };
        AddCheckpoint {
            old,
            proof,
            checkpoint: self.checkpoint(),
        }
        .to_bytes()
    }
}

pub fn log_key(origin: &str, seed: u8) -> SigningKey {
    SigningKey::from_seed(origin, KeyKind::Ed25519, &[seed; 32]).unwrap()
}

/// One POST on a fresh single-thread runtime.
pub fn post(url: &str, body: Vec<u8>) -> Answer {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(add_checkpoint(url, body, Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

pub fn body_str(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}
