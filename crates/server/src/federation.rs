//! The relying-party side of an external OpenID Connect identity provider
//! (`identity-provider-generic-openid-connect.md`, B2C's `openid-connect-technical-profile.md`):
//! authorization code flow with PKCE (S256), a nonce and a state bound to the journey;
//! discovery and keys fetched through the outbound client (`docs/operating.md`) and cached;
//! the ID token checked (signature with the provider's keys and an asymmetric algorithm its
//! metadata lists, `iss` equal to the metadata's issuer, `aud` our client id, `exp`/`nbf` with
//! leeway, `nonce`).
//!
//! Everything about a provider comes from its `OpenIdConnect` technical profile, so a custom
//! policy's profile and a user flow's `[[identity_providers]]` entry behave alike.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use trustframe_policy::identity_provider as idp;
use trustframe_policy::{TechnicalProfile, TechnicalProfileId};

/// How long a provider's metadata is kept before it is fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Keys are fetched again when a token names an unknown `kid`, at most this often.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(60);
const JWKS_TTL: Duration = Duration::from_secs(3600);
/// Each call to a provider (metadata, keys, token endpoint).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Clock skew accepted on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 300;
/// The largest metadata, keys or token response read.
const MAX_BODY: usize = 1024 * 1024;

/// Why a federation failed. The `Display` text is for the operator's log; [`Self::for_user`]
/// says what the user and the app see.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("technical profile '{profile}': {message}")]
    Config { profile: String, message: String },
    #[error(
        "{url}: plain http is refused (set allow_insecure = true on the provider, or server.development, to allow it)"
    )]
    Insecure { url: String },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    BadDocument { url: String, reason: String },
    #[error("the token endpoint refused the code: HTTP {status}, error '{error}'")]
    TokenRefused { status: u16, error: String },
    #[error("the ID token's issuer '{found}' is not the provider's '{expected}'")]
    WrongIssuer { found: String, expected: String },
    #[error("the ID token is signed by a key the provider does not publish (kid {kid:?})")]
    UnknownKey { kid: Option<String> },
    #[error("the ID token's nonce does not match the one sent")]
    NonceMismatch,
    #[error("the ID token is invalid: {0}")]
    InvalidToken(String),
}

/// What the user reads and what the app receives.
pub struct UserFacing {
    /// OAuth error code toward the app.
    pub error: &'static str,
    /// Starts with an `AADB2C9xxxx` code where B2C has one.
    pub description: String,
}

impl FederationError {
    pub fn for_user(&self, provider: &str) -> UserFacing {
        match self {
            Self::Config { .. }
            | Self::Insecure { .. }
            | Self::Unreachable { .. }
            | Self::Status { .. }
            | Self::BadDocument { .. } => UserFacing {
                error: "server_error",
                description: format!(
                    "AADB2C90289: We encountered an error connecting to the identity provider '{provider}'. Please try again later."
                ),
            },
            Self::TokenRefused { error, .. } => UserFacing {
                error: "server_error",
                description: format!(
                    "AADB2C90289: The identity provider '{provider}' refused to redeem the sign-in ({error}). Please try again later."
                ),
            },
            Self::WrongIssuer { .. } => UserFacing {
                error: "server_error",
                description: format!(
                    "AADB2C90238: The token from the identity provider '{provider}' does not contain a valid issuer."
                ),
            },
            Self::UnknownKey { .. } => UserFacing {
                error: "server_error",
                description: format!(
                    "The token from the identity provider '{provider}' is signed by a key the provider does not publish: it was refused."
                ),
            },
            Self::NonceMismatch => UserFacing {
                error: "server_error",
                description: format!(
                    "The token from the identity provider '{provider}' was issued for another sign-in (its nonce does not match): it was refused."
                ),
            },
            Self::InvalidToken(reason) => UserFacing {
                error: "server_error",
                description: format!(
                    "The token from the identity provider '{provider}' was refused: {reason}."
                ),
            },
        }
    }
}

/// What a journey remembers between sending the user to a provider and the callback.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingFederation {
    pub technical_profile: TechnicalProfileId,
    pub display_name: String,
    /// The whole `state` sent (`{journey id}.{random}`).
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
    pub redirect_uri: String,
}

// The verifier and nonce are secrets of this sign-in: never printed.
impl std::fmt::Debug for PendingFederation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingFederation")
            .field("technical_profile", &self.technical_profile)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl PendingFederation {
    /// Compares a callback's `state` in constant time.
    pub fn state_matches(&self, state: &str) -> bool {
        bool::from(self.state.as_bytes().ct_eq(state.as_bytes()))
    }
}

/// The subset of a provider's discovery document we use.
#[derive(Debug, Clone, Deserialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    /// Absent: `client_secret_basic` (OpenID Connect Discovery §3).
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

struct Cached<T> {
    value: T,
    fetched: Instant,
}

/// A provider's settings, read from its technical profile.
struct Settings<'a> {
    metadata_url: &'a str,
    client_id: &'a str,
    scope: &'a str,
    response_mode: &'a str,
    auth_method: Option<&'a str>,
    insecure_ok: bool,
}

/// The identity providers of one tenant: one outbound client, caches, the client secrets.
pub struct Federation {
    client: reqwest::Client,
    development: bool,
    /// Key reference (`identity_provider/{id}/client_secret`) → secret.
    secrets: BTreeMap<String, String>,
    metadata: Mutex<HashMap<String, Cached<ProviderMetadata>>>,
    keys: Mutex<HashMap<String, Cached<JwkSet>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn random(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(v)
}

/// Algorithms we accept from providers: asymmetric only (never `none` or HMAC, whose key would
/// be our client secret).
fn asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl Federation {
    pub fn new(
        client: reqwest::Client,
        development: bool,
        secrets: BTreeMap<String, String>,
    ) -> Self {
        Self {
            client,
            development,
            secrets,
            metadata: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn settings<'p>(&self, profile: &'p TechnicalProfile) -> Result<Settings<'p>, FederationError> {
        let m = &profile.metadata;
        let missing = |key: &str| FederationError::Config {
            profile: profile.id.to_string(),
            message: format!("metadata '{key}' is missing"),
        };
        Ok(Settings {
            metadata_url: m.get(idp::METADATA).ok_or_else(|| missing(idp::METADATA))?,
            client_id: m
                .get(idp::CLIENT_ID)
                .ok_or_else(|| missing(idp::CLIENT_ID))?,
            scope: m.get(idp::SCOPE).unwrap_or("openid"),
            response_mode: m.get(idp::RESPONSE_MODE).unwrap_or("form_post"),
            auth_method: m.get(idp::TOKEN_ENDPOINT_AUTH_METHOD),
            insecure_ok: self.development || m.flag(idp::ALLOW_INSECURE, false),
        })
    }

    fn secret(&self, profile: &TechnicalProfile) -> Result<&str, FederationError> {
        profile
            .cryptographic_keys
            .get(idp::KEY_CLIENT_SECRET)
            .and_then(|reference| self.secrets.get(reference))
            .map(String::as_str)
            .ok_or_else(|| FederationError::Config {
                profile: profile.id.to_string(),
                message: "no client secret in the key store".into(),
            })
    }

    fn check_scheme(url: &str, insecure_ok: bool) -> Result<(), FederationError> {
        match url::Url::parse(url) {
            Ok(u) if u.scheme() == "https" => Ok(()),
            Ok(u) if u.scheme() == "http" && insecure_ok => Ok(()),
            Ok(u) if u.scheme() == "http" => Err(FederationError::Insecure { url: url.into() }),
            _ => Err(FederationError::BadDocument {
                url: url.into(),
                reason: "not an http(s) URL".into(),
            }),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        insecure_ok: bool,
    ) -> Result<T, FederationError> {
        Self::check_scheme(url, insecure_ok)?;
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| FederationError::Unreachable {
                url: url.into(),
                reason: transport_reason(&e),
            })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(FederationError::Status {
                url: url.into(),
                status,
            });
        }
        let body = read_body(response, url).await?;
        serde_json::from_slice(&body).map_err(|e| FederationError::BadDocument {
            url: url.into(),
            reason: e.to_string(),
        })
    }

    async fn metadata(&self, s: &Settings<'_>) -> Result<ProviderMetadata, FederationError> {
        if let Some(c) = lock(&self.metadata).get(s.metadata_url)
            && c.fetched.elapsed() < METADATA_TTL
        {
            return Ok(c.value.clone());
        }
        let doc: ProviderMetadata = self.get_json(s.metadata_url, s.insecure_ok).await?;
        for url in [&doc.token_endpoint, &doc.jwks_uri] {
            Self::check_scheme(url, s.insecure_ok)?;
        }
        Self::check_scheme(&doc.authorization_endpoint, s.insecure_ok)?;
        lock(&self.metadata).insert(
            s.metadata_url.to_owned(),
            Cached {
                value: doc.clone(),
                fetched: Instant::now(),
            },
        );
        Ok(doc)
    }

    /// The provider's key `kid`; the keys are fetched again (at most once a minute) when a
    /// token names a key not in the cache, which is how providers rotate keys.
    async fn key(
        &self,
        jwks_uri: &str,
        kid: Option<&str>,
        insecure_ok: bool,
    ) -> Result<Jwk, FederationError> {
        let pick = |set: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(kid) => set.find(kid).cloned(),
                // Without a kid, only a provider with a single key is unambiguous.
                None if set.keys.len() == 1 => set.keys.first().cloned(),
                None => None,
            }
        };
        let (cached, stale) = match lock(&self.keys).get(jwks_uri) {
            Some(c) => (
                pick(&c.value).filter(|_| c.fetched.elapsed() < JWKS_TTL),
                c.fetched.elapsed() >= JWKS_MIN_REFRESH,
            ),
            None => (None, true),
        };
        if let Some(k) = cached {
            return Ok(k);
        }
        if !stale {
            return Err(FederationError::UnknownKey {
                kid: kid.map(str::to_owned),
            });
        }
        let set: JwkSet = self.get_json(jwks_uri, insecure_ok).await?;
        let found = pick(&set);
        lock(&self.keys).insert(
            jwks_uri.to_owned(),
            Cached {
                value: set,
                fetched: Instant::now(),
            },
        );
        found.ok_or_else(|| FederationError::UnknownKey {
            kid: kid.map(str::to_owned),
        })
    }

    /// Starts a federation: the provider's authorize URL and what the journey must remember.
    /// `state` is the value the callback must bring back.
    pub async fn begin(
        &self,
        profile: &TechnicalProfile,
        redirect_uri: &str,
        state: String,
    ) -> Result<(String, PendingFederation), FederationError> {
        let s = self.settings(profile)?;
        self.secret(profile)?;
        let meta = self.metadata(&s).await?;
        let nonce = random(24);
        let code_verifier = random(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
        let mut url = url::Url::parse(&meta.authorization_endpoint).map_err(|e| {
            FederationError::BadDocument {
                url: meta.authorization_endpoint.clone(),
                reason: e.to_string(),
            }
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", s.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_mode", s.response_mode)
            .append_pair("scope", s.scope)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((
            url.to_string(),
            PendingFederation {
                technical_profile: profile.id.clone(),
                display_name: profile.display_name.clone(),
                state,
                nonce,
                code_verifier,
                redirect_uri: redirect_uri.to_owned(),
            },
        ))
    }

    /// Redeems the code and checks the ID token; answers its claims.
    pub async fn complete(
        &self,
        profile: &TechnicalProfile,
        pending: &PendingFederation,
        code: &str,
    ) -> Result<Map<String, Value>, FederationError> {
        let s = self.settings(profile)?;
        let secret = self.secret(profile)?;
        let meta = self.metadata(&s).await?;
        let id_token = self.redeem(&s, &meta, secret, pending, code).await?;
        self.verify(&s, &meta, pending, &id_token).await
    }

    async fn redeem(
        &self,
        s: &Settings<'_>,
        meta: &ProviderMetadata,
        secret: &str,
        pending: &PendingFederation,
        code: &str,
    ) -> Result<String, FederationError> {
        // B2C's default is client_secret_post; the provider's metadata decides when it lists
        // only basic.
        let advertised = meta
            .token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".into()]);
        let basic = match s.auth_method {
            Some(m) => m.eq_ignore_ascii_case("client_secret_basic"),
            None => {
                !advertised.iter().any(|m| m == "client_secret_post")
                    && advertised.iter().any(|m| m == "client_secret_basic")
            }
        };
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &pending.redirect_uri),
            ("code_verifier", &pending.code_verifier),
        ];
        let mut request = self.client.post(&meta.token_endpoint).timeout(CALL_TIMEOUT);
        if basic {
            // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
            let enc =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            request = request.basic_auth(enc(s.client_id), Some(enc(secret)));
        } else {
            form.push(("client_id", s.client_id));
            form.push(("client_secret", secret));
        }
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| FederationError::Unreachable {
                url: meta.token_endpoint.clone(),
                reason: transport_reason(&e),
            })?;
        let status = response.status().as_u16();
        let body = read_body(response, &meta.token_endpoint).await?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let error = json
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no error code")
                .chars()
                .take(100)
                .collect();
            return Err(FederationError::TokenRefused { status, error });
        }
        json.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                FederationError::InvalidToken("the token response has no id_token".into())
            })
    }

    async fn verify(
        &self,
        s: &Settings<'_>,
        meta: &ProviderMetadata,
        pending: &PendingFederation,
        id_token: &str,
    ) -> Result<Map<String, Value>, FederationError> {
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|e| FederationError::InvalidToken(format!("malformed: {e}")))?;
        let alg = header.alg;
        let listed: Vec<&str> = if meta.id_token_signing_alg_values_supported.is_empty() {
            vec!["RS256"]
        } else {
            meta.id_token_signing_alg_values_supported
                .iter()
                .map(String::as_str)
                .collect()
        };
        let alg_name = format!("{alg:?}");
        if !asymmetric(alg) || !listed.contains(&alg_name.as_str()) {
            return Err(FederationError::InvalidToken(format!(
                "its algorithm {alg_name} is not an asymmetric one the provider lists"
            )));
        }
        let jwk = self
            .key(&meta.jwks_uri, header.kid.as_deref(), s.insecure_ok)
            .await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| {
            FederationError::InvalidToken(format!("the provider's key is unusable: {e}"))
        })?;
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_audience(&[s.client_id]);
        // The issuer is compared below, to name it in the error.
        validation.iss = None;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => FederationError::InvalidToken(
                    "its signature does not verify with the provider's key".into(),
                ),
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    FederationError::InvalidToken("it has expired".into())
                }
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                    FederationError::InvalidToken("it is not valid yet (nbf)".into())
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    FederationError::InvalidToken("it was issued to another client (aud)".into())
                }
                other => FederationError::InvalidToken(format!("{other:?}")),
            })?;
        let claims = data.claims;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if iss != meta.issuer {
            return Err(FederationError::WrongIssuer {
                found: iss.into(),
                expected: meta.issuer.clone(),
            });
        }
        // Several audiences: the token must name us as its authorized party.
        if let Some(Value::Array(auds)) = claims.get("aud")
            && auds.len() > 1
            && claims.get("azp").and_then(Value::as_str) != Some(s.client_id)
        {
            return Err(FederationError::InvalidToken(
                "it has several audiences and another authorized party (azp)".into(),
            ));
        }
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !bool::from(nonce.as_bytes().ct_eq(pending.nonce.as_bytes())) {
            return Err(FederationError::NonceMismatch);
        }
        Ok(claims)
    }
}

/// A transport error without the URL's query (which may carry a code) or credentials.
fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        let mut source = std::error::Error::source(e);
        let mut reason = String::from("request failed");
        while let Some(s) = source {
            reason = s.to_string();
            source = s.source();
        }
        reason
    }
}

async fn read_body(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, FederationError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(FederationError::BadDocument {
                        url: url.into(),
                        reason: "the response is larger than 1 MiB".into(),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                return Err(FederationError::Unreachable {
                    url: url.into(),
                    reason: transport_reason(&e),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_and_none_are_never_accepted() {
        assert!(!asymmetric(Algorithm::HS256));
        assert!(asymmetric(Algorithm::RS256));
        assert!(asymmetric(Algorithm::ES256));
        // `none` does not even parse as an algorithm.
        assert!(serde_json::from_str::<Algorithm>("\"none\"").is_err());
    }

    #[test]
    fn plain_http_needs_permission() {
        assert!(Federation::check_scheme("http://127.0.0.1/x", false).is_err());
        assert!(Federation::check_scheme("http://127.0.0.1/x", true).is_ok());
        assert!(Federation::check_scheme("https://127.0.0.1/x", false).is_ok());
        assert!(Federation::check_scheme("ftp://127.0.0.1/x", true).is_err());
    }

    #[test]
    fn pending_federation_hides_its_secrets() {
        let p = PendingFederation {
            technical_profile: TechnicalProfileId::new("OIDC-x"),
            display_name: "X".into(),
            state: "j.s".into(),
            nonce: "nonce-value".into(),
            code_verifier: "verifier-value".into(),
            redirect_uri: "http://127.0.0.1/authresp".into(),
        };
        let shown = format!("{p:?}");
        assert!(!shown.contains("verifier-value") && !shown.contains("nonce-value"));
        assert!(p.state_matches("j.s") && !p.state_matches("j.t"));
    }
}
