//! The OpenID Connect metadata document of one policy, with exactly the members (and member
//! order) B2C publishes at `/{tenant}/{policy}/v2.0/.well-known/openid-configuration`.
//!
//! B2C publishes no `code_challenge_methods_supported`, `grant_types_supported` or
//! `userinfo_endpoint`; neither do we, so clients see the same document.

use serde::{Deserialize, Serialize};

use crate::config::PolicyClaim;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub end_session_endpoint: String,
    pub jwks_uri: String,
    pub response_modes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub claims_supported: Vec<String>,
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

pub(crate) fn document(
    public_url: &str,
    issuer: &str,
    tenant: &str,
    policy: &str,
    policy_claim: PolicyClaim,
    output_claims: &[String],
) -> DiscoveryDocument {
    let base = format!("{public_url}/{tenant}/{policy}");
    // The policy's output claims first, then what every token carries (B2C's order).
    let mut claims: Vec<String> = Vec::new();
    let extra = ["sub", policy_claim.claim_name()];
    let protocol = ["iss", "iat", "exp", "aud", "acr", "nonce", "auth_time"];
    for claim in output_claims
        .iter()
        .map(String::as_str)
        .chain(extra)
        .chain(protocol)
    {
        if !claims.iter().any(|c| c == claim) {
            claims.push(claim.to_owned());
        }
    }
    DiscoveryDocument {
        issuer: issuer.to_owned(),
        authorization_endpoint: format!("{base}/oauth2/v2.0/authorize"),
        token_endpoint: format!("{base}/oauth2/v2.0/token"),
        end_session_endpoint: format!("{base}/oauth2/v2.0/logout"),
        jwks_uri: format!("{base}/discovery/v2.0/keys"),
        response_modes_supported: strings(&["query", "fragment", "form_post"]),
        response_types_supported: strings(&[
            "code",
            "code id_token",
            "code token",
            "code id_token token",
            "id_token",
            "id_token token",
            "token",
            "token id_token",
        ]),
        scopes_supported: strings(&["openid"]),
        subject_types_supported: strings(&["pairwise"]),
        id_token_signing_alg_values_supported: strings(&["RS256"]),
        token_endpoint_auth_methods_supported: strings(&[
            "client_secret_post",
            "client_secret_basic",
        ]),
        claims_supported: claims,
    }
}
