//! Scope semantics as B2C implements them (`access-tokens.md`):
//!
//! - `openid` → an ID token; `offline_access` → a refresh token;
//! - the app's own client id → an access token whose `aud` is the app itself;
//! - a full scope URI `{app_id_uri}/{name}` exposed by an API app and listed in the requesting
//!   app's `api_permissions` → an access token with `aud` = the API's client id and `scp` = the
//!   granted names. Requested scopes the app was not granted are dropped (`scp` holds only the
//!   granted ones); if none is granted the request fails (AADB2C90205).
//! - One resource per request (AADB2C90146).
//! - `profile` and `email` are accepted and ignored: MSAL adds them to every request.

use serde::{Deserialize, Serialize};

use crate::config::Application;
use crate::error::{ErrorCode, b2c};

/// The scopes granted for one authorization, stored in the grant and replayed on refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedScopes {
    pub openid: bool,
    pub offline_access: bool,
    /// The resource an access token is for, if one was requested.
    pub resource: Option<Resource>,
}

/// The audience of an access token and what it may do there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// `aud` of the access token: the API's client id (or the app's own).
    pub audience: String,
    /// `scp` of the access token: short scope names (`tasks.read`); empty for the own-client-id
    /// scope.
    pub scp: Vec<String>,
    /// The granted scopes as the app spelled them (full URIs or the client id), for the
    /// `scope` member of responses.
    pub granted: Vec<String>,
}

impl GrantedScopes {
    /// The `scope` member of a token response: what was granted, as requested.
    pub fn response_scope(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if let Some(resource) = &self.resource {
            parts.extend(resource.granted.iter().map(String::as_str));
        }
        if self.openid {
            parts.push("openid");
        }
        if self.offline_access {
            parts.push("offline_access");
        }
        parts.join(" ")
    }
}

impl GrantedScopes {
    /// The first scope of `self` (a refresh's request) that `original` (the grant) did not
    /// have, as the app spelled it; `None` when `self` is within it (RFC 6749 §6: a refresh
    /// may narrow the scope, never widen it). `offline_access` is not compared: a refresh
    /// token exists only because it was granted.
    pub(crate) fn beyond(&self, original: &GrantedScopes) -> Option<String> {
        if self.openid && !original.openid {
            return Some("openid".to_owned());
        }
        let requested = self.resource.as_ref()?;
        let Some(granted) = original
            .resource
            .as_ref()
            .filter(|g| g.audience.eq_ignore_ascii_case(&requested.audience))
        else {
            return Some(requested.granted.join(" "));
        };
        let extra = requested
            .scp
            .iter()
            .find(|name| !granted.scp.iter().any(|g| g.eq_ignore_ascii_case(name)))?;
        // Named as the app spelled it (`{app_id_uri}/{name}`) when it can be found.
        let suffix = format!("/{}", extra.to_ascii_lowercase());
        Some(
            requested
                .granted
                .iter()
                .find(|s| s.to_ascii_lowercase().ends_with(&suffix))
                .cloned()
                .unwrap_or_else(|| extra.clone()),
        )
    }
}

/// Why a scope parameter cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScopeError {
    pub(crate) code: ErrorCode,
    pub(crate) description: String,
}

impl ScopeError {
    fn new(code: ErrorCode, description: String) -> Self {
        ScopeError { code, description }
    }
}

/// An API scope found in the registrations: the exposing app and the canonical names.
pub(crate) struct ApiScope<'a> {
    pub(crate) api: &'a Application,
    pub(crate) name: &'a str,
}

/// Finds the app exposing `scope` (`{app_id_uri}/{name}`, compared without regard to case, as
/// B2C does).
pub(crate) fn find_api_scope<'a>(apps: &'a [Application], scope: &str) -> Option<ApiScope<'a>> {
    apps.iter().find_map(|api| {
        let uri = api.app_id_uri.as_deref()?.trim_end_matches('/');
        let head = scope.get(..uri.len())?;
        if !head.eq_ignore_ascii_case(uri) {
            return None;
        }
        let name = scope.get(uri.len()..)?.strip_prefix('/')?;
        let name = api.scopes.iter().find(|s| s.eq_ignore_ascii_case(name))?;
        Some(ApiScope { api, name })
    })
}

/// Resolves a `scope` parameter for `app` against the registrations.
pub(crate) fn resolve(
    apps: &[Application],
    app: &Application,
    scope_param: &str,
) -> Result<GrantedScopes, ScopeError> {
    let mut granted = GrantedScopes {
        openid: false,
        offline_access: false,
        resource: None,
    };
    // Scopes of the one resource: (requested spelling, scp name, permitted?)
    let mut resource_scopes: Vec<(String, Option<String>, bool)> = Vec::new();
    let mut audience: Option<String> = None;
    let mut seen: Vec<&str> = Vec::new();
    for scope in scope_param.split_ascii_whitespace() {
        if seen.iter().any(|s| s.eq_ignore_ascii_case(scope)) {
            continue;
        }
        seen.push(scope);
        match scope.to_ascii_lowercase().as_str() {
            "openid" => granted.openid = true,
            "offline_access" => granted.offline_access = true,
            "profile" | "email" => {}
            _ if scope.eq_ignore_ascii_case(&app.client_id) => {
                claim_audience(&mut audience, &app.client_id, scope_param)?;
                resource_scopes.push((app.client_id.clone(), None, true));
            }
            _ => {
                let Some(found) = find_api_scope(apps, scope) else {
                    return Err(if scope.contains("://") || scope.contains(':') {
                        ScopeError::new(ErrorCode::InvalidScope, b2c::scope_unsupported(scope))
                    } else {
                        ScopeError::new(ErrorCode::InvalidScope, b2c::scope_needs_resource(scope))
                    });
                };
                claim_audience(&mut audience, &found.api.client_id, scope_param)?;
                let permitted = app
                    .api_permissions
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(scope));
                resource_scopes.push((scope.to_owned(), Some(found.name.to_owned()), permitted));
            }
        }
    }
    if let Some(audience) = audience {
        let mut scp = Vec::new();
        let mut granted_spellings = Vec::new();
        for (spelling, name, permitted) in resource_scopes {
            if permitted {
                granted_spellings.push(spelling);
                scp.extend(name);
            }
        }
        if granted_spellings.is_empty() {
            return Err(ScopeError::new(
                ErrorCode::UnauthorizedClient,
                b2c::INSUFFICIENT_PERMISSIONS.to_owned(),
            ));
        }
        granted.resource = Some(Resource {
            audience,
            scp,
            granted: granted_spellings,
        });
    }
    Ok(granted)
}

fn claim_audience(
    current: &mut Option<String>,
    audience: &str,
    scope_param: &str,
) -> Result<(), ScopeError> {
    match current {
        Some(existing) if !existing.eq_ignore_ascii_case(audience) => Err(ScopeError::new(
            ErrorCode::InvalidScope,
            b2c::multiple_resources(scope_param),
        )),
        Some(_) => Ok(()),
        None => {
            *current = Some(audience.to_owned());
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn app(client_id: &str) -> Application {
        Application {
            name: client_id.into(),
            client_id: client_id.into(),
            redirect_uris: vec![],
            client_secret: None,
            allow_implicit_id_token: false,
            allow_implicit_access_token: false,
            api_permissions: vec![],
            app_id_uri: None,
            scopes: vec![],
            post_logout_redirect_uris: vec![],
        }
    }

    fn apps() -> Vec<Application> {
        let mut api = app("api-id");
        api.app_id_uri = Some("https://contoso.onmicrosoft.com/todo-api".into());
        api.scopes = vec!["tasks.read".into(), "tasks.write".into()];
        let mut other = app("other-id");
        other.app_id_uri = Some("https://contoso.onmicrosoft.com/other".into());
        other.scopes = vec!["x".into()];
        let mut web = app("web-id");
        web.api_permissions = vec![
            "https://contoso.onmicrosoft.com/todo-api/tasks.read".into(),
            "https://contoso.onmicrosoft.com/other/x".into(),
        ];
        vec![api, other, web]
    }

    #[test]
    fn openid_and_offline_access() {
        let apps = apps();
        let g = resolve(&apps, &apps[2], "openid offline_access profile").unwrap();
        assert!(g.openid && g.offline_access && g.resource.is_none());
        assert_eq!(g.response_scope(), "openid offline_access");
    }

    #[test]
    fn own_client_id_is_a_resource() {
        let apps = apps();
        let g = resolve(&apps, &apps[2], "web-id openid").unwrap();
        let r = g.resource.unwrap();
        assert_eq!(r.audience, "web-id");
        assert!(r.scp.is_empty());
        assert_eq!(r.granted, vec!["web-id"]);
    }

    #[test]
    fn api_scope_granted_and_ungranted_dropped() {
        let apps = apps();
        let g = resolve(
            &apps,
            &apps[2],
            "https://contoso.onmicrosoft.com/todo-api/tasks.read https://contoso.onmicrosoft.com/todo-api/tasks.write openid",
        )
        .unwrap();
        let r = g.resource.unwrap();
        assert_eq!(r.audience, "api-id");
        assert_eq!(r.scp, vec!["tasks.read"]);
    }

    #[test]
    fn not_permitted_at_all() {
        let apps = apps();
        let e = resolve(
            &apps,
            &apps[2],
            "https://contoso.onmicrosoft.com/todo-api/tasks.write",
        )
        .unwrap_err();
        assert!(e.description.starts_with("AADB2C90205"));
    }

    #[test]
    fn unknown_scope_and_bare_names() {
        let apps = apps();
        let e = resolve(&apps, &apps[2], "https://contoso.onmicrosoft.com/nope/x").unwrap_err();
        assert!(e.description.starts_with("AADB2C90117"), "{e:?}");
        let e = resolve(&apps, &apps[2], "read").unwrap_err();
        assert!(e.description.starts_with("AADB2C90055"), "{e:?}");
    }

    #[test]
    fn one_resource_only() {
        let apps = apps();
        let e = resolve(
            &apps,
            &apps[2],
            "https://contoso.onmicrosoft.com/todo-api/tasks.read https://contoso.onmicrosoft.com/other/x",
        )
        .unwrap_err();
        assert!(e.description.starts_with("AADB2C90146"));
        let e = resolve(
            &apps,
            &apps[2],
            "web-id https://contoso.onmicrosoft.com/todo-api/tasks.read",
        )
        .unwrap_err();
        assert!(e.description.starts_with("AADB2C90146"));
    }
}
