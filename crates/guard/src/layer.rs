//! The tower layer: reads the bearer token, checks it, answers 401/403/503 or passes the
//! request on with the verified claims in its extensions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Request};
use tower::{Layer, Service};

use crate::claims::Requirements;
use crate::response::render;
use crate::{Guard, Rejection, TokenClaims};

/// A [`tower::Layer`] protecting the services it wraps; made by [`Guard::layer`].
///
/// Works with axum (`Router::layer`, `Router::route_layer`, `MethodRouter::route_layer`) and any
/// tower/hyper stack whose response bodies are `http_body::Body<Data = Bytes>`. Handlers read
/// the verified claims with the [`Claims`](crate::Claims) extractor, or, outside axum, as
/// [`TokenClaims`] in the request's extensions.
///
/// ```no_run
/// # fn demo(guard: trustframe_guard::Guard) {
/// use axum::{Router, routing::{get, post}};
///
/// let app: Router = Router::new()
///     .route("/tasks", get(|| async { "[]" }))
///     .route("/tasks/new", post(|| async { "created" }).route_layer(guard.layer().scope("tasks.write")))
///     .layer(guard.layer());
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct GuardLayer {
    guard: Guard,
    extra: Arc<Requirements>,
    anonymous: bool,
}

impl GuardLayer {
    pub(crate) fn new(guard: Guard) -> Self {
        Self {
            guard,
            extra: Arc::new(Requirements::default()),
            anonymous: false,
        }
    }

    /// Also require this policy (`tfp`/`acr`) on the routes of this layer. Several calls accept
    /// any of the policies given to this layer; the guard's own policies still apply.
    pub fn policy(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.extra).policies.push(name.into());
        self
    }

    /// Also require this scope in `scp` on the routes of this layer.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.extra).scopes.push(scope.into());
        self
    }

    /// Also require this role in `roles` on the routes of this layer.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.extra).roles.push(role.into());
        self
    }

    /// Let requests without an `Authorization` header through without claims (handlers take
    /// `Option<Claims<T>>`). A token that is present is still checked fully: an invalid one
    /// gets 401, one lacking a requirement 403.
    pub fn allow_anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// The decision for one request: `Ok(None)` for an allowed anonymous request.
    async fn authorize(
        &self,
        headers: &HeaderMap,
        previous: Option<&Verified>,
    ) -> Result<Option<Verified>, Rejection> {
        let token = match bearer_token(headers)? {
            Some(token) => token,
            None if self.anonymous => return Ok(None),
            None => return Err(Rejection::MissingToken),
        };
        let extra = (!self.extra.is_empty()).then_some(&*self.extra);
        // An outer layer of the same guard already verified this very request: only the
        // requirements of this layer remain.
        if let Some(previous) = previous.filter(|p| p.guard == self.guard.id()) {
            if let Some(extra) = extra {
                extra.check(&previous.claims)?;
            }
            return Ok(Some(previous.clone()));
        }
        let claims = self.guard.check(token, extra).await?;
        Ok(Some(Verified {
            guard: self.guard.id(),
            claims,
        }))
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    layer: GuardLayer,
}

/// The claims a layer verified, stored in the request's extensions for the extractors.
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    guard: usize,
    pub(crate) claims: TokenClaims,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GuardService<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the instance that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let decision = layer
                .authorize(request.headers(), request.extensions().get::<Verified>())
                .await;
            layer.guard.record(&decision);
            match decision {
                Ok(Some(verified)) => {
                    let extensions = request.extensions_mut();
                    extensions.insert(verified.claims.clone());
                    extensions.insert(verified);
                }
                Ok(None) => {}
                Err(rejection) => {
                    log_rejection(&rejection, request.method(), request.uri().path());
                    return Ok(render(&rejection, layer.guard.forbidden_body()));
                }
            }
            let response = inner.call(request).await?;
            Ok(response.map(Body::new))
        })
    }
}

/// The reason, the method and the path; never the token.
fn log_rejection(rejection: &Rejection, method: &http::Method, path: &str) {
    if *rejection == Rejection::KeysUnavailable {
        tracing::warn!(reason = rejection.reason(), %method, path, "refused a request: {rejection}");
    } else {
        tracing::info!(reason = rejection.reason(), %method, path, "refused a request: {rejection}");
    }
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1). `Ok(None)` when there is no
/// such header or it uses another scheme; `Malformed` when it is unreadable or ambiguous.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::Malformed);
    }
    let value = value.to_str().map_err(|_| Rejection::Malformed)?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    {
        return Err(Rejection::Malformed);
    }
    Ok(Some(token))
}

impl Guard {
    fn record(&self, decision: &Result<Option<Verified>, Rejection>) {
        // Anonymous passes are not validations.
        if !matches!(decision, Ok(None)) {
            self.record_outcome(decision);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                AUTHORIZATION,
                HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        headers
    }

    #[test]
    fn reads_bearer_tokens() {
        assert_eq!(bearer_token(&headers(&[])), Ok(None));
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def-_~+/.g=="])),
            Ok(Some("abc.def-_~+/.g=="))
        );
        assert_eq!(bearer_token(&headers(&["bearer  abc"])), Ok(Some("abc")));
        assert_eq!(bearer_token(&headers(&["Basic dXNlcjpwYXNz"])), Ok(None));
        assert_eq!(
            bearer_token(&headers(&["Bearer"])),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer "])),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer a b"])),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer a\"b"])),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer ==="])),
            Err(Rejection::Malformed)
        );
        assert_eq!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(Rejection::Malformed)
        );
    }
}
