//! Request bodies as the connector sends them (JSON or urlencoded form) and the two answer
//! contracts: B2C's RESTful 409 error and the API-connector responses.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Form;
use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The claims a request carries, whatever its content type.
#[derive(Debug, Clone, Default)]
pub struct Payload(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let Form(pairs): Form<Vec<(String, String)>> = Form::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
            let map = pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            return Ok(Self(map));
        }
        match Json::<Value>::from_request(req, state).await {
            Ok(Json(Value::Object(map))) => Ok(Self(map)),
            Ok(Json(_)) => Err((StatusCode::BAD_REQUEST, "expected a JSON object").into_response()),
            Err(rejection) => Err(rejection.into_response()),
        }
    }
}

impl Payload {
    /// An API-connector request always carries `step` (`add-api-connector.md`).
    pub fn is_api_connector(&self) -> bool {
        self.0.contains_key("step")
    }

    /// A string claim by exact name.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// A custom attribute, by its name without prefix: `extension_<appid>_<name>`,
    /// `extension_<name>` or plain `<name>` (any case).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.0.iter().find_map(|(key, value)| {
            let lower = key.to_ascii_lowercase();
            let bare = match lower.strip_prefix("extension_") {
                Some(rest) => match rest.split_at_checked(33) {
                    Some((id, tail))
                        if id.ends_with('_') && id[..32].bytes().all(|b| b.is_ascii_hexdigit()) =>
                    {
                        tail.to_owned()
                    }
                    _ => rest.to_owned(),
                },
                None => lower,
            };
            (bare == name.to_ascii_lowercase())
                .then(|| value.as_str())
                .flatten()
        })
    }
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// B2C's RESTful error body with HTTP 409 (`restful-technical-profile.md`).
pub fn conflict(code: &str, user_message: &str, developer_message: &str) -> Response {
    let request_id = format!("sample-{}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed));
    (
        StatusCode::CONFLICT,
        Json(json!({
            "version": "1.0.0",
            "status": 409,
            "code": code,
            "requestId": request_id,
            "userMessage": user_message,
            "developerMessage": developer_message,
            "moreInfo": "https://trustframe.example/docs/rest-contracts",
        })),
    )
        .into_response()
}

/// API connector `Continue` with claims (HTTP 200).
pub fn continue_with(claims: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("version".to_owned(), Value::from("1.0.0"));
    body.insert("action".to_owned(), Value::from("Continue"));
    body.extend(claims);
    (StatusCode::OK, Json(Value::Object(body))).into_response()
}

/// API connector `ValidationError` (HTTP 400).
pub fn validation_error(user_message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "version": "1.0.0",
            "status": 400,
            "action": "ValidationError",
            "userMessage": user_message,
        })),
    )
        .into_response()
}
