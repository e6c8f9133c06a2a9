//! End-to-end tests of the guard: a real test issuer (metadata + JWKS on 127.0.0.1:0), a real
//! axum API protected by the guard, and a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod discovery;
mod helpers;
mod keys;
mod requirements;
mod token_kinds;
mod tokens;
mod tower_stack;
