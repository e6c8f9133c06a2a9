//! Token signing keys: RSA-2048 / RS256, generated on first start, kept in the store so every
//! node signs with the same key, held in memory so signing never touches the database.
//!
//! Rotation: [`KeyRing::rotate`] adds a new active key and retires the others. A retired key
//! stays in the JWKS until every token it signed has expired (retirement + the longest token
//! lifetime + a few minutes of clock skew), then it is deleted.

use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use trustframe_store::{SigningKeyRecord, Store};

use crate::error::OidcError;
use crate::key_encryption::{KeyEncryptionKey, is_sealed};

const ALGORITHM: &str = "RS256";
/// Verifiers allow some clock skew; keep retired keys that much longer.
const SKEW_SECONDS: i64 = 300;

/// The JSON Web Key Set served at `/{tenant}/{policy}/discovery/v2.0/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One public key, with the members B2C publishes: `kid`, `nbf`, `use`, `kty`, `e`, `n`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kid: String,
    pub nbf: i64,
    #[serde(rename = "use")]
    pub use_: String,
    pub kty: String,
    pub e: String,
    pub n: String,
}

/// A key ready to sign and verify. The private key stays parsed: parsing and validating an
/// RSA key costs almost as much as a signature (see BENCHMARKS.md).
pub(crate) struct LoadedKey {
    pub(crate) kid: String,
    pair: KeyPair,
    /// base64url of `{"typ":"JWT","alg":"RS256","kid":"…"}`, the header of every token.
    header_b64: String,
    pub(crate) decoding: DecodingKey,
    n: String,
    e: String,
    created_at: i64,
    retired_at: Option<i64>,
}

impl LoadedKey {
    fn from_record(record: &SigningKeyRecord) -> Result<LoadedKey, OidcError> {
        if record.algorithm != ALGORITHM {
            return Err(OidcError::Key(format!(
                "key {} has algorithm {}, expected {ALGORITHM}",
                record.kid, record.algorithm
            )));
        }
        let pair = KeyPair::from_pkcs8(&record.private_key_der)
            .map_err(|e| OidcError::Key(format!("key {} is not RSA PKCS#8: {e}", record.kid)))?;
        LoadedKey::from_pair(
            pair,
            Some(record.kid.clone()),
            record.created_at,
            record.retired_at,
        )
    }

    /// `kid: None` names the key by its RFC 7638 thumbprint.
    fn from_pair(
        pair: KeyPair,
        kid: Option<String>,
        created_at: i64,
        retired_at: Option<i64>,
    ) -> Result<LoadedKey, OidcError> {
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let kid = kid.unwrap_or_else(|| thumbprint(&n, &e));
        let decoding = DecodingKey::from_rsa_components(&n, &e)?;
        // B2C's header member order; the kid is base64url, but escape it anyway.
        let header = format!(
            r#"{{"typ":"JWT","alg":"RS256","kid":{}}}"#,
            Value::String(kid.clone())
        );
        Ok(LoadedKey {
            kid,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            pair,
            decoding,
            n,
            e,
            created_at,
            retired_at,
        })
    }

    /// Signs a claims set (JWS compact serialization, RS256).
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> Result<String, OidcError> {
        let payload = serde_json::to_vec(claims).map_err(OidcError::Claims)?;
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 350);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        // aws-lc ignores the RNG for PKCS#1 v1.5 signatures; the API wants one.
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| OidcError::Key(format!("signing with key {} failed", self.kid)))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }

    fn jwk(&self) -> Jwk {
        Jwk {
            kid: self.kid.clone(),
            nbf: self.created_at,
            use_: "sig".into(),
            kty: "RSA".into(),
            e: self.e.clone(),
            n: self.n.clone(),
        }
    }
}

/// A policy's own token signing key: B2C's `B2C_1A_TokenSigningKeyContainer` (the JwtIssuer's
/// `issuer_secret`), configured as an RSA private key PEM. Parsed once at start; cheap to clone,
/// so policies that share a container share one parsed key.
#[derive(Clone)]
pub struct PolicyKey {
    name: Arc<str>,
    key: Arc<LoadedKey>,
}

impl PolicyKey {
    /// Parses an RSA private key PEM (`PRIVATE KEY`, PKCS#8, or `RSA PRIVATE KEY`, PKCS#1) of
    /// the policy key `name`. Its `kid` is the RFC 7638 thumbprint of the public key, so every
    /// node and restart publishes the same id; `not_before` is the published `nbf`.
    pub fn from_pem(name: &str, pem: &[u8], not_before: i64) -> Result<PolicyKey, OidcError> {
        let not_rsa = |detail: String| {
            OidcError::Key(format!(
                "policy key {name} is not an RSA private key (PEM 'PRIVATE KEY' or 'RSA PRIVATE KEY', 2048 bits or more): {detail}"
            ))
        };
        // jsonwebtoken reads either PEM form and hands back the PKCS#1 DER of the key.
        let encoding =
            jsonwebtoken::EncodingKey::from_rsa_pem(pem).map_err(|e| not_rsa(e.to_string()))?;
        let pair = KeyPair::from_der(encoding.inner()).map_err(|e| not_rsa(e.to_string()))?;
        Ok(PolicyKey {
            name: Arc::from(name),
            key: Arc::new(LoadedKey::from_pair(pair, None, not_before, None)?),
        })
    }

    /// The policy key's name (`B2C_1A_TokenSigningKeyContainer`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `kid` of the tokens it signs.
    pub fn kid(&self) -> &str {
        &self.key.kid
    }

    /// The public key as published in the policy's JWKS.
    pub fn jwk(&self) -> Jwk {
        self.key.jwk()
    }

    pub(crate) fn loaded(&self) -> &LoadedKey {
        &self.key
    }
}

impl std::fmt::Debug for PolicyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyKey")
            .field("name", &self.name)
            .field("kid", &self.key.kid)
            .finish_non_exhaustive()
    }
}

/// The keys as loaded at one moment: the one that signs, and every key still stored.
struct KeySet {
    active: Arc<LoadedKey>,
    all: Vec<Arc<LoadedKey>>,
}

/// The signing keys of the tenant; cheap to share (`Arc` inside the service).
pub struct KeyRing {
    store: Store,
    /// Seals keys in the store when set (`key_encryption`).
    kek: Option<KeyEncryptionKey>,
    current: RwLock<Arc<KeySet>>,
    /// How long a retired key stays published: the longest token lifetime plus skew.
    publish_for: i64,
}

impl KeyRing {
    /// Loads the keys from the store, generating and storing the first one if there is none.
    pub async fn load(
        store: Store,
        max_token_lifetime: i64,
        now: i64,
        kek: Option<KeyEncryptionKey>,
    ) -> Result<KeyRing, OidcError> {
        let set = load_set(&store, None, now, kek.as_ref()).await?;
        Ok(KeyRing {
            store,
            kek,
            current: RwLock::new(Arc::new(set)),
            publish_for: max_token_lifetime + SKEW_SECONDS,
        })
    }

    /// Re-reads the keys from the store (a rotation done by another node or process).
    pub async fn reload(&self, now: i64) -> Result<(), OidcError> {
        let previous = self.snapshot();
        let set = load_set(&self.store, Some(&previous), now, self.kek.as_ref()).await?;
        self.swap(set);
        Ok(())
    }

    /// Adds a new active key, retires the others, deletes keys whose tokens have all expired.
    /// Returns the new key id.
    pub async fn rotate(&self, now: i64) -> Result<String, OidcError> {
        let record = generate_record(now).await?;
        self.store
            .insert_signing_key(&sealed(record.clone(), self.kek.as_ref())?)
            .await?;
        self.store
            .retire_signing_keys_except(&record.kid, now)
            .await?;
        self.store
            .delete_signing_keys_retired_before(self.unpublished_before(now))
            .await?;
        self.reload(now).await?;
        tracing::info!(kid = %record.kid, "signing key rotated");
        Ok(record.kid)
    }

    /// Deletes retired keys whose tokens have all expired; returns how many.
    pub async fn prune(&self, now: i64) -> Result<u64, OidcError> {
        let deleted = self
            .store
            .delete_signing_keys_retired_before(self.unpublished_before(now))
            .await?;
        if deleted > 0 {
            self.reload(now).await?;
        }
        Ok(deleted)
    }

    /// Keys retired before this time are no longer published (see [`KeyRing::jwks`]): a key
    /// retired at `r` is published while `now < r + publish_for`.
    fn unpublished_before(&self, now: i64) -> i64 {
        now - self.publish_for + 1
    }

    /// The key id new tokens are signed with.
    pub fn active_kid(&self) -> String {
        self.snapshot().active.kid.clone()
    }

    /// The published keys: the active one and retired ones whose tokens may still be valid.
    pub fn jwks(&self, now: i64) -> Jwks {
        let set = self.snapshot();
        let mut keys: Vec<&Arc<LoadedKey>> = set
            .all
            .iter()
            .filter(|k| match k.retired_at {
                None => true,
                Some(retired) => now < retired + self.publish_for,
            })
            .collect();
        // Active key first, then newest first: what a reader expects to see.
        keys.sort_by_key(|k| (k.kid != set.active.kid, std::cmp::Reverse(k.created_at)));
        Jwks {
            keys: keys.into_iter().map(|k| k.jwk()).collect(),
        }
    }

    /// Signs a claims set with the active key (JWS compact serialization, RS256).
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> Result<String, OidcError> {
        self.snapshot().active.sign(claims)
    }

    /// The verification key for a `kid` if it is still published.
    pub(crate) fn decoding_key(&self, kid: &str, now: i64) -> Option<DecodingKey> {
        let set = self.snapshot();
        set.all
            .iter()
            .find(|k| k.kid == kid && k.retired_at.is_none_or(|r| now < r + self.publish_for))
            .map(|k| k.decoding.clone())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            // A panic while swapping cannot leave a half-written Arc; keep serving.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn swap(&self, set: KeySet) {
        let set = Arc::new(set);
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }
}

/// The record as stored: its key sealed when a key encryption key is configured.
fn sealed(
    mut record: SigningKeyRecord,
    kek: Option<&KeyEncryptionKey>,
) -> Result<SigningKeyRecord, OidcError> {
    if let Some(kek) = kek {
        record.private_key_der = kek.seal(&record.kid, &record.private_key_der)?;
    }
    Ok(record)
}

/// The record with its key in plain PKCS#8: opened if sealed; a plain key is sealed in the
/// store on the way when a key encryption key is configured (the migration of a database
/// written before one was).
async fn opened(
    store: &Store,
    mut record: SigningKeyRecord,
    kek: Option<&KeyEncryptionKey>,
) -> Result<SigningKeyRecord, OidcError> {
    match kek {
        Some(kek) if is_sealed(&record.private_key_der) => {
            record.private_key_der = kek.open(&record.kid, &record.private_key_der)?;
        }
        None if is_sealed(&record.private_key_der) => {
            return Err(OidcError::Key(format!(
                "signing key {} is encrypted in the store and no key encryption key is configured",
                record.kid
            )));
        }
        Some(kek) => {
            let sealed = kek.seal(&record.kid, &record.private_key_der)?;
            if store
                .replace_signing_key_der(&record.kid, &record.private_key_der, &sealed)
                .await?
            {
                tracing::info!(kid = %record.kid, "signing key encrypted in the store");
            }
        }
        None => {}
    }
    Ok(record)
}

async fn load_set(
    store: &Store,
    previous: Option<&KeySet>,
    now: i64,
    kek: Option<&KeyEncryptionKey>,
) -> Result<KeySet, OidcError> {
    let mut records = store.signing_keys().await?;
    if !records
        .iter()
        .any(|r| r.retired_at.is_none() && r.algorithm == ALGORITHM)
    {
        // First start (or every key retired by hand): make one. Two nodes starting together may
        // both insert; each then picks the same newest key below.
        let record = generate_record(now).await?;
        store.insert_signing_key(&sealed(record, kek)?).await?;
        records = store.signing_keys().await?;
    }
    let mut all = Vec::with_capacity(records.len());
    for record in records.iter().filter(|r| r.algorithm == ALGORITHM) {
        let reused = previous.and_then(|p| {
            p.all
                .iter()
                .find(|k| k.kid == record.kid && k.retired_at == record.retired_at)
                .cloned()
        });
        let key = match reused {
            Some(key) => key,
            None => Arc::new(LoadedKey::from_record(
                &opened(store, record.clone(), kek).await?,
            )?),
        };
        all.push(key);
    }
    let active = all
        .iter()
        .filter(|k| k.retired_at.is_none())
        .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)))
        .cloned()
        .ok_or_else(|| OidcError::Key("no active signing key".into()))?;
    Ok(KeySet { active, all })
}

/// Generates an RSA-2048 key (CPU-heavy: off the async workers) as a store record.
async fn generate_record(now: i64) -> Result<SigningKeyRecord, OidcError> {
    let der = tokio::task::spawn_blocking(|| -> Result<Vec<u8>, OidcError> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| OidcError::Key("RSA key generation failed".into()))?;
        let der = pair
            .as_der()
            .map_err(|_| OidcError::Key("PKCS#8 export failed".into()))?;
        Ok(der.as_ref().to_vec())
    })
    .await
    .map_err(|e| OidcError::Task(e.to_string()))??;
    let pair = KeyPair::from_pkcs8(&der)
        .map_err(|e| OidcError::Key(format!("generated key rejected: {e}")))?;
    let public = pair.public_key();
    let kid = thumbprint(
        &URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        &URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    );
    Ok(SigningKeyRecord {
        kid,
        algorithm: ALGORITHM.into(),
        private_key_der: der,
        created_at: now,
        retired_at: None,
    })
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url): a stable, collision-free `kid`.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A plain key written before a key encryption key was configured is sealed in the store
    /// at the next load; from then on the store alone does not give the key, and a start
    /// without the key encryption key is refused with the key id.
    #[tokio::test]
    async fn plain_keys_are_sealed_once_a_key_encryption_key_is_configured() {
        let store = trustframe_store::Store::connect("sqlite::memory:")
            .await
            .unwrap();
        let plain = KeyRing::load(store.clone(), 3600, 1_000, None)
            .await
            .unwrap();
        let kid = plain.active_kid();
        let before = store.signing_keys().await.unwrap();
        assert!(!is_sealed(&before[0].private_key_der));

        let kek = KeyEncryptionKey::from_base64(
            &base64::engine::general_purpose::STANDARD.encode([3u8; 32]),
        )
        .unwrap();
        let sealed = KeyRing::load(store.clone(), 3600, 1_000, Some(kek.clone()))
            .await
            .unwrap();
        assert_eq!(sealed.active_kid(), kid, "the same key, now sealed");
        let after = store.signing_keys().await.unwrap();
        assert!(is_sealed(&after[0].private_key_der));
        assert!(
            !after[0]
                .private_key_der
                .windows(32)
                .any(|w| before[0].private_key_der.windows(32).any(|b| b == w)),
            "no 32 bytes of the plain key remain"
        );
        let err = KeyRing::load(store.clone(), 3600, 1_000, None)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().contains(&kid), "{err}");

        // Rotation seals the new key too.
        let new_kid = sealed.rotate(2_000).await.unwrap();
        let rows = store.signing_keys().await.unwrap();
        assert!(rows.iter().all(|r| is_sealed(&r.private_key_der)));
        let again = KeyRing::load(store, 3600, 2_000, Some(kek)).await.unwrap();
        assert_eq!(again.active_kid(), new_kid);
    }

    #[tokio::test]
    async fn generated_key_signs_and_verifies() {
        let record = generate_record(1_700_000_000).await.unwrap();
        assert_eq!(record.algorithm, "RS256");
        let key = Arc::new(LoadedKey::from_record(&record).unwrap());
        assert_eq!(key.kid, record.kid);
        assert_eq!(key.e, "AQAB");
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(key.n.len(), 342);
        let ring = KeyRing {
            store: trustframe_store::Store::connect("sqlite::memory:")
                .await
                .unwrap(),
            current: RwLock::new(Arc::new(KeySet {
                active: key.clone(),
                all: vec![key.clone()],
            })),
            publish_for: 3600,
            kek: None,
        };
        let claims = serde_json::json!({"sub": "x", "exp": 4_000_000_000i64});
        let token = ring.sign(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let first = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert!(first.starts_with(br#"{"typ":"JWT","alg":"RS256","kid":"#));
        let jwk = key.jwk();
        let decoding = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).unwrap();
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &decoding,
            &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256),
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "x");
    }

    #[test]
    fn garbage_keys_are_rejected() {
        let record = SigningKeyRecord {
            kid: "k".into(),
            algorithm: "RS256".into(),
            private_key_der: vec![0x30, 0x03, 0x02, 0x01, 0x00],
            created_at: 0,
            retired_at: None,
        };
        assert!(LoadedKey::from_record(&record).is_err());
    }

    #[test]
    fn thumbprint_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
