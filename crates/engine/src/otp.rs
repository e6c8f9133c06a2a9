//! One-time codes (`one-time-password-technical-profile.md`).
//!
//! A code is a secret: the journey state keeps only a salted SHA-256 of it, with its expiry and
//! the tries left; it is compared in constant time and never logged. The code itself exists only
//! while it is handed to the mailer.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use trustframe_policy::otp::OtpSettings;

/// A code waiting to be verified.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingCode {
    salt: String,
    hash: String,
    pub expires_at: i64,
    pub tries_left: u32,
}

/// What the journey remembers about codes, by identifier (the address, lower-cased).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtpState {
    codes: BTreeMap<String, PendingCode>,
    /// Codes generated per identifier in this journey.
    generated: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Verified,
    /// Wrong code; this many tries remain.
    Wrong(u32),
    Expired,
    /// The last try was used: only a new code helps.
    RetriesExhausted,
    /// No code was sent to this identifier (or it was already used).
    NoCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyCodes;

fn key(identifier: &str) -> String {
    identifier.trim().to_lowercase()
}

fn digest(salt: &str, identifier: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(key(identifier).as_bytes());
    h.update([0]);
    h.update(code.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl OtpState {
    /// A new code for `identifier`, replacing any earlier one (its tries start again).
    pub fn generate(
        &mut self,
        identifier: &str,
        settings: &OtpSettings,
        now: i64,
    ) -> Result<String, TooManyCodes> {
        let k = key(identifier);
        let count = self.generated.entry(k.clone()).or_insert(0);
        if *count >= settings.max_codes {
            return Err(TooManyCodes);
        }
        *count += 1;
        let mut rng = rand::rng();
        let code: String = (0..settings.length)
            .map(|_| settings.character_set[rng.random_range(0..settings.character_set.len())])
            .collect();
        let salt: String = rng
            .random::<[u8; 16]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.codes.insert(
            k,
            PendingCode {
                hash: digest(&salt, identifier, &code),
                salt,
                expires_at: now + settings.lifetime_seconds,
                tries_left: settings.retries,
            },
        );
        Ok(code)
    }

    /// Checks a code; a verified code is used up.
    pub fn verify(&mut self, identifier: &str, code: &str, now: i64) -> Verification {
        let k = key(identifier);
        let Some(pending) = self.codes.get_mut(&k) else {
            return Verification::NoCode;
        };
        if pending.tries_left == 0 {
            return Verification::RetriesExhausted;
        }
        if now >= pending.expires_at {
            return Verification::Expired;
        }
        let sent = digest(&pending.salt, identifier, code.trim());
        if bool::from(sent.as_bytes().ct_eq(pending.hash.as_bytes())) {
            self.codes.remove(&k);
            return Verification::Verified;
        }
        pending.tries_left -= 1;
        if pending.tries_left == 0 {
            Verification::RetriesExhausted
        } else {
            Verification::Wrong(pending.tries_left)
        }
    }

    pub fn pending(&self, identifier: &str) -> Option<&PendingCode> {
        self.codes.get(&key(identifier))
    }
}

#[cfg(test)]
mod tests {
    use trustframe_policy::{Metadata, otp};

    use super::*;

    fn settings() -> OtpSettings {
        OtpSettings::default()
    }

    #[test]
    fn codes_are_six_digits_stored_hashed_and_single_use() {
        let mut s = OtpState::default();
        let code = s
            .generate("Ann@Example.com", &settings(), 1000)
            .unwrap_or_else(|_| panic!("generate"));
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert!(
            !json.contains(&code),
            "the code must not rest in the state: {json}"
        );
        assert_eq!(
            s.verify("ann@example.com", &code, 1599),
            Verification::Verified
        );
        assert_eq!(
            s.verify("ann@example.com", &code, 1599),
            Verification::NoCode
        );
    }

    #[test]
    fn expiry_tries_and_new_codes() {
        let mut s = OtpState::default();
        let code = s
            .generate("a@b.c", &settings(), 0)
            .unwrap_or_else(|_| panic!("generate"));
        assert_eq!(s.verify("a@b.c", &code, 600), Verification::Expired);
        let code = s
            .generate("a@b.c", &settings(), 0)
            .unwrap_or_else(|_| panic!("generate"));
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for left in (1..5).rev() {
            assert_eq!(s.verify("a@b.c", wrong, 1), Verification::Wrong(left));
        }
        assert_eq!(s.verify("a@b.c", wrong, 1), Verification::RetriesExhausted);
        assert_eq!(
            s.verify("a@b.c", &code, 1),
            Verification::RetriesExhausted,
            "after the last try even the right code is refused"
        );
        let fresh = s
            .generate("a@b.c", &settings(), 2)
            .unwrap_or_else(|_| panic!("generate"));
        assert_eq!(s.verify("a@b.c", &fresh, 3), Verification::Verified);
        assert_eq!(s.verify("other@b.c", &fresh, 3), Verification::NoCode);
    }

    #[test]
    fn generation_is_limited_and_metadata_is_checked() {
        let mut m = Metadata::default();
        m.insert(otp::NUM_CODE_GENERATION_ATTEMPTS, "2");
        m.insert(otp::CODE_LENGTH, "8");
        m.insert(otp::CHARACTER_SET, "a-c0-1");
        let settings = OtpSettings::from_metadata(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.character_set, ['0', '1', 'a', 'b', 'c']);
        let mut s = OtpState::default();
        assert!(
            s.generate("x@y.z", &settings, 0)
                .is_ok_and(|c| c.len() == 8)
        );
        assert!(s.generate("x@y.z", &settings, 0).is_ok());
        assert_eq!(s.generate("x@y.z", &settings, 0), Err(TooManyCodes));
        m.insert(otp::CODE_EXPIRATION_IN_SECONDS, "5000");
        assert!(OtpSettings::from_metadata(&m).is_err());
    }
}
