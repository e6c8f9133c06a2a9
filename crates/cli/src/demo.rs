//! `trustframe demo`: tenant `contoso` on the embedded SQLite store, the sample REST APIs of the
//! B2C docs mounted under `/samples` and wired as API connectors, and the token viewer as the
//! app's redirect URI. No config file needed.

use std::path::Path;

use anyhow::{Context, Result};
use trustframe_server::{Config, Server, ServerOptions};

/// The demo app's client id (fixed, so bookmarks keep working).
pub const DEMO_CLIENT_ID: &str = "6c1b5e0e-8f0a-4a3e-9d2b-0d1e2f3a4b5c";
pub const TODO_API_CLIENT_ID: &str = "3f9a8e7d-6c5b-4a39-8271-605f4e3d2c1b";
/// Contoso's app registration at the demo's second tenant, `fabrikam`, its OpenID provider.
pub const FABRIKAM_CLIENT_ID: &str = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a";
/// A demo secret: the demo runs on 127.0.0.1 only.
const FABRIKAM_CLIENT_SECRET: &str = "demo-fabrikam-secret";

/// The second tenant: an external OpenID Connect provider for contoso, on the same port, so a
/// newcomer can click "Fabrikam" on contoso's sign-in page and see a federated sign-up.
pub fn fabrikam_config_text(public_url: &str, listen: &str) -> String {
    format!(
        r#"
[server]
listen = "{listen}"
public_url = "{public_url}"
development = true

[storage]
url = "sqlite://fabrikam.db"

[email]
transport = "mailbox"

[tenant]
name = "fabrikam"

[[applications]]
name = "Contoso (federation)"
client_id = "{FABRIKAM_CLIENT_ID}"
client_secret = "{FABRIKAM_CLIENT_SECRET}"
redirect_uris = ["{public_url}/contoso.onmicrosoft.com/oauth2/authresp"]

[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
sign_up_attributes = ["givenName", "surname", "displayName"]
# The demo's stand-in provider: no code to fetch before the federation.
email_verification = false
"#
    )
}

pub fn config_text(public_url: &str, listen: &str) -> String {
    format!(
        r##"
[server]
listen = "{listen}"
public_url = "{public_url}"
development = true

[storage]
url = "sqlite://contoso.db"

# Verification codes go to the development mailbox at /dev/mailbox: no SMTP server needed.
[email]
transport = "mailbox"

[tenant]
name = "contoso"

# Company branding (customize-ui.md): logo, colour and a sign-in text, in French too.
[ui.branding]
logo = "contoso-logo.svg"
primary_color = "#0f6b5c"
background_color = "#eef3f1"
sign_in_text = "Welcome to Contoso. Sign in, or sign up with the access code 88888."
[ui.branding.languages.fr]
sign_in_text = "Bienvenue chez Contoso. Connectez-vous, ou inscrivez-vous avec le code d'accès 88888."

[[applications]]
name = "Token viewer (demo)"
client_id = "{DEMO_CLIENT_ID}"
redirect_uris = ["{public_url}/token-viewer"]
allow_implicit_id_token = true
api_permissions = ["https://contoso.onmicrosoft.com/todo-api/tasks.read"]

[[applications]]
name = "todo-api"
client_id = "{TODO_API_CLIENT_ID}"
app_id_uri = "https://contoso.onmicrosoft.com/todo-api"
scopes = ["tasks.read", "tasks.write"]

[[user_attributes]]
name = "accessCode"
display_name = "Access code (try 88888)"

[[user_attributes]]
name = "balance"
display_name = "Balance"

[[user_attributes]]
name = "loyaltyNumber"
display_name = "Loyalty number"

[[api_connectors]]
name = "check-access-code"
url = "{public_url}/samples/validate-accesscode"
allow_insecure = true

[[api_connectors]]
name = "get-profile"
url = "{public_url}/samples/GetProfile"
allow_insecure = true

[[api_connectors]]
name = "loyalty-number"
url = "{public_url}/samples/api-connector/loyalty-number"
allow_insecure = true

[[identity_providers]]
id = "fabrikam"
type = "openid_connect"
display_name = "Fabrikam"
metadata_url = "{public_url}/fabrikam/B2C_1_susi/v2.0/.well-known/openid-configuration"
client_id = "{FABRIKAM_CLIENT_ID}"
client_secret = "{FABRIKAM_CLIENT_SECRET}"
scope = "openid profile email"
claims = {{ user_id = "sub", display_name = "name", given_name = "given_name", surname = "family_name", email = "emails" }}

[[user_flows]]
id = "B2C_1_susi"
type = "sign_up_or_sign_in"
identity_providers = ["local", "fabrikam"]
sign_up_attributes = ["givenName", "surname", "displayName", "extension_accessCode"]
application_claims = ["email", "givenName", "surname", "displayName", "objectId", "identityProvider", "newUser", "extension_balance"]
api_connectors = {{ post_attribute_collection = "check-access-code", pre_token_issuance = "get-profile" }}

[[user_flows]]
id = "B2C_1_signin"
type = "sign_in"
application_claims = ["email", "displayName", "objectId", "extension_loyaltyNumber"]
api_connectors = {{ pre_token_issuance = "loyalty-number" }}

[[user_flows]]
id = "B2C_1_reset"
type = "password_reset"
application_claims = ["email", "displayName", "objectId"]

[[user_flows]]
id = "B2C_1_edit"
type = "profile_edit"
profile_attributes = ["givenName", "surname", "displayName"]
application_claims = ["email", "givenName", "surname", "displayName", "objectId"]

# The same tenant as B2C custom policies: samples/custom-policies/contoso, written into the
# data folder at start (B2C_1A_signup_signin, B2C_1A_ProfileEdit, B2C_1A_PasswordReset and the
# REST scenarios B2C_1A_signup_signin_accesscode, B2C_1A_signup_signin_balance,
# B2C_1A_rest_jsonpath, B2C_1A_rest_step_accesscode) and B2C_1A_DeleteMyAccount.
[custom_policies]
dir = "policies"
settings = "policies/settings.json"
"##
    )
}

/// The demo's custom policy set (`samples/custom-policies/contoso`), built into the binary.
const POLICY_FILES: &[(&str, &str)] = &[
    (
        "TrustFrameworkBase.xml",
        include_str!("../../../samples/custom-policies/contoso/TrustFrameworkBase.xml"),
    ),
    (
        "TrustFrameworkLocalization.xml",
        include_str!("../../../samples/custom-policies/contoso/TrustFrameworkLocalization.xml"),
    ),
    (
        "TrustFrameworkExtensions.xml",
        include_str!("../../../samples/custom-policies/contoso/TrustFrameworkExtensions.xml"),
    ),
    (
        "SignUpOrSignin.xml",
        include_str!("../../../samples/custom-policies/contoso/SignUpOrSignin.xml"),
    ),
    (
        "ProfileEdit.xml",
        include_str!("../../../samples/custom-policies/contoso/ProfileEdit.xml"),
    ),
    (
        "PasswordReset.xml",
        include_str!("../../../samples/custom-policies/contoso/PasswordReset.xml"),
    ),
    (
        "SignUpOrSigninAccessCode.xml",
        include_str!("../../../samples/custom-policies/contoso/SignUpOrSigninAccessCode.xml"),
    ),
    (
        "SignUpOrSigninBalance.xml",
        include_str!("../../../samples/custom-policies/contoso/SignUpOrSigninBalance.xml"),
    ),
    (
        "RestJsonPath.xml",
        include_str!("../../../samples/custom-policies/contoso/RestJsonPath.xml"),
    ),
    (
        "RestStepAccessCode.xml",
        include_str!("../../../samples/custom-policies/contoso/RestStepAccessCode.xml"),
    ),
    (
        "DeleteMyAccount.xml",
        include_str!("../../../samples/custom-policies/contoso/DeleteMyAccount.xml"),
    ),
];

/// Writes the custom policy set and its settings (the sample APIs on this server) to
/// `{data_dir}/policies`, replacing what an earlier run wrote.
pub fn write_policies(data_dir: &Path, public_url: &str) -> Result<()> {
    let dir = data_dir.join("policies");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in POLICY_FILES {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    // The company branding's logo ([ui.branding] of the demo's config).
    let logo = data_dir.join("contoso-logo.svg");
    std::fs::write(
        &logo,
        include_str!("../../../samples/branding/contoso-logo.svg"),
    )
    .with_context(|| format!("cannot write {}", logo.display()))?;
    let settings = serde_json::json!({ "RestApiBaseUrl": format!("{public_url}/samples") });
    let path = dir.join("settings.json");
    std::fs::write(&path, settings.to_string())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub async fn run(port: u16, data_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    let public_url = format!("http://{addr}");
    let config_path = data_dir.join("trustframe.toml");
    write_policies(data_dir, &public_url)?;
    let text = config_text(&public_url, &addr.to_string());
    let config = Config::parse(&text, &config_path, std::iter::empty())
        .map_err(|e| anyhow::anyhow!("demo config: {e}"))?;
    // Written out so that operator commands work on the demo's data:
    // `trustframe audit tail --config trustframe-demo/trustframe.toml`.
    std::fs::write(&config_path, &text)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let fabrikam_path = data_dir.join("fabrikam.toml");
    let fabrikam_text = fabrikam_config_text(&public_url, &addr.to_string());
    let fabrikam = Config::parse(&fabrikam_text, &fabrikam_path, std::iter::empty())
        .map_err(|e| anyhow::anyhow!("demo config (fabrikam): {e}"))?;
    std::fs::write(&fabrikam_path, &fabrikam_text)
        .with_context(|| format!("cannot write {}", fabrikam_path.display()))?;
    // The docs' todo API, protected by trustframe-guard with this tenant's B2C_1_susi tokens:
    // GET /todo-api/api/values with an access token for
    // https://contoso.onmicrosoft.com/todo-api/tasks.read.
    let todo = todo_api::Config {
        metadata: Some(format!(
            "{public_url}/contoso/B2C_1_susi/v2.0/.well-known/openid-configuration"
        )),
        client_id: Some(TODO_API_CLIENT_ID.into()),
        policy: Some("B2C_1_susi".into()),
        scopes: Vec::new(),
        accept_id_tokens: false,
        listen: addr,
        ca_file: None,
        token_cache: 10_000,
        no_auth: false,
    };
    let guard = todo_api::guard(&todo).map_err(|e| anyhow::anyhow!("todo API: {e}"))?;
    let samples = axum::Router::new()
        .nest("/samples", trustframe_samples::router())
        .nest("/todo-api", todo_api::router(&guard));
    let server = Server::build(ServerOptions {
        configs: vec![config, fabrikam],
        extra_routes: Some(samples),
        home_links: vec![
            ("Mailbox (verification codes)".into(), "/dev/mailbox".into()),
            ("Metrics".into(), "/metrics".into()),
        ],
        listener: Some(listener),
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Trustframe demo: open {public_url}/ (data in {})",
        data_dir.display()
    );
    server.run().await.map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_custom_policies_load_beside_its_user_flows() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write_policies(dir.path(), "http://127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        let text = config_text("http://127.0.0.1:8080", "127.0.0.1:8080");
        let config = Config::parse(
            &text,
            &dir.path().join("trustframe.toml"),
            std::iter::empty(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let loaded = trustframe_server::policies::load(&config, &"0".repeat(32))
            .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<String> = loaded.policies.iter().map(|p| p.id.to_string()).collect();
        for id in [
            "B2C_1_susi",
            "B2C_1A_signup_signin",
            "B2C_1A_ProfileEdit",
            "B2C_1A_PasswordReset",
            "B2C_1A_signup_signin_accesscode",
            "B2C_1A_signup_signin_balance",
            "B2C_1A_rest_jsonpath",
            "B2C_1A_rest_step_accesscode",
            "B2C_1A_DeleteMyAccount",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
        }
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn the_demo_config_is_valid() {
        let text = config_text("http://127.0.0.1:8080", "127.0.0.1:8080");
        let config = Config::parse(
            &text,
            Path::new("/tmp/demo/trustframe.toml"),
            std::iter::empty(),
        );
        assert!(config.is_ok(), "{:?}", config.err());
        let text = fabrikam_config_text("http://127.0.0.1:8080", "127.0.0.1:8080");
        let config = Config::parse(
            &text,
            Path::new("/tmp/demo/fabrikam.toml"),
            std::iter::empty(),
        );
        assert!(config.is_ok(), "{:?}", config.err());
    }
}
