//! Archiving sealed segments to S3-compatible object storage, verifying and listing from the
//! bucket.
//!
//! The decisions (what to upload, what a manifest says, whether a manifest chain holds, what a
//! listing lacks, what retention may delete) are the core's ([`evident_core::archive`]); this
//! module performs them over HTTP with the `object_store` crate (S3 SigV4, create-only PUTs
//! with `If-None-Match: *`, SHA-256 checksums, retries with backoff, range GETs).

mod background;
mod cache;
mod error;
mod history;
mod local;
mod objects;
mod query;
mod retain;
mod round;
mod target;
mod verify_bucket;

pub(crate) use background::DriverLink;
pub use background::{ArchiveStatus, Background, BackgroundArchive};
pub use cache::{CacheStats, SegmentCache};
pub use error::ArchiveError;
pub use history::{verify_with_archive, HistoryReport};
pub use local::{local_segments, read_log_id};
pub use objects::{load_history, PutOutcome};
pub use query::{query_with_archive, query_with_archive_cached, FetchStats};
pub use retain::{finish_interrupted_retention, retain, RetainReport};
pub use round::{archive_round, RoundReport, RoundTimings};
pub use target::{ArchiveTarget, Credentials, StoreConfig};
pub use verify_bucket::{list_logs, verify_bucket, BucketReport, LogSummary};
