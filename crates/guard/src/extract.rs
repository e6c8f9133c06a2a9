//! axum extractors for the claims a [`GuardLayer`](crate::GuardLayer) verified.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::layer::Verified;
use crate::{Rejection, TokenClaims};

/// The verified claims of the request's token, as [`TokenClaims`] or as your own
/// `Deserialize` type.
///
/// The route must be behind a [`GuardLayer`](crate::GuardLayer): the extractor only reads what
/// the layer verified, and without it every request is refused with 401 (fail closed).
/// `Option<Claims<T>>` is `None` for anonymous requests let through by
/// [`GuardLayer::allow_anonymous`](crate::GuardLayer::allow_anonymous).
///
/// ```no_run
/// use trustframe_guard::{Claims, TokenClaims};
///
/// #[derive(serde::Deserialize)]
/// struct Caller { sub: String, name: Option<String> }
///
/// async fn me(Claims(caller): Claims<Caller>) -> String { caller.sub }
/// async fn hello(claims: Option<Claims<TokenClaims>>) -> String {
///     match claims {
///         Some(Claims(c)) => format!("hello {}", c.subject().unwrap_or("?")),
///         None => "hello stranger".into(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Claims<T = TokenClaims>(pub T);

fn deserialize<T: DeserializeOwned>(verified: &Verified) -> Result<T, Rejection> {
    verified.claims.deserialize().map_err(|error| {
        tracing::info!(reason = "claims_shape", %error, "refused a request: {}", Rejection::ClaimsShape);
        Rejection::ClaimsShape
    })
}

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Verified>() {
            Some(verified) => deserialize(verified).map(Claims),
            None => {
                tracing::debug!(
                    path = parts.uri.path(),
                    "no verified claims: is the route behind a GuardLayer?"
                );
                Err(Rejection::MissingToken)
            }
        }
    }
}

impl<S, T> OptionalFromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        parts
            .extensions
            .get::<Verified>()
            .map(|verified| deserialize(verified).map(Claims))
            .transpose()
    }
}
