//! [`Guard`], the shared checker, and [`GuardBuilder`], its configuration.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use url::Url;

use crate::claims::Requirements;
use crate::discovery;
use crate::provider::{self, Provider, Settings};
use crate::verify::verify;
use crate::{GuardError, GuardLayer, MetricsSnapshot, Rejection, TokenClaims};

/// Checks bearer tokens issued by one OpenID provider (an Azure AD B2C policy, Trustframe, or
/// any OpenID Connect provider publishing metadata and a JWKS).
///
/// Cheap to clone: clones share the key cache, the background refresher and the metrics. The
/// refresher stops when the last clone is dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), trustframe_guard::GuardError> {
/// use axum::{Router, routing::get};
/// use trustframe_guard::Guard;
///
/// let guard = Guard::builder(
///     "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_susi/v2.0/.well-known/openid-configuration",
/// )
/// .audience("0239a9cc-309c-4d41-87f1-31288feb2e82")
/// .build()?;
/// let app: Router = Router::new()
///     .route("/api/values", get(|| async { "[\"Value1\",\"Value2\"]" }))
///     .route_layer(guard.layer());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Arc<Provider>,
    requirements: Requirements,
    accept_id_tokens: bool,
    forbidden_body: Option<Value>,
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("requirements", &self.inner.requirements)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Starts the configuration with the provider's metadata URL, in either B2C shape:
    /// `https://{host}/{tenant}/{policy}/v2.0/.well-known/openid-configuration` or
    /// `https://{host}/{tenant}/v2.0/.well-known/openid-configuration?p={policy}`.
    pub fn builder(metadata_url: impl Into<String>) -> GuardBuilder {
        GuardBuilder {
            metadata_url: metadata_url.into(),
            audiences: Vec::new(),
            requirements: Requirements::default(),
            accept_id_tokens: false,
            clock_skew: Duration::from_secs(300),
            ca_file: None,
            min_refresh_interval: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(3600),
            key_lifetime: Duration::from_secs(24 * 3600),
            retry_delay: Duration::from_secs(1),
            http_timeout: Duration::from_secs(10),
            allow_http: false,
            forbidden_body: None,
            token_cache: 10_000,
        }
    }

    /// A layer requiring a valid token that meets the guard's requirements. Add route-specific
    /// requirements with [`GuardLayer::scope`], [`GuardLayer::policy`], [`GuardLayer::role`].
    pub fn layer(&self) -> GuardLayer {
        GuardLayer::new(self.clone())
    }

    /// Waits until the first load of the provider's metadata and keys has finished: `Ok` when
    /// tokens can be checked, otherwise the error of the latest attempt (the guard keeps
    /// retrying in the background; meanwhile requests get 503).
    pub async fn ready(&self) -> Result<(), GuardError> {
        self.inner.provider.ready().await
    }

    /// Checks a token outside of HTTP (a WebSocket message, a queue, a benchmark): signature,
    /// `exp`, `nbf`, `iss`, `aud`, that it is an access token (unless ID tokens are accepted),
    /// then the guard's policy, scope and role requirements.
    /// Counted in [`Guard::metrics`].
    pub async fn validate(&self, token: &str) -> Result<TokenClaims, Rejection> {
        let outcome = self.check(token, None).await;
        self.record_outcome(&outcome);
        outcome
    }

    /// The counters of this guard (shared by its clones and layers).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.provider.metrics.snapshot()
    }

    pub(crate) async fn check(
        &self,
        token: &str,
        extra: Option<&Requirements>,
    ) -> Result<TokenClaims, Rejection> {
        let claims = self.verify(token).await?;
        // An ID token proves a sign-in to its app; it grants nothing to an API (RFC 6750 §1:
        // bearer tokens are access tokens). Only the app's own API may choose to take it.
        if !self.inner.accept_id_tokens && claims.is_id_token() {
            return Err(Rejection::IdToken);
        }
        self.inner.requirements.check(&claims)?;
        if let Some(extra) = extra {
            extra.check(&claims)?;
        }
        Ok(claims)
    }

    async fn verify(&self, token: &str) -> Result<TokenClaims, Rejection> {
        let provider = &self.inner.provider;
        let seen_at = Instant::now();
        let snapshot = match provider.current() {
            Some(snapshot) => snapshot,
            // Not loaded yet, or expired while the provider is down.
            None => provider
                .refresh_on_demand(seen_at)
                .await
                .ok_or(Rejection::KeysUnavailable)?,
        };
        match verify(&snapshot, token) {
            // Perhaps the provider rotated its keys: look again, unless the floor forbids it.
            Err(Rejection::UnknownKey) => match provider.refresh_on_demand(seen_at).await {
                Some(fresh) => verify(&fresh, token),
                None => Err(Rejection::UnknownKey),
            },
            outcome => outcome,
        }
    }

    pub(crate) fn record_outcome<T>(&self, outcome: &Result<T, Rejection>) {
        self.inner.provider.metrics.record(outcome);
    }

    pub(crate) fn forbidden_body(&self) -> Option<&Value> {
        self.inner.forbidden_body.as_ref()
    }

    /// Identifies the guard, so a route layer can reuse the verification of an outer layer of
    /// the same guard.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

/// Configuration of a [`Guard`]; made by [`Guard::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct GuardBuilder {
    metadata_url: String,
    audiences: Vec<String>,
    requirements: Requirements,
    accept_id_tokens: bool,
    clock_skew: Duration,
    ca_file: Option<PathBuf>,
    min_refresh_interval: Duration,
    refresh_interval: Duration,
    key_lifetime: Duration,
    retry_delay: Duration,
    http_timeout: Duration,
    allow_http: bool,
    forbidden_body: Option<Value>,
    token_cache: usize,
}

impl GuardBuilder {
    /// An accepted `aud`: the client (application) id of this API. Call it again to accept
    /// several. At least one is required.
    pub fn audience(mut self, client_id: impl Into<String>) -> Self {
        self.audiences.push(client_id.into());
        self
    }

    /// An accepted policy (`tfp`, or `acr`), compared case-insensitively. When policies are
    /// given, a valid token from any other policy gets 403. Call it again to accept several.
    pub fn policy(mut self, name: impl Into<String>) -> Self {
        self.requirements.policies.push(name.into());
        self
    }

    /// A scope every token must have in `scp`. Each call adds one (all are required).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.requirements.scopes.push(scope.into());
        self
    }

    /// A role every token must have in `roles`. Each call adds one (all are required).
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.requirements.roles.push(role.into());
        self
    }

    /// Accept ID tokens as well as access tokens. Default: `false`, ID tokens get 401
    /// `invalid_token` (see [`TokenClaims::is_id_token`](crate::TokenClaims::is_id_token)).
    ///
    /// Set it only when the API and its client are one app registration (the API's audience is
    /// the app itself) and the client sends its ID token, as the B2C Node.js sample API with
    /// `passport-azure-ad` accepts it. A required scope still refuses them: ID tokens have no
    /// `scp`.
    pub fn accept_id_tokens(mut self, accept: bool) -> Self {
        self.accept_id_tokens = accept;
        self
    }

    /// Tolerance for `exp` and `nbf` when clocks differ. Default: 5 minutes.
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// A PEM file of CA certificates trusted in addition to the system's roots, for a provider
    /// behind a private CA (local Trustframe, tests).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// The floor between two fetches triggered by requests (an unknown `kid`, keys missing), so
    /// that forged `kid`s cannot make the guard hammer the provider. Default: 30 seconds.
    pub fn min_refresh_interval(mut self, floor: Duration) -> Self {
        self.min_refresh_interval = floor;
        self
    }

    /// How often the background task reloads metadata and keys. Default: 1 hour.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// How long loaded keys stay usable without a successful reload (the provider being down).
    /// After that, requests get 503 until the provider answers. Default: 24 hours; must be
    /// longer than the refresh interval.
    pub fn key_lifetime(mut self, lifetime: Duration) -> Self {
        self.key_lifetime = lifetime;
        self
    }

    /// The first delay before retrying a failed load; it doubles after each failure, up to the
    /// refresh interval and at most 5 minutes. Default: 1 second.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Timeout of one HTTP request to the provider. Default: 10 seconds.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Accept plain `http://` metadata and keys on hosts other than loopback. Only for
    /// development: keys fetched over plain HTTP can be replaced by anyone on the path.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// The JSON body of 403 answers instead of the default
    /// `{"error":"insufficient_scope","error_description":...}`; the B2C sample API answers
    /// `{"error":"insufficient permissions"}`.
    pub fn forbidden_body(mut self, body: Value) -> Self {
        self.forbidden_body = Some(body);
        self
    }

    /// How many verified tokens to remember (by their SHA-256), so that a client reusing its
    /// token costs one signature verification instead of one per request. A remembered token
    /// still has `exp`, `nbf` and the requirements checked on every request, and is forgotten
    /// when the keys change. Default: 10 000; 0 verifies every request from scratch.
    pub fn token_cache(mut self, capacity: usize) -> Self {
        self.token_cache = capacity;
        self
    }

    /// Checks the configuration and starts loading the provider's metadata and keys in the
    /// background; call [`Guard::ready`] to wait for them. Must run inside a Tokio runtime.
    pub fn build(self) -> Result<Guard, GuardError> {
        let metadata_url = Url::parse(&self.metadata_url).map_err(|e| {
            GuardError::Config(format!(
                "the metadata URL {} is not a URL: {e}",
                self.metadata_url
            ))
        })?;
        discovery::check_scheme(&metadata_url, self.allow_http)
            .map_err(|e| GuardError::Config(format!("metadata URL: {e}")))?;
        if self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err(GuardError::Config(
                "at least one audience (the API's client id) is required".into(),
            ));
        }
        if self.key_lifetime <= self.refresh_interval {
            return Err(GuardError::Config(format!(
                "the key lifetime ({:?}) must be longer than the refresh interval ({:?})",
                self.key_lifetime, self.refresh_interval
            )));
        }
        if self.refresh_interval.is_zero() || self.retry_delay.is_zero() {
            return Err(GuardError::Config(
                "the refresh interval and the retry delay must not be zero".into(),
            ));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| GuardError::NoRuntime)?;
        let https_only = metadata_url.scheme() == "https" && !self.allow_http;
        let client =
            discovery::http_client(self.ca_file.as_deref(), self.http_timeout, https_only)?;
        let provider = Arc::new(Provider::new(
            Settings {
                metadata_url,
                audiences: self.audiences,
                clock_skew: self.clock_skew,
                min_refresh_interval: self.min_refresh_interval,
                refresh_interval: self.refresh_interval,
                key_lifetime: self.key_lifetime,
                retry_delay: self.retry_delay,
                allow_http: self.allow_http,
                token_cache: self.token_cache,
            },
            client,
        ));
        let refresher = runtime.spawn(provider::run(provider.clone()));
        Ok(Guard {
            inner: Arc::new(Inner {
                provider,
                requirements: self.requirements,
                accept_id_tokens: self.accept_id_tokens,
                forbidden_body: self.forbidden_body,
                refresher,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://contoso.b2clogin.com/contoso.onmicrosoft.com/B2C_1_susi/v2.0/.well-known/openid-configuration";

    fn config_error(builder: GuardBuilder) -> String {
        match builder.build() {
            Err(GuardError::Config(message)) => message,
            Err(other) => format!("unexpected error: {other}"),
            Ok(_) => "built".into(),
        }
    }

    #[tokio::test]
    async fn refuses_unworkable_configurations() {
        assert_eq!(
            config_error(Guard::builder(URL)),
            "at least one audience (the API's client id) is required"
        );
        assert!(config_error(Guard::builder("not a url").audience("a")).contains("is not a URL"));
        assert!(
            config_error(Guard::builder("http://login.example.com/m").audience("a"))
                .contains("plain http")
        );
        assert!(
            config_error(
                Guard::builder(URL)
                    .audience("a")
                    .refresh_interval(Duration::from_secs(60))
                    .key_lifetime(Duration::from_secs(60))
            )
            .contains("must be longer than the refresh interval")
        );
        // Nothing listens on the discard port: the background load fails without leaving the machine.
        let local = "http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration?p=B2C_1_susi";
        assert_eq!(config_error(Guard::builder(local).audience("a")), "built");
    }

    #[test]
    fn needs_a_runtime() {
        assert_eq!(
            Guard::builder(URL).audience("a").build().err(),
            Some(GuardError::NoRuntime)
        );
    }
}
