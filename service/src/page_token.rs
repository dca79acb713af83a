//! ListSongs' page tokens (AIP-158): opaque to the caller, bound to the
//! request they came from, tamper-evident. A token is the position to go on
//! from (the last song title of its page) and an HMAC-SHA256 over that
//! position and the request's table and artist, in base64url. A token that was
//! altered, made up, or sent with another table or artist does not verify, and
//! the call is INVALID_ARGUMENT.
//!
//! The key comes from `--page-token-secret`; without one, from the system's
//! random generator at start, so that tokens hold only for this process (set
//! the same secret on every replica behind one load balancer).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Violation;

/// Bytes of the MAC kept in a token: 128 bits, as AIP-158's examples afford.
const MAC_LEN: usize = 16;
/// The first byte of a token: its format, so that a later one can be told apart.
const VERSION: u8 = 1;

/// Seals and opens page tokens with one key.
#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("PageTokens").finish_non_exhaustive()
    }
}

impl PageTokens {
    /// Tokens keyed by `secret` (any text, hashed to a key), or by a random key.
    pub fn new(secret: Option<&str>) -> Self {
        use sha2::Digest;
        let key = match secret {
            Some(secret) => Sha256::digest(secret.as_bytes()).into(),
            None => rand::random(),
        };
        Self { key }
    }

    fn mac(&self, scope: &[&str], position: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        for part in scope.iter().chain([&position]) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The token that resumes after `position` within `scope` (table, artist).
    pub fn seal(&self, scope: &[&str], position: &str) -> String {
        let tag = self.mac(scope, position).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(1 + position.len() + MAC_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(position.as_bytes());
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position a token resumes after, if it was sealed for `scope`.
    pub fn open(&self, token: &str, scope: &[&str]) -> Result<String, Violation> {
        let invalid = || {
            Violation::new(
                "page_token",
                "page_token is not a token this service gave for this table and artist; start again without one",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if bytes.len() < 1 + MAC_LEN || bytes[0] != VERSION {
            return Err(invalid());
        }
        let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let position = std::str::from_utf8(&body[1..]).map_err(|_| invalid())?;
        // Compared in constant time.
        self.mac(scope, position)
            .verify_truncated_left(tag)
            .map_err(|_| invalid())?;
        Ok(position.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_for_its_own_request_only() {
        let tokens = PageTokens::new(Some("secret"));
        let token = tokens.seal(&["Music", "No One You Know"], "Call Me Today");
        assert_eq!(
            tokens
                .open(&token, &["Music", "No One You Know"])
                .as_deref(),
            Ok("Call Me Today")
        );
        assert!(tokens.open(&token, &["Music", "Someone Else"]).is_err());
        assert!(tokens.open(&token, &["Other", "No One You Know"]).is_err());
        assert!(
            PageTokens::new(Some("another"))
                .open(&token, &["Music", "No One You Know"])
                .is_err()
        );
    }

    #[test]
    fn a_token_altered_anywhere_is_refused() {
        let tokens = PageTokens::new(None);
        let scope = ["Music", "Artist"];
        let token = tokens.seal(&scope, "Song 0042");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let altered = URL_SAFE_NO_PAD.encode(&bytes);
            assert!(tokens.open(&altered, &scope).is_err(), "byte {i}");
            bytes[i] ^= 1;
        }
        for junk in ["", "x", "!!!", &"A".repeat(10_000)] {
            assert!(tokens.open(junk, &scope).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn scope_parts_cannot_be_shifted_into_each_other() {
        let tokens = PageTokens::new(None);
        let token = tokens.seal(&["ab", "c"], "t");
        assert!(tokens.open(&token, &["a", "bc"]).is_err());
    }
}
