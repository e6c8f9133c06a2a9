//! Trustframe's journey engine: runs a compiled policy as a step machine,
//! `advance(state, input) -> Outcome`. Claims, claim resolvers, claims transformations,
//! preconditions, input validation and validation technical profiles live here; every I/O goes
//! through the traits of [`env`].

pub mod env;
pub mod journey;
pub mod otp;
pub mod transform;
pub mod validate;

pub use env::{
    Clock, CodeMail, CodeRefusal, CreateResult, Directory, DirectoryUser, Env, EnvError, Identity,
    Mailer, PasswordCheck, RestClient, RestOutcome, RestRequest, SystemClock,
};
pub use journey::{
    ControlStatus, ControlView, Engine, Failure, FederationRequest, Field, Frame, Input, Issued,
    JourneyRef, JourneyState, Outcome, Page, PageKind, Selection,
};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The policy is wrong (a missing profile, an unknown method): the operator must fix it.
    #[error("policy error: {0}")]
    Policy(String),
    /// The request does not fit the journey (a submit where no page waits).
    #[error("unexpected input: {0}")]
    UnexpectedInput(String),
    #[error(transparent)]
    Env(#[from] EnvError),
}
