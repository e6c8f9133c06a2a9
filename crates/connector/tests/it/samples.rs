//! The connector against the sample APIs of the B2C docs (samples/rest-apis), end to end.

use serde_json::json;
use trustframe_connector::{ExchangeOutcome, KeyStore};
use trustframe_policy::ClaimRef;

use crate::helpers::*;

#[tokio::test]
async fn access_code_as_a_validation_profile() {
    let pki = Pki::new();
    let base = serve(Tls::Server(&pki), trustframe_samples::router()).await;
    let h = Harness::new(&pki, KeyStore::new());
    let t = tp(&format!("{base}/validate-accesscode"))
        .id("REST-ValidateAccessCode")
        .input(ClaimRef::new("accessCode"));
    continued(
        h.exchange(&t, &claims(&[("accessCode", json!("88888"))]))
            .await,
    );
    assert_eq!(
        h.exchange(&t, &claims(&[("accessCode", json!("12345"))]))
            .await,
        ExchangeOutcome::ValidationError {
            user_message: "Invalid access code. Please try again.".into(),
            developer_message: None,
            code: Some("InvalidAccessCode".into()),
        }
    );
    // The same sample as an API connector after attribute collection.
    let t = tp(&format!("{base}/validate-accesscode"))
        .connector("PostAttributeCollection")
        .meta("ExtensionsAppId", "0123456789abcdef0123456789abcdef")
        .input(ClaimRef::new("accessCode").partner("extension_accessCode"));
    match h.exchange(&t, &claims(&[("accessCode", json!("1"))])).await {
        ExchangeOutcome::ValidationError { user_message, .. } => {
            assert_eq!(user_message, "Invalid access code. Please try again.")
        }
        other => panic!("{other:?}"),
    }
    continued(
        h.exchange(&t, &claims(&[("accessCode", json!("88888"))]))
            .await,
    );
}

#[tokio::test]
async fn get_profile_enriches_the_token_with_the_balance() {
    let pki = Pki::new();
    let state = trustframe_samples::SamplesState::new().with_balance("user-1", "760.50");
    let base = serve(
        Tls::Server(&pki),
        trustframe_samples::router_with(state.clone()),
    )
    .await;
    let h = Harness::new(&pki, KeyStore::new());
    // The REST-GetProfile of `add-api-connector-token-enrichment.md`.
    let t = tp(&format!("{base}/GetProfile"))
        .id("REST-GetProfile")
        .meta("SendClaimsIn", "Body")
        .meta("IncludeClaimResolvingInClaimsHandling", "true")
        .input(ClaimRef::new("objectId"))
        .input(
            ClaimRef::new("userLanguage")
                .partner("lang")
                .default_value("{Culture:LCID}")
                .always_default(),
        )
        .output(ClaimRef::new("balance"));
    let (c, _) = continued(
        h.exchange(&t, &claims(&[("objectId", json!("user-1"))]))
            .await,
    );
    assert_eq!(c[&"balance".into()], json!("760.50"));
    let (c, _) = continued(
        h.exchange(&t, &claims(&[("objectId", json!("new-user"))]))
            .await,
    );
    assert_eq!(c[&"balance".into()], json!("50.00"));
    assert_eq!(state.balance("new-user").as_deref(), Some("50.00"));
}
