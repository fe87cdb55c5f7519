//! C2SP tlog-tiles coordinates: which stored hashes a tile holds and the path it lives at.
//!
//! A tile at level `L` and index `N` holds up to 256 consecutive node hashes of tree level
//! `8 L`: the level-0 tiles hold the entries' leaf nodes, a level-1 tile holds the roots of
//! 256 full level-0 tiles, and so on. A full tile is 256 hashes (8192 bytes); a partial tile
//! holds the first `W` (1..=255) of them and is stored at `tile/<L>/<N>.p/<W>`. `N` is
//! written in zero-padded groups of three digits, all but the last prefixed with `x`
//! (`1234067` → `x001/x234/067`).

/// log2 of the tile width: a tile spans 8 levels of the tree.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// One tile: level, index within the level and width (256 for a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Tile level (tree level `8 * level`).
    pub level: u8,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes, 1..=256.
    pub width: u16,
}

impl TileId {
    /// Whether this is a full tile.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile's length in bytes (32 per hash).
    pub fn byte_len(&self) -> usize {
        usize::from(self.width) * 32
    }

    /// The tile's path relative to the trail directory, `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let mut out = format!("tile/{}/{}", self.level, encode_index(self.index));
        if !self.is_full() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Parses a path written by [`TileId::path`]; any other spelling (leading zeros in the
    /// level or width, a missing `x`, a width of 0 or 256 after `.p/`) is refused.
    pub fn parse(path: &str) -> Option<TileId> {
        let rest = path.strip_prefix("tile/")?;
        let (level, rest) = rest.split_once('/')?;
        let level: u8 = canonical_decimal(level)?.try_into().ok()?;
        if level > 63 {
            return None;
        }
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = canonical_decimal(w)?;
                if !(1..TILE_WIDTH).contains(&w) {
                    return None;
                }
                (i, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = decode_index(index_part)?;
        Some(TileId {
            level,
            index,
            width,
        })
    }
}

fn canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// `N` as zero-padded 3-digit groups, all but the last prefixed with `x`.
pub fn encode_index(index: u64) -> String {
    let mut groups = vec![format!("{:03}", index % 1000)];
    let mut n = index / 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn decode_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let mut n: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let digits = if last { *part } else { part.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    // One spelling per index: no leading all-zero group.
    if parts.len() > 1 && parts[0] == "x000" {
        return None;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        let t = TileId {
            level: 0,
            index: 1_234_067,
            width: 256,
        };
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        let p = TileId {
            level: 1,
            index: 5,
            width: 3,
        };
        assert_eq!(p.path(), "tile/1/005.p/3");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(1000), "x001/000");
        for t in [
            t,
            p,
            TileId {
                level: 63,
                index: u64::MAX,
                width: 255,
            },
        ] {
            assert_eq!(TileId::parse(&t.path()), Some(t));
        }
    }

    #[test]
    fn other_spellings_are_refused() {
        for bad in [
            "tile/0/5",
            "tile/00/005",
            "tile/0/x000/005",
            "tile/0/001/005",
            "tile/0/005.p/0",
            "tile/0/005.p/256",
            "tile/0/005.p/07",
            "tile/64/005",
            "tile/0/x1/005",
            "tiles/0/005",
        ] {
            assert_eq!(TileId::parse(bad), None, "{bad}");
        }
    }
}
