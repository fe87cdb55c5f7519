//! A payload with what the writer derives from the payload alone, computed before the record is
//! queued: the version-2 payload hash (the bulk of a record's hashing) and the agent id the
//! agent index files it under.
//!
//! Neither depends on the record's seq, timestamp or place in the chain, so a host can compute
//! them wherever it likes: the native adapter does it in the producer's task, in parallel with
//! other producers and with the writer, so that the writer's thread (the one serial step of
//! group commit) is left with the leaf, the chain step, the tree node, the CRC and the copy.
//! The fields are private and only [`PreparedPayload::new`] fills them, so a prepared payload
//! always holds the hash of its own bytes: a host cannot hand the core a wrong one.

use crate::agent_index::agent_of;
use crate::frame::MAX_PAYLOAD;
use crate::hash::{payload_hash, Hash};

/// A payload, its payload hash and its agent id (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedPayload {
    payload: Vec<u8>,
    hash: Hash,
    agent: Option<String>,
}

impl PreparedPayload {
    /// Hashes `payload` and reads its agent id (`gen_ai.agent.id` of an audit event; none for
    /// other payloads). A payload larger than the format allows ([`MAX_PAYLOAD`]) is neither
    /// hashed nor read (a trail refuses it whatever its options, by its length), so preparing
    /// an oversized payload costs nothing.
    pub fn new(payload: Vec<u8>) -> PreparedPayload {
        if payload.len() > MAX_PAYLOAD {
            return PreparedPayload {
                payload,
                hash: Hash::default(),
                agent: None,
            };
        }
        let hash = payload_hash(&payload);
        let agent = agent_of(&payload).map(|a| a.into_owned());
        PreparedPayload {
            payload,
            hash,
            agent,
        }
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// `BLAKE3-keyed(K_PAYLOAD, payload)` (all zeros for a payload over [`MAX_PAYLOAD`],
    /// which is never written).
    pub fn hash(&self) -> &Hash {
        &self.hash
    }

    /// The agent the payload belongs to, if it is an audit event.
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{AuditEvent, EventBody};

    #[test]
    fn holds_the_hash_and_agent_of_its_own_bytes() {
        let e = AuditEvent {
            agent_id: "agent-7".into(),
            correlation_id: "req-1".into(),
            body: EventBody::ExecStarted { pid: 7 },
        };
        let p = PreparedPayload::new(e.to_json());
        assert_eq!(p.payload(), &e.to_json()[..]);
        assert_eq!(*p.hash(), payload_hash(&e.to_json()));
        assert_eq!(p.agent(), Some("agent-7"));
        let raw = PreparedPayload::new(b"not an event".to_vec());
        assert_eq!(raw.agent(), None);
        assert_eq!(*raw.hash(), payload_hash(b"not an event"));
        assert_eq!(raw.len(), 12);
    }

    #[test]
    fn a_payload_over_the_format_limit_is_not_hashed_and_never_accepted() {
        let p = PreparedPayload::new(vec![b'{'; MAX_PAYLOAD + 1]);
        assert_eq!(*p.hash(), Hash::default());
        assert_eq!(p.agent(), None);
        // Every trail refuses it by length (max_payload is at most MAX_PAYLOAD).
        let mut t = crate::Trail::open(crate::Options::default(), crate::LogId([1; 16]), 1);
        assert!(matches!(
            t.handle_append_prepared(1, p, 1, None),
            Err(crate::Error::TooLarge { .. })
        ));
    }
}
