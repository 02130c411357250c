//! FNV-1a, 64 bits: the one change-detecting hash behind tensor hashes, source and module
//! hashes, and pipeline stamps (no cryptographic claim; it notices change, it protects nothing).

/// An FNV-1a state fed byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;

    pub const fn new() -> Self {
        Fnv1a(Self::OFFSET_BASIS)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// Feeds the values' little-endian bytes, so the hash is the same on every platform.
    pub fn update_f32s(&mut self, values: &[f32]) {
        for v in values {
            self.update(&v.to_le_bytes());
        }
    }

    pub const fn finish(self) -> u64 {
        self.0
    }

    /// The hash as 16 lower-case hex digits, the way files and stamps print it.
    pub fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The hash of some bytes.
pub fn bytes(data: &[u8]) -> u64 {
    let mut h = Fnv1a::new();
    h.update(data);
    h.finish()
}

/// The hash of the little-endian bytes of `values`: how a tensor's contents are identified.
pub fn f32s(values: &[f32]) -> u64 {
    let mut h = Fnv1a::new();
    h.update_f32s(values);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vectors() {
        assert_eq!(bytes(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(bytes(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(bytes(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn floats_hash_as_their_little_endian_bytes() {
        let values = [1.5f32, -0.0, 3.25];
        let le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(f32s(&values), bytes(&le));
    }
}
