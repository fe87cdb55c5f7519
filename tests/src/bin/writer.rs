//! `writer component|native DIR LEASE_MS [LABEL]`: a trail writer in a process of its own, for
//! the one-writer tests. Opens DIR (through the component, with DIR preopened as `/data`, or
//! through the native adapter), prints `open`, then appends one record per stdin line and prints
//! `ack SEQ LINE` once it is acknowledged, or `err MESSAGE` (and goes on reading: the test
//! decides). A refused open prints `locked MESSAGE` (or `failed MESSAGE`) and exits 1.

// The WIT error variant is what the component returns.
#![allow(clippy::result_large_err)]

use evident_tests::wasm::{default_options, Error, Instance, OpenOptions};
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn component(dir: &Path, lease_ms: u64, label: Option<String>) {
    let mut inst = Instance::new(dir);
    let opts = OpenOptions {
        lease_ms: Some(lease_ms),
        holder: label,
        ..default_options()
    };
    let log = match inst.open("/data", &opts) {
        Ok(log) => log,
        Err(Error::Locked(m)) => {
            say(&format!("locked {m}"));
            std::process::exit(1);
        }
        Err(e) => {
            say(&format!("failed {e:?}"));
            std::process::exit(1);
        }
    };
    say("open");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        match inst.append(log, line.as_bytes()) {
            Ok(r) => say(&format!("ack {} {line}", r.seq)),
            Err(e) => say(&format!("err {e:?}")),
        }
    }
    match inst.close(log) {
        Ok(_) => say("closed"),
        Err(e) => say(&format!("err {e:?}")),
    }
}

fn native(dir: &Path, lease_ms: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let opened = evident_native::Trail::open(
            dir,
            evident_native::TrailOptions {
                lease: Some(Duration::from_millis(lease_ms)),
                ..Default::default()
            },
        )
        .await;
        let trail = match opened {
            Ok(t) => t,
            Err(e @ evident_native::Error::Locked { .. }) => {
                say(&format!("locked {e}"));
                std::process::exit(1);
            }
            Err(e) => {
                say(&format!("failed {e}"));
                std::process::exit(1);
            }
        };
        say("open");
        for line in std::io::stdin().lock().lines() {
            let line = line.expect("stdin");
            match trail.append(line.clone().into_bytes()).await {
                Ok(r) => say(&format!("ack {} {line}", r.seq)),
                Err(e) => say(&format!("err {e}")),
            }
        }
        match trail.close().await {
            Ok(_) => say("closed"),
            Err(e) => say(&format!("err {e}")),
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: writer component|native DIR LEASE_MS [LABEL]");
        std::process::exit(2);
    }
    let dir = Path::new(&args[2]);
    let lease_ms: u64 = args[3].parse().expect("LEASE_MS");
    match args[1].as_str() {
        "component" => component(dir, lease_ms, args.get(4).cloned()),
        "native" => native(dir, lease_ms),
        other => {
            eprintln!("unknown kind {other}");
            std::process::exit(2);
        }
    }
}
