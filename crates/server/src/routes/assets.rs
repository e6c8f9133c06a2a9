//! Static files: our stylesheets and script, a tenant's branding images and stylesheets, and
//! the CSS and images beside a page template that is a file (development).

use std::path::{Component, PathBuf};

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::State;

const STATIC: &[(&str, &str, &str)] = &[
    (
        "trustframe.css",
        "text/css; charset=utf-8",
        include_str!("../../static/trustframe.css"),
    ),
    (
        "layout.css",
        "text/css; charset=utf-8",
        include_str!("../../static/layout.css"),
    ),
    (
        "trustframe.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/trustframe.js"),
    ),
];

fn file(content_type: &str, cache: &'static str, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// `/_static/{name}`: kept five minutes, so a new release shows soon.
pub async fn static_file(Path(name): Path<String>) -> Response {
    match STATIC.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => file(
            content_type,
            "public, max-age=300",
            body.as_bytes().to_vec(),
        ),
        None => not_found(),
    }
}

/// `/_branding/{tenant}/{name}`: named by their content, so kept for a year.
pub async fn branding(state: State, Path((tenant, name)): Path<(String, String)>) -> Response {
    let Some(tenant) = state.tenant(&tenant) else {
        return not_found();
    };
    match tenant.ui.branding.assets.get(&name) {
        Some(asset) => file(
            asset.content_type,
            "public, max-age=31536000, immutable",
            asset.bytes.clone(),
        ),
        None => not_found(),
    }
}

/// `/_layouts/{tenant}/{index}/{path}`: a file beside a template that is a file. Only plain
/// paths inside the template's folder, and only the kinds of file a page loads.
pub async fn layout_file(
    state: State,
    Path((tenant, index, path)): Path<(String, usize, String)>,
) -> Response {
    let Some(tenant) = state.tenant(&tenant) else {
        return not_found();
    };
    let Some(folder) = tenant.ui.folders.get(index) else {
        return not_found();
    };
    let relative = PathBuf::from(&path);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return not_found();
    }
    let Some(content_type) = relative
        .extension()
        .and_then(|e| e.to_str())
        .and_then(|e| crate::ui::media_type(&e.to_ascii_lowercase()))
    else {
        return not_found();
    };
    match tokio::fs::read(folder.join(&relative)).await {
        Ok(bytes) => file(content_type, "public, max-age=60", bytes),
        Err(_) => not_found(),
    }
}
