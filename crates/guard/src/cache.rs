//! Tokens already verified with the current keys, so a client reusing its access token (an SPA
//! sends the same one for an hour) costs one RSA verification, not one per request.
//!
//! The cache belongs to one key snapshot: new keys start with an empty cache. Entries are keyed
//! by the SHA-256 of the token (tokens themselves are not kept), hold the verified claims, and
//! are re-checked against the clock (`exp`, `nbf`) on every hit. Only valid tokens are stored,
//! and at most `capacity` of them.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use serde_json::Value;

use crate::{Rejection, TokenClaims};

type Digest = [u8; 32];

pub(crate) struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<Digest, Entry>>,
}

struct Entry {
    claims: TokenClaims,
    exp: u64,
    nbf: Option<u64>,
}

pub(crate) enum Lookup {
    Hit(Result<TokenClaims, Rejection>),
    /// Not cached; the digest to store it under once verified.
    Miss(Digest),
    Disabled,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The cached outcome for `token` at `now` (seconds since the epoch), with `leeway`.
    pub(crate) fn get(&self, token: &str, now: u64, leeway: u64) -> Lookup {
        if self.capacity == 0 {
            return Lookup::Disabled;
        }
        let digest = digest(token);
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&digest) {
            None => Lookup::Miss(digest),
            Some(entry) if entry.exp.saturating_add(leeway) < now => {
                Lookup::Hit(Err(Rejection::Expired))
            }
            Some(entry)
                if entry
                    .nbf
                    .is_some_and(|nbf| nbf > now.saturating_add(leeway)) =>
            {
                Lookup::Hit(Err(Rejection::NotYetValid))
            }
            Some(entry) => Lookup::Hit(Ok(entry.claims.clone())),
        }
    }

    /// Remembers a token that passed every check of the snapshot.
    pub(crate) fn insert(&self, digest: Digest, claims: &TokenClaims, now: u64) {
        let Some(exp) = claims.get("exp").and_then(numeric) else {
            return;
        };
        let nbf = claims.get("nbf").and_then(numeric);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, entry| entry.exp >= now);
        }
        if entries.len() >= self.capacity {
            // Still full of live tokens: forget an arbitrary eighth (hash order) to make room.
            let drop = (self.capacity / 8).max(1);
            let victims: Vec<Digest> = entries.keys().take(drop).copied().collect();
            for victim in victims {
                entries.remove(&victim);
            }
        }
        entries.insert(
            digest,
            Entry {
                claims: claims.clone(),
                exp,
                nbf,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

fn digest(token: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref(),
    );
    out
}

/// NumericDate as jsonwebtoken reads it: an integer, or a float rounded.
fn numeric(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f.round() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> TokenClaims {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn hit(lookup: Lookup) -> Option<Result<TokenClaims, Rejection>> {
        match lookup {
            Lookup::Hit(outcome) => Some(outcome),
            _ => None,
        }
    }

    #[test]
    fn remembers_valid_tokens_and_rechecks_the_clock() {
        let cache = TokenCache::new(10);
        let token = "a.b.c";
        let Lookup::Miss(digest) = cache.get(token, 1000, 0) else {
            panic!("an empty cache misses");
        };
        let verified = claims(json!({"sub": "u", "exp": 2000, "nbf": 900}));
        cache.insert(digest, &verified, 1000);
        assert_eq!(hit(cache.get(token, 1500, 0)), Some(Ok(verified)));
        assert_eq!(
            hit(cache.get(token, 2001, 0)),
            Some(Err(Rejection::Expired))
        );
        assert!(hit(cache.get(token, 2001, 300)).is_some_and(|o| o.is_ok()));
        assert_eq!(
            hit(cache.get(token, 800, 0)),
            Some(Err(Rejection::NotYetValid))
        );
        assert!(hit(cache.get("a.b.d", 1500, 0)).is_none());
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = TokenCache::new(16);
        for n in 0..100 {
            let token = format!("token-{n}");
            if let Lookup::Miss(digest) = cache.get(&token, 1000, 0) {
                cache.insert(digest, &claims(json!({"exp": 5000})), 1000);
            }
        }
        assert!(cache.len() <= 16, "{}", cache.len());
        // Expired entries go first.
        let cache = TokenCache::new(2);
        for (n, exp) in [(0, 1100), (1, 5000)] {
            if let Lookup::Miss(digest) = cache.get(&format!("t{n}"), 1000, 0) {
                cache.insert(digest, &claims(json!({"exp": exp})), 1000);
            }
        }
        if let Lookup::Miss(digest) = cache.get("t2", 1200, 0) {
            cache.insert(digest, &claims(json!({"exp": 5000})), 1200);
        }
        assert!(hit(cache.get("t1", 1200, 0)).is_some());
        assert!(hit(cache.get("t2", 1200, 0)).is_some());
        assert!(hit(cache.get("t0", 1200, 0)).is_none());
    }

    #[test]
    fn can_be_disabled() {
        assert!(matches!(
            TokenCache::new(0).get("a.b.c", 0, 0),
            Lookup::Disabled
        ));
    }

    #[test]
    fn reads_numeric_dates_like_jsonwebtoken() {
        assert_eq!(numeric(&json!(12)), Some(12));
        assert_eq!(numeric(&json!(12.6)), Some(13));
        assert_eq!(numeric(&json!(-1)), None);
        assert_eq!(numeric(&json!("12")), None);
    }
}
