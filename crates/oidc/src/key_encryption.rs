//! Signing keys encrypted at rest: AES-256-GCM under a key encryption key the operator keeps
//! outside the database, so a copy of the database alone signs no token.
//!
//! A sealed key is `TFKE1` ‖ 96-bit random nonce ‖ ciphertext ‖ tag, with the key id as
//! associated data (a sealed key moved to another row does not open). A plain PKCS#8 key starts
//! with a DER SEQUENCE (`0x30`), never with `T`, so both can be told apart while a database is
//! migrated.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;

use crate::error::OidcError;

const MAGIC: &[u8] = b"TFKE1";

/// The key that seals signing keys in the store: 32 bytes.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

// Debug by hand: the key must never reach a log.
impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

impl KeyEncryptionKey {
    /// From standard base64 of exactly 32 bytes (`head -c 32 /dev/urandom | base64`);
    /// surrounding whitespace is ignored. The error never quotes the value.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "is not base64".to_owned())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("holds {} bytes; AES-256 needs 32", b.len()))?;
        Ok(Self(key))
    }

    fn aead(&self) -> Result<LessSafeKey, OidcError> {
        let key = UnboundKey::new(&AES_256_GCM, &self.0)
            .map_err(|_| OidcError::Key("key encryption key rejected".into()))?;
        Ok(LessSafeKey::new(key))
    }

    /// Seals a PKCS#8 key for the row of `kid`.
    pub(crate) fn seal(&self, kid: &str, der: &[u8]) -> Result<Vec<u8>, OidcError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| OidcError::Random)?;
        let mut sealed = der.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| OidcError::Key(format!("signing key {kid}: sealing failed")))?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`Self::seal`] made for `kid`.
    pub(crate) fn open(&self, kid: &str, stored: &[u8]) -> Result<Vec<u8>, OidcError> {
        let wrong = || {
            OidcError::Key(format!(
                "signing key {kid}: cannot decrypt it with the configured key encryption key (another key, or a damaged row)"
            ))
        };
        let rest = stored.strip_prefix(MAGIC).ok_or_else(wrong)?;
        if rest.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buffer = sealed.to_vec();
        let plain = self
            .aead()?
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

/// Whether a stored key is sealed (else it is plain PKCS#8).
pub(crate) fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_key_and_kid() {
        let kek = KeyEncryptionKey::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
        )
        .unwrap();
        let der = [0x30, 0x82, 0x01, 0x02, 0x03];
        let sealed = kek.seal("kid1", &der).unwrap();
        assert!(is_sealed(&sealed) && !is_sealed(&der));
        assert!(!sealed.windows(der.len()).any(|w| w == der));
        assert_eq!(kek.open("kid1", &sealed).unwrap(), der);
        assert!(kek.open("kid2", &sealed).is_err(), "bound to its kid");
        let other = KeyEncryptionKey::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([8u8; 32]),
        )
        .unwrap();
        assert!(other.open("kid1", &sealed).is_err());
        assert_ne!(
            kek.seal("kid1", &der).unwrap(),
            sealed,
            "a fresh nonce each time"
        );
        assert!(
            KeyEncryptionKey::from_base64("c2hvcnQ=")
                .unwrap_err()
                .contains("5 bytes")
        );
        assert!(format!("{kek:?}").contains("redacted"));
    }
}
