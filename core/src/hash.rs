//! The hash chain: BLAKE3 in keyed mode, one fixed key per purpose (domain separation).
//!
//! ```text
//! genesis     = BLAKE3-keyed(K_GENESIS, log_id)
//! payload_hash = BLAKE3-keyed(K_PAYLOAD, payload)                        (format version 2)
//! leaf(n)     = BLAKE3-keyed(K_LEAF, kind || seq_le64 || ts_le64 || payload_hash)
//! leaf_v1(n)  = BLAKE3-keyed(K_LEAF, kind || seq_le64 || ts_le64 || payload)   (version 1)
//! chain(n)    = BLAKE3-keyed(K_CHAIN, chain(n-1) || leaf(n))      chain(0) = genesis
//! ```
//!
//! The leaf depends on the record alone, so payload hashing can run in parallel during
//! verification, and the Merkle tree (see [`crate::tree`]) is built over the leaves.
//! The chain step hashes exactly one 64-byte block, so it is cheap and strictly sequential.

use std::fmt;

/// A 32-byte BLAKE3 output: a chain hash, a leaf hash or the genesis value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Option<Hash> {
        let mut out = [0u8; 32];
        from_hex_into(s, &mut out).then_some(Hash(out))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The random 16-byte identity of one trail, written in every segment header and folded into
/// the genesis hash, so segments of two trails never chain into each other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct LogId(pub [u8; 16]);

impl LogId {
    /// Lower-case hex, 32 characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// Parses 32 hex characters.
    pub fn from_hex(s: &str) -> Option<LogId> {
        let mut out = [0u8; 16];
        from_hex_into(s, &mut out).then_some(LogId(out))
    }
}

impl fmt::Debug for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogId({})", self.to_hex())
    }
}

impl fmt::Display for LogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `blake3::derive_key("evident 2026-11-22 v1 genesis", b"")`.
pub const K_GENESIS: [u8; 32] =
    hex32("15542746201051af0608f4c362b670cb4c6c29ba0716bd5ac61336d48c491c11");
/// `blake3::derive_key("evident 2026-11-22 v1 leaf", b"")`.
pub const K_LEAF: [u8; 32] =
    hex32("0616b4516686f1424b51293ae5e998cc8ae2e4d59d2b6d46116aead022028d40");
/// `blake3::derive_key("evident 2026-11-22 v1 chain", b"")`.
pub const K_CHAIN: [u8; 32] =
    hex32("4d4f8f260089971d412688f69e81819455c81f364838816180e3725bcc9f3fe1");

/// `blake3::derive_key("evident 2026-12-01 v2 payload", b"")`: the payload hash of format
/// version 2 (the leaf then commits to the payload through this hash).
pub const K_PAYLOAD: [u8; 32] =
    hex32("1a61965a6ad8afe18388f8793df12aad1f9df6fdf27a6c15c60df3af65ecc3b3");

/// The chain value before the first record (seq 0) of the trail `log_id`.
pub fn genesis(log_id: &LogId) -> Hash {
    Hash(*blake3::keyed_hash(&K_GENESIS, &log_id.0).as_bytes())
}

/// The leaf hash of one record in format version 2 (what every writer writes): it commits to
/// the record kind, seq, timestamp and, through [`payload_hash`], the payload.
pub fn leaf(kind: u8, seq: u64, ts: u64, payload: &[u8]) -> Hash {
    leaf_v2(kind, seq, ts, &payload_hash(payload))
}

/// The leaf hash of one record in format version 1: the payload itself is hashed after kind,
/// seq and timestamp. Only read (verification of version-1 trails).
pub fn leaf_v1(kind: u8, seq: u64, ts: u64, payload: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new_keyed(&K_LEAF);
    let mut head = [0u8; 17];
    head[0] = kind;
    head[1..9].copy_from_slice(&seq.to_le_bytes());
    head[9..17].copy_from_slice(&ts.to_le_bytes());
    h.update(&head);
    h.update(payload);
    Hash(*h.finalize().as_bytes())
}

/// The payload hash of format version 2: `BLAKE3-keyed(K_PAYLOAD, payload)`. It depends on the
/// payload alone, so a producer (or any verifier thread) can compute it before the record's
/// seq is known, and a proof can show a record's position without revealing its payload.
pub fn payload_hash(payload: &[u8]) -> Hash {
    Hash(*blake3::keyed_hash(&K_PAYLOAD, payload).as_bytes())
}

/// The leaf hash of one record in format version 2:
/// `BLAKE3-keyed(K_LEAF, kind || seq_le64 || ts_le64 || payload_hash)` (49 bytes hashed).
pub fn leaf_v2(kind: u8, seq: u64, ts: u64, payload_hash: &Hash) -> Hash {
    let mut block = [0u8; 49];
    block[0] = kind;
    block[1..9].copy_from_slice(&seq.to_le_bytes());
    block[9..17].copy_from_slice(&ts.to_le_bytes());
    block[17..].copy_from_slice(&payload_hash.0);
    Hash(*blake3::keyed_hash(&K_LEAF, &block).as_bytes())
}

/// One chain step: the new chain value from the previous one and the record's leaf.
pub fn chain(prev: &Hash, leaf: &Hash) -> Hash {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(&prev.0);
    block[32..].copy_from_slice(&leaf.0);
    Hash(*blake3::keyed_hash(&K_CHAIN, &block).as_bytes())
}

/// Lower-case hex of any bytes.
pub fn to_hex_bytes(bytes: &[u8]) -> String {
    to_hex(bytes)
}

/// Whether `s` holds only the digits `0-9a-f` (the case the format writes; the text forms
/// refuse any other spelling of the same bytes).
pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn from_hex_into(s: &str, out: &mut [u8]) -> bool {
    let s = s.as_bytes();
    if s.len() != out.len() * 2 {
        return false;
    }
    for (i, pair) in s.chunks_exact(2).enumerate() {
        match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

const fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

const fn hex32(s: &str) -> [u8; 32] {
    let s = s.as_bytes();
    assert!(s.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        let (Some(hi), Some(lo)) = (hex_digit(s[2 * i]), hex_digit(s[2 * i + 1])) else {
            panic!("bad hex constant");
        };
        out[i] = hi << 4 | lo;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_documented_derivations() {
        assert_eq!(
            K_GENESIS,
            blake3::derive_key("evident 2026-11-22 v1 genesis", b"")
        );
        assert_eq!(
            K_LEAF,
            blake3::derive_key("evident 2026-11-22 v1 leaf", b"")
        );
        assert_eq!(
            K_CHAIN,
            blake3::derive_key("evident 2026-11-22 v1 chain", b"")
        );
        assert_eq!(
            K_PAYLOAD,
            blake3::derive_key("evident 2026-12-01 v2 payload", b"")
        );
    }

    #[test]
    fn the_v2_leaf_commits_to_every_field_through_the_payload_hash() {
        let p = payload_hash(b"x");
        assert_ne!(p, payload_hash(b"y"));
        assert_ne!(p, Hash(*blake3::hash(b"x").as_bytes()));
        let l = leaf_v2(1, 1, 2, &p);
        assert_ne!(l, leaf_v2(1, 2, 2, &p), "seq is committed");
        assert_ne!(l, leaf_v2(1, 1, 3, &p), "timestamp is committed");
        assert_ne!(l, leaf_v2(2, 1, 2, &p), "kind is committed");
        assert_ne!(
            l,
            leaf_v2(1, 1, 2, &payload_hash(b"y")),
            "payload is committed"
        );
    }

    #[test]
    fn domains_are_separated() {
        let id = LogId([7; 16]);
        let g = genesis(&id);
        assert_ne!(g, genesis(&LogId([8; 16])));
        let l = leaf_v1(1, 1, 2, b"x");
        assert_ne!(l, leaf_v1(1, 2, 2, b"x"), "seq is committed");
        assert_ne!(l, leaf_v1(1, 1, 3, b"x"), "timestamp is committed");
        assert_ne!(l, leaf_v1(2, 1, 2, b"x"), "kind is committed");
        assert_eq!(leaf(1, 1, 2, b"x"), leaf_v2(1, 1, 2, &payload_hash(b"x")));
        assert_ne!(leaf(1, 1, 2, b"x"), l, "the versions' leaves differ");
        assert_ne!(chain(&g, &l), chain(&genesis(&LogId([8; 16])), &l));
        // The same bytes hashed under two purposes give different values.
        let plain = Hash(*blake3::hash(&id.0).as_bytes());
        assert_ne!(g, plain);
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let h = Hash([0xab; 32]);
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
        assert_eq!(Hash::from_hex(&"g".repeat(64)), None);
        assert_eq!(
            LogId::from_hex("00112233445566778899aabbccddeeff")
                .unwrap()
                .0[15],
            0xff
        );
    }
}
