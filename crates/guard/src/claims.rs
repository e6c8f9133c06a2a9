//! The verified claims of a token, and the per-route requirements checked against them.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Rejection;

/// The claims of a token that passed every check. Cheap to clone (shared).
///
/// Extract it with [`Claims<TokenClaims>`](crate::Claims) (the default type parameter), or ask
/// for your own `Deserialize` type instead.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenClaims(Arc<Map<String, Value>>);

impl Serialize for TokenClaims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TokenClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(|map| Self(Arc::new(map)))
    }
}

impl TokenClaims {
    /// Any claim, by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.get("sub").and_then(Value::as_str)
    }

    /// The policy that issued the token: `tfp`, or `acr` when the tenant is set to use it.
    pub fn policy(&self) -> Option<&str> {
        self.get("tfp")
            .or_else(|| self.get("acr"))
            .and_then(Value::as_str)
    }

    /// The scopes of `scp` (a space-separated string).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.get("scp")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split_ascii_whitespace()
    }

    /// The roles of `roles` (an array of strings).
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.get("roles")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
    }

    /// Whether these are the claims of an ID token rather than an access token: `at_hash` or
    /// `c_hash` (only ID tokens bind an access token or a code, OpenID Connect Core §3.3.2.11),
    /// or neither `scp` nor `azp`. B2C and Trustframe access tokens name the client they were
    /// issued to in `azp`, also those an app asks for itself with its client id as scope (which
    /// have no `scp`); their ID tokens carry neither. `nonce` tells nothing: B2C puts it in
    /// access tokens too.
    pub fn is_id_token(&self) -> bool {
        let has = |name: &str| self.0.contains_key(name);
        has("at_hash") || has("c_hash") || (!has("scp") && !has("azp"))
    }

    /// The claims as your own type.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&*self.0)
    }

    /// All claims.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// What a valid token must also carry: any one of `policies`, all `scopes`, all `roles`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Requirements {
    pub(crate) policies: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) roles: Vec<String>,
}

impl Requirements {
    pub(crate) fn is_empty(&self) -> bool {
        self.policies.is_empty() && self.scopes.is_empty() && self.roles.is_empty()
    }

    pub(crate) fn check(&self, claims: &TokenClaims) -> Result<(), Rejection> {
        // B2C matches policy names case-insensitively (ARCHITECTURE.md, URL shapes).
        if !self.policies.is_empty()
            && !claims
                .policy()
                .is_some_and(|have| self.policies.iter().any(|p| p.eq_ignore_ascii_case(have)))
        {
            return Err(Rejection::Policy);
        }
        // Scopes and roles are case-sensitive strings (RFC 6749 §3.3).
        if let Some(missing) = self
            .scopes
            .iter()
            .find(|s| !claims.scopes().any(|have| have == s.as_str()))
        {
            return Err(Rejection::Scope(missing.clone()));
        }
        if let Some(missing) = self
            .roles
            .iter()
            .find(|r| !claims.roles().any(|have| have == r.as_str()))
        {
            return Err(Rejection::Role(missing.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> TokenClaims {
        match value {
            Value::Object(map) => TokenClaims(Arc::new(map)),
            _ => TokenClaims(Arc::new(Map::new())),
        }
    }

    #[test]
    fn reads_b2c_claims() {
        let c = claims(json!({
            "sub": "u1", "tfp": "B2C_1_susi", "scp": "tasks.read  tasks.write", "roles": ["Admin", 3]
        }));
        assert_eq!(c.subject(), Some("u1"));
        assert_eq!(c.policy(), Some("B2C_1_susi"));
        assert_eq!(
            c.scopes().collect::<Vec<_>>(),
            ["tasks.read", "tasks.write"]
        );
        assert_eq!(c.roles().collect::<Vec<_>>(), ["Admin"]);
        assert_eq!(
            claims(json!({"acr": "b2c_1_mfa"})).policy(),
            Some("b2c_1_mfa")
        );
        assert_eq!(claims(json!({})).scopes().count(), 0);
    }

    #[test]
    fn policy_is_any_of_and_case_insensitive() {
        let r = Requirements {
            policies: vec!["B2C_1_susi".into(), "B2C_1_mfa".into()],
            ..Requirements::default()
        };
        assert_eq!(r.check(&claims(json!({"tfp": "b2c_1_MFA"}))), Ok(()));
        assert_eq!(
            r.check(&claims(json!({"tfp": "B2C_1_other"}))),
            Err(Rejection::Policy)
        );
        assert_eq!(r.check(&claims(json!({}))), Err(Rejection::Policy));
    }

    #[test]
    fn scopes_and_roles_are_all_of() {
        let r = Requirements {
            scopes: vec!["tasks.read".into(), "tasks.write".into()],
            roles: vec!["Admin".into()],
            ..Requirements::default()
        };
        let ok = claims(json!({"scp": "tasks.write tasks.read", "roles": ["Admin"]}));
        assert_eq!(r.check(&ok), Ok(()));
        let no_write = claims(json!({"scp": "tasks.read", "roles": ["Admin"]}));
        assert_eq!(
            r.check(&no_write),
            Err(Rejection::Scope("tasks.write".into()))
        );
        let wrong_case = claims(json!({"scp": "tasks.read tasks.write", "roles": ["admin"]}));
        assert_eq!(r.check(&wrong_case), Err(Rejection::Role("Admin".into())));
    }

    #[test]
    fn id_tokens_are_told_from_access_tokens() {
        let access = claims(json!({"aud": "api", "azp": "app", "scp": "tasks.read", "nonce": "n"}));
        assert!(!access.is_id_token());
        // An app's access token to itself (scope = its client id): `azp`, no `scp`.
        assert!(!claims(json!({"aud": "app", "azp": "app"})).is_id_token());
        assert!(claims(json!({"aud": "app", "nonce": "n"})).is_id_token());
        assert!(claims(json!({"aud": "app", "azp": "app", "at_hash": "h"})).is_id_token());
        assert!(claims(json!({"aud": "app", "scp": "a", "c_hash": "h"})).is_id_token());
    }

    #[test]
    fn deserializes_into_own_types() {
        #[derive(Deserialize)]
        struct Mine {
            sub: String,
        }
        let c = claims(json!({"sub": "u1", "other": 1}));
        assert_eq!(
            c.deserialize::<Mine>().map(|m| m.sub).ok(),
            Some("u1".into())
        );
        assert!(claims(json!({})).deserialize::<Mine>().is_err());
    }
}
