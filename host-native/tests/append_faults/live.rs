//! A running `evident append --json` fed line by line, so that a test can change the trail
//! directory under a writer that has already opened it: write some lines, wait for their
//! acknowledgements, plant the obstacle, write the rest, close stdin. (Planting it before the
//! command starts tests something else: open refuses a non-regular entry with a trail name.)

use super::describe;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A live `evident` process with piped stdio; killed (by its pid) if the test ends before it
/// exits.
pub struct LiveAppend {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Stdout lines (the acknowledgements) as the process prints them.
    lines: mpsc::Receiver<String>,
    /// Every stdout line received so far.
    seen: Vec<String>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl LiveAppend {
    /// Starts `evident ARGS` (ARGS should include `append` and `--json`).
    pub fn start(args: &[&str]) -> LiveAppend {
        LiveAppend::start_with(args, &[])
    }

    /// Starts `evident ARGS` with the environment variables `env` added.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> LiveAppend {
        let mut child = Command::new(super::BIN)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the evident binary starts");
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let stderr = Some(std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            buf
        }));
        LiveAppend {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Writes `lines` (each followed by a newline) to the process's stdin.
    pub fn send(&mut self, lines: &[Vec<u8>]) {
        let pipe = self.stdin.as_mut().expect("stdin still open");
        for l in lines {
            pipe.write_all(l).expect("write a line to evident");
            pipe.write_all(b"\n").expect("write a line to evident");
        }
        pipe.flush().expect("flush stdin");
    }

    /// Waits until `n` acknowledgements in all have been printed; fails the test (killing
    /// the process) after `limit`.
    pub fn wait_acks(&mut self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.seen.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => {
                    let out = self.end(Duration::ZERO);
                    panic!(
                        "{n} acknowledgements not printed within {limit:?}: {}",
                        describe(&out)
                    );
                }
            }
        }
    }

    /// Closes stdin and waits at most `limit` for the process to exit; returns its status,
    /// every stdout line and its stderr. Fails the test (killing it) past the limit.
    pub fn finish(mut self, limit: Duration) -> Output {
        self.stdin = None;
        let started = Instant::now();
        loop {
            if self.child.try_wait().expect("try_wait").is_some() {
                return self.end(Duration::from_secs(10));
            }
            if started.elapsed() > limit {
                let out = self.end(Duration::ZERO);
                panic!("evident did not exit within {limit:?}: {}", describe(&out));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process if it still runs after `grace`, then collects what it printed.
    fn end(&mut self, grace: Duration) -> Output {
        self.stdin = None;
        let started = Instant::now();
        while self.child.try_wait().expect("try_wait").is_none() && started.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait");
        // The stdout reader ends at the pipe's end (the process has exited).
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let mut stdout = self.seen.join("\n").into_bytes();
        if !stdout.is_empty() {
            stdout.push(b'\n');
        }
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for LiveAppend {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
