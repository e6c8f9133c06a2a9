//! End-to-end tests: a real server on 127.0.0.1:0, driven as a browser would.

mod api_connectors;
mod audit;
mod authorize_limits;
mod client_lockout;
mod code_limits;
mod connections;
mod custom_policies;
mod email;
mod federation;
mod guard;
mod hardening;
mod helpers;
mod local_accounts;
mod lockout;
mod logout;
mod multi_node;
mod pages;
mod password_policy;
mod password_reset;
mod profile_edit;
mod protocol;
mod secrets_at_rest;
mod smtp;
mod ui;
mod verification;
mod viewer;
