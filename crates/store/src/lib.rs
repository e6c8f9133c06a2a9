//! Persistence for Trustframe: users and their identities, journey states, SSO sessions,
//! authorization codes, refresh tokens, signing keys, tenant settings, sign-in
//! failure counters and the audit log.
//!
//! One [`Store`] type serves SQLite (the embedded default: one node) and PostgreSQL (many nodes
//! sharing one tenant). Callers never see the dialect: every method works on both, and every
//! single-use operation (codes, refresh tokens) is race-free across nodes.
//!
//! The store never logs stored values. Codes and refresh tokens arrive already hashed.

/// Runs `$body` with `$pool` bound to the concrete pool of `$store`. The body is type-checked
/// once per dialect, so one piece of SQL (with `$1` placeholders, which SQLite accepts too)
/// serves both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}

mod audit;
mod codes;
mod db;
mod error;
mod journeys;
mod purge;
mod refresh_tokens;
mod sessions;
mod settings;
mod signing_keys;
mod throttle;
mod users;
mod writer;

#[cfg(test)]
mod test_support;

pub use audit::AuditRecord;
pub use codes::CodeRedemption;
pub use db::{Backend, Store};
pub use error::StoreError;
pub use journeys::{JourneyRow, JourneyVersion};
pub use refresh_tokens::{NextRefreshToken, RefreshTokenRecord, RefreshUse, Rotation};
pub use sessions::SsoSession;
pub use signing_keys::SigningKeyRecord;
pub use throttle::{FailureCount, ThrottleRule};
pub use users::{Identity, NewUser, User};
pub use writer::PendingCommit;

/// Unix time in seconds.
pub type Timestamp = i64;
