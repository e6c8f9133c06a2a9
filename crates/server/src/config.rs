//! `trustframe.toml`: every key is documented, with its default, in `docs/trustframe.toml`.
//!
//! Loading: the file, then `TRUSTFRAME__SECTION__KEY` environment overrides, then validation.
//! Relative paths resolve against the config file's folder. A bad config fails at start with
//! the key and the reason.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use trustframe_oidc::{Application, TokenSettings};
use trustframe_policy::identity_provider::IdentityProvider;
use trustframe_policy::userflow::{ApiConnector, ApiConnectorAuth, UserAttribute, UserFlow};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The shortest client secret accepted outside development.
pub const MIN_CLIENT_SECRET_CHARS: usize = 32;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    pub tenant: TenantConfig,
    #[serde(default)]
    pub tokens: TokenSettings,
    #[serde(default)]
    pub sessions: SessionConfig,
    #[serde(default)]
    pub passwords: PasswordConfig,
    #[serde(default)]
    pub sign_in: SignInConfig,
    #[serde(default)]
    pub lockout: LockoutConfig,
    #[serde(default)]
    pub verification: VerificationConfig,
    #[serde(default)]
    pub outbound: OutboundConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Outgoing mail: verification codes (`one-time-password-technical-profile.md`).
    #[serde(default)]
    pub email: crate::mail::EmailConfig,
    #[serde(default)]
    pub applications: Vec<Application>,
    #[serde(default)]
    pub user_attributes: Vec<UserAttribute>,
    #[serde(default)]
    pub user_flows: Vec<UserFlow>,
    #[serde(default)]
    pub api_connectors: Vec<ApiConnector>,
    /// External OpenID Connect providers user flows may offer
    /// (`identity-provider-generic-openid-connect.md`).
    #[serde(default)]
    pub identity_providers: Vec<IdentityProvider>,
    /// B2C custom policies: a folder of TrustFramework XML files.
    #[serde(default)]
    pub custom_policies: Option<CustomPoliciesConfig>,
    /// B2C's policy keys (`B2C_1A_…`), by the name the XML uses.
    #[serde(default)]
    pub policy_keys: Vec<PolicyKeyConfig>,
    /// Page layouts (templates), company branding (`customize-ui.md`).
    #[serde(default)]
    pub ui: crate::ui::UiConfig,
    /// The folder of this config file: relative paths of templates and images start there.
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPoliciesConfig {
    /// Every `*.xml` in this folder (not recursive) is loaded as one policy set.
    pub dir: PathBuf,
    /// A JSON object of `{Settings:Name}` values, substituted before parsing.
    pub settings: Option<PathBuf>,
}

/// A policy key: an inline value (a secret) or a file (a PEM certificate or RSA key).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyKeyConfig {
    pub name: String,
    pub value: Option<String>,
    pub file: Option<PathBuf>,
}

impl std::fmt::Debug for PolicyKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyKeyConfig")
            .field("name", &self.name)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Base of the issuer and of every endpoint URL.
    pub public_url: String,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Development mode: plain HTTP to REST APIs allowed, `{Context:DeploymentMode}` is
    /// `Development`.
    pub development: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client; from anyone else the header
    /// is ignored and the connection's address is the client's.
    pub trusted_proxies: crate::client_ip::TrustedProxies,
    /// The TLS handshake and each request head must arrive within this (slowloris).
    pub header_read_timeout_seconds: u32,
    /// A connection with no request in flight is closed after this.
    pub idle_timeout_seconds: u32,
    /// A request, its body included, must be answered within this (else 408).
    pub request_timeout_seconds: u32,
    /// Largest request body, bytes (else 413).
    pub max_body_bytes: usize,
    /// Connections open at once; beyond it new ones are closed as soon as accepted.
    pub max_connections: usize,
}

impl ServerConfig {
    pub fn connection_limits(&self) -> crate::connections::ConnectionLimits {
        let seconds = |s: u32| std::time::Duration::from_secs(u64::from(s));
        crate::connections::ConnectionLimits {
            header_read_timeout: seconds(self.header_read_timeout_seconds),
            idle_timeout: seconds(self.idle_timeout_seconds),
            request_timeout: seconds(self.request_timeout_seconds),
            max_connections: self.max_connections,
        }
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let positive = [
            (
                "server.header_read_timeout_seconds",
                self.header_read_timeout_seconds as usize,
            ),
            (
                "server.idle_timeout_seconds",
                self.idle_timeout_seconds as usize,
            ),
            (
                "server.request_timeout_seconds",
                self.request_timeout_seconds as usize,
            ),
            ("server.max_body_bytes", self.max_body_bytes),
            ("server.max_connections", self.max_connections),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_url: "https://localhost:8443".into(),
            tls_cert: None,
            tls_key: None,
            development: false,
            trusted_proxies: Default::default(),
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            request_timeout_seconds: 120,
            max_body_bytes: 64 * 1024,
            max_connections: 2048,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite://file.db` (relative to the config's folder) or `postgres://…`.
    pub url: String,
    /// A file holding the key that encrypts signing keys in the store (base64 of 32 bytes).
    pub key_encryption_key_file: Option<PathBuf>,
    /// The same key from `TRUSTFRAME_KEY_ENCRYPTION_KEY` (never from the file's text).
    #[serde(skip)]
    pub key_encryption_key_env: Option<trustframe_oidc::KeyEncryptionKey>,
}

/// The environment variable that may hold the key encryption key (base64 of 32 bytes).
pub const KEY_ENCRYPTION_KEY_ENV: &str = "TRUSTFRAME_KEY_ENCRYPTION_KEY";

impl StorageConfig {
    /// The key that seals signing keys in the store, if one is configured: from
    /// `key_encryption_key_file` (which must be readable by its owner only) or the environment.
    pub fn key_encryption_key(
        &self,
    ) -> Result<Option<trustframe_oidc::KeyEncryptionKey>, ConfigError> {
        let key = "storage.key_encryption_key_file";
        let Some(path) = &self.key_encryption_key_file else {
            return Ok(self.key_encryption_key_env.clone());
        };
        crate::key_files::check_owner_only(key, path).map_err(|message| {
            ConfigError::invalid(key, message.replacen(&format!("{key}: "), "", 1))
        })?;
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::invalid(key, format!("cannot read {}: {e}", path.display()))
        })?;
        trustframe_oidc::KeyEncryptionKey::from_base64(&text)
            .map(Some)
            .map_err(|m| ConfigError::invalid(key, format!("{} {m}", path.display())))
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://trustframe.db".into(),
            key_encryption_key_file: None,
            key_encryption_key_env: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// `contoso`: routes answer to `contoso`, `contoso.onmicrosoft.com` and the tenant id.
    pub name: String,
    /// A GUID; generated once and stored when absent.
    pub id: Option<String>,
    /// 32 hex digits; generated once and stored when absent.
    pub extensions_app_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// How long a single sign-on session lasts (B2C's default web app session: 24 hours).
    pub sso_lifetime_minutes: u32,
    /// How long a user may take to finish a journey.
    pub journey_lifetime_minutes: u32,
    /// Journeys one client IP may start within `journeys_per_ip_window_seconds`; 0 = no limit.
    pub max_journeys_per_ip: u32,
    pub journeys_per_ip_window_seconds: u32,
    /// Journeys stored at once (not yet expired), all clients together; 0 = no limit.
    pub max_journeys: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            sso_lifetime_minutes: 1440,
            journey_lifetime_minutes: 60,
            max_journeys_per_ip: 1000,
            journeys_per_ip_window_seconds: 600,
            max_journeys: 100_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    /// argon2id memory in KiB (OWASP: 19456 = 19 MiB).
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Hashes computed at once; 0 = one per CPU core.
    pub max_concurrent_hashes: usize,
    /// Refuse common and breached passwords at sign-up, reset and change (NIST SP 800-63B
    /// §5.1.1.2), from the bundled list.
    pub blocklist: bool,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 0,
            blocklist: true,
        }
    }
}

/// The sign-in page of user flows (`[sign_in]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInConfig {
    /// B2C's two messages, "We can't seem to find your account." and "Your password is
    /// incorrect.", instead of one for both (which does not tell who has an account).
    pub distinct_errors: bool,
}

/// Smart lockout of local sign-in (B2C: `threat-management.md`): failed password checks are
/// counted in the store, so every node agrees.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Failed password checks of one account within `window_seconds` that lock it; 0 = never.
    pub threshold: u32,
    pub window_seconds: u32,
    /// The first lockout; each further one doubles it, up to `max_duration_seconds`.
    pub duration_seconds: u32,
    pub max_duration_seconds: u32,
    /// Failed password checks from one client IP, across accounts, within `ip_window_seconds`
    /// that lock every sign-in from it; 0 = never.
    pub ip_threshold: u32,
    pub ip_window_seconds: u32,
    /// Wrong client secrets at `/token` for one client id within `client_window_seconds` that
    /// lock its client authentication (429 + `Retry-After`, same durations); 0 = never.
    pub client_threshold: u32,
    pub client_window_seconds: u32,
    /// Progressive delay: from the `delay_after`th failed sign-in of an account in its
    /// window, the answer waits `delay_base_ms`, doubling per failure, up to `delay_max_ms`.
    pub delay_after: u32,
    pub delay_base_ms: u64,
    pub delay_max_ms: u64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            threshold: 10,
            window_seconds: 600,
            duration_seconds: 60,
            max_duration_seconds: 3600,
            ip_threshold: 50,
            ip_window_seconds: 60,
            client_threshold: 10,
            client_window_seconds: 60,
            delay_after: 3,
            delay_base_ms: 250,
            delay_max_ms: 4000,
        }
    }
}

impl LockoutConfig {
    /// The rule for wrong client secrets at the token endpoint.
    pub fn client_rule(&self) -> trustframe_store::ThrottleRule {
        trustframe_store::ThrottleRule {
            threshold: self.client_threshold,
            window_seconds: i64::from(self.client_window_seconds),
            lockout_seconds: i64::from(self.duration_seconds),
            max_lockout_seconds: i64::from(self.max_duration_seconds),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("lockout.window_seconds", self.window_seconds),
            ("lockout.duration_seconds", self.duration_seconds),
            ("lockout.ip_window_seconds", self.ip_window_seconds),
            ("lockout.client_window_seconds", self.client_window_seconds),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        if self.max_duration_seconds < self.duration_seconds {
            return Err(ConfigError::invalid(
                "lockout.max_duration_seconds",
                "must be at least lockout.duration_seconds",
            ));
        }
        Ok(())
    }
}

/// Verification codes limited across journeys (`[verification]`), counted in the store so every
/// node agrees; the per-journey limits are the policy's (`NumCodeGenerationAttempts`,
/// `NumRetryAttempts`). Each limit counts within a window of `window_seconds` from its first
/// event; 0 = no limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerificationConfig {
    /// Codes sent to one address, from any journey.
    pub max_codes_per_address: u32,
    /// Codes sent at the request of one client IP, to any address.
    pub max_codes_per_ip: u32,
    /// Wrong codes entered for one address, in any journey; beyond it even the right code is
    /// refused until the window has passed.
    pub max_wrong_codes_per_address: u32,
    pub window_seconds: u32,
}

impl Default for VerificationConfig {
    fn default() -> Self {
        Self {
            max_codes_per_address: 5,
            max_codes_per_ip: 20,
            max_wrong_codes_per_address: 10,
            window_seconds: 600,
        }
    }
}

/// The audit log (`[audit]`): security events and REST calls, in the store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Records older than this many days are deleted by housekeeping; 0 keeps them forever.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// Log lines (`[logging]`); the level is `TRUSTFRAME_LOG` (tracing's env filter).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LogFormat,
}

/// `text` (human-readable, the default) or `json` (one object per line, for log shippers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// PEM files trusted in addition to the system's roots (private CAs, local development).
    pub ca_files: Vec<PathBuf>,
}

/// Applies `TRUSTFRAME__SECTION__KEY=value` overrides: the path is lower-cased and split on
/// `__`; the value is read as a TOML value when it parses as one, else as a string.
fn apply_env(
    doc: &mut toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix("TRUSTFRAME__") else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let value = match format!("v = {raw}").parse::<toml::Table>() {
            Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw.clone())),
            Err(_) => toml::Value::String(raw.clone()),
        };
        let mut table = &mut *doc;
        let (last, parents) = match keys.split_last() {
            Some(split) => split,
            None => continue,
        };
        for key in parents {
            let entry = table
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::invalid(
                        &name,
                        format!("'{key}' is not a section"),
                    ));
                }
            };
        }
        table.insert(last.clone(), value);
    }
    Ok(())
}

impl Config {
    /// Reads a config file with environment overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(&text, path, std::env::vars())
    }

    /// Parses config text; `path` names the file in errors and anchors relative paths.
    pub fn parse(
        text: &str,
        path: &Path,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let mut doc: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: shown.clone(),
                    message: e.to_string(),
                })?;
        let env: Vec<(String, String)> = env.collect();
        let kek_env = env
            .iter()
            .find(|(name, _)| name == KEY_ENCRYPTION_KEY_ENV)
            .map(|(_, value)| {
                trustframe_oidc::KeyEncryptionKey::from_base64(value)
                    .map_err(|m| ConfigError::invalid(KEY_ENCRYPTION_KEY_ENV, m))
            })
            .transpose()?;
        apply_env(&mut doc, env.into_iter())?;
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(doc))
            .map_err(|e| {
                let key = e.path().to_string();
                ConfigError::Invalid {
                    key,
                    message: e.into_inner().to_string(),
                }
            })?;
        config.storage.key_encryption_key_env = kek_env;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        config.resolve_paths(&base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        self.dir = base.to_path_buf();
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        // Template paths (not URLs, not B2C's built-in `~/…`) start at the config's folder.
        let template = |v: &mut String| {
            let is_url = url::Url::parse(v.trim()).is_ok_and(|u| u.scheme().len() > 1);
            if !is_url && !v.trim().starts_with('~') && Path::new(v.trim()).is_relative() {
                *v = base.join(v.trim()).display().to_string();
            }
        };
        self.ui.page_layouts.values_mut().for_each(template);
        for flow in &mut self.user_flows {
            flow.page_layouts.values_mut().for_each(template);
        }
        if let Some(p) = self.server.tls_cert.as_mut() {
            resolve(p);
        }
        if let Some(p) = self.server.tls_key.as_mut() {
            resolve(p);
        }
        if let Some(p) = self.storage.key_encryption_key_file.as_mut() {
            resolve(p);
        }
        self.outbound.ca_files.iter_mut().for_each(resolve);
        if let Some(c) = self.custom_policies.as_mut() {
            resolve(&mut c.dir);
            if let Some(p) = c.settings.as_mut() {
                resolve(p);
            }
        }
        for k in &mut self.policy_keys {
            if let Some(p) = k.file.as_mut() {
                resolve(p);
            }
        }
        for c in &mut self.api_connectors {
            if let ApiConnectorAuth::ClientCertificate { certificate, .. } = &mut c.auth {
                resolve(certificate);
            }
        }
        if let Some(file) = self.storage.url.strip_prefix("sqlite://") {
            let file = file.split('?').next().unwrap_or(file);
            if !file.is_empty() && Path::new(file).is_relative() && !file.starts_with(':') {
                self.storage.url = format!("sqlite://{}", base.join(file).display());
            }
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.lockout.validate()?;
        trustframe_policy::userflow::check_page_layouts("ui.page_layouts", &self.ui.page_layouts)
            .map_err(|e| ConfigError::invalid(e.key, e.message))?;
        self.server.validate_limits()?;
        if self.verification.window_seconds == 0 {
            return Err(ConfigError::invalid(
                "verification.window_seconds",
                "must be at least 1",
            ));
        }
        if url::Url::parse(&self.server.public_url).is_err() {
            return Err(ConfigError::invalid(
                "server.public_url",
                format!("'{}' is not an absolute URL", self.server.public_url),
            ));
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(ConfigError::invalid(
                "server.tls_cert",
                "tls_cert and tls_key go together: set both (HTTPS) or neither (HTTP)",
            ));
        }
        let name = &self.tenant.name;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ConfigError::invalid(
                "tenant.name",
                "must be letters, digits and '-' (like 'contoso')",
            ));
        }
        if let Some(id) = &self.tenant.id
            && uuid::Uuid::parse_str(id).is_err()
        {
            return Err(ConfigError::invalid(
                "tenant.id",
                format!("'{id}' is not a GUID"),
            ));
        }
        if let Some(id) = &self.tenant.extensions_app_id
            && (id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(ConfigError::invalid(
                "tenant.extensions_app_id",
                "must be 32 hexadecimal digits (the app id without dashes)",
            ));
        }
        if !self.storage.url.starts_with("sqlite:") && !self.storage.url.starts_with("postgres") {
            return Err(ConfigError::invalid(
                "storage.url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if self.storage.key_encryption_key_file.is_some()
            && self.storage.key_encryption_key_env.is_some()
        {
            return Err(ConfigError::invalid(
                "storage.key_encryption_key_file",
                format!("set the file or {KEY_ENCRYPTION_KEY_ENV}, not both"),
            ));
        }
        if self.passwords.argon2_memory_kib < 8 * self.passwords.argon2_parallelism.max(1)
            || self.passwords.argon2_iterations == 0
            || self.passwords.argon2_parallelism == 0
        {
            return Err(ConfigError::invalid(
                "passwords",
                "argon2 parameters out of range (memory ≥ 8 KiB per lane, iterations ≥ 1, parallelism ≥ 1)",
            ));
        }
        for (i, k) in self.policy_keys.iter().enumerate() {
            if !k.name.to_ascii_uppercase().starts_with("B2C_1A_") {
                return Err(ConfigError::invalid(
                    format!("policy_keys[{i}].name"),
                    format!(
                        "'{}' is not a policy key name (they start with B2C_1A_)",
                        k.name
                    ),
                ));
            }
            if k.value.is_some() == k.file.is_some() {
                return Err(ConfigError::invalid(
                    format!("policy_keys[{i}]"),
                    "set exactly one of 'value' and 'file'",
                ));
            }
            if self.policy_keys[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&k.name))
            {
                return Err(ConfigError::invalid(
                    format!("policy_keys[{i}].name"),
                    format!("'{}' is named twice", k.name),
                ));
            }
        }
        if self.sessions.journeys_per_ip_window_seconds == 0 {
            return Err(ConfigError::invalid(
                "sessions.journeys_per_ip_window_seconds",
                "must be at least 1",
            ));
        }
        if self.sessions.sso_lifetime_minutes == 0 || self.sessions.journey_lifetime_minutes == 0 {
            return Err(ConfigError::invalid(
                "sessions",
                "lifetimes must be at least one minute",
            ));
        }
        if let Err(errors) = self.tokens.validate()
            && let Some(e) = errors.into_iter().next()
        {
            return Err(ConfigError::invalid("tokens", e.to_string()));
        }
        if let Err(errors) = trustframe_oidc::validate_applications(&self.applications)
            && let Some(e) = errors.into_iter().next()
        {
            return Err(ConfigError::invalid("applications", e.to_string()));
        }
        // A short secret can be guessed at the token endpoint; 32 random characters cannot.
        for (i, app) in self.applications.iter().enumerate() {
            if let Some(secret) = &app.client_secret
                && secret.chars().count() < MIN_CLIENT_SECRET_CHARS
                && !self.server.development
            {
                return Err(ConfigError::invalid(
                    format!("applications[{i}].client_secret"),
                    format!(
                        "must be at least {MIN_CLIENT_SECRET_CHARS} characters (for example `openssl rand -base64 32`); shorter secrets need server.development = true"
                    ),
                ));
            }
        }
        self.email
            .validate(self.server.development)
            .map_err(|(key, message)| ConfigError::invalid(key, message))?;
        let mut seen = std::collections::HashSet::new();
        for (i, f) in self.user_flows.iter().enumerate() {
            if !seen.insert(f.id.to_ascii_lowercase()) {
                return Err(ConfigError::invalid(
                    format!("user_flows[{i}].id"),
                    format!("'{}' is defined twice", f.id),
                ));
            }
        }
        let mut ids = std::collections::HashSet::new();
        for (i, p) in self.identity_providers.iter().enumerate() {
            let key = format!("identity_providers[{i}]");
            p.validate(&key)
                .map_err(|e| ConfigError::invalid(e.key, e.message))?;
            if !ids.insert(p.id.to_ascii_lowercase()) {
                return Err(ConfigError::invalid(
                    format!("{key}.id"),
                    format!("'{}' is defined twice", p.id),
                ));
            }
            let url = url::Url::parse(&p.metadata_url).map_err(|e| {
                ConfigError::invalid(
                    format!("{key}.metadata_url"),
                    format!("'{}': {e}", p.metadata_url),
                )
            })?;
            if url.scheme() != "https" && !(p.allow_insecure || self.server.development) {
                return Err(ConfigError::invalid(
                    format!("{key}.metadata_url"),
                    "must be https:// (set allow_insecure = true for a development provider over http)",
                ));
            }
        }
        for (i, c) in self.api_connectors.iter().enumerate() {
            let url = url::Url::parse(&c.url).map_err(|e| {
                ConfigError::invalid(
                    format!("api_connectors[{i}].url"),
                    format!("'{}': {e}", c.url),
                )
            })?;
            if url.scheme() != "https" && !(c.allow_insecure || self.server.development) {
                return Err(ConfigError::invalid(
                    format!("api_connectors[{i}].url"),
                    "must be https:// (set allow_insecure = true for a development API over http)",
                ));
            }
            if matches!(c.auth, ApiConnectorAuth::None)
                && !(c.allow_insecure || self.server.development)
            {
                return Err(ConfigError::invalid(
                    format!("api_connectors[{i}].auth"),
                    "an API connector needs authentication (basic, bearer, client_certificate, api_key or client_credentials); set allow_insecure = true to call it without",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://127.0.0.1:8080"
[tenant]
name = "contoso"
[storage]
url = "sqlite://data/tf.db"
[[applications]]
name = "webapp1"
client_id = "11112222-bbbb-3333-cccc-4444dddd5555"
redirect_uris = ["https://jwt.ms"]
"#;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>();
        Config::parse(
            text,
            Path::new("/etc/trustframe/trustframe.toml"),
            vars.into_iter(),
        )
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder_and_env_overrides_apply() {
        let c = parse(
            MINIMAL,
            &[
                ("TRUSTFRAME__TOKENS__ID_TOKEN_LIFETIME_MINUTES", "30"),
                ("TRUSTFRAME__TENANT__NAME", "fabrikam"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.storage.url, "sqlite:///etc/trustframe/data/tf.db");
        assert_eq!(c.tokens.id_token_lifetime_minutes, 30);
        assert_eq!(c.tenant.name, "fabrikam");
    }

    #[test]
    fn the_reference_config_parses() {
        let text = include_str!("../../../docs/trustframe.toml");
        // As copied, the example sections ("#= ") stay off: the file runs without a policy
        // folder or key files.
        let c = parse(text, &[]).unwrap_or_else(|e| panic!("docs/trustframe.toml: {e}"));
        assert!(c.custom_policies.is_none() && c.policy_keys.is_empty());
        let text: String = text
            .lines()
            .map(|l| l.strip_prefix("#= ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&text, &[]).unwrap_or_else(|e| panic!("docs/trustframe.toml: {e}"));
        assert_eq!(c.tenant.name, "contoso");
        assert_eq!(
            c.server.tls_cert.as_deref(),
            Some(Path::new("/etc/trustframe/certs/cert.pem"))
        );
        assert_eq!(c.user_flows.len(), 3);
        assert_eq!(c.email.from, "Contoso <no-reply@contoso.example>");
        assert!(c.user_flows[0].email_verification);
        let custom = c
            .custom_policies
            .as_ref()
            .unwrap_or_else(|| panic!("no [custom_policies]"));
        assert_eq!(custom.dir, Path::new("/etc/trustframe/policies"));
        assert_eq!(c.policy_keys.len(), 2);
        assert_eq!(
            c.policy_keys[1].file.as_deref(),
            Some(Path::new("/etc/trustframe/keys/rest-client.pem"))
        );
    }

    #[test]
    fn policy_keys_need_a_b2c_name_and_one_source() {
        let err = parse(
            &format!("{MINIMAL}\n[[policy_keys]]\nname = \"RestApiPassword\"\nvalue = \"x\"\n"),
            &[],
        )
        .err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().starts_with("policy_keys[0].name")),
            "{err:?}"
        );
        let err = parse(
            &format!("{MINIMAL}\n[[policy_keys]]\nname = \"B2C_1A_X\"\n"),
            &[],
        )
        .err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().starts_with("policy_keys[0]:")),
            "{err:?}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = parse(
            MINIMAL,
            &[("TRUSTFRAME__TOKENS__ID_TOKEN_LIFETIME_MINUTES", "\"soon\"")],
        )
        .err();
        assert!(
            err.as_ref().is_some_and(|e| e
                .to_string()
                .starts_with("tokens.id_token_lifetime_minutes")),
            "{err:?}"
        );
        let err = parse(
            &MINIMAL.replace("[tenant]", "[tenant]\nextensions_app_id = \"xyz\""),
            &[],
        )
        .err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().starts_with("tenant.extensions_app_id")),
            "{err:?}"
        );
        let err = parse(&format!("{MINIMAL}\n[[user_flows]]\nid = \"B2C_1_susi\"\ntype = \"sign_in\"\ncolour = \"red\""), &[]).err();
        assert!(
            err.as_ref().is_some_and(
                |e| e.to_string().contains("user_flows[0]") && e.to_string().contains("colour")
            ),
            "{err:?}"
        );
    }

    /// Client secrets of fewer than 32 characters are refused, naming the key, unless the
    /// server is in development mode; `[sign_in]` and the blocklist switch parse.
    #[test]
    fn short_client_secrets_need_development() {
        let with_secret = |secret: &str| {
            MINIMAL.replace(
                "redirect_uris",
                &format!("client_secret = \"{secret}\"\nredirect_uris"),
            )
        };
        let err = parse(&with_secret("hunter2"), &[]).err();
        assert!(
            err.as_ref().is_some_and(|e| {
                let e = e.to_string();
                e.starts_with("applications[0].client_secret: must be at least 32 characters")
                    && !e.contains("hunter2")
                    && !e.contains('\n')
            }),
            "{err:?}"
        );
        let long = "x".repeat(32);
        assert!(parse(&with_secret(&long), &[]).is_ok());
        let dev = parse(
            &with_secret("hunter2"),
            &[("TRUSTFRAME__SERVER__DEVELOPMENT", "true")],
        );
        assert!(dev.is_ok(), "{:?}", dev.err());

        let c = parse(
            &format!(
                "{MINIMAL}\n[sign_in]\ndistinct_errors = true\n[passwords]\nblocklist = false"
            ),
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.sign_in.distinct_errors && !c.passwords.blocklist);
        let d = parse(MINIMAL, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!d.sign_in.distinct_errors && d.passwords.blocklist);
    }

    /// The keys of `[name]` that the reference file shows commented out (`# key = default`),
    /// uncommented, one a line.
    fn reference_keys(name: &str) -> String {
        let reference = include_str!("../../../docs/trustframe.toml");
        reference
            .split(&format!("\n[{name}]\n"))
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| {
                l.split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The reference file's commented `[verification]` keys are the defaults; a zero window is
    /// refused.
    #[test]
    fn verification_limits() {
        let section = reference_keys("verification");
        assert_eq!(section.lines().count(), 4, "{section}");
        let c = parse(&format!("{MINIMAL}\n[verification]\n{section}"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let d = VerificationConfig::default();
        let v = &c.verification;
        assert_eq!(
            (
                v.max_codes_per_address,
                v.max_codes_per_ip,
                v.max_wrong_codes_per_address,
                v.window_seconds
            ),
            (
                d.max_codes_per_address,
                d.max_codes_per_ip,
                d.max_wrong_codes_per_address,
                d.window_seconds
            )
        );
        let err = parse(
            &format!("{MINIMAL}\n[verification]\nwindow_seconds = 0"),
            &[],
        )
        .err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().starts_with("verification.window_seconds")),
            "{err:?}"
        );
    }

    /// The reference file's commented `[lockout]` keys are the defaults; bad lockout values and
    /// proxy entries name their key.
    #[test]
    fn lockout_and_trusted_proxies() {
        let section = reference_keys("lockout");
        assert_eq!(section.lines().count(), 11, "{section}");
        let c = parse(&format!("{MINIMAL}\n[lockout]\n{section}"), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let d = LockoutConfig::default();
        assert_eq!(
            (
                c.lockout.threshold,
                c.lockout.window_seconds,
                c.lockout.duration_seconds
            ),
            (d.threshold, d.window_seconds, d.duration_seconds)
        );
        assert_eq!(
            (
                c.lockout.max_duration_seconds,
                c.lockout.ip_threshold,
                c.lockout.ip_window_seconds
            ),
            (d.max_duration_seconds, d.ip_threshold, d.ip_window_seconds)
        );
        assert_eq!(
            (c.lockout.client_threshold, c.lockout.client_window_seconds),
            (d.client_threshold, d.client_window_seconds)
        );
        assert_eq!(
            (
                c.lockout.delay_after,
                c.lockout.delay_base_ms,
                c.lockout.delay_max_ms
            ),
            (d.delay_after, d.delay_base_ms, d.delay_max_ms)
        );
        assert_eq!(c.server.trusted_proxies, Default::default());

        let err = parse(&format!("{MINIMAL}\n[lockout]\nduration_seconds = 0"), &[]).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().starts_with("lockout.duration_seconds")),
            "{err:?}"
        );
        let err = parse(
            &MINIMAL.replace(
                "[server]",
                "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.local\"]",
            ),
            &[],
        )
        .err();
        assert!(
            err.as_ref().is_some_and(|e| {
                let e = e.to_string();
                e.starts_with("server.trusted_proxies") && e.contains("proxy.local")
            }),
            "{err:?}"
        );
    }
}
