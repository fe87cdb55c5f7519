//! The tree room's [`NoteSigner`] hook filled with a log's Ed25519 key, so
//! `TreeCheckpoint::signed_note(&[&key])` signs with the same key and bytes as
//! [`super::sign_note`].

use super::key::{KeyKind, SigningKey};
use crate::tree::note::NoteSigner;

impl NoteSigner for SigningKey {
    fn name(&self) -> &str {
        SigningKey::name(self)
    }

    fn key_id(&self) -> u32 {
        self.id().0
    }

    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, String> {
        if self.kind() != KeyKind::Ed25519 {
            return Err(format!(
                "key {} is a witness key: it cosigns, it does not sign checkpoints",
                SigningKey::name(self)
            ));
        }
        Ok(self.sign_raw(text).to_vec())
    }
}
