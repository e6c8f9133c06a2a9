//! External OpenID Connect identity providers (`identity-provider-generic-openid-connect.md`):
//! the `[[identity_providers]]` entry of the config and the `OpenIdConnect` technical profile it
//! compiles into.
//!
//! The metadata keys are those of B2C's OpenID Connect technical profile
//! (`openid-connect-technical-profile.md`), so a custom policy's profile and a user flow's
//! provider reach the server in the same shape; the server reads nothing else.

use serde::Deserialize;

use crate::model::{ClaimRef, TechnicalProfile, TechnicalProfileKind};
use crate::userflow::{ConfigError, SecretSource};

/// The provider's discovery document (`.well-known/openid-configuration`).
pub const METADATA: &str = "METADATA";
pub const CLIENT_ID: &str = "client_id";
/// `code` (the only one we run: with PKCE and a client secret).
pub const RESPONSE_TYPES: &str = "response_types";
pub const SCOPE: &str = "scope";
/// `form_post` (B2C's default) or `query`.
pub const RESPONSE_MODE: &str = "response_mode";
/// `client_secret_post` or `client_secret_basic`; absent: what the provider's metadata
/// advertises, `client_secret_post` first as B2C does.
pub const TOKEN_ENDPOINT_AUTH_METHOD: &str = "token_endpoint_auth_method";
/// Ours: B2C's `<Domain>` element, the value `domain_hint` names the provider by.
pub const DOMAIN: &str = "Domain";
/// Ours: plain `http://` toward this provider (development).
pub const ALLOW_INSECURE: &str = "AllowInsecure";
/// Cryptographic key id of the client secret.
pub const KEY_CLIENT_SECRET: &str = "client_secret";

/// The claim types a federation fills.
pub const ISSUER_USER_ID: &str = "issuerUserId";
/// Partner claim type of `identityProvider`: the ID token's (verified) issuer.
pub const ISSUER_CLAIM: &str = "iss";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityProviderType {
    OpenidConnect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderResponseMode {
    FormPost,
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    ClientSecretPost,
    ClientSecretBasic,
}

impl TokenEndpointAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
        }
    }
}

/// Which provider claim fills which user attribute (B2C's "Identity provider claims mapping").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimsMapping {
    pub user_id: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub email: String,
}

impl Default for ClaimsMapping {
    fn default() -> Self {
        Self {
            user_id: "sub".into(),
            display_name: "name".into(),
            given_name: "given_name".into(),
            surname: "family_name".into(),
            email: "email".into(),
        }
    }
}

/// `[[identity_providers]]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    /// Named by user flows' `identity_providers` and matched by `domain_hint`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: IdentityProviderType,
    /// The button's label. Default: the id.
    pub display_name: Option<String>,
    pub metadata_url: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default = "default_scope")]
    pub scope: String,
    #[serde(default = "default_response_mode")]
    pub response_mode: ProviderResponseMode,
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// Another value `domain_hint` may name this provider by (B2C's "Domain hint").
    pub domain_hint: Option<String>,
    #[serde(default)]
    pub claims: ClaimsMapping,
    /// Plain `http://` toward this provider (development; `server.development` allows it too).
    #[serde(default)]
    pub allow_insecure: bool,
}

// The secret never reaches a log.
impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("metadata_url", &self.metadata_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .field("scope", &self.scope)
            .field("response_mode", &self.response_mode)
            .finish_non_exhaustive()
    }
}

fn default_scope() -> String {
    "openid".into()
}

fn default_response_mode() -> ProviderResponseMode {
    ProviderResponseMode::FormPost
}

/// The user flows' name for local accounts in `identity_providers`.
pub const LOCAL: &str = "local";

impl IdentityProvider {
    pub fn display_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// The claims exchange a sign-in page's button names.
    pub fn exchange_id(&self) -> String {
        format!("{}Exchange", self.id)
    }

    fn key_reference(&self) -> String {
        format!("identity_provider/{}/{KEY_CLIENT_SECRET}", self.id)
    }

    /// The key-store entries the technical profile refers to.
    pub fn secrets(&self) -> Vec<(String, SecretSource)> {
        vec![(
            self.key_reference(),
            SecretSource::Inline(self.client_secret.clone()),
        )]
    }

    /// Checks what serde cannot; `key` is `identity_providers[i]`.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok || self.id.eq_ignore_ascii_case(LOCAL) {
            return Err(ConfigError::new(
                format!("{key}.id"),
                "must be letters, digits, '-' or '_', and not 'local' (local accounts' name)",
            ));
        }
        if !self.scope.split_ascii_whitespace().any(|s| s == "openid") {
            return Err(ConfigError::new(
                format!("{key}.scope"),
                "must hold 'openid' (an OpenID Connect provider answers with an ID token only then)",
            ));
        }
        if self.client_id.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.client_id"),
                "must not be empty",
            ));
        }
        if self.client_secret.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.client_secret"),
                "must not be empty (the code is redeemed with it)",
            ));
        }
        if self.claims.user_id.is_empty() || self.claims.display_name.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.claims"),
                "user_id and display_name must name a claim of the provider's ID token",
            ));
        }
        Ok(())
    }

    /// The `OpenIdConnect` technical profile: B2C's metadata keys, the client secret as a
    /// cryptographic key, and output claims from the provider's claim names.
    pub fn technical_profile(&self) -> TechnicalProfile {
        let mut tp = TechnicalProfile::new(
            format!("OIDC-{}", self.id),
            TechnicalProfileKind::OpenIdConnect,
        );
        tp.display_name = self.display_name().to_owned();
        let m = &mut tp.metadata;
        m.insert(METADATA, self.metadata_url.clone());
        m.insert(CLIENT_ID, self.client_id.clone());
        m.insert(RESPONSE_TYPES, "code");
        m.insert(SCOPE, self.scope.clone());
        m.insert(
            RESPONSE_MODE,
            match self.response_mode {
                ProviderResponseMode::FormPost => "form_post",
                ProviderResponseMode::Query => "query",
            },
        );
        if let Some(method) = self.token_endpoint_auth_method {
            m.insert(TOKEN_ENDPOINT_AUTH_METHOD, method.as_str());
        }
        m.insert(DOMAIN, self.id.clone());
        if let Some(hint) = &self.domain_hint {
            m.insert("DomainHint", hint.clone());
        }
        if self.allow_insecure {
            m.insert(ALLOW_INSECURE, "true");
        }
        tp.cryptographic_keys
            .insert(KEY_CLIENT_SECRET.to_owned(), self.key_reference());
        let c = &self.claims;
        tp.output_claims = vec![
            ClaimRef::new(ISSUER_USER_ID)
                .partner(c.user_id.clone())
                .required(),
            ClaimRef::new("identityProvider").partner(ISSUER_CLAIM),
            ClaimRef::new("displayName").partner(c.display_name.clone()),
        ];
        for (claim, partner) in [
            ("givenName", &c.given_name),
            ("surname", &c.surname),
            ("email", &c.email),
        ] {
            if !partner.is_empty() {
                tp.output_claims
                    .push(ClaimRef::new(claim).partner(partner.clone()));
            }
        }
        tp
    }
}

/// Whether a technical profile answers to a `domain_hint`: its provider id (`Domain`), its
/// `DomainHint` or its display name, without regard to case.
pub fn matches_domain_hint(profile: &TechnicalProfile, hint: &str) -> bool {
    let hint = hint.trim();
    !hint.is_empty()
        && (profile
            .metadata
            .get(DOMAIN)
            .is_some_and(|d| d.eq_ignore_ascii_case(hint))
            || profile
                .metadata
                .get("DomainHint")
                .is_some_and(|d| d.eq_ignore_ascii_case(hint))
            || profile.display_name.eq_ignore_ascii_case(hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(text: &str) -> IdentityProvider {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    const BASE: &str = r#"id = "fabrikam"
type = "openid_connect"
display_name = "Fabrikam"
metadata_url = "https://127.0.0.1:9443/fabrikam/B2C_1_susi/v2.0/.well-known/openid-configuration"
client_id = "abc"
client_secret = "s3cret"
"#;

    #[test]
    fn compiles_to_b2c_metadata_and_hides_the_secret() {
        let p = provider(BASE);
        assert!(p.validate("identity_providers[0]").is_ok());
        let tp = p.technical_profile();
        assert_eq!(tp.kind, TechnicalProfileKind::OpenIdConnect);
        assert_eq!(tp.metadata.get("metadata"), Some(p.metadata_url.as_str()));
        assert_eq!(tp.metadata.get("response_mode"), Some("form_post"));
        assert_eq!(tp.metadata.get("scope"), Some("openid"));
        assert_eq!(
            tp.cryptographic_keys
                .get("client_secret")
                .map(String::as_str),
            Some("identity_provider/fabrikam/client_secret")
        );
        let partners: Vec<&str> = tp.output_claims.iter().map(|c| c.partner_name()).collect();
        assert_eq!(
            partners,
            ["sub", "iss", "name", "given_name", "family_name", "email"]
        );
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(matches_domain_hint(&tp, "FABRIKAM"));
        assert!(!matches_domain_hint(&tp, "fabrikam.com"));
    }

    #[test]
    fn scope_without_openid_and_local_id_are_refused() {
        let p = provider(&format!("{BASE}scope = \"profile email\""));
        let err = p.validate("identity_providers[1]").err();
        assert_eq!(
            err.map(|e| e.key),
            Some("identity_providers[1].scope".to_owned())
        );
        let p = provider(&BASE.replace("\"fabrikam\"", "\"Local\""));
        assert!(p.validate("x").is_err());
    }
}
