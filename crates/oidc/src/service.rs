//! [`OidcService`]: the protocol behind the HTTP routes (authorize, token, logout, metadata,
//! keys). The server translates HTTP to these calls and their results back to HTTP.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use trustframe_store::{
    CodeRedemption, FailureCount, NextRefreshToken, PendingCommit, RefreshTokenRecord, RefreshUse,
    Store, ThrottleRule,
};

use crate::authorize::{self, AuthorizeError, ValidatedAuthorize};
use crate::claims::Subject;
use crate::clock::{Clock, SystemClock};
use crate::config::{self, Application, TokenSettings};
use crate::discovery::{self, DiscoveryDocument};
use crate::error::{ErrorCode, OidcError, b2c};
use crate::grant::Grant;
use crate::keys::{Jwks, KeyRing, PolicyKey};
use crate::logout::{self, LogoutError, LogoutOutcome};
use crate::params::Params;
use crate::response::{self, AuthorizationResponse, JourneyError};
use crate::scope::{self, GrantedScopes};
use crate::secret;
use crate::token::{TokenError, TokenResponse};

/// What the service needs from the server's configuration.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Scheme, host and optional path prefix, e.g. `https://login.contoso.com`
    /// (a trailing `/` is ignored).
    pub public_url: String,
    /// The tenant id (GUID) that appears in the issuer.
    pub tenant_id: String,
    pub applications: Vec<Application>,
    pub tokens: TokenSettings,
    /// Seals the signing keys in the store (AES-256-GCM); `None` keeps them plain.
    pub key_encryption: Option<crate::KeyEncryptionKey>,
}

/// What a refresh's token journey knows of the grant it renews.
pub struct RefreshContext<'a> {
    pub policy: &'a str,
    pub object_id: &'a str,
    pub client_id: &'a str,
    /// When the presented refresh token was issued (Unix seconds).
    pub issued_at: i64,
    /// The application claims the grant carries now.
    pub claims: &'a Map<String, Value>,
}

/// Recomputes the claims of a refresh by running the policy's token journey.
#[async_trait::async_trait]
pub trait RefreshJourney: Send + Sync {
    /// `Ok(Some(claims))`: the new application claims; `Ok(None)`: keep the grant's claims;
    /// `Err(description)`: the refresh is refused with `invalid_grant` and this description.
    async fn claims(&self, grant: RefreshContext<'_>)
    -> Result<Option<Map<String, Value>>, String>;
}

/// The user the journey signed in, and the application claims for the tokens, already under
/// B2C's token names (`emails`, `given_name`, `family_name`, `name`, `oid`, `idp`, `newUser`,
/// `extension_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn {
    pub object_id: String,
    pub auth_time: i64,
    pub claims: Map<String, Value>,
}

/// The OpenID Connect provider of one tenant. Cheap to clone.
#[derive(Clone)]
pub struct OidcService {
    inner: Arc<Inner>,
    /// Policies that sign with a key of their own (policy id, key), set at start; few, so a
    /// scan without allocation beats hashing a case-folded id on every token.
    policy_keys: Arc<[(String, PolicyKey)]>,
    /// Wrong client secrets per client id that lock its client authentication
    /// ([`OidcService::set_client_lockout`]).
    client_lockout: ThrottleRule,
    /// The tenant's name in audit records (`contoso`); see [`OidcService::set_audit_tenant`].
    audit_tenant: Option<Arc<str>>,
}

/// The default of [`OidcService::set_client_lockout`]: 10 wrong secrets within 60 s lock a
/// client id for 60 s, doubling with each further lockout up to an hour.
pub const DEFAULT_CLIENT_LOCKOUT: ThrottleRule = ThrottleRule {
    threshold: 10,
    window_seconds: 60,
    lockout_seconds: 60,
    max_lockout_seconds: 3600,
};

/// How long a node trusts the store's "this client is not locked" before reading it again:
/// the right-secret path then costs no read. A lockout begun on another node reaches this one
/// within this time, or at once with its next wrong secret (every wrong secret is written, and
/// the write answers whether it locked).
const CLIENT_LOCK_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

struct Inner {
    /// Client id (lower case) → when its lock state was last read, and until when it is locked.
    client_locks: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, i64)>>,
    store: Store,
    keys: KeyRing,
    apps: Vec<Application>,
    tokens: TokenSettings,
    tenant_id: String,
    public_url: String,
    issuer: String,
    clock: Arc<dyn Clock>,
}

/// An authenticated (or, for public clients, identified) client at the token endpoint.
struct Client<'a> {
    app: &'a Application,
}

/// What `/token` checks before anything else: repeated parameters and the grant type. Pure,
/// like [`identify_client`], so the fuzz target reaches both without a store.
pub(crate) fn token_preamble<'p>(p: &Params<'p>) -> Result<&'p str, TokenError> {
    if let Some(name) = p.first_repeated(&[
        "grant_type",
        "client_id",
        "client_secret",
        "code",
        "redirect_uri",
        "code_verifier",
        "refresh_token",
        "scope",
    ]) {
        return Err(TokenError::new(
            ErrorCode::InvalidRequest,
            format!("The parameter '{name}' is included more than once."),
        ));
    }
    let grant_type = p.get("grant_type").ok_or_else(|| {
        TokenError::new(
            ErrorCode::InvalidRequest,
            b2c::missing_parameter("grant_type"),
        )
    })?;
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return Err(TokenError::new(
            ErrorCode::UnsupportedGrantType,
            b2c::grant_type_unsupported(grant_type),
        ));
    }
    Ok(grant_type)
}

/// The registered client a `/token` request names (`client_secret_post` or
/// `client_secret_basic`, never both) and the secret it sent, if any.
pub(crate) fn identify_client<'a, 's>(
    apps: &'a [Application],
    tenant_id: &str,
    p: &Params<'s>,
    basic: Option<(&'s str, &'s str)>,
) -> Result<(&'a Application, Option<&'s str>), TokenError> {
    let form_id = p.get("client_id");
    let form_secret = p.get("client_secret");
    let (client_id, secret) = match basic {
        Some((id, secret)) => {
            if form_secret.is_some() {
                return Err(TokenError::new(
                    ErrorCode::InvalidRequest,
                    "The request uses more than one client authentication method.",
                ));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(TokenError::new(
                    ErrorCode::InvalidClient,
                    "The client_id of the Authorization header and of the body differ.",
                ));
            }
            (id, (!secret.is_empty()).then_some(secret))
        }
        None => (
            form_id.ok_or_else(|| TokenError::new(ErrorCode::InvalidRequest, b2c::NO_CLIENT_ID))?,
            form_secret,
        ),
    };
    let app = apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .ok_or_else(|| {
            TokenError::new(
                ErrorCode::InvalidClient,
                b2c::client_not_registered(client_id, tenant_id),
            )
        })?;
    Ok((app, secret))
}

/// Tokens minted for one grant.
struct Minted {
    access_token: Option<String>,
    id_token: Option<String>,
}

impl OidcService {
    /// Checks the configuration, loads the signing keys (creating the first one if needed).
    pub async fn new(store: Store, config: OidcConfig) -> Result<Self, OidcError> {
        Self::with_clock(store, config, Arc::new(SystemClock)).await
    }

    /// As [`OidcService::new`], with a clock of your own (tests).
    pub async fn with_clock(
        store: Store,
        config: OidcConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OidcError> {
        let mut errors = Vec::new();
        if let Err(e) = config.tokens.validate() {
            errors.extend(e);
        }
        if let Err(e) = config::validate_applications(&config.applications) {
            errors.extend(e);
        }
        if url::Url::parse(&config.public_url).is_err() {
            errors.push(config::ConfigError::Invalid {
                key: "public_url".into(),
                message: format!("'{}' is not an absolute URL", config.public_url),
            });
        }
        if !errors.is_empty() {
            return Err(OidcError::Config(errors));
        }
        let public_url = config.public_url.trim_end_matches('/').to_owned();
        let issuer = format!("{public_url}/{}/v2.0/", config.tenant_id);
        let keys = KeyRing::load(
            store.clone(),
            config.tokens.max_signed_token_lifetime(),
            clock.now(),
            config.key_encryption.clone(),
        )
        .await?;
        Ok(OidcService {
            inner: Arc::new(Inner {
                client_locks: std::sync::Mutex::new(std::collections::HashMap::new()),
                store,
                keys,
                apps: config.applications,
                tokens: config.tokens,
                tenant_id: config.tenant_id,
                public_url,
                issuer,
                clock,
            }),
            policy_keys: Arc::from([]),
            client_lockout: DEFAULT_CLIENT_LOCKOUT,
            audit_tenant: None,
        })
    }

    /// How wrong client secrets at the token endpoint lock a client id (counted in the store, so
    /// every node agrees); a threshold of 0 turns it off. Set at start, before the service is
    /// cloned.
    pub fn set_client_lockout(&mut self, rule: ThrottleRule) {
        self.client_lockout = rule;
    }

    /// Signs the ID and access tokens of `policy` (id without regard to case) with `key`
    /// instead of the tenant's keys, and publishes it in the policy's JWKS
    /// ([`OidcService::jwks_for`]). Replaces an earlier key of the policy. Set keys at start,
    /// before the service is cloned: clones made earlier keep the keys they had.
    /// The tenant's name in the audit records the service writes (a revoked refresh-token
    /// family). Set it at start, like the policy keys.
    pub fn set_audit_tenant(&mut self, name: &str) {
        self.audit_tenant = Some(Arc::from(name));
    }

    pub fn set_policy_key(&mut self, policy: &str, key: PolicyKey) {
        let mut keys: Vec<(String, PolicyKey)> = self
            .policy_keys
            .iter()
            .filter(|(p, _)| !p.eq_ignore_ascii_case(policy))
            .cloned()
            .collect();
        keys.push((policy.to_owned(), key));
        self.policy_keys = Arc::from(keys);
    }

    /// The key `policy` signs with when it has its own (see [`OidcService::set_policy_key`]).
    pub fn policy_key(&self, policy: &str) -> Option<&PolicyKey> {
        self.policy_keys
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(policy))
            .map(|(_, k)| k)
    }

    /// `{public_url}/{tenant_id}/v2.0/`.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }

    pub fn token_settings(&self) -> &TokenSettings {
        &self.inner.tokens
    }

    /// The registration of a client id (compared without regard to case).
    pub fn application(&self, client_id: &str) -> Option<&Application> {
        self.inner
            .apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    pub fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    // ---- metadata and keys -------------------------------------------------------------------

    /// The metadata document of `policy`, with URLs under `tenant` as the caller spells it and
    /// `claims_supported` led by the policy's output claims.
    pub fn discovery(
        &self,
        tenant: &str,
        policy: &str,
        output_claims: &[String],
    ) -> DiscoveryDocument {
        discovery::document(
            &self.inner.public_url,
            &self.inner.issuer,
            tenant,
            policy,
            self.inner.tokens.policy_claim,
            output_claims,
        )
    }

    /// The tenant's published signing keys.
    pub fn jwks(&self) -> Jwks {
        self.inner.keys.jwks(self.now())
    }

    /// The keys of `policy`'s JWKS: its own key first when it has one, then the tenant's
    /// (tokens signed before the policy got its key keep verifying).
    pub fn jwks_for(&self, policy: &str) -> Jwks {
        let mut jwks = self.jwks();
        if let Some(key) = self.policy_key(policy)
            && !jwks.keys.iter().any(|k| k.kid == key.kid())
        {
            jwks.keys.insert(0, key.jwk());
        }
        jwks
    }

    /// The tenant's `kid` new tokens are signed with.
    pub fn active_kid(&self) -> String {
        self.inner.keys.active_kid()
    }

    /// The `kid` new tokens of `policy` are signed with: its own key's, else the tenant's.
    pub fn signing_kid(&self, policy: &str) -> String {
        match self.policy_key(policy) {
            Some(key) => key.kid().to_owned(),
            None => self.active_kid(),
        }
    }

    /// Signs a token of `policy` (JWS compact, RS256).
    fn sign<T: serde::Serialize>(&self, policy: &str, claims: &T) -> Result<String, OidcError> {
        match self.policy_key(policy) {
            Some(key) => key.loaded().sign(claims),
            None => self.inner.keys.sign(claims),
        }
    }

    /// New active key; the old one stays published until its tokens have expired.
    pub async fn rotate_keys(&self) -> Result<String, OidcError> {
        self.inner.keys.rotate(self.now()).await
    }

    /// Picks up a rotation made by another node.
    pub async fn reload_keys(&self) -> Result<(), OidcError> {
        self.inner.keys.reload(self.now()).await
    }

    /// Deletes retired keys whose tokens have all expired.
    pub async fn prune_keys(&self) -> Result<u64, OidcError> {
        self.inner.keys.prune(self.now()).await
    }

    // ---- authorize ---------------------------------------------------------------------------

    /// Validates `/authorize` parameters (query or form). Unknown parameters are ignored.
    pub fn validate_authorize(
        &self,
        params: &[(String, String)],
    ) -> Result<ValidatedAuthorize, AuthorizeError> {
        authorize::validate(&self.inner.apps, &self.inner.tenant_id, params)
    }

    /// The successful authorization response once the journey has signed the user in: a code
    /// (stored hashed with the grant) and/or implicit tokens, and `state`.
    ///
    /// `policy` is the relying party's policy id as it should appear in `tfp`/`acr`.
    pub async fn issue(
        &self,
        policy: &str,
        req: &ValidatedAuthorize,
        user: SignedIn,
    ) -> Result<AuthorizationResponse, OidcError> {
        let now = self.now();
        let grant = Grant {
            v: Grant::new_version(),
            policy: policy.to_owned(),
            client_id: req.client_id.clone(),
            redirect_uri: Some(req.redirect_uri.clone()),
            redirect_uri_in_request: req.redirect_uri_in_request,
            scopes: req.scopes.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            object_id: user.object_id,
            auth_time: user.auth_time,
            claims: user.claims,
            family_id: uuid::Uuid::new_v4().to_string(),
        };
        let mut params: Vec<(String, String)> = Vec::new();

        let code = if req.response_type.code {
            let code = secret::random_token()?;
            let expires_at = now + i64::from(self.inner.tokens.code_lifetime_seconds);
            self.inner
                .store
                .put_code(&secret::storage_hash(&code), &grant.to_json()?, expires_at)
                .await?;
            Some(code)
        } else {
            None
        };

        let subject = self.subject(&grant);
        let access_token = match (&grant.scopes.resource, req.response_type.token) {
            (Some(resource), true) => {
                let lifetime = self.inner.tokens.access_token_lifetime();
                let claims = subject.access_token(resource, &grant.client_id, now, lifetime);
                Some((self.sign(&grant.policy, &claims)?, lifetime))
            }
            _ => None,
        };
        let id_token = if req.response_type.id_token {
            let claims = subject.id_token(
                &grant.client_id,
                now,
                self.inner.tokens.id_token_lifetime(),
                code.as_deref().map(secret::left_half_hash),
                access_token
                    .as_ref()
                    .map(|(at, _)| secret::left_half_hash(at)),
            );
            Some(self.sign(&grant.policy, &claims)?)
        } else {
            None
        };

        if let Some(code) = code {
            params.push(("code".into(), code));
        }
        if let Some(id_token) = id_token {
            params.push(("id_token".into(), id_token));
        }
        if let Some((access_token, lifetime)) = access_token {
            params.push(("access_token".into(), access_token));
            params.push(("token_type".into(), "Bearer".into()));
            params.push(("expires_in".into(), lifetime.to_string()));
            params.push(("scope".into(), grant.scopes.response_scope()));
        }
        if let Some(state) = &req.state {
            params.push(("state".into(), state.clone()));
        }
        if req.client_info {
            params.push((
                "client_info".into(),
                self.client_info(&grant.object_id, &grant.policy),
            ));
        }
        Ok(AuthorizationResponse {
            redirect_uri: req.redirect_uri.clone(),
            response_mode: req.response_mode,
            params,
        })
    }

    /// An error back to the app for a validated request: user cancel (AADB2C90091), forgot
    /// password (AADB2C90118), `prompt=none` without session (AADB2C90077), or any other.
    pub fn authorize_error(
        &self,
        req: &ValidatedAuthorize,
        error: &JourneyError,
    ) -> AuthorizationResponse {
        response::journey_error(req, error)
    }

    // ---- token -------------------------------------------------------------------------------

    /// The token endpoint of `policy`: `authorization_code` and `refresh_token` grants.
    /// `params` is the form body; `basic_auth` the decoded `Authorization: Basic` credentials
    /// (see [`crate::parse_basic_auth`]).
    pub async fn token(
        &self,
        policy: &str,
        params: &[(String, String)],
        basic_auth: Option<(&str, &str)>,
    ) -> Result<TokenResponse, TokenError> {
        self.token_with(policy, params, basic_auth, None).await
    }

    /// [`Self::token`], with the policy's token journey recomputing a refresh's claims.
    pub async fn token_with(
        &self,
        policy: &str,
        params: &[(String, String)],
        basic_auth: Option<(&str, &str)>,
        journey: Option<&dyn RefreshJourney>,
    ) -> Result<TokenResponse, TokenError> {
        let p = Params::new(params);
        let grant_type = token_preamble(&p)?;
        let client = self.authenticate(&p, basic_auth).await?;
        if grant_type == "authorization_code" {
            self.code_grant(policy, &p, &client).await
        } else {
            self.refresh_grant(policy, &p, &client, journey).await
        }
    }

    /// Client authentication (`client_secret_post` or `client_secret_basic`), before any grant
    /// is touched so a failed attempt does not consume a code or refresh token. Wrong secrets
    /// are counted per client id; past the threshold even the right one is refused until the
    /// lockout ends, so a secret cannot be guessed at the endpoint's speed.
    async fn authenticate(
        &self,
        p: &Params<'_>,
        basic: Option<(&str, &str)>,
    ) -> Result<Client<'_>, TokenError> {
        let (app, secret) = identify_client(&self.inner.apps, &self.inner.tenant_id, p, basic)?;
        match (&app.client_secret, secret) {
            (Some(expected), Some(given)) => {
                let subject = format!("client:{}", app.client_id.to_ascii_lowercase());
                let rule = &self.client_lockout;
                let store = &self.inner.store;
                let now = self.now();
                if rule.threshold > 0
                    && let Some(until) = self.client_locked_until(&subject, now).await?
                {
                    return Err(TokenError::Throttled {
                        retry_after: (until - now).max(1),
                    });
                }
                if !secret::secrets_equal(expected, given) {
                    // Only wrong secrets are counted: a right one costs at most one read a
                    // second, not a write.
                    if rule.threshold > 0
                        && let FailureCount::Locked { until, lockouts } = store
                            .record_sign_in_failure(&subject, rule, now)
                            .await
                            .map_err(OidcError::from)?
                    {
                        self.remember_client_lock(&subject, until);
                        tracing::warn!(
                            client_id = %app.client_id,
                            locked_for = until - now,
                            lockouts,
                            "too many wrong client secrets: client authentication locked"
                        );
                    }
                    return Err(TokenError::new(
                        ErrorCode::InvalidClient,
                        b2c::SECRET_MISMATCH,
                    ));
                }
            }
            (Some(_), None) => {
                return Err(TokenError::new(
                    ErrorCode::InvalidClient,
                    b2c::SECRET_REQUIRED,
                ));
            }
            (None, Some(_)) => {
                return Err(TokenError::new(
                    ErrorCode::InvalidClient,
                    b2c::PUBLIC_CLIENT_SECRET,
                ));
            }
            (None, None) => {}
        }
        Ok(Client { app })
    }

    /// Until when `subject`'s client authentication is locked, read from the store at most
    /// once per [`CLIENT_LOCK_RECHECK`] on this node.
    async fn client_locked_until(&self, subject: &str, now: i64) -> Result<Option<i64>, OidcError> {
        let cached = self
            .inner
            .client_locks
            .lock()
            .ok()
            .and_then(|locks| locks.get(subject).copied());
        if let Some((read_at, until)) = cached
            && read_at.elapsed() < CLIENT_LOCK_RECHECK
        {
            return Ok((until > now).then_some(until));
        }
        let until = self
            .inner
            .store
            .sign_in_locked_until(&[subject], now)
            .await?;
        self.remember_client_lock(subject, until.unwrap_or(0));
        Ok(until)
    }

    fn remember_client_lock(&self, subject: &str, until: i64) {
        if let Ok(mut locks) = self.inner.client_locks.lock() {
            locks.insert(subject.to_owned(), (std::time::Instant::now(), until));
        }
    }

    async fn code_grant(
        &self,
        policy: &str,
        p: &Params<'_>,
        client: &Client<'_>,
    ) -> Result<TokenResponse, TokenError> {
        let code = p.get("code").ok_or_else(|| {
            TokenError::new(ErrorCode::InvalidRequest, b2c::missing_parameter("code"))
        })?;
        let now = self.now();
        let store = &self.inner.store;
        // As for refresh tokens: the answer is prepared while the spend commits, and leaves
        // once it is committed.
        let (redemption, spent) = store
            .stage_code_redemption(&secret::storage_hash(code), now)
            .await
            .map_err(OidcError::from)?;
        let answer = self.redeemed_code(policy, p, client, redemption, now).await;
        spent.wait().await.map_err(OidcError::from)?;
        answer
    }

    /// The rest of the code grant, once the code's outcome is known.
    async fn redeemed_code(
        &self,
        policy: &str,
        p: &Params<'_>,
        client: &Client<'_>,
        redemption: CodeRedemption,
        now: i64,
    ) -> Result<TokenResponse, TokenError> {
        let store = &self.inner.store;
        let grant = match redemption {
            CodeRedemption::Redeemed { grant } => Grant::from_json(&grant)?,
            CodeRedemption::Replayed { grant } => {
                // RFC 6749 §4.1.2: a code used twice revokes what it produced.
                let grant = Grant::from_json(&grant)?;
                let revoked = store
                    .revoke_family(&grant.family_id)
                    .await
                    .map_err(OidcError::from)?;
                tracing::warn!(
                    client_id = %grant.client_id,
                    family_id = %grant.family_id,
                    revoked,
                    "authorization code replayed; its refresh tokens are revoked"
                );
                self.audit_revocation(
                    &grant.object_id,
                    &grant.client_id,
                    &grant.family_id,
                    revoked,
                    "authorization code replayed",
                )
                .await?;
                return Err(invalid_grant(b2c::GRANT_REVOKED));
            }
            CodeRedemption::Expired => return Err(invalid_grant(b2c::GRANT_EXPIRED_SHORT)),
            CodeRedemption::NotFound => return Err(invalid_grant(b2c::GRANT_REVOKED)),
        };
        if !grant.client_id.eq_ignore_ascii_case(&client.app.client_id) {
            return Err(invalid_grant(b2c::client_mismatch(&client.app.client_id)));
        }
        if !grant.policy.eq_ignore_ascii_case(policy) {
            return Err(invalid_grant(b2c::wrong_endpoint(policy, &grant.policy)));
        }
        match (p.get("redirect_uri"), &grant.redirect_uri) {
            (None, _) if grant.redirect_uri_in_request => {
                return Err(TokenError::new(
                    ErrorCode::InvalidRequest,
                    b2c::missing_parameter("redirect_uri"),
                ));
            }
            (Some(given), Some(expected)) if given != expected => {
                return Err(invalid_grant(format!(
                    "The redirect_uri '{given}' does not match the redirect_uri of the authorization request."
                )));
            }
            _ => {}
        }
        let verifier = p.get("code_verifier");
        match (&grant.code_challenge, verifier) {
            (Some(challenge), Some(verifier)) => {
                if !secret::is_valid_verifier(verifier) {
                    return Err(invalid_grant(b2c::VERIFIER_INVALID));
                }
                if !secret::secrets_equal(&secret::s256_challenge(verifier), challenge) {
                    return Err(invalid_grant(b2c::VERIFIER_MISMATCH));
                }
            }
            (Some(_), None) => {
                return Err(TokenError::new(
                    ErrorCode::InvalidRequest,
                    b2c::missing_parameter("code_verifier"),
                ));
            }
            // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
            (None, Some(_)) => return Err(invalid_grant(b2c::VERIFIER_INVALID)),
            (None, None) if client.app.is_public() => {
                return Err(invalid_grant(b2c::CODE_CHALLENGE_REQUIRED));
            }
            (None, None) => {}
        }

        let scopes = grant.scopes.clone();
        // The refresh token is stored first, so its commit overlaps the signatures.
        let (refresh, stored) = if scopes.offline_access {
            let refresh = grant.for_refresh();
            let grant_json = refresh.to_json()?;
            self.stage_refresh_token(&refresh, grant_json, now).await?
        } else {
            (None, PendingCommit::done())
        };
        let mut response = self.mint(&grant, &scopes, now, true, p)?;
        stored.wait().await.map_err(OidcError::from)?;
        if let Some((token, expires_in)) = refresh {
            response.refresh_token = Some(token);
            response.refresh_token_expires_in = Some(expires_in);
        }
        Ok(response)
    }

    async fn refresh_grant(
        &self,
        policy: &str,
        p: &Params<'_>,
        client: &Client<'_>,
        journey: Option<&dyn RefreshJourney>,
    ) -> Result<TokenResponse, TokenError> {
        let token = p.get("refresh_token").ok_or_else(|| {
            TokenError::new(
                ErrorCode::InvalidRequest,
                b2c::missing_parameter("refresh_token"),
            )
        })?;
        // Resolve a new scope before the refresh token is consumed, so a bad request does not
        // cost the app its session.
        let requested = match p.get("scope") {
            Some(scope) => Some(
                scope::resolve(&self.inner.apps, client.app, scope)
                    .map_err(|e| TokenError::new(e.code, e.description))?,
            ),
            None => None,
        };
        let now = self.now();
        let store = &self.inner.store;
        let token_hash = secret::storage_hash(token);
        if let Some(requested) = &requested {
            self.check_refresh_scope(&token_hash, client, requested)
                .await?;
        }
        // Without a token journey the successor is known before the grant is read: it is stored
        // in the transaction that spends the token (one statement on PostgreSQL). A journey may
        // change the claims, so its successor is stored after it ran.
        let successor = match journey {
            None => Some(secret::random_token()?),
            Some(_) => None,
        };
        let next = successor.as_deref().map(|token| NextRefreshToken {
            token_hash: secret::storage_hash(token),
            lifetime: self.inner.tokens.refresh_token_lifetime(),
            sliding_window: self.inner.tokens.sliding_window(),
        });
        // The outcome arrives before the spend is durable: the tokens are signed while the
        // commit syncs, and the answer leaves only once it is committed.
        let (rotation, commit) = store
            .stage_refresh_rotation(&token_hash, now, next)
            .await
            .map_err(OidcError::from)?;
        let answer = async {
            let record = match rotation.used {
                RefreshUse::Valid(record) => record,
                RefreshUse::Reused(record) => {
                    // A rotated-out token came back: it was copied. Revoke the whole family.
                    self.revoke_family(&record, "refresh token reused").await?;
                    return Err(invalid_grant(b2c::GRANT_REVOKED));
                }
                RefreshUse::Revoked | RefreshUse::NotFound => {
                    return Err(invalid_grant(b2c::GRANT_REVOKED));
                }
                RefreshUse::Expired => return Err(invalid_grant(b2c::GRANT_EXPIRED_SHORT)),
            };
            let grant = Grant::from_json(&record.grant)?;
            if !record.client_id.eq_ignore_ascii_case(&client.app.client_id) {
                self.revoke_family(&record, "refresh token presented by another client")
                    .await?;
                return Err(invalid_grant(b2c::client_mismatch(&client.app.client_id)));
            }
            if !grant.policy.eq_ignore_ascii_case(policy) {
                // The token is spent either way; keep the family consistent.
                self.revoke_family(&record, "refresh token presented to another policy")
                    .await?;
                return Err(invalid_grant(b2c::wrong_endpoint(policy, &grant.policy)));
            }
            let window_end = grant.auth_time + self.inner.tokens.sliding_window();
            if now >= window_end {
                return Err(invalid_grant(b2c::grant_expired(
                    now,
                    grant.auth_time,
                    window_end,
                )));
            }
            let mut scopes = requested.unwrap_or_else(|| grant.scopes.clone());
            // The app keeps its long-lived access: a refresh always returns the next refresh token.
            scopes.offline_access = true;
            // A policy with a token journey reads the user again (custom policies'
            // `<Endpoint Id="Token">`); otherwise the claims of the initial sign-in are replayed as
            // they are (user flows: API connectors run only at sign-in).
            let mut grant = grant;
            let mut grant_json = record.grant;
            if let Some(journey) = journey {
                let refreshed = journey
                    .claims(RefreshContext {
                        policy: &grant.policy,
                        object_id: &grant.object_id,
                        client_id: &grant.client_id,
                        issued_at: record.created_at,
                        claims: &grant.claims,
                    })
                    .await
                    .map_err(invalid_grant)?;
                if let Some(claims) = refreshed {
                    grant.claims = claims;
                    grant_json = grant.to_json()?;
                }
            }
            let mut response = self.mint(&grant, &scopes, now, false, p)?;
            match (successor, rotation.next_expires_at) {
                (Some(token), Some(expires_at)) => {
                    response.refresh_token = Some(token);
                    response.refresh_token_expires_in = Some(expires_at - now);
                }
                // The window closed (refused above) or a journey ran: store the successor now.
                (Some(_), None) => {}
                (None, _) => {
                    self.add_refresh_token(&mut response, &grant, grant_json, now)
                        .await?
                }
            }
            Ok(response)
        }
        .await;
        commit.wait().await.map_err(OidcError::from)?;
        answer
    }

    /// RFC 6749 §6: a refresh may ask for the grant's scopes or fewer, never more. Checked on
    /// the stored token without spending it, so a refused request leaves the app its session.
    /// A token of another client is left to the spending path, which revokes its family.
    async fn check_refresh_scope(
        &self,
        token_hash: &str,
        client: &Client<'_>,
        requested: &GrantedScopes,
    ) -> Result<(), TokenError> {
        let Some(record) = self
            .inner
            .store
            .refresh_token(token_hash)
            .await
            .map_err(OidcError::from)?
        else {
            return Ok(());
        };
        if !record.client_id.eq_ignore_ascii_case(&client.app.client_id) {
            return Ok(());
        }
        let grant = Grant::from_json(&record.grant)?;
        match requested.beyond(&grant.scopes) {
            Some(scope) => Err(TokenError::new(
                ErrorCode::InvalidScope,
                b2c::scope_not_granted(&scope),
            )),
            None => Ok(()),
        }
    }

    async fn revoke_family(
        &self,
        record: &RefreshTokenRecord,
        reason: &'static str,
    ) -> Result<(), OidcError> {
        let family_id = &record.family_id;
        let revoked = self.inner.store.revoke_family(family_id).await?;
        tracing::warn!(family_id, revoked, reason, "refresh token family revoked");
        self.audit_revocation(
            &record.object_id,
            &record.client_id,
            family_id,
            revoked,
            reason,
        )
        .await
    }

    /// A revoked token family is a security event (a copied refresh token or code): an audit
    /// record with the user and the app, never a token.
    async fn audit_revocation(
        &self,
        object_id: &str,
        client_id: &str,
        family_id: &str,
        revoked: u64,
        reason: &str,
    ) -> Result<(), OidcError> {
        let record = trustframe_store::AuditRecord {
            at: self.now(),
            kind: "token_family_revoked".into(),
            tenant: self.audit_tenant.as_deref().map(str::to_owned),
            subject: Some(object_id.to_owned()),
            outcome: "revoked".into(),
            detail: serde_json::json!({
                "reason": reason, "clientId": client_id, "familyId": family_id, "revoked": revoked,
            }),
            ..trustframe_store::AuditRecord::default()
        };
        self.inner.store.append_audit(&record).await?;
        Ok(())
    }

    /// Access and ID tokens for a grant, and the response around them.
    fn mint(
        &self,
        grant: &Grant,
        scopes: &GrantedScopes,
        now: i64,
        with_nonce: bool,
        p: &Params<'_>,
    ) -> Result<TokenResponse, OidcError> {
        let settings = &self.inner.tokens;
        let mut subject = self.subject(grant);
        if !with_nonce {
            // OIDC Core §12.2: refreshed ID tokens carry no nonce.
            subject.nonce = None;
        }
        let minted = Minted {
            access_token: match &scopes.resource {
                Some(resource) => Some(self.sign(
                    &grant.policy,
                    &subject.access_token(
                        resource,
                        &grant.client_id,
                        now,
                        settings.access_token_lifetime(),
                    ),
                )?),
                None => None,
            },
            id_token: if scopes.openid {
                Some(self.sign(
                    &grant.policy,
                    &subject.id_token(
                        &grant.client_id,
                        now,
                        settings.id_token_lifetime(),
                        None,
                        None,
                    ),
                )?)
            } else {
                None
            },
        };
        let has_access = minted.access_token.is_some();
        let access_lifetime = settings.access_token_lifetime();
        Ok(TokenResponse {
            access_token: minted.access_token,
            token_type: "Bearer".into(),
            expires_in: has_access.then_some(access_lifetime),
            expires_on: has_access.then_some(now + access_lifetime),
            resource: scopes.resource.as_ref().map(|r| r.audience.clone()),
            not_before: now,
            id_token_expires_in: minted
                .id_token
                .is_some()
                .then_some(settings.id_token_lifetime()),
            id_token: minted.id_token,
            refresh_token: None,
            refresh_token_expires_in: None,
            scope: scopes.response_scope(),
            profile_info: self.profile_info(grant),
            client_info: (p.get("client_info") == Some("1"))
                .then(|| self.client_info(&grant.object_id, &grant.policy)),
        })
    }

    /// Stores a new refresh token of the grant's family and puts it in the response.
    async fn add_refresh_token(
        &self,
        response: &mut TokenResponse,
        grant: &Grant,
        grant_json: String,
        now: i64,
    ) -> Result<(), OidcError> {
        let (refresh, stored) = self.stage_refresh_token(grant, grant_json, now).await?;
        stored.wait().await?;
        if let Some((token, expires_in)) = refresh {
            response.refresh_token = Some(token);
            response.refresh_token_expires_in = Some(expires_in);
        }
        Ok(())
    }

    /// A new refresh token of the grant's family, and its lifetime in seconds (none once the
    /// grant's sliding window has closed); the store's commit is the caller's to await.
    async fn stage_refresh_token(
        &self,
        grant: &Grant,
        grant_json: String,
        now: i64,
    ) -> Result<(Option<(String, i64)>, PendingCommit), OidcError> {
        let settings = &self.inner.tokens;
        let expires_at = (now + settings.refresh_token_lifetime())
            .min(grant.auth_time + settings.sliding_window());
        if expires_at <= now {
            return Ok((None, PendingCommit::done()));
        }
        let token = secret::random_token()?;
        let stored = self
            .inner
            .store
            .stage_refresh_token(&RefreshTokenRecord {
                token_hash: secret::storage_hash(&token),
                family_id: grant.family_id.clone(),
                object_id: grant.object_id.clone(),
                client_id: grant.client_id.clone(),
                grant: grant_json,
                created_at: now,
                expires_at,
                auth_time: Some(grant.auth_time),
            })
            .await?;
        Ok((Some((token, expires_at - now)), stored))
    }

    /// Revokes every refresh token of a user (password reset, account disabled, admin).
    pub async fn revoke_user_refresh_tokens(&self, object_id: &str) -> Result<u64, OidcError> {
        Ok(self
            .inner
            .store
            .revoke_refresh_tokens_of_user(object_id)
            .await?)
    }

    fn subject<'g>(&'g self, grant: &'g Grant) -> Subject<'g> {
        Subject {
            issuer: &self.inner.issuer,
            policy_claim: self.inner.tokens.policy_claim,
            policy: &grant.policy,
            object_id: &grant.object_id,
            auth_time: grant.auth_time,
            claims: &grant.claims,
            nonce: grant.nonce.as_deref(),
        }
    }

    /// MSAL's account key: `{"uid":"{oid}-{policy lowercase}","utid":"{tenant id}"}`.
    fn client_info(&self, object_id: &str, policy: &str) -> String {
        let info = json!({
            "uid": format!("{object_id}-{}", policy.to_ascii_lowercase()),
            "utid": self.inner.tenant_id,
        });
        URL_SAFE_NO_PAD.encode(info.to_string())
    }

    fn profile_info(&self, grant: &Grant) -> String {
        let info = json!({
            "ver": "1.0",
            "tid": self.inner.tenant_id,
            "sub": Value::Null,
            "name": grant.claims.get("name").cloned().unwrap_or(Value::Null),
            "preferred_username": Value::Null,
            "idp": grant.claims.get("idp").cloned().unwrap_or(Value::Null),
        });
        URL_SAFE_NO_PAD.encode(info.to_string())
    }

    // ---- logout ------------------------------------------------------------------------------

    /// Validates `/logout` parameters; the server ends the SSO session, then redirects to
    /// [`LogoutOutcome::redirect_url`] or shows a signed-out page.
    pub fn logout(&self, params: &[(String, String)]) -> Result<LogoutOutcome, LogoutError> {
        let now = self.now();
        // A hint may come from any policy: accept every key the tenant publishes.
        let key_for = |kid: &str| {
            self.inner.keys.decoding_key(kid, now).or_else(|| {
                self.policy_keys
                    .iter()
                    .find(|(_, k)| k.kid() == kid)
                    .map(|(_, k)| k.loaded().decoding.clone())
            })
        };
        logout::logout(
            &self.inner.apps,
            &key_for,
            &self.inner.issuer,
            &self.inner.tenant_id,
            params,
        )
    }
}

fn invalid_grant(description: impl Into<String>) -> TokenError {
    TokenError::new(ErrorCode::InvalidGrant, description)
}
