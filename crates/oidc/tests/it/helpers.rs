//! Shared fixtures: a service over a real SQLite file, B2C-like app registrations, a manual
//! clock, PKCE pairs, and JWT verification with the published JWKS only.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use trustframe_oidc::{
    Application, AuthorizationResponse, AuthorizeError, ManualClock, OidcConfig, OidcService,
    SignedIn, TokenError, TokenResponse, TokenSettings, ValidatedAuthorize,
};
use trustframe_store::Store;

pub const TENANT_ID: &str = "775527ff-9a37-4307-8b3d-cc311f58d925";
pub const PUBLIC_URL: &str = "https://login.contoso.test";
pub const ISSUER: &str = "https://login.contoso.test/775527ff-9a37-4307-8b3d-cc311f58d925/v2.0/";
pub const POLICY: &str = "B2C_1_susi";

pub const SPA: &str = "11111111-1111-1111-1111-111111111111";
pub const SPA_REDIRECT: &str = "https://spa.example/cb";
pub const WEB: &str = "22222222-2222-2222-2222-222222222222";
pub const WEB_REDIRECT: &str = "https://web.example/signin-oidc";
pub const WEB_SECRET: &str = "web-secret-value";
pub const API: &str = "33333333-3333-3333-3333-333333333333";
pub const API_URI: &str = "https://contoso.onmicrosoft.com/todo-api";
pub const TASKS_READ: &str = "https://contoso.onmicrosoft.com/todo-api/tasks.read";
pub const TASKS_WRITE: &str = "https://contoso.onmicrosoft.com/todo-api/tasks.write";
pub const OTHER_API: &str = "44444444-4444-4444-4444-444444444444";
pub const OTHER_SCOPE: &str = "https://contoso.onmicrosoft.com/other-api/x";
pub const OID: &str = "9a1b2c3d-0000-4000-8000-000000000001";

pub fn applications() -> Vec<Application> {
    let base = Application {
        name: String::new(),
        client_id: String::new(),
        redirect_uris: vec![],
        client_secret: None,
        allow_implicit_id_token: false,
        allow_implicit_access_token: false,
        api_permissions: vec![],
        app_id_uri: None,
        scopes: vec![],
        post_logout_redirect_uris: vec![],
    };
    vec![
        Application {
            name: "spa".into(),
            client_id: SPA.into(),
            redirect_uris: vec![SPA_REDIRECT.into(), "https://spa.example/other".into()],
            api_permissions: vec![TASKS_READ.into()],
            ..base.clone()
        },
        Application {
            name: "web".into(),
            client_id: WEB.into(),
            redirect_uris: vec![WEB_REDIRECT.into()],
            client_secret: Some(WEB_SECRET.into()),
            allow_implicit_id_token: true,
            allow_implicit_access_token: true,
            api_permissions: vec![TASKS_READ.into(), TASKS_WRITE.into()],
            post_logout_redirect_uris: vec!["https://web.example/signed-out".into()],
            ..base.clone()
        },
        Application {
            name: "todo api".into(),
            client_id: API.into(),
            app_id_uri: Some(API_URI.into()),
            scopes: vec!["tasks.read".into(), "tasks.write".into()],
            ..base.clone()
        },
        Application {
            name: "other api".into(),
            client_id: OTHER_API.into(),
            app_id_uri: Some("https://contoso.onmicrosoft.com/other-api".into()),
            scopes: vec!["x".into()],
            ..base
        },
    ]
}

pub struct Env {
    pub svc: OidcService,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub url: String,
    pub dir: tempfile::TempDir,
}

pub fn real_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub async fn env() -> Env {
    env_with(TokenSettings::default()).await
}

pub async fn env_with(tokens: TokenSettings) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tenant.db").display());
    let store = Store::connect(&url).await.unwrap();
    let clock = Arc::new(ManualClock::new(real_now()));
    let svc = service(store.clone(), tokens, clock.clone()).await;
    Env {
        svc,
        store,
        clock,
        url,
        dir,
    }
}

pub async fn service(store: Store, tokens: TokenSettings, clock: Arc<ManualClock>) -> OidcService {
    OidcService::with_clock(
        store,
        OidcConfig {
            public_url: format!("{PUBLIC_URL}/"),
            tenant_id: TENANT_ID.into(),
            applications: applications(),
            tokens,
            key_encryption: None,
        },
        clock,
    )
    .await
    .unwrap()
}

pub fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A fresh PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn user(auth_time: i64) -> SignedIn {
    let claims = json!({
        "oid": OID,
        "emails": ["ada@example.com"],
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "newUser": false,
        "extension_Role": "admin",
        // Protocol claims from a journey must not override ours.
        "aud": "evil",
        "tfp": "evil",
    });
    let Value::Object(claims) = claims else {
        unreachable!()
    };
    SignedIn {
        object_id: OID.into(),
        auth_time,
        claims,
    }
}

impl Env {
    pub fn authorize(&self, params: &[(&str, &str)]) -> Result<ValidatedAuthorize, AuthorizeError> {
        self.svc.validate_authorize(&pairs(params))
    }

    pub async fn issue(&self, req: &ValidatedAuthorize) -> AuthorizationResponse {
        self.svc
            .issue(POLICY, req, user(self.clock_now()))
            .await
            .unwrap()
    }

    pub fn clock_now(&self) -> i64 {
        use trustframe_oidc::Clock;
        self.clock.now()
    }

    /// Authorize + issue for the SPA with PKCE; returns (code, verifier).
    pub async fn spa_code(&self, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let req = self
            .authorize(&[
                ("client_id", SPA),
                ("redirect_uri", SPA_REDIRECT),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "st"),
                ("nonce", "n-0S6_WzA2Mj"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .unwrap();
        let response = self.issue(&req).await;
        assert_eq!(response.param("state"), Some("st"));
        (response.param("code").unwrap().to_owned(), verifier)
    }

    /// Authorize + issue for the confidential web app (no PKCE); returns the code.
    pub async fn web_code(&self, scope: &str) -> String {
        let req = self
            .authorize(&[
                ("client_id", WEB),
                ("redirect_uri", WEB_REDIRECT),
                ("response_type", "code"),
                ("scope", scope),
                ("nonce", "web-nonce"),
            ])
            .unwrap();
        self.issue(&req).await.param("code").unwrap().to_owned()
    }

    pub async fn token(
        &self,
        params: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<TokenResponse, TokenError> {
        self.svc.token(POLICY, &pairs(params), basic).await
    }

    pub async fn redeem_spa(
        &self,
        code: &str,
        verifier: &str,
    ) -> Result<TokenResponse, TokenError> {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("client_id", SPA),
                ("code", code),
                ("redirect_uri", SPA_REDIRECT),
                ("code_verifier", verifier),
                ("client_info", "1"),
            ],
            None,
        )
        .await
    }

    pub async fn refresh_spa(&self, refresh_token: &str) -> Result<TokenResponse, TokenError> {
        self.token(
            &[
                ("grant_type", "refresh_token"),
                ("client_id", SPA),
                ("refresh_token", refresh_token),
            ],
            None,
        )
        .await
    }

    /// Verifies a JWT with the published JWKS only (as a relying party would), checking
    /// signature, issuer and audience; expiry is checked against the injected clock.
    pub fn verify(
        &self,
        token: &str,
        audience: &str,
    ) -> (jsonwebtoken::Header, Map<String, Value>) {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let kid = header.kid.clone().expect("kid");
        let jwks = serde_json::to_value(self.svc.jwks()).unwrap();
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap_or_else(|| panic!("kid {kid} not published"));
        let key = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).unwrap();
        let now = self.clock_now();
        assert!(data.claims["exp"].as_i64().unwrap() > now, "expired");
        assert!(data.claims["nbf"].as_i64().unwrap() <= now, "not yet valid");
        (data.header, data.claims)
    }
}

pub fn rejected(result: Result<TokenResponse, TokenError>) -> (u16, String, String) {
    let err = result.expect_err("token request should fail");
    let body = err.body();
    (err.status(), body.error, body.error_description)
}

pub fn redirect_error(result: Result<ValidatedAuthorize, AuthorizeError>) -> AuthorizationResponse {
    match result {
        Err(AuthorizeError::Redirect(response)) => response,
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

pub fn page_error(result: Result<ValidatedAuthorize, AuthorizeError>) -> String {
    match result {
        Err(AuthorizeError::Page { description, .. }) => description,
        other => panic!("expected a page error, got {other:?}"),
    }
}

pub fn b64_json(value: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(value).unwrap()).unwrap()
}
