//! Random identifiers in Mattermost's shape: 26 characters of its base32 alphabet, as `model.NewId`
//! produces for request ids and websocket connection ids.

/// Mattermost's base32 alphabet (`model.NewId` uses this encoding, then trims the padding).
const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// Length of a Mattermost id.
pub const ID_LEN: usize = 26;

/// A fresh 26-character id such as `q8fj4rw3p7dxmbz1kyoaun5e6c`, from the OS's random source
/// (one byte per character; 256 is a multiple of 32, so every character is equally likely).
pub fn new_id() -> String {
    let mut bytes = [0u8; ID_LEN];
    // Like `model.NewId`, which panics when crypto/rand fails: no id can be made without it.
    getrandom::fill(&mut bytes).expect("the OS random source");
    bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(byte & 31)]))
        .collect()
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
