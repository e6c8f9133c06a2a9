//! Checking one token against one snapshot of the provider's keys. Pure: no I/O, no clock but
//! the system's (through `jsonwebtoken`).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;

use crate::cache;
use crate::keys::Lookup;
use crate::provider::Snapshot;
use crate::{Rejection, TokenClaims};

/// Signature (with the metadata's algorithms only), then `exp`, `nbf`, `iss`, `aud`; a token
/// already verified with the same keys only has its `exp` and `nbf` checked again.
pub(crate) fn verify(snapshot: &Snapshot, token: &str) -> Result<TokenClaims, Rejection> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let digest = match snapshot.cache.get(token, now, snapshot.validation.leeway) {
        cache::Lookup::Hit(outcome) => return outcome,
        cache::Lookup::Miss(digest) => Some(digest),
        cache::Lookup::Disabled => None,
    };
    let claims = verify_signed(snapshot, token)?;
    if let Some(digest) = digest {
        snapshot.cache.insert(digest, &claims, now);
    }
    Ok(claims)
}

fn verify_signed(snapshot: &Snapshot, token: &str) -> Result<TokenClaims, Rejection> {
    // `alg: none` does not even parse: jsonwebtoken has no such algorithm.
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
    if !snapshot.validation.algorithms.contains(&header.alg) {
        return Err(Rejection::AlgorithmNotAllowed);
    }
    let candidates = snapshot
        .keys
        .candidates(header.kid.as_deref(), header.alg)
        .map_err(|lookup| match lookup {
            Lookup::UnknownKid => Rejection::UnknownKey,
            Lookup::WrongAlgorithm => Rejection::AlgorithmNotAllowed,
        })?;
    let mut outcome = Rejection::BadSignature;
    // Several candidates only for a token without `kid`: the first key that verifies wins.
    for key in candidates {
        match jsonwebtoken::decode::<TokenClaims>(token, &key.key, &snapshot.validation) {
            Ok(data) => return Ok(data.claims),
            Err(error) => {
                outcome = rejection(error.kind());
                if outcome != Rejection::BadSignature {
                    break;
                }
            }
        }
    }
    Err(outcome)
}

fn rejection(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::InvalidSignature => Rejection::BadSignature,
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
        ErrorKind::InvalidAudience => Rejection::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            Rejection::MissingClaim(claim.clone())
        }
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => Rejection::AlgorithmNotAllowed,
        // A key that does not fit the signature cannot have made it.
        ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidKeyFormat => Rejection::BadSignature,
        _ => Rejection::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_library_errors_to_rejections() {
        assert_eq!(rejection(&ErrorKind::ExpiredSignature), Rejection::Expired);
        assert_eq!(
            rejection(&ErrorKind::ImmatureSignature),
            Rejection::NotYetValid
        );
        assert_eq!(rejection(&ErrorKind::InvalidIssuer), Rejection::WrongIssuer);
        assert_eq!(
            rejection(&ErrorKind::InvalidAudience),
            Rejection::WrongAudience
        );
        assert_eq!(
            rejection(&ErrorKind::MissingRequiredClaim("aud".into())),
            Rejection::MissingClaim("aud".into())
        );
        assert_eq!(rejection(&ErrorKind::InvalidToken), Rejection::Malformed);
        assert_eq!(
            rejection(&ErrorKind::InvalidSignature),
            Rejection::BadSignature
        );
    }
}
