//! Digests shared by the rules that store only hashes (access tokens, client keys,
//! command fingerprints) or sign what they hand out (admin sessions).

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Lower-case hex of the SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// HMAC-SHA256 under `key` of `purpose` followed by `parts`, each part length-prefixed so
/// no two different part lists hash the same input.
pub(crate) fn hmac_sha256(key: &[u8], purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
    use hmac::Mac as _;
    // Any key length is valid for HMAC, so this never fails.
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(key) else { return [0; 32] };
    mac.update(purpose.as_bytes());
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}
