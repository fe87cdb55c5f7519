//! The tile lane's thread: performs the core's tile requests ([`Core::poll_tile_io`]) beside
//! the driver thread, so a tile write never delays a write, a sync or an acknowledgement.
//!
//! One request is outstanding at a time (the core's rule for the lane). The thread has its own
//! [`FsExecutor`] on the trail directory (files opened relative to it, never through a
//! symlink, tile directories walked the same way). It holds no lease: the driver hands it work
//! only while it holds the trail's, and drains it before releasing the lease at close.

use crate::fs_exec::FsExecutor;
use evident_core::{IoId, IoRequest, IoResult, Trail as Core};
use std::path::Path;
use tokio::sync::mpsc;

/// The driver's end of the tile lane's thread.
pub(crate) struct TileWorker {
    /// `None` when the thread could not be started or has stopped: then no tiles are written.
    tx: Option<std::sync::mpsc::Sender<IoRequest>>,
    results: mpsc::UnboundedReceiver<(IoId, IoResult)>,
    /// A result received while waiting, not yet handed to the core.
    ready: Option<(IoId, IoResult)>,
    busy: bool,
}

impl TileWorker {
    /// Starts the thread for the trail in `dir`.
    pub(crate) fn spawn(dir: &Path) -> TileWorker {
        let (tx, rx) = std::sync::mpsc::channel::<IoRequest>();
        let (results_tx, results) = mpsc::unbounded_channel();
        let dir = dir.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("evident-tiles".into())
            .spawn(move || {
                // Tiles are derived data written off the acknowledgement path: they wait for
                // idle CPU rather than take it from the driver and the producers.
                crate::background_priority::lower_priority();
                let mut exec = FsExecutor::new(dir);
                while let Ok(req) = rx.recv() {
                    let r = exec.perform(&req.op);
                    if results_tx.send((req.id, r)).is_err() {
                        break;
                    }
                }
            });
        TileWorker {
            tx: spawned.is_ok().then_some(tx),
            results,
            ready: None,
            busy: false,
        }
    }

    /// Hands the finished request's result to the core, and the lane's next request (if any)
    /// to the thread. Returns whether a result was handed over.
    pub(crate) fn pump(&mut self, core: &mut Core) -> bool {
        let mut handled = false;
        if let Some((id, r)) = self.ready.take() {
            core.handle_tile_io(id, r);
            self.busy = false;
            handled = true;
        }
        while let Ok((id, r)) = self.results.try_recv() {
            core.handle_tile_io(id, r);
            self.busy = false;
            handled = true;
        }
        if self.busy {
            return handled;
        }
        let Some(tx) = &self.tx else { return handled };
        if let Some(req) = core.poll_tile_io() {
            match tx.send(req) {
                Ok(()) => self.busy = true,
                Err(_) => self.tx = None, // the thread is gone: no more tiles
            }
        }
        handled
    }

    /// Resolves once a result is waiting; never while nothing is outstanding.
    pub(crate) async fn done(&mut self) {
        if !self.busy || self.ready.is_some() {
            return std::future::pending().await;
        }
        match self.results.recv().await {
            Some(r) => self.ready = Some(r),
            None => {
                self.tx = None;
                self.busy = false;
            }
        }
    }

    /// Performs what the lane still has (after the close: the tiles it holds in memory),
    /// waiting for each result. Must not be called from inside the runtime.
    pub(crate) fn drain(&mut self, core: &mut Core) {
        loop {
            self.pump(core);
            if !self.busy {
                return;
            }
            match self.results.blocking_recv() {
                Some(r) => self.ready = Some(r),
                None => {
                    self.tx = None;
                    self.busy = false;
                    return;
                }
            }
        }
    }
}
