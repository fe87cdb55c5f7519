//! The `*-base64` calls of the `log` resource: payloads as standard padded base64 strings.
//!
//! Why they exist: some component hosts lower a `list<u8>` one element at a time (wasmtime-py
//! turns each byte into a tagged value: about 1 s per MiB) but a `string` in one copy. The
//! trail stores the decoded bytes, so these calls write and read exactly what `append` and
//! `read` do.

use crate::bindings::evident::log::types as wit;
use crate::bindings::exports::evident::log::trail::{
    EntryBase64, QueryResult as WitQueryResult, QueryResultBase64,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Decodes one payload; `index` names it in the error (the position in a batch).
pub fn decode(payload: &str, index: usize) -> Result<Vec<u8>, wit::Error> {
    STANDARD.decode(payload).map_err(|e| {
        wit::Error::InvalidArgument(format!(
            "payload {index} is not standard padded base64: {e}"
        ))
    })
}

/// Decodes a batch of payloads, naming the first bad one.
pub fn decode_all(payloads: &[String]) -> Result<Vec<Vec<u8>>, wit::Error> {
    payloads
        .iter()
        .enumerate()
        .map(|(i, p)| decode(p, i))
        .collect()
}

/// An entry with its payload encoded.
pub fn entry(e: wit::Entry) -> EntryBase64 {
    EntryBase64 {
        seq: e.seq,
        timestamp: e.timestamp,
        payload: STANDARD.encode(&e.payload),
        hash: e.hash,
    }
}

/// A query result with its entries' payloads encoded.
pub fn query_result(r: WitQueryResult) -> QueryResultBase64 {
    QueryResultBase64 {
        entries: r.entries.into_iter().map(entry).collect(),
        head: r.head,
        segments_read: r.segments_read,
    }
}
