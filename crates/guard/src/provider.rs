//! The cached view of the identity provider (issuer, algorithms, keys) and how it is refreshed:
//! on a schedule in the background, and on demand for an unknown `kid`, never more often than
//! the floor allows, so forged `kid`s cannot make the guard hammer the provider.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::Validation;
use tokio::sync::{Mutex, watch};
use url::Url;

use crate::GuardError;
use crate::cache::TokenCache;
use crate::discovery::{self, JWKS, METADATA, Metadata};
use crate::keys::KeySet;
use crate::metrics::Metrics;

/// How the guard talks to the provider and how long it trusts what it got.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) metadata_url: Url,
    pub(crate) audiences: Vec<String>,
    pub(crate) clock_skew: Duration,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) key_lifetime: Duration,
    pub(crate) retry_delay: Duration,
    pub(crate) allow_http: bool,
    /// Capacity of each snapshot's verified-token cache; 0 disables it.
    pub(crate) token_cache: usize,
}

/// One successful load: everything needed to verify tokens, immutable.
pub(crate) struct Snapshot {
    pub(crate) keys: KeySet,
    /// Algorithms, issuer, audiences, leeway, required claims.
    pub(crate) validation: Validation,
    /// Tokens verified with these keys; dropped with them.
    pub(crate) cache: TokenCache,
    pub(crate) expires_at: Instant,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_success: Option<Instant>,
}

/// The outcome of the latest load, for [`Provider::ready`].
#[derive(Clone, Default)]
struct Status {
    attempts: u64,
    last_error: Option<GuardError>,
}

pub(crate) struct Provider {
    settings: Settings,
    client: reqwest::Client,
    current: RwLock<Option<Arc<Snapshot>>>,
    /// Held while fetching: one load at a time, and the place the floor is enforced.
    refresh: Mutex<RefreshState>,
    status: watch::Sender<Status>,
    pub(crate) metrics: Metrics,
}

impl Provider {
    pub(crate) fn new(settings: Settings, client: reqwest::Client) -> Self {
        Self {
            settings,
            client,
            current: RwLock::new(None),
            refresh: Mutex::new(RefreshState::default()),
            status: watch::Sender::new(Status::default()),
            metrics: Metrics::default(),
        }
    }

    /// The keys, if loaded and not expired. Expired keys are never used: the guard fails closed.
    pub(crate) fn current(&self) -> Option<Arc<Snapshot>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|s| Instant::now() < s.expires_at)
            .cloned()
    }

    /// Waits for the first load to finish: `Ok` once keys are usable, else the latest error.
    pub(crate) async fn ready(&self) -> Result<(), GuardError> {
        let mut status = self.status.subscribe();
        loop {
            if self.current().is_some() {
                return Ok(());
            }
            if let Some(error) = status.borrow_and_update().last_error.clone() {
                return Err(error);
            }
            // The sender lives in `self`, so `changed` cannot fail while we borrow it.
            if status.changed().await.is_err() {
                return Err(GuardError::NoRuntime);
            }
        }
    }

    /// A load on demand (unknown `kid`, or no keys yet). Skipped when another load finished
    /// since `seen_at` (its result is used) or when the last attempt is more recent than the
    /// floor (`min_refresh_interval`).
    pub(crate) async fn refresh_on_demand(&self, seen_at: Instant) -> Option<Arc<Snapshot>> {
        let mut state = self.refresh.lock().await;
        if state.last_success.is_some_and(|t| t > seen_at) {
            return self.current();
        }
        if state
            .last_attempt
            .is_some_and(|t| t.elapsed() < self.settings.min_refresh_interval)
        {
            tracing::debug!("not refreshing the signing keys: the last fetch is too recent");
            return None;
        }
        self.refresh_locked(&mut state).await.ok()
    }

    async fn refresh_scheduled(&self) -> Result<(), GuardError> {
        let mut state = self.refresh.lock().await;
        self.refresh_locked(&mut state).await.map(|_| ())
    }

    async fn refresh_locked(&self, state: &mut RefreshState) -> Result<Arc<Snapshot>, GuardError> {
        state.last_attempt = Some(Instant::now());
        let result = self.load().await;
        self.metrics.key_refresh(result.is_ok());
        match &result {
            Ok(snapshot) => {
                state.last_success = Some(Instant::now());
                *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(snapshot.clone());
                tracing::info!(
                    metadata = %self.settings.metadata_url,
                    keys = snapshot.keys.keys.len(),
                    "loaded the identity provider's signing keys"
                );
            }
            Err(error) if self.current().is_some() => {
                tracing::warn!(%error, "cannot refresh the signing keys; the cached keys stay in use until they expire");
            }
            Err(error) => {
                tracing::warn!(%error, "cannot load the signing keys; tokens are refused until they load");
            }
        }
        self.status.send_modify(|status| {
            status.attempts += 1;
            status.last_error = result.as_ref().err().cloned();
        });
        result
    }

    async fn load(&self) -> Result<Arc<Snapshot>, GuardError> {
        let url = &self.settings.metadata_url;
        let body = discovery::fetch(&self.client, url, METADATA).await?;
        let metadata = Metadata::parse(&body, self.settings.allow_http).map_err(|reason| {
            GuardError::InvalidDocument {
                document: METADATA,
                url: url.to_string(),
                reason,
            }
        })?;
        let body = discovery::fetch(&self.client, &metadata.jwks_uri, JWKS).await?;
        let keys = KeySet::parse(&body).map_err(|reason| GuardError::InvalidDocument {
            document: JWKS,
            url: metadata.jwks_uri.to_string(),
            reason,
        })?;
        Ok(Arc::new(Snapshot {
            keys,
            validation: self.validation(&metadata),
            cache: TokenCache::new(self.settings.token_cache),
            expires_at: Instant::now() + self.settings.key_lifetime,
        }))
    }

    fn validation(&self, metadata: &Metadata) -> Validation {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.algorithms = metadata.algorithms.clone();
        validation.set_issuer(&[&metadata.issuer]);
        validation.set_audience(&self.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = self.settings.clock_skew.as_secs();
        validation
    }
}

/// The background refresher: loads at start, then every `refresh_interval`, retrying failures
/// with an exponential backoff. Aborted when the last clone of the guard is dropped.
pub(crate) async fn run(provider: Arc<Provider>) {
    let mut failures = 0u32;
    loop {
        let delay = match provider.refresh_scheduled().await {
            Ok(()) => {
                failures = 0;
                provider.settings.refresh_interval
            }
            Err(_) => {
                failures = failures.saturating_add(1);
                backoff(&provider.settings, failures)
            }
        };
        tokio::time::sleep(delay).await;
    }
}

/// `retry_delay`, doubled after each failure, at most `refresh_interval` and 5 minutes.
fn backoff(settings: &Settings, failures: u32) -> Duration {
    let cap = settings
        .refresh_interval
        .min(Duration::from_secs(300))
        .max(settings.retry_delay);
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    settings.retry_delay.saturating_mul(factor).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(retry: u64, refresh: u64) -> Settings {
        Settings {
            metadata_url: Url::parse(
                "https://login.example.com/t/p/v2.0/.well-known/openid-configuration",
            )
            .unwrap_or_else(|e| panic!("{e}")),
            audiences: vec!["api".into()],
            clock_skew: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(refresh),
            key_lifetime: Duration::from_secs(refresh * 24),
            retry_delay: Duration::from_secs(retry),
            allow_http: false,
            token_cache: 0,
        }
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let s = settings(1, 3600);
        let delays: Vec<u64> = (1..=11).map(|n| backoff(&s, n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(&s, u32::MAX).as_secs(), 300);
        // Never later than the scheduled refresh itself.
        assert_eq!(backoff(&settings(1, 10), 6).as_secs(), 10);
    }

    #[tokio::test]
    async fn keys_start_absent_and_on_demand_refresh_respects_the_floor() {
        let client = reqwest::Client::new();
        let mut s = settings(1, 3600);
        // Port 9 (discard) on loopback: nothing listens, the fetch fails fast.
        s.metadata_url = Url::parse("http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration")
            .unwrap_or_else(|e| panic!("{e}"));
        let provider = Provider::new(s, client);
        assert!(provider.current().is_none());
        let before = Instant::now();
        assert!(provider.refresh_on_demand(before).await.is_none());
        assert_eq!(provider.metrics.snapshot().key_refresh_failures, 1);
        // Within the floor: no second fetch.
        assert!(provider.refresh_on_demand(Instant::now()).await.is_none());
        assert_eq!(provider.metrics.snapshot().key_refresh_failures, 1);
        let error = provider.ready().await.err().map(|e| e.to_string());
        assert!(
            error.as_deref().is_some_and(
                |e| e.starts_with("cannot fetch the OpenID metadata from http://127.0.0.1:9/")
            ),
            "{error:?}"
        );
    }
}
