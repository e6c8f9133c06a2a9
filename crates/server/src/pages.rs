//! HTML pages. Every value is escaped by the template engine (HTML auto-escaping is on for
//! every template), including messages that come from REST APIs.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{AutoEscape, Environment, Value};

use crate::ui::{Branding, PageLayout, strings};

/// How a tenant's page is dressed: its language, branding and layout.
pub struct Frame<'a> {
    pub lang: &'static str,
    pub branding: Option<&'a Branding>,
    pub layout: PageLayout,
}

impl Frame<'static> {
    /// English, no branding, our layout.
    pub fn plain() -> Self {
        Self {
            lang: "en",
            branding: None,
            layout: PageLayout::BuiltIn,
        }
    }
}

/// The pages' Content-Security-Policy: no inline script anywhere (our script is a file), our
/// stylesheets only — or, in a customer's template, its own styles, images and fonts from
/// where it loads them, and its scripts only with this page's nonce when the policy allows
/// JavaScript (`javascript-and-page-layout.md`).
fn csp(image_origins: &[String], template: Option<(&crate::ui::Layout, &str)>) -> String {
    let mut origins = image_origins.join(" ");
    let Some((layout, nonce)) = template else {
        return format!(
            "default-src 'none'; style-src 'self'; img-src 'self' data: {origins}; script-src 'self'; connect-src 'self'; form-action *; frame-ancestors 'none'; base-uri 'none'"
        );
    };
    for o in &layout.origins {
        if !image_origins.contains(o) {
            origins.push(' ');
            origins.push_str(o);
        }
    }
    let scripts = if layout.scripts {
        format!("'nonce-{nonce}' 'strict-dynamic'")
    } else {
        "'self'".to_owned()
    };
    format!(
        "default-src 'none'; style-src 'self' 'unsafe-inline' {origins}; img-src 'self' data: {origins}; font-src 'self' data: {origins}; script-src {scripts}; connect-src 'self'; form-action *; frame-ancestors 'none'; base-uri 'none'"
    )
}

#[derive(Clone)]
pub struct Pages {
    env: Arc<Environment<'static>>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("page.html", include_str!("../templates/page.html")),
    ("api_page.html", include_str!("../templates/api_page.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    (
        "api_message.html",
        include_str!("../templates/api_message.html"),
    ),
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

    /// Renders a template in English, without a tenant's branding; a rendering failure is a
    /// plain 500 whose detail goes to the log.
    pub fn render(&self, status: StatusCode, name: &str, context: Value) -> Response {
        let context = minijinja::context! { words => strings::chrome("en"), ..context };
        let html = self.env.get_template(name).and_then(|t| t.render(context));
        self.answer(status, name, html, &csp(&[], None))
    }

    /// A tenant's page (a journey's form, or a message) in the user's language, with the
    /// tenant's branding, in its layout: ours (`full`, which includes `fragment` inside
    /// `#api`) or the customer's template (`fragment` put into its `#api`).
    pub fn tenant_page(
        &self,
        status: StatusCode,
        (full, fragment): (&str, &str),
        context: Value,
        frame: &Frame<'_>,
    ) -> Response {
        let look = frame.branding.and_then(|b| b.look(frame.lang));
        let context = minijinja::context! {
            words => strings::chrome(frame.lang), lang => frame.lang, look, ..context
        };
        let branding_origins = frame.branding.map_or(&[][..], |b| &b.origins[..]);
        match &frame.layout {
            PageLayout::BuiltIn => {
                let html = self.env.get_template(full).and_then(|t| t.render(context));
                self.answer(status, full, html, &csp(branding_origins, None))
            }
            PageLayout::Template(layout) => {
                let nonce = crate::journeys::random_token();
                let html = self
                    .env
                    .get_template(fragment)
                    .and_then(|t| t.render(context))
                    .map(|form| layout.render(&form, frame.lang, &nonce));
                let policy = csp(branding_origins, Some((layout, &nonce)));
                self.answer(status, fragment, html, &policy)
            }
        }
    }

    fn answer(
        &self,
        status: StatusCode,
        name: &str,
        html: Result<String, minijinja::Error>,
        csp: &str,
    ) -> Response {
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
                if let Ok(v) = HeaderValue::from_str(csp) {
                    headers.insert(header::CONTENT_SECURITY_POLICY, v);
                }
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
