//! Display controls on self-asserted pages (`display-control-verification.md`): the
//! verification control's actions (send a code, verify it, change the address) and its place on
//! the page; and the sign-in page's "Forgot your password?" link.
//!
//! A control's output claims count only once it has finished: the page cannot continue while
//! the e-mail address it shows is not the one whose code was verified.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trustframe_policy::{
    ClaimTypeId, ClaimValues, DisplayControl, DisplayControlAction, OrchestrationStep, Policy,
    TechnicalProfile, TechnicalProfileId, UserInputType, otp,
};

use super::{Engine, Failure, Field, Outcome, PageKind, ProfileResult, page_claims, skip, text};
use crate::env::{CodeMail, CodeRefusal};
use crate::otp::{OtpSettings, OtpState, Verification};
use crate::{EngineError, validate};

/// What the user reads; B2C's wording where it has one.
pub mod messages {
    pub const CODE_SENT: &str =
        "Verification code has been sent to your inbox. Please copy it to the input box below.";
    pub const VERIFIED: &str = "E-mail address verified. You can now continue.";
    pub const WRONG_CODE: &str = "That code is incorrect. Please try again.";
    pub const EXPIRED: &str = "That code is expired. Please request a new code.";
    pub const MAX_RETRY: &str =
        "You've made too many incorrect attempts. Please request a new code.";
    /// Too many wrong codes for the address across journeys: a new code would not help yet.
    pub const TOO_MANY_WRONG: &str =
        "You've made too many incorrect attempts. Please wait a while, then try again.";
    pub const NO_CODE: &str = "Please request a verification code first.";
    pub const MAX_CODES: &str = "There have been too many requests to verify this e-mail address. Please wait a while, then try again.";
    pub const SEND_FAILED: &str =
        "We could not send the verification code. Please try again in a moment.";
    pub const NOT_VERIFIED: &str = "Please verify your e-mail address first: select \"Send verification code\", then enter the code we e-mail you.";
    pub const FORGOT_PASSWORD: &str = "AADB2C90118: The user has forgotten their password.";
}

/// The exchange the "Forgot your password?" link names when the sign-in profile has no
/// self-service override: selecting it returns `AADB2C90118` to the app
/// (`add-password-reset-policy.md`).
pub const FORGOT_PASSWORD_EXCHANGE: &str = "ForgotPassword";

const CHANGE_CLAIMS: &str = "ChangeClaims";

/// Codes and finished controls of a journey.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerificationState {
    pub codes: OtpState,
    /// By display control id.
    pub controls: BTreeMap<String, ControlStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ControlStatus {
    /// A code was sent for this value of the control's output claims.
    CodeSent {
        value: String,
    },
    Verified {
        value: String,
    },
}

impl ControlStatus {
    fn value(&self) -> &str {
        match self {
            Self::CodeSent { value } | Self::Verified { value } => value,
        }
    }
}

/// A display control as the page shows it. Its fields are in [`super::Page::fields`], marked
/// with its id; its buttons go after the field named `after`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ControlView {
    pub id: String,
    pub after: String,
    /// `initial`, `code_sent` or `verified`.
    pub state: String,
    /// The actions offered: `SendCode`, `VerifyCode`, `ChangeClaims`.
    pub actions: Vec<String>,
    pub message: Option<String>,
}

/// The value a control vouches for: its output claims, one per line.
fn control_value(control: &DisplayControl, claims: &ClaimValues) -> Option<String> {
    let mut parts = Vec::new();
    for c in &control.output_claims {
        let v = claims.get(&c.claim_type).and_then(text)?;
        if v.trim().is_empty() {
            return None;
        }
        parts.push(v.trim().to_owned());
    }
    Some(parts.join("\n"))
}

fn same(a: &str, b: &str) -> bool {
    // E-mail addresses are matched without regard to case (`identity-provider-local.md`).
    a.to_lowercase() == b.to_lowercase()
}

/// The self-service override of the sign-in profile of `step`.
pub(super) fn forgot_password_override<'p>(
    policy: &'p Policy,
    step: &OrchestrationStep,
) -> Option<&'p str> {
    let exchange = step.claims_exchanges.first()?;
    policy
        .technical_profile(&exchange.technical_profile)?
        .metadata
        .get(otp::FORGOT_PASSWORD_LINK_OVERRIDE)
}

/// The exchange of the page's "Forgot your password?" link: local sign-in pages have one
/// unless the profile hides it.
pub(super) fn forgot_password_link(
    profile: &TechnicalProfile,
    kind: PageKind,
    fields: &[Field],
) -> Option<String> {
    if kind != PageKind::SignIn || !fields.iter().any(|f| f.input == UserInputType::Password) {
        return None;
    }
    let m = &profile.metadata;
    if m.get(otp::FORGOT_PASSWORD_LINK_LOCATION)
        .is_some_and(|l| l.eq_ignore_ascii_case("None"))
    {
        return None;
    }
    Some(
        m.get(otp::FORGOT_PASSWORD_LINK_OVERRIDE)
            .unwrap_or(FORGOT_PASSWORD_EXCHANGE)
            .to_owned(),
    )
}

/// B2C's older mode: "Forgot your password?" ends the journey with `AADB2C90118`.
pub(super) fn forgot_password_error(
    policy: &Policy,
    awaiting: &TechnicalProfileId,
    exchange: &str,
) -> Option<Outcome> {
    let profile = policy.technical_profile(awaiting)?;
    let link = profile.metadata.get(otp::FORGOT_PASSWORD_LINK_OVERRIDE);
    (link.is_none() && exchange.eq_ignore_ascii_case(FORGOT_PASSWORD_EXCHANGE))
        .then_some(Outcome::Fail(Failure::ForgotPassword))
}

impl Engine<'_> {
    fn status<'s>(
        &self,
        state: &'s super::JourneyState,
        control: &DisplayControl,
    ) -> Option<&'s ControlStatus> {
        state.verification.controls.get(&control.id)
    }

    /// Keeps what the user typed in the page's fields (never secrets), except the claims of
    /// a control that has sent a code: those change only through the control.
    pub(super) fn keep_typed(
        &self,
        state: &mut super::JourneyState,
        profile: &TechnicalProfile,
        form: &BTreeMap<String, String>,
    ) {
        for claim in page_claims(profile) {
            let Some(t) = self.policy.claims_schema.get(&claim.claim_type) else {
                continue;
            };
            let locked = profile
                .display_controls
                .iter()
                .any(|c| c.shows(&t.id) && self.status(state, c).is_some());
            if t.is_secret() || locked {
                continue;
            }
            if let Some(raw) = form
                .iter()
                .find(|(k, _)| t.id == k.as_str())
                .map(|(_, v)| v)
            {
                state
                    .claims
                    .insert(t.id.clone(), Value::String(raw.trim().to_owned()));
            }
        }
    }

    /// On Continue: the message when a control's claims are not the ones it verified.
    pub(super) fn unverified_controls(
        &self,
        state: &super::JourneyState,
        profile: &TechnicalProfile,
        working: &ClaimValues,
    ) -> Option<String> {
        profile
            .display_controls
            .iter()
            .filter(|c| c.action(DisplayControl::VERIFY_CODE).is_some())
            .find(|c| {
                let current = control_value(c, working);
                !matches!(
                    (self.status(state, c), current),
                    (Some(ControlStatus::Verified { value }), Some(current)) if same(value, &current)
                )
            })
            .map(|_| messages::NOT_VERIFIED.to_owned())
    }

    /// Marks the controls' fields, adds the code field once a code was sent, and describes
    /// each control's buttons.
    pub(super) fn decorate_controls(
        &self,
        state: &super::JourneyState,
        profile: &TechnicalProfile,
        fields: &mut Vec<Field>,
        field_errors: &BTreeMap<ClaimTypeId, String>,
    ) -> Result<Vec<ControlView>, EngineError> {
        let mut views = Vec::new();
        for control in &profile.display_controls {
            let current = control_value(control, &state.claims);
            // A status holds only for the value it was reached with.
            let status = self
                .status(state, control)
                .filter(|s| current.as_deref().is_some_and(|c| same(s.value(), c)));
            let mut last = None;
            for (i, f) in fields.iter_mut().enumerate() {
                if control.shows(&ClaimTypeId::new(f.name.as_str()))
                    && f.name != control.code_claim.as_str()
                {
                    f.control = Some(control.id.clone());
                    if status.is_some() {
                        f.input = UserInputType::Readonly;
                    }
                    last = Some(i);
                }
            }
            let Some(mut last) = last else {
                return Err(EngineError::Policy(format!(
                    "{}: display control '{}' of '{}' shows none of the page's claims",
                    control.span, control.id, profile.id
                )));
            };
            let (state_name, actions, message) = match status {
                None => ("initial", vec![DisplayControl::SEND_CODE], None),
                Some(ControlStatus::CodeSent { .. }) => {
                    let t = self
                        .policy
                        .claims_schema
                        .get(&control.code_claim)
                        .ok_or_else(|| {
                            EngineError::Policy(format!(
                                "{}: display control '{}' names code claim '{}', which the claims schema does not define",
                                control.span, control.id, control.code_claim
                            ))
                        })?;
                    fields.insert(
                        last + 1,
                        Field {
                            name: t.id.to_string(),
                            label: t.display_name.clone(),
                            input: t.user_input_type.unwrap_or(UserInputType::TextBox),
                            value: None,
                            required: true,
                            help_text: t.user_help_text.clone(),
                            options: Vec::new(),
                            error: field_errors.get(&t.id).cloned(),
                            control: Some(control.id.clone()),
                            selected: Vec::new(),
                        },
                    );
                    last += 1;
                    (
                        "code_sent",
                        vec![
                            DisplayControl::VERIFY_CODE,
                            DisplayControl::SEND_CODE,
                            CHANGE_CLAIMS,
                        ],
                        Some(messages::CODE_SENT.to_owned()),
                    )
                }
                Some(ControlStatus::Verified { .. }) => (
                    "verified",
                    vec![CHANGE_CLAIMS],
                    Some(messages::VERIFIED.to_owned()),
                ),
            };
            views.push(ControlView {
                id: control.id.clone(),
                after: fields[last].name.clone(),
                state: state_name.to_owned(),
                actions: actions.into_iter().map(str::to_owned).collect(),
                message,
            });
        }
        Ok(views)
    }

    /// Runs a control's action and shows the page again.
    pub(super) async fn control_action(
        &self,
        state: &mut super::JourneyState,
        profile_id: &TechnicalProfileId,
        control_id: &str,
        action: &str,
        form: &BTreeMap<String, String>,
    ) -> Result<Outcome, EngineError> {
        let profile = self.profile(profile_id)?;
        let Some(control) = profile
            .display_controls
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(control_id))
        else {
            return Err(EngineError::UnexpectedInput(format!(
                "'{control_id}' is not a control of this page"
            )));
        };
        self.keep_typed(state, profile, form);
        let page = |engine: &Self, state: &super::JourneyState, error, errors| {
            engine
                .page(state, profile_id, error, errors)
                .map(Outcome::Page)
        };
        if action.eq_ignore_ascii_case(CHANGE_CLAIMS) {
            state.verification.controls.remove(&control.id);
            return page(self, state, None, BTreeMap::new());
        }
        let Some(act) = control.action(action) else {
            return Err(EngineError::UnexpectedInput(format!(
                "'{action}' is not an action of control '{}'",
                control.id
            )));
        };
        if act.id.eq_ignore_ascii_case(DisplayControl::SEND_CODE) {
            let claims: Vec<_> = control
                .display_claims
                .iter()
                .filter(|c| c.claim_type != control.code_claim)
                .filter_map(|c| {
                    self.policy
                        .claims_schema
                        .get(&c.claim_type)
                        .map(|t| (t, true))
                })
                .collect();
            // A code may be sent again for the same address while the field is locked.
            let mut form = form.clone();
            if let Some(ControlStatus::CodeSent { .. }) = self.status(state, control) {
                for (t, _) in &claims {
                    if let Some(v) = state.claims.get(&t.id).and_then(text) {
                        form.insert(t.id.to_string(), v);
                    }
                }
            }
            let values = match validate::collect(&claims, &form)? {
                Ok(values) => values,
                Err(errors) => {
                    state.verification.controls.remove(&control.id);
                    for (t, _) in &claims {
                        if let Some(raw) = form.get(t.id.as_str()) {
                            state
                                .claims
                                .insert(t.id.clone(), Value::String(raw.trim().to_owned()));
                        }
                    }
                    return page(self, state, None, errors);
                }
            };
            state.claims.extend(values);
            state.verification.controls.remove(&control.id);
            let mut working = state.claims.clone();
            if let Err(message) = self
                .run_action(state, act, &mut working, Some(profile))
                .await?
            {
                return page(self, state, Some(message), BTreeMap::new());
            }
            // `working` held the code for the mailer; it is dropped here, never stored.
            if let Some(value) = control_value(control, &state.claims) {
                state
                    .verification
                    .controls
                    .insert(control.id.clone(), ControlStatus::CodeSent { value });
            }
            return page(self, state, None, BTreeMap::new());
        }
        // VerifyCode (and any other action): the code field plus the claims the code was sent for.
        let Some(ControlStatus::CodeSent { .. }) = self.status(state, control) else {
            return page(
                self,
                state,
                Some(messages::NO_CODE.to_owned()),
                BTreeMap::new(),
            );
        };
        let code = form
            .get(control.code_claim.as_str())
            .map(|c| c.trim().to_owned())
            .unwrap_or_default();
        if code.is_empty() {
            let errors = [(control.code_claim.clone(), validate::REQUIRED.to_owned())]
                .into_iter()
                .collect();
            return page(self, state, None, errors);
        }
        let mut working = state.claims.clone();
        working.insert(control.code_claim.clone(), Value::String(code));
        if let Err(message) = self
            .run_action(state, act, &mut working, Some(profile))
            .await?
        {
            return page(self, state, Some(message), BTreeMap::new());
        }
        if let Some(value) = control_value(control, &state.claims) {
            state
                .verification
                .controls
                .insert(control.id.clone(), ControlStatus::Verified { value });
        }
        page(self, state, None, BTreeMap::new())
    }

    /// The action's validation technical profiles, in order; `Err` is the message to show.
    async fn run_action(
        &self,
        state: &mut super::JourneyState,
        action: &DisplayControlAction,
        working: &mut ClaimValues,
        page_profile: Option<&TechnicalProfile>,
    ) -> Result<Result<(), String>, EngineError> {
        for v in &action.validation_technical_profiles {
            if skip(&v.preconditions, working) {
                continue;
            }
            let profile = self.profile(&v.reference_id)?;
            let result = self
                .run_profile(state, profile, working, None, page_profile)
                .await?;
            match result {
                ProfileResult::Done => {
                    if !v.continue_on_success {
                        break;
                    }
                }
                ProfileResult::Error(m) => {
                    if !v.continue_on_error {
                        return Ok(Err(m));
                    }
                }
                ProfileResult::Block(m) => return Ok(Err(m)),
            }
        }
        Ok(Ok(()))
    }

    fn policy_error(profile: &TechnicalProfile, message: impl std::fmt::Display) -> EngineError {
        EngineError::Policy(format!(
            "{}: technical profile '{}': {message}",
            profile.span, profile.id
        ))
    }

    /// `OneTimePassword`: GenerateCode puts the code in the `otpGenerated` output claim;
    /// VerifyCode checks `otpToVerify` for `identifier`.
    pub(super) async fn run_otp(
        &self,
        state: &mut super::JourneyState,
        profile: &TechnicalProfile,
        working: &mut ClaimValues,
    ) -> Result<ProfileResult, EngineError> {
        // Read once at load (`link::prepare`); profiles built by hand are read here.
        let parsed;
        let settings = match &profile.otp {
            Some(settings) => settings.as_ref(),
            None => {
                parsed = OtpSettings::from_metadata(&profile.metadata)
                    .map_err(|e| Self::policy_error(profile, e))?;
                &parsed
            }
        };
        let identifier = self
            .input_value(profile, working, &state.context, &["identifier"])
            .ok_or_else(|| {
                Self::policy_error(profile, "no value for the 'identifier' input claim")
            })?;
        let message = |key: &str, default: &str| {
            ProfileResult::Error(profile.metadata.get(key).unwrap_or(default).to_owned())
        };
        let now = self.env.clock.now();
        let operation = profile.metadata.get(otp::OPERATION).unwrap_or_default();
        if operation.eq_ignore_ascii_case(otp::GENERATE_CODE) {
            // The limits shared by every journey (per address and per client IP) first: a
            // refused request leaves this journey's codes as they were.
            if !self
                .env
                .mailer
                .count_code_sent(&identifier, &state.context.ip_address)
                .await?
            {
                tracing::warn!(
                    correlation_id = %state.context.correlation_id,
                    "verification code refused: too many codes for this address or client IP"
                );
                self.env
                    .mailer
                    .code_refused(&identifier, CodeRefusal::TooManySent, &state.context)
                    .await?;
                return Ok(message(otp::MESSAGE_MAX_CODES, messages::MAX_CODES));
            }
            let Ok(code) = state
                .verification
                .codes
                .generate(&identifier, settings, now)
            else {
                return Ok(message(otp::MESSAGE_MAX_CODES, messages::MAX_CODES));
            };
            let out = profile
                .output_claims
                .iter()
                .find(|c| c.partner_name().eq_ignore_ascii_case("otpGenerated"))
                .ok_or_else(|| {
                    Self::policy_error(profile, "GenerateCode needs an 'otpGenerated' output claim")
                })?;
            working.insert(out.claim_type.clone(), Value::String(code));
            return Ok(ProfileResult::Done);
        }
        if !operation.eq_ignore_ascii_case(otp::VERIFY_CODE) {
            return Err(Self::policy_error(
                profile,
                format!("Operation must be GenerateCode or VerifyCode, not '{operation}'"),
            ));
        }
        let code = self
            .input_value(profile, working, &state.context, &["otpToVerify"])
            .unwrap_or_default();
        // A code that will be compared is counted first, so parallel guesses from many journeys
        // get no more than the shared limit; forgiven when it was right.
        let compared = state
            .verification
            .codes
            .pending(&identifier)
            .is_some_and(|p| p.tries_left > 0 && now < p.expires_at);
        if compared && !self.env.mailer.count_code_check(&identifier).await? {
            tracing::warn!(
                correlation_id = %state.context.correlation_id,
                "verification code refused: too many wrong codes for this address"
            );
            self.env
                .mailer
                .code_refused(&identifier, CodeRefusal::TooManyWrong, &state.context)
                .await?;
            return Ok(message(otp::MESSAGE_MAX_RETRY, messages::TOO_MANY_WRONG));
        }
        let verification = state.verification.codes.verify(&identifier, &code, now);
        if compared && verification == Verification::Verified {
            self.env.mailer.forgive_code_check(&identifier).await?;
        }
        let refusal = match verification {
            Verification::Verified => None,
            Verification::Wrong(_) => Some(CodeRefusal::Wrong),
            Verification::Expired => Some(CodeRefusal::Expired),
            Verification::RetriesExhausted => Some(CodeRefusal::RetriesExhausted),
            Verification::NoCode => Some(CodeRefusal::NoCode),
        };
        if let Some(refusal) = refusal {
            self.env
                .mailer
                .code_refused(&identifier, refusal, &state.context)
                .await?;
        }
        Ok(match verification {
            Verification::Verified => ProfileResult::Done,
            Verification::Wrong(_) => message(otp::MESSAGE_INVALID_CODE, messages::WRONG_CODE),
            Verification::Expired => message(otp::MESSAGE_CODE_EXPIRED, messages::EXPIRED),
            Verification::RetriesExhausted => message(otp::MESSAGE_MAX_RETRY, messages::MAX_RETRY),
            Verification::NoCode => ProfileResult::Error(messages::NO_CODE.to_owned()),
        })
    }

    /// `Mail`: sends the code to the address through the tenant's mailer.
    pub(super) async fn run_mail(
        &self,
        state: &super::JourneyState,
        profile: &TechnicalProfile,
        working: &ClaimValues,
    ) -> Result<ProfileResult, EngineError> {
        let template = profile
            .metadata
            .get(otp::TEMPLATE)
            .unwrap_or(otp::TEMPLATE_VERIFICATION_CODE);
        if !template.eq_ignore_ascii_case(otp::TEMPLATE_VERIFICATION_CODE) {
            return Err(Self::policy_error(
                profile,
                format!("unknown mail template '{template}' (known: VerificationCode)"),
            ));
        }
        let to = self
            .input_value(profile, working, &state.context, &["to"])
            .ok_or_else(|| Self::policy_error(profile, "no value for the 'to' input claim"))?;
        let code = self
            .input_value(profile, working, &state.context, &["code"])
            .ok_or_else(|| Self::policy_error(profile, "no value for the 'code' input claim"))?;
        let now = self.env.clock.now();
        let lifetime_seconds = state
            .verification
            .codes
            .pending(&to)
            .map(|p| p.expires_at - now)
            .unwrap_or(i64::from(otp::DEFAULT_CODE_EXPIRATION_IN_SECONDS));
        let mail = CodeMail {
            to,
            code,
            culture: state.context.culture.clone(),
            lifetime_seconds,
            tenant: state.context.tenant_name.clone(),
            correlation_id: state.context.correlation_id.clone(),
            ip_address: state.context.ip_address.clone(),
            user_agent: state.context.user_agent.clone(),
        };
        match self.env.mailer.send_code(mail).await {
            Ok(()) => Ok(ProfileResult::Done),
            Err(e) => {
                tracing::error!(
                    correlation_id = %state.context.correlation_id,
                    error = %e,
                    "could not send a verification code"
                );
                Ok(ProfileResult::Error(messages::SEND_FAILED.to_owned()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The verification control over in-process fakes, with a clock the test moves: no socket,
    //! no waiting for a code to expire.

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    use async_trait::async_trait;
    use serde_json::json;
    use trustframe_policy::userflow::{self, TenantContext, UserFlow};
    use trustframe_policy::{ClaimValues, ResolverContext};

    use super::super::{Input, JourneyState, Outcome, Page};
    use super::messages;
    use crate::env::*;
    use crate::{Engine, EngineError};

    #[derive(Default)]
    struct Fakes {
        mails: Mutex<Vec<(String, String)>>,
        now: AtomicI64,
        created: Mutex<Vec<Identity>>,
        /// The shared limits' answer, and the calls they saw.
        limited: AtomicBool,
        counted: Mutex<Vec<String>>,
    }

    impl Fakes {
        fn count(&self, what: String) -> bool {
            self.counted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(what);
            !self.limited.load(Ordering::SeqCst)
        }

        fn counted(&self) -> Vec<String> {
            std::mem::take(&mut *self.counted.lock().unwrap_or_else(|e| e.into_inner()))
        }
    }

    #[async_trait]
    impl Mailer for Fakes {
        async fn send_code(&self, mail: CodeMail) -> Result<(), EnvError> {
            let mut m = self.mails.lock().unwrap_or_else(|e| e.into_inner());
            m.push((mail.to, mail.code));
            Ok(())
        }
        async fn count_code_sent(&self, address: &str, ip: &str) -> Result<bool, EnvError> {
            Ok(self.count(format!("sent {address} {ip}")))
        }
        async fn count_code_check(&self, address: &str) -> Result<bool, EnvError> {
            Ok(self.count(format!("check {address}")))
        }
        async fn forgive_code_check(&self, address: &str) -> Result<(), EnvError> {
            self.count(format!("forgive {address}"));
            Ok(())
        }
    }

    impl Clock for Fakes {
        fn now(&self) -> i64 {
            self.now.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl Directory for Fakes {
        async fn read(&self, object_id: &str) -> Result<Option<DirectoryUser>, EnvError> {
            let created = self.created.lock().unwrap_or_else(|e| e.into_inner());
            Ok(
                (object_id == "oid-1" && !created.is_empty()).then(|| DirectoryUser {
                    object_id: object_id.into(),
                    identities: created.clone(),
                    attributes: ClaimValues::new(),
                }),
            )
        }
        async fn find_by_identity(&self, _: &Identity) -> Result<Option<DirectoryUser>, EnvError> {
            Ok(None)
        }
        async fn verify_password(
            &self,
            _: &str,
            _: &str,
            _: &ResolverContext,
        ) -> Result<PasswordCheck, EnvError> {
            Ok(PasswordCheck::NoSuchUser)
        }
        async fn create(
            &self,
            identities: Vec<Identity>,
            _: Option<String>,
            attributes: ClaimValues,
        ) -> Result<CreateResult, EnvError> {
            let mut c = self.created.lock().unwrap_or_else(|e| e.into_inner());
            c.extend(identities.clone());
            Ok(CreateResult::Created(DirectoryUser {
                object_id: "oid-1".into(),
                identities,
                attributes,
            }))
        }
        async fn write(&self, _: &str, _: ClaimValues) -> Result<(), EnvError> {
            Ok(())
        }
        async fn set_password(
            &self,
            _: &str,
            _: &str,
            _: &ResolverContext,
        ) -> Result<(), EnvError> {
            Ok(())
        }
    }

    #[async_trait]
    impl RestClient for Fakes {
        async fn exchange(&self, _: RestRequest<'_>) -> Result<RestOutcome, EnvError> {
            Err(EnvError::new("no REST in this test"))
        }
    }

    fn compiled(flow: &UserFlow) -> trustframe_policy::Policy {
        let tenant = TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes: &[],
            api_connectors: &[],
            identity_providers: &[],
            page_layouts: &trustframe_policy::userflow::NO_PAGE_LAYOUTS,
        };
        userflow::compile(flow, 0, &tenant).unwrap_or_else(|e| panic!("{e}"))
    }

    fn page(outcome: Result<Outcome, EngineError>) -> Page {
        match outcome {
            Ok(Outcome::Page(p)) => p,
            other => panic!("expected a page, got {other:?}"),
        }
    }

    fn control(action: &str, fields: &[(&str, &str)]) -> Input {
        Input::Control {
            control: "emailVerificationControl".into(),
            action: action.into(),
            form: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// The limits shared across journeys (the mailer's counters): a refused send mails
    /// nothing and leaves the journey's codes alone; a code to compare is counted first, a
    /// refused check turns away even the right code, and only a right code is forgiven.
    #[tokio::test]
    async fn shared_code_limits_refuse_sends_and_checks() {
        let flow: UserFlow = serde_json::from_value(json!({"id": "B2C_1_up", "type": "sign_up"}))
            .unwrap_or_else(|e| panic!("{e}"));
        let policy = compiled(&flow);
        let fakes = Fakes::default();
        fakes.now.store(1_000, Ordering::SeqCst);
        let engine = Engine::new(
            &policy,
            Env {
                directory: &fakes,
                rest: &fakes,
                mailer: &fakes,
                clock: &fakes,
            },
        );
        let context = ResolverContext {
            ip_address: "198.51.100.7".into(),
            user_agent: String::new(),
            ..ResolverContext::default()
        };
        let mut state = JourneyState::new(policy.id.clone(), context);
        page(engine.advance(&mut state, Input::Start).await);
        let send = control("SendCode", &[("email", "ann@example.com")]);
        let verify = |code: &str| control("VerifyCode", &[("verificationCode", code)]);

        fakes.limited.store(true, Ordering::SeqCst);
        let refused = page(engine.advance(&mut state, send.clone()).await);
        assert_eq!(refused.error.as_deref(), Some(messages::MAX_CODES));
        assert_ne!(refused.controls[0].state, "code_sent");
        assert!(
            fakes
                .mails
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        );
        assert!(
            state
                .verification
                .codes
                .pending("ann@example.com")
                .is_none()
        );
        assert_eq!(fakes.counted(), ["sent ann@example.com 198.51.100.7"]);
        // No code to compare: nothing counted.
        page(engine.advance(&mut state, verify("123456")).await);
        assert!(fakes.counted().is_empty());

        fakes.limited.store(false, Ordering::SeqCst);
        let sent = page(engine.advance(&mut state, send).await);
        assert_eq!(sent.controls[0].state, "code_sent");
        let code = fakes.mails.lock().unwrap_or_else(|e| e.into_inner())[0]
            .1
            .clone();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let page_after = page(engine.advance(&mut state, verify(wrong)).await);
        assert_eq!(page_after.error.as_deref(), Some(messages::WRONG_CODE));
        fakes.limited.store(true, Ordering::SeqCst);
        let refused = page(engine.advance(&mut state, verify(&code)).await);
        assert_eq!(refused.error.as_deref(), Some(messages::TOO_MANY_WRONG));
        assert_ne!(refused.controls[0].state, "verified");
        fakes.limited.store(false, Ordering::SeqCst);
        let verified = page(engine.advance(&mut state, verify(&code)).await);
        assert_eq!(verified.controls[0].state, "verified");
        let check = "check ann@example.com".to_owned();
        assert_eq!(
            fakes.counted(),
            [
                "sent ann@example.com 198.51.100.7".to_owned(),
                check.clone(),
                check.clone(),
                check,
                "forgive ann@example.com".to_owned()
            ]
        );
    }

    #[tokio::test]
    async fn codes_expire_by_the_clock_and_no_account_before_verification() {
        let flow: UserFlow = serde_json::from_value(json!({
            "id": "B2C_1_up", "type": "sign_up", "code_lifetime_seconds": 600
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let policy = compiled(&flow);
        let fakes = Fakes::default();
        fakes.now.store(1_000, Ordering::SeqCst);
        let engine = Engine::new(
            &policy,
            Env {
                directory: &fakes,
                rest: &fakes,
                mailer: &fakes,
                clock: &fakes,
            },
        );
        let mut state = JourneyState::new(policy.id.clone(), ResolverContext::default());
        let first = page(engine.advance(&mut state, Input::Start).await);
        assert_eq!(first.controls[0].state, "initial");

        let submit = |email: &str| {
            Input::Submit(
                [
                    ("email", email),
                    ("newPassword", "Passw0rd!x"),
                    ("reenterPassword", "Passw0rd!x"),
                ]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            )
        };
        let refused = page(engine.advance(&mut state, submit("ann@example.com")).await);
        assert_eq!(refused.error.as_deref(), Some(messages::NOT_VERIFIED));

        let sent = page(
            engine
                .advance(
                    &mut state,
                    control("SendCode", &[("email", "ann@example.com")]),
                )
                .await,
        );
        assert_eq!(sent.controls[0].state, "code_sent");
        let code = fakes.mails.lock().unwrap_or_else(|e| e.into_inner())[0]
            .1
            .clone();
        let stored = serde_json::to_string(&state).unwrap_or_default();
        assert!(!stored.contains(&code), "only a hash of the code is kept");

        // Ten minutes later the code is void.
        fakes.now.store(1_600, Ordering::SeqCst);
        let late = page(
            engine
                .advance(
                    &mut state,
                    control("VerifyCode", &[("verificationCode", &code)]),
                )
                .await,
        );
        assert_eq!(late.error.as_deref(), Some(messages::EXPIRED));

        engine
            .advance(
                &mut state,
                control("SendCode", &[("email", "ann@example.com")]),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let code = fakes.mails.lock().unwrap_or_else(|e| e.into_inner())[1]
            .1
            .clone();
        fakes.now.store(2_199, Ordering::SeqCst);
        let verified = page(
            engine
                .advance(
                    &mut state,
                    control("VerifyCode", &[("verificationCode", &code)]),
                )
                .await,
        );
        assert_eq!(verified.controls[0].state, "verified");
        assert!(
            fakes
                .created
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        );

        match engine.advance(&mut state, submit("Ann@Example.com")).await {
            Ok(Outcome::SendClaims(issued)) => assert_eq!(issued.object_id, "oid-1"),
            other => panic!("expected tokens, got {other:?}"),
        }
        let created = fakes.created.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(
            created.len(),
            1,
            "the account is written once, after verification"
        );
    }
}
