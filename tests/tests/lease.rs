//! One writer per trail in every pairing of hosts (issue 10 §2): native and component writers in
//! processes of their own (`src/bin/writer.rs`), two component instances in one host, `kill -9`,
//! `rm LOCK`, and a holder stalled with SIGSTOP past its lease.

use evident_tests::wasm::{default_options, Error, Instance, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WRITER: &str = env!("CARGO_BIN_EXE_writer");
/// The lease of the writers whose tests need a lease that cannot lapse by accident: starting a
/// writer process compiles the component (seconds on a loaded machine), and a component holder
/// renews only when called, so with a short lease a holder idle while the test starts a
/// newcomer can lose the trail legitimately. Renewal every 1.2 s, grace 0.6 s.
const LEASE_MS: u64 = 6000;
/// Short leases for the tests that wait for a stall or a settle: renewal every 200 ms, grace
/// 100 ms, settle 300 ms.
const SHORT_LEASE_MS: u64 = 1000;

/// A writer process, killed by its pid when dropped (also when a test fails).
struct Writer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Writer {
    fn start(kind: &str, dir: &Path, label: &str) -> Writer {
        Writer::start_with(kind, dir, label, LEASE_MS)
    }

    fn start_with(kind: &str, dir: &Path, label: &str, lease_ms: u64) -> Writer {
        let mut child = Command::new(WRITER)
            .args([kind, dir.to_str().unwrap(), &lease_ms.to_string(), label])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the writer starts");
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Writer {
            child,
            stdin,
            lines,
        }
    }

    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| "(no answer)".into())
    }

    /// Starts a writer and returns it once it has opened the trail.
    fn open(kind: &str, dir: &Path, label: &str) -> Writer {
        Writer::open_with(kind, dir, label, LEASE_MS)
    }

    /// [`Writer::open`] with a lease of `lease_ms`.
    fn open_with(kind: &str, dir: &Path, label: &str, lease_ms: u64) -> Writer {
        let w = Writer::start_with(kind, dir, label, lease_ms);
        let first = w.next_line();
        assert_eq!(first, "open", "{kind} writer did not open");
        w
    }

    /// What a writer that must be refused says (it exits then).
    fn refused(kind: &str, dir: &Path) -> String {
        let mut w = Writer::start(kind, dir, "refused");
        let line = w.next_line();
        // A writer that opened after all would wait for input: end its input so it exits.
        drop(w.stdin.take());
        let _ = w.child.wait();
        line
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Appends one line; `Ok(seq)` once acknowledged, `Err(message)` otherwise.
    fn append(&mut self, line: &str) -> Result<u64, String> {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").map_err(|e| e.to_string())?;
        stdin.flush().map_err(|e| e.to_string())?;
        let answer = self.next_line();
        match answer.strip_prefix("ack ") {
            Some(rest) => {
                let (seq, echoed) = rest.split_once(' ').unwrap();
                assert_eq!(echoed, line);
                Ok(seq.parse().unwrap())
            }
            None => Err(answer),
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes stdin and waits for the process to end.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let mut last = String::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(30)) {
            last = l;
        }
        let _ = self.child.wait();
        last
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-CONT", &self.child.id().to_string()])
                .status();
            self.kill9();
        }
    }
}

fn temp_trail() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("trail");
    std::fs::create_dir(&dir).unwrap();
    (tmp, dir)
}

/// Every record of the trail, verified, as (seq, payload).
fn records(dir: &Path) -> Vec<(u64, String)> {
    evident_native::fs_exec::verify_dir(dir, Vec::new(), |_, _| {}).expect("the trail verifies");
    let mut reader = evident_native::Reader::open(dir).unwrap();
    let mut out = Vec::new();
    while let Some(r) = reader.next_available().unwrap() {
        out.push((r.seq, String::from_utf8(r.payload).unwrap()));
    }
    out
}

/// Every acknowledged (seq, payload) is in the trail.
fn assert_all_present(dir: &Path, acked: &[(u64, String)]) {
    let all = records(dir);
    for (seq, payload) in acked {
        assert_eq!(
            all.get(*seq as usize - 1),
            Some(&(*seq, payload.clone())),
            "acknowledged seq {seq} ({payload}) is missing or overwritten; trail: {all:?}"
        );
    }
}

/// Keeps trying to open as `kind` until it works; returns the writer and how long it took.
fn open_when_free(kind: &str, dir: &Path) -> (Writer, Duration) {
    open_when_free_with(kind, dir, LEASE_MS)
}

/// [`open_when_free`] with a lease of `lease_ms`.
fn open_when_free_with(kind: &str, dir: &Path, lease_ms: u64) -> (Writer, Duration) {
    let start = Instant::now();
    loop {
        let w = Writer::start_with(kind, dir, "newcomer", lease_ms);
        let first = w.next_line();
        if first == "open" {
            return (w, start.elapsed());
        }
        assert!(first.starts_with("locked"), "{first}");
        assert!(start.elapsed() < Duration::from_secs(40), "never opened");
        drop(w);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn native_holder_refuses_a_component_process_and_the_other_way_round() {
    let (_tmp, dir) = temp_trail();
    let mut native = Writer::open("native", &dir, "");
    assert_eq!(native.append("n1"), Ok(1));
    let refused = Writer::refused("component", &dir);
    assert!(
        refused.starts_with("locked") && refused.contains(&format!("native pid={}", native.pid())),
        "{refused}"
    );
    assert_eq!(native.append("n2"), Ok(2));
    assert_eq!(native.finish(), "closed");

    let mut comp = Writer::open("component", &dir, "plugin-host-7");
    assert_eq!(comp.append("c3"), Ok(3));
    let refused = Writer::refused("native", &dir);
    assert!(
        refused.starts_with("locked") && refused.contains("component plugin-host-7"),
        "{refused}"
    );
    let refused = Writer::refused("component", &dir);
    assert!(
        refused.starts_with("locked"),
        "component+component, two processes: {refused}"
    );
    assert_eq!(comp.append("c4"), Ok(4));
    assert_eq!(comp.finish(), "closed");
    let all = records(&dir);
    let payloads: Vec<&str> = all.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(payloads, ["n1", "n2", "c3", "c4"]);
}

#[test]
fn two_component_instances_in_one_host() {
    let (_tmp, dir) = temp_trail();
    let mut a = Instance::new(&dir);
    let mut b = Instance::new(&dir);
    let opts = OpenOptions {
        lease_ms: Some(LEASE_MS),
        holder: Some("instance a".into()),
        ..default_options()
    };
    let la = a.open("/data", &opts).expect("a opens");
    a.append(la, b"a1").unwrap();
    match b.open("/data", &opts) {
        Err(Error::Locked(m)) => assert!(m.contains("component instance a"), "{m}"),
        other => panic!("expected locked, got {other:?}"),
    }
    assert_eq!(a.append(la, b"a2").unwrap().seq, 2);
    a.close(la).unwrap();
    let lb = b.open("/data", &opts).expect("b opens once a closed");
    assert_eq!(b.append(lb, b"b3").unwrap().seq, 3);
    // A dropped log (no close) releases the lease too.
    b.drop_log(lb);
    let la = a.open("/data", &opts).expect("a opens again");
    assert_eq!(a.append(la, b"a4").unwrap().seq, 4);
    a.close(la).unwrap();
}

#[test]
fn after_kill_9_of_a_component_holder_the_next_writer_opens_once_the_lease_lapsed() {
    for newcomer in ["native", "component"] {
        let (_tmp, dir) = temp_trail();
        let mut holder = Writer::open("component", &dir, "doomed");
        assert_eq!(holder.append("one"), Ok(1));
        holder.kill9();
        let killed = Instant::now();
        let early = Writer::refused(newcomer, &dir);
        assert!(
            early.starts_with("locked"),
            "{newcomer} opened before the lease lapsed: {early}"
        );
        let (mut next, _) = open_when_free(newcomer, &dir);
        let waited = killed.elapsed();
        // The last renewal was at most one renewal interval (a fifth of the lease) before the
        // kill; the takeover needs the lease plus its grace (a tenth) after it.
        assert!(
            waited >= Duration::from_millis(LEASE_MS - LEASE_MS / 5),
            "{newcomer} took over after {waited:?}"
        );
        assert!(
            waited < Duration::from_millis(LEASE_MS) + Duration::from_secs(10),
            "{newcomer} waited {waited:?}"
        );
        assert_eq!(next.append("two"), Ok(2));
        assert_eq!(next.finish(), "closed");
        assert_all_present(&dir, &[(1, "one".into()), (2, "two".into())]);
    }
}

#[test]
fn after_kill_9_of_a_native_holder_a_component_waits_for_the_lease_and_a_native_does_not() {
    let (_tmp, dir) = temp_trail();
    let mut holder = Writer::open("native", &dir, "");
    assert_eq!(holder.append("one"), Ok(1));
    holder.kill9();
    let refused = Writer::refused("component", &dir);
    assert!(refused.starts_with("locked"), "{refused}");
    let started = Instant::now();
    let mut native = Writer::open("native", &dir, "");
    assert!(
        started.elapsed() < Duration::from_millis(LEASE_MS),
        "native waited"
    );
    assert_eq!(native.append("two"), Ok(2));
    native.kill9();
    let (mut comp, waited) = open_when_free("component", &dir);
    assert!(
        waited >= Duration::from_millis(LEASE_MS - LEASE_MS / 5),
        "{waited:?}"
    );
    assert_eq!(comp.append("three"), Ok(3));
    assert_eq!(comp.finish(), "closed");
    assert_all_present(
        &dir,
        &[(1, "one".into()), (2, "two".into()), (3, "three".into())],
    );
}

#[test]
fn rm_lock_under_a_component_writer_the_newcomer_settles_and_the_old_holder_fails() {
    let (_tmp, dir) = temp_trail();
    let mut old = Writer::open_with("component", &dir, "old", SHORT_LEASE_MS);
    let mut acked = Vec::new();
    for n in 1..=3 {
        let p = format!("old {n}");
        acked.push((old.append(&p).unwrap(), p));
    }
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    let started = Instant::now();
    let mut new = Writer::open_with("native", &dir, "", SHORT_LEASE_MS);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "no settle wait: {:?}",
        started.elapsed()
    );
    let err = old.append("old 4").unwrap_err();
    assert!(
        err.contains("Locked") && err.contains("another writer"),
        "{err}"
    );
    for n in 1..=2 {
        let p = format!("new {n}");
        acked.push((new.append(&p).unwrap(), p));
    }
    assert!(old.append("old 5").is_err(), "lost stays lost");
    assert_eq!(new.finish(), "closed");
    drop(old);
    assert_all_present(&dir, &acked);
}

#[test]
fn a_holder_stalled_past_its_lease_fails_instead_of_writing() {
    for stalled_kind in ["component", "native"] {
        let (_tmp, dir) = temp_trail();
        let mut stalled = Writer::open_with(stalled_kind, &dir, "stalled", SHORT_LEASE_MS);
        let mut acked = Vec::new();
        for n in 1..=2 {
            let p = format!("stalled {n}");
            acked.push((stalled.append(&p).unwrap(), p));
        }
        stalled.signal("-STOP");
        // A native holder's flock stays held while it is stopped: only a component, which
        // trusts the lease alone, takes over.
        let (mut taker, _) = open_when_free_with("component", &dir, SHORT_LEASE_MS);
        for n in 1..=2 {
            let p = format!("taker {n}");
            acked.push((taker.append(&p).unwrap(), p));
        }
        stalled.signal("-CONT");
        let err = stalled.append("stalled 3").unwrap_err();
        assert!(err.contains("another writer"), "{stalled_kind}: {err}");
        let p = "taker 3".to_string();
        acked.push((taker.append(&p).unwrap(), p));
        assert_eq!(taker.finish(), "closed");
        drop(stalled);
        assert_all_present(&dir, &acked);
        let all = records(&dir);
        assert_eq!(all.len(), 5, "{stalled_kind}: {all:?}");
    }
}
