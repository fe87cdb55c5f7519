//! Object keys of an archived trail. Keys never change once written: a segment's key is
//! derived from its first seq, a manifest's from its round number, both zero-padded to 20
//! digits so a lexical listing is the trail's order.

use crate::hash::LogId;
use crate::naming;

/// Folder (below the log's folder) holding the segment objects.
pub const SEG_DIR: &str = "seg";
/// Folder (below the log's folder) holding the manifests.
pub const MANIFEST_DIR: &str = "manifest";
/// Extension of manifest objects.
pub const MANIFEST_EXT: &str = ".json";

/// The folder of one log: `<prefix>/<log id hex>` (no prefix: `<log id hex>`).
pub fn log_dir(prefix: &str, log_id: &LogId) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        log_id.to_hex()
    } else {
        format!("{prefix}/{}", log_id.to_hex())
    }
}

/// A segment's key relative to its log's folder (what manifests record).
pub fn segment_rel_key(first_seq: u64) -> String {
    format!("{SEG_DIR}/{}", naming::segment_name(first_seq))
}

/// A manifest's key relative to its log's folder.
pub fn manifest_rel_key(round: u64) -> String {
    format!("{MANIFEST_DIR}/{round:020}{MANIFEST_EXT}")
}

/// What a key below a log's folder names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKey {
    /// A segment object, by first seq.
    Segment(u64),
    /// A manifest, by round.
    Manifest(u64),
    /// Anything else (reported as extra by verification).
    Other,
}

/// Classifies a key relative to the log's folder.
pub fn parse_rel_key(rel: &str) -> RelKey {
    if let Some(name) = rel.strip_prefix("seg/") {
        if let Some(seq) = naming::parse_segment_name(name) {
            return RelKey::Segment(seq);
        }
    }
    if let Some(digits) = rel
        .strip_prefix("manifest/")
        .and_then(|n| n.strip_suffix(MANIFEST_EXT))
    {
        if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(round) = digits.parse() {
                return RelKey::Manifest(round);
            }
        }
    }
    RelKey::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort() {
        let id = LogId([0xab; 16]);
        assert_eq!(log_dir("/a/b/", &id), format!("a/b/{}", id.to_hex()));
        assert_eq!(log_dir("", &id), id.to_hex());
        assert_eq!(parse_rel_key(&segment_rel_key(42)), RelKey::Segment(42));
        assert_eq!(parse_rel_key(&manifest_rel_key(7)), RelKey::Manifest(7));
        assert_eq!(parse_rel_key("manifest/7.json"), RelKey::Other);
        assert_eq!(parse_rel_key("seg/x.evseg"), RelKey::Other);
        assert!(manifest_rel_key(9) < manifest_rel_key(10));
    }
}
