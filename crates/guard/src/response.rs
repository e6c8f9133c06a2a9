//! RFC 6750 answers: 401 with a `Bearer` challenge, 403 `insufficient_scope`, and 503 when
//! the keys are unavailable.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

use crate::Rejection;

/// The answer to a refused request. `forbidden_body` replaces the JSON body of 403 answers.
pub(crate) fn render(rejection: &Rejection, forbidden_body: Option<&Value>) -> Response {
    let status = rejection.status();
    let description = rejection.to_string();
    let (challenge, body) = match status {
        // RFC 6750 §3.1: no error code when the request carried no token at all.
        StatusCode::UNAUTHORIZED if *rejection == Rejection::MissingToken => (
            Some("Bearer".to_owned()),
            json!({"error": "unauthorized", "error_description": description}),
        ),
        StatusCode::UNAUTHORIZED => (
            Some(format!(
                r#"Bearer error="invalid_token", error_description="{}""#,
                quotable(&description)
            )),
            json!({"error": "invalid_token", "error_description": description}),
        ),
        StatusCode::FORBIDDEN => {
            let mut challenge = format!(
                r#"Bearer error="insufficient_scope", error_description="{}""#,
                quotable(&description)
            );
            if let Rejection::Scope(scope) = rejection {
                challenge.push_str(&format!(r#", scope="{}""#, quotable(scope)));
            }
            let body = forbidden_body.cloned().unwrap_or_else(
                || json!({"error": "insufficient_scope", "error_description": description}),
            );
            (Some(challenge), body)
        }
        _ => (
            None,
            json!({"error": "temporarily_unavailable", "error_description": description}),
        ),
    };
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(challenge) = challenge {
        let value = HeaderValue::from_str(&challenge)
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
        headers.insert(WWW_AUTHENTICATE, value);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// Only the characters RFC 6750 §3 allows inside a quoted attribute (no `"` or `\`).
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        render(&self, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(response: &Response) -> &str {
        response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<none>")
    }

    #[test]
    fn missing_token_gets_a_bare_challenge() {
        let response = render(&Rejection::MissingToken, None);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response), "Bearer");
    }

    #[test]
    fn invalid_token_names_the_reason() {
        let response = render(&Rejection::Expired, None);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            challenge(&response),
            r#"Bearer error="invalid_token", error_description="the token has expired""#
        );
    }

    #[test]
    fn missing_scope_names_the_scope_and_can_use_a_custom_body() {
        let response = render(&Rejection::Scope("tasks.write".into()), None);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            challenge(&response),
            r#"Bearer error="insufficient_scope", error_description="the token lacks the scope tasks.write", scope="tasks.write""#
        );
        let custom = json!({"error": "insufficient permissions"});
        let response = render(&Rejection::Policy, Some(&custom));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn unavailable_keys_ask_to_retry() {
        let response = render(&Rejection::KeysUnavailable, None);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(RETRY_AFTER),
            Some(&HeaderValue::from_static("5"))
        );
        assert_eq!(challenge(&response), "<none>");
    }

    #[test]
    fn quotes_cannot_break_the_header() {
        assert_eq!(quotable(r#"a"b\c é"#), "a?b?c ?");
    }
}
