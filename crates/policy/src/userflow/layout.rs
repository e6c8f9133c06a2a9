//! A user flow's page layouts (`customize-ui-with-html.md`, "Page layouts" of a user flow):
//! the same `ContentDefinitions` a custom policy has, with B2C's page ids, so both front ends
//! give the server one thing to render. A page is B2C's built-in layout (ours) unless the
//! tenant's `[ui] page_layouts` or the flow's `page_layouts` name a template for it.

use std::collections::BTreeMap;

use super::{ConfigError, TenantContext, UserFlow};
use crate::model::{ContentDefinition, Policy, Span, StepKind, TechnicalProfileKind};

/// B2C's page ids, their page contract, and the user-flow profiles that show them.
const PAGES: &[(&str, &str, &[&str])] = &[
    ("api.signuporsignin", "unifiedssp:2.1.5", &[]),
    ("api.idpselections", "providerselection:1.2.1", &[]),
    (
        "api.localaccountsignup",
        "selfasserted:2.1.7",
        &["LocalAccountSignUpWithLogonEmail"],
    ),
    (
        "api.selfasserted",
        "selfasserted:2.1.7",
        &["SelfAsserted-Social"],
    ),
    (
        "api.selfasserted.profileupdate",
        "selfasserted:2.1.7",
        &["SelfAsserted-ProfileUpdate"],
    ),
    (
        "api.localaccountpasswordreset",
        "selfasserted:2.1.7",
        &[
            "LocalAccountDiscoveryUsingEmailAddress",
            "LocalAccountWritePasswordUsingObjectId",
        ],
    ),
    ("api.error", "globalexception:1.2.1", &[]),
];

/// Checks a `page_layouts` table: keys are B2C's page ids.
pub(super) fn check(key: &str, layouts: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for (id, uri) in layouts {
        if !PAGES.iter().any(|(p, _, _)| p.eq_ignore_ascii_case(id)) {
            let known: Vec<&str> = PAGES.iter().map(|(p, _, _)| *p).collect();
            return Err(ConfigError::new(
                format!("{key}.{id}"),
                format!("is not a page id; the pages are {}", known.join(", ")),
            ));
        }
        if uri.trim().is_empty() {
            return Err(ConfigError::new(
                format!("{key}.{id}"),
                "must name a template file or URL",
            ));
        }
    }
    Ok(())
}

/// Gives the compiled flow its content definitions and points its pages at them.
pub(super) fn apply(tenant: &TenantContext<'_>, span: &Span, flow: &UserFlow, policy: &mut Policy) {
    for (id, contract, profiles) in PAGES {
        let load_uri = find(&flow.page_layouts, id)
            .or_else(|| find(tenant.page_layouts, id))
            .unwrap_or_else(|| format!("~/tenant/templates/default/{id}"));
        policy.content_definitions.insert(
            (*id).to_owned(),
            ContentDefinition {
                id: (*id).to_owned(),
                load_uri,
                data_uri: format!("urn:com:microsoft:aad:b2c:elements:contract:{contract}"),
                span: span.clone(),
            },
        );
        for profile in policy.technical_profiles.values_mut() {
            if profile.kind == TechnicalProfileKind::SelfAsserted
                && profiles.iter().any(|p| profile.id.as_str() == *p)
            {
                profile
                    .metadata
                    .insert(crate::names::CONTENT_DEFINITION, *id);
            }
        }
    }
    for journey in policy.user_journeys.values_mut() {
        for step in &mut journey.steps {
            step.content_definition = match step.kind {
                StepKind::CombinedSignInAndSignUp => Some("api.signuporsignin".into()),
                StepKind::ClaimsProviderSelection => Some("api.idpselections".into()),
                _ => step.content_definition.take(),
            };
        }
    }
}

fn find(layouts: &BTreeMap<String, String>, id: &str) -> Option<String> {
    layouts
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(id))
        .map(|(_, v)| v.trim().to_owned())
}
