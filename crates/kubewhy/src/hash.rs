//! The one stable hash: 64-bit FNV-1a, the hash the API server computes for `shardRange(...)`
//! (`k8s.io/apimachinery/pkg/sharding`, Go's `hash/fnv` `New64a`). Unlike `std`'s hashers it is the same in every
//! run, build and Rust version, so it may name what kubewhy ships (a fix's object names) or tell texts apart
//! across processes — as long as what it hashes is a stable encoding too (JSON of public data, not `Debug`).

/// 64-bit FNV-1a, fed bytes as they come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a64(u64);

impl Fnv1a64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// A hash of nothing yet.
    pub fn new() -> Fnv1a64 {
        Fnv1a64(Fnv1a64::OFFSET)
    }

    /// Feeds one byte.
    pub fn byte(&mut self, b: u8) {
        self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Fnv1a64::PRIME);
    }

    /// Feeds bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    /// The hash of what was fed.
    pub fn finish(self) -> u64 {
        self.0
    }
}

impl Default for Fnv1a64 {
    fn default() -> Fnv1a64 {
        Fnv1a64::new()
    }
}

/// The 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a64::new();
    h.bytes(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_gos_fnv_new64a() {
        // Go: fnv.New64a() of "", "a" and a uid (the last computed by k8s.io/apimachinery/pkg/sharding).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        let mut h = Fnv1a64::new();
        h.bytes(b"ab");
        h.byte(b'c');
        assert_eq!(h.finish(), fnv1a64(b"abc"));
    }
}
