//! The step machine: `advance(state, input) -> Outcome`.
//!
//! A journey is a list of orchestration steps. Pages wait for the user; everything else runs
//! until the next page or until `SendClaims`. The state is plain data (serde), stored between
//! requests so that any node can continue a journey.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use trustframe_policy::{
    ClaimRef, ClaimTypeId, ClaimValues, OrchestrationStep, Policy, PolicyId, Precondition,
    PreconditionTest, ResolverContext, StepKind, TechnicalProfile, TechnicalProfileId,
    TechnicalProfileKind, UserInputType, UserJourneyId,
};

use crate::env::{CreateResult, Env, Identity, PasswordCheck, RestOutcome, RestRequest};
use crate::{EngineError, transform, validate};
use trustframe_policy::names;

mod controls;
mod federation;
pub use controls::{ControlStatus, ControlView};
pub use federation::FederationRequest;

/// B2C's messages where a policy sets none (`localization-string-ids.md`, `error-codes.md`).
pub mod messages {
    pub const USER_EXISTS: &str =
        "A user with the specified ID already exists. Please choose a different one.";
    pub const NO_SUCH_USER: &str = "We can't seem to find your account.";
    pub const WRONG_PASSWORD: &str = "Your password is incorrect.";
    /// Smart lockout (`UserMessageIfUserAccountLocked`; the code from `error-codes.md`).
    pub const ACCOUNT_LOCKED: &str = "AADB2C90114: Your account is temporarily locked to prevent unauthorized use. Try again later.";
    pub const REST_FAILED: &str = "The request could not be completed. Please try again later.";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JourneyState {
    pub policy: PolicyId,
    /// Index of the current orchestration step.
    pub step: usize,
    pub claims: ClaimValues,
    /// The claims exchange chosen on a selection page (sign up, a provider).
    pub selected: Option<String>,
    /// The technical profile whose page is shown and awaits a submit.
    pub awaiting: Option<TechnicalProfileId>,
    pub context: ResolverContext,
    /// The journey continues a single sign-on session: sign-in pages are skipped.
    pub sso: bool,
    /// One-time codes sent and display controls finished (`display-control-verification.md`).
    #[serde(default)]
    pub verification: controls::VerificationState,
    /// The journey running: `None` is the relying party's default journey.
    #[serde(default)]
    pub journey: Option<JourneyRef>,
    /// Where each `InvokeSubJourney` of type `Call` returns to.
    #[serde(default)]
    pub calls: Vec<Frame>,
    /// The object id a `DeleteClaimsPrincipal` profile deleted in this journey.
    #[serde(default)]
    pub user_deleted: Option<String>,
}

/// A user journey or a sub journey: their ids live apart (the starter pack has both a
/// `PasswordReset` user journey and a `PasswordReset` sub journey).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyRef {
    User(UserJourneyId),
    Sub(UserJourneyId),
}

/// A return point of a called sub journey: the journey and the step after the call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    pub journey: Option<JourneyRef>,
    pub step: usize,
}

/// Sub journeys called inside one another at most this deep: a policy that calls itself
/// fails instead of running forever.
const MAX_CALL_DEPTH: usize = 16;
/// Steps run without the user at most this many times in one request.
const MAX_STEPS_PER_REQUEST: usize = 1_000;

impl JourneyState {
    pub fn new(policy: PolicyId, context: ResolverContext) -> Self {
        Self {
            policy,
            step: 0,
            claims: ClaimValues::new(),
            selected: None,
            awaiting: None,
            context,
            sso: false,
            verification: controls::VerificationState::default(),
            journey: None,
            calls: Vec::new(),
            user_deleted: None,
        }
    }

    /// Starts the relying party's token journey (`<Endpoint Id="Token">`) for a refresh: the
    /// user and the refresh token's issue time are known, no page may be shown.
    pub fn for_token_journey(
        policy: PolicyId,
        journey: UserJourneyId,
        context: ResolverContext,
        claims: ClaimValues,
    ) -> Self {
        let mut state = Self::new(policy, context);
        state.journey = Some(JourneyRef::User(journey));
        state.claims = claims;
        state.sso = true;
        state
    }

    /// Starts from a single sign-on session: the user is known, sign-in pages are skipped.
    pub fn with_session(mut self, object_id: &str) -> Self {
        self.claims
            .insert(names::OBJECT_ID.into(), Value::String(object_id.to_owned()));
        self.sso = true;
        self
    }

    /// [`Self::with_session`], restoring the claims the session providers persisted
    /// ([`Issued::session_claims`]; `custom-policy-reference-sso.md`).
    pub fn with_session_claims(
        mut self,
        object_id: &str,
        claims: &serde_json::Map<String, Value>,
    ) -> Self {
        for (k, v) in claims {
            if !v.is_null() {
                self.claims.insert(ClaimTypeId::new(k.as_str()), v.clone());
            }
        }
        self.with_session(object_id)
    }
}

#[derive(Debug, Clone)]
pub enum Input {
    Start,
    /// The fields of the awaiting page, named by claim type id.
    Submit(BTreeMap<String, String>),
    /// A choice on the awaiting page: a claims exchange id (sign up, a provider).
    Select(String),
    /// An action of a display control on the awaiting page (`SendCode`, `VerifyCode`,
    /// `ChangeClaims`), with the page's fields as typed so far.
    Control {
        control: String,
        action: String,
        form: BTreeMap<String, String>,
    },
    Cancel,
    /// The verified ID token claims of the identity provider the journey was sent to with
    /// [`Outcome::Federate`].
    FederationResult(serde_json::Map<String, Value>),
}

#[derive(Debug, Clone, Serialize)]
pub enum Outcome {
    Page(Page),
    SendClaims(Issued),
    /// The journey ends with an error for the app.
    Fail(Failure),
    /// The user sees the message and cannot go on; the app then gets `access_denied`.
    Block {
        message: String,
    },
    /// The user goes to an external identity provider; the journey waits for
    /// [`Input::FederationResult`].
    Federate(FederationRequest),
}

#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub object_id: String,
    /// The relying party's output claims under their token names.
    pub claims: serde_json::Map<String, Value>,
    /// The journey deleted the user (`DeleteClaimsPrincipal`): no session may name it.
    pub user_deleted: bool,
    /// What the policy's session providers persist (`PersistedClaims` of `SM-AAD` and the
    /// like), for a single sign-on session to restore.
    pub session_claims: serde_json::Map<String, Value>,
}

/// Why a journey ends with an error for the app; the server maps each to its OAuth error once.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum Failure {
    /// Cancel on a page: `access_denied`, AADB2C90091.
    UserCancelled,
    /// "Forgot your password?" without a self-service override: `access_denied`, AADB2C90118;
    /// the app starts its password-reset policy (`add-password-reset-policy.md`).
    ForgotPassword,
    /// A step refused the user (a REST API's 409 `userMessage`, the directory, an assertion, an
    /// identity provider's answer): `access_denied` with this description.
    Refused(String),
    /// The journey reached what this server cannot run (an OAuth2 or SAML provider):
    /// `server_error` with this description.
    Unsupported(String),
}

impl Failure {
    /// The description for the app, with B2C's `AADB2C9xxxx` code where it has one.
    pub fn description(&self) -> String {
        match self {
            Self::UserCancelled => {
                "AADB2C90091: The user has cancelled entering self-asserted information.".into()
            }
            Self::ForgotPassword => controls::messages::FORGOT_PASSWORD.into(),
            Self::Refused(d) | Self::Unsupported(d) => d.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    /// The combined sign-in page (with sign-up link and providers).
    SignIn,
    SelfAsserted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page {
    pub technical_profile: TechnicalProfileId,
    pub kind: PageKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub selections: Vec<Selection>,
    /// A message for the whole page (a REST API's `userMessage`, a wrong password).
    pub error: Option<String>,
    /// Display controls (e-mail verification): their fields are in `fields`, marked.
    #[serde(default)]
    pub controls: Vec<ControlView>,
    /// The claims exchange the "Forgot your password?" link selects, when the page has one.
    #[serde(default)]
    pub forgot_password: Option<String>,
    /// `setting.showContinueButton` / `setting.showCancelButton` of the profile (default true).
    #[serde(default = "yes")]
    pub show_continue: bool,
    #[serde(default = "yes")]
    pub show_cancel: bool,
    /// The page's layout: a content definition id (`ContentDefinitionReferenceId` of the
    /// profile, else of the step).
    #[serde(default)]
    pub content_definition: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Field {
    /// The claim type id: also the input's name.
    pub name: String,
    pub label: String,
    pub input: UserInputType,
    pub value: Option<String>,
    pub required: bool,
    pub help_text: Option<String>,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
    /// The display control this field belongs to.
    #[serde(default)]
    pub control: Option<String>,
    /// The values of `options` that are chosen (multi-selects).
    #[serde(default)]
    pub selected: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    /// The claims exchange id to send back with [`Input::Select`].
    pub exchange: String,
    pub label: String,
    /// A sign-up page rather than a provider.
    pub sign_up: bool,
}

enum ProfileResult {
    Done,
    /// Message for the user (page) or the app (orchestration step).
    Error(String),
    Block(String),
}

/// The rules a value must follow, shown before the first submit: the predicate groups' help
/// texts (their predicates' when a group has none) and, for a secret, its pattern's.
fn rules_help(claim_type: &trustframe_policy::ClaimType) -> Option<String> {
    let mut rules = Vec::new();
    if let Some(v) = &claim_type.predicate_validation {
        for group in &v.groups {
            if group.help_text.trim().is_empty() {
                rules.extend(
                    group
                        .predicates
                        .iter()
                        .map(|p| p.help_text.trim().to_owned())
                        .filter(|t| !t.is_empty()),
                );
            } else {
                rules.push(group.help_text.trim().to_owned());
            }
        }
    }
    if rules.is_empty()
        && claim_type.is_secret()
        && let Some(p) = &claim_type.pattern
        && !p.help_text.trim().is_empty()
    {
        rules.push(p.help_text.trim().to_owned());
    }
    (!rules.is_empty()).then(|| rules.join(" "))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().filter_map(text).collect::<Vec<_>>().join(", ")),
        other => Some(other.to_string()),
    }
}

fn has_value(claims: &ClaimValues, id: &ClaimTypeId) -> bool {
    match claims.get(id) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// `true` when the preconditions say to skip.
fn skip(preconditions: &[Precondition], claims: &ClaimValues) -> bool {
    preconditions.iter().any(|p| {
        let holds = match &p.test {
            PreconditionTest::ClaimsExist(c) => has_value(claims, c),
            PreconditionTest::ClaimEquals(c, v) => {
                claims.get(c).and_then(text).is_some_and(|x| &x == v)
            }
        };
        holds == p.execute_actions_if
    })
}

/// The claims a page shows: its display claims, else its output claims.
fn page_claims(profile: &TechnicalProfile) -> &[ClaimRef] {
    if profile.display_claims.is_empty() {
        &profile.output_claims
    } else {
        &profile.display_claims
    }
}

/// The directory attribute behind a partner claim name: Entra ID's token claim names (what
/// `login-NonInteractive` maps) name the same attributes as Graph's.
fn directory_name(partner: &str) -> &str {
    const ALIASES: &[(&str, &str)] = &[
        ("oid", "objectId"),
        ("given_name", "givenName"),
        ("family_name", "surname"),
        ("name", "displayName"),
        ("upn", "userPrincipalName"),
        ("email", "signInNames.emailAddress"),
        ("tid", "tenantId"),
    ];
    ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(partner))
        .map_or(partner, |(_, name)| name)
}

/// A directory attribute's value, with the values Entra ID derives rather than stores
/// (`active-directory-technical-profile.md`): the object id, the sign-in names, a user
/// principal name, the tenant, and `accountEnabled` (true unless written otherwise).
fn directory_value(
    user: &crate::env::DirectoryUser,
    name: &str,
    context: &ResolverContext,
) -> Option<Value> {
    if let Some((_, v)) = user
        .attributes
        .iter()
        .find(|(k, _)| k.as_str().eq_ignore_ascii_case(name))
    {
        return Some(v.clone());
    }
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "objectid" => Some(Value::String(user.object_id.clone())),
        "accountenabled" => Some(Value::Bool(true)),
        "userprincipalname" => Some(Value::String(format!(
            "{}@{}",
            user.object_id, context.tenant_name
        ))),
        "tenantid" => Some(Value::String(context.tenant_id.clone())),
        "newclaimsprincipalcreated" => None,
        _ => {
            // `signInNames.emailAddress` (and `email`, as user flows write it): the identity.
            let kind = lower
                .strip_prefix("signinnames.")
                .map(|k| {
                    if k == "emailaddress" {
                        "emailAddress"
                    } else {
                        k
                    }
                })
                .or((lower == "email").then_some("emailAddress"))?;
            user.identities
                .iter()
                .find(|i| i.sign_in_type.eq_ignore_ascii_case(kind))
                .map(|i| Value::String(i.issuer_assigned_id.clone()))
        }
    }
}

/// The metadata a failed assertion's message is looked up in, the calling page's first.
fn messages_from<'p>(
    caller: Option<&'p TechnicalProfile>,
    profile: Option<&'p TechnicalProfile>,
) -> Vec<&'p trustframe_policy::Metadata> {
    caller
        .into_iter()
        .chain(profile)
        .map(|p| &p.metadata)
        .collect()
}

pub struct Engine<'a> {
    pub policy: &'a Policy,
    pub env: Env<'a>,
}

impl<'a> Engine<'a> {
    pub fn new(policy: &'a Policy, env: Env<'a>) -> Self {
        Self { policy, env }
    }

    /// The steps of the journey the state is in.
    fn steps(&self, state: &JourneyState) -> Result<&'a [OrchestrationStep], EngineError> {
        let journey = match &state.journey {
            None => self.policy.journey(),
            Some(JourneyRef::User(id)) => self.policy.user_journeys.get(id),
            Some(JourneyRef::Sub(id)) => self.policy.sub_journeys.get(id),
        };
        let journey = journey.ok_or_else(|| {
            EngineError::Policy(format!(
                "{}: user journey {:?} is referenced but not defined",
                self.policy.relying_party.span, state.journey
            ))
        })?;
        Ok(&journey.steps)
    }

    fn profile(&self, id: &TechnicalProfileId) -> Result<&'a TechnicalProfile, EngineError> {
        self.policy.technical_profile(id).ok_or_else(|| {
            EngineError::Policy(format!(
                "technical profile '{id}' is referenced but not defined"
            ))
        })
    }

    /// Moves the journey on with the user's input.
    pub async fn advance(
        &self,
        state: &mut JourneyState,
        input: Input,
    ) -> Result<Outcome, EngineError> {
        match input {
            Input::Start => {
                state.step = 0;
                state.awaiting = None;
            }
            Input::FederationResult(provider_claims) => {
                if let Some(outcome) = self.federated(state, &provider_claims)? {
                    return Ok(outcome);
                }
            }
            Input::Cancel => {
                return Ok(Outcome::Fail(Failure::UserCancelled));
            }
            Input::Select(exchange) => {
                let Some(awaiting) = state.awaiting.clone() else {
                    return Err(EngineError::UnexpectedInput(
                        "no page is waiting for a choice".into(),
                    ));
                };
                let page = self.page(state, &awaiting, None, BTreeMap::new())?;
                if page.forgot_password.is_some()
                    && let Some(outcome) =
                        controls::forgot_password_error(self.policy, &awaiting, &exchange)
                {
                    return Ok(outcome);
                }
                let forgot = page
                    .forgot_password
                    .as_deref()
                    .is_some_and(|f| f.eq_ignore_ascii_case(&exchange));
                if !forgot
                    && !page
                        .selections
                        .iter()
                        .any(|s| s.exchange.eq_ignore_ascii_case(&exchange))
                {
                    return Err(EngineError::UnexpectedInput(format!(
                        "'{exchange}' is not a choice of this page"
                    )));
                }
                state.selected = Some(exchange);
                state.awaiting = None;
                state.step += 1;
            }
            Input::Control {
                control,
                action,
                form,
            } => {
                let Some(awaiting) = state.awaiting.clone() else {
                    return Err(EngineError::UnexpectedInput(
                        "no page is waiting for input".into(),
                    ));
                };
                return self
                    .control_action(state, &awaiting, &control, &action, &form)
                    .await;
            }
            Input::Submit(form) => {
                let Some(awaiting) = state.awaiting.clone() else {
                    return Err(EngineError::UnexpectedInput(
                        "no page is waiting for input".into(),
                    ));
                };
                if let Some(outcome) = self.submit(state, &awaiting, &form).await? {
                    return Ok(outcome);
                }
                state.awaiting = None;
                state.step += 1;
            }
        }
        self.run(state).await
    }

    async fn run(&self, state: &mut JourneyState) -> Result<Outcome, EngineError> {
        let mut budget = MAX_STEPS_PER_REQUEST;
        loop {
            budget = budget.checked_sub(1).ok_or_else(|| {
                EngineError::Policy(format!(
                    "{}: the journey ran {MAX_STEPS_PER_REQUEST} steps without a page: it loops",
                    self.policy.relying_party.span
                ))
            })?;
            let steps = self.steps(state)?;
            let Some(step) = steps.get(state.step) else {
                // A called sub journey returns to the step after its call.
                if let Some(frame) = state.calls.pop() {
                    state.journey = frame.journey;
                    state.step = frame.step;
                    continue;
                }
                return Err(EngineError::Policy(format!(
                    "{}: user journey '{}' ended without a SendClaims step",
                    self.policy.relying_party.span,
                    match &state.journey {
                        Some(JourneyRef::User(id) | JourneyRef::Sub(id)) => id,
                        None => &self.policy.relying_party.default_user_journey,
                    }
                )));
            };
            if skip(&step.preconditions, &state.claims) {
                state.step += 1;
                continue;
            }
            match step.kind {
                StepKind::CombinedSignInAndSignUp | StepKind::ClaimsProviderSelection => {
                    if state.sso || has_value(&state.claims, &names::OBJECT_ID.into()) {
                        state.step += 1;
                        continue;
                    }
                    if let Some(exchange) = self.domain_hint_choice(state, step, steps)? {
                        state.selected = Some(exchange);
                        state.step += 1;
                        continue;
                    }
                    let profile = match step.claims_exchanges.first() {
                        Some(exchange) => exchange.technical_profile.clone(),
                        None => TechnicalProfileId::new(format!("step-{}-selection", step.order)),
                    };
                    // The sign-in profile's input claims fill its page (`{OIDC:LoginHint}`).
                    if let Some(p) = self.policy.technical_profile(&profile) {
                        self.prefill(state, p)?;
                    }
                    state.awaiting = Some(profile.clone());
                    return Ok(Outcome::Page(self.page(
                        state,
                        &profile,
                        None,
                        BTreeMap::new(),
                    )?));
                }
                StepKind::ClaimsExchange => {
                    let exchange = match step.claims_exchanges.as_slice() {
                        [only] => only,
                        many => match state.selected.as_deref() {
                            Some(selected) => many
                                .iter()
                                .find(|e| e.id.eq_ignore_ascii_case(selected))
                                .ok_or_else(|| {
                                    EngineError::Policy(format!(
                                        "{}: step {} has no claims exchange '{selected}'",
                                        step.span, step.order
                                    ))
                                })?,
                            None => {
                                // In a single sign-on session the choice was made when the
                                // session began: a step whose providers the session covers
                                // is skipped.
                                if state.sso {
                                    let mut covered = None;
                                    for e in many {
                                        let p = self.profile(&e.technical_profile)?;
                                        if let Some(session) = self.session_provider(p)? {
                                            covered = Some(session);
                                            break;
                                        }
                                    }
                                    if let Some(session) = covered {
                                        let mut claims = state.claims.clone();
                                        self.finish_profile(session, &mut claims, &state.context)?;
                                        state.claims = claims;
                                        state.step += 1;
                                        continue;
                                    }
                                }
                                return Err(EngineError::Policy(format!(
                                    "{}: step {} has several claims exchanges but no choice was made",
                                    step.span, step.order
                                )));
                            }
                        },
                    };
                    let profile = self.profile(&exchange.technical_profile)?;
                    // Single sign-on: a profile whose session provider remembers it is not run
                    // again; the provider's output claims say so (`objectIdFromSession`).
                    if state.sso
                        && let Some(session) = self.session_provider(profile)?
                    {
                        let mut claims = state.claims.clone();
                        self.finish_profile(session, &mut claims, &state.context)?;
                        state.claims = claims;
                        state.step += 1;
                        continue;
                    }
                    if let TechnicalProfileKind::Unsupported { protocol } = &profile.kind {
                        return Ok(Outcome::Fail(Failure::Unsupported(format!(
                            "AADB2C90037: The identity provider '{}' ({protocol}) is not supported by this server.",
                            profile.display_name
                        ))));
                    }
                    if profile.kind == TechnicalProfileKind::OpenIdConnect {
                        return Ok(self.federate(state, profile));
                    }
                    if profile.kind == TechnicalProfileKind::SelfAsserted {
                        return self.show(state, profile);
                    }
                    let step_name = format!("{}", step.order);
                    let mut claims = state.claims.clone();
                    match self
                        .run_profile(state, profile, &mut claims, Some(&step_name), None)
                        .await?
                    {
                        ProfileResult::Done => state.claims = claims,
                        ProfileResult::Error(message) => {
                            return Ok(Outcome::Fail(Failure::Refused(message)));
                        }
                        ProfileResult::Block(message) => return Ok(Outcome::Block { message }),
                    }
                    state.step += 1;
                }
                StepKind::SendClaims => return self.send_claims(state).map(Outcome::SendClaims),
                StepKind::InvokeSubJourney => {
                    let Some(sub) = &step.sub_journey else {
                        return Err(EngineError::Policy(format!(
                            "{}: step {} invokes no sub journey",
                            step.span, step.order
                        )));
                    };
                    let Some(journey) = self.policy.sub_journeys.get(sub) else {
                        return Err(EngineError::Policy(format!(
                            "{}: step {} invokes sub journey '{sub}', which the policy does not define",
                            step.span, step.order
                        )));
                    };
                    // `Call` comes back after the sub journey; `Transfer` never does
                    // (`subjourneys.md`).
                    if journey.sub_journey_type != Some(trustframe_policy::SubJourneyType::Transfer)
                    {
                        if state.calls.len() >= MAX_CALL_DEPTH {
                            return Err(EngineError::Policy(format!(
                                "{}: sub journeys nested deeper than {MAX_CALL_DEPTH}",
                                step.span
                            )));
                        }
                        state.calls.push(Frame {
                            journey: state.journey.clone(),
                            step: state.step + 1,
                        });
                    }
                    state.journey = Some(JourneyRef::Sub(sub.clone()));
                    state.step = 0;
                }
                StepKind::GetClaims => {
                    // The relying party's input claims, read from the authorize request's
                    // parameters by their partner names (`relyingparty.md`).
                    for input in &self.policy.relying_party.input_claims {
                        let value = state
                            .context
                            .oauth_params
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(input.partner_name()))
                            .map(|(_, v)| v.clone())
                            .or_else(|| {
                                input
                                    .default_value
                                    .as_ref()
                                    .map(|d| state.context.resolve(d, &state.claims))
                            })
                            .filter(|v| !v.is_empty());
                        if let Some(v) = value {
                            state
                                .claims
                                .insert(input.claim_type.clone(), Value::String(v));
                        }
                    }
                    state.step += 1;
                }
                StepKind::UserDialog => {
                    let Some(exchange) = step.claims_exchanges.first() else {
                        return Err(EngineError::Policy(format!(
                            "{}: UserDialog step {} has no claims exchange",
                            step.span, step.order
                        )));
                    };
                    let profile = self.profile(&exchange.technical_profile)?;
                    return self.show(state, profile);
                }
            }
        }
    }

    /// Shows the page of a self-asserted profile, prefilled, and waits for it.
    fn show(
        &self,
        state: &mut JourneyState,
        profile: &TechnicalProfile,
    ) -> Result<Outcome, EngineError> {
        state.awaiting = Some(profile.id.clone());
        self.prefill(state, profile)?;
        Ok(Outcome::Page(self.page(
            state,
            &profile.id,
            None,
            BTreeMap::new(),
        )?))
    }

    /// Input claims of a self-asserted profile fill its page: values of the bag, else defaults.
    fn prefill(
        &self,
        state: &mut JourneyState,
        profile: &TechnicalProfile,
    ) -> Result<(), EngineError> {
        for input in &profile.input_claims {
            if has_value(&state.claims, &input.claim_type) && !input.always_use_default_value {
                continue;
            }
            if let Some(default) = &input.default_value {
                let value = state.context.resolve(default, &state.claims);
                if !value.is_empty() {
                    state
                        .claims
                        .insert(input.claim_type.clone(), Value::String(value));
                }
            }
        }
        Ok(())
    }

    /// The page of a self-asserted profile (or a bare selection page), with the current values.
    fn page(
        &self,
        state: &JourneyState,
        profile_id: &TechnicalProfileId,
        error: Option<String>,
        field_errors: BTreeMap<ClaimTypeId, String>,
    ) -> Result<Page, EngineError> {
        let steps = self.steps(state)?;
        let step = steps.get(state.step);
        let kind = match step.map(|s| s.kind) {
            Some(StepKind::CombinedSignInAndSignUp | StepKind::ClaimsProviderSelection) => {
                PageKind::SignIn
            }
            _ => PageKind::SelfAsserted,
        };
        let selections = match step {
            Some(step) if kind == PageKind::SignIn => self.selections(step, steps)?,
            _ => Vec::new(),
        };
        let step_layout = step.and_then(|s| s.content_definition.clone());
        let Some(profile) = self.policy.technical_profile(profile_id) else {
            return Ok(Page {
                content_definition: step_layout,
                technical_profile: profile_id.clone(),
                kind,
                title: "Sign in".into(),
                fields: Vec::new(),
                selections,
                error,
                controls: Vec::new(),
                forgot_password: None,
                show_continue: true,
                show_cancel: true,
            });
        };
        let mut fields = Vec::new();
        for claim in page_claims(profile) {
            let Some(claim_type) = self.policy.claims_schema.get(&claim.claim_type) else {
                return Err(EngineError::Policy(format!(
                    "{}: technical profile '{}' shows claim '{}', which the claims schema does not define",
                    claim.span, profile.id, claim.claim_type
                )));
            };
            // A claim without a `UserInputType` is an output of the page's validation
            // profiles, not a field (`self-asserted-technical-profile.md`).
            let Some(input) = claim_type.user_input_type else {
                continue;
            };
            let value = if claim_type.is_secret() {
                None
            } else {
                state.claims.get(&claim.claim_type).and_then(text)
            };
            // The options a multi-select shows as ticked.
            let selected = match state.claims.get(&claim.claim_type) {
                Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
                Some(Value::String(s)) if input == UserInputType::CheckboxMultiSelect => {
                    s.split(',').map(|p| p.trim().to_owned()).collect()
                }
                _ => Vec::new(),
            };
            fields.push(Field {
                selected,
                name: claim_type.id.to_string(),
                label: claim_type.display_name.clone(),
                input,
                value,
                required: claim.required,
                help_text: claim_type
                    .user_help_text
                    .clone()
                    .or_else(|| rules_help(claim_type)),
                options: claim_type.enumeration.clone(),
                error: field_errors.get(&claim.claim_type).cloned(),
                control: None,
            });
        }
        let controls = self.decorate_controls(state, profile, &mut fields, &field_errors)?;
        let forgot_password = controls::forgot_password_link(profile, kind, &fields);
        Ok(Page {
            technical_profile: profile.id.clone(),
            kind,
            title: profile.display_name.clone(),
            fields,
            selections,
            error,
            controls,
            forgot_password,
            show_continue: profile.metadata.flag("setting.showContinueButton", true),
            show_cancel: profile.metadata.flag("setting.showCancelButton", true),
            // A sign-in page follows its step's layout; a form page its profile's.
            content_definition: match kind {
                PageKind::SignIn => step_layout,
                PageKind::SelfAsserted => profile
                    .metadata
                    .get(names::CONTENT_DEFINITION)
                    .map(str::to_owned)
                    .or(step_layout),
            },
        })
    }

    fn selections(
        &self,
        step: &OrchestrationStep,
        steps: &[OrchestrationStep],
    ) -> Result<Vec<Selection>, EngineError> {
        let mut out = Vec::new();
        let forgot = controls::forgot_password_override(self.policy, step);
        // The sign-in profile's `SignUpTarget` is the page's sign-up link
        // (`self-asserted-technical-profile.md`).
        let sign_up_target = step
            .claims_exchanges
            .first()
            .and_then(|e| self.policy.technical_profile(&e.technical_profile))
            .and_then(|p| p.metadata.get(names::SIGN_UP_TARGET))
            .filter(|t| {
                !step
                    .claims_provider_selections
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(t))
            })
            .map(str::to_owned);
        for id in step
            .claims_provider_selections
            .iter()
            .chain(&sign_up_target)
        {
            if forgot.is_some_and(|f| f.eq_ignore_ascii_case(id)) {
                continue;
            }
            let exchange = steps
                .iter()
                .flat_map(|s| s.claims_exchanges.iter())
                .find(|e| e.id.eq_ignore_ascii_case(id))
                .ok_or_else(|| {
                    EngineError::Policy(format!(
                        "{}: step {} offers '{id}', which no later step's claims exchange defines",
                        step.span, step.order
                    ))
                })?;
            let profile = self.profile(&exchange.technical_profile)?;
            out.push(Selection {
                exchange: exchange.id.clone(),
                label: profile.display_name.clone(),
                sign_up: profile.kind == TechnicalProfileKind::SelfAsserted,
            });
        }
        Ok(out)
    }

    /// Handles a page submit. `Some(outcome)` stops here (the page again, or a block).
    async fn submit(
        &self,
        state: &mut JourneyState,
        profile_id: &TechnicalProfileId,
        form: &BTreeMap<String, String>,
    ) -> Result<Option<Outcome>, EngineError> {
        let profile = self.profile(profile_id)?;
        let mut fields = Vec::new();
        for claim in page_claims(profile) {
            if let Some(t) = self.policy.claims_schema.get(&claim.claim_type)
                && t.user_input_type.is_some()
            {
                fields.push((t, claim.required));
            }
        }
        let mut working = state.claims.clone();
        match validate::collect(&fields, form)? {
            Ok(values) => {
                working.extend(values);
                if let Some(message) = self.unverified_controls(state, profile, &working) {
                    self.keep_typed(state, profile, form);
                    let page = self.page(state, profile_id, Some(message), BTreeMap::new())?;
                    return Ok(Some(Outcome::Page(page)));
                }
            }
            Err(field_errors) => {
                // Keep what the user typed (never passwords) so they only fix what is wrong.
                for (t, _) in &fields {
                    if let Some(raw) = form
                        .iter()
                        .find(|(k, _)| t.id == k.as_str())
                        .map(|(_, v)| v)
                        && !t.is_secret()
                    {
                        state
                            .claims
                            .insert(t.id.clone(), Value::String(raw.trim().to_owned()));
                    }
                }
                let page = self.page(state, profile_id, None, field_errors)?;
                return Ok(Some(Outcome::Page(page)));
            }
        }
        let step_name = format!(
            "{}",
            self.steps(state)?
                .get(state.step)
                .map(|s| s.order)
                .unwrap_or_default()
        );
        for validation in &profile.validation_technical_profiles {
            if skip(&validation.preconditions, &working) {
                continue;
            }
            let target = self.profile(&validation.reference_id)?;
            match self
                .run_profile(state, target, &mut working, Some(&step_name), Some(profile))
                .await?
            {
                ProfileResult::Done => {
                    if !validation.continue_on_success {
                        break;
                    }
                }
                ProfileResult::Error(message) => {
                    if validation.continue_on_error {
                        continue;
                    }
                    self.keep_public(state, working);
                    let page = self.page(state, profile_id, Some(message), BTreeMap::new())?;
                    return Ok(Some(Outcome::Page(page)));
                }
                ProfileResult::Block(message) => return Ok(Some(Outcome::Block { message })),
            }
        }
        if let Some(message) = self.finish_profile(profile, &mut working, &state.context)? {
            self.keep_public(state, working);
            let page = self.page(state, profile_id, Some(message), BTreeMap::new())?;
            return Ok(Some(Outcome::Page(page)));
        }
        self.keep_public(state, working);
        Ok(None)
    }

    /// Commits claims to the state, leaving out secrets: a password never rests in a journey.
    /// Takes the working bag as it is, without copying it.
    fn keep_public(&self, state: &mut JourneyState, mut working: ClaimValues) {
        working.retain(|id, _| {
            !self
                .policy
                .claims_schema
                .get(id)
                .is_some_and(|t| t.is_secret())
        });
        state.claims = working;
    }

    /// Output claims' defaults and output claims transformations of a profile that ran.
    fn finish_profile(
        &self,
        profile: &TechnicalProfile,
        claims: &mut ClaimValues,
        context: &ResolverContext,
    ) -> Result<Option<String>, EngineError> {
        self.finish_profile_for(profile, claims, context, None)
    }

    /// [`Self::finish_profile`] for a validation profile of the page `caller`: a failed
    /// assertion takes its message from the page's metadata first, as B2C does
    /// (`validation-technical-profile.md`).
    fn finish_profile_for(
        &self,
        profile: &TechnicalProfile,
        claims: &mut ClaimValues,
        context: &ResolverContext,
        caller: Option<&TechnicalProfile>,
    ) -> Result<Option<String>, EngineError> {
        for out in &profile.output_claims {
            if let Some(default) = &out.default_value
                && (out.always_use_default_value || !has_value(claims, &out.claim_type))
            {
                let value = context.resolve(default, claims);
                let claim_type = self.policy.claims_schema.get(&out.claim_type);
                let typed = match claim_type {
                    Some(t) => validate::parse_value(t, &value).unwrap_or(Value::String(value)),
                    None => Value::String(value),
                };
                claims.insert(out.claim_type.clone(), typed);
            }
        }
        let metadata = messages_from(caller, Some(profile));
        self.transformations(&profile.output_claims_transformations, claims, &metadata)
    }

    /// Runs claims transformations in order; a failed assertion's message comes from the first
    /// of `metadata` that sets its key (`UserMessageIfClaimsTransformationBooleanValueIsNotEqual`,
    /// …), else B2C's default.
    fn transformations(
        &self,
        ids: &[trustframe_policy::ClaimsTransformationId],
        claims: &mut ClaimValues,
        metadata: &[&trustframe_policy::Metadata],
    ) -> Result<Option<String>, EngineError> {
        for id in ids {
            let t = self.policy.claims_transformations.get(id).ok_or_else(|| {
                EngineError::Policy(format!(
                    "claims transformation '{id}' is referenced but not defined"
                ))
            })?;
            if let Err(failed) = transform::apply(t, claims, self.env.clock.now())? {
                let message = metadata
                    .iter()
                    .find_map(|m| m.get(failed.metadata_key))
                    .map_or(failed.default_message, str::to_owned);
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// The values of the claims the policy's skipping session providers persist; secrets never.
    fn session_claims(&self, claims: &ClaimValues) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        for p in self.policy.technical_profiles.values() {
            let TechnicalProfileKind::SessionManagement(provider) = p.kind else {
                continue;
            };
            if !provider.skips_in_session() {
                continue;
            }
            for c in &p.persisted_claims {
                let secret = self
                    .policy
                    .claims_schema
                    .get(&c.claim_type)
                    .is_some_and(|t| t.is_secret());
                if let Some(v) = claims.get(&c.claim_type).filter(|v| !v.is_null())
                    && !secret
                {
                    out.insert(c.claim_type.to_string(), v.clone());
                }
            }
        }
        out
    }

    /// The session provider that lets `profile` be skipped in a single sign-on session.
    fn session_provider(
        &self,
        profile: &TechnicalProfile,
    ) -> Result<Option<&'a TechnicalProfile>, EngineError> {
        let Some(id) = &profile.session_management else {
            return Ok(None);
        };
        let session = self.profile(id)?;
        Ok(match session.kind {
            TechnicalProfileKind::SessionManagement(p) if p.skips_in_session() => Some(session),
            _ => None,
        })
    }

    /// Runs a non-page technical profile over `claims`: the one dispatch from B2C's handlers
    /// to their implementations, whether an orchestration step, a validation technical
    /// profile or a display control's action calls it.
    async fn run_profile(
        &self,
        state: &mut JourneyState,
        profile: &TechnicalProfile,
        claims: &mut ClaimValues,
        step: Option<&str>,
        caller: Option<&TechnicalProfile>,
    ) -> Result<ProfileResult, EngineError> {
        if let Some(message) = self.transformations(
            &profile.input_claims_transformations,
            claims,
            &messages_from(caller, Some(profile)),
        )? {
            return Ok(ProfileResult::Error(message));
        }
        match profile.kind {
            TechnicalProfileKind::OneTimePassword => {
                if let ProfileResult::Error(m) = self.run_otp(state, profile, claims).await? {
                    return Ok(ProfileResult::Error(m));
                }
            }
            TechnicalProfileKind::Mail => {
                if let ProfileResult::Error(m) = self.run_mail(state, profile, claims).await? {
                    return Ok(ProfileResult::Error(m));
                }
            }
            _ => {
                if let Some(result) = self
                    .run_stateless(profile, claims, &state.context, step)
                    .await?
                {
                    return Ok(result);
                }
                if profile.kind == TechnicalProfileKind::Directory
                    && names::DirectoryOperation::of(&profile.metadata)
                        == Ok(names::DirectoryOperation::DeleteClaimsPrincipal)
                {
                    state.user_deleted = claims
                        .get(&ClaimTypeId::new(names::OBJECT_ID))
                        .and_then(text);
                }
            }
        }
        match self.finish_profile_for(profile, claims, &state.context, caller)? {
            Some(message) => Ok(ProfileResult::Error(message)),
            None => Ok(ProfileResult::Done),
        }
    }

    /// The handlers that need no journey state; `Some` ends the profile with that result.
    async fn run_stateless(
        &self,
        profile: &TechnicalProfile,
        claims: &mut ClaimValues,
        context: &ResolverContext,
        step: Option<&str>,
    ) -> Result<Option<ProfileResult>, EngineError> {
        match profile.kind {
            TechnicalProfileKind::Restful => {
                let outcome = self
                    .env
                    .rest
                    .exchange(RestRequest {
                        profile,
                        schema: &self.policy.claims_schema,
                        claims,
                        context,
                        step,
                    })
                    .await?;
                match outcome {
                    RestOutcome::Continue {
                        claims: returned,
                        cleared,
                    } => {
                        for id in cleared {
                            claims.remove(&id);
                        }
                        claims.extend(returned);
                    }
                    RestOutcome::ValidationError { user_message }
                    | RestOutcome::Failed { user_message } => {
                        return Ok(Some(ProfileResult::Error(user_message)));
                    }
                    RestOutcome::Block { user_message } => {
                        return Ok(Some(ProfileResult::Block(user_message)));
                    }
                }
            }
            TechnicalProfileKind::PasswordCheck => {
                let name = self.input_value(
                    profile,
                    claims,
                    context,
                    &["signInName", "username", "email"],
                );
                let password = self.input_value(profile, claims, context, &["password"]);
                let (Some(name), Some(password)) = (name, password) else {
                    let m = profile.metadata.get(names::MESSAGE_IF_DOES_NOT_EXIST);
                    return Ok(Some(ProfileResult::Error(
                        m.unwrap_or(messages::NO_SUCH_USER).to_owned(),
                    )));
                };
                match self
                    .env
                    .directory
                    .verify_password(&name, &password, context)
                    .await?
                {
                    PasswordCheck::Valid(user) => self.load_user(profile, claims, context, &user),
                    PasswordCheck::NoSuchUser => {
                        let m = profile.metadata.get(names::MESSAGE_IF_DOES_NOT_EXIST);
                        return Ok(Some(ProfileResult::Error(
                            m.unwrap_or(messages::NO_SUCH_USER).to_owned(),
                        )));
                    }
                    PasswordCheck::WrongPassword => {
                        let m = profile.metadata.get(names::MESSAGE_IF_INVALID_PASSWORD);
                        return Ok(Some(ProfileResult::Error(
                            m.unwrap_or(messages::WRONG_PASSWORD).to_owned(),
                        )));
                    }
                    PasswordCheck::Locked { .. } => {
                        let m = profile.metadata.get(names::MESSAGE_IF_ACCOUNT_LOCKED);
                        return Ok(Some(ProfileResult::Error(
                            m.unwrap_or(messages::ACCOUNT_LOCKED).to_owned(),
                        )));
                    }
                }
            }
            TechnicalProfileKind::Directory => {
                if let Some(result) = self.run_directory(profile, claims, context).await? {
                    return Ok(Some(result));
                }
            }
            TechnicalProfileKind::ClaimsTransformation
            | TechnicalProfileKind::NoOp
            | TechnicalProfileKind::SessionManagement(_) => {}
            ref other => {
                return Err(EngineError::Policy(format!(
                    "{}: technical profile '{}' ({other:?}) cannot run as a claims exchange",
                    profile.span, profile.id
                )));
            }
        }
        Ok(None)
    }

    /// The value an input claim sends, found by its partner name or claim type id.
    fn input_value(
        &self,
        profile: &TechnicalProfile,
        claims: &ClaimValues,
        context: &ResolverContext,
        names: &[&str],
    ) -> Option<String> {
        profile
            .input_claims
            .iter()
            .find(|c| {
                names
                    .iter()
                    .any(|n| c.partner_name().eq_ignore_ascii_case(n) || c.claim_type == *n)
            })
            .and_then(|c| self.claim_or_default(c, claims, context))
    }

    fn claim_or_default(
        &self,
        c: &ClaimRef,
        claims: &ClaimValues,
        context: &ResolverContext,
    ) -> Option<String> {
        let own = if c.always_use_default_value {
            None
        } else {
            claims.get(&c.claim_type).and_then(text)
        };
        own.filter(|v| !v.is_empty())
            .or_else(|| c.default_value.as_ref().map(|d| context.resolve(d, claims)))
            .filter(|v| !v.is_empty())
    }

    /// Copies a directory user's attributes to the profile's output claims, by partner name.
    /// The names of Entra ID's tokens (`given_name`, `upn`, …) that `login-NonInteractive`
    /// maps are read from the matching directory attributes.
    fn load_user(
        &self,
        profile: &TechnicalProfile,
        claims: &mut ClaimValues,
        context: &ResolverContext,
        user: &crate::env::DirectoryUser,
    ) {
        claims.insert(
            names::OBJECT_ID.into(),
            Value::String(user.object_id.clone()),
        );
        for out in &profile.output_claims {
            let key = directory_name(out.partner_name());
            if let Some(v) = directory_value(user, key, context) {
                claims.insert(out.claim_type.clone(), v);
            }
        }
    }
    async fn run_directory(
        &self,
        profile: &TechnicalProfile,
        claims: &mut ClaimValues,
        context: &ResolverContext,
    ) -> Result<Option<ProfileResult>, EngineError> {
        let operation = names::DirectoryOperation::of(&profile.metadata)
            .map_err(|e| EngineError::Policy(format!("{}: {e}", profile.span)))?;
        // The key claim: the object id, or a sign-in name (`signInNames.emailAddress`).
        let mut object_id = None;
        let mut sign_in = None;
        let (mut federated_issuer, mut federated_id) = (None, None);
        for input in &profile.input_claims {
            let Some(value) = self.claim_or_default(input, claims, context) else {
                continue;
            };
            let partner = input.partner_name();
            if partner.eq_ignore_ascii_case(names::OBJECT_ID) {
                object_id = Some(value);
            } else if let Some(kind) = partner.strip_prefix("signInNames.") {
                sign_in = Some((kind.to_owned(), value));
            } else if partner.eq_ignore_ascii_case(names::FEDERATED_ISSUER) {
                federated_issuer = Some(value);
            } else if partner.eq_ignore_ascii_case(names::FEDERATED_ID) {
                federated_id = Some(value);
            }
        }
        // The issuer of the key identity: the tenant for local accounts, the identity
        // provider for a federated one (`user-profile-attributes.md`).
        let mut tenant = context.tenant_name.clone();
        if let (Some(issuer), Some(id)) = (federated_issuer, federated_id) {
            sign_in = Some(("federated".to_owned(), id));
            tenant = issuer;
        }
        let existing = match (&object_id, &sign_in) {
            (Some(id), _) => self.env.directory.read(id).await?,
            (None, Some((kind, value))) => {
                let identity = Identity {
                    sign_in_type: kind.clone(),
                    issuer: tenant.clone(),
                    issuer_assigned_id: value.clone(),
                };
                self.env.directory.find_by_identity(&identity).await?
            }
            (None, None) => None,
        };
        if existing.is_some()
            && profile
                .metadata
                .flag(names::RAISE_ERROR_IF_ALREADY_EXISTS, false)
        {
            let m = profile
                .metadata
                .get(names::MESSAGE_IF_ALREADY_EXISTS)
                .unwrap_or(messages::USER_EXISTS);
            return Ok(Some(ProfileResult::Error(m.to_owned())));
        }
        if existing.is_none()
            && profile
                .metadata
                .flag(names::RAISE_ERROR_IF_DOES_NOT_EXIST, false)
        {
            let m = profile
                .metadata
                .get(names::MESSAGE_IF_DOES_NOT_EXIST)
                .unwrap_or(messages::NO_SUCH_USER);
            return Ok(Some(ProfileResult::Error(m.to_owned())));
        }
        match operation {
            names::DirectoryOperation::Write | names::DirectoryOperation::DeleteClaims => {
                let delete = operation == names::DirectoryOperation::DeleteClaims;
                let mut attributes = ClaimValues::new();
                let mut password = None;
                for persisted in &profile.persisted_claims {
                    let partner = persisted.partner_name();
                    let value = if delete {
                        Value::Null
                    } else if persisted.always_use_default_value
                        || !has_value(claims, &persisted.claim_type)
                    {
                        match self.claim_or_default(persisted, claims, context) {
                            Some(v) => Value::String(v),
                            None => continue,
                        }
                    } else {
                        claims
                            .get(&persisted.claim_type)
                            .cloned()
                            .unwrap_or(Value::Null)
                    };
                    if partner.eq_ignore_ascii_case("password") {
                        password = text(&value);
                    } else if partner.eq_ignore_ascii_case(names::OBJECT_ID)
                        || partner.starts_with("signInNames.")
                    {
                        continue;
                    } else {
                        attributes.insert(ClaimTypeId::new(partner), value);
                    }
                }
                // The directory's password policy, before anything is written.
                if !delete
                    && let Some(p) = &password
                    && let Some(message) = self.env.directory.refuse_new_password(p)
                {
                    return Ok(Some(ProfileResult::Error(message)));
                }
                match existing {
                    Some(mut user) => {
                        self.env
                            .directory
                            .write(&user.object_id, attributes.clone())
                            .await?;
                        if let Some(p) = password.filter(|_| !delete) {
                            self.env
                                .directory
                                .set_password(&user.object_id, &p, context)
                                .await?;
                        }
                        for (k, v) in attributes {
                            if v.is_null() {
                                user.attributes.remove(&k);
                            } else {
                                user.attributes.insert(k, v);
                            }
                        }
                        self.load_user(profile, claims, context, &user);
                    }
                    None if delete => {}
                    None => {
                        let Some((kind, value)) = sign_in else {
                            return Err(EngineError::Policy(format!(
                                "{}: directory write '{}' has no key claim to create a user with",
                                profile.span, profile.id
                            )));
                        };
                        let identity = Identity {
                            sign_in_type: kind,
                            issuer: tenant,
                            issuer_assigned_id: value,
                        };
                        match self
                            .env
                            .directory
                            .create(vec![identity], password, attributes)
                            .await?
                        {
                            CreateResult::Created(user) => {
                                self.load_user(profile, claims, context, &user);
                                // `newClaimsPrincipalCreated` (`newUser` as user flows name it).
                                let mut marked = false;
                                for out in &profile.output_claims {
                                    let p = out.partner_name();
                                    if p.eq_ignore_ascii_case(names::NEW_CLAIMS_PRINCIPAL_CREATED)
                                        || p.eq_ignore_ascii_case(names::NEW_USER)
                                    {
                                        claims.insert(out.claim_type.clone(), Value::Bool(true));
                                        marked = true;
                                    }
                                }
                                if !marked {
                                    claims.insert(names::NEW_USER.into(), Value::Bool(true));
                                }
                            }
                            CreateResult::AlreadyExists => {
                                let m = profile
                                    .metadata
                                    .get(names::MESSAGE_IF_ALREADY_EXISTS)
                                    .unwrap_or(messages::USER_EXISTS);
                                return Ok(Some(ProfileResult::Error(m.to_owned())));
                            }
                        }
                    }
                }
            }
            names::DirectoryOperation::Read => {
                if let Some(user) = existing {
                    self.load_user(profile, claims, context, &user);
                }
            }
            names::DirectoryOperation::DeleteClaimsPrincipal => {
                if let Some(user) = existing {
                    self.env.directory.delete(&user.object_id, context).await?;
                }
            }
        }
        Ok(None)
    }

    fn send_claims(&self, state: &mut JourneyState) -> Result<Issued, EngineError> {
        let rp = &self.policy.relying_party;
        let mut claims = state.claims.clone();
        if let Some(message) =
            self.transformations(&rp.output_claims_transformations, &mut claims, &[])?
        {
            return Err(EngineError::Policy(message));
        }
        let object_id = claims
            .get(&ClaimTypeId::new(names::OBJECT_ID))
            .and_then(text)
            .ok_or_else(|| {
                EngineError::Policy(format!(
                    "{}: the journey reached SendClaims without a user (objectId)",
                    rp.span
                ))
            })?;
        let mut out = serde_json::Map::new();
        for c in &rp.output_claims {
            let value = match claims
                .get(&c.claim_type)
                .filter(|v| !v.is_null() && !c.always_use_default_value)
            {
                Some(v) => v.clone(),
                None => match &c.default_value {
                    Some(d) => Value::String(state.context.resolve(d, &claims)),
                    None => continue,
                },
            };
            out.insert(c.partner_name().to_owned(), value);
        }
        let session_claims = self.session_claims(&claims);
        state.claims = claims;
        Ok(Issued {
            session_claims,
            user_deleted: state.user_deleted.as_deref() == Some(object_id.as_str()),
            object_id,
            claims: out,
        })
    }
}

#[cfg(test)]
mod tests;
