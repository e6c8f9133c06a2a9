//! The engine's only way out: I/O through these traits, implemented by the server over the
//! store, the REST connector and the mailer. Tests of the engine implement them over real
//! in-process state.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use trustframe_policy::{
    ClaimTypeId, ClaimValues, ClaimsSchema, ResolverContext, TechnicalProfile,
};

/// A failure of the environment (database down, connector misconfigured): the journey ends with
/// a server error; the detail goes to the operator's log, never to the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvError(pub String);

impl EnvError {
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// An identity of a user (`identities` in Microsoft Graph's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub sign_in_type: String,
    pub issuer: String,
    pub issuer_assigned_id: String,
}

/// A user as the directory returns it: object id and stored attributes by claim type id.
#[derive(Debug, Clone)]
pub struct DirectoryUser {
    pub object_id: String,
    pub identities: Vec<Identity>,
    pub attributes: ClaimValues,
}

pub enum PasswordCheck {
    Valid(DirectoryUser),
    NoSuchUser,
    WrongPassword,
    /// Too many failures for this account or client IP (smart lockout): the password was not
    /// checked.
    Locked {
        retry_after_seconds: i64,
    },
}

pub enum CreateResult {
    Created(DirectoryUser),
    /// An account with one of these identities exists already.
    AlreadyExists,
}

#[async_trait]
pub trait Directory: Send + Sync {
    async fn read(&self, object_id: &str) -> Result<Option<DirectoryUser>, EnvError>;
    async fn find_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<DirectoryUser>, EnvError>;
    /// Checks a local account's password; unknown accounts cost the same as known ones.
    /// `context` names the client (`ip_address`) and the journey, for throttling and audit.
    async fn verify_password(
        &self,
        sign_in_name: &str,
        password: &str,
        context: &ResolverContext,
    ) -> Result<PasswordCheck, EnvError>;
    async fn create(
        &self,
        identities: Vec<Identity>,
        password: Option<String>,
        attributes: ClaimValues,
    ) -> Result<CreateResult, EnvError>;
    /// The message to show when the directory's password policy refuses a new password
    /// (sign-up, reset, change), as Microsoft Entra password protection refuses banned
    /// passwords for B2C's directory; `None` accepts it.
    fn refuse_new_password(&self, _password: &str) -> Option<String> {
        None
    }
    /// Overwrites the given attributes; `null` removes one.
    async fn write(&self, object_id: &str, attributes: ClaimValues) -> Result<(), EnvError>;
    /// A new password (a reset or a change); `context` names the journey, for the audit.
    async fn set_password(
        &self,
        object_id: &str,
        password: &str,
        context: &ResolverContext,
    ) -> Result<(), EnvError>;
    /// Deletes the user, its identities, sessions and refresh tokens (`DeleteClaimsPrincipal`);
    /// `false` when there was no such user.
    async fn delete(&self, object_id: &str, context: &ResolverContext) -> Result<bool, EnvError> {
        let _ = context;
        Err(EnvError::new(format!(
            "this directory cannot delete users ({object_id})"
        )))
    }
}

/// The answer of a REST claims exchange, as the engine needs it.
#[derive(Debug, Clone)]
pub enum RestOutcome {
    Continue {
        claims: ClaimValues,
        cleared: Vec<ClaimTypeId>,
    },
    /// Shown on the page; the user corrects and resubmits.
    ValidationError { user_message: String },
    /// The user cannot go on; no account is created.
    Block { user_message: String },
    /// The call failed (timeout, 5xx, malformed answer).
    Failed { user_message: String },
}

pub struct RestRequest<'a> {
    pub profile: &'a TechnicalProfile,
    pub schema: &'a ClaimsSchema,
    pub claims: &'a ClaimValues,
    pub context: &'a ResolverContext,
    pub step: Option<&'a str>,
}

#[async_trait]
pub trait RestClient: Send + Sync {
    async fn exchange(&self, request: RestRequest<'_>) -> Result<RestOutcome, EnvError>;
}

/// A one-time code to e-mail (`one-time-password-technical-profile.md`). `Debug` leaves the
/// code out: it is a secret.
pub struct CodeMail {
    pub to: String,
    pub code: String,
    /// The journey's culture (`ui_locales`, `en-US` when absent): the mail's language.
    pub culture: String,
    pub lifetime_seconds: i64,
    /// `contoso.onmicrosoft.com`.
    pub tenant: String,
    pub correlation_id: String,
    /// The client that asked for the code (audit records).
    pub ip_address: String,
    pub user_agent: String,
}

impl std::fmt::Debug for CodeMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeMail")
            .field("to", &self.to)
            .field("culture", &self.culture)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send_code(&self, mail: CodeMail) -> Result<(), EnvError>;

    /// Counts a code about to be generated for `address` by a client at `ip` (empty when
    /// unknown) against limits shared by every journey; `false`: a limit is reached, and no
    /// code is generated or sent. The per-journey limit (`NumCodeGenerationAttempts`) is
    /// checked apart. Default: no shared limit.
    async fn count_code_sent(&self, address: &str, ip: &str) -> Result<bool, EnvError> {
        let _ = (address, ip);
        Ok(true)
    }

    /// Counts a check of a code sent to `address` before the code is compared, against a limit
    /// of wrong codes shared by every journey; `false`: the limit is reached, and even a right
    /// code is refused. Default: no shared limit.
    async fn count_code_check(&self, address: &str) -> Result<bool, EnvError> {
        let _ = address;
        Ok(true)
    }

    /// The check counted by [`Mailer::count_code_check`] was not a wrong code.
    async fn forgive_code_check(&self, address: &str) -> Result<(), EnvError> {
        let _ = address;
        Ok(())
    }

    /// A code entered for `address` was refused, or one was not sent because of a shared limit
    /// (for the audit log). Default: nothing.
    async fn code_refused(
        &self,
        address: &str,
        reason: CodeRefusal,
        context: &ResolverContext,
    ) -> Result<(), EnvError> {
        let _ = (address, reason, context);
        Ok(())
    }
}

/// Why an entered verification code was refused, or none was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Not sent: too many codes for the address or the client IP across journeys
    /// ([`Mailer::count_code_sent`]).
    TooManySent,
    Wrong,
    Expired,
    /// The journey's tries (`NumRetryAttempts`) are used up.
    RetriesExhausted,
    /// Too many wrong codes for the address across journeys: even a right one is refused.
    TooManyWrong,
    /// No code was sent to this address in the journey.
    NoCode,
}

impl CodeRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooManySent => "too_many_codes",
            Self::Wrong => "wrong_code",
            Self::Expired => "expired",
            Self::RetriesExhausted => "retries_exhausted",
            Self::TooManyWrong => "too_many_wrong_codes",
            Self::NoCode => "no_code",
        }
    }
}

/// Seconds since the Unix epoch; injectable so expiry can be tested without waiting.
pub trait Clock: Send + Sync {
    fn now(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// Everything a journey may touch.
pub struct Env<'a> {
    pub directory: &'a dyn Directory,
    pub rest: &'a dyn RestClient,
    pub mailer: &'a dyn Mailer,
    pub clock: &'a dyn Clock,
}
