//! The proof formats and checks: bundle, consistency-file, note and checkpoint parsers and
//! the proof verifiers never panic on any input; a valid bundle or consistency file with
//! arbitrary byte edits applied never verifies a claim (sizes, roots, index, record) other
//! than the original's.
//!
//! Input: first byte selects the mode. 0: the rest is fed raw to every parser and, read as
//! sizes and hashes, to both verifiers. 1 / 2: the rest is a script of 3-byte edits (offset
//! u16 little-endian, value) applied to a valid bundle (1) or consistency file (2).
#![no_main]

use evident_core::hash::Hash;
use evident_core::tree::{
    check_bundle, check_consistency_file, consistency_proof, inclusion_proof, prove_bundle,
    prove_consistency_file, root_at, verify_consistency, verify_inclusion, MemoryTree, Note,
    RecordExtra, TreeCheckpoint,
};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const ORIGIN: &str = "evident/00112233445566778899aabbccddeeff";

fn base() -> &'static (String, String) {
    static BASE: OnceLock<(String, String)> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut tree = MemoryTree::new();
        let mut records = Vec::new();
        for seq in 1..=21u64 {
            let r =
                RecordExtra::of_record(1, seq, seq * 7, format!("p{seq}").as_bytes(), seq % 2 == 0);
            tree.push_leaf(&r.leaf());
            records.push(r);
        }
        let note = |n: u64| {
            TreeCheckpoint::new(ORIGIN, n, root_at(n, &tree).unwrap())
                .unwrap()
                .unsigned_note()
                .unwrap()
        };
        let bundle = prove_bundle(
            &records[9],
            9,
            &inclusion_proof(9, 21, &tree).unwrap(),
            &note(21),
        )
        .unwrap();
        let cons = prove_consistency_file(
            &consistency_proof(11, 21, &tree).unwrap(),
            &note(11),
            &note(21),
        )
        .unwrap();
        (bundle, cons)
    })
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|c| Hash(c.try_into().unwrap()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let _ = check_bundle(rest);
            let _ = check_consistency_file(rest);
            let _ = Note::parse(rest);
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = TreeCheckpoint::parse_body(s);
            }
            if rest.len() >= 48 {
                let a = u64::from_le_bytes(rest[0..8].try_into().unwrap());
                let b = u64::from_le_bytes(rest[8..16].try_into().unwrap());
                let h = Hash(rest[16..48].try_into().unwrap());
                let proof = hashes(&rest[48..]);
                let _ = verify_inclusion(&h, a, b, &proof, &h);
                let _ = verify_consistency(a, b, &proof, &h, &h);
            }
        }
        m => {
            let (bundle, cons) = base();
            let original = if m == 1 { bundle } else { cons };
            let mut bytes = original.as_bytes().to_vec();
            for edit in rest.chunks_exact(3) {
                let at = u16::from_le_bytes([edit[0], edit[1]]) as usize % bytes.len();
                bytes[at] = edit[2];
            }
            // What the file proves, minus the origin: an unsigned checkpoint's origin line is
            // not authenticated (the proof math does not cover it; the signatures a policy
            // checks do), so editing it consistently everywhere yields another true claim.
            // Anything else the edits change must make the check fail.
            let facts = |b: &[u8]| -> Result<String, String> {
                if m == 1 {
                    check_bundle(b)
                        .map(|c| {
                            format!(
                                "{} {:?} {} {} {} {} {:?} {:?}",
                                c.size,
                                c.root,
                                c.index,
                                c.kind,
                                c.seq,
                                c.ts,
                                c.payload_hash,
                                c.payload
                            )
                        })
                        .map_err(|e| e.to_string())
                } else {
                    check_consistency_file(b)
                        .map(|c| {
                            format!(
                                "{} {:?} {} {:?}",
                                c.old_size, c.old_root, c.new_size, c.new_root
                            )
                        })
                        .map_err(|e| e.to_string())
                }
            };
            let truth = facts(original.as_bytes()).expect("the unchanged file must verify");
            match facts(&bytes) {
                Ok(claim) => assert_eq!(
                    claim, truth,
                    "an edited bundle or consistency file verified a different claim"
                ),
                Err(e) => assert!(!e.is_empty()),
            }
        }
    }
});
