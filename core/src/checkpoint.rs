//! Checkpoints: the small statement "trail `log_id` holds `seq` records and the chain hash of
//! record `seq` is `hash`", meant to be shipped off the host (stdout, a SIEM, a witness).
//!
//! Verifying a trail against a checkpoint proves the trail still contains that prefix, which a
//! hash chain alone cannot show about its own tail. Text form (one field per line, LF endings):
//!
//! ```text
//! evident-checkpoint v1
//! log 00112233445566778899aabbccddeeff
//! seq 42
//! hash <64 hex digits>
//! ```
//!
//! A JSON form `{"log_id":"…","seq":42,"hash":"…"}` is accepted too.

use crate::hash::{genesis, Hash, LogId};
use serde::{Deserialize, Serialize};

/// First line of the text form.
pub const CHECKPOINT_HEADER: &str = "evident-checkpoint v1";

/// A trail's head at some moment: enough to prove later that the trail still holds that prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The trail.
    pub log_id: LogId,
    /// Number of records covered; also the seq of the last one (seqs start at 1). 0 for an
    /// empty trail, whose hash is then the genesis value.
    pub seq: u64,
    /// Chain hash of record `seq`.
    pub hash: Hash,
}

#[derive(Serialize, Deserialize)]
struct CheckpointJson {
    log_id: String,
    seq: u64,
    hash: String,
}

/// Why a checkpoint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointParseError(pub String);

impl std::fmt::Display for CheckpointParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid checkpoint: {}", self.0)
    }
}

impl std::error::Error for CheckpointParseError {}

impl Checkpoint {
    /// The checkpoint of an empty trail.
    pub fn empty(log_id: LogId) -> Checkpoint {
        Checkpoint {
            log_id,
            seq: 0,
            hash: genesis(&log_id),
        }
    }

    /// The text form, ending with a newline.
    pub fn to_text(&self) -> String {
        format!(
            "{CHECKPOINT_HEADER}\nlog {}\nseq {}\nhash {}\n",
            self.log_id, self.seq, self.hash
        )
    }

    /// The JSON form (one line, no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&CheckpointJson {
            log_id: self.log_id.to_hex(),
            seq: self.seq,
            hash: self.hash.to_hex(),
        })
        .expect("serializing strings and integers cannot fail")
    }

    /// Parses the text or the JSON form.
    pub fn parse(s: &str) -> Result<Checkpoint, CheckpointParseError> {
        let err = |m: &str| CheckpointParseError(m.to_string());
        let t = s.trim();
        if t.starts_with('{') {
            let j: CheckpointJson =
                serde_json::from_str(t).map_err(|e| CheckpointParseError(e.to_string()))?;
            return Ok(Checkpoint {
                log_id: LogId::from_hex(&j.log_id)
                    .ok_or_else(|| err("log_id is not 32 hex digits"))?,
                seq: j.seq,
                hash: Hash::from_hex(&j.hash).ok_or_else(|| err("hash is not 64 hex digits"))?,
            });
        }
        let mut lines = t.lines().map(str::trim);
        if lines.next() != Some(CHECKPOINT_HEADER) {
            return Err(err("first line is not `evident-checkpoint v1`"));
        }
        let mut field = |name: &str| -> Result<String, CheckpointParseError> {
            let line = lines
                .next()
                .ok_or_else(|| CheckpointParseError(format!("missing `{name}` line")))?;
            line.strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .map(|v| v.trim().to_string())
                .ok_or_else(|| CheckpointParseError(format!("expected `{name} …`, found `{line}`")))
        };
        let log_id =
            LogId::from_hex(&field("log")?).ok_or_else(|| err("log is not 32 hex digits"))?;
        let seq = field("seq")?
            .parse()
            .map_err(|_| err("seq is not a decimal number"))?;
        let hash =
            Hash::from_hex(&field("hash")?).ok_or_else(|| err("hash is not 64 hex digits"))?;
        if lines.next().is_some() {
            return Err(err("unexpected text after the hash line"));
        }
        Ok(Checkpoint { log_id, seq, hash })
    }
}

impl Checkpoint {
    /// Parses a checkpoint file written by the trail itself: only the exact text form is
    /// accepted, so that any change to the file (even of letter case or spacing) is reported.
    pub fn parse_canonical(s: &str) -> Result<Checkpoint, CheckpointParseError> {
        let cp = Checkpoint::parse(s)?;
        if cp.to_text() != s {
            return Err(CheckpointParseError(
                "not in canonical form (the file was changed)".into(),
            ));
        }
        Ok(cp)
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_round_trip() {
        let c = Checkpoint {
            log_id: LogId([0xa5; 16]),
            seq: 42,
            hash: Hash([0x3c; 32]),
        };
        assert_eq!(Checkpoint::parse(&c.to_text()), Ok(c));
        assert_eq!(Checkpoint::parse(&c.to_json()), Ok(c));
        assert_eq!(Checkpoint::parse(&format!("  {}  ", c.to_json())), Ok(c));
    }

    #[test]
    fn malformed_checkpoints_say_what_is_wrong() {
        let c = Checkpoint::empty(LogId([1; 16]));
        let text = c.to_text();
        let e = Checkpoint::parse(&text.replace("seq 0", "seq x")).unwrap_err();
        assert!(e.0.contains("seq"), "{e}");
        let e = Checkpoint::parse(&text.replace("evident-checkpoint v1", "nope")).unwrap_err();
        assert!(e.0.contains("first line"), "{e}");
        assert!(Checkpoint::parse(&format!("{text}extra\n")).is_err());
        assert!(Checkpoint::parse("{\"log_id\":\"zz\",\"seq\":1,\"hash\":\"00\"}").is_err());
        assert!(Checkpoint::parse("").is_err());
        assert!(Checkpoint::parse_canonical(&text).is_ok());
        assert!(Checkpoint::parse_canonical(
            &text
                .to_uppercase()
                .replace("EVIDENT-CHECKPOINT V1", "evident-checkpoint v1")
        )
        .is_err());
        assert!(Checkpoint::parse_canonical(&format!("{text}\n")).is_err());
    }
}
