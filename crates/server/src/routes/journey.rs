//! `/authorize` and the pages of a journey, as HTTP: each handler reads the path, query, form,
//! cookies and headers, calls the journey service ([`crate::journeys`]) and answers through
//! [`super::answer`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, RawForm, RawQuery};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use trustframe_engine::Input;

use super::answer::{problem, respond, with_cookie};
use super::protocol::pairs;
use super::{State, policy_param};
use crate::journeys::{self, BINDING_COOKIE, Browser, Journey, JourneyProblem};
use crate::pages::Frame;
use crate::ui::strings;
use crate::{AppState, Tenant, cookies};

/// The browser's first `Accept-Language` tag, without its weight.
fn accept_language(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|tag| tag.split(';').next().unwrap_or(tag).trim())
        .filter(|tag| !tag.is_empty() && *tag != "*")
        .map(str::to_owned)
}

/// The `User-Agent` header, empty when absent or not text.
fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn authorize(
    state: Arc<AppState>,
    tenant_segment: String,
    policy: Option<String>,
    headers: HeaderMap,
    peer: SocketAddr,
    params: Vec<(String, String)>,
) -> Response {
    let tenant = match journeys::tenant(&state, &tenant_segment) {
        Ok(t) => t,
        Err(p) => return problem(&state, &p),
    };
    let browser = Browser {
        sso_session: cookies::get(&headers, &tenant.sso_cookie()),
        accept_language: accept_language(&headers),
        client_ip: state.trusted_proxies.client_ip(&headers, peer),
        user_agent: user_agent(&headers).to_owned(),
    };
    let started = journeys::start(&state, &tenant, policy.as_deref(), params, browser).await;
    let response = respond(&state, &tenant, started.next).await;
    match &started.binding {
        Some(cookie) => with_cookie(&state, response, cookie),
        None => response,
    }
}

pub async fn authorize_get(
    state: State,
    Path((tenant, policy)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(
        state.0,
        tenant,
        Some(policy),
        headers,
        peer,
        pairs(q.as_deref()),
    )
    .await
}

pub async fn authorize_post(
    state: State,
    Path((tenant, policy)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let params = url::form_urlencoded::parse(&body).into_owned().collect();
    authorize(state.0, tenant, Some(policy), headers, peer, params).await
}

pub async fn authorize_get_p(
    state: State,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let params = pairs(q.as_deref());
    let policy = policy_param(&params);
    authorize(state.0, tenant, policy, headers, peer, params).await
}

pub async fn authorize_post_p(
    state: State,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    RawForm(body): RawForm,
) -> Response {
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let query = pairs(q.as_deref());
    let policy = policy_param(&query).or_else(|| policy_param(&params));
    params.extend(query);
    authorize(state.0, tenant, policy, headers, peer, params).await
}

/// The journey `id` of tenant `tenant`, if this browser holds its binding cookie.
async fn open(
    state: &AppState,
    tenant: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<Journey, Response> {
    let binding = cookies::get(headers, BINDING_COOKIE);
    journeys::open(state, tenant, id, binding.as_deref())
        .await
        .map_err(|p| problem(state, &p))
}

/// Runs one step of a journey and answers with what it decided.
async fn step(state: &AppState, journey: Journey, input: Input) -> Response {
    let tenant = Arc::clone(journey.tenant());
    let next = journeys::advance(state, journey, input).await;
    respond(state, &tenant, next).await
}

pub async fn show(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let journey = match open(&state, &tenant, &id, &headers).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let view = match journey.page() {
        Ok(v) => v,
        Err(p) => return problem(&state, &p),
    };
    // B2C's "user already exists" message (a policy may word its own): the page links to
    // sign-in then.
    let user_exists =
        view.page.error.as_deref() == Some(trustframe_engine::journey::messages::USER_EXISTS);
    let tenant = journey.tenant();
    let lang = strings::language(&view.lang);
    let page = strings::page(view.page, lang);
    let frame = Frame {
        lang,
        branding: Some(&tenant.ui.branding),
        layout: tenant
            .ui
            .layout(journey.policy(), view.page.content_definition.as_deref())
            .await,
    };
    let data_name = data_name(tenant, journey.policy(), &page);
    state.pages.tenant_page(
        StatusCode::OK,
        ("page.html", "api_page.html"),
        minijinja::context! {
            title => &page.title, page => &page, csrf => view.csrf,
            action => view.action, tenant => view.tenant, company => &tenant.name,
            sign_in_url => view.sign_in_url, user_exists, data_name,
        },
        &frame,
    )
}

/// `data-name` of `#api`, as B2C names its page contracts (`page-layout.md`): templates'
/// CSS and scripts tell pages apart by it.
fn data_name(tenant: &Tenant, policy: &str, page: &trustframe_engine::Page) -> &'static str {
    let page_type = page
        .content_definition
        .as_deref()
        .and_then(|id| tenant.policy(policy)?.content_definition(id)?.page_type());
    match page_type.as_deref() {
        Some("unifiedssp" | "unifiedssd") => "Unified",
        Some("providerselection" | "idpselection") => "IdpSelection",
        Some("multifactor") => "Phonefactor",
        Some("globalexception") => "GlobalException",
        Some(_) => "SelfAsserted",
        None if page.kind == trustframe_engine::PageKind::SignIn => "Unified",
        None => "SelfAsserted",
    }
}

/// A page's form: the CSRF token, the button pressed and the fields.
pub(crate) struct Form {
    pub(crate) csrf: Option<String>,
    pub(crate) input: Input,
}

pub(crate) fn parse_form(body: &[u8]) -> Form {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut csrf = None;
    let mut action = None;
    let mut select = None;
    for (k, v) in url::form_urlencoded::parse(body).into_owned() {
        match k.as_str() {
            "csrf" => csrf = Some(v),
            "action" => action = Some(v),
            "select" => select = Some(v),
            // A multi-select posts one value per ticked option: they are joined with commas.
            _ => match fields.get_mut(&k) {
                Some(existing) => {
                    existing.push(',');
                    existing.push_str(&v);
                }
                None => {
                    fields.insert(k, v);
                }
            },
        }
    }
    let input = match (action.as_deref(), select) {
        (Some("cancel"), _) => Input::Cancel,
        (_, Some(exchange)) => Input::Select(exchange),
        // A display control's button: `{control}:{action}` (`display-control-verification.md`).
        (Some(a), None) if a.contains(':') => {
            let (control, action) = a.split_once(':').unwrap_or_default();
            Input::Control {
                control: control.to_owned(),
                action: action.to_owned(),
                form: fields,
            }
        }
        _ => Input::Submit(fields),
    };
    Form { csrf, input }
}

pub async fn submit(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawForm(body): RawForm,
) -> Response {
    let mut journey = match open(&state, &tenant, &id, &headers).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if let Err(p) = journey.check_csrf(form.csrf.as_deref()) {
        tracing::info!(tenant = %journey.tenant().name, "journey form refused: CSRF token missing or wrong");
        return problem(&state, &p);
    }
    // The address that submits the form (a password, a code) is the one throttled.
    journey.seen_from(
        state.trusted_proxies.client_ip(&headers, peer),
        user_agent(&headers),
    );
    step(&state, journey, form.input).await
}

pub async fn select(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let journey = match open(&state, &tenant, &id, &headers).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let params = pairs(q.as_deref());
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Err(p) = journey.check_csrf(get("csrf").as_deref()) {
        return problem(&state, &p);
    }
    let Some(exchange) = get("exchange") else {
        return problem(&state, &JourneyProblem::NoChoice);
    };
    step(&state, journey, Input::Select(exchange)).await
}

/// "Back to the application" after a block page: the stored error response.
pub async fn back_to_app(
    state: State,
    Path((tenant, _policy, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let journey = match open(&state, &tenant, &id, &headers).await {
        Ok(j) => j,
        Err(r) => return r,
    };
    let tenant = Arc::clone(journey.tenant());
    let next = journeys::back_to_app(journey).await;
    respond(&state, &tenant, next).await
}
