//! The layer's writer thread: takes events off the queue and appends them in batches, so one
//! write and one fsync cover all that queued up while the previous batch was being synced.

use super::Shared;
use crate::{AuditEvent, EventBody, Trail};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most events appended in one batch.
const MAX_BATCH: usize = 1024;

pub(crate) enum Msg {
    /// An event's canonical JSON.
    Event(Vec<u8>),
    /// Acknowledge once everything before it was appended.
    Flush(Sender<()>),
    /// Append what is before it, then stop.
    Shutdown,
}

pub(crate) fn spawn(
    trail: Trail,
    rx: Receiver<Msg>,
    shared: Arc<Shared>,
    retry_for: Duration,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("evident-tracing".into())
        .spawn(move || {
            // The trail's calls are futures: a small runtime of this thread's own awaits them.
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    if let Ok(mut last) = shared.last_error.lock() {
                        *last = Some(format!("the tracing writer cannot start: {e}"));
                    }
                    return;
                }
            };
            let mut writer = Writer {
                trail,
                shared,
                retry_for,
                reported_drops: 0,
            };
            rt.block_on(writer.run(rx));
        })
        .expect("spawning the evident-tracing thread")
}

struct Writer {
    trail: Trail,
    shared: Arc<Shared>,
    retry_for: Duration,
    reported_drops: u64,
}

impl Writer {
    async fn run(&mut self, rx: Receiver<Msg>) {
        loop {
            // Block for the first message, then take what else is queued (up to MAX_BATCH).
            let Ok(first) = rx.recv() else { return };
            let mut batch = Vec::new();
            let mut flushes = Vec::new();
            let mut stop = false;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Event(e) => batch.push(e),
                    Msg::Flush(ack) => flushes.push(ack),
                    Msg::Shutdown => {
                        stop = true;
                        break;
                    }
                }
                if batch.len() < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            self.report_drops(&mut batch);
            if !batch.is_empty() {
                self.append(batch).await;
            }
            for ack in flushes {
                let _ = ack.send(());
            }
            if stop {
                // Events logged until now were queued before Shutdown or are counted as
                // dropped by the layer once the queue is gone.
                self.report_drops(&mut Vec::new());
                return;
            }
        }
    }

    /// Records drops since the last report in the trail itself, so the gap is on the record.
    fn report_drops(&mut self, batch: &mut Vec<Vec<u8>>) {
        let total = self.shared.dropped.load(Ordering::Relaxed);
        if total > self.reported_drops {
            let event = AuditEvent {
                agent_id: String::new(),
                correlation_id: String::new(),
                body: EventBody::Custom {
                    name: "evident.tracing.dropped".into(),
                    data: serde_json::json!({
                        "dropped": total - self.reported_drops,
                        "total": total,
                    }),
                },
            };
            batch.push(event.to_json());
            self.reported_drops = total;
        }
    }

    /// Appends in order; a refused remainder is retried with backoff for `retry_for`.
    async fn append(&mut self, mut batch: Vec<Vec<u8>>) {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match self.trail.append_in_order(batch.clone()).await {
                Ok(done) => {
                    let n = done.receipts.len();
                    self.shared.appended.fetch_add(n as u64, Ordering::Relaxed);
                    match done.error {
                        None => return,
                        Some(e) => {
                            batch.drain(..n);
                            self.note(e.to_string());
                        }
                    }
                }
                Err(e) => self.note(e.to_string()),
            }
            if started.elapsed() >= self.retry_for {
                self.shared
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return;
            }
            tokio::time::sleep(pause.min(self.retry_for.saturating_sub(started.elapsed()))).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    fn note(&self, error: String) {
        if let Ok(mut last) = self.shared.last_error.lock() {
            *last = Some(error);
        }
    }
}
