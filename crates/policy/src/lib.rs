//! Trustframe's policy model and its front ends.
//!
//! - [`model`]: the journey model (claims schema, technical profiles, user journeys, relying
//!   party) that the engine runs;
//! - [`userflow`]: compiles a user flow (our TOML) into that model;
//! - [`xml`]: compiles a set of B2C custom-policy files (TrustFramework XML) into it;
//! - [`link`]: checks that every reference of a compiled policy resolves (both front ends);
//! - [`claim_resolver`]: B2C's `{Scope:Name}` claim resolvers.
//!
//! Pure: no I/O.

pub mod claim_resolver;
pub mod diagnostic;
pub mod identity_provider;
pub mod ids;
pub mod link;
pub mod model;
pub mod names;
pub mod otp;
pub mod rest;
pub mod transformation;
pub mod userflow;
pub mod verification;
pub mod xml;

pub use claim_resolver::{ClaimValues, ResolverContext};
pub use diagnostic::{Diagnostic, Severity};
pub use ids::{ClaimTypeId, ClaimsTransformationId, PolicyId, TechnicalProfileId, UserJourneyId};
pub use model::*;
