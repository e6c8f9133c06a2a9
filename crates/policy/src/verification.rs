//! B2C's built-in e-mail verification (`one-time-password-technical-profile.md`,
//! `display-control-verification.md`), shared by both front ends: a `VerificationControl`
//! whose `SendCode` action generates a code and mails it and whose `VerifyCode` action checks it.
//!
//! A user flow's sign-up page gets it when `email_verification` is on; a custom policy's
//! self-asserted profile gets it for an output claim with `PartnerClaimType="Verified.Email"`
//! (`self-asserted-technical-profile.md`).

use crate::ids::ClaimTypeId;
use crate::model::*;
use crate::otp;

/// The control's id: the page names its buttons after it.
pub const CONTROL: &str = "emailVerificationControl";
/// The claim the user types the code into.
pub const CODE_CLAIM: &str = "verificationCode";
/// The generated code, handed from the generating profile to the mail profile; never stored.
pub const OTP_CLAIM: &str = "otp";

/// The ids of the technical profiles the control runs.
#[derive(Debug, Clone)]
pub struct ProfileIds {
    pub generate: String,
    pub verify: String,
    pub send: String,
}

impl ProfileIds {
    /// A user flow's names (`GenerateOtp`, `VerifyOtp`, `SendOtp`).
    pub fn user_flow() -> Self {
        Self {
            generate: "GenerateOtp".into(),
            verify: "VerifyOtp".into(),
            send: "SendOtp".into(),
        }
    }

    /// Names for a custom policy: a prefix no TrustFramework id carries (`:` is not used in
    /// B2C's ids), so they cannot collide with the policy's own profiles.
    pub fn custom_policy(claim: &ClaimTypeId) -> Self {
        Self {
            generate: format!("trustframe:{claim}:GenerateOtp"),
            verify: format!("trustframe:{claim}:VerifyOtp"),
            send: format!("trustframe:{claim}:SendOtp"),
        }
    }
}

/// The control and the profiles its actions run, for the address held in `claim`.
pub fn email_verification(
    claim: &ClaimTypeId,
    code_lifetime_seconds: u32,
    ids: &ProfileIds,
    span: &Span,
) -> (DisplayControl, Vec<TechnicalProfile>) {
    let otp_profile = |id: &str, operation: &str| {
        let mut p = TechnicalProfile::new(id, TechnicalProfileKind::OneTimePassword);
        let m = &mut p.metadata;
        m.insert(otp::OPERATION, operation);
        m.insert(
            otp::CODE_EXPIRATION_IN_SECONDS,
            code_lifetime_seconds.to_string(),
        );
        m.insert(otp::CODE_LENGTH, otp::DEFAULT_CODE_LENGTH.to_string());
        m.insert(otp::CHARACTER_SET, "0-9");
        m.insert(
            otp::NUM_RETRY_ATTEMPTS,
            otp::DEFAULT_NUM_RETRY_ATTEMPTS.to_string(),
        );
        m.insert(
            otp::NUM_CODE_GENERATION_ATTEMPTS,
            otp::DEFAULT_NUM_CODE_GENERATION_ATTEMPTS.to_string(),
        );
        p.input_claims = vec![
            ClaimRef::new(claim.clone())
                .partner("identifier")
                .required(),
        ];
        p.span = span.clone();
        p
    };
    let mut generate = otp_profile(&ids.generate, otp::GENERATE_CODE);
    generate.display_name = "Generate a one-time code".into();
    generate.output_claims = vec![ClaimRef::new(OTP_CLAIM).partner("otpGenerated")];

    let mut verify = otp_profile(&ids.verify, otp::VERIFY_CODE);
    verify.display_name = "Verify the one-time code".into();
    verify
        .input_claims
        .push(ClaimRef::new(CODE_CLAIM).partner("otpToVerify").required());

    let mut send = TechnicalProfile::new(ids.send.as_str(), TechnicalProfileKind::Mail);
    send.display_name = "E-mail the one-time code".into();
    send.metadata
        .insert(otp::TEMPLATE, otp::TEMPLATE_VERIFICATION_CODE);
    send.input_claims = vec![
        ClaimRef::new(claim.clone()).partner("to").required(),
        ClaimRef::new(OTP_CLAIM).partner("code").required(),
    ];
    send.span = span.clone();

    let control = DisplayControl {
        id: CONTROL.into(),
        display_claims: vec![
            ClaimRef::new(claim.clone()).required(),
            ClaimRef::new(CODE_CLAIM).required(),
        ],
        code_claim: CODE_CLAIM.into(),
        output_claims: vec![ClaimRef::new(claim.clone())],
        actions: vec![
            DisplayControlAction {
                id: DisplayControl::SEND_CODE.into(),
                validation_technical_profiles: vec![
                    ValidationTechnicalProfile::new(generate.id.clone()),
                    ValidationTechnicalProfile::new(send.id.clone()),
                ],
            },
            DisplayControlAction {
                id: DisplayControl::VERIFY_CODE.into(),
                validation_technical_profiles: vec![ValidationTechnicalProfile::new(
                    verify.id.clone(),
                )],
            },
        ],
        span: span.clone(),
    };
    (control, vec![generate, verify, send])
}

/// Adds the claims the control uses to a schema that lacks them.
pub fn extend_schema(schema: &mut ClaimsSchema) {
    let mut code = ClaimType::new(CODE_CLAIM, "Verification code", DataType::String)
        .input(UserInputType::TextBox);
    code.user_help_text = Some("The code we sent to your e-mail address.".into());
    for t in [
        code,
        ClaimType::new(OTP_CLAIM, "One-time code", DataType::String),
    ] {
        schema.claim_types.entry(t.id.clone()).or_insert(t);
    }
}
