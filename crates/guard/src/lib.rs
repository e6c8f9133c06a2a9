//! Protect an API with bearer tokens issued by Azure AD B2C, Trustframe, or any OpenID provider.
//!
//! The guard reads the provider's OpenID metadata (the per-policy URL of a B2C user flow),
//! caches its signing keys (refreshed in the background, and on an unknown `kid` no more often
//! than a floor), and checks each token: signature with the algorithms the metadata allows,
//! `iss`, `aud`, `exp`, `nbf`, that it is an access token rather than an ID token (unless
//! [`GuardBuilder::accept_id_tokens`]), then the accepted policies (`tfp`/`acr`), scopes (`scp`)
//! and roles (`roles`). Refusals follow RFC 6750: 401 with a `Bearer` challenge, 403
//! `insufficient_scope`; 503 while no keys are available, so it never fails open.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use trustframe_guard::{Claims, Guard, TokenClaims};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::builder(
//!     "https://contoso.b2clogin.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration?p=B2C_1_susi",
//! )
//! .audience("0239a9cc-309c-4d41-87f1-31288feb2e82")
//! .build()?;
//! guard.ready().await?; // optional: fail fast when the provider cannot be reached
//!
//! let app: Router = Router::new()
//!     .route("/api/values", get(|Claims(c): Claims<TokenClaims>| async move {
//!         Json(vec!["Value1".to_owned(), c.subject().unwrap_or_default().to_owned()])
//!     }))
//!     .route_layer(guard.layer());
//! # Ok(()) }
//! ```
//!
//! The feature `test-issuer` adds `test_issuer`, a local provider for tests of protected APIs.

#![warn(missing_docs)]

mod cache;
mod claims;
mod discovery;
mod error;
mod extract;
#[doc(hidden)]
pub mod fuzz;
mod guard;
mod keys;
mod layer;
mod metrics;
mod provider;
mod response;
#[cfg(feature = "test-issuer")]
pub mod test_issuer;
mod verify;

pub use claims::TokenClaims;
pub use error::{GuardError, Rejection};
pub use extract::Claims;
pub use guard::{Guard, GuardBuilder};
pub use layer::{GuardLayer, GuardService};
pub use metrics::MetricsSnapshot;
