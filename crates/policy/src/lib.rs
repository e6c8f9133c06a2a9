//! Trustframe's policy model and its front ends.
//!
//! - [`model`]: the journey model (claims schema, technical profiles, user journeys, relying
//!   party) that the engine runs;
//! - [`userflow`]: compiles a user flow (our TOML) into that model;
//! - [`claim_resolver`]: B2C's `{Scope:Name}` claim resolvers.
//!
//! Pure: no I/O.

pub mod claim_resolver;
pub mod identity_provider;
pub mod ids;
pub mod model;
pub mod otp;
pub mod rest;
pub mod transformation;
pub mod userflow;

pub use claim_resolver::{ClaimValues, ResolverContext};
pub use ids::{ClaimTypeId, ClaimsTransformationId, PolicyId, TechnicalProfileId, UserJourneyId};
pub use model::*;
