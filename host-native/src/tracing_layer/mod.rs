//! A [`tracing_subscriber::Layer`] that appends chosen `tracing` events to a [`Trail`] as
//! audit events (feature `tracing`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), evident_native::Error> {
//! use evident_native::tracing_layer::AuditLayer;
//! use evident_native::{Trail, TrailOptions};
//! use tracing_subscriber::prelude::*;
//!
//! let trail = Trail::open("/var/lib/agent-audit", TrailOptions::default()).await?;
//! let (layer, guard) = AuditLayer::builder(trail.clone()).default_agent("gateway").build();
//! tracing_subscriber::registry().with(layer).init();
//!
//! tracing::info!(target: "audit", kind = "tool.call", agent_id = "agent-7",
//!     correlation_id = "req-42", tool_name = "web.search", call_id = "call_1",
//!     decision = "allow", latency_ms = 87u64);
//! guard.flush();          // everything logged so far is durable
//! drop(guard);            // on shutdown: drains the queue, stops the writer thread
//! trail.close().await?;
//! # Ok(()) }
//! ```
//!
//! The caller's thread never waits for an fsync: events go through a bounded queue to a
//! writer thread of the layer, which appends them in batches (one write, one fsync per batch:
//! group commit). When the queue is full the caller waits ([`WhenFull::Wait`], the default:
//! for an audit trail an event must not vanish) or the event is dropped and counted
//! ([`WhenFull::DropAndCount`]); dropped counts are reported by [`AuditGuard::stats`] and
//! recorded in the trail itself as a `custom` event `evident.tracing.dropped`.

mod fields;
mod worker;

use crate::Trail;
use fields::{audit_event, Context, Fields};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use worker::Msg;

/// Which events go to the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    /// Events whose target is this (or below it: `audit` takes `audit::tools`). The default,
    /// with target `audit`.
    Target(String),
    /// Events that have a field of this name (e.g. `audit = true`), whatever their target; the
    /// field itself is not recorded.
    Field(String),
}

/// What a log call does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Wait for room (the default): no event is lost, and a caller may block while the disk
    /// is slow or the trail retries a failed write.
    #[default]
    Wait,
    /// Drop the event and count it: the caller never blocks; the count is in
    /// [`AuditGuard::stats`] and recorded in the trail (`evident.tracing.dropped`).
    DropAndCount,
}

/// Counters of the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Events appended and acknowledged by the trail.
    pub appended: u64,
    /// Events dropped because the queue was full ([`WhenFull::DropAndCount`]) or the writer
    /// had shut down.
    pub dropped: u64,
    /// Events the trail kept refusing for longer than the retry time (why:
    /// [`AuditGuard::last_error`]).
    pub failed: u64,
}

#[derive(Default)]
pub(crate) struct Shared {
    pub appended: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// Builds an [`AuditLayer`] and its [`AuditGuard`].
pub struct AuditLayerBuilder {
    trail: Trail,
    select: Select,
    when_full: WhenFull,
    capacity: usize,
    default_agent: String,
    retry_for: Duration,
}

impl AuditLayerBuilder {
    /// Which events to record (default: target `audit`).
    pub fn select(mut self, select: Select) -> Self {
        self.select = select;
        self
    }

    /// Shorthand for `select(Select::Target(target))`.
    pub fn target(self, target: impl Into<String>) -> Self {
        self.select(Select::Target(target.into()))
    }

    /// Shorthand for `select(Select::Field(name))`.
    pub fn field(self, name: impl Into<String>) -> Self {
        self.select(Select::Field(name.into()))
    }

    /// What a log call does when the queue is full (default [`WhenFull::Wait`]).
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// Events the queue holds (default 4096, at least 1).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// `gen_ai.agent.id` of events without an `agent_id` field (default: empty).
    pub fn default_agent(mut self, agent: impl Into<String>) -> Self {
        self.default_agent = agent.into();
        self
    }

    /// How long the writer retries a batch the trail refused (disk full, failed fsync) before
    /// counting it as failed (default 10 s; 100 ms doubling to 2 s between tries). Meanwhile
    /// the queue fills, and under [`WhenFull::Wait`] callers wait.
    pub fn retry_for(mut self, retry_for: Duration) -> Self {
        self.retry_for = retry_for;
        self
    }

    /// The layer, and the guard that flushes and stops its writer thread.
    pub fn build(self) -> (AuditLayer, AuditGuard) {
        let (tx, rx) = mpsc::sync_channel(self.capacity);
        let shared = Arc::new(Shared::default());
        let thread = worker::spawn(self.trail, rx, shared.clone(), self.retry_for);
        let layer = AuditLayer {
            tx: tx.clone(),
            select: self.select,
            when_full: self.when_full,
            default_agent: self.default_agent,
            shared: shared.clone(),
        };
        let guard = AuditGuard {
            tx,
            shared,
            thread: Some(thread),
        };
        (layer, guard)
    }
}

/// The layer: add it to a `tracing_subscriber::registry()`.
pub struct AuditLayer {
    tx: SyncSender<Msg>,
    select: Select,
    when_full: WhenFull,
    default_agent: String,
    shared: Arc<Shared>,
}

impl AuditLayer {
    /// A builder over `trail` (a clone of the handle: close the trail after the guard).
    pub fn builder(trail: Trail) -> AuditLayerBuilder {
        AuditLayerBuilder {
            trail,
            select: Select::Target("audit".into()),
            when_full: WhenFull::Wait,
            capacity: 4096,
            default_agent: String::new(),
            retry_for: Duration::from_secs(10),
        }
    }

    fn selects(&self, event: &Event<'_>) -> bool {
        match &self.select {
            Select::Target(t) => {
                let target = event.metadata().target();
                target == t
                    || target
                        .strip_prefix(t.as_str())
                        .is_some_and(|rest| rest.starts_with("::"))
            }
            Select::Field(name) => event.metadata().fields().field(name).is_some(),
        }
    }
}

impl<S: Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &Event<'_>, _cx: LayerContext<'_, S>) {
        if !self.selects(event) {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let marker = match &self.select {
            Select::Field(name) => Some(name.as_str()),
            Select::Target(_) => None,
        };
        let cx = Context {
            default_agent: &self.default_agent,
            target: meta.target(),
            level: meta.level().as_str(),
            marker,
        };
        let msg = Msg::Event(audit_event(fields, &cx).to_json());
        let sent = match self.when_full {
            WhenFull::Wait => self.tx.send(msg).is_ok(),
            WhenFull::DropAndCount => match self.tx.try_send(msg) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
            },
        };
        if !sent {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Flushes the layer and, when dropped, drains its queue and stops its writer thread.
pub struct AuditGuard {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl AuditGuard {
    /// Waits until every event logged before this call has been appended (acknowledged under
    /// the trail's durability policy) or counted as failed.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        Stats {
            appended: self.shared.appended.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }

    /// The last error the trail returned to the writer, if any.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Drains the queue, stops the writer thread and returns the final counters (what
    /// dropping the guard does, with the counters). Events logged afterwards are dropped and
    /// counted.
    pub fn shutdown(mut self) -> Stats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.tx.send(Msg::Shutdown);
            let _ = thread.join();
        }
    }
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        self.stop();
    }
}
