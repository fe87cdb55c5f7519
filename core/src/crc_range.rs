//! CRC32C of any aligned range of a stream in constant work, from running prefix values.
//!
//! The tail search of recovery (see [`crate::scan`]) tests a candidate frame at every 8-byte
//! aligned offset after damage; each claims a length of up to 16 MiB. Hashing every candidate's
//! bytes anew makes junk made to look like candidates cost the square of its size. CRCs are
//! linear over GF(2): with `S(o)` the CRC32C of the stream from a fixed origin to offset `o`,
//! `crc(bytes[a..b]) = S(b) ^ shift(S(a), b - a)`, where `shift` multiplies by `x^(8(b-a))`
//! modulo the polynomial (zlib's `crc32_combine`, with a precomputed table of `x^(2^k)`). So
//! each stream byte is hashed once and each candidate costs one `shift` (at most 64 carry-less
//! multiplications of 32-bit words), whatever length it claims.

/// CRC32C's polynomial, bit-reflected.
const POLY: u32 = 0x82F6_3B78;

/// `a * b mod POLY` in the reflected representation (bit 31 is `x^0`).
const fn multmodp(a: u32, mut b: u32) -> u32 {
    if a == 0 {
        return 0;
    }
    let mut m: u32 = 1 << 31;
    let mut p: u32 = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// `X2N[k] = x^(2^k) mod POLY`.
const X2N: [u32; 32] = {
    let mut t = [0u32; 32];
    let mut p: u32 = 1 << 30; // x^1
    let mut k = 0;
    while k < 32 {
        t[k] = p;
        p = multmodp(p, p);
        k += 1;
    }
    t
};

/// `x^(n * 2^k) mod POLY`.
fn x2nmodp(mut n: u64, mut k: usize) -> u32 {
    let mut p: u32 = 1 << 31; // x^0
    while n != 0 {
        if n & 1 != 0 {
            p = multmodp(X2N[k & 31], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// The CRC register `crc` advanced over `len` zero-contributing bytes: the value to XOR with
/// the CRC of the next `len` bytes to get the CRC of both parts (zlib's combine, in reverse).
pub(crate) fn shift(crc: u32, len: u64) -> u32 {
    multmodp(x2nmodp(len, 3), crc)
}

/// Running CRC32C values at every 8-byte boundary of a stream window: `at(o)` is the CRC32C of
/// the bytes from the window's origin to `o`. Entries before the oldest offset still needed are
/// dropped, so memory is half the bytes between that offset and the newest one.
#[derive(Debug, Default)]
pub(crate) struct PrefixCrcs {
    /// File offset of `values[0]`.
    base: u64,
    values: std::collections::VecDeque<u32>,
    /// Bytes hashed so far (each stream byte once).
    pub(crate) hashed: u64,
}

impl PrefixCrcs {
    /// A window whose origin is `origin` (a multiple of 8).
    pub(crate) fn new(origin: u64) -> PrefixCrcs {
        PrefixCrcs {
            base: origin,
            values: std::collections::VecDeque::from([0u32]),
            hashed: 0,
        }
    }

    /// File offset up to which values are known.
    pub(crate) fn end(&self) -> u64 {
        self.base + 8 * (self.values.len() as u64 - 1)
    }

    /// Extends the values over `bytes`, which start at [`PrefixCrcs::end`] (a whole number of
    /// 8-byte words is used; the rest waits for the next call).
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        let mut last = *self.values.back().expect("never empty");
        for word in bytes.chunks_exact(8) {
            last = crc32c::crc32c_append(last, word);
            self.values.push_back(last);
        }
        self.hashed += (bytes.len() / 8 * 8) as u64;
    }

    /// The value at `offset` (a multiple of 8 within the window).
    pub(crate) fn at(&self, offset: u64) -> u32 {
        self.values[((offset - self.base) / 8) as usize]
    }

    /// Moves the origin to `offset` when every known value is before it (their bytes are no
    /// longer needed); ranges are only ever asked within one origin.
    pub(crate) fn restart_if_before(&mut self, offset: u64) {
        if self.end() < offset {
            self.base = offset;
            self.values.clear();
            self.values.push_back(0);
        }
    }

    /// Drops values before `offset` (no later query asks for them).
    pub(crate) fn forget_before(&mut self, offset: u64) {
        while self.base < offset && self.values.len() > 1 {
            self.values.pop_front();
            self.base += 8;
        }
    }

    /// The CRC32C of the stream's bytes `[a, b)`, both multiples of 8 within the window.
    #[cfg(test)]
    pub(crate) fn range(&self, a: u64, b: u64) -> u32 {
        self.at(b) ^ shift(self.at(a), b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_crcs_equal_direct_crcs() {
        let bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut p = PrefixCrcs::new(64);
        p.extend(&bytes[64..]);
        for a in (64..4096).step_by(56) {
            for b in (a..=4096).step_by(8 * 13) {
                let (a, b) = (a as u64, b as u64);
                assert_eq!(
                    p.range(a, b),
                    crc32c::crc32c(&bytes[a as usize..b as usize]),
                    "[{a}, {b})"
                );
            }
        }
        p.forget_before(1024);
        assert_eq!(p.range(1024, 4096), crc32c::crc32c(&bytes[1024..]));
    }

    #[test]
    fn shift_is_zlib_combine() {
        let (a, b) = (b"evident ".as_slice(), b"tail search".as_slice());
        let whole = crc32c::crc32c(&[a, b].concat());
        assert_eq!(
            shift(crc32c::crc32c(a), b.len() as u64) ^ crc32c::crc32c(b),
            whole
        );
    }
}
