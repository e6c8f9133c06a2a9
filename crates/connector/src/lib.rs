//! One REST claims exchange: the heart of Trustframe's extensibility.
//!
//! A journey step (a RESTful technical profile in a custom policy, or an API connector in a user
//! flow) calls the customer's REST API; the answer validates input (HTTP 409 + `userMessage`),
//! blocks the sign-up, or enriches the token. [`Connector::exchange`] does one such call:
//!
//! - builds the request from the profile's input claims (`SendClaimsIn` Body, Form, Header,
//!   QueryString or Url; `ClaimUsedForRequestPayload`; partner claim types, default values, claim
//!   resolvers) — `restful-technical-profile.md`; for API connectors the JSON body of
//!   `add-api-connector.md` with `step`,
//!   `client_id` and `ui_locales`;
//! - authenticates (`None`, `Basic`, `Bearer`, `ClientCertificate`, `ApiKeyHeader`, and our
//!   OAuth2 `ClientCredentials` with a shared token cache);
//! - refuses plain HTTP and unauthenticated calls outside development (`docs/operating.md`), follows no
//!   redirect, bounds the response size while streaming, times out and retries as B2C does
//!   (30 s + 2 retries, API connectors 20 s + 1 retry);
//! - reads the answer: output claims from a flat body or JSON paths, typed by the claims schema,
//!   nulls reported as cleared; B2C's 409 error; the API-connector actions and where each is
//!   allowed;
//! - writes one [`CallRecord`] per exchange to the [`AuditSink`], with secrets redacted.

mod audit;
mod auth;
mod circuit;
mod claim_value;
mod error;
mod exchange;
#[doc(hidden)]
pub mod fuzz;
mod json_path;
mod keys;
mod metrics;
mod outbound;
mod outcome;
mod plan;
mod redact;
mod response;
mod send_claims_in;
mod service_url;
mod token_cache;

use std::fmt;

pub use audit::{AuditSink, CallRecord, MemoryAuditSink, NoAudit};
pub use error::ConnectorError;
pub use exchange::Connector;
pub use keys::KeyStore;
pub use outcome::{ExchangeOutcome, FailureReason};

use trustframe_policy::{ClaimValues, ClaimsSchema, ResolverContext, TechnicalProfile};

/// Outbound settings the server reads from its configuration.
#[derive(Clone)]
pub struct ConnectorSettings {
    /// Contents of the `[outbound] ca_files` (PEM), trusted in addition to the system's roots.
    pub extra_root_pems: Vec<Vec<u8>>,
    /// Development: allows `http://` service URLs and `AuthenticationType` `None` everywhere.
    pub development: bool,
    /// The largest response body accepted when a profile sets no `MaxResponseBytes`.
    pub default_max_response_bytes: usize,
}

impl ConnectorSettings {
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
}

/// The outbound HTTPS client (ours, `[outbound]` in `docs/trustframe.toml`: system roots plus `extra_root_pems`, TLS 1.2
/// or later, no redirects followed), for other outbound calls such as identity providers'.
pub fn outbound_client(extra_root_pems: &[Vec<u8>]) -> Result<reqwest::Client, ConnectorError> {
    outbound::Clients::new(extra_root_pems).map(|c| c.base().clone())
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        Self {
            extra_root_pems: Vec::new(),
            development: false,
            default_max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl fmt::Debug for ConnectorSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorSettings")
            .field("extra_root_pems", &self.extra_root_pems.len())
            .field("development", &self.development)
            .field(
                "default_max_response_bytes",
                &self.default_max_response_bytes,
            )
            .finish()
    }
}

/// One call to make: the RESTful technical profile, the journey's claims and context.
#[derive(Clone, Copy)]
pub struct RestCall<'a> {
    pub profile: &'a TechnicalProfile,
    pub schema: &'a ClaimsSchema,
    pub claims: &'a ClaimValues,
    /// `policy_id`, `correlation_id`, `culture` (sent as `ui_locales` by API connectors) and
    /// `oauth_params["client_id"]` (sent as `client_id`), and whatever claim resolvers read.
    pub context: &'a ResolverContext,
    /// The journey step, for the audit record (e.g. `"7"` or `"SelfAsserted-LocalAccountSignUp"`).
    pub step: Option<&'a str>,
}
