//! The journey service: starts a journey from an authorize request, advances it with the
//! user's input, keeps single sign-on sessions, issues codes and tokens, and hands journeys to
//! external identity providers and back.
//!
//! It speaks no HTTP: the routes parse a request (path, query, form, cookies, headers) into one
//! of these calls and turn the [`Next`] step or the [`JourneyProblem`] into a response.
//!
//! - [`store`]: the stored journey, its browser binding and CSRF token;
//! - [`issue`]: the SSO session a journey continues or creates, and issuance;
//! - [`federation`]: the hand-off to an external OpenID provider and its answer.

mod bounded;
mod federation;
mod issue;
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use trustframe_engine::{Engine, EngineError, Env, Input, JourneyState, Outcome, Page};
use trustframe_oidc::{
    AuthorizationResponse, AuthorizeError, ErrorCode, JourneyError, Prompt, ValidatedAuthorize,
};

use crate::{AppState, Tenant};
pub use bounded::oauth_kv_names;
pub use federation::redirect_uri;
pub use store::{BINDING_COOKIE, journey_path, random_token};
use store::{Found, StoredJourney, journey_lifetime, sha256};

/// A cookie the browser must keep (the HTTP layer adds `HttpOnly`, `SameSite`, `Secure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCookie {
    pub name: String,
    pub value: String,
    pub path: String,
    /// Seconds.
    pub max_age: i64,
}

/// What the HTTP layer does next.
#[derive(Debug)]
pub enum Next {
    /// The journey waits on a page: the browser goes to its URL.
    ShowPage { path: String },
    /// The journey goes on at another of its URLs (after a provider's answer).
    Continue { path: String },
    /// The journey is over: the app receives this response (and the browser, perhaps, an SSO
    /// session cookie).
    Deliver {
        response: AuthorizationResponse,
        set_cookie: Option<NewCookie>,
    },
    /// An API connector blocked the user: the message, and "back to the application".
    Blocked {
        message: String,
        continue_url: String,
        page_of: PageOf,
    },
    /// The browser goes to an external identity provider.
    Federate { url: String },
    /// A federation failed: what the user reads, and "back to the application".
    FederationFailed {
        failure: FederationFailure,
        description: String,
        continue_url: String,
        page_of: PageOf,
    },
}

/// Whose message page it is: its policy's error layout (`api.error`) and the journey's
/// language dress it.
#[derive(Debug, Clone)]
pub struct PageOf {
    pub policy: String,
    pub culture: String,
}

impl PageOf {
    pub fn of(state: &JourneyState) -> Self {
        Self {
            policy: state.policy.to_string(),
            culture: state.context.culture.clone(),
        }
    }
}

/// Which step of a federation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FederationFailure {
    /// The provider could not be reached to start.
    Unavailable { provider: String },
    /// The provider's answer carries a state that is not this sign-in's.
    StateMismatch,
    /// The provider answered with an error (the user cancelled there, or it refused).
    ProviderError { provider: String },
    /// The provider answered with neither a code nor an error.
    NoCode { provider: String },
    /// Redeeming the code or checking the ID token failed.
    Failed { provider: String },
}

/// Why a request cannot go on; each is shown as one page (`routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JourneyProblem {
    UnknownTenant(String),
    /// Neither the path nor `p` names a policy.
    NoPolicy,
    UnknownPolicy {
        policy: String,
        domain: String,
    },
    /// The authorize request is invalid and cannot be answered at its redirect URI.
    RequestRefused {
        description: String,
        domain: String,
    },
    /// The journey is expired, finished or was never started.
    Expired {
        domain: String,
    },
    /// Another submit of the same page (a double click, a second tab, a replay) advanced or
    /// ended the journey first; `continue_url` is its page now, or, once it ended, its
    /// authorize request to start again.
    AlreadySubmitted {
        domain: String,
        continue_url: String,
    },
    /// The journey's binding cookie is missing or another browser's.
    WrongBrowser,
    /// A form's CSRF token is missing or wrong.
    CsrfRefused,
    /// A choice was asked for without naming one.
    NoChoice,
    /// The journey waits on no page.
    NothingToShow,
    /// "Back to the application" before the journey ended.
    NotFinished,
    /// The journey's policy was removed since it started.
    PolicyGone,
    /// The engine refused the input (a submit where no page waits).
    InputRefused,
    /// The policy is wrong: the operator must fix it.
    PolicyError,
    /// A technical profile the journey needs is missing.
    Misconfigured,
    /// A service the engine called (directory, REST API, mail) failed.
    ServiceUnavailable,
    /// The store (journeys, sessions) failed.
    StoreUnavailable,
    /// The journey state could not be serialised.
    NotSaved,
    /// The code or tokens could not be issued.
    NotIssued,
    /// A provider's answer for no journey in progress.
    UnmatchedProviderAnswer {
        domain: String,
    },
    /// The journey waits for no provider's answer.
    NotFederating {
        domain: String,
    },
    /// This client IP started too many journeys lately, or too many are stored: try again
    /// after `retry_after` seconds.
    TooManyJourneys {
        retry_after: i64,
        domain: String,
    },
}

/// What the request tells about the browser (from its headers and connection).
#[derive(Debug, Clone, Default)]
pub struct Browser {
    /// The tenant's SSO session cookie.
    pub sso_session: Option<String>,
    /// The first `Accept-Language` tag.
    pub accept_language: Option<String>,
    pub client_ip: String,
    /// `User-Agent`, for audit records.
    pub user_agent: String,
}

/// What [`start`] did: the first step, and the cookie binding the journey to this browser
/// once one exists (to set whatever the first step was).
#[derive(Debug)]
pub struct Started {
    pub binding: Option<NewCookie>,
    pub next: Result<Next, JourneyProblem>,
}

impl Started {
    fn refused(next: Result<Next, JourneyProblem>) -> Self {
        Self {
            binding: None,
            next,
        }
    }
}

/// A journey loaded for the browser it belongs to.
pub struct Journey {
    tenant: Arc<Tenant>,
    id: String,
    stored: StoredJourney,
}

/// What a journey's page shows.
pub struct PageView<'a> {
    pub page: &'a Page,
    pub csrf: &'a str,
    /// Where its forms post.
    pub action: String,
    pub tenant: &'a str,
    /// The page's language (`lang`).
    pub lang: String,
    /// "Already have an account? Sign in": the same authorize request again, offered on a
    /// sign-up or reset page reached from a sign-in page (it shows that page again).
    pub sign_in_url: Option<String>,
}

/// What the store knows an SSO session by: the SHA-256 of the cookie's value, as for codes and
/// refresh tokens, so a copy of the database holds no session a browser could present.
pub fn session_key(cookie_value: &str) -> String {
    sha256(cookie_value)
}

/// The tenant a path segment names (its name or domain).
pub fn tenant(state: &AppState, segment: &str) -> Result<Arc<Tenant>, JourneyProblem> {
    state
        .tenant(segment)
        .cloned()
        .ok_or_else(|| JourneyProblem::UnknownTenant(segment.to_owned()))
}

/// `/authorize`: validates the request, looks for an SSO session and runs the journey's first
/// step.
pub async fn start(
    state: &AppState,
    tenant: &Arc<Tenant>,
    policy: Option<&str>,
    params: Vec<(String, String)>,
    browser: Browser,
) -> Started {
    let Some(policy_name) = policy else {
        return Started::refused(Err(JourneyProblem::NoPolicy));
    };
    let Some(policy) = tenant.policy(policy_name).cloned() else {
        return Started::refused(Err(JourneyProblem::UnknownPolicy {
            policy: policy_name.to_owned(),
            domain: tenant.domain.clone(),
        }));
    };
    let (params, too_long) = bounded::authorize_params(params, &tenant.oauth_kv);
    let request = match tenant.oidc.validate_authorize(&params) {
        Ok(r) => r,
        Err(AuthorizeError::Page { error, description }) => {
            tracing::info!(tenant = %tenant.name, %error, "authorize request refused");
            return Started::refused(Err(JourneyProblem::RequestRefused {
                description,
                domain: tenant.domain.clone(),
            }));
        }
        Err(AuthorizeError::Redirect(response)) => {
            return Started::refused(Ok(deliver(response)));
        }
    };
    if let Some(name) = too_long {
        // The client and redirect URI are valid: the app hears of it (OpenID Connect Core
        // §3.1.2.6), as of any other invalid parameter.
        tracing::info!(tenant = %tenant.name, parameter = %name, "authorize request too long");
        return Started::refused(Ok(deliver(tenant.oidc.authorize_error(
            &request,
            &JourneyError::Other {
                error: ErrorCode::InvalidRequest,
                description: format!(
                    "The parameter '{name}' is too long: each parameter is limited to {} bytes and all of them together to {} bytes.",
                    bounded::MAX_VALUE_BYTES,
                    bounded::MAX_TOTAL_BYTES
                ),
            },
        ))));
    }
    if let Err(problem) = journey_room(tenant, &browser.client_ip).await {
        return Started::refused(Err(problem));
    }
    let session =
        match issue::current_session(tenant, &policy, &request, browser.sso_session.as_deref())
            .await
        {
            Ok(s) => s,
            Err(problem) => return Started::refused(Err(problem)),
        };
    if request.has_prompt(Prompt::None) && session.is_none() {
        return Started::refused(Ok(deliver(
            tenant
                .oidc
                .authorize_error(&request, &JourneyError::LoginRequired),
        )));
    }

    let correlation_id = uuid::Uuid::new_v4().to_string();
    // The page's language: `ui_locales`, else the browser's first `Accept-Language`
    // (`{Culture:LCID}` follows it: `claim-resolver-overview.md`).
    let culture = request
        .ui_locales
        .as_deref()
        .and_then(|l| l.split_whitespace().next())
        .or(browser.accept_language.as_deref())
        .unwrap_or("en-US")
        .to_owned();
    let context = crate::refresh::resolver_context(
        tenant,
        &policy,
        culture,
        browser.client_ip,
        correlation_id.clone(),
        params.into_iter().collect::<BTreeMap<_, _>>(),
    );
    let mut context = context;
    context.user_agent = crate::audit::user_agent(&browser.user_agent);
    let mut journey_state = JourneyState::new(policy.id.clone(), context);
    if let Some(s) = &session {
        journey_state = match s.data.get("claims").and_then(|c| c.as_object()) {
            Some(claims) => journey_state.with_session_claims(&s.object_id, claims),
            None => journey_state.with_session(&s.object_id),
        };
    }
    let binding_secret = random_token();
    let stored = StoredJourney {
        state: journey_state,
        request,
        csrf: random_token(),
        binding: sha256(&binding_secret),
        page: None,
        session: session.map(|s| (s.id, s.auth_time)),
        finished: None,
        federation: None,
        version: None,
    };
    let id = random_token();
    tracing::info!(tenant = %tenant.name, policy = %policy.id, correlation_id, "journey started");
    let binding = NewCookie {
        name: BINDING_COOKIE.to_owned(),
        value: binding_secret,
        path: journey_path(tenant, policy.id.as_str(), &id),
        max_age: journey_lifetime(tenant),
    };
    let journey = Journey {
        tenant: tenant.clone(),
        id,
        stored,
    };
    Started {
        binding: Some(binding),
        next: advance(state, journey, Input::Start).await,
    }
}

/// The journeys stored, as last counted in the store plus those this node started since. The
/// store is counted again at most every [`LiveJourneys::RECOUNT`]: the cap guards the disk, and
/// a `COUNT` over every stored journey on each `/authorize` would itself be the cost an
/// anonymous caller wants to inflict.
#[derive(Debug, Default)]
pub struct LiveJourneys(std::sync::Mutex<Option<(std::time::Instant, u64)>>);

impl LiveJourneys {
    const RECOUNT: std::time::Duration = std::time::Duration::from_secs(5);

    /// The count, this journey included.
    async fn count(
        &self,
        store: &trustframe_store::Store,
        now: i64,
    ) -> Result<u64, trustframe_store::StoreError> {
        if let Ok(mut cached) = self.0.lock()
            && let Some((at, n)) = cached.as_mut()
            && at.elapsed() < Self::RECOUNT
        {
            *n += 1;
            return Ok(*n);
        }
        let n = store.count_live_journeys(now).await?;
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some((std::time::Instant::now(), n));
        }
        Ok(n)
    }
}

/// Whether one more journey may be stored: the client IP's journeys started within the window
/// (counted in the store, so every node agrees) and all journeys stored.
async fn journey_room(tenant: &Tenant, client_ip: &str) -> Result<(), JourneyProblem> {
    let limits = &tenant.sessions;
    let now = crate::tenant::now();
    let unavailable = |e: trustframe_store::StoreError| {
        tracing::error!(tenant = %tenant.name, error = %e, "could not count journeys");
        JourneyProblem::StoreUnavailable
    };
    let too_many = |retry_after: i64| JourneyProblem::TooManyJourneys {
        retry_after,
        domain: tenant.domain.clone(),
    };
    if limits.max_journeys > 0
        && tenant
            .live_journeys
            .count(&tenant.store, now)
            .await
            .map_err(unavailable)?
            >= limits.max_journeys
    {
        tracing::warn!(tenant = %tenant.name, max = limits.max_journeys, "sessions.max_journeys reached: new journeys refused");
        return Err(too_many(60));
    }
    if limits.max_journeys_per_ip > 0 {
        let window = i64::from(limits.journeys_per_ip_window_seconds);
        let started = tenant
            .store
            .count_event(&format!("journeys:ip:{client_ip}"), window, now)
            .await
            .map_err(unavailable)?;
        if started > limits.max_journeys_per_ip {
            tracing::info!(tenant = %tenant.name, client_ip, "journeys per IP exceeded");
            return Err(too_many(window));
        }
    }
    Ok(())
}

fn deliver(response: AuthorizationResponse) -> Next {
    Next::Deliver {
        response,
        set_cookie: None,
    }
}

/// Loads a journey and checks it belongs to this browser (`binding`: the value of its
/// [`BINDING_COOKIE`]).
pub async fn open(
    state: &AppState,
    tenant_segment: &str,
    id: &str,
    binding: Option<&str>,
) -> Result<Journey, JourneyProblem> {
    let tenant = tenant(state, tenant_segment)?;
    let stored = match store::find(&tenant, id).await? {
        Found::Journey(stored) => stored,
        Found::Finished(finished) => return Err(finished.refusal(&tenant, binding)),
        Found::Nothing => {
            return Err(JourneyProblem::Expired {
                domain: tenant.domain.clone(),
            });
        }
    };
    if !stored.bound_to(binding) {
        return Err(JourneyProblem::WrongBrowser);
    }
    Ok(Journey {
        tenant,
        id: id.to_owned(),
        stored: *stored,
    })
}

impl Journey {
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }

    /// The policy the journey runs.
    pub fn policy(&self) -> &str {
        self.stored.state.policy.as_str()
    }

    /// The client's address for this request (`{Context:IPAddress}`, throttling) and its user
    /// agent (audit records).
    pub fn seen_from(&mut self, client_ip: String, user_agent: &str) {
        self.stored.state.context.ip_address = client_ip;
        self.stored.state.context.user_agent = crate::audit::user_agent(user_agent);
    }

    /// Checks a form's CSRF token against the journey's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), JourneyProblem> {
        if self.stored.csrf_ok(sent) {
            Ok(())
        } else {
            Err(JourneyProblem::CsrfRefused)
        }
    }

    /// The page the journey waits on.
    pub fn page(&self) -> Result<PageView<'_>, JourneyProblem> {
        let page = self
            .stored
            .page
            .as_ref()
            .ok_or(JourneyProblem::NothingToShow)?;
        let lang = self
            .stored
            .state
            .context
            .culture
            .split('-')
            .next()
            .unwrap_or("en")
            .to_owned();
        Ok(PageView {
            page,
            csrf: &self.stored.csrf,
            action: journey_path(&self.tenant, self.stored.state.policy.as_str(), &self.id),
            tenant: &self.tenant.domain,
            lang,
            sign_in_url: self.sign_in_url(page),
        })
    }

    /// The authorize request that started this journey, when the page is one a sign-in page
    /// led to by a choice (sign up, forgot password) and asks for a new password or an e-mail
    /// verification: starting it again shows that sign-in page.
    fn sign_in_url(&self, page: &Page) -> Option<String> {
        let state = &self.stored.state;
        let new_account_page = page.kind == trustframe_engine::PageKind::SelfAsserted
            && (!page.controls.is_empty()
                || page
                    .fields
                    .iter()
                    .any(|f| f.input == trustframe_policy::UserInputType::Password));
        if state.selected.is_none() || state.sso || !new_account_page {
            return None;
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&state.context.oauth_params)
            .finish();
        Some(format!(
            "/{}/{}/oauth2/v2.0/authorize?{query}",
            self.tenant.name,
            state.policy.as_str()
        ))
    }
}

/// Runs the engine one step and decides what follows.
pub async fn advance(
    state: &AppState,
    journey: Journey,
    input: Input,
) -> Result<Next, JourneyProblem> {
    use tracing::Instrument as _;
    // Every line logged while the journey runs (password checks on the hashing threads, REST
    // calls, mail) carries its correlation id, as B2C's `correlationId` names a journey.
    let span = tracing::info_span!(
        "journey",
        correlation_id = %journey.stored.state.context.correlation_id,
        tenant = %journey.tenant.name,
        policy = %journey.stored.state.policy,
    );
    advance_in_span(state, journey, input)
        .instrument(span)
        .await
}

async fn advance_in_span(
    state: &AppState,
    journey: Journey,
    input: Input,
) -> Result<Next, JourneyProblem> {
    let Journey {
        tenant,
        id,
        mut stored,
    } = journey;
    let Some(policy) = tenant.policy(stored.state.policy.as_str()).cloned() else {
        return Err(JourneyProblem::PolicyGone);
    };
    let engine = Engine::new(
        &policy,
        Env {
            directory: &tenant.directory,
            rest: &tenant.rest,
            mailer: &tenant.mailer,
            clock: &trustframe_engine::SystemClock,
        },
    );
    let outcome = engine
        .advance(&mut stored.state, input)
        .await
        .map_err(|e| engine_problem(&tenant, &e))?;
    let path = journey_path(&tenant, policy.id.as_str(), &id);
    match outcome {
        Outcome::Page(page) => {
            stored.page = Some(page);
            store::save(&tenant, &id, &mut stored).await?;
            Ok(Next::ShowPage { path })
        }
        Outcome::SendClaims(issued) => {
            issue::issue(state, &tenant, &policy, &id, &stored, issued).await
        }
        Outcome::Fail(failure) => {
            store::finish(&tenant, &id, &stored).await?;
            state.metrics.journey(&tenant.name, "error");
            Ok(deliver(issue::failed(&tenant, &stored.request, failure)))
        }
        Outcome::Block { message } => {
            state.metrics.journey(&tenant.name, "blocked");
            stored.finished = Some(blocked(&tenant, &stored.request, &message));
            stored.page = None;
            store::save(&tenant, &id, &mut stored).await?;
            Ok(Next::Blocked {
                message,
                continue_url: format!("{path}/return"),
                page_of: PageOf::of(&stored.state),
            })
        }
        Outcome::Federate(request) => {
            federation::federate(state, &tenant, &policy, &id, stored, request).await
        }
    }
}

/// What the app receives after the user leaves a block page.
fn blocked(tenant: &Tenant, request: &ValidatedAuthorize, message: &str) -> AuthorizationResponse {
    tenant.oidc.authorize_error(
        request,
        &JourneyError::Other {
            error: ErrorCode::AccessDenied,
            description: format!("The sign-up was blocked by an API connector: {message}"),
        },
    )
}

/// An engine error as a problem, logged here with the detail the page does not show.
fn engine_problem(tenant: &Tenant, error: &EngineError) -> JourneyProblem {
    match error {
        EngineError::UnexpectedInput(m) => {
            tracing::info!(tenant = %tenant.name, reason = %m, "journey input refused");
            JourneyProblem::InputRefused
        }
        EngineError::Policy(m) => {
            tracing::error!(tenant = %tenant.name, error = %m, "policy error");
            JourneyProblem::PolicyError
        }
        EngineError::Env(e) => {
            tracing::error!(tenant = %tenant.name, error = %e, "journey environment failed");
            JourneyProblem::ServiceUnavailable
        }
    }
}

/// "Back to the application" after a journey ended on a page: the stored response.
pub async fn back_to_app(journey: Journey) -> Result<Next, JourneyProblem> {
    let Some(response) = journey.stored.finished.clone() else {
        return Err(JourneyProblem::NotFinished);
    };
    store::finish(&journey.tenant, &journey.id, &journey.stored).await?;
    Ok(deliver(response))
}

/// An external identity provider's answer at `/{tenant}/oauth2/authresp`.
pub async fn provider_answered(
    state: &AppState,
    tenant: &Tenant,
    params: &[(String, String)],
) -> Result<Next, JourneyProblem> {
    federation::answered(state, tenant, params).await
}

/// Back from the provider in the browser that started the journey: its claims go to the engine.
pub async fn federated(state: &AppState, journey: Journey) -> Result<Next, JourneyProblem> {
    let Journey { tenant, id, stored } = journey;
    match federation::redeem(state, &tenant, &id, stored).await? {
        federation::Redeemed::Claims(stored, claims) => {
            let journey = Journey {
                tenant,
                id,
                stored: *stored,
            };
            advance(state, journey, Input::FederationResult(claims)).await
        }
        federation::Redeemed::Ended(next) => Ok(next),
    }
}

#[cfg(test)]
mod tests;
