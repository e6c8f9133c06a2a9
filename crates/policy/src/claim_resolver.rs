//! Claim resolvers: `{Culture:LCID}`, `{Policy:PolicyId}`, `{OIDC:ClientId}`, `{Claim:email}`…
//! (`claim-resolver-overview.md`). Names are matched without regard to case; an unknown
//! resolver, or one without a value, resolves to the empty string, as B2C does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::ClaimTypeId;

/// The claims a journey holds: claim type id to value (string, bool, number or string array).
pub type ClaimValues = BTreeMap<ClaimTypeId, serde_json::Value>;

/// What the resolvers read, gathered by the engine from the request and the journey.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResolverContext {
    /// RFC 5646 language tag of the page (`ui_locales`, else `en`).
    pub culture: String,
    pub policy_id: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub correlation_id: String,
    pub ip_address: String,
    /// The browser's `User-Agent` (cut to 256 characters), for audit records; no resolver
    /// reads it.
    #[serde(default)]
    pub user_agent: String,
    pub build_number: String,
    pub deployment_mode: String,
    pub kmsi: bool,
    pub now_utc: String,
    /// The authorize request's parameters (`client_id`, `redirect_uri`, `scope`, `nonce`,
    /// `login_hint`, `domain_hint`, `prompt`, `max_age`, `acr_values`, `resource`, …).
    pub oauth_params: BTreeMap<String, String>,
}

impl ResolverContext {
    fn oauth(&self, name: &str) -> String {
        self.oauth_params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn language(&self) -> &str {
        self.culture.split(['-', '_']).next().unwrap_or("en")
    }

    fn region(&self) -> &str {
        self.culture.split(['-', '_']).nth(1).unwrap_or("")
    }

    /// The value of one resolver, `None` when the name is not a claim resolver at all.
    pub fn resolve_one(&self, name: &str, claims: &ClaimValues) -> Option<String> {
        let (scope, key) = name.split_once(':')?;
        let key_lc = key.to_ascii_lowercase();
        let value = match scope.to_ascii_lowercase().as_str() {
            "culture" => match key_lc.as_str() {
                "languagename" => self.language().to_ascii_lowercase(),
                "lcid" => lcid(&self.culture).to_string(),
                "regionname" => self.region().to_ascii_uppercase(),
                "rfc5646" => self.culture.clone(),
                "languagegroup" => self.language().to_ascii_lowercase(),
                _ => String::new(),
            },
            "policy" => match key_lc.as_str() {
                "policyid" => self.policy_id.clone(),
                "relyingpartytenantid" | "trustframeworktenantid" => self.tenant_name.clone(),
                "tenantobjectid" => self.tenant_id.clone(),
                _ => String::new(),
            },
            "context" => match key_lc.as_str() {
                "buildnumber" => self.build_number.clone(),
                "correlationid" => self.correlation_id.clone(),
                "datetimeinutc" => self.now_utc.clone(),
                "deploymentmode" => self.deployment_mode.clone(),
                "ipaddress" => self.ip_address.clone(),
                "kmsi" => self.kmsi.to_string(),
                _ => String::new(),
            },
            "oidc" => match key_lc.as_str() {
                "authenticationcontextreferences" => self.oauth("acr_values"),
                "clientid" => self.oauth("client_id"),
                "domainhint" => self.oauth("domain_hint"),
                "loginhint" => self.oauth("login_hint"),
                "maxage" => self.oauth("max_age"),
                "nonce" => self.oauth("nonce"),
                "password" => String::new(),
                "prompt" => self.oauth("prompt"),
                "redirecturi" => self.oauth("redirect_uri"),
                "resource" => self.oauth("resource"),
                "scope" => self.oauth("scope"),
                _ => String::new(),
            },
            "oauth-kv" => self.oauth(key),
            "claim" => match claims.get(&ClaimTypeId::new(key)) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            },
            _ => return None,
        };
        Some(value)
    }

    /// Replaces every `{Scope:Name}` claim resolver in `text`; braces that are not a claim
    /// resolver are kept as written.
    pub fn resolve(&self, text: &str, claims: &ClaimValues) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => match self.resolve_one(&after[..close], claims) {
                    Some(value) => {
                        out.push_str(&value);
                        rest = &after[close + 1..];
                    }
                    None => {
                        out.push('{');
                        rest = after;
                    }
                },
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Windows LCIDs of the languages B2C localises into; 1033 (en-US) otherwise.
fn lcid(culture: &str) -> u32 {
    match culture.to_ascii_lowercase().as_str() {
        "en-gb" => 2057,
        "fr" | "fr-fr" => 1036,
        "fr-ca" => 3084,
        "de" | "de-de" => 1031,
        "es" | "es-es" => 3082,
        "es-mx" => 2058,
        "it" | "it-it" => 1040,
        "nl" | "nl-nl" => 1043,
        "pt-br" => 1046,
        "pt" | "pt-pt" => 2070,
        "ja" | "ja-jp" => 1041,
        "ko" | "ko-kr" => 1042,
        "zh-cn" | "zh-hans" => 2052,
        "zh-tw" | "zh-hant" => 1028,
        "ru" | "ru-ru" => 1049,
        "sv" | "sv-se" => 1053,
        "da" | "da-dk" => 1030,
        "nb" | "nb-no" => 1044,
        "fi" | "fi-fi" => 1035,
        "pl" | "pl-pl" => 1045,
        "cs" | "cs-cz" => 1029,
        "tr" | "tr-tr" => 1055,
        _ => 1033,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ResolverContext {
        ResolverContext {
            culture: "fr-FR".into(),
            policy_id: "B2C_1_susi".into(),
            tenant_id: "0d9e5c3e-0000-4000-8000-000000000001".into(),
            tenant_name: "contoso.onmicrosoft.com".into(),
            correlation_id: "corr-1".into(),
            ip_address: "127.0.0.1".into(),
            user_agent: String::new(),
            oauth_params: [
                ("client_id".to_owned(), "app-1".to_owned()),
                ("campaignId".to_owned(), "xmas".to_owned()),
            ]
            .into_iter()
            .collect(),
            ..ResolverContext::default()
        }
    }

    #[test]
    fn resolves_b2c_resolvers_case_insensitively() {
        let mut claims = ClaimValues::new();
        claims.insert("email".into(), serde_json::json!("a@b.example"));
        let c = ctx();
        assert_eq!(c.resolve("{Culture:LCID}", &claims), "1036");
        assert_eq!(
            c.resolve(
                "{culture:rfc5646}/{Culture:LanguageName}/{Culture:RegionName}",
                &claims
            ),
            "fr-FR/fr/FR"
        );
        assert_eq!(
            c.resolve("p={Policy:PolicyId}&t={Policy:TenantObjectId}", &claims),
            "p=B2C_1_susi&t=0d9e5c3e-0000-4000-8000-000000000001"
        );
        assert_eq!(
            c.resolve(
                "{OIDC:ClientId} {OAUTH-KV:campaignid} {Claim:email}",
                &claims
            ),
            "app-1 xmas a@b.example"
        );
        assert_eq!(
            c.resolve("{Context:CorrelationId}@{Context:IPAddress}", &claims),
            "corr-1@127.0.0.1"
        );
    }

    #[test]
    fn braces_that_are_not_resolvers_are_kept() {
        let c = ctx();
        assert_eq!(
            c.resolve("{\"a\": {not a resolver} {", &ClaimValues::new()),
            "{\"a\": {not a resolver} {"
        );
        assert_eq!(c.resolve("{OIDC:LoginHint}", &ClaimValues::new()), "");
    }
}
