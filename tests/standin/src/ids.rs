//! Random identifiers in Mattermost's shape: 26 characters of its base32 alphabet, as `model.NewId`
//! produces for request ids and websocket connection ids.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Mattermost's base32 alphabet (`model.NewId` uses this encoding, then trims the padding).
const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// Length of a Mattermost id.
pub const ID_LEN: usize = 26;

/// A 64-bit random value; std's `RandomState` is seeded from the OS, and a counter keeps
/// successive values apart even within one hasher seed.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.finish()
}

/// A fresh 26-character id such as `q8fj4rw3p7dxmbz1kyoaun5e6c`.
pub fn new_id() -> String {
    let mut id = String::with_capacity(ID_LEN);
    let mut bits = 0u64;
    let mut left = 0u32;
    while id.len() < ID_LEN {
        if left < 5 {
            bits = random_u64();
            left = 64;
        }
        id.push(char::from(ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
        left -= 5;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_mattermost_shape_and_differ() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), ID_LEN);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, b);
    }
}
