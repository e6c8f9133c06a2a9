//! OAuth2 client-credentials tokens for API connectors (`AuthenticationType` `ClientCredentials`,
//! ours; B2C's API-connector OAuth2 option). A token is kept until shortly before `expires_in`
//! runs out; concurrent calls that need the same token share one fetch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde::Deserialize;

use crate::auth::TokenRequest;

/// Without `expires_in`, a token is reused for this long.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// A token is renewed this long before it expires (or at half its life, if shorter).
const RENEW_BEFORE: Duration = Duration::from_secs(30);
/// A token response larger than this is refused.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

struct Cached {
    token: String,
    renew_at: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<TokenRequest, Slot>>,
    fetches: AtomicU64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenCache {
    fn slot(&self, request: &TokenRequest) -> Slot {
        let mut slots = match self.slots.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots.entry(request.clone()).or_default().clone()
    }

    /// A valid token, fetched if none is cached. The error text holds no secret.
    pub(crate) async fn token(
        &self,
        client: &Client,
        request: &TokenRequest,
        timeout: Duration,
    ) -> Result<String, String> {
        let slot = self.slot(request);
        // Held across the fetch: the other callers wait for this one's token.
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = tokio::time::timeout(timeout, fetch(client, request))
            .await
            .map_err(|_| "the token endpoint did not answer in time".to_owned())??;
        let token = fetched.0.clone();
        *cached = Some(Cached {
            token: fetched.0,
            renew_at: Instant::now() + fetched.1,
        });
        Ok(token)
    }

    /// Forgets a token the API refused (401), so the next call fetches a new one.
    pub(crate) async fn evict(&self, request: &TokenRequest, token: &str) {
        let slot = self.slot(request);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|c| c.token == token) {
            *cached = None;
        }
    }

    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

async fn fetch(client: &Client, request: &TokenRequest) -> Result<(String, Duration), String> {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", request.client_id.as_str()),
        ("client_secret", request.client_secret.as_str()),
    ];
    if let Some(scope) = &request.scope {
        form.push(("scope", scope.as_str()));
    }
    let response = client
        .post(request.endpoint.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the token endpoint could not be reached: {}",
                e.without_url()
            )
        })?;
    let status = response.status();
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the token response failed: {}", e.without_url()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_TOKEN_RESPONSE {
            return Err("the token response is too large".to_owned());
        }
    }
    if !status.is_success() {
        return Err(format!(
            "the token endpoint answered HTTP {}",
            status.as_u16()
        ));
    }
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|_| "the token endpoint's answer has no access_token".to_owned())?;
    if parsed.access_token.is_empty() {
        return Err("the token endpoint returned an empty access_token".to_owned());
    }
    let lifetime = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64().map(Duration::from_secs),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok().map(Duration::from_secs),
        _ => None,
    }
    .unwrap_or(DEFAULT_LIFETIME);
    let renew_after = lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 2));
    Ok((parsed.access_token, renew_after))
}
