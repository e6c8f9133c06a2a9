//! The provider's signing keys, parsed once from its JWKS.

use std::str::FromStr;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

/// One public key usable to verify signatures.
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    /// The key's own `alg`, when the JWKS states it: then only that algorithm may use it.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) family: AlgorithmFamily,
    pub(crate) key: DecodingKey,
}

impl VerifyKey {
    pub(crate) fn accepts(&self, alg: Algorithm) -> bool {
        self.family == alg.family() && self.alg.is_none_or(|own| own == alg)
    }
}

/// The usable keys of one JWKS.
pub(crate) struct KeySet {
    pub(crate) keys: Vec<VerifyKey>,
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Keys that cannot verify signatures (encryption keys, symmetric `oct` keys, unknown key
    /// types) are skipped one by one, so one odd entry does not hide the others.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        let doc: JwksDocument =
            serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
        let keys: Vec<VerifyKey> = doc.keys.into_iter().filter_map(parse_key).collect();
        if keys.is_empty() {
            return Err("it holds no usable signing key".into());
        }
        Ok(Self { keys })
    }

    /// The keys that may have signed a token with this `kid` and `alg`.
    pub(crate) fn candidates(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<&VerifyKey>, Lookup> {
        let named: Vec<&VerifyKey> = match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => self.keys.iter().collect(),
        };
        if named.is_empty() {
            return Err(Lookup::UnknownKid);
        }
        let usable: Vec<&VerifyKey> = named.into_iter().filter(|k| k.accepts(alg)).collect();
        if usable.is_empty() {
            // A known kid used with an algorithm its key is not for: never try it.
            return Err(Lookup::WrongAlgorithm);
        }
        Ok(usable)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    UnknownKid,
    WrongAlgorithm,
}

fn parse_key(value: serde_json::Value) -> Option<VerifyKey> {
    let jwk: Jwk = match serde_json::from_value(value) {
        Ok(jwk) => jwk,
        Err(e) => {
            tracing::debug!(error = %e, "skipping a JWKS entry that is not a supported JWK");
            return None;
        }
    };
    let kid = jwk.common.key_id.clone();
    if matches!(
        jwk.common.public_key_use,
        Some(ref u) if *u != PublicKeyUse::Signature
    ) {
        tracing::debug!(kid = ?kid, "skipping a key not meant for signatures");
        return None;
    }
    let family = match jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
        // A symmetric key in a public JWKS is a misconfiguration; never use one.
        AlgorithmParameters::OctetKey(_) => {
            tracing::debug!(kid = ?kid, "skipping a symmetric key");
            return None;
        }
    };
    let alg = match &jwk.common.key_algorithm {
        None => None,
        Some(named) => match Algorithm::from_str(&named.to_string()) {
            Ok(alg) if alg.family() == family => Some(alg),
            _ => {
                tracing::debug!(kid = ?kid, alg = %named, "skipping a key with an unusable alg");
                return None;
            }
        },
    };
    match DecodingKey::from_jwk(&jwk) {
        Ok(key) => Some(VerifyKey {
            kid,
            alg,
            family,
            key,
        }),
        Err(e) => {
            tracing::debug!(kid = ?kid, error = %e, "skipping a key that does not parse");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    fn set(keys: serde_json::Value) -> Result<KeySet, String> {
        KeySet::parse(serde_json::json!({ "keys": keys }).to_string().as_bytes())
    }

    #[test]
    fn keeps_signing_keys_and_skips_the_rest() {
        let keys = set(serde_json::json!([
            {"kty": "RSA", "kid": "sig", "use": "sig", "alg": "RS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "bad-alg", "alg": "HS256", "n": N, "e": "AQAB"},
            {"kty": "XYZ", "kid": "odd"},
            {"kty": "RSA", "kid": "no-alg", "n": N, "e": "AQAB"}
        ]));
        let kids: Vec<_> = keys
            .map(|k| k.keys.into_iter().filter_map(|k| k.kid).collect())
            .unwrap_or_default();
        assert_eq!(kids, ["sig", "no-alg"]);
    }

    #[test]
    fn a_set_without_usable_keys_is_an_error() {
        let error = set(serde_json::json!([{"kty": "oct", "k": "c2VjcmV0"}]))
            .err()
            .unwrap_or_default();
        assert_eq!(error, "it holds no usable signing key");
        assert!(KeySet::parse(b"{}").is_err());
    }

    #[test]
    fn candidates_match_kid_and_algorithm() {
        let keys = match set(serde_json::json!([
            {"kty": "RSA", "kid": "a", "alg": "RS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "b", "n": N, "e": "AQAB"}
        ])) {
            Ok(keys) => keys,
            Err(e) => panic!("{e}"),
        };
        let count = |kid, alg| keys.candidates(kid, alg).map(|c| c.len());
        assert_eq!(count(Some("a"), Algorithm::RS256), Ok(1));
        assert_eq!(
            count(Some("a"), Algorithm::PS256),
            Err(Lookup::WrongAlgorithm)
        );
        assert_eq!(count(Some("b"), Algorithm::PS256), Ok(1));
        assert_eq!(
            count(Some("a"), Algorithm::ES256),
            Err(Lookup::WrongAlgorithm)
        );
        assert_eq!(
            count(Some("zzz"), Algorithm::RS256),
            Err(Lookup::UnknownKid)
        );
        assert_eq!(count(None, Algorithm::RS256), Ok(2));
    }
}
