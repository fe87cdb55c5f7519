//! Options of a trail: segment size, durability policy, recovery mode, batch limits.

/// Sparse index stride: one footer index entry per this many bytes of records. A format
/// constant (recorded in every footer) so every writer and verifier rebuilds the same index.
pub const INDEX_STRIDE: u32 = 64 * 1024;

/// When an append is acknowledged, in the manner of SQLite's `synchronous` and journald's
/// `SyncIntervalSec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Acknowledge only after the fsync that covers the record succeeded. Concurrent appends
    /// share one write and one fsync (group commit). The default.
    Always,
    /// Acknowledge once written to the operating system; fsync at most `nanos` after the first
    /// unsynced write. A power loss may lose up to that window; a process crash loses nothing.
    Interval {
        /// Longest time written data stays unsynced, in nanoseconds of host time.
        nanos: u64,
    },
    /// Acknowledge once written to the operating system; fsync only at rotation, close and on
    /// explicit `sync`. A process crash loses nothing; a power loss may lose what the OS had
    /// not flushed.
    Os,
}

/// What recovery does with damage at the end of the last segment (raft-engine's modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Refuse to open if the last segment does not end cleanly: nothing is ever cut.
    AbsoluteConsistency,
    /// Cut a torn tail (an incomplete or damaged end with nothing valid after it) and report
    /// it. Corruption followed by valid records is still refused. The default.
    TolerateTornTail,
}

/// Everything configurable about a trail. `Options::default()` is what the README documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Rotate to a new segment before a record would make the current one's records exceed
    /// this size (a segment always holds at least one record). The footer that seals a segment
    /// comes after its records, so a sealed file is this size plus its footer (104 bytes plus
    /// 24 per 64 KiB of records). Default 64 MiB.
    pub segment_bytes: u64,
    /// Largest payload accepted by `append`, at most [`crate::frame::MAX_PAYLOAD`]. Default 1 MiB.
    pub max_payload: u32,
    /// When appends are acknowledged. Default [`Durability::Always`].
    pub durability: Durability,
    /// What recovery may cut. Default [`RecoveryMode::TolerateTornTail`].
    pub recovery: RecoveryMode,
    /// Most bytes of records in one write. Default 4 MiB.
    pub max_batch_bytes: usize,
    /// Most records in one write. Default 16384.
    pub max_batch_records: usize,
    /// Consecutive successful durable writes that take a degraded trail back to healthy.
    /// Default 3.
    pub healthy_after: u32,
    /// Reserve each new segment's full size when it is created, so appends overwrite
    /// allocated space instead of extending the file. Default true.
    pub preallocate: bool,
    /// Bytes after the last record that the writer keeps written with zeros, in chunks of an
    /// eighth of this, between batches (with `preallocate` and [`Durability::Always`], where
    /// every acknowledgement waits for an `fdatasync`; 0 turns it off). Preallocated
    /// space is reserved but unwritten (`fallocate`), or sparse where the host cannot reserve
    /// (WASI), so the `fdatasync` of an append into it also commits the allocation or the
    /// extent change; over blocks already written it flushes only the data (BENCHMARKS.md,
    /// finding 23). The zeros are what the space reads as anyway: nothing in the format
    /// changes, and nothing depends on them.
    /// Default 2 MiB.
    pub zero_fill_ahead: u64,
    /// Whether zeros are also written while the writer has nothing else to do, up to the
    /// whole of `zero_fill_ahead` (otherwise only before a batch, one chunk at a time, once
    /// less than half of it is left). Right where the host drives the writer between its
    /// callers' requests (the native driver thread); a host that runs the writer only inside
    /// its callers' calls (the WASI component) sets it false, since there the writer is idle
    /// only at the end of a call, and filling then would make that call wait. Default true.
    pub zero_fill_when_idle: bool,
    /// Bytes per read when scanning a segment. Default 1 MiB.
    pub read_chunk: u32,
    /// Rewrite `head.checkpoint` after every rotation (it is always written on close).
    /// Default true.
    pub checkpoint_on_rotate: bool,
    /// Refresh `head.checkpoint` with the durable head at most this often (nanoseconds of
    /// host time) while new records become durable, off the appends' critical path, so that
    /// after a crash damage to records acknowledged before the last refresh is reported as
    /// corruption rather than cut as a torn tail. 0 turns the periodic refresh off. Default
    /// 1 s.
    pub checkpoint_interval: u64,
    /// The trail's origin (the first line of its C2SP checkpoints), used when the open
    /// creates the trail and persisted in the `origin` file; `None` = `evident/<log id hex>`.
    /// Opening an existing trail with an origin other than its own is refused (the origin
    /// never changes). At most 255 bytes of printable ASCII without spaces or `+`.
    pub origin: Option<String>,
    /// Keep the Merkle tree (RFC 6962) over the records: advanced in group commit, its edge
    /// in every footer, its root in `head.checkpoint`, its tiles under `tile/`. Default true.
    ///
    /// Off only to measure what the tree costs the writer (the benchmark's "without the tree"
    /// contender, BENCHMARKS.md): a trail written with it off lacks everything the tree gives —
    /// no tree edge in its footers, no root in its checkpoint, no tiles, no C2SP checkpoint
    /// (the head's tree is the empty one), so nothing in it can be proven, signed, witnessed
    /// or archived. To keep such a trail from passing for a real one, an open with it off
    /// only creates a new trail (a directory holding segments is refused) and marks it with
    /// the file [`crate::naming::NO_MERKLE_TREE`]; opening or verifying a marked trail is
    /// refused, naming that file. The CLI and the component have no way to turn it off.
    pub merkle_tree: bool,
}

/// The allowed range of each option, checked by [`Options::validate`] when a trail opens.
pub mod limits {
    use crate::footer::FOOTER_FIXED_LEN;
    use crate::frame::{entry_frame_len, MAX_PAYLOAD};
    use crate::header::HEADER_LEN;

    /// Smallest `segment_bytes`: a header, a small record and a footer, with room to spare.
    pub const MIN_SEGMENT_BYTES: u64 = 1024;
    /// Largest `segment_bytes` (1 TiB).
    pub const MAX_SEGMENT_BYTES: u64 = 1 << 40;
    /// Largest `max_payload`: the format's limit, 16 MiB - 1.
    pub const MAX_PAYLOAD_LIMIT: u32 = MAX_PAYLOAD as u32;
    /// Smallest and largest `read_chunk`.
    pub const READ_CHUNK: (u32, u32) = (4096, 1 << 30);
    /// Largest `max_batch_bytes` (1 GiB).
    pub const MAX_BATCH_BYTES: usize = 1 << 30;
    /// Largest `checkpoint_interval` (1 hour).
    pub const MAX_CHECKPOINT_INTERVAL: u64 = 3600 * 1_000_000_000;

    const _: () =
        assert!((HEADER_LEN + entry_frame_len(0) + FOOTER_FIXED_LEN) as u64 <= MIN_SEGMENT_BYTES);
}

impl Options {
    /// Checks every option against its allowed range ([`limits`]); the first one outside it
    /// is an [`Error::InvalidArgument`](crate::Error::InvalidArgument) naming the option, its
    /// value and the range. Opening a trail with such options fails with that error.
    pub fn validate(&self) -> Result<(), crate::Error> {
        use limits::*;
        fn range<T: PartialOrd + std::fmt::Display>(
            name: &str,
            v: T,
            lo: T,
            hi: T,
        ) -> Result<(), crate::Error> {
            if v < lo || v > hi {
                return Err(crate::Error::InvalidArgument {
                    what: format!("{name} is {v}; allowed range is {lo} ..= {hi}"),
                });
            }
            Ok(())
        }
        range(
            "segment-bytes",
            self.segment_bytes,
            MIN_SEGMENT_BYTES,
            MAX_SEGMENT_BYTES,
        )?;
        range("max-payload", self.max_payload, 1, MAX_PAYLOAD_LIMIT)?;
        range("max-batch-bytes", self.max_batch_bytes, 1, MAX_BATCH_BYTES)?;
        range("max-batch-records", self.max_batch_records, 1, 1 << 20)?;
        range("healthy-after", self.healthy_after, 1, 1_000_000)?;
        range("read-chunk", self.read_chunk, READ_CHUNK.0, READ_CHUNK.1)?;
        range(
            "zero-fill-ahead",
            self.zero_fill_ahead,
            0,
            MAX_SEGMENT_BYTES,
        )?;
        range(
            "checkpoint-interval (ns)",
            self.checkpoint_interval,
            0,
            MAX_CHECKPOINT_INTERVAL,
        )?;
        if let Some(origin) = &self.origin {
            crate::tree::checkpoint::check_origin(origin)
                .map_err(|what| crate::Error::InvalidArgument { what })?;
        }
        if let Durability::Interval { nanos } = self.durability {
            range(
                "durability interval (ns)",
                nanos,
                1,
                MAX_CHECKPOINT_INTERVAL,
            )?;
        }
        Ok(())
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            segment_bytes: 64 << 20,
            max_payload: 1 << 20,
            durability: Durability::Always,
            recovery: RecoveryMode::TolerateTornTail,
            max_batch_bytes: 4 << 20,
            max_batch_records: 16384,
            healthy_after: 3,
            preallocate: true,
            zero_fill_ahead: 2 << 20,
            zero_fill_when_idle: true,
            read_chunk: 1 << 20,
            checkpoint_on_rotate: true,
            checkpoint_interval: 1_000_000_000,
            origin: None,
            merkle_tree: true,
        }
    }
}
