//! The journey service's answers as HTTP, in one place: each [`Next`] step becomes a redirect,
//! a page or the app's response, and each [`JourneyProblem`] a page with its status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use trustframe_oidc::AuthorizationResponse;

use crate::journeys::{FederationFailure, JourneyProblem, NewCookie, Next, PageOf};
use crate::pages::Frame;
use crate::ui::strings;
use crate::{AppState, Tenant, cookies};

/// A step's outcome, or the page of the problem that stopped it.
pub async fn respond(
    state: &AppState,
    tenant: &Tenant,
    step: Result<Next, JourneyProblem>,
) -> Response {
    match step {
        Ok(next) => next_step(state, tenant, next).await,
        Err(p) => problem(state, &p),
    }
}

/// A message page of a journey: in its language, with the tenant's branding and the policy's
/// error layout (`api.error`, B2C's `globalexception` page).
async fn journey_message(
    state: &AppState,
    tenant: &Tenant,
    page_of: &PageOf,
    status: StatusCode,
    title: &str,
    message: &str,
    continue_url: &str,
) -> Response {
    let lang = strings::language(&page_of.culture);
    let frame = Frame {
        lang,
        branding: Some(&tenant.ui.branding),
        layout: tenant.ui.layout(&page_of.policy, Some("api.error")).await,
    };
    state.pages.tenant_page(
        status,
        ("message.html", "api_message.html"),
        minijinja::context! {
            title => strings::text(lang, title), message => strings::text(lang, message),
            tenant => &tenant.domain, company => &tenant.name,
            is_error => true, continue_url,
        },
        &frame,
    )
}

async fn next_step(state: &AppState, tenant: &Tenant, next: Next) -> Response {
    match next {
        Next::ShowPage { path } | Next::Continue { path } => Redirect::to(&path).into_response(),
        Next::Federate { url } => Redirect::to(&url).into_response(),
        Next::Deliver {
            response,
            set_cookie,
        } => {
            let delivered = deliver(state, &response);
            match set_cookie {
                Some(cookie) => with_cookie(state, delivered, &cookie),
                None => delivered,
            }
        }
        Next::Blocked {
            message,
            continue_url,
            page_of,
        } => {
            journey_message(
                state,
                tenant,
                &page_of,
                StatusCode::FORBIDDEN,
                "You can't continue",
                &message,
                &continue_url,
            )
            .await
        }
        Next::FederationFailed {
            failure,
            description,
            continue_url,
            page_of,
        } => {
            let (status, title) = match failure {
                FederationFailure::Unavailable { provider } => (
                    StatusCode::BAD_GATEWAY,
                    format!("{provider} is not available"),
                ),
                FederationFailure::StateMismatch => (
                    StatusCode::BAD_REQUEST,
                    "This sign-in cannot continue".to_owned(),
                ),
                FederationFailure::ProviderError { provider } => (
                    StatusCode::UNAUTHORIZED,
                    format!("{provider} did not sign you in"),
                ),
                FederationFailure::NoCode { provider } => (
                    StatusCode::BAD_GATEWAY,
                    format!("{provider} did not sign you in"),
                ),
                FederationFailure::Failed { provider } => (
                    StatusCode::BAD_GATEWAY,
                    format!("Sign-in with {provider} failed"),
                ),
            };
            journey_message(
                state,
                tenant,
                &page_of,
                status,
                &title,
                &description,
                &continue_url,
            )
            .await
        }
    }
}

/// Sends the authorization response: a redirect (query, fragment) or a self-posting form.
fn deliver(state: &AppState, response: &AuthorizationResponse) -> Response {
    match response.redirect_url() {
        Some(url) => Redirect::to(&url).into_response(),
        None => state.pages.render(
            StatusCode::OK,
            "form_post.html",
            minijinja::context! { action => &response.redirect_uri, params => &response.params },
        ),
    }
}

/// Adds a `Set-Cookie` (HTTP-only, `Secure` when the public URL is HTTPS).
pub fn with_cookie(state: &AppState, mut response: Response, cookie: &NewCookie) -> Response {
    let cookie = cookies::set(
        &cookie.name,
        &cookie.value,
        &cookie.path,
        cookie.max_age,
        state.secure_cookies,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The page of a problem.
pub fn problem(state: &AppState, problem: &JourneyProblem) -> Response {
    const UNAVAILABLE: &str = "Sign-in is unavailable right now. Please try again in a moment.";
    const CANNOT_CONTINUE: &str = "This sign-in cannot continue";
    match problem {
        JourneyProblem::UnknownTenant(segment) => state.pages.error(
            StatusCode::NOT_FOUND,
            &format!("The tenant '{segment}' does not exist."),
        ),
        JourneyProblem::NoPolicy => state.pages.error(
            StatusCode::BAD_REQUEST,
            "The request names no policy: use /{tenant}/{policy}/oauth2/v2.0/authorize or the 'p' parameter.",
        ),
        JourneyProblem::UnknownPolicy { policy, domain } => state.pages.error(
            StatusCode::NOT_FOUND,
            &format!("The policy '{policy}' does not exist in tenant '{domain}'."),
        ),
        JourneyProblem::RequestRefused {
            description,
            domain,
        } => state.pages.message(
            StatusCode::BAD_REQUEST,
            "Sorry, this application cannot sign you in",
            description,
            Some(domain),
            None,
        ),
        JourneyProblem::Expired { domain } => state.pages.message(
            StatusCode::NOT_FOUND,
            "This page has expired",
            "AADB2C90046: We are having trouble loading your current state. Your sign-in may have expired or already finished: please start again from the application.",
            Some(domain),
            None,
        ),
        JourneyProblem::AlreadySubmitted {
            domain,
            continue_url,
        } => state.pages.message(
            StatusCode::CONFLICT,
            "This page was already submitted",
            "This page was already submitted (twice, or from another tab) and the sign-in has moved on without this request. Continue from where it is now.",
            Some(domain),
            Some(continue_url),
        ),
        JourneyProblem::WrongBrowser => state.pages.error(
            StatusCode::FORBIDDEN,
            "This sign-in was started in another browser or its cookie is missing. Please start again from the application.",
        ),
        JourneyProblem::CsrfRefused => state.pages.error(
            StatusCode::FORBIDDEN,
            "The form could not be verified (its security token is missing or wrong). Please go back, reload the page and try again.",
        ),
        JourneyProblem::NoChoice => state
            .pages
            .error(StatusCode::BAD_REQUEST, "No choice was made."),
        JourneyProblem::NothingToShow => state.pages.error(
            StatusCode::NOT_FOUND,
            "There is nothing to show on this page. Please start again from the application.",
        ),
        JourneyProblem::NotFinished => state
            .pages
            .error(StatusCode::BAD_REQUEST, "This sign-in has not finished."),
        JourneyProblem::PolicyGone => state.pages.error(
            StatusCode::NOT_FOUND,
            "This sign-in's policy no longer exists. Please start again from the application.",
        ),
        JourneyProblem::InputRefused => state.pages.error(
            StatusCode::BAD_REQUEST,
            "This page does not expect that action. Please go back and try again.",
        ),
        JourneyProblem::PolicyError => state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "AADB2C90037: An error occurred while processing the request. Please contact administrator of the site you are trying to access.",
        ),
        JourneyProblem::Misconfigured => state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The sign-in is misconfigured. The administrator has been told.",
        ),
        JourneyProblem::ServiceUnavailable => state.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "A service the sign-in depends on is unavailable. Please try again in a moment.",
        ),
        JourneyProblem::StoreUnavailable => {
            state.pages.error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
        }
        JourneyProblem::NotSaved => state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The sign-in could not be saved. Please try again.",
        ),
        JourneyProblem::NotIssued => state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The sign-in could not be completed. Please try again.",
        ),
        JourneyProblem::UnmatchedProviderAnswer { domain } => state.pages.message(
            StatusCode::BAD_REQUEST,
            CANNOT_CONTINUE,
            "The identity provider's answer does not belong to a sign-in in progress (its state is missing, unknown or expired). Please start again from the application.",
            Some(domain),
            None,
        ),
        JourneyProblem::TooManyJourneys {
            retry_after,
            domain,
        } => {
            let mut page = state.pages.message(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-ins",
                "Too many sign-ins have been started from your network, or on this service, in a short time. Please wait a while, then try again.",
                Some(domain),
                None,
            );
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from((*retry_after).max(1)));
            page
        }
        JourneyProblem::NotFederating { domain } => state.pages.message(
            StatusCode::BAD_REQUEST,
            CANNOT_CONTINUE,
            "This sign-in is not waiting for an identity provider. Please start again from the application.",
            Some(domain),
            None,
        ),
    }
}
