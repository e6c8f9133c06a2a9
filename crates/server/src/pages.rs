//! HTML pages. Every value is escaped by the template engine (HTML auto-escaping is on for
//! every template), including messages that come from REST APIs.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{AutoEscape, Environment, Value};

#[derive(Clone)]
pub struct Pages {
    env: Arc<Environment<'static>>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("page.html", include_str!("../templates/page.html")),
    ("message.html", include_str!("../templates/message.html")),
    (
        "form_post.html",
        include_str!("../templates/form_post.html"),
    ),
    ("home.html", include_str!("../templates/home.html")),
    ("mailbox.html", include_str!("../templates/mailbox.html")),
    (
        "token_viewer.html",
        include_str!("../templates/token_viewer.html"),
    ),
];

impl Pages {
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env: Arc::new(env) })
    }

    /// Renders a template; a rendering failure is a plain 500 whose detail goes to the log.
    pub fn render(&self, status: StatusCode, name: &str, context: Value) -> Response {
        let html = self.env.get_template(name).and_then(|t| t.render(context));
        match html {
            Ok(html) => {
                let mut response = (status, html).into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
                headers.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action *; frame-ancestors 'none'; base-uri 'none'"),
                );
                headers.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                response
            }
            Err(e) => {
                tracing::error!(template = name, error = %e, "page rendering failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The page could not be rendered.",
                )
                    .into_response()
            }
        }
    }

    /// A page with one message: errors the user must see, block pages, signed-out pages.
    pub fn message(
        &self,
        status: StatusCode,
        title: &str,
        message: &str,
        tenant: Option<&str>,
        continue_url: Option<&str>,
    ) -> Response {
        self.render(
            status,
            "message.html",
            minijinja::context! {
                title, message, tenant,
                is_error => status.is_client_error() || status.is_server_error(),
                continue_url,
            },
        )
    }

    pub fn error(&self, status: StatusCode, message: &str) -> Response {
        self.message(status, "Sorry, something went wrong", message, None, None)
    }
}
