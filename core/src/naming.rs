//! File names inside a trail directory.
//!
//! Segments are named by their first seq, zero-padded to 20 digits, so a plain lexical sort of
//! the directory is the trail's order and a seq is located by binary search over names alone.

/// Extension of segment files.
pub const SEGMENT_EXT: &str = ".evseg";
/// The trail's own checkpoint, rewritten atomically at rotation, close and on request.
pub const HEAD_CHECKPOINT: &str = "head.checkpoint";
/// Temporary name a checkpoint is written under before the rename.
pub const HEAD_CHECKPOINT_TMP: &str = "head.checkpoint.tmp";
/// Checkpoint of the last record removed by retention: the anchor of the oldest kept segment.
pub const RETAINED_CHECKPOINT: &str = "retained.checkpoint";
/// Temporary name of the retention checkpoint.
pub const RETAINED_CHECKPOINT_TMP: &str = "retained.checkpoint.tmp";
/// The trail's origin line (its C2SP checkpoints' first line), written once at creation.
pub const ORIGIN: &str = "origin";
/// Its temporary file while it is written.
pub const ORIGIN_TMP: &str = "origin.tmp";
/// Marks a trail written with the Merkle tree turned off ([`crate::Options::merkle_tree`],
/// a benchmark option): its footers carry no tree edge and its checkpoint no root, so an open
/// (with the tree on or off) and `verify` refuse it, naming this file.
pub const NO_MERKLE_TREE: &str = "no-merkle-tree";
/// Infix of copies that repair sets aside before changing a damaged file.
pub const DAMAGED_INFIX: &str = ".damaged-";

/// The directory of the tree's C2SP tiles (`tile/<L>/<N>[.p/<W>]`), derived data the writer
/// keeps beside the segments (see [`crate::trail`]'s tile lane).
pub const TILE_DIR: &str = "tile";
/// The temporary file each tile is written to before it is renamed into place.
pub const TILE_TMP: &str = "tile/pending.tmp";
/// The size whose partial tiles the writer wrote last (one decimal line): where the writer
/// resumes after a reopen. A hint, checked against the trail's tree before it is relied on.
pub const TILE_SIZE: &str = "tile/size";

/// Whether `path` is a name under the tile directory the core may ask for: `tile/` followed
/// by one or more components, each 1 to 32 characters of `[A-Za-z0-9._-]` and neither `.`
/// nor `..`. Executors create the directories of such a path (never through a symlink);
/// nothing else in the core names a path with a separator.
pub fn is_tile_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("tile/") else {
        return false;
    };
    rest.split('/').all(|c| {
        !c.is_empty()
            && c.len() <= 32
            && c != "."
            && c != ".."
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

/// The file name of the segment whose first record is `first_seq`.
pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_EXT}")
}

/// Whether `name` carries the segment extension without following the naming rule (for
/// example a renamed segment). Copies set aside by repair (with [`DAMAGED_INFIX`]) and
/// temporary files are explained and do not count.
pub fn is_segment_like_name(name: &str) -> bool {
    name.contains(SEGMENT_EXT)
        && parse_segment_name(name).is_none()
        && !name.contains(DAMAGED_INFIX)
        && !name.ends_with(".tmp")
}

/// Whether `name` is one the trail uses besides its segments: the checkpoints, their
/// temporary files, the writer's lock files, and copies set aside by repair.
pub fn is_known_name(name: &str) -> bool {
    matches!(
        name,
        HEAD_CHECKPOINT
            | HEAD_CHECKPOINT_TMP
            | RETAINED_CHECKPOINT
            | RETAINED_CHECKPOINT_TMP
            | ORIGIN
            | ORIGIN_TMP
            | NO_MERKLE_TREE
    ) || name.starts_with("LOCK")
        || name.contains(DAMAGED_INFIX)
        || name.ends_with(".tmp")
        || name.ends_with(crate::agent_index::INDEX_EXT)
}

/// The first seq encoded in a segment file name, or `None` when the name is not a segment's.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_seq_and_parse_back() {
        let mut names: Vec<String> = [1u64, 10, 9, 100_000, u64::MAX]
            .iter()
            .map(|&s| segment_name(s))
            .collect();
        names.sort();
        let seqs: Vec<u64> = names
            .iter()
            .map(|n| parse_segment_name(n).unwrap())
            .collect();
        assert_eq!(seqs, vec![1, 9, 10, 100_000, u64::MAX]);
        assert_eq!(
            parse_segment_name("00000000000000000001.evseg.damaged-1"),
            None
        );
        assert_eq!(parse_segment_name("1.evseg"), None);
        assert_eq!(parse_segment_name("head.checkpoint"), None);
        assert_eq!(parse_segment_name("0000000000000000000x.evseg"), None);
    }
}
