//! A bucket listing checked against the manifests: what is missing, resized or extra.

use super::chain::ArchiveHistory;
use super::keys::{self, RelKey};
use std::collections::BTreeMap;

/// One problem found by comparing a listing with the manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingProblem {
    /// A segment a manifest lists has no object.
    Missing {
        /// Its key (relative to the log's folder).
        key: String,
        /// Its first seq.
        first_seq: u64,
        /// Its last seq.
        last_seq: u64,
    },
    /// A segment's object has another size than its manifest says: replaced.
    Resized {
        /// Its key.
        key: String,
        /// Its first seq.
        first_seq: u64,
        /// The manifest's size.
        expected: u64,
        /// The object's size.
        found: u64,
    },
}

impl std::fmt::Display for ListingProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListingProblem::Missing { key, first_seq, last_seq } => write!(
                f,
                "missing: {key} (seq {first_seq}..={last_seq}) is listed by a manifest but not in the bucket"
            ),
            ListingProblem::Resized { key, first_seq, expected, found } => write!(
                f,
                "altered: {key} (from seq {first_seq}) has {found} bytes, its manifest says {expected}"
            ),
        }
    }
}

/// The verdict on a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingReport {
    /// Missing and resized segment objects (the archive is damaged).
    pub problems: Vec<ListingProblem>,
    /// Objects no manifest lists (keys relative to the log's folder): segments uploaded by a
    /// round that did not finish (the next round lists them), or foreign objects. Never trusted,
    /// never read; not damage.
    pub extra: Vec<String>,
}

/// Compares `listing` (relative key, size) of a log's folder with its validated `history`.
pub fn check_listing(history: &ArchiveHistory, listing: &[(String, u64)]) -> ListingReport {
    let present: BTreeMap<&str, u64> = listing.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    let mut report = ListingReport::default();
    for (_, e) in &history.segments {
        match present.get(e.key.as_str()) {
            None => report.problems.push(ListingProblem::Missing {
                key: e.key.clone(),
                first_seq: e.first_seq,
                last_seq: e.last_seq,
            }),
            Some(&found) if found != e.size => report.problems.push(ListingProblem::Resized {
                key: e.key.clone(),
                first_seq: e.first_seq,
                expected: e.size,
                found,
            }),
            Some(_) => {}
        }
    }
    for (key, _) in listing {
        let listed = match keys::parse_rel_key(key) {
            RelKey::Manifest(r) => history.manifests.iter().any(|m| m.round == r),
            RelKey::Segment(seq) => history.segment(seq).is_some_and(|e| &e.key == key),
            RelKey::Other => false,
        };
        if !listed {
            report.extra.push(key.clone());
        }
    }
    report
}
