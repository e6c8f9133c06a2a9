//! The OpenID Connect provider protocol of Trustframe, without HTTP: B2C's URL shapes,
//! metadata, keys, token claims and error codes (`tokens-overview.md`, `error-codes.md`), so B2C
//! clients work unchanged.
//!
//! The server calls one [`OidcService`]:
//!
//! - `GET …/authorize` → [`OidcService::validate_authorize`]; the journey runs; then
//!   [`OidcService::issue`] (or [`OidcService::authorize_error`]) gives the
//!   [`AuthorizationResponse`] to deliver.
//! - `POST …/token` → [`OidcService::token`] → [`TokenResponse`] or [`TokenError`].
//! - `GET …/logout` → [`OidcService::logout`].
//! - metadata → [`OidcService::discovery`]; keys → [`OidcService::jwks_for`] (a policy with
//!   its own signing key, [`OidcService::set_policy_key`], publishes it beside the tenant's).
//!
//! Codes and refresh tokens are random 256-bit values stored only as SHA-256 hashes; refresh
//! tokens rotate on every use, and reuse of a spent one revokes its whole family.

mod authorize;
mod claims;
mod clock;
mod config;
mod discovery;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod grant;
mod key_encryption;
mod keys;
mod logout;
mod params;
mod response;
mod scope;
mod secret;
mod service;
mod token;

pub use authorize::{AuthorizeError, Prompt, ResponseMode, ResponseType, ValidatedAuthorize};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Application, ConfigError, PolicyClaim, TokenSettings, validate_applications};
pub use discovery::DiscoveryDocument;
pub use error::{ErrorCode, OidcError};
pub use key_encryption::KeyEncryptionKey;
pub use keys::{Jwk, Jwks, PolicyKey};
pub use logout::{LogoutError, LogoutOutcome};
pub use response::{AuthorizationResponse, JourneyError};
pub use scope::{GrantedScopes, Resource};
pub use service::{
    DEFAULT_CLIENT_LOCKOUT, OidcConfig, OidcService, RefreshContext, RefreshJourney, SignedIn,
};
pub use token::{ErrorBody, TokenError, TokenResponse, parse_basic_auth};
