//! The text forms a prover writes and a verifier reads: the C2SP checkpoint note, the
//! `c2sp.org/tlog-proof@v1` inclusion bundle and the consistency-proof file, and their
//! offline checks.

use super::{Consistency, Inclusion, TreeHead};
use crate::hash::{leaf_v2, payload_hash, Hash};
use crate::tree::base64;
use crate::tree::leaf_node;
use crate::tree::verify::{verify_consistency, verify_inclusion};

/// Why a text does not parse or does not verify: the line (1-based, when one is at fault) and
/// the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextError {
    /// The line at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for TextError {}

fn at(line: usize, reason: impl Into<String>) -> TextError {
    TextError {
        line: Some(line),
        reason: reason.into(),
    }
}

impl TreeHead {
    /// The root in standard base64, as the checkpoint note writes it.
    pub fn root_base64(&self) -> String {
        base64::encode(&self.root.0)
    }
}

/// The C2SP tlog-checkpoint body (origin, size, base64 root, LF after each), unsigned.
pub fn checkpoint_note(head: &TreeHead) -> String {
    format!("{}\n{}\n{}\n", head.origin, head.size, head.root_base64())
}

/// Parses a checkpoint note (the body; any signature lines after a blank line are ignored
/// until signatures are checked).
pub fn parse_checkpoint_note(text: &str) -> Result<TreeHead, TextError> {
    parse_note_at(text, 1)
}

fn parse_note_at(text: &str, first_line: usize) -> Result<TreeHead, TextError> {
    let body = match text.split_once("\n\n") {
        Some((b, _)) => b,
        None => text.strip_suffix('\n').ok_or_else(|| {
            at(first_line, "a checkpoint note ends with a newline")
        })?,
    };
    let lines: Vec<&str> = body.split('\n').collect();
    if lines.len() < 3 {
        return Err(at(
            first_line + lines.len().saturating_sub(1),
            "a checkpoint note has an origin, a tree size and a root line",
        ));
    }
    if lines.len() > 3 {
        return Err(at(first_line + 3, "unexpected extension line in the checkpoint"));
    }
    let origin = lines[0];
    if origin.is_empty() || origin.chars().any(|c| c.is_control() || c == '\u{2014}') {
        return Err(at(first_line, "the origin line is empty or has control characters"));
    }
    let size = decimal(lines[1]).ok_or_else(|| {
        at(first_line + 1, format!("tree size `{}` is not a decimal number", lines[1]))
    })?;
    let root = hash_b64(lines[2]).map_err(|e| at(first_line + 2, format!("root: {e}")))?;
    Ok(TreeHead {
        origin: origin.to_string(),
        size,
        root,
    })
}

fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

fn hash_b64(s: &str) -> Result<Hash, String> {
    let b = base64::decode(s)?;
    let arr: [u8; 32] = b
        .try_into()
        .map_err(|b: Vec<u8>| format!("{} bytes, not 32", b.len()))?;
    Ok(Hash(arr))
}

/// First line of an inclusion bundle.
pub const BUNDLE_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// First line of a consistency proof.
pub const CONSISTENCY_HEADER: &str = "evident.dev/consistency-proof@v1";

/// Version byte of evident's `extra`.
const EXTRA_VERSION: u8 = 1;

fn extra_bytes(i: &Inclusion) -> Vec<u8> {
    let mut e = vec![EXTRA_VERSION, i.kind];
    e.extend_from_slice(&i.seq.to_le_bytes());
    e.extend_from_slice(&i.ts.to_le_bytes());
    e.extend_from_slice(&i.payload_hash.0);
    if let Some(p) = &i.payload {
        e.extend_from_slice(p);
    }
    e
}

/// The inclusion bundle text.
pub fn bundle_text(i: &Inclusion) -> String {
    let mut out = format!(
        "{BUNDLE_HEADER}\nextra {}\nindex {}\n",
        base64::encode(&extra_bytes(i)),
        i.seq - 1
    );
    for h in &i.proof {
        out.push_str(&base64::encode(&h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&checkpoint_note(&i.tree));
    out
}

/// Whether `text` is a consistency proof (by its first line).
pub fn is_consistency_text(text: &str) -> bool {
    text.starts_with(CONSISTENCY_HEADER)
}

/// Checks an inclusion bundle with nothing but its text.
pub fn check_bundle_text(text: &str) -> Result<Inclusion, TextError> {
    let (head, note, note_line) = split(text)?;
    let mut lines = head.split('\n').enumerate().map(|(n, l)| (n + 1, l));
    let (n, first) = lines.next().unwrap_or((1, ""));
    if first != BUNDLE_HEADER {
        return Err(at(n, format!("expected `{BUNDLE_HEADER}`")));
    }
    let (n, extra) = lines.next().ok_or_else(|| at(2, "no extra line"))?;
    let extra = extra
        .strip_prefix("extra ")
        .ok_or_else(|| at(n, "expected `extra <base64>`"))?;
    let extra = base64::decode(extra).map_err(|e| at(n, format!("extra: {e}")))?;
    if extra.len() < 50 || extra[0] != EXTRA_VERSION {
        return Err(at(n, "extra is not an evident record (version 1, 50 bytes or more)"));
    }
    let kind = extra[1];
    let seq = u64::from_le_bytes(extra[2..10].try_into().expect("8"));
    let ts = u64::from_le_bytes(extra[10..18].try_into().expect("8"));
    let ph = Hash(extra[18..50].try_into().expect("32"));
    let payload = (extra.len() > 50).then(|| extra[50..].to_vec());
    let (n_idx, index) = lines.next().ok_or_else(|| at(3, "no index line"))?;
    let index = index
        .strip_prefix("index ")
        .and_then(decimal)
        .ok_or_else(|| at(n_idx, "expected `index <decimal>`"))?;
    let mut proof = Vec::new();
    for (n, l) in lines {
        proof.push(hash_b64(l).map_err(|e| at(n, format!("proof hash: {e}")))?);
    }
    if seq == 0 || index != seq - 1 {
        return Err(at(n_idx, format!("index {index} is not entry seq {seq} - 1")));
    }
    if let Some(p) = &payload {
        if payload_hash(p) != ph {
            return Err(at(2, "the payload does not match its payload hash"));
        }
    }
    let tree = parse_note_at(note, note_line)?;
    let node = leaf_node(&leaf_v2(kind, seq, ts, &ph));
    verify_inclusion(&node, index, tree.size, &proof, &tree.root)
        .map_err(|e| TextError { line: None, reason: format!("the proof does not verify: {e}") })?;
    Ok(Inclusion {
        kind,
        seq,
        ts,
        payload_hash: ph,
        payload,
        tree,
        proof,
        rebuilt: false,
    })
}

/// Splits a proof text at its blank line: the proof lines, the note, the note's first line.
fn split(text: &str) -> Result<(&str, &str, usize), TextError> {
    let (head, note) = text
        .split_once("\n\n")
        .ok_or_else(|| at(text.lines().count().max(1), "no blank line before the checkpoint"))?;
    let note_line = head.split('\n').count() + 2;
    Ok((head, note, note_line))
}

/// The consistency-proof text: the old tree's size and root, the proof hashes, a blank line,
/// then the new tree's checkpoint note.
pub fn consistency_text(c: &Consistency) -> String {
    let mut out = format!(
        "{CONSISTENCY_HEADER}\nold {} {}\n",
        c.old.size,
        c.old.root_base64()
    );
    for h in &c.proof {
        out.push_str(&base64::encode(&h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&checkpoint_note(&c.new));
    out
}

/// Checks a consistency proof with nothing but its text.
pub fn check_consistency_text(text: &str) -> Result<Consistency, TextError> {
    let (head, note, note_line) = split(text)?;
    let mut lines = head.split('\n').enumerate().map(|(n, l)| (n + 1, l));
    let (n, first) = lines.next().unwrap_or((1, ""));
    if first != CONSISTENCY_HEADER {
        return Err(at(n, format!("expected `{CONSISTENCY_HEADER}`")));
    }
    let (n, old) = lines.next().ok_or_else(|| at(2, "no old line"))?;
    let (size, root) = old
        .strip_prefix("old ")
        .and_then(|r| r.split_once(' '))
        .ok_or_else(|| at(n, "expected `old <size> <base64 root>`"))?;
    let old_size = decimal(size).ok_or_else(|| at(n, format!("old size `{size}` is not decimal")))?;
    let old_root = hash_b64(root).map_err(|e| at(n, format!("old root: {e}")))?;
    let mut proof = Vec::new();
    for (n, l) in lines {
        proof.push(hash_b64(l).map_err(|e| at(n, format!("proof hash: {e}")))?);
    }
    let new = parse_note_at(note, note_line)?;
    verify_consistency(old_size, new.size, &proof, &old_root, &new.root).map_err(|e| TextError {
        line: None,
        reason: format!("the proof does not verify: {e}"),
    })?;
    Ok(Consistency {
        old: TreeHead {
            origin: new.origin.clone(),
            size: old_size,
            root: old_root,
        },
        new,
        proof,
        rebuilt: false,
    })
}
