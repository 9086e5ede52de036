//! SHA-256 as lower-case hex: the checksum of a policy file's text (has it changed?) and
//! of a state file's content (was it torn or edited?); and a service revision's number
//! from its name.

use std::io::Write;

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes` in hex, 64 characters.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A service revision's number from what names it (a task definition's ARN): the first
/// eight bytes of its SHA-256, never 0 (0 is "revision unknown").
pub fn revision(name: &str) -> u64 {
    let d = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first).max(1)
}

fn hex(digest: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// Passes what is written on to `inner` and hashes it on the way: a large text is
/// written and checksummed without being held in memory whole.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// The SHA-256 in hex of everything written, and how many bytes that was.
    pub fn finish(self) -> (String, u64) {
        (hex(&self.hasher.finalize()), self.written)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn hashing_on_the_way_matches_hashing_the_whole() {
        let mut out = Vec::new();
        let mut h = super::Hashing::new(&mut out);
        h.write_all(b"hello, ").unwrap();
        h.write_all(b"world").unwrap();
        let (sum, n) = h.finish();
        assert_eq!((sum, n), (super::sha256_hex(b"hello, world"), 12));
        assert_eq!(out, b"hello, world");
    }

    #[test]
    fn the_digest_of_nothing_is_the_published_one() {
        assert_eq!(
            super::sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
