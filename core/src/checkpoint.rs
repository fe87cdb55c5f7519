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
//! A JSON form `{"log_id":"…","seq":42,"hash":"…"}` is accepted too. Both forms are strict (see
//! [`Checkpoint::parse`] and FORMAT.md, "Checkpoint forms"): one checkpoint has one spelling.

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
#[serde(deny_unknown_fields)]
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

    /// Parses the text or the JSON form. Both are strict, so that one checkpoint has one
    /// spelling and a changed file is never silently read as the same statement:
    /// - the text form must be byte for byte what [`Checkpoint::to_text`] writes: four lines,
    ///   each ending in one LF (no CR, no other whitespace, nothing after the last LF), hex in
    ///   lower case, `seq` in decimal without sign or leading zeros;
    /// - the JSON form is one object with exactly the keys `log_id`, `seq` and `hash` (no other,
    ///   none twice), hex in lower case, `seq` a JSON integer; JSON whitespace around it (a final
    ///   LF, say) is allowed.
    ///
    /// The text form may carry the fifth line `root <hex>` of a trail's own `head.checkpoint`
    /// (a copy of that file is a checkpoint); the chain checkpoint is returned without it
    /// ([`Checkpoint::parse_own_file`] returns the root too).
    ///
    /// The error names the line (text form) or the key (JSON form) that is wrong.
    pub fn parse(s: &str) -> Result<Checkpoint, CheckpointParseError> {
        if s.trim_start().starts_with('{') {
            return Checkpoint::parse_json(s);
        }
        Checkpoint::parse_own_file(s).map(|(cp, _root)| cp)
    }

    fn parse_json(s: &str) -> Result<Checkpoint, CheckpointParseError> {
        let err = |m: String| CheckpointParseError(m);
        let j: CheckpointJson =
            serde_json::from_str(s).map_err(|e| err(format!("JSON form: {e}")))?;
        let log_id = crate::hash::is_lower_hex(&j.log_id)
            .then(|| LogId::from_hex(&j.log_id))
            .flatten()
            .ok_or_else(|| err("JSON form: log_id is not 32 lower-case hex digits".into()))?;
        let hash = crate::hash::is_lower_hex(&j.hash)
            .then(|| Hash::from_hex(&j.hash))
            .flatten()
            .ok_or_else(|| err("JSON form: hash is not 64 lower-case hex digits".into()))?;
        Ok(Checkpoint {
            log_id,
            seq: j.seq,
            hash,
        })
    }

    fn parse_text(s: &str) -> Result<Checkpoint, CheckpointParseError> {
        let err = |line: usize, m: &str| CheckpointParseError(format!("line {line}: {m}"));
        let mut lines = Vec::with_capacity(4);
        let mut rest = s;
        while !rest.is_empty() {
            let Some(end) = rest.find('\n') else {
                return Err(err(lines.len() + 1, "does not end with LF"));
            };
            lines.push(&rest[..end]);
            rest = &rest[end + 1..];
        }
        if lines.first().copied() != Some(CHECKPOINT_HEADER) {
            return Err(err(1, "is not `evident-checkpoint v1`"));
        }
        let field = |n: usize, name: &str| -> Result<&str, CheckpointParseError> {
            let line = lines
                .get(n - 1)
                .ok_or_else(|| err(n, &format!("missing (expected `{name} …`)")))?;
            line.strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| {
                    err(
                        n,
                        &format!("expected `{name} …`, found `{}`", line.escape_debug()),
                    )
                })
        };
        let log = field(2, "log")?;
        let log_id = crate::hash::is_lower_hex(log)
            .then(|| LogId::from_hex(log))
            .flatten()
            .ok_or_else(|| err(2, "log is not 32 lower-case hex digits"))?;
        let seq = parse_decimal(field(3, "seq")?).map_err(|m| err(3, m))?;
        let hash_hex = field(4, "hash")?;
        let hash = crate::hash::is_lower_hex(hash_hex)
            .then(|| Hash::from_hex(hash_hex))
            .flatten()
            .ok_or_else(|| err(4, "hash is not 64 lower-case hex digits"))?;
        if lines.len() > 4 {
            return Err(err(5, "unexpected text after the hash line"));
        }
        Ok(Checkpoint { log_id, seq, hash })
    }
}

/// A u64 in the one spelling the text form allows: digits only, no leading zero but in `0`.
fn parse_decimal(s: &str) -> Result<u64, &'static str> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("seq is not a decimal number");
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err("seq has a leading zero");
    }
    s.parse().map_err(|_| "seq does not fit in 64 bits")
}

impl Checkpoint {
    /// Parses a checkpoint file written by the trail itself (`head.checkpoint`,
    /// `retained.checkpoint`): only the text form is accepted, so that any change to the file
    /// (even of letter case or spacing) is reported.
    pub fn parse_canonical(s: &str) -> Result<Checkpoint, CheckpointParseError> {
        if s.trim_start().starts_with('{') {
            return Err(CheckpointParseError(
                "a trail's own checkpoint file must be in the text form, not JSON".into(),
            ));
        }
        Checkpoint::parse_text(s)
    }

    /// The text form with a fifth line `root <64 lower-case hex digits>`: the tree root at size
    /// `seq`. This is how a format-2 writer writes `head.checkpoint`.
    pub fn to_text_with_root(&self, root: &Hash) -> String {
        format!("{}root {root}\n", self.to_text())
    }

    /// Parses a trail's own checkpoint file: the canonical text form
    /// ([`Checkpoint::parse_canonical`]), optionally followed by the fifth line
    /// `root <64 lower-case hex digits>` (the tree root at size `seq`) that format-2 writers
    /// add. Any other fifth line (or more lines) is refused naming line 5.
    pub fn parse_own_file(s: &str) -> Result<(Checkpoint, Option<Hash>), CheckpointParseError> {
        let four = s
            .match_indices('\n')
            .nth(3)
            .map(|(i, _)| i + 1)
            .unwrap_or(s.len());
        let (head, rest) = s.split_at(four);
        let cp = Checkpoint::parse_canonical(head)?;
        if rest.is_empty() {
            return Ok((cp, None));
        }
        let root = rest
            .strip_prefix("root ")
            .and_then(|r| r.strip_suffix('\n'))
            .filter(|h| h.len() == 64 && crate::hash::is_lower_hex(h))
            .and_then(Hash::from_hex)
            .ok_or_else(|| {
                CheckpointParseError(
                    "line 5: expected `root <64 lower-case hex digits>` and nothing after it"
                        .into(),
                )
            })?;
        Ok((cp, Some(root)))
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
    fn own_files_carry_an_optional_root_line() {
        let c = Checkpoint {
            log_id: LogId([0xa5; 16]),
            seq: 42,
            hash: Hash([0x3c; 32]),
        };
        let root = Hash([0x11; 32]);
        let text = c.to_text_with_root(&root);
        assert_eq!(Checkpoint::parse_own_file(&text), Ok((c, Some(root))));
        assert_eq!(Checkpoint::parse_own_file(&c.to_text()), Ok((c, None)));
        for bad in [
            format!("{text}\n"),
            text.replace("root ", "root  "),
            text.replace(&"11".repeat(32), &"AA".repeat(32)),
            text.trim_end().to_string(),
            format!("{}roots {root}\n", c.to_text()),
        ] {
            let e = Checkpoint::parse_own_file(&bad).expect_err(&bad);
            assert!(e.0.contains("line 5"), "{bad:?}: {e}");
        }
        assert_eq!(
            Checkpoint::parse(&text),
            Ok(c),
            "a copy of head.checkpoint is a checkpoint"
        );
    }

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
        assert!(e.0.contains("line 3") && e.0.contains("seq"), "{e}");
        let e = Checkpoint::parse(&text.replace("evident-checkpoint v1", "nope")).unwrap_err();
        assert!(e.0.contains("line 1"), "{e}");
        assert!(Checkpoint::parse(&format!("{text}extra\n")).is_err());
        assert!(Checkpoint::parse("{\"log_id\":\"zz\",\"seq\":1,\"hash\":\"00\"}").is_err());
        assert!(Checkpoint::parse("").is_err());
        assert!(Checkpoint::parse_canonical(&text).is_ok());
        assert!(Checkpoint::parse_canonical(&c.to_json()).is_err());
    }

    /// Every spelling but the one the format writes is refused, by `parse` (a `--checkpoint`
    /// file) and by `parse_canonical` (`head.checkpoint`) alike, and the error names the line.
    #[test]
    fn only_the_written_spelling_is_accepted() {
        let c = Checkpoint {
            log_id: LogId([0xab; 16]),
            seq: 7,
            hash: Hash([0xcd; 32]),
        };
        let text = c.to_text();
        let upper_log = text.replace(&"ab".repeat(16), &"AB".repeat(16));
        let upper_hash = text.replace(&"cd".repeat(32), &"CD".repeat(32));
        let cases: [(String, &str); 9] = [
            (text.replace("seq 7", "seq 007"), "line 3"),
            (text.replace("seq 7", "seq +7"), "line 3"),
            (text.replace("seq 7", "seq 18446744073709551616"), "line 3"),
            (upper_log, "line 2"),
            (upper_hash, "line 4"),
            (text.trim_end().to_string(), "line 4"),
            (text.replace('\n', "\r\n"), "line 1"),
            (format!("{text}\n"), "line 5"),
            (format!(" {text}"), "line 1"),
        ];
        for (bad, line) in cases {
            for parsed in [Checkpoint::parse(&bad), Checkpoint::parse_canonical(&bad)] {
                let e = parsed.expect_err(&bad);
                assert!(e.0.contains(line), "{bad:?}: {e}");
            }
        }
        let json = c.to_json();
        assert_eq!(Checkpoint::parse(&format!("{json}\n")), Ok(c));
        for bad in [
            json.replace(&"ab".repeat(16), &"AB".repeat(16)),
            json.replace(&"cd".repeat(32), &"CD".repeat(32)),
            json.replace("\"seq\":7", "\"seq\":7.0"),
            json.replace("\"seq\":7", "\"seq\":\"7\""),
            json.replace('}', ",\"extra\":1}"),
            json.replace('}', ",\"seq\":8}"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            Checkpoint::parse("evident-checkpoint v1\nlog 00000000000000000000000000000000\nseq 0\nhash 0000000000000000000000000000000000000000000000000000000000000000\n")
                .map(|c| c.seq),
            Ok(0)
        );
    }
}
