//! The steps a user flow gains from external identity providers (`add-api-connector.md`,
//! `identity-provider-generic-openid-connect.md`), named after B2C's starter pack
//! (`SocialAndLocalAccounts`): a button per provider on the sign-in page, the provider's claims
//! exchange, a directory read by the federated identity, the `PostFederationSignup` API
//! connector, and the attribute page that writes a new user.

use crate::identity_provider::{self, IdentityProvider, LOCAL};
use crate::ids::TechnicalProfileId;
use crate::model::*;

use super::{Builder, ConfigError, UserFlow, UserFlowType, all_attributes};

/// Partner claim types that key a directory read or write by a federated identity: the
/// engine looks the user up by (`federated`, issuer, issuer-assigned id).
pub use crate::names::{FEDERATED_ID, FEDERATED_ISSUER};

/// The identity providers a flow names, checked against the tenant's.
pub(super) struct FlowProviders<'a> {
    pub local: bool,
    pub external: Vec<&'a IdentityProvider>,
}

pub(super) fn providers<'a>(
    b: &Builder<'a>,
    flow: &UserFlow,
) -> Result<FlowProviders<'a>, ConfigError> {
    let key = b.key("identity_providers");
    let mut local = false;
    let mut external: Vec<&'a IdentityProvider> = Vec::new();
    for name in &flow.identity_providers {
        if name.eq_ignore_ascii_case(LOCAL) {
            local = true;
            continue;
        }
        let p = b
            .tenant
            .identity_providers
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                ConfigError::new(
                    &key,
                    format!(
                        "'{name}' is neither 'local' nor the id of an [[identity_providers]] entry"
                    ),
                )
            })?;
        if external.iter().any(|e| e.id == p.id) {
            return Err(ConfigError::new(&key, format!("'{name}' is named twice")));
        }
        external.push(p);
    }
    if !local && external.is_empty() {
        return Err(ConfigError::new(
            &key,
            "names no identity provider: add \"local\" or an [[identity_providers]] id",
        ));
    }
    if flow.kind == UserFlowType::SignUp && (!local || !external.is_empty()) {
        return Err(ConfigError::new(
            &key,
            "a sign_up flow offers local accounts only for now; use sign_up_or_sign_in for external providers",
        ));
    }
    Ok(FlowProviders { local, external })
}

/// What the journey assembly needs from the federation profiles.
pub(super) struct Federation {
    /// (claims exchange id, technical profile) per provider, in the flow's order.
    pub exchanges: Vec<ClaimsExchange>,
    /// Steps after the provider's claims exchange, each skipped for local accounts and for
    /// federated users who exist already.
    pub steps: Vec<(String, TechnicalProfileId)>,
}

pub(super) fn build(
    b: &mut Builder<'_>,
    flow: &UserFlow,
    providers: &[&IdentityProvider],
) -> Result<Option<Federation>, ConfigError> {
    if providers.is_empty() {
        if flow.api_connectors.post_federation_signup.is_some() {
            return Err(ConfigError::new(
                b.key("api_connectors.post_federation_signup"),
                "this flow has no identity provider to federate with (add one to identity_providers)",
            ));
        }
        return Ok(None);
    }
    let tenant = b.tenant;
    let exchanges = providers
        .iter()
        .map(|p| {
            let tp = b.add(p.technical_profile());
            ClaimsExchange {
                id: p.exchange_id(),
                technical_profile: tp,
            }
        })
        .collect();

    let key_claims = || {
        vec![
            ClaimRef::new(identity_provider::ISSUER_USER_ID)
                .partner(FEDERATED_ID)
                .required(),
            ClaimRef::new("identityProvider")
                .partner(FEDERATED_ISSUER)
                .required(),
        ]
    };
    let mut attributes: Vec<ClaimRef> = vec![ClaimRef::new("email")];
    attributes.extend(
        all_attributes(tenant)
            .iter()
            .map(|a| ClaimRef::new(a.as_str())),
    );

    let mut read = TechnicalProfile::new(
        "AAD-UserReadUsingAlternativeSecurityId-NoError",
        TechnicalProfileKind::Directory,
    );
    read.metadata.insert("Operation", "Read");
    read.metadata
        .insert("RaiseErrorIfClaimsPrincipalDoesNotExist", "false");
    read.input_claims = key_claims();
    read.output_claims = vec![ClaimRef::new("objectId")];
    read.output_claims.extend(attributes.iter().cloned());
    let read = b.add(read);

    // identities = [{signInType: federated, issuer, issuerAssignedId}] for API connectors.
    let identities = b.transformation(
        "CreateFederatedIdentities",
        "CreateIdentitiesCollection",
        &[
            (identity_provider::ISSUER_USER_ID, "issuerAssignedId"),
            ("identityProvider", "issuer"),
        ],
        &[("signInType", "federated")],
        &[("identities", "collection")],
    );

    let mut steps = vec![("AADUserReadWithAlternativeSecurityId".to_owned(), read)];
    if let Some(name) = &flow.api_connectors.post_federation_signup {
        let mut sent = vec!["givenName".to_owned(), "surname".to_owned()];
        sent.extend(flow.sign_up_attributes.iter().cloned());
        let rest = b.api_connector(
            "post_federation_signup",
            "PostFederationSignup",
            name,
            &sent,
        )?;
        if let Some(p) = b.profiles.get_mut(&rest) {
            p.input_claims_transformations.push(identities.clone());
        }
        steps.push(("PostFederationSignupExchange".to_owned(), rest));
    }

    let mut write = TechnicalProfile::new(
        "AAD-UserWriteUsingAlternativeSecurityId",
        TechnicalProfileKind::Directory,
    );
    write.metadata.insert("Operation", "Write");
    write
        .metadata
        .insert("RaiseErrorIfClaimsPrincipalAlreadyExists", "true");
    write.input_claims = key_claims();
    write.persisted_claims = attributes;
    write.output_claims = vec![ClaimRef::new("objectId"), ClaimRef::new("newUser")];
    let write = b.add(write);

    // The attribute page of a new federated user, prefilled from the provider's claims (and
    // the PostFederationSignup API's); the user is written only when it is submitted.
    let mut page = TechnicalProfile::new("SelfAsserted-Social", TechnicalProfileKind::SelfAsserted);
    page.display_name = "Tell us about yourself".into();
    page.display_claims = vec![ClaimRef::new("email").required()];
    page.display_claims.extend(
        flow.sign_up_attributes
            .iter()
            .map(|a| ClaimRef::new(a.as_str()).required()),
    );
    page.output_claims = page.display_claims.clone();
    if let Some(name) = &flow.api_connectors.post_attribute_collection {
        // The local sign-up's profile, with federated identities instead of local ones.
        let existing =
            TechnicalProfileId::new(format!("REST-ApiConnector-PostAttributeCollection-{name}"));
        let local = if b.profiles.contains_key(&existing) {
            existing
        } else {
            b.api_connector(
                "post_attribute_collection",
                "PostAttributeCollection",
                name,
                &flow.sign_up_attributes,
            )?
        };
        if let Some(mut p) = b.profiles.get(&local).cloned() {
            p.id = TechnicalProfileId::new(format!("{local}-Federated"));
            p.input_claims_transformations = vec![identities];
            let id = b.add(p);
            page.validation_technical_profiles
                .push(ValidationTechnicalProfile::new(id));
        }
    }
    page.validation_technical_profiles
        .push(ValidationTechnicalProfile::new(write));
    let page = b.add(page);
    steps.push(("SelfAssertedSocialExchange".to_owned(), page));
    Ok(Some(Federation { exchanges, steps }))
}

/// Preconditions of the steps after a federation: skip for local accounts (no issuer user
/// id) and for users already found.
pub(super) fn after_federation() -> Vec<Precondition> {
    vec![
        Precondition::skip_if_exists("objectId"),
        Precondition::skip_unless_exists(identity_provider::ISSUER_USER_ID),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::{TenantContext, compile};
    use super::*;

    fn provider() -> IdentityProvider {
        toml::from_str(
            r#"id = "fabrikam"
type = "openid_connect"
display_name = "Fabrikam"
metadata_url = "https://127.0.0.1:9/.well-known/openid-configuration"
client_id = "abc"
client_secret = "s""#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn flow(text: &str) -> UserFlow {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn providers_add_buttons_and_the_federated_sign_up_steps() {
        let providers = [provider()];
        let connectors = [crate::userflow::ApiConnector {
            name: "pfs".into(),
            url: "https://127.0.0.1:9/pfs".into(),
            auth: crate::userflow::ApiConnectorAuth::None,
            allow_insecure: true,
            timeout_seconds: 20,
            retries: 1,
        }];
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &connectors,
            identity_providers: &providers,
            page_layouts: &crate::userflow::NO_PAGE_LAYOUTS,
        };
        let f = flow(
            r#"id = "B2C_1_susi"
type = "sign_up_or_sign_in"
sign_up_attributes = ["givenName"]
identity_providers = ["local", "Fabrikam"]
password_reset = "error"
api_connectors = { post_federation_signup = "pfs" }"#,
        );
        let policy = compile(&f, 0, &tenant).unwrap_or_else(|e| panic!("{e}"));
        let steps = &policy.journey().unwrap_or_else(|| panic!("journey")).steps;
        assert_eq!(
            steps[0].claims_provider_selections,
            ["SignUpWithLogonEmailExchange", "fabrikamExchange"]
        );
        assert_eq!(steps[1].claims_exchanges.len(), 2);
        let ids: Vec<&str> = steps[2..5]
            .iter()
            .map(|s| s.claims_exchanges[0].id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "AADUserReadWithAlternativeSecurityId",
                "PostFederationSignupExchange",
                "SelfAssertedSocialExchange"
            ]
        );
        let rest = policy
            .technical_profiles
            .values()
            .find(|p| p.metadata.get("ApiConnectorStep") == Some("PostFederationSignup"))
            .unwrap_or_else(|| panic!("no PostFederationSignup profile"));
        assert_eq!(
            rest.input_claims_transformations,
            vec![crate::ids::ClaimsTransformationId::new(
                "CreateFederatedIdentities"
            )]
        );

        // Without a provider, the connector has nothing to follow.
        let f = flow(
            r#"id = "B2C_1_x"
type = "sign_up_or_sign_in"
api_connectors = { post_federation_signup = "pfs" }"#,
        );
        let err = compile(&f, 3, &tenant).err();
        assert_eq!(
            err.map(|e| e.key).as_deref(),
            Some("user_flows[3].api_connectors.post_federation_signup")
        );
        let f = flow("id = \"B2C_1_x\"\ntype = \"sign_in\"\nidentity_providers = [\"google\"]");
        let err = compile(&f, 1, &tenant).err();
        assert!(err.is_some_and(
            |e| e.key == "user_flows[1].identity_providers" && e.message.contains("google")
        ));
    }

    #[test]
    fn a_flow_without_local_accounts_shows_only_provider_buttons() {
        let providers = [provider()];
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &[],
            identity_providers: &providers,
            page_layouts: &crate::userflow::NO_PAGE_LAYOUTS,
        };
        let f =
            flow("id = \"B2C_1_social\"\ntype = \"sign_in\"\nidentity_providers = [\"fabrikam\"]");
        let policy = compile(&f, 0, &tenant).unwrap_or_else(|e| panic!("{e}"));
        let steps = &policy.journey().unwrap_or_else(|| panic!("journey")).steps;
        assert_eq!(steps[0].kind, StepKind::ClaimsProviderSelection);
        assert!(steps[0].claims_exchanges.is_empty());
        assert_eq!(steps[0].claims_provider_selections, ["fabrikamExchange"]);
    }
}
