//! Why a key, a note or a cosignature was refused. Every variant says what is wrong; none
//! carries secret material (a private key's text never reaches an error).

use super::key::KeyId;

/// A refusal from the signed-note room: parsing keys, parsing notes, verifying signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// A key name is empty or contains a space, a `+` or a control character.
    BadKeyName {
        /// The offending name (names are public).
        name: String,
    },
    /// A verifier key's text is not `<name>+<hex id>+<base64(type || key)>`.
    BadVerifierKey {
        /// What is wrong with it.
        reason: String,
    },
    /// A private key's text is not `PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>`.
    /// The reason never quotes the key material.
    BadPrivateKey {
        /// What is wrong with it.
        reason: String,
    },
    /// A key's type byte is not one evident supports (0x01 Ed25519, 0x04 cosignature/v1).
    UnsupportedKeyType {
        /// The type byte found.
        kind: u8,
    },
    /// The key id written beside a key does not match the one its name and public key give.
    KeyIdMismatch {
        /// Key name.
        name: String,
        /// The id written in the key text.
        written: KeyId,
        /// The id computed from the name and the public key.
        computed: KeyId,
    },
    /// The note is not well-formed (UTF-8, no control characters but newline, text ending in
    /// a newline, a blank line, then signature lines).
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// The note is longer than [`super::MAX_NOTE_LEN`] bytes.
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The note has more than [`super::MAX_SIGNATURES`] signature lines.
    TooManySignatures {
        /// The limit that was passed.
        limit: usize,
    },
    /// A signature line is not `— <name> <base64(key id || signature)>`.
    BadSignatureLine {
        /// 1-based number of the signature line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature from a known key does not verify: the whole note is refused.
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key id.
        id: KeyId,
    },
    /// The same known key signed twice (refused: a second line could hide a forged one).
    DuplicateSignature {
        /// Key name.
        name: String,
        /// Key id.
        id: KeyId,
    },
    /// No signature of the note comes from a key the verifier knows.
    NoKnownSignature,
    /// A cosignature's timestamp is above 2^63 - 1.
    BadTimestamp {
        /// The timestamp.
        timestamp: u64,
    },
    /// The key cannot make this kind of signature (a log key asked to cosign, or the reverse).
    WrongKeyKind {
        /// Key name.
        name: String,
    },
}

impl std::fmt::Display for NoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteError::BadKeyName { name } => write!(
                f,
                "bad key name {name:?}: it must be non-empty, without spaces, '+' or control characters"
            ),
            NoteError::BadVerifierKey { reason } => write!(f, "bad verifier key: {reason}"),
            NoteError::BadPrivateKey { reason } => write!(f, "bad private key: {reason}"),
            NoteError::UnsupportedKeyType { kind } => write!(
                f,
                "unsupported key type 0x{kind:02x} (evident knows 0x01 Ed25519 and 0x04 cosignature/v1)"
            ),
            NoteError::KeyIdMismatch {
                name,
                written,
                computed,
            } => write!(
                f,
                "key {name}: key id {written} written, but its name and public key give {computed}"
            ),
            NoteError::Malformed { reason } => write!(f, "malformed signed note: {reason}"),
            NoteError::TooLong { len } => write!(
                f,
                "signed note of {len} bytes is longer than the {} allowed",
                super::MAX_NOTE_LEN
            ),
            NoteError::TooManySignatures { limit } => {
                write!(f, "signed note has more than {limit} signature lines")
            }
            NoteError::BadSignatureLine { line, reason } => {
                write!(f, "signature line {line}: {reason}")
            }
            NoteError::InvalidSignature { name, id } => write!(
                f,
                "signature by known key {name} ({id}) does not verify: the note was changed or forged"
            ),
            NoteError::DuplicateSignature { name, id } => {
                write!(f, "key {name} ({id}) signed the note twice")
            }
            NoteError::NoKnownSignature => {
                write!(f, "no signature of the note comes from a trusted key")
            }
            NoteError::BadTimestamp { timestamp } => {
                write!(f, "cosignature timestamp {timestamp} is above 2^63 - 1")
            }
            NoteError::WrongKeyKind { name } => write!(
                f,
                "key {name} cannot make this kind of signature (log keys sign, witness keys cosign)"
            ),
        }
    }
}

impl std::error::Error for NoteError {}
