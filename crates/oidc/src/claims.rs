//! The claims of ID and access tokens (`tokens-overview.md`).

use serde_json::{Map, Value, json};

use crate::config::PolicyClaim;
use crate::scope::Resource;

/// Claims the protocol owns; application claims with these names are dropped rather than
/// allowed to override them.
const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "auth_time",
    "ver",
    "tfp",
    "acr",
    "nonce",
    "azp",
    "scp",
    "c_hash",
    "at_hash",
];

/// What every token of one grant shares.
pub(crate) struct Subject<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) policy_claim: PolicyClaim,
    pub(crate) policy: &'a str,
    pub(crate) object_id: &'a str,
    pub(crate) auth_time: i64,
    pub(crate) claims: &'a Map<String, Value>,
    pub(crate) nonce: Option<&'a str>,
}

impl Subject<'_> {
    fn base(&self, aud: &str, now: i64, lifetime: i64) -> Map<String, Value> {
        let mut map: Map<String, Value> = self
            .claims
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let protocol = json!({
            "iss": self.issuer,
            "sub": self.object_id,
            "aud": aud,
            "exp": now + lifetime,
            "nbf": now,
            "iat": now,
            "auth_time": self.auth_time,
            "ver": "1.0",
        });
        if let Value::Object(protocol) = protocol {
            map.extend(protocol);
        }
        map.insert(
            self.policy_claim.claim_name().to_owned(),
            Value::String(self.policy.to_owned()),
        );
        if let Some(nonce) = self.nonce {
            map.insert("nonce".into(), Value::String(nonce.to_owned()));
        }
        map
    }

    /// ID token: `aud` is the client; `c_hash`/`at_hash` when issued with a code/access token.
    pub(crate) fn id_token(
        &self,
        client_id: &str,
        now: i64,
        lifetime: i64,
        c_hash: Option<String>,
        at_hash: Option<String>,
    ) -> Map<String, Value> {
        let mut map = self.base(client_id, now, lifetime);
        if let Some(c_hash) = c_hash {
            map.insert("c_hash".into(), Value::String(c_hash));
        }
        if let Some(at_hash) = at_hash {
            map.insert("at_hash".into(), Value::String(at_hash));
        }
        map
    }

    /// Access token: `aud` is the resource, `azp` the client, `scp` the granted scope names
    /// (absent when the app asked for a token to itself with its client id).
    pub(crate) fn access_token(
        &self,
        resource: &Resource,
        client_id: &str,
        now: i64,
        lifetime: i64,
    ) -> Map<String, Value> {
        let mut map = self.base(&resource.audience, now, lifetime);
        if !resource.scp.is_empty() {
            map.insert("scp".into(), Value::String(resource.scp.join(" ")));
        }
        map.insert("azp".into(), Value::String(client_id.to_owned()));
        map
    }
}
