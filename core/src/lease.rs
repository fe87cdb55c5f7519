//! The writer lease kept in a trail's `LOCK` file: its text form and the decision a new writer
//! takes from what it reads there. Pure: the hosts read and write the file, read the clock and
//! (natively) hold a `flock` on the directory; this module only decides.
//!
//! ```text
//! evident-lease 1
//! token <32 lower-case hex>
//! holder native pid=<pid> | component [<label>]
//! acquired <20 digits: unix ns>
//! expires <20 digits: unix ns; all zeros = released>
//! ```
//!
//! Every line ends with LF. The numbers are fixed width so that a renewal rewrites the file in
//! place at offset 0 with the same length (a reader never sees a shorter file with stale bytes
//! after it). See FORMAT.md, "The writer lease (LOCK)", for the rules every writer follows.

/// The lease file's name in a trail directory.
pub const LOCK_FILE: &str = "LOCK";
/// The first line of a lease.
pub const MAGIC: &str = "evident-lease 1";
/// A lease file is at most this long; a reader reads one byte more to tell a longer file.
pub const MAX_LEASE_BYTES: usize = 256;
/// The longest holder label kept (longer labels are cut).
pub const MAX_LABEL: usize = 64;
/// The default lease duration: 10 s.
pub const DEFAULT_LEASE_NS: u64 = 10_000_000_000;
/// The shortest lease accepted: 50 ms.
pub const MIN_LEASE_NS: u64 = 50_000_000;
/// The longest lease accepted: one day.
pub const MAX_LEASE_NS: u64 = 86_400_000_000_000;

/// Who holds a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A native writer: its process id. Its directory `flock` tells whether it is alive.
    Native {
        /// The process id.
        pid: u32,
    },
    /// A WebAssembly component writer, with the label its host gave (if any).
    Component {
        /// The host's label, printable ASCII without spaces at its ends.
        label: Option<String>,
    },
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Native { pid } => write!(f, "native pid={pid}"),
            Holder::Component { label: None } => write!(f, "component"),
            Holder::Component { label: Some(l) } => write!(f, "component {l}"),
        }
    }
}

/// Makes a host's label safe for the one-line holder field: printable ASCII only (others become
/// `?`), trimmed, at most [`MAX_LABEL`] bytes; `None` when nothing is left.
pub fn clean_label(label: &str) -> Option<String> {
    let cleaned: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_LABEL)
        .collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_string())
}

/// One lease, as written in `LOCK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Random per writer: the writer checks that `LOCK` still carries it.
    pub token: [u8; 16],
    /// Who holds it.
    pub holder: Holder,
    /// When it was taken (unix ns, wall clock).
    pub acquired: u64,
    /// When it lapses unless renewed (unix ns, wall clock); 0 once released.
    pub expires: u64,
}

/// What a `LOCK` file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockContent {
    /// An empty file: written by versions before the lease (they only `flock`ed it).
    Empty,
    /// A lease (perhaps released).
    Lease(Lease),
}

/// The token's 32 lower-case hex digits (the one spelling a lease file may hold).
fn unhex16(s: &str) -> Option<[u8; 16]> {
    if !crate::hash::is_lower_hex(s) {
        return None;
    }
    crate::hash::LogId::from_hex(s).map(|id| id.0)
}

fn digits20(s: &str) -> Option<u64> {
    if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Lease {
    /// Whether the holder gave it up (closed cleanly).
    pub fn is_released(&self) -> bool {
        self.expires == 0
    }

    /// The token in hex.
    pub fn token_hex(&self) -> String {
        crate::hash::to_hex(&self.token)
    }

    /// The text form (always the same length for the same holder).
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{MAGIC}\ntoken {}\nholder {}\nacquired {:020}\nexpires {:020}\n",
            self.token_hex(),
            self.holder,
            self.acquired,
            self.expires
        )
        .into_bytes()
    }

    /// Reads a `LOCK` file's bytes (at most [`MAX_LEASE_BYTES`]; a host reads one byte more
    /// and passes it, so a longer file is refused here). The error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<LockContent, String> {
        if bytes.is_empty() {
            return Ok(LockContent::Empty);
        }
        if bytes.len() > MAX_LEASE_BYTES {
            return Err(format!(
                "longer than a lease can be ({MAX_LEASE_BYTES} bytes)"
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| "does not end with a line feed".to_string())?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.first() != Some(&MAGIC) {
            return Err(format!("does not start with `{MAGIC}`"));
        }
        if lines.len() != 5 {
            return Err(format!("has {} lines, a lease has 5", lines.len()));
        }
        let field = |i: usize, name: &str| -> Result<&str, String> {
            lines[i]
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| format!("line {} is not `{name} ...`", i + 1))
        };
        let token = unhex16(field(1, "token")?)
            .ok_or_else(|| "the token is not 32 lower-case hex digits".to_string())?;
        let holder_text = field(2, "holder")?;
        let holder = if let Some(pid) = holder_text.strip_prefix("native pid=") {
            let pid = pid
                .parse::<u32>()
                .ok()
                .filter(|_| pid.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("holder `{holder_text}`: bad pid"))?;
            Holder::Native { pid }
        } else if holder_text == "component" {
            Holder::Component { label: None }
        } else if let Some(label) = holder_text.strip_prefix("component ") {
            Holder::Component {
                label: clean_label(label),
            }
        } else {
            return Err(format!(
                "holder `{holder_text}` is neither `native pid=N` nor `component`"
            ));
        };
        let acquired = digits20(field(3, "acquired")?)
            .ok_or_else(|| "`acquired` is not 20 digits".to_string())?;
        let expires = digits20(field(4, "expires")?)
            .ok_or_else(|| "`expires` is not 20 digits".to_string())?;
        Ok(LockContent::Lease(Lease {
            token,
            holder,
            acquired,
            expires,
        }))
    }

    /// "native pid=42 since `<t>`, expires in 3.2 s" (times relative to `now`, wall-clock ns).
    pub fn describe(&self, now: u64) -> String {
        let secs = |ns: u64| ns as f64 / 1e9;
        let since = if now >= self.acquired {
            format!("since {:.1} s ago", secs(now - self.acquired))
        } else {
            format!("since {} (in the future)", self.acquired)
        };
        let until = if self.is_released() {
            "released".to_string()
        } else if self.expires >= now {
            format!("lease expires in {:.1} s", secs(self.expires - now))
        } else {
            format!("lease expired {:.1} s ago", secs(now - self.expires))
        };
        format!("{} ({since}, {until})", self.holder)
    }
}

/// The lease's clock: how long it lasts and what follows from that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a lease lasts after each renewal.
    pub lease_ns: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            lease_ns: DEFAULT_LEASE_NS,
        }
    }
}

impl Timing {
    /// A timing with `lease_ns`, refused outside [`MIN_LEASE_NS`]..=[`MAX_LEASE_NS`] with a
    /// message saying the range.
    pub fn new(lease_ns: u64) -> Result<Timing, String> {
        if !(MIN_LEASE_NS..=MAX_LEASE_NS).contains(&lease_ns) {
            return Err(format!(
                "lease {} ms is out of range: {} ms to {} ms",
                lease_ns / 1_000_000,
                MIN_LEASE_NS / 1_000_000,
                MAX_LEASE_NS / 1_000_000
            ));
        }
        Ok(Timing { lease_ns })
    }

    /// The holder renews this often (a fifth of the lease).
    pub fn renew_every(&self) -> u64 {
        self.lease_ns / 5
    }

    /// A lease counts as lapsed only this long after its `expires` (a tenth of the lease): room
    /// for a holder's renewal in flight and small clock differences.
    pub fn grace(&self) -> u64 {
        self.lease_ns / 10
    }

    /// How long a writer that found `LOCK` missing in a directory with segments waits before it
    /// reads the trail: a renewal interval plus the grace, so a live holder has run into the
    /// missing (or foreign) `LOCK` on its next check and stopped.
    pub fn settle(&self) -> u64 {
        self.renew_every() + self.grace()
    }

    /// How long a writer that has just taken a lease over waits before it re-reads `LOCK` to
    /// confirm its token (a rival that read the same lapsed lease and removed our new file is
    /// seen then): the grace, at most 100 ms.
    pub fn confirm(&self) -> u64 {
        self.grace().min(100_000_000)
    }

    /// Whether a holder whose lease `expires` must renew before writing at `now`: when less
    /// than the lease minus one renewal interval is left.
    pub fn renewal_due(&self, expires: u64, now: u64) -> bool {
        expires.saturating_sub(now) < self.lease_ns - self.renew_every()
    }
}

/// What `LOCK` looked like to a writer about to open the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// No `LOCK` file.
    Missing,
    /// The bytes read (up to [`MAX_LEASE_BYTES`] + 1).
    Bytes(Vec<u8>),
}

/// What a writer does about what it read in `LOCK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Create `LOCK` exclusively; then, if `settle_ns` > 0, wait that long before reading the
    /// trail (the file vanished from under a possibly live holder).
    Create {
        /// How long to wait after creating it.
        settle_ns: u64,
    },
    /// Remove `LOCK` and create it exclusively with a fresh lease (the old holder is gone:
    /// released, legacy empty file, proven dead, or lapsed); `why` says which.
    TakeOver {
        /// Why taking over is safe.
        why: String,
    },
    /// Another writer holds the trail: the message names it, since when and until when.
    Locked(String),
    /// `LOCK` is not a lease: the message says what is wrong (the operator decides, e.g. with
    /// `evident break-lock`).
    Invalid(String),
}

/// The acquire decision. `native_holder_dead`: the caller holds the directory's native `flock`
/// (so any native holder has died: its lock died with it). `segments_exist`: the directory
/// already holds trail files. `now` is the wall clock in unix ns.
pub fn decide(
    observed: &Observed,
    now: u64,
    timing: Timing,
    native_holder_dead: bool,
    segments_exist: bool,
) -> Decision {
    let bytes = match observed {
        Observed::Missing => {
            return Decision::Create {
                settle_ns: if segments_exist { timing.settle() } else { 0 },
            }
        }
        Observed::Bytes(b) => b,
    };
    let lease = match Lease::decode(bytes) {
        Ok(LockContent::Empty) => {
            return Decision::TakeOver {
                why: "an empty LOCK of an earlier version".into(),
            }
        }
        Ok(LockContent::Lease(l)) => l,
        Err(e) => {
            return Decision::Invalid(format!(
                "{LOCK_FILE} is not a writer lease: {e}; if no writer is running, \
                 `evident break-lock` removes it"
            ))
        }
    };
    if lease.is_released() {
        return Decision::TakeOver {
            why: format!("released by {}", lease.holder),
        };
    }
    if native_holder_dead && matches!(lease.holder, Holder::Native { .. }) {
        return Decision::TakeOver {
            why: format!("{} died (its directory lock is free)", lease.holder),
        };
    }
    if now > lease.expires.saturating_add(timing.grace()) {
        return Decision::TakeOver {
            why: format!("the lease of {} lapsed", lease.describe(now)),
        };
    }
    Decision::Locked(format!("held by {}", lease.describe(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn lease(holder: Holder, expires: u64) -> Lease {
        Lease {
            token: [0xab; 16],
            holder,
            acquired: 100 * S,
            expires,
        }
    }

    #[test]
    fn encode_decode_round_trip_and_fixed_width() {
        for holder in [
            Holder::Native { pid: 4242 },
            Holder::Component { label: None },
            Holder::Component {
                label: Some("jco host 7".into()),
            },
        ] {
            let l = lease(holder, 110 * S);
            let bytes = l.encode();
            assert!(bytes.len() <= MAX_LEASE_BYTES);
            assert_eq!(Lease::decode(&bytes), Ok(LockContent::Lease(l.clone())));
            let renewed = Lease {
                expires: u64::MAX,
                ..l.clone()
            };
            let released = Lease { expires: 0, ..l };
            assert_eq!(
                renewed.encode().len(),
                bytes.len(),
                "renewal rewrites in place"
            );
            assert_eq!(released.encode().len(), bytes.len());
            assert!(released.is_released());
        }
        let text = String::from_utf8(lease(Holder::Native { pid: 7 }, 5).encode()).unwrap();
        assert_eq!(
            text,
            "evident-lease 1\ntoken abababababababababababababababab\nholder native pid=7\n\
             acquired 00000000100000000000\nexpires 00000000000000000005\n"
        );
    }

    #[test]
    fn decode_refuses_what_is_not_a_lease_and_says_why() {
        assert_eq!(Lease::decode(b""), Ok(LockContent::Empty));
        let good = String::from_utf8(lease(Holder::Native { pid: 7 }, 5).encode()).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![b'x'; MAX_LEASE_BYTES + 1], "longer"),
            (vec![0xff, b'\n'], "not text"),
            (good.trim_end().as_bytes().to_vec(), "line feed"),
            (b"hello\n".to_vec(), "does not start"),
            (good.replace("token ab", "token AB").into_bytes(), "token"),
            (good.replace("pid=7", "pid=x").into_bytes(), "pid"),
            (good.replace("pid=7", "pid=+7").into_bytes(), "pid"),
            (
                good.replace("native pid=7", "martian").into_bytes(),
                "neither",
            ),
            (
                good.replace("expires 0", "expires ").into_bytes(),
                "expires",
            ),
            (format!("{good}extra\n").into_bytes(), "6 lines"),
        ];
        for (bytes, want) in cases {
            let e = Lease::decode(&bytes).unwrap_err();
            assert!(e.contains(want), "{e:?} should mention {want:?}");
        }
    }

    #[test]
    fn labels_are_made_one_line_and_bounded() {
        assert_eq!(clean_label("  "), None);
        assert_eq!(clean_label("a\nb"), Some("a?b".into()));
        assert_eq!(clean_label(&"x".repeat(500)).unwrap().len(), MAX_LABEL);
    }

    #[test]
    fn the_acquire_decision() {
        let t = Timing::new(10 * S).unwrap();
        let now = 200 * S;
        let bytes = |l: Lease| Observed::Bytes(l.encode());
        assert_eq!(
            decide(&Observed::Missing, now, t, false, false),
            Decision::Create { settle_ns: 0 }
        );
        assert_eq!(
            decide(&Observed::Missing, now, t, true, true),
            Decision::Create {
                settle_ns: t.settle()
            },
            "LOCK vanished beside segments: wait for a live holder to notice"
        );
        assert!(matches!(
            decide(&Observed::Bytes(vec![]), now, t, false, true),
            Decision::TakeOver { .. }
        ));
        assert!(matches!(
            decide(
                &bytes(lease(Holder::Native { pid: 1 }, 0)),
                now,
                t,
                false,
                true
            ),
            Decision::TakeOver { .. }
        ));
        // A live-looking native holder: taken at once only when the flock proved it dead.
        let native = lease(Holder::Native { pid: 9 }, now + 5 * S);
        match decide(&bytes(native.clone()), now, t, false, true) {
            Decision::Locked(m) => assert!(m.contains("native pid=9"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decide(&bytes(native), now, t, true, true),
            Decision::TakeOver { .. }
        ));
        // A component holder: never proven dead, only lapsed (beyond the grace).
        let comp = |expires| lease(Holder::Component { label: None }, expires);
        assert!(matches!(
            decide(&bytes(comp(now + S)), now, t, true, true),
            Decision::Locked(_)
        ));
        assert!(matches!(
            decide(&bytes(comp(now - t.grace())), now, t, true, true),
            Decision::Locked(_)
        ));
        assert!(matches!(
            decide(&bytes(comp(now - t.grace() - 1)), now, t, false, true),
            Decision::TakeOver { .. }
        ));
        match decide(&Observed::Bytes(b"junk".to_vec()), now, t, true, true) {
            Decision::Invalid(m) => assert!(m.contains("LOCK") && m.contains("break-lock")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timing_rules() {
        assert!(Timing::new(MIN_LEASE_NS - 1).unwrap_err().contains("50 ms"));
        assert!(Timing::new(MAX_LEASE_NS + 1).is_err());
        let t = Timing::new(10 * S).unwrap();
        assert_eq!(t.renew_every(), 2 * S);
        assert!(!t.renewal_due(100 * S + 10 * S, 100 * S));
        assert!(!t.renewal_due(100 * S + 10 * S, 102 * S - 1));
        assert!(t.renewal_due(100 * S + 10 * S, 102 * S + 1));
        assert!(t.renewal_due(0, 102 * S));
        assert!(t.settle() > t.renew_every());
    }
}
