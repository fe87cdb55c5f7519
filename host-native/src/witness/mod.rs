//! The witness side of C2SP tlog-witness: a [`Witness`] that decides `add-checkpoint`
//! requests against its durable state ([`store`]), served over HTTP ([`http`]) or used
//! offline on request files.

pub mod client;
pub mod http;
pub mod store;

use evident_core::note::{SigningKey, VerifierKey};
use evident_core::witness::{check_request, Refusal};
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
pub use store::StateStore;

/// A witness: its cosigner key, the logs it follows, its state.
pub struct Witness {
    key: SigningKey,
    logs: Vec<VerifierKey>,
    store: StateStore,
    /// One lock per origin, held across load, decide and store: the compare-and-swap that
    /// keeps two concurrent requests from rolling a log back.
    origins: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// Why a request got no cosignature.
#[derive(Debug)]
pub enum WitnessError {
    /// The protocol's refusal (400, 403, 404, 409, 422).
    Refused(Refusal),
    /// The witness could not read or store its state (500: nothing was cosigned).
    State(io::Error),
}

impl std::fmt::Display for WitnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WitnessError::Refused(r) => write!(f, "{r}"),
            WitnessError::State(e) => write!(f, "500 witness state: {e}"),
        }
    }
}

impl Witness {
    /// A witness cosigning with `key` for the logs `logs`, keeping state in `state_dir`.
    pub fn open(key: SigningKey, logs: Vec<VerifierKey>, state_dir: &Path) -> io::Result<Witness> {
        let store = StateStore::open(state_dir, key.verifier().clone())?;
        Ok(Witness {
            key,
            logs,
            store,
            origins: Mutex::new(HashMap::new()),
        })
    }

    /// The witness's verifier key.
    pub fn verifier(&self) -> &VerifierKey {
        self.key.verifier()
    }

    /// Handles one `add-checkpoint` body at `now` (seconds since the epoch): on success the
    /// new state is durable before the cosignature line is returned. Blocking (it fsyncs).
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<Vec<u8>, WitnessError> {
        let sub = check_request(body, &self.logs).map_err(WitnessError::Refused)?;
        let lock = {
            let mut m = self.origins.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(sub.body.origin.clone()).or_default().clone()
        };
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        let stored = self
            .store
            .load(&sub.body.origin)
            .map_err(WitnessError::State)?;
        let cosigned = sub
            .decide(stored.as_ref(), &self.key, now)
            .map_err(WitnessError::Refused)?;
        self.store
            .store(&cosigned.state)
            .map_err(WitnessError::State)?;
        Ok(cosigned.response)
    }

    /// The latest cosigned checkpoint of the log whose origin hashes to `origin_hash` (hex
    /// SHA-256), for the monitoring endpoint.
    pub fn latest(&self, origin_hash: &str) -> io::Result<Option<Vec<u8>>> {
        let origin = self
            .logs
            .iter()
            .map(|k| k.name())
            .find(|o| evident_core::witness::state_file_name(o) == origin_hash);
        match origin {
            Some(o) => Ok(self.store.load(o)?.map(|s| s.note)),
            None => Ok(None),
        }
    }
}

/// Seconds since the epoch, from the host's clock.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
