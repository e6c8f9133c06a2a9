//! The grant stored (as JSON) with a code or a refresh token: everything needed to mint tokens
//! later without re-running the journey. Refresh grants replay these claims (ARCHITECTURE.md,
//! "A sign-in, end to end" step 5): API connectors run only at the initial sign-in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::OidcError;
use crate::scope::GrantedScopes;

const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub(crate) v: u32,
    /// The policy id as the relying party names it (goes into `tfp`/`acr`).
    pub(crate) policy: String,
    pub(crate) client_id: String,
    /// Where the code was sent; `None` in refresh grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) redirect_uri: Option<String>,
    #[serde(default)]
    pub(crate) redirect_uri_in_request: bool,
    pub(crate) scopes: GrantedScopes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) code_challenge: Option<String>,
    pub(crate) object_id: String,
    pub(crate) auth_time: i64,
    /// Application claims under their token names, as the journey produced them.
    pub(crate) claims: Map<String, Value>,
    /// Every refresh token descending from one code shares this id, so a replayed code or a
    /// reused refresh token can revoke them all.
    pub(crate) family_id: String,
}

impl Grant {
    pub(crate) fn new_version() -> u32 {
        VERSION
    }

    pub(crate) fn to_json(&self) -> Result<String, OidcError> {
        serde_json::to_string(self).map_err(OidcError::CorruptGrant)
    }

    pub(crate) fn from_json(json: &str) -> Result<Grant, OidcError> {
        serde_json::from_str(json).map_err(OidcError::CorruptGrant)
    }

    /// The grant kept with refresh tokens: no code-only fields.
    pub(crate) fn for_refresh(&self) -> Grant {
        Grant {
            redirect_uri: None,
            redirect_uri_in_request: false,
            code_challenge: None,
            nonce: None,
            ..self.clone()
        }
    }
}
