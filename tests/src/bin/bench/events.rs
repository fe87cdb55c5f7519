//! The benchmark's records: realistic audit events of about 250 bytes, from the core's
//! simulation support (the criterion benches of the core append the same ones).

pub use evident_core::sim::sample_events as generate;

/// Mean payload size in bytes.
pub fn mean_len(events: &[Vec<u8>]) -> f64 {
    events.iter().map(Vec::len).sum::<usize>() as f64 / events.len().max(1) as f64
}
