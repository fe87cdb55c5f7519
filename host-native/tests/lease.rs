//! One writer per trail between native processes (issue 10 §2, issue 16 §5): real `evident
//! append` processes, `kill -9`, `rm LOCK`.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `evident append DIR --raw`, killed by its pid when dropped (also on failure).
struct Appender {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Appender {
    fn start(dir: &std::path::Path, lease_ms: u64) -> Appender {
        let mut child = Command::new(BIN)
            .args(["append", s(dir), "--raw", "--lease", &lease_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("evident starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Appender {
            child,
            stdin,
            stdout,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one line and returns the seq it was acknowledged with (None: not acknowledged,
    /// the process said so on stderr or ended).
    fn append(&mut self, line: &str) -> Option<u64> {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").ok()?;
        stdin.flush().ok()?;
        let mut out = String::new();
        if self.stdout.read_line(&mut out).ok()? == 0 {
            return None;
        }
        out.split_whitespace().next()?.parse().ok()
    }

    /// Closes stdin and returns (exit code, stderr).
    fn finish(&mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        let mut err = String::new();
        use std::io::Read;
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.code(), err)
    }

    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill9();
        }
    }
}

#[test]
fn native_second_writer_is_refused_naming_the_pid_and_opens_at_once_after_kill_9() {
    let (_tmp, dir) = temp_trail();
    let mut first = Appender::start(&dir, 10_000);
    assert_eq!(first.append("one"), Some(1));
    let refused = evident(&["append", s(&dir), "--raw"], Some(b"intruder\n"));
    assert_eq!(code(&refused), 1, "{}", describe(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("locked") && err.contains(&format!("native pid={}", first.pid())),
        "{err}"
    );
    assert_eq!(
        first.append("two"),
        Some(2),
        "the refused writer changed nothing"
    );
    first.kill9();
    // The holder's flock died with it: the next writer takes over at once, well inside the
    // 10 s lease it left behind.
    let started = Instant::now();
    let next = evident(&["append", s(&dir), "--raw"], Some(b"three\n"));
    assert_eq!(code(&next), 0, "{}", describe(&next));
    assert!(started.elapsed() < Duration::from_secs(3));
    let payloads: Vec<Vec<u8>> = read_all(&dir).into_iter().map(|r| r.payload).collect();
    assert_eq!(
        payloads,
        [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
}

#[test]
fn removing_lock_does_not_let_a_second_native_writer_in() {
    let (_tmp, dir) = temp_trail();
    let mut first = Appender::start(&dir, 10_000);
    assert_eq!(first.append("one"), Some(1));
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    let refused = evident(&["append", s(&dir), "--raw"], Some(b"intruder\n"));
    assert_eq!(code(&refused), 1, "{}", describe(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("locked"));
    // The holder still holds the directory flock: it puts its lease back (exclusive create)
    // and goes on; the intruder wrote nothing.
    assert_eq!(first.append("two"), Some(2));
    let lock = std::fs::read_to_string(dir.join("LOCK")).unwrap();
    assert!(
        lock.contains(&format!("native pid={}", first.pid())),
        "{lock}"
    );
    let (code, _) = first.finish();
    assert_eq!(code, Some(0));
    drop(first);
    let payloads: Vec<Vec<u8>> = read_all(&dir).into_iter().map(|r| r.payload).collect();
    assert_eq!(payloads, [b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn inspect_shows_the_holder_without_writing_and_break_lock_refuses_a_live_native_writer() {
    let (_tmp, dir) = temp_trail();
    let mut first = Appender::start(&dir, 10_000);
    assert_eq!(first.append("one"), Some(1));
    let lock_before = std::fs::read(dir.join("LOCK")).unwrap();
    let out = evident(&["inspect", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("writer: active"), "{text}");
    assert!(
        text.contains(&format!("native pid={}", first.pid())),
        "{text}"
    );
    let out = evident(&["break-lock", s(&dir), "--force"], None);
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(dir.join("LOCK").exists());
    assert_eq!(first.append("two"), Some(2));
    let (code_first, _) = first.finish();
    drop(first);
    assert_eq!(code_first, Some(0));
    let after = std::fs::read_to_string(dir.join("LOCK")).unwrap();
    assert_eq!(after.len(), lock_before.len());
    assert!(
        after.ends_with("expires 00000000000000000000\n"),
        "released: {after}"
    );
    let out = evident(&["break-lock", s(&dir)], None);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(!dir.join("LOCK").exists());
}

#[test]
fn a_lock_that_is_not_a_lease_is_an_error_naming_it() {
    let (_tmp, dir) = temp_trail();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("LOCK"), b"something else\n").unwrap();
    let out = evident(&["append", s(&dir), "--raw"], Some(b"x\n"));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LOCK") && err.contains("break-lock"), "{err}");
    std::fs::remove_file(dir.join("LOCK")).unwrap();
    std::os::unix::fs::symlink("/tmp/evident-lease-victim", dir.join("LOCK")).unwrap();
    let out = evident(&["append", s(&dir), "--raw"], Some(b"x\n"));
    assert_eq!(code(&out), 1, "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert!(!std::path::Path::new("/tmp/evident-lease-victim").exists());
}

/// Holds the directory's `flock` through a descriptor of its own for `hold`, as a child
/// process that a writer's process was starting holds a copy of the writer's until it execs.
fn hold_flock(dir: &std::path::Path, hold: Duration) -> std::thread::JoinHandle<()> {
    use rustix::fs::{flock, open, FlockOperation, Mode, OFlags};
    let fd = open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap();
    // The lock a closed writer held can itself linger a moment: the other tests in this
    // process start `evident` children, and each holds a copy of every descriptor of this
    // process between its fork and its exec. So the directory is free within 5 s, not at once.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Err(e) = flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        assert!(
            e == rustix::io::Errno::WOULDBLOCK && Instant::now() < deadline,
            "the directory is free: {e}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::spawn(move || {
        std::thread::sleep(hold);
        drop(fd);
    })
}

#[test]
fn a_released_lease_whose_lock_lingers_a_moment_is_taken_not_refused() {
    let (_tmp, dir) = temp_trail();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let open = || evident_native::Trail::open(&dir, opts(1 << 20));
    rt.block_on(async {
        let t = open().await.unwrap();
        t.append(b"one".to_vec()).await.unwrap();
        t.close().await.unwrap();
    });
    // LOCK says released; the lock itself goes 200 ms later: the next open waits for it.
    let lingering = hold_flock(&dir, Duration::from_millis(200));
    let started = Instant::now();
    rt.block_on(async {
        let t = open()
            .await
            .expect("a released lease is taken once its lock goes");
        assert_eq!(t.append(b"two".to_vec()).await.unwrap().seq, 2);
        t.close().await.unwrap();
    });
    assert!(started.elapsed() >= Duration::from_millis(150));
    lingering.join().unwrap();
    // A lock that stays is a writer that stays: refused after the short wait, naming it.
    let staying = hold_flock(&dir, Duration::from_secs(3));
    let started = Instant::now();
    let Err(e) = rt.block_on(open()) else {
        panic!("a held lock is refused");
    };
    assert!(e.to_string().contains("locked"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    staying.join().unwrap();
}
