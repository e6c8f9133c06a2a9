//! The discovery document, compared with the one B2C publishes for a user flow.

use serde_json::json;
use trustframe_oidc::{OidcConfig, OidcError, OidcService, PolicyClaim, TokenSettings};
use trustframe_store::Store;

use crate::helpers::*;

#[tokio::test]
async fn discovery_document_matches_b2c() {
    let env = env().await;
    let output: Vec<String> = [
        "name",
        "emails",
        "given_name",
        "idp",
        "family_name",
        "newUser",
        "oid",
        "sub",
        "extension_Role",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let doc = env
        .svc
        .discovery("contoso.onmicrosoft.com", "B2C_1_susi", &output);
    let base = "https://login.contoso.test/contoso.onmicrosoft.com/B2C_1_susi";
    // Member for member and in B2C's order.
    let expected = json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": [
            "code", "code id_token", "code token", "code id_token token",
            "id_token", "id_token token", "token", "token id_token"
        ],
        "scopes_supported": ["openid"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "name", "emails", "given_name", "idp", "family_name", "newUser", "oid", "sub",
            "extension_Role", "tfp", "iss", "iat", "exp", "aud", "acr", "nonce", "auth_time"
        ]
    });
    assert_eq!(serde_json::to_value(&doc).unwrap(), expected);
    let text = serde_json::to_string(&doc).unwrap();
    let order: Vec<usize> = [
        "\"issuer\"",
        "\"authorization_endpoint\"",
        "\"token_endpoint\"",
        "\"end_session_endpoint\"",
        "\"jwks_uri\"",
        "\"response_modes_supported\"",
        "\"claims_supported\"",
    ]
    .iter()
    .map(|m| text.find(m).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "member order");
    // The tenant as the caller spells it (name, domain or id).
    let doc = env.svc.discovery(TENANT_ID, "b2c_1_susi", &[]);
    assert_eq!(
        doc.jwks_uri,
        format!("{PUBLIC_URL}/{TENANT_ID}/b2c_1_susi/discovery/v2.0/keys")
    );
    assert_eq!(doc.issuer, ISSUER);
    assert!(
        doc.claims_supported
            .starts_with(&["sub".to_owned(), "tfp".to_owned()])
    );
}

#[tokio::test]
async fn invalid_configuration_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let mut apps = applications();
    apps[0]
        .api_permissions
        .push("https://contoso.onmicrosoft.com/nowhere/x".into());
    let result = OidcService::new(
        store,
        OidcConfig {
            public_url: PUBLIC_URL.into(),
            tenant_id: TENANT_ID.into(),
            applications: apps,
            tokens: TokenSettings {
                access_token_lifetime_minutes: 2000,
                policy_claim: PolicyClaim::Acr,
                ..TokenSettings::default()
            },
            key_encryption: None,
        },
    )
    .await;
    let Err(OidcError::Config(errors)) = result else {
        panic!("configuration should be refused");
    };
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("access_token_lifetime_minutes")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("applications[0].api_permissions")),
        "{text:?}"
    );
}
