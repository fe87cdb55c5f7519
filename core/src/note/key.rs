//! Keys in the C2SP signed-note text forms.
//!
//! ```text
//! key id        = SHA-256(name || 0x0A || type || public key)[:4]   (big-endian u32)
//! verifier key  = <name>+<hex id>+<base64(type || public key)>
//! private key   = PRIVATE+KEY+<name>+<hex id>+<base64(type || 32-byte seed)>
//! ```
//!
//! Two types: `0x01`, an Ed25519 key that signs note text (a log's checkpoint key), and
//! `0x04`, an Ed25519 key that makes timestamped `cosignature/v1` signatures (a witness). The
//! private form is the one Go's `golang.org/x/mod/sumdb/note` writes for type `0x01`; evident
//! uses the same shape with `0x04` for witness keys. Keys come from a seed the host supplies:
//! the core has no randomness.

use super::error::NoteError;
use sha2::{Digest, Sha256};

/// Signature type byte of an Ed25519 note signer (signed-note §Ed25519 signatures).
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of an Ed25519 `cosignature/v1` cosigner (tlog-cosignature).
pub const TYPE_COSIGNATURE_V1: u8 = 0x04;

/// The 32-bit key id that names a key beside its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl KeyId {
    /// `SHA-256(name || 0x0A || kind || public)[:4]`, big-endian.
    pub fn compute(name: &str, kind: KeyKind, public: &[u8; 32]) -> KeyId {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([b'\n', kind.type_byte()]);
        h.update(public);
        let d = h.finalize();
        KeyId(u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
    }

    /// The four bytes that start a signature.
    pub fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

/// What a key signs: note text (a log) or timestamped cosignatures (a witness).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Type 0x01: Ed25519 over the note text.
    Ed25519,
    /// Type 0x04: Ed25519 `cosignature/v1` over a timestamped checkpoint.
    CosignatureV1,
}

impl KeyKind {
    /// The signature type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            KeyKind::Ed25519 => TYPE_ED25519,
            KeyKind::CosignatureV1 => TYPE_COSIGNATURE_V1,
        }
    }

    /// The kind of a type byte, if evident supports it.
    pub fn from_type_byte(b: u8) -> Result<KeyKind, NoteError> {
        match b {
            TYPE_ED25519 => Ok(KeyKind::Ed25519),
            TYPE_COSIGNATURE_V1 => Ok(KeyKind::CosignatureV1),
            kind => Err(NoteError::UnsupportedKeyType { kind }),
        }
    }
}

/// Whether `name` is a valid key name: non-empty, no Unicode space, no `+`, no control
/// character (a name sits in a signature line and in `+`-separated key text).
pub fn is_valid_key_name(name: &str) -> bool {
    check_key_name(name).is_ok()
}

/// The key-name rules of [`is_valid_key_name`], saying which one `name` breaks (key names
/// and checkpoint origins are public, so the reason quotes the name).
pub(crate) fn check_key_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the key name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '+')
    {
        return Err(format!(
            "the name {name:?} contains {c:?} (no spaces, controls or '+')"
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::BadKeyName {
            name: name.to_string(),
        })
    }
}

/// A public key that checks signatures: its name, id, kind and Ed25519 point.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: KeyId,
    kind: KeyKind,
    key: ed25519_dalek::VerifyingKey,
}

impl std::fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl VerifierKey {
    /// A verifier key for `name` from a 32-byte Ed25519 public key. A point that is not a
    /// valid (or is a weak, small-order) Ed25519 public key is refused.
    pub fn new(name: &str, kind: KeyKind, public: &[u8; 32]) -> Result<VerifierKey, NoteError> {
        check_name(name)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|_| {
            NoteError::BadVerifierKey {
                reason: format!("key {name}: not a valid Ed25519 public key"),
            }
        })?;
        if key.is_weak() {
            return Err(NoteError::BadVerifierKey {
                reason: format!("key {name}: a weak (small-order) Ed25519 public key"),
            });
        }
        Ok(VerifierKey {
            name: name.to_string(),
            id: KeyId::compute(name, kind, public),
            kind,
            key,
        })
    }

    /// Parses `<name>+<hex id>+<base64(type || public key)>`.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let bad = |reason: &str| NoteError::BadVerifierKey {
            reason: reason.to_string(),
        };
        let text = text.trim_end_matches(['\n', '\r']);
        // The base64 part may itself hold '+': cut at the first two only.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected <name>+<hex key id>+<base64 key>"));
        };
        check_name(name)?;
        let written = parse_key_id(id_hex).ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let raw =
            crate::tree::base64::decode(b64).map_err(|_| bad("the key is not standard base64"))?;
        let (&kind, public) = raw.split_first().ok_or_else(|| bad("the key is empty"))?;
        let kind = KeyKind::from_type_byte(kind)?;
        let public: &[u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 public key is 32 bytes after the type byte"))?;
        let key = VerifierKey::new(name, kind, public)?;
        if key.id != written {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_string(),
                written,
                computed: key.id,
            });
        }
        Ok(key)
    }

    /// The key name (a log's origin, or a witness's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// What the key verifies.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Strict Ed25519 verification of `signature` over `message` (rejects non-canonical
    /// signatures and small-order components, so one signature has one encoding).
    pub(crate) fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.key.verify_strict(message, &sig).is_ok()
    }
}

impl std::fmt::Display for VerifierKey {
    /// The verifier key text `<name>+<hex id>+<base64(type || public key)>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.kind.type_byte());
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            self.id,
            crate::tree::base64::encode(&raw)
        )
    }
}

fn parse_key_id(hex: &str) -> Option<KeyId> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().map(KeyId)
}

/// A private signing key. Its `Debug` output never shows the secret, it has no `Display`,
/// and the secret is wiped from memory when the key is dropped.
#[derive(Clone)]
pub struct SigningKey {
    verifier: VerifierKey,
    secret: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({}, secret redacted)", self.verifier)
    }
}

impl SigningKey {
    /// The key of `name` made from a 32-byte seed (RFC 8032 private key) that the host drew
    /// from its operating system's randomness.
    pub fn from_seed(name: &str, kind: KeyKind, seed: &[u8; 32]) -> Result<SigningKey, NoteError> {
        let secret = ed25519_dalek::SigningKey::from_bytes(seed);
        let verifier = VerifierKey::new(name, kind, &secret.verifying_key().to_bytes())?;
        Ok(SigningKey { verifier, secret })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>`. Errors never quote the
    /// text (it is secret).
    pub fn parse(text: &str) -> Result<SigningKey, NoteError> {
        let bad = |reason: &str| NoteError::BadPrivateKey {
            reason: reason.to_string(),
        };
        let text = text.trim_end_matches(['\n', '\r']);
        // The base64 part may itself hold '+': cut at the first four only.
        let mut parts = text.splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY"), Some(name), Some(id_hex), Some(b64)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad("expected PRIVATE+KEY+<name>+<hex key id>+<base64 key>"));
        };
        check_name(name)?;
        let written = parse_key_id(id_hex).ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let raw = zeroize::Zeroizing::new(
            crate::tree::base64::decode(b64).map_err(|_| bad("the key is not standard base64"))?,
        );
        let (&kind, seed) = raw.split_first().ok_or_else(|| bad("the key is empty"))?;
        let kind = KeyKind::from_type_byte(kind)?;
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| bad("an Ed25519 private key is a 32-byte seed after the type byte"))?;
        let key = SigningKey::from_seed(name, kind, seed)?;
        if key.verifier.id != written {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_string(),
                written,
                computed: key.verifier.id,
            });
        }
        Ok(key)
    }

    /// The private key text, to be written to a file only the owner can read.
    pub fn private_text(&self) -> PrivateKeyText {
        let mut raw = zeroize::Zeroizing::new(Vec::with_capacity(33));
        raw.push(self.verifier.kind.type_byte());
        raw.extend_from_slice(self.secret.as_bytes());
        PrivateKeyText(zeroize::Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.verifier.name,
            self.verifier.id,
            crate::tree::base64::encode(raw.as_slice())
        )))
    }

    /// The public half.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.verifier.name
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.verifier.id
    }

    /// What the key signs.
    pub fn kind(&self) -> KeyKind {
        self.verifier.kind
    }

    /// The raw Ed25519 signature of `message`.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.secret.sign(message).to_bytes()
    }
}

/// A private key's text: shown only through [`PrivateKeyText::expose`], redacted in `Debug`,
/// wiped on drop.
pub struct PrivateKeyText(zeroize::Zeroizing<String>);

impl PrivateKeyText {
    /// The text itself, for writing to the key file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PrivateKeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKeyText(redacted)")
    }
}
