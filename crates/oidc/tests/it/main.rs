//! End-to-end protocol tests of trustframe-oidc against a real SQLite file store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorize;
mod code_flow;
mod helpers;
mod keys;
mod metadata;
mod policy_keys;
mod refresh;
