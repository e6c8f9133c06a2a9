//! The home page (the portal's list of user flows with "Run user flow") and `/metrics`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::State;

#[derive(Serialize)]
struct FlowRow {
    id: String,
    metadata: String,
    run: Option<String>,
}

#[derive(Serialize)]
struct TenantRow {
    name: String,
    domain: String,
    id: String,
    flows: Vec<FlowRow>,
}

pub async fn home(state: State) -> Response {
    let viewer = state.token_viewer_url();
    let tenants: Vec<TenantRow> = state
        .tenants
        .iter()
        .map(|t| {
            // "Run user flow" needs an app whose redirect URI is the token viewer.
            let app = t.oidc_app_for(&viewer);
            let flows = t
                .flow_ids
                .iter()
                .map(|f| FlowRow {
                    id: f.clone(),
                    metadata: format!("/{}/{f}/v2.0/.well-known/openid-configuration", t.name),
                    // The viewer runs it as the demo's public client: code and PKCE.
                    run: app.as_ref().map(|_| {
                        let query = url::form_urlencoded::Serializer::new(String::new())
                            .append_pair("tenant", &t.name)
                            .append_pair("policy", f)
                            .finish();
                        format!("/token-viewer/run?{query}")
                    }),
                })
                .collect();
            TenantRow {
                name: t.name.clone(),
                domain: t.domain.clone(),
                id: t.id.clone(),
                flows,
            }
        })
        .collect();
    state.pages.render(
        StatusCode::OK,
        "home.html",
        minijinja::context! { title => "Trustframe", wide => true, tenants, links => &state.home_links },
    )
}

pub async fn metrics(state: State) -> Response {
    let mut r = state.metrics.encode().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
