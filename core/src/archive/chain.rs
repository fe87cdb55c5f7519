//! Validating the chain of manifests found in a bucket: the archived history of one log.

use super::keys::{self, RelKey};
use super::manifest::{sha256_hex, Manifest, SegmentEntry};
use crate::checkpoint::Checkpoint;
use crate::hash::{genesis, LogId};

/// Why a bucket's manifests are refused. Each names the manifest's key (relative to the log's
/// folder) and, where it concerns one, the seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// A manifest does not parse, or says something impossible (a bad hex field, a checkpoint
    /// that does not match its last segment).
    Invalid {
        /// The manifest's key.
        key: String,
        /// What is wrong.
        what: String,
    },
    /// A manifest's content names another round than its key: replaced by (or rolled back to)
    /// another round's manifest.
    WrongRound {
        /// The manifest's key.
        key: String,
        /// The round its content claims.
        claimed: u64,
    },
    /// A round is missing between two present ones (or round 1 is missing).
    MissingRound {
        /// The missing round.
        round: u64,
    },
    /// A manifest does not chain to the previous round's stored bytes: the previous one was
    /// edited, or this one belongs to another history (a fork).
    Fork {
        /// The manifest's key.
        key: String,
    },
    /// A manifest's first segment starts at or before the end of the archived history (the
    /// chain goes backwards), or after it (a gap), or does not continue its anchor.
    Discontinuous {
        /// The manifest's key.
        key: String,
        /// The seq expected next.
        expected_seq: u64,
        /// What is wrong.
        what: String,
    },
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainError::Invalid { key, what } => write!(f, "manifest {key}: {what}"),
            ChainError::WrongRound { key, claimed } => write!(
                f,
                "manifest {key} holds the content of round {claimed}: replaced or rolled back"
            ),
            ChainError::MissingRound { round } => write!(
                f,
                "manifest {} is missing: the manifest chain has a hole",
                keys::manifest_rel_key(*round)
            ),
            ChainError::Fork { key } => write!(
                f,
                "manifest {key} does not chain to the previous manifest's SHA-256: the previous one was edited or this one forks the history"
            ),
            ChainError::Discontinuous { key, expected_seq, what } => {
                write!(f, "manifest {key} (seq {expected_seq} expected next): {what}")
            }
        }
    }
}

impl std::error::Error for ChainError {}

/// One manifest of the validated chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// Its round.
    pub round: u64,
    /// Its key relative to the log's folder.
    pub key: String,
    /// SHA-256 of its stored bytes (what the next round chains to).
    pub sha256: String,
}

/// The archived history of one log, from a validated manifest chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveHistory {
    /// The log.
    pub log_id: LogId,
    /// The manifests, by round from 1.
    pub manifests: Vec<ManifestInfo>,
    /// Every archived segment, in seq order, with the round that listed it.
    pub segments: Vec<(u64, SegmentEntry)>,
    /// The checkpoint of the last manifest (the archived head); the empty trail's when there
    /// is no manifest.
    pub head: Checkpoint,
    /// The last manifest's C2SP tree checkpoint, when it has one.
    pub tree_checkpoint: Option<String>,
}

impl ArchiveHistory {
    /// The history of a log with nothing archived yet.
    pub fn empty(log_id: LogId) -> ArchiveHistory {
        ArchiveHistory {
            log_id,
            manifests: Vec::new(),
            segments: Vec::new(),
            head: Checkpoint::empty(log_id),
            tree_checkpoint: None,
        }
    }

    /// The round the next manifest gets.
    pub fn next_round(&self) -> u64 {
        self.manifests.len() as u64 + 1
    }

    /// SHA-256 the next manifest chains to.
    pub fn last_manifest_sha256(&self) -> Option<String> {
        self.manifests.last().map(|m| m.sha256.clone())
    }

    /// The archived segment starting at `first_seq`.
    pub fn segment(&self, first_seq: u64) -> Option<&SegmentEntry> {
        self.segments
            .binary_search_by_key(&first_seq, |(_, e)| e.first_seq)
            .ok()
            .map(|i| &self.segments[i].1)
    }

    /// Validates `manifests` (relative key and stored bytes, any order) of log `log_id`.
    pub fn from_manifests(
        log_id: LogId,
        manifests: &[(String, Vec<u8>)],
    ) -> Result<ArchiveHistory, ChainError> {
        let mut by_round: Vec<(u64, &String, &Vec<u8>)> = Vec::new();
        for (key, bytes) in manifests {
            match keys::parse_rel_key(key) {
                RelKey::Manifest(r) => by_round.push((r, key, bytes)),
                _ => {
                    return Err(ChainError::Invalid {
                        key: key.clone(),
                        what: "not a manifest key".into(),
                    })
                }
            }
        }
        by_round.sort_by_key(|(r, _, _)| *r);
        let mut h = ArchiveHistory::empty(log_id);
        for (round, key, bytes) in by_round {
            let expected = h.next_round();
            if round != expected {
                return Err(ChainError::MissingRound { round: expected });
            }
            h.append(key, bytes)?;
        }
        Ok(h)
    }

    /// Checks and adds the manifest stored under `key` as the next round.
    pub fn append(&mut self, key: &str, bytes: &[u8]) -> Result<(), ChainError> {
        let invalid = |what: String| ChainError::Invalid {
            key: key.to_string(),
            what,
        };
        let m = Manifest::decode(key, bytes).map_err(invalid)?;
        let round = self.next_round();
        if keys::parse_rel_key(key) != RelKey::Manifest(round) {
            return Err(invalid(format!("expected the key of round {round}")));
        }
        if m.round != round {
            return Err(ChainError::WrongRound {
                key: key.to_string(),
                claimed: m.round,
            });
        }
        if m.log_id != self.log_id.to_hex() {
            return Err(invalid(format!(
                "is for log {}, the folder is log {}",
                m.log_id, self.log_id
            )));
        }
        if m.prev_manifest_sha256 != self.last_manifest_sha256() {
            return Err(ChainError::Fork {
                key: key.to_string(),
            });
        }
        if m.segments.is_empty() {
            return Err(invalid("lists no segment".into()));
        }
        let mut next_seq = self.head.seq + 1;
        let mut prev_hash = self.head.hash;
        let first_segno = self.segments.last().map_or(0, |(_, e)| e.segno + 1);
        let discontinuous = |expected_seq: u64, what: String| ChainError::Discontinuous {
            key: key.to_string(),
            expected_seq,
            what,
        };
        for (next_segno, e) in (first_segno..).zip(&m.segments) {
            if e.first_seq < next_seq {
                return Err(discontinuous(
                    next_seq,
                    format!(
                        "segment {} starts at seq {}, already archived: the chain goes backwards",
                        e.key, e.first_seq
                    ),
                ));
            }
            if e.first_seq > next_seq {
                return Err(discontinuous(
                    next_seq,
                    format!(
                        "segment {} starts at seq {}: seqs {next_seq}..{} are not archived",
                        e.key, e.first_seq, e.first_seq
                    ),
                ));
            }
            if e.key != keys::segment_rel_key(e.first_seq) || e.last_seq < e.first_seq {
                return Err(invalid(format!(
                    "segment entry {} (seq {}..={}) is not well formed",
                    e.key, e.first_seq, e.last_seq
                )));
            }
            if e.segno != next_segno {
                return Err(discontinuous(
                    next_seq,
                    format!(
                        "segment {} is number {}, {next_segno} expected",
                        e.key, e.segno
                    ),
                ));
            }
            if e.anchor_hash() != Some(prev_hash) {
                return Err(discontinuous(
                    next_seq,
                    format!(
                        "segment {} anchor is not the previous segment's last hash",
                        e.key
                    ),
                ));
            }
            let Some(last) = e.last_hash_value() else {
                return Err(invalid(format!("segment {} last_hash is not hex", e.key)));
            };
            if e.sha256.len() != 64 || !crate::hash::is_lower_hex(&e.sha256) {
                return Err(invalid(format!("segment {} sha256 is not hex", e.key)));
            }
            next_seq = e.last_seq + 1;
            prev_hash = last;
        }
        let cp = m
            .parsed_checkpoint()
            .map_err(|e| invalid(format!("checkpoint: {e}")))?;
        let head = Checkpoint {
            log_id: self.log_id,
            seq: next_seq - 1,
            hash: prev_hash,
        };
        if cp != head {
            return Err(invalid(format!(
                "checkpoint (seq {}) is not its last segment's end (seq {})",
                cp.seq, head.seq
            )));
        }
        if round == 1 && m.segments[0].anchor_hash() != Some(genesis(&self.log_id)) {
            return Err(invalid(
                "round 1 does not start from the genesis hash".into(),
            ));
        }
        self.head = head;
        self.tree_checkpoint = m.tree_checkpoint.clone();
        self.manifests.push(ManifestInfo {
            round,
            key: key.to_string(),
            sha256: sha256_hex(bytes),
        });
        self.segments
            .extend(m.segments.into_iter().map(|e| (round, e)));
        Ok(())
    }
}
