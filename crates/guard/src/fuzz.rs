//! Entry points for the fuzz targets in `fuzz/` (not an API): the `Authorization` header and
//! the provider's documents reach the guard untouched, so they must be refused without panics.

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use jsonwebtoken::Validation;

use crate::cache::TokenCache;
use crate::claims::Requirements;
use crate::discovery::Metadata;
use crate::keys::KeySet;
use crate::layer::bearer_token;
use crate::provider::Snapshot;
use crate::{Rejection, verify};

/// Keys and rules loaded once, as the guard holds them between refreshes.
pub struct Verifier {
    snapshot: Snapshot,
    requirements: Requirements,
}

impl Verifier {
    /// The provider's metadata and JWKS as its endpoints would answer them.
    pub fn new(metadata: &[u8], jwks: &[u8], audience: &str) -> Result<Self, String> {
        let metadata = Metadata::parse(metadata, true)?;
        let keys = KeySet::parse(jwks)?;
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.algorithms = metadata.algorithms.clone();
        validation.set_issuer(&[&metadata.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 0;
        Ok(Self {
            snapshot: Snapshot {
                keys,
                validation,
                cache: TokenCache::new(16),
                expires_at: Instant::now() + Duration::from_secs(3600),
            },
            requirements: Requirements {
                policies: vec!["B2C_1_signin".to_owned()],
                scopes: vec!["read".to_owned()],
                roles: Vec::new(),
            },
        })
    }

    /// One request's `Authorization` header value, judged as the layer judges it.
    pub fn check(&self, authorization: &[u8]) -> Result<(), Rejection> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_bytes(authorization).map_err(|_| Rejection::Malformed)?;
        headers.insert(AUTHORIZATION, value);
        let token = bearer_token(&headers)?.ok_or(Rejection::MissingToken)?;
        let claims = verify::verify(&self.snapshot, token)?;
        self.requirements.check(&claims)
    }
}

/// The provider's documents alone: metadata and JWKS parsing.
pub fn documents(body: &[u8]) -> bool {
    Metadata::parse(body, false).is_ok() | KeySet::parse(body).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fuzz target's provider and seeds (`fuzz/keys/`, `fuzz/corpus/guard_jwt/`): tokens
    // that pass, and each refused for the reason its name says, so the fuzzer starts deep.
    #[test]
    fn the_seeds_reach_every_check() {
        let verifier = Verifier::new(
            include_bytes!("../../../fuzz/keys/metadata.json"),
            include_bytes!("../../../fuzz/keys/jwks.json"),
            "api-app",
        )
        .unwrap_or_else(|e| panic!("the fuzz provider loads: {e}"));
        let seed = |name: &str| {
            let path = format!(
                "{}/../../fuzz/corpus/guard_jwt/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        assert_eq!(verifier.check(&seed("valid")), Ok(()));
        assert_eq!(verifier.check(&seed("expired")), Err(Rejection::Expired));
        assert_eq!(
            verifier.check(&seed("wrong_audience")),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(
            verifier.check(&seed("no_scope")),
            Err(Rejection::Scope("read".to_owned()))
        );
        assert_eq!(
            verifier.check(&seed("unknown_kid")),
            Err(Rejection::UnknownKey)
        );
        assert_eq!(verifier.check(&seed("alg_none")), Err(Rejection::Malformed));
        assert_eq!(verifier.check(&seed("basic")), Err(Rejection::MissingToken));
        assert!(documents(&seed("jwks")) && documents(&seed("metadata")));
    }
}
