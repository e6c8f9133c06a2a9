//! Integration tests of the connector against real local HTTP and HTTPS services standing in for
//! customers' REST APIs (no mocks of our components).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_connector;
mod auth;
mod circuit_breaker;
mod helpers;
mod metrics;
mod output_claims;
mod resilience;
mod restful;
mod samples;
mod secrets;
mod send_claims_in;
mod transport;
