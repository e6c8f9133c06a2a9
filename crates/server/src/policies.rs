//! Every policy of a tenant, from both front ends: user flows compiled from the config and the
//! relying-party files of the custom-policy folder, each checked by the link pass, which also
//! prepares what runs read (a RESTful profile's typed settings). `serve` and
//! `trustframe policy check` load policies through here, so they refuse the same problems.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use trustframe_policy::userflow::{self, TenantContext};
use trustframe_policy::xml::{self, Limits, LoadOptions, PolicyFile};
use trustframe_policy::{Diagnostic, Policy, Severity, link};

use crate::config::{Config, CustomPoliciesConfig};

/// Everything wrong with a tenant's policies, each problem on its own line.
#[derive(Debug)]
pub struct PolicyProblems {
    /// User-flow errors name their config key (`user_flows[0].sign_up_attributes`).
    pub config: Vec<String>,
    /// Custom-policy errors point at their file, line and column.
    pub diagnostics: Vec<Diagnostic>,
}

impl PolicyProblems {
    fn is_empty(&self) -> bool {
        self.config.is_empty() && self.diagnostics.is_empty()
    }

    pub fn count(&self) -> usize {
        self.config.len() + self.diagnostics.len()
    }
}

impl fmt::Display for PolicyProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.count();
        write!(
            f,
            "{n} problem{} in the tenant's policies:",
            if n == 1 { "" } else { "s" }
        )?;
        for line in &self.config {
            write!(f, "\n  {line}")?;
        }
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyProblems {}

/// The tenant's policies, with the warnings the loader gave.
pub struct LoadedPolicies {
    pub policies: Vec<Policy>,
    /// Ids of the user flows, in configuration order (the home page lists them).
    pub user_flow_ids: Vec<String>,
    pub warnings: Vec<Diagnostic>,
    /// Authorize parameters custom policies read with `{OAUTH-KV:name}` (lower-cased): kept
    /// with the journey beside the protocol's own.
    pub oauth_kv: Vec<String>,
}

/// Reads the `*.xml` files of the folder (not recursive), in name order.
fn read_folder(config: &CustomPoliciesConfig) -> Result<Vec<PolicyFile>, Diagnostic> {
    let folder_error = |message: String| Diagnostic {
        span: trustframe_policy::Span::new(config.dir.display().to_string(), 0, 0),
        severity: Severity::Error,
        message,
    };
    let entries = std::fs::read_dir(&config.dir)
        .map_err(|e| folder_error(format!("cannot read the custom policy folder: {e}")))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|x| x.to_string_lossy().eq_ignore_ascii_case("xml"))
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(folder_error(
            "the custom policy folder holds no .xml file".into(),
        ));
    }
    let limits = Limits::default();
    let mut files = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        // Refuse an oversized file before reading it into memory.
        if let Ok(meta) = std::fs::metadata(&path)
            && usize::try_from(meta.len()).unwrap_or(usize::MAX) > limits.max_file_bytes
        {
            return Err(Diagnostic {
                span: trustframe_policy::Span::new(shown, 0, 0),
                severity: Severity::Error,
                message: format!(
                    "the file is {} bytes; policy files are limited to {} bytes",
                    meta.len(),
                    limits.max_file_bytes
                ),
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| Diagnostic {
            span: trustframe_policy::Span::new(shown.clone(), 0, 0),
            severity: Severity::Error,
            message: format!("cannot read: {e}"),
        })?;
        files.push(PolicyFile { name: shown, bytes });
    }
    Ok(files)
}

/// `{Settings:Name}` values: a JSON object of strings (numbers and booleans are written out).
fn read_settings(path: &Path) -> Result<BTreeMap<String, String>, Diagnostic> {
    let error = |message: String| Diagnostic {
        span: trustframe_policy::Span::new(path.display().to_string(), 0, 0),
        severity: Severity::Error,
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| error(format!("cannot read the settings file: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| Diagnostic {
        span: trustframe_policy::Span::new(
            path.display().to_string(),
            u32::try_from(e.line()).unwrap_or(0),
            u32::try_from(e.column()).unwrap_or(0),
        ),
        severity: Severity::Error,
        message: format!("the settings file is not JSON: {e}"),
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(error(
            "the settings file must hold a JSON object of names to values".into(),
        ));
    };
    let mut settings = BTreeMap::new();
    for (name, value) in map {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => {
                return Err(error(format!(
                    "setting '{name}' must be a string, a number or a boolean, not {other}"
                )));
            }
        };
        settings.insert(name, text);
    }
    Ok(settings)
}

/// What a user flow's sign-in page says for an unknown account and for a wrong password alike
/// (`[sign_in] distinct_errors = false`, the default): B2C's two messages tell anyone which
/// addresses have an account.
pub const GENERIC_SIGN_IN_ERROR: &str = "Your email address or password is incorrect.";

/// Gives the user flow's password check one message for both failures. Custom policies keep
/// their own metadata (`UserMessageIfClaimsPrincipalDoesNotExist`, `UserMessageIfInvalidPassword`).
fn generic_sign_in_error(policy: &mut Policy) {
    for profile in policy.technical_profiles.values_mut() {
        if profile.kind == trustframe_policy::TechnicalProfileKind::PasswordCheck {
            for key in [
                trustframe_policy::names::MESSAGE_IF_DOES_NOT_EXIST,
                trustframe_policy::names::MESSAGE_IF_INVALID_PASSWORD,
            ] {
                profile.metadata.insert(key, GENERIC_SIGN_IN_ERROR);
            }
        }
    }
}

/// Compiles the user flows and loads the custom policies of `config`; every problem of both
/// front ends is reported, not just the first.
pub fn load(config: &Config, extensions_app_id: &str) -> Result<LoadedPolicies, PolicyProblems> {
    let domain = format!(
        "{}.onmicrosoft.com",
        config.tenant.name.to_ascii_lowercase()
    );
    let mut problems = PolicyProblems {
        config: Vec::new(),
        diagnostics: Vec::new(),
    };
    let mut warnings = Vec::new();
    let mut policies: Vec<Policy> = Vec::new();

    let context = TenantContext {
        domain: &domain,
        extensions_app_id,
        attributes: &config.user_attributes,
        api_connectors: &config.api_connectors,
        identity_providers: &config.identity_providers,
        page_layouts: &config.ui.page_layouts,
    };
    for (i, flow) in config.user_flows.iter().enumerate() {
        match userflow::compile(flow, i, &context) {
            Ok(mut policy) => {
                if !config.sign_in.distinct_errors {
                    generic_sign_in_error(&mut policy);
                }
                for d in link::check(&policy) {
                    match d.severity {
                        Severity::Error => problems
                            .config
                            .push(format!("user_flows[{i}] ({}): {}", flow.id, d.message)),
                        Severity::Warning => warnings.push(d),
                    }
                }
                link::prepare(&mut policy);
                // A user flow's templates keep their scripts when `[ui] javascript` says so.
                policy.relying_party.behaviors.script_execution = config.ui.javascript;
                policies.push(policy);
            }
            Err(e) => problems.config.push(e.to_string()),
        }
    }

    let mut oauth_kv = Vec::new();
    if let Some(custom) = &config.custom_policies {
        let settings = match &custom.settings {
            Some(path) => read_settings(path).unwrap_or_else(|d| {
                problems.diagnostics.push(d);
                BTreeMap::new()
            }),
            None => BTreeMap::new(),
        };
        match read_folder(custom) {
            Ok(files) => {
                for file in &files {
                    crate::journeys::oauth_kv_names(
                        &String::from_utf8_lossy(&file.bytes),
                        &mut oauth_kv,
                    );
                }
                let options = LoadOptions {
                    tenant_domain: &domain,
                    settings: &settings,
                    limits: Limits::default(),
                };
                match xml::load(&files, &options) {
                    Ok(loaded) => {
                        warnings.extend(loaded.warnings);
                        for mut policy in loaded.policies {
                            if let Some(other) = policies.iter().find(|p| p.id == policy.id) {
                                problems.diagnostics.push(Diagnostic {
                                    span: policy.span.clone(),
                                    severity: Severity::Error,
                                    message: format!(
                                        "policy '{}' is also a user flow ('{}'): policy ids must be unique",
                                        policy.id, other.id
                                    ),
                                });
                                continue;
                            }
                            // xml::load ran the link pass's checks; its settings are filled here.
                            link::prepare(&mut policy);
                            policies.push(policy);
                        }
                    }
                    Err(diagnostics) => problems.diagnostics.extend(diagnostics),
                }
            }
            Err(d) => problems.diagnostics.push(d),
        }
    }

    if problems.is_empty() {
        Ok(LoadedPolicies {
            policies,
            user_flow_ids: config.user_flows.iter().map(|f| f.id.clone()).collect(),
            warnings,
            oauth_kv,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use trustframe_policy::TechnicalProfileKind;

    use super::*;

    #[test]
    fn restful_profiles_are_loaded_with_their_settings_prepared() {
        let text = r#"
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
[[api_connectors]]
name = "check-access-code"
url = "https://api.contoso.test/validate"
auth = { type = "basic", username = "b2c", password = "change-me" }
[[user_flows]]
id = "B2C_1_signup"
type = "sign_up"
api_connectors = { post_attribute_collection = "check-access-code" }
"#;
        let config = Config::parse(text, Path::new("/tmp/trustframe.toml"), std::iter::empty())
            .unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(&config, &"0".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        let rest: Vec<_> = loaded
            .policies
            .iter()
            .flat_map(|p| p.technical_profiles.values())
            .filter(|tp| tp.kind == TechnicalProfileKind::Restful)
            .collect();
        assert!(!rest.is_empty());
        for tp in rest {
            let settings = tp
                .rest
                .as_ref()
                .unwrap_or_else(|| panic!("{}: settings not prepared", tp.id));
            assert_eq!(
                settings.service_url.raw(),
                "https://api.contoso.test/validate"
            );
        }
    }
}
