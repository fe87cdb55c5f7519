//! The signed-note grammar both envelopes share (c2sp.org/signed-note): where the text ends,
//! how the signature lines are cut and counted, and what one signature line holds.
//!
//! Two envelopes read these notes: [`super::envelope`] (signed notes the note room verifies:
//! at least one signature, at most 16) and [`crate::tree::note`] (the checkpoint note as the
//! tree room writes it: unsigned allowed, lines kept verbatim, line numbers in errors). They
//! differ in policy and in how they word a refusal, so this module returns *what* is wrong
//! ([`LineFault`]) and each envelope says it in its own error type.

use super::key::check_key_name;
use crate::tree::base64;

/// The prefix of every signature line: an em dash (U+2014) and a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";

/// Splits a note at its *last* empty line: the text (final newline included) and the
/// signature block after the blank line. `None` when the note has no empty line.
pub(crate) fn split_at_last_blank(s: &str) -> Option<(&str, &str)> {
    let blank = s.rfind("\n\n")?;
    Some((&s[..blank + 1], &s[blank + 2..]))
}

/// The signature block's lines (the block without its final newline), numbered from 0, cut
/// lazily: after `limit` lines, the next one yields `Err(limit)` and the iteration stops.
/// So a block of any size costs at most `limit + 1` cuts before it is refused, and a caller
/// that parses each line as it comes sees a bad line before the one over the limit.
pub(crate) fn signature_lines(
    block: &str,
    limit: usize,
) -> impl Iterator<Item = Result<&str, usize>> + '_ {
    block
        .split('\n')
        .take(limit.saturating_add(1))
        .enumerate()
        .map(move |(i, line)| if i == limit { Err(limit) } else { Ok(line) })
}

/// What a signature line holds: `— <name> <base64(key id || signature)>`.
pub(crate) struct RawSignature<'a> {
    /// The key name.
    pub name: &'a str,
    /// The key id (the first four decoded bytes, big-endian).
    pub id: u32,
    /// The bytes after the key id.
    pub signature: Vec<u8>,
}

/// Why one signature line does not parse; each envelope words it.
pub(crate) enum LineFault<'a> {
    /// The line does not start with [`SIG_PREFIX`].
    NoPrefix,
    /// No space between the key name and the signature.
    NoSpace,
    /// The key name breaks the key-name rules (the reason says how).
    BadName(String),
    /// The signature is not canonical standard base64 (the decoder's reason).
    BadBase64 {
        /// The key name the line gives.
        name: &'a str,
        /// What the decoder refused.
        reason: String,
    },
    /// The decoded bytes are fewer than a key id and one signature byte.
    TooShort {
        /// The key name the line gives.
        name: &'a str,
        /// How many bytes were decoded.
        len: usize,
    },
}

/// Parses one signature line (without its newline).
pub(crate) fn parse_signature_line(line: &str) -> Result<RawSignature<'_>, LineFault<'_>> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(LineFault::NoPrefix)?;
    let (name, b64) = rest.split_once(' ').ok_or(LineFault::NoSpace)?;
    check_key_name(name).map_err(LineFault::BadName)?;
    let raw = base64::decode(b64).map_err(|reason| LineFault::BadBase64 { name, reason })?;
    if raw.len() < 5 {
        return Err(LineFault::TooShort {
            name,
            len: raw.len(),
        });
    }
    Ok(RawSignature {
        name,
        id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}

/// The signature line of `name`, `id` and `signature`, without its newline.
pub(crate) fn format_signature_line(name: &str, id: u32, signature: &[u8]) -> String {
    let mut raw = Vec::with_capacity(4 + signature.len());
    raw.extend_from_slice(&id.to_be_bytes());
    raw.extend_from_slice(signature);
    format!("{SIG_PREFIX}{name} {}", base64::encode(&raw))
}
