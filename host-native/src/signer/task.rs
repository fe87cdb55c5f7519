//! The background signer: woken by the driver whenever the durable head moves or a segment
//! rotates, it signs at once after a rotation, and otherwise at most once per interval (the
//! wake-ups in between are coalesced into the next signature, which covers the latest head).

use super::Live;
use crate::driver::Snapshot;
use evident_core::witness::CheckpointBody;
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// The durable head and the rotation count, as the driver last published them.
pub(crate) fn current_head(snapshot: &Mutex<Snapshot>) -> (CheckpointBody, u64) {
    let s = snapshot.lock().unwrap_or_else(|p| p.into_inner());
    (
        CheckpointBody {
            origin: s.origin.clone(),
            size: s.tree.size,
            root: s.tree.root,
        },
        s.rotations,
    )
}

/// Runs the background signer until `stop` fires or its sender is dropped (the trail closed or
/// its last handle went); then signs the head once more and ends.
pub(crate) fn spawn(
    live: Arc<Live>,
    snapshot: Arc<Mutex<Snapshot>>,
    wake: Arc<Notify>,
    mut stop: oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    // Read now, not when the task first runs: rotations before that must still sign.
    let (_, mut rotations) = current_head(&snapshot);
    let mut last_sign = Instant::now();
    tokio::spawn(async move {
        let interval = live.interval();
        'run: loop {
            tokio::select! {
                _ = wake.notified() => {}
                _ = &mut stop => break 'run,
            }
            // Wait for the interval to pass, cut short by a rotation (a wake-up in between
            // is only a newer head, which the coming signature covers).
            let due = last_sign + interval;
            while current_head(&snapshot).1 == rotations && Instant::now() < due {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = wake.notified() => {}
                    _ = &mut stop => break 'run,
                }
            }
            let (head, r) = current_head(&snapshot);
            rotations = r;
            // A failure is kept in the status (and retried at the next wake-up).
            let _ = live.sign(head).await;
            last_sign = Instant::now();
        }
        let (head, _) = current_head(&snapshot);
        let _ = live.sign(head).await;
    })
}
