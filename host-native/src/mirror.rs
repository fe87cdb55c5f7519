//! The optional stdout mirror (12-factor style): every committed record as one JSON line, in
//! seq order, for a log shipper (Vector, Fluent Bit) to pick up. Off by default.

use evident_core::Receipt;
use std::io::Write;

/// Writes one JSON line per acknowledged record to a sink (stdout unless told otherwise).
pub struct Mirror {
    out: Box<dyn Write + Send>,
}

impl Mirror {
    /// A mirror to standard output.
    pub fn stdout() -> Mirror {
        Mirror {
            out: Box::new(std::io::stdout()),
        }
    }

    /// A mirror to any writer (tests, a pipe).
    pub fn to(out: Box<dyn Write + Send>) -> Mirror {
        Mirror { out }
    }

    pub(crate) fn record(&mut self, r: &Receipt, payload: &[u8]) {
        let line = crate::jsonl::record_json(r.seq, r.ts, &r.hash, payload);
        // A broken stdout must not stop the trail: the trail is the record, the mirror a copy.
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }

    pub(crate) fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mirror")
    }
}
