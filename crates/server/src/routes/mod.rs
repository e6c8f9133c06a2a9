//! Routes in B2C's URL shapes (ARCHITECTURE.md "URL shapes"). Tenant and policy are matched
//! without regard to case; unknown query parameters are ignored.

mod answer;
mod assets;
mod authresp;
mod home;
pub(crate) mod journey;
mod mailbox;
mod protocol;
mod viewer;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::cors::CorsLayer;

use crate::AppState;

pub type State = axum::extract::State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    // Metadata, keys and the token endpoint are read by browsers' JavaScript (SPAs): open CORS.
    let cors = CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers(tower_http::cors::Any);
    let api = Router::new()
        .route(
            "/{tenant}/{policy}/v2.0/.well-known/openid-configuration",
            get(protocol::discovery),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(protocol::discovery_p),
        )
        .route(
            "/{tenant}/{policy}/discovery/v2.0/keys",
            get(protocol::keys),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(protocol::keys_p))
        .route(
            "/{tenant}/{policy}/oauth2/v2.0/token",
            post(protocol::token),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(protocol::token_p))
        .layer(cors);
    Router::new()
        .merge(api)
        .route("/", get(home::home))
        .route("/healthz", get(|| async { "ok" }))
        .route("/_static/{name}", get(assets::static_file))
        .route("/_branding/{tenant}/{name}", get(assets::branding))
        .route(
            "/_layouts/{tenant}/{index}/{*path}",
            get(assets::layout_file),
        )
        .route("/metrics", get(home::metrics))
        .route("/token-viewer", get(viewer::show).post(viewer::receive))
        .route("/token-viewer/run", get(viewer::run))
        .route(
            "/{tenant}/{policy}/oauth2/v2.0/authorize",
            get(journey::authorize_get).post(journey::authorize_post),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(journey::authorize_get_p).post(journey::authorize_post_p),
        )
        .route(
            "/{tenant}/{policy}/oauth2/v2.0/logout",
            get(protocol::logout).post(protocol::logout_confirm),
        )
        .route(
            "/{tenant}/oauth2/v2.0/logout",
            get(protocol::logout_p).post(protocol::logout_confirm_p),
        )
        .route(
            "/{tenant}/{policy}/journey/{id}",
            get(journey::show).post(journey::submit),
        )
        .route(
            "/{tenant}/{policy}/journey/{id}/select",
            get(journey::select),
        )
        .route(
            "/{tenant}/{policy}/journey/{id}/return",
            get(journey::back_to_app),
        )
        // External identity providers answer here (`identity-provider-generic-openid-connect.md`),
        // then the journey goes on in the browser that started it.
        .route(
            "/{tenant}/oauth2/authresp",
            get(authresp::callback_get).post(authresp::callback_post),
        )
        .route(
            "/{tenant}/{policy}/journey/{id}/federated",
            get(authresp::federated),
        )
        .route("/dev/mailbox", get(mailbox::mailbox))
        .fallback(not_found)
        .with_state(state)
}

/// A form our script submitted in place (`fetch`, header `X-Trustframe-Submit`, which `fetch`
/// keeps on the redirects it follows): a redirect that leaves this server (to the
/// application, to an identity provider) becomes `200` naming where to go, for the script to
/// send the browser there — `fetch` would otherwise follow it itself, out of the user's sight.
pub fn with_script_navigation(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(
        |request: axum::extract::Request, next: axum::middleware::Next| async move {
            let scripted = request.headers().contains_key("x-trustframe-submit");
            let mut response = next.run(request).await;
            if !scripted || !response.status().is_redirection() {
                return response;
            }
            let Some(location) = response.headers().get(header::LOCATION).cloned() else {
                return response;
            };
            let here = location.as_bytes();
            if here.starts_with(b"/") && !here.starts_with(b"//") {
                return response;
            }
            *response.status_mut() = StatusCode::OK;
            let headers = response.headers_mut();
            headers.remove(header::LOCATION);
            headers.insert("x-trustframe-location", location);
            response
        },
    ))
}

/// Headers every response carries, the demo's sample routes included: `nosniff`, so a
/// browser never runs a JSON or text answer as script or style, and, when the public URL is
/// HTTPS, HSTS for a year, so the browser never again signs in over plain HTTP (RFC 6797).
pub fn with_security_headers(router: Router, https: bool) -> Router {
    router.layer(axum::middleware::map_response(
        move |mut response: Response| async move {
            let headers = response.headers_mut();
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            if https {
                headers.insert(
                    header::STRICT_TRANSPORT_SECURITY,
                    HeaderValue::from_static("max-age=31536000"),
                );
            }
            response
        },
    ))
}

async fn not_found(state: State) -> Response {
    state
        .pages
        .error(StatusCode::NOT_FOUND, "There is no page at this address.")
}

/// `?p=` (any case) of the query-string URL forms.
pub fn policy_param(query: &[(String, String)]) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("p"))
        .map(|(_, v)| v.clone())
}

/// A JSON error for API callers.
pub fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}
