//! Configuration types read from the server's TOML: registered applications and token settings.
//!
//! Defaults and ranges are B2C's (`tokens-overview.md`, `configure-tokens.md`).

use serde::Deserialize;

/// An application registration, as in B2C's "App registrations".
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Display name (pages, logs).
    pub name: String,
    /// Application (client) id, usually a GUID.
    pub client_id: String,
    /// Redirect URIs, matched exactly (string equality) against `redirect_uri`.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Absent: a public client (SPA, mobile, desktop), which must use PKCE S256 for codes.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Allow `id_token` in the authorization response (implicit / hybrid flows).
    #[serde(default)]
    pub allow_implicit_id_token: bool,
    /// Allow `token` in the authorization response (implicit access tokens).
    #[serde(default)]
    pub allow_implicit_access_token: bool,
    /// API permissions granted to this app: full scope URIs such as
    /// `https://contoso.onmicrosoft.com/todo-api/tasks.read`.
    #[serde(default)]
    pub api_permissions: Vec<String>,
    /// App ID URI when this app exposes an API, e.g. `https://contoso.onmicrosoft.com/todo-api`.
    #[serde(default)]
    pub app_id_uri: Option<String>,
    /// Scope names this app exposes as an API (`tasks.read`), relative to `app_id_uri`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Extra URIs accepted as `post_logout_redirect_uri` (the redirect URIs are accepted too).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
}

// The secret never reaches a log.
impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .field("allow_implicit_id_token", &self.allow_implicit_id_token)
            .field(
                "allow_implicit_access_token",
                &self.allow_implicit_access_token,
            )
            .field("api_permissions", &self.api_permissions)
            .field("app_id_uri", &self.app_id_uri)
            .field("scopes", &self.scopes)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .finish()
    }
}

impl Application {
    /// A confidential client has a secret; a public client has none.
    pub fn is_public(&self) -> bool {
        self.client_secret.is_none()
    }
}

/// Which claim carries the policy id: B2C's "Claim representing policy ID".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyClaim {
    /// `tfp` (B2C's default).
    #[default]
    Tfp,
    /// `acr` (B2C keeps it for backward compatibility).
    Acr,
}

impl PolicyClaim {
    pub fn claim_name(self) -> &'static str {
        match self {
            PolicyClaim::Tfp => "tfp",
            PolicyClaim::Acr => "acr",
        }
    }
}

/// Token lifetimes and compatibility settings of the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    /// `tfp` (default) or `acr`.
    pub policy_claim: PolicyClaim,
    /// 60 by default, 5–1440.
    pub id_token_lifetime_minutes: u32,
    /// 60 by default, 5–1440.
    pub access_token_lifetime_minutes: u32,
    /// 14 by default, 1–90.
    pub refresh_token_lifetime_days: u32,
    /// B2C's "refresh token sliding window lifetime" (bounded): after this many days from the
    /// sign-in, refresh tokens stop working and the user signs in again. 90 by default, 1–365,
    /// at least `refresh_token_lifetime_days`.
    pub refresh_token_sliding_window_days: u32,
    /// Authorization code lifetime; B2C's codes live "about 10 minutes", ours 5 by default
    /// (300 s, 30–600).
    pub code_lifetime_seconds: u32,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            policy_claim: PolicyClaim::Tfp,
            id_token_lifetime_minutes: 60,
            access_token_lifetime_minutes: 60,
            refresh_token_lifetime_days: 14,
            refresh_token_sliding_window_days: 90,
            code_lifetime_seconds: 300,
        }
    }
}

/// A configuration value out of range or inconsistent; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{key} = {value} is out of range ({min}–{max})")]
    OutOfRange {
        key: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl TokenSettings {
    /// Checks every value against B2C's ranges; returns all problems, each naming its key.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut range = |key: &'static str, value: u32, min: u32, max: u32| {
            if !(min..=max).contains(&value) {
                errors.push(ConfigError::OutOfRange {
                    key,
                    value,
                    min,
                    max,
                });
            }
        };
        range(
            "id_token_lifetime_minutes",
            self.id_token_lifetime_minutes,
            5,
            1440,
        );
        range(
            "access_token_lifetime_minutes",
            self.access_token_lifetime_minutes,
            5,
            1440,
        );
        range(
            "refresh_token_lifetime_days",
            self.refresh_token_lifetime_days,
            1,
            90,
        );
        range(
            "refresh_token_sliding_window_days",
            self.refresh_token_sliding_window_days,
            1,
            365,
        );
        range("code_lifetime_seconds", self.code_lifetime_seconds, 30, 600);
        if self.refresh_token_sliding_window_days < self.refresh_token_lifetime_days {
            errors.push(ConfigError::Invalid {
                key: "refresh_token_sliding_window_days".into(),
                message: format!(
                    "must be at least refresh_token_lifetime_days ({})",
                    self.refresh_token_lifetime_days
                ),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub(crate) fn id_token_lifetime(&self) -> i64 {
        i64::from(self.id_token_lifetime_minutes) * 60
    }
    pub(crate) fn access_token_lifetime(&self) -> i64 {
        i64::from(self.access_token_lifetime_minutes) * 60
    }
    pub(crate) fn refresh_token_lifetime(&self) -> i64 {
        i64::from(self.refresh_token_lifetime_days) * 86_400
    }
    pub(crate) fn sliding_window(&self) -> i64 {
        i64::from(self.refresh_token_sliding_window_days) * 86_400
    }
    /// The longest a signed token can live: how long a retired key stays published.
    pub(crate) fn max_signed_token_lifetime(&self) -> i64 {
        self.id_token_lifetime().max(self.access_token_lifetime())
    }
}

/// Checks a set of application registrations: unique client ids, absolute redirect URIs,
/// permissions that name a scope some API exposes. Returns all problems, each naming its key.
pub fn validate_applications(apps: &[Application]) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let key = |field: &str| format!("applications[{i}].{field}");
        if app.client_id.trim().is_empty() {
            errors.push(ConfigError::Invalid {
                key: key("client_id"),
                message: "must not be empty".into(),
            });
        }
        if apps[..i]
            .iter()
            .any(|other| other.client_id.eq_ignore_ascii_case(&app.client_id))
        {
            errors.push(ConfigError::Invalid {
                key: key("client_id"),
                message: format!("'{}' is registered twice", app.client_id),
            });
        }
        for uri in app
            .redirect_uris
            .iter()
            .chain(app.post_logout_redirect_uris.iter())
        {
            if url::Url::parse(uri).is_err() {
                errors.push(ConfigError::Invalid {
                    key: key("redirect_uris"),
                    message: format!("'{uri}' is not an absolute URI"),
                });
            }
        }
        if matches!(&app.client_secret, Some(s) if s.is_empty()) {
            errors.push(ConfigError::Invalid {
                key: key("client_secret"),
                message: "must not be empty (omit it for a public client)".into(),
            });
        }
        if !app.scopes.is_empty() && app.app_id_uri.is_none() {
            errors.push(ConfigError::Invalid {
                key: key("scopes"),
                message: "an app exposing scopes needs app_id_uri".into(),
            });
        }
        for permission in &app.api_permissions {
            if crate::scope::find_api_scope(apps, permission).is_none() {
                errors.push(ConfigError::Invalid {
                    key: key("api_permissions"),
                    message: format!("'{permission}' is not a scope exposed by any application"),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_b2c_defaults() {
        let s: TokenSettings = toml_like("{}");
        assert_eq!(s, TokenSettings::default());
        assert_eq!(s.policy_claim, PolicyClaim::Tfp);
        assert_eq!(s.id_token_lifetime_minutes, 60);
        assert_eq!(s.refresh_token_lifetime_days, 14);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn validate_names_the_key() {
        let s = TokenSettings {
            id_token_lifetime_minutes: 4,
            refresh_token_lifetime_days: 91,
            ..TokenSettings::default()
        };
        let errors = s.validate().unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("id_token_lifetime_minutes"))
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("refresh_token_lifetime_days"))
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("refresh_token_sliding_window_days"))
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<TokenSettings, _> = serde_json::from_str(r#"{"id_token_lifetime": 5}"#);
        assert!(r.is_err());
        let r: Result<Application, _> =
            serde_json::from_str(r#"{"name":"a","client_id":"b","secret":"x"}"#);
        assert!(r.is_err());
    }

    #[test]
    fn policy_claim_parses_lowercase() {
        let s: TokenSettings = toml_like(r#"{"policy_claim":"acr"}"#);
        assert_eq!(s.policy_claim, PolicyClaim::Acr);
    }

    #[test]
    fn applications_are_checked() {
        let api = Application {
            name: "api".into(),
            client_id: "api".into(),
            redirect_uris: vec![],
            client_secret: None,
            allow_implicit_id_token: false,
            allow_implicit_access_token: false,
            api_permissions: vec![],
            app_id_uri: Some("https://t.example/api".into()),
            scopes: vec!["read".into()],
            post_logout_redirect_uris: vec![],
        };
        let mut web = api.clone();
        web.client_id = "web".into();
        web.app_id_uri = None;
        web.scopes = vec![];
        web.redirect_uris = vec!["https://app.example/cb".into()];
        web.api_permissions = vec!["https://t.example/api/read".into()];
        assert!(validate_applications(&[api.clone(), web.clone()]).is_ok());
        web.api_permissions
            .push("https://t.example/api/write".into());
        web.redirect_uris.push("/relative".into());
        let errors = validate_applications(&[api, web]).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    fn toml_like<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }
}
