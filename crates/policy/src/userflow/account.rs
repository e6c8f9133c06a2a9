//! The account lifecycle a user flow gains (`one-time-password-technical-profile.md`,
//! `add-password-reset-policy.md`, `add-profile-editing-policy.md`), named after B2C's starter
//! pack: e-mail verification on the sign-up page (a `VerificationControl` whose actions run the
//! `OneTimePassword` profiles and the mail profile), password reset (self-service inside the
//! sign-in flow, or its own `password_reset` flow), and profile edit.

use serde::Deserialize;

use crate::ids::TechnicalProfileId;
use crate::model::*;
use crate::otp;
use crate::verification;

use super::{Builder, ConfigError, UserFlow, UserFlowType};

/// What "Forgot your password?" on the sign-in page does (`add-password-reset-policy.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordResetMode {
    /// B2C's self-service password reset: the reset runs inside the same flow.
    #[default]
    Embedded,
    /// B2C's older mode: back to the app with `access_denied` and `AADB2C90118`; the app starts
    /// its `password_reset` flow.
    Error,
}

pub(super) fn default_true() -> bool {
    true
}

pub(super) fn default_code_lifetime() -> u32 {
    otp::DEFAULT_CODE_EXPIRATION_IN_SECONDS
}

const SIGN_IN: &str = "SelfAsserted-LocalAccountSignin-Email";
const SIGN_UP: &str = "LocalAccountSignUpWithLogonEmail";
const FORGOT_PASSWORD_EXCHANGE: &str = "ForgotPasswordExchange";

/// Claims the lifecycle profiles use.
pub(super) fn extend_schema(schema: &mut ClaimsSchema) {
    verification::extend_schema(schema);
    let t = ClaimType::new("isForgotPassword", "Forgot password", DataType::Boolean);
    schema.claim_types.entry(t.id.clone()).or_insert(t);
}

/// Checks the lifecycle keys of a flow.
pub(super) fn check(b: &Builder<'_>, flow: &UserFlow) -> Result<(), ConfigError> {
    if !(1..=1200).contains(&flow.code_lifetime_seconds) {
        return Err(ConfigError::new(
            b.key("code_lifetime_seconds"),
            "must be from 1 to 1200 seconds (B2C allows 60–1200; 600 by default)",
        ));
    }
    match flow.kind {
        UserFlowType::PasswordReset if !flow.email_verification => Err(ConfigError::new(
            b.key("email_verification"),
            "a password_reset flow proves the address by code: it cannot be turned off",
        )),
        UserFlowType::ProfileEdit if flow.profile_attributes.is_empty() => Err(ConfigError::new(
            b.key("profile_attributes"),
            "a profile_edit flow needs at least one attribute to edit",
        )),
        UserFlowType::PasswordReset | UserFlowType::ProfileEdit
            if flow.api_connectors.post_attribute_collection.is_some() =>
        {
            Err(ConfigError::new(
                b.key("api_connectors.post_attribute_collection"),
                "this flow has no sign-up step to call it at",
            ))
        }
        _ => Ok(()),
    }
}

/// The e-mail verification control and its profiles (shared with custom policies).
fn email_verification_control(b: &mut Builder<'_>, flow: &UserFlow) -> DisplayControl {
    let (control, profiles) = verification::email_verification(
        &"email".into(),
        flow.code_lifetime_seconds,
        &verification::ProfileIds::user_flow(),
        &b.span,
    );
    for p in profiles {
        b.add(p);
    }
    control
}

/// `LocalAccountDiscoveryUsingEmailAddress`: the address, verified by code, names the account
/// whose password is reset.
fn discovery(b: &mut Builder<'_>, flow: &UserFlow) -> TechnicalProfileId {
    let mut read = TechnicalProfile::new(
        "AAD-UserReadUsingEmailAddress",
        TechnicalProfileKind::Directory,
    );
    read.metadata.insert("Operation", "Read");
    read.metadata
        .insert("RaiseErrorIfClaimsPrincipalDoesNotExist", "true");
    read.metadata.insert(
        "UserMessageIfClaimsPrincipalDoesNotExist",
        "An account could not be found for the provided user ID.",
    );
    read.input_claims = vec![
        ClaimRef::new("email")
            .partner("signInNames.emailAddress")
            .required(),
    ];
    read.output_claims = vec![ClaimRef::new("objectId")];
    let read = b.add(read);

    let control = email_verification_control(b, flow);
    let mut page = TechnicalProfile::new(
        "LocalAccountDiscoveryUsingEmailAddress",
        TechnicalProfileKind::SelfAsserted,
    );
    page.display_name = "Reset your password".into();
    page.display_claims = vec![ClaimRef::new("email").required()];
    page.display_controls = vec![control];
    page.output_claims = vec![
        ClaimRef::new("email").required(),
        ClaimRef::new("objectId"),
        // Tells the later steps that this journey resets a password (B2C's `isForgotPassword`).
        ClaimRef::new("isForgotPassword")
            .default_value("true")
            .always_default(),
    ];
    page.validation_technical_profiles = vec![ValidationTechnicalProfile::new(read)];
    b.add(page)
}

/// `LocalAccountWritePasswordUsingObjectId`: the new password, with the default strength rule.
fn new_password(b: &mut Builder<'_>) -> TechnicalProfileId {
    let mut write = TechnicalProfile::new(
        "AAD-UserWritePasswordUsingObjectId",
        TechnicalProfileKind::Directory,
    );
    write.metadata.insert("Operation", "Write");
    write
        .metadata
        .insert("RaiseErrorIfClaimsPrincipalDoesNotExist", "true");
    write.input_claims = vec![ClaimRef::new("objectId").required()];
    write.persisted_claims = vec![ClaimRef::new("newPassword").partner("password")];
    let write = b.add(write);

    let mut page = TechnicalProfile::new(
        "LocalAccountWritePasswordUsingObjectId",
        TechnicalProfileKind::SelfAsserted,
    );
    page.display_name = "Choose a new password".into();
    page.display_claims = vec![
        ClaimRef::new("newPassword").required(),
        ClaimRef::new("reenterPassword").required(),
    ];
    page.output_claims = page.display_claims.clone();
    page.validation_technical_profiles = vec![ValidationTechnicalProfile::new(write)];
    b.add(page)
}

fn step(
    b: &Builder<'_>,
    kind: StepKind,
    exchange: Option<(&str, &TechnicalProfileId)>,
) -> OrchestrationStep {
    let mut step = OrchestrationStep::new(0, kind, b.span.clone());
    step.claims_exchanges = exchange
        .map(|(id, tp)| ClaimsExchange {
            id: id.into(),
            technical_profile: tp.clone(),
        })
        .into_iter()
        .collect();
    step
}

/// A `password_reset` flow's steps before the user is read: the verified address, then the
/// new password.
pub(super) fn password_reset_steps(b: &mut Builder<'_>, flow: &UserFlow) -> Vec<OrchestrationStep> {
    let discovery = discovery(b, flow);
    let new_password = new_password(b);
    vec![
        step(
            b,
            StepKind::ClaimsExchange,
            Some(("PasswordResetUsingEmailAddressExchange", &discovery)),
        ),
        step(
            b,
            StepKind::ClaimsExchange,
            Some(("NewCredentials", &new_password)),
        ),
    ]
}

/// Adds e-mail verification to the sign-up page and the self-service password reset to the
/// local sign-in page of the steps built so far.
pub(super) fn local_account(
    b: &mut Builder<'_>,
    flow: &UserFlow,
    steps: &mut Vec<OrchestrationStep>,
) {
    let sign_up = TechnicalProfileId::new(SIGN_UP);
    let has_sign_up = steps
        .iter()
        .flat_map(|s| &s.claims_exchanges)
        .any(|e| e.technical_profile == sign_up);
    if flow.email_verification && has_sign_up {
        let control = email_verification_control(b, flow);
        if let Some(p) = b.profiles.get_mut(&sign_up) {
            p.display_controls.push(control);
        }
    }

    let sign_in = TechnicalProfileId::new(SIGN_IN);
    let Some(at) = steps.iter().position(|s| {
        s.kind == StepKind::CombinedSignInAndSignUp
            && s.claims_exchanges
                .first()
                .is_some_and(|e| e.technical_profile == sign_in)
    }) else {
        return;
    };
    if flow.password_reset == PasswordResetMode::Error {
        return;
    }
    if let Some(p) = b.profiles.get_mut(&sign_in) {
        p.metadata
            .insert(otp::FORGOT_PASSWORD_LINK_OVERRIDE, FORGOT_PASSWORD_EXCHANGE);
    }
    let discovery = discovery(b, flow);
    let new_password = new_password(b);
    steps[at]
        .claims_provider_selections
        .push(FORGOT_PASSWORD_EXCHANGE.into());
    let exchange = ClaimsExchange {
        id: FORGOT_PASSWORD_EXCHANGE.into(),
        technical_profile: discovery,
    };
    // The step that runs the sign-in page's choices (sign up, providers) runs this one too.
    let offered = steps[at].claims_provider_selections.clone();
    let choices = steps.iter().enumerate().skip(at + 1).find_map(|(i, s)| {
        s.claims_exchanges
            .iter()
            .any(|e| offered.iter().any(|o| o.eq_ignore_ascii_case(&e.id)))
            .then_some(i)
    });
    let after = match choices {
        Some(i) => {
            steps[i].claims_exchanges.push(exchange);
            i
        }
        None => {
            let mut s = step(b, StepKind::ClaimsExchange, None);
            s.claims_exchanges = vec![exchange];
            s.preconditions = vec![Precondition::skip_if_exists("objectId")];
            steps.insert(at + 1, s);
            at + 1
        }
    };
    let mut s = step(
        b,
        StepKind::ClaimsExchange,
        Some(("NewCredentials", &new_password)),
    );
    s.preconditions = vec![Precondition::skip_unless_exists("isForgotPassword")];
    steps.insert(after + 1, s);
}

/// `SelfAsserted-ProfileUpdate`: the flow's attributes, prefilled, written by object id.
pub(super) fn profile_edit_step(b: &mut Builder<'_>, flow: &UserFlow) -> OrchestrationStep {
    let attributes: Vec<ClaimRef> = flow
        .profile_attributes
        .iter()
        .map(|a| ClaimRef::new(a.as_str()))
        .collect();
    let mut write = TechnicalProfile::new(
        "AAD-UserWriteProfileUsingObjectId",
        TechnicalProfileKind::Directory,
    );
    write.metadata.insert("Operation", "Write");
    write
        .metadata
        .insert("RaiseErrorIfClaimsPrincipalDoesNotExist", "true");
    write.input_claims = vec![ClaimRef::new("objectId").required()];
    write.persisted_claims = attributes.clone();
    let write = b.add(write);

    let mut page = TechnicalProfile::new(
        "SelfAsserted-ProfileUpdate",
        TechnicalProfileKind::SelfAsserted,
    );
    page.display_name = "Update your profile".into();
    page.input_claims = attributes.clone();
    page.display_claims = attributes.iter().cloned().map(ClaimRef::required).collect();
    page.output_claims = page.display_claims.clone();
    page.validation_technical_profiles = vec![ValidationTechnicalProfile::new(write)];
    let page = b.add(page);
    step(
        b,
        StepKind::ClaimsExchange,
        Some(("B2CUserProfileUpdateExchange", &page)),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{TenantContext, compile};
    use super::*;

    fn compiled(text: &str) -> Result<Policy, ConfigError> {
        let flow: UserFlow = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &[],
            identity_providers: &[],
            page_layouts: &crate::userflow::NO_PAGE_LAYOUTS,
        };
        compile(&flow, 0, &tenant)
    }

    fn exchanges(p: &Policy) -> Vec<Vec<String>> {
        p.journey()
            .map(|j| {
                j.steps
                    .iter()
                    .map(|s| s.claims_exchanges.iter().map(|e| e.id.clone()).collect())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn sign_up_verifies_the_address_and_sign_in_embeds_the_reset() {
        let p = compiled("id = \"B2C_1_susi\"\ntype = \"sign_up_or_sign_in\"")
            .unwrap_or_else(|e| panic!("{e}"));
        let sign_up = p
            .technical_profile(&SIGN_UP.into())
            .unwrap_or_else(|| panic!("no sign-up"));
        let control = &sign_up.display_controls[0];
        assert!(control.action(DisplayControl::SEND_CODE).is_some());
        let verify = p
            .technical_profile(&"VerifyOtp".into())
            .unwrap_or_else(|| panic!("no VerifyOtp"));
        assert_eq!(verify.kind, TechnicalProfileKind::OneTimePassword);
        assert_eq!(
            verify.metadata.get(otp::CODE_EXPIRATION_IN_SECONDS),
            Some("600")
        );
        assert_eq!(verify.metadata.get(otp::NUM_RETRY_ATTEMPTS), Some("5"));
        assert_eq!(verify.metadata.get(otp::CODE_LENGTH), Some("6"));
        assert_eq!(
            exchanges(&p),
            [
                vec!["LocalAccountSigninEmailExchange"],
                vec!["SignUpWithLogonEmailExchange", "ForgotPasswordExchange"],
                vec!["NewCredentials"],
                vec!["AADUserReadWithObjectId"],
                Vec::<&str>::new(),
            ]
        );
        let sign_in = p
            .technical_profile(&SIGN_IN.into())
            .unwrap_or_else(|| panic!("no sign-in"));
        assert_eq!(
            sign_in.metadata.get(otp::FORGOT_PASSWORD_LINK_OVERRIDE),
            Some(FORGOT_PASSWORD_EXCHANGE)
        );
    }

    #[test]
    fn error_mode_reset_and_profile_edit_flows() {
        let p = compiled("id = \"B2C_1_si\"\ntype = \"sign_in\"\npassword_reset = \"error\"")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exchanges(&p).len(), 3, "{:?}", exchanges(&p));
        let p = compiled("id = \"B2C_1_reset\"\ntype = \"password_reset\"")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            exchanges(&p)[..2],
            [
                vec!["PasswordResetUsingEmailAddressExchange"],
                vec!["NewCredentials"]
            ]
        );
        let p = compiled(
            "id = \"B2C_1_edit\"\ntype = \"profile_edit\"\nprofile_attributes = [\"givenName\"]",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            exchanges(&p)
                .iter()
                .any(|s| s == &["B2CUserProfileUpdateExchange"])
        );
        let err = compiled("id = \"B2C_1_edit\"\ntype = \"profile_edit\"").err();
        assert!(err.is_some_and(|e| e.key == "user_flows[0].profile_attributes"));
        let err =
            compiled("id = \"B2C_1_r\"\ntype = \"password_reset\"\nemail_verification = false")
                .err();
        assert!(err.is_some_and(|e| e.key == "user_flows[0].email_verification"));
    }
}

#[cfg(test)]
mod federated_tests {
    use super::super::{TenantContext, compile};
    use super::*;
    use crate::identity_provider::IdentityProvider;

    #[test]
    fn the_reset_joins_the_providers_choice_step() {
        let provider: IdentityProvider = toml::from_str(
            r#"id = "fabrikam"
type = "openid_connect"
display_name = "Fabrikam"
metadata_url = "https://127.0.0.1:9/.well-known/openid-configuration"
client_id = "abc"
client_secret = "s""#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let providers = [provider];
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &[],
            identity_providers: &providers,
            page_layouts: &crate::userflow::NO_PAGE_LAYOUTS,
        };
        let flow: UserFlow = toml::from_str(
            "id = \"B2C_1_si\"\ntype = \"sign_in\"\nidentity_providers = [\"local\", \"fabrikam\"]",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let p = compile(&flow, 0, &tenant).unwrap_or_else(|e| panic!("{e}"));
        let steps = &p.journey().unwrap_or_else(|| panic!("journey")).steps;
        let ids: Vec<&str> = steps[1]
            .claims_exchanges
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(ids, ["fabrikamExchange", FORGOT_PASSWORD_EXCHANGE]);
        assert_eq!(steps[2].claims_exchanges[0].id, "NewCredentials");
    }
}
