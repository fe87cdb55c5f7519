//! Property tests: every encoder round-trips through its decoder, for arbitrary values.

use evident_core::footer::{Footer, IndexBuilder};
use evident_core::frame::{self, Frame};
use evident_core::header::{FormatVersion, SegmentHeader};
use evident_core::{AuditEvent, Checkpoint, Decision, EventBody, Hash, LogId};
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

proptest! {
    #[test]
    fn entry_frames_round_trip(seq in 1u64.., ts: u64, h in hash(), payload in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut v = Vec::new();
        frame::encode_entry(&mut v, seq, ts, &h, &payload);
        prop_assert_eq!(v.len(), frame::entry_frame_len(payload.len()));
        match frame::decode(&v) {
            Frame::Entry(e) => {
                prop_assert_eq!((e.seq, e.ts, e.hash, e.payload), (seq, ts, h, &payload[..]));
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn headers_round_trip(id: [u8; 16], segno: u64, first in 1u64.., anchor in hash(), v1: bool) {
        let version = if v1 { FormatVersion::V1 } else { FormatVersion::V2 };
        let h = SegmentHeader { version, log_id: LogId(id), segno, first_seq: first, anchor };
        prop_assert_eq!(SegmentHeader::decode(&h.encode()), Ok(h));
    }

    #[test]
    fn footers_round_trip(
        first in 1u64..1_000_000,
        gaps in proptest::collection::vec((1u64..5, 0u64..1000, 8u64..100_000), 1..200),
        last_hash in hash(),
        edge_seed in hash(),
        with_edge: bool,
    ) {
        // A consistent footer: records at increasing offsets and times.
        let mut ib = IndexBuilder::new(65536);
        let (mut seq, mut ts, mut off) = (first, 1_000u64, 128u64);
        let mut first_ts = None;
        for (ds, dt, doff) in &gaps {
            ib.observe(seq, ts, off);
            first_ts.get_or_insert(ts);
            seq += ds;
            ts += dt;
            off += doff.next_multiple_of(8);
        }
        let last_seq = seq - 1;
        let f = Footer {
            count: last_seq - first + 1,
            first_seq: first,
            last_seq,
            last_hash,
            first_ts: first_ts.unwrap(),
            last_ts: ts,
            index_stride: 65536,
            index: ib.take(),
            // Format 2 carries one edge node per set bit of the last seq; format 1 none.
            edge: (0..last_seq.count_ones() * u32::from(with_edge))
                .map(|i| Hash(std::array::from_fn(|b| edge_seed.0[b] ^ i as u8)))
                .collect(),
            offset: off,
        };
        let b = f.encode();
        prop_assert_eq!(Footer::decode(&b), Ok(f.clone()));
        prop_assert_eq!(Footer::trailer_offset(&b[b.len() - 16..], off + b.len() as u64), Ok(off));
    }

    #[test]
    fn checkpoints_round_trip(id: [u8; 16], seq: u64, h in hash()) {
        let c = Checkpoint { log_id: LogId(id), seq, hash: h };
        prop_assert_eq!(Checkpoint::parse(&c.to_text()), Ok(c));
        prop_assert_eq!(Checkpoint::parse_canonical(&c.to_text()), Ok(c));
        prop_assert_eq!(Checkpoint::parse(&c.to_json()), Ok(c));
    }

    #[test]
    fn events_round_trip(agent in "[a-z0-9-]{1,20}", corr in "\\PC{0,30}", tool in "\\PC{1,20}", d in 0u8..5, latency: u64, status in proptest::option::of(100u16..600)) {
        let decision = [Decision::Allow, Decision::Deny, Decision::Modify, Decision::Audit, Decision::Warn][d as usize];
        let e = AuditEvent {
            agent_id: agent,
            correlation_id: corr,
            body: EventBody::ToolCall {
                tool_name: tool,
                call_id: "c".into(),
                operation: "execute_tool".into(),
                decision,
                policy: None,
                anomalies: vec![],
                latency_ms: latency,
                upstream_status: status,
                arguments: None,
                arguments_hash: None,
            },
        };
        prop_assert_eq!(AuditEvent::from_json(&e.to_json()).unwrap(), e);
    }
}
