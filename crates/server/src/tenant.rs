//! One tenant: its store, OpenID provider, compiled policies, directory and REST client.

use std::collections::BTreeMap;
use std::sync::Arc;

use trustframe_connector::{Connector, ConnectorSettings, KeyStore};
use trustframe_oidc::{OidcConfig, OidcService, PolicyKey};
use trustframe_policy::diagnostic::edit_distance;
use trustframe_policy::userflow::{self, SecretSource};
use trustframe_policy::{Policy, PolicyId, StepKind, TechnicalProfile, UserJourney, UserJourneyId};
use trustframe_store::Store;

use crate::config::{Config, SessionConfig};
use crate::directory::{PasswordHasherPool, StoreDirectory};
use crate::rest::{ConnectorClient, StoreAudit};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Policy(#[from] userflow::ConfigError),
    #[error("{0}")]
    Policies(#[from] crate::policies::PolicyProblems),
    #[error("storage: {0}")]
    Store(#[from] trustframe_store::StoreError),
    #[error("{0}")]
    Oidc(#[from] trustframe_oidc::OidcError),
    #[error("outbound: {0}")]
    Connector(#[from] trustframe_connector::ConnectorError),
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub struct Tenant {
    /// `contoso`.
    pub name: String,
    /// `contoso.onmicrosoft.com`.
    pub domain: String,
    pub id: String,
    pub extensions_app_id: String,
    pub store: Store,
    pub oidc: OidcService,
    pub policies: BTreeMap<PolicyId, Arc<Policy>>,
    /// Authorize parameters the custom policies read with `{OAUTH-KV:name}` (lower-cased).
    pub oauth_kv: Vec<String>,
    /// User flows in configuration order, for the home page.
    pub flow_ids: Vec<String>,
    pub directory: StoreDirectory,
    pub rest: ConnectorClient,
    /// Verification codes by e-mail (`[email]`).
    pub mailer: crate::mail::MailService,
    /// External identity providers of the tenant's user flows.
    pub federation: crate::federation::Federation,
    pub sessions: SessionConfig,
    /// Page layouts and branding.
    pub ui: crate::ui::Ui,
    /// The stored journeys, for `[sessions] max_journeys`.
    pub live_journeys: crate::journeys::LiveJourneys,
    /// Days audit records are kept (`[audit] retention_days`); 0: forever.
    pub audit_retention_days: u32,
    pub development: bool,
    /// (redirect URI, client id) of public apps (no secret: PKCE), such as the token viewer's.
    pub app_ids_with_redirect: Vec<(String, String)>,
}

impl Tenant {
    /// Opens the store, settles the tenant's ids, loads keys and compiles the user flows.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        let store = Store::connect(&config.storage.url).await?;
        let id = match &config.tenant.id {
            Some(id) => id.clone(),
            None => {
                store
                    .setting_or_insert("tenant_id", &uuid::Uuid::new_v4().to_string())
                    .await?
            }
        };
        let extensions_app_id = match &config.tenant.extensions_app_id {
            Some(id) => id.to_ascii_lowercase(),
            None => {
                store
                    .setting_or_insert(
                        "extensions_app_id",
                        &uuid::Uuid::new_v4().simple().to_string(),
                    )
                    .await?
            }
        };
        let domain = format!(
            "{}.onmicrosoft.com",
            config.tenant.name.to_ascii_lowercase()
        );

        let loaded = crate::policies::load(config, &extensions_app_id)?;
        for w in &loaded.warnings {
            tracing::warn!(tenant = %config.tenant.name, "{w}");
        }
        let mut flow_ids = loaded.user_flow_ids.clone();
        let oauth_kv = loaded.oauth_kv.clone();
        let mut policies = BTreeMap::new();
        for policy in loaded.policies {
            if !flow_ids.iter().any(|f| policy.id == f.as_str()) {
                flow_ids.push(policy.id.to_string());
            }
            policies.insert(policy.id.clone(), Arc::new(policy));
        }

        // B2C's policy keys, by the name `CryptographicKeys` refer to (`StorageReferenceId`).
        let mut policy_keys: Vec<(&str, Vec<u8>)> = Vec::with_capacity(config.policy_keys.len());
        for key in &config.policy_keys {
            let value = match (&key.value, &key.file) {
                (Some(v), _) => v.clone().into_bytes(),
                (None, Some(path)) => {
                    let bytes = std::fs::read(path).map_err(|source| StartError::File {
                        what: "policy key",
                        path: path.display().to_string(),
                        source,
                    })?;
                    if crate::key_files::holds_private_key(&bytes) {
                        crate::key_files::check_owner_only(
                            &format!("policy_keys ({})", key.name),
                            path,
                        )
                        .map_err(StartError::Other)?;
                    }
                    bytes
                }
                (None, None) => continue,
            };
            policy_keys.push((&key.name, value));
        }

        let mut oidc = OidcService::new(
            store.clone(),
            OidcConfig {
                public_url: config.server.public_url.clone(),
                tenant_id: id.clone(),
                applications: config.applications.clone(),
                tokens: config.tokens.clone(),
                key_encryption: config.storage.key_encryption_key()?,
            },
        )
        .await?;
        oidc.set_client_lockout(config.lockout.client_rule());
        oidc.set_audit_tenant(&config.tenant.name);
        for (policy, key) in token_signing_keys(&policies, &policy_keys, now())? {
            tracing::info!(
                tenant = %config.tenant.name,
                %policy,
                key = key.name(),
                kid = key.kid(),
                "policy signs its tokens with its own key"
            );
            oidc.set_policy_key(policy.as_str(), key);
        }

        let mut keys = KeyStore::new();
        for (name, value) in policy_keys {
            keys.insert(name.to_owned(), value);
        }
        for connector in &config.api_connectors {
            for (reference, source) in connector.secrets() {
                let value = match source {
                    SecretSource::Inline(v) => v.into_bytes(),
                    SecretSource::File(path) => {
                        let bytes = std::fs::read(&path).map_err(|source| StartError::File {
                            what: "api connector certificate",
                            path: path.display().to_string(),
                            source,
                        })?;
                        if crate::key_files::holds_private_key(&bytes) {
                            crate::key_files::check_owner_only(
                                &format!("api_connectors ({}).auth.certificate", connector.name),
                                &path,
                            )
                            .map_err(StartError::Other)?;
                        }
                        bytes
                    }
                };
                keys.insert(reference, value);
            }
        }
        let mut extra_root_pems = Vec::new();
        for path in &config.outbound.ca_files {
            extra_root_pems.push(std::fs::read(path).map_err(|source| StartError::File {
                what: "outbound.ca_files",
                path: path.display().to_string(),
                source,
            })?);
        }
        let all_policies: Vec<Arc<Policy>> = policies.values().cloned().collect();
        let ui = crate::ui::Ui::load(
            &config.ui,
            config.server.development,
            &config.tenant.name,
            &config.server.public_url,
            &config.dir,
            config.custom_policies.as_ref().map(|c| c.dir.as_path()),
            &all_policies,
            trustframe_connector::outbound_client(&extra_root_pems)?,
        )
        .await
        .map_err(|e| StartError::Other(format!("ui: {e}")))?;
        let federation = crate::federation::Federation::new(
            trustframe_connector::outbound_client(&extra_root_pems)?,
            config.server.development,
            config
                .identity_providers
                .iter()
                .flat_map(|p| p.secrets())
                .filter_map(|(reference, source)| match source {
                    SecretSource::Inline(v) => Some((reference, v)),
                    SecretSource::File(_) => None,
                })
                // Custom policies' OpenID Connect profiles name their `client_secret` policy key.
                .chain(
                    config
                        .policy_keys
                        .iter()
                        .filter_map(|k| Some((k.name.clone(), k.value.clone()?))),
                )
                .collect(),
        );
        let audit = crate::audit::AuditLog::new(store.clone(), config.tenant.name.clone(), now);
        let mailer =
            crate::mail::MailService::new(&config.email, &extra_root_pems, &config.tenant.name)
                .map_err(StartError::Other)?
                .with_limits(store.clone(), &config.verification, now)
                .with_audit(audit.clone());
        let settings = ConnectorSettings {
            extra_root_pems,
            development: config.server.development,
            ..ConnectorSettings::default()
        };
        let connector = Connector::new(
            settings,
            keys,
            Arc::new(StoreAudit {
                store: store.clone(),
            }),
        )?;
        let hasher = PasswordHasherPool::new(&config.passwords)
            .await
            .map_err(StartError::Other)?;
        Ok(Self {
            name: config.tenant.name.clone(),
            domain: domain.clone(),
            id,
            extensions_app_id,
            directory: StoreDirectory {
                store: store.clone(),
                hasher,
                domain,
                now,
                oidc: oidc.clone(),
                lockout: (&config.lockout).into(),
                blocklist: config.passwords.blocklist.then(|| {
                    std::sync::Arc::new(crate::password_blocklist::PasswordBlocklist::bundled(&[
                        &config.tenant.name,
                    ]))
                }),
                audit,
            },
            store,
            oidc,
            flow_ids,
            policies,
            rest: ConnectorClient { connector },
            mailer,
            federation,
            sessions: config.sessions.clone(),
            ui,
            live_journeys: Default::default(),
            oauth_kv,
            audit_retention_days: config.audit.retention_days,
            development: config.server.development,
            app_ids_with_redirect: config
                .applications
                .iter()
                .filter(|a| a.client_secret.is_none())
                .flat_map(|a| {
                    a.redirect_uris
                        .iter()
                        .map(|u| (u.clone(), a.client_id.clone()))
                })
                .collect(),
        })
    }

    /// `contoso`, `contoso.onmicrosoft.com` or the tenant id, without regard to case.
    pub fn answers_to(&self, segment: &str) -> bool {
        segment.eq_ignore_ascii_case(&self.name)
            || segment.eq_ignore_ascii_case(&self.domain)
            || segment.eq_ignore_ascii_case(&self.id)
    }

    pub fn policy(&self, id: &str) -> Option<&Arc<Policy>> {
        self.policies.get(&PolicyId::new(id))
    }

    /// The SSO cookie's name: one session per tenant.
    pub fn sso_cookie(&self) -> String {
        format!("tf_sso_{}", self.name.to_ascii_lowercase())
    }
}

/// The `CryptographicKeys` id of a JwtIssuer's token signing key (`jwt-issuer-technical-profile.md`).
const ISSUER_SECRET: &str = "issuer_secret";
/// A configured key this close to an unconfigured reference is taken for a typo.
const NEAR_NAME: usize = 3;

/// The policies whose JwtIssuer signs with a configured policy key (`issuer_secret`, B2C's
/// `B2C_1A_TokenSigningKeyContainer`), each key parsed once however many policies share it.
/// A reference to a container that is not configured leaves the tenant's keys signing (the
/// documented default), unless a configured key has a near name: that is a typo, refused.
fn token_signing_keys(
    policies: &BTreeMap<PolicyId, Arc<Policy>>,
    configured: &[(&str, Vec<u8>)],
    now: i64,
) -> Result<Vec<(PolicyId, PolicyKey)>, StartError> {
    let mut parsed: Vec<PolicyKey> = Vec::new();
    let mut out = Vec::new();
    for policy in policies.values() {
        let Some((issuer, reference)) = issuer_secret(policy) else {
            continue;
        };
        let Some((name, pem)) = configured
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(reference))
        else {
            let near = configured.iter().map(|(name, _)| *name).find(|name| {
                edit_distance(&name.to_lowercase(), &reference.to_lowercase()) <= NEAR_NAME
            });
            if let Some(near) = near {
                return Err(StartError::Other(format!(
                    "{}: the JwtIssuer '{}' of policy '{}' signs with the policy key '{reference}', which is not configured (did you mean '{near}' of [[policy_keys]]?)",
                    issuer.span, issuer.id, policy.id
                )));
            }
            continue;
        };
        let key = match parsed.iter().find(|k| k.name() == *name) {
            Some(key) => key.clone(),
            None => {
                let key = PolicyKey::from_pem(name, pem, now)?;
                parsed.push(key.clone());
                key
            }
        };
        out.push((policy.id.clone(), key));
    }
    Ok(out)
}

/// The JwtIssuer of the policy's first `SendClaims` (its journey, then the sub journeys it
/// invokes, then its token journey) and the key container its `issuer_secret` names.
fn issuer_secret(policy: &Policy) -> Option<(&TechnicalProfile, &str)> {
    let mut pending: Vec<&UserJourney> = policy.journey().into_iter().collect();
    pending.extend(policy.token_journey());
    let mut seen: Vec<&UserJourneyId> = Vec::new();
    let mut i = 0;
    while let Some(journey) = pending.get(i).copied() {
        i += 1;
        if seen.contains(&&journey.id) {
            continue;
        }
        seen.push(&journey.id);
        // Sub journeys are searched after this one, in step order, before the token journey.
        let mut at = i;
        for step in &journey.steps {
            match (step.kind, &step.cpim_issuer, &step.sub_journey) {
                (StepKind::SendClaims, Some(issuer), _) => {
                    let profile = policy.technical_profile(issuer)?;
                    let reference = profile
                        .cryptographic_keys
                        .iter()
                        .find(|(id, _)| id.eq_ignore_ascii_case(ISSUER_SECRET))
                        .map(|(_, reference)| reference.as_str())?;
                    return Some((profile, reference));
                }
                (StepKind::InvokeSubJourney, _, Some(sub)) => {
                    if let Some(sub) = policy.any_journey(sub) {
                        pending.insert(at, sub);
                        at += 1;
                    }
                }
                _ => {}
            }
        }
    }
    None
}

impl Tenant {
    /// The client id of an application that registered `redirect_uri` and may receive an
    /// id_token directly (the token viewer's "Run user flow").
    pub fn oidc_app_for(&self, redirect_uri: &str) -> Option<String> {
        self.app_ids_with_redirect
            .iter()
            .find(|(uri, _)| uri == redirect_uri)
            .map(|(_, id)| id.clone())
    }
}
