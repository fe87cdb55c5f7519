//! Helpers of the archive tests: trails written by the CLI, `evident` with the server's
//! environment, raw object edits (a tamperer with the bucket's credentials).
#![allow(dead_code)]

use super::Seaweed;
use evident_native::archive::{self, ArchiveTarget};
use evident_native::core::LogId;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStoreExt, PutPayload};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The `evident` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_evident");

pub const BUCKET: &str = "evident-archive";

/// A trail of `n` records in small segments, written by the CLI.
pub fn make_trail(dir: &Path, from: u64, n: u64) {
    let input: String = (from..from + n)
        .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(40)))
        .collect();
    let out = evident_env(
        &[
            "append",
            dir.to_str().unwrap(),
            "--segment-bytes",
            "4096",
            "--lease",
            "200",
        ],
        &[],
        Some(input.as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn evident_env(args: &[&str], env: &[(&'static str, String)], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn log_id_of(dir: &Path) -> LogId {
    archive::read_log_id(dir).unwrap()
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn archive_cli(s: &Seaweed, dir: &Path, url: &str) -> Output {
    evident_env(
        &["archive", dir.to_str().unwrap(), "--to", url, "--json"],
        &s.env(),
        None,
    )
}

pub fn verify_cli(s: &Seaweed, url: &str, log: &LogId, extra: &[&str]) -> Output {
    let full = format!("{url}/{}", log.to_hex());
    let mut args = vec!["verify", full.as_str()];
    args.extend_from_slice(extra);
    evident_env(&args, &s.env(), None)
}

pub fn put_raw(t: &ArchiveTarget, key: &str, bytes: Vec<u8>) {
    rt().block_on(t.store.put(&ObjPath::from(key), PutPayload::from(bytes)))
        .unwrap();
}

pub fn get_raw(t: &ArchiveTarget, key: &str) -> Vec<u8> {
    rt().block_on(t.get(key)).unwrap()
}

pub fn delete_raw(t: &ArchiveTarget, key: &str) {
    rt().block_on(t.store.delete(&ObjPath::from(key))).unwrap();
}

pub fn segment_count(dir: &Path) -> usize {
    archive::local_segments(dir).unwrap().len()
}
