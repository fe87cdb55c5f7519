//! Record, header, footer and checkpoint decoding on arbitrary bytes: never panics, never
//! allocates from a claimed length, and whatever decodes re-encodes to the same bytes.
#![no_main]

use evident_core::footer::Footer;
use evident_core::frame::{self, Frame};
use evident_core::header::SegmentHeader;
use evident_core::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Frame::Entry(e) = frame::decode(data) {
        let mut again = Vec::new();
        frame::encode_entry(&mut again, e.seq, e.ts, &e.hash, e.payload);
        assert_eq!(
            &again[..],
            &data[..e.frame_len],
            "a decoded entry re-encodes to its bytes"
        );
    }
    if let Ok(h) = SegmentHeader::decode(data) {
        assert_eq!(&h.encode()[..], &data[..128]);
    }
    if let Ok(f) = Footer::decode(data) {
        assert_eq!(f.encode(), data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cp) = Checkpoint::parse_canonical(text) {
            assert_eq!(cp.to_text(), text);
        }
        let _ = Checkpoint::parse(text);
    }
});
