//! What an anonymous `/authorize` may make us store: the parameters the protocol and the
//! claim resolvers read, each at most [`MAX_VALUE_BYTES`], together at most [`MAX_TOTAL_BYTES`].
//! Anything else is dropped before the journey is stored, so a request's size does not decide
//! the database's.

/// Longest value of one parameter (a `state` or a `login_hint` is far shorter).
pub const MAX_VALUE_BYTES: usize = 2048;
/// Longest the kept parameters may be together, names and values.
pub const MAX_TOTAL_BYTES: usize = 8192;

/// The parameters of an authorize request that something reads: the request's own (RFC 6749,
/// OpenID Connect Core §3.1.2.1, B2C's `p`, MSAL's `client_info`) and what `{OIDC:…}` claim
/// resolvers show (`claim-resolver-overview.md`).
const KNOWN: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "domain_hint",
    "ui_locales",
    "client_info",
    "acr_values",
    "resource",
    "p",
];

/// Keeps the parameters that are read: [`KNOWN`] ones, and `oauth_kv` (the names custom
/// policies read with `{OAUTH-KV:name}`, lower-cased). The second value names a parameter that
/// is too long (or the last one kept when all together are): the request is refused.
pub fn authorize_params(
    params: Vec<(String, String)>,
    oauth_kv: &[String],
) -> (Vec<(String, String)>, Option<String>) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    let mut too_long = None;
    for (name, value) in params {
        let read = KNOWN.iter().any(|k| name.eq_ignore_ascii_case(k))
            || oauth_kv.iter().any(|k| name.eq_ignore_ascii_case(k));
        if !read {
            continue;
        }
        total = total.saturating_add(name.len() + value.len());
        if value.len() > MAX_VALUE_BYTES || total > MAX_TOTAL_BYTES {
            too_long.get_or_insert(name);
            continue;
        }
        kept.push((name, value));
    }
    (kept, too_long)
}

/// The names `{OAUTH-KV:name}` reads anywhere in `text` (a policy file), lower-cased.
pub fn oauth_kv_names(text: &str, into: &mut Vec<String>) {
    const OPEN: &str = "{oauth-kv:";
    let lower = text.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find(OPEN) {
        rest = &rest[at + OPEN.len()..];
        if let Some(end) = rest.find('}') {
            let name = rest[..end].trim();
            if !name.is_empty() && name.len() <= 64 && !into.iter().any(|n| n == name) {
                into.push(name.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn unknown_parameters_are_dropped_and_long_ones_named() {
        let (kept, too_long) = authorize_params(
            pairs(&[("client_id", "a"), ("junk", "x"), ("campaignId", "c7")]),
            &["campaignid".to_owned()],
        );
        assert_eq!(kept, pairs(&[("client_id", "a"), ("campaignId", "c7")]));
        assert_eq!(too_long, None);
        let long = "s".repeat(MAX_VALUE_BYTES + 1);
        let (_, too_long) = authorize_params(pairs(&[("state", &long), ("nonce", "n")]), &[]);
        assert_eq!(too_long.as_deref(), Some("state"));
        let half = "s".repeat(MAX_VALUE_BYTES);
        let many: Vec<_> = (0..5).map(|_| ("login_hint", half.as_str())).collect();
        let (kept, too_long) = authorize_params(pairs(&many), &[]);
        assert_eq!((kept.len(), too_long.as_deref()), (3, Some("login_hint")));
    }

    #[test]
    fn oauth_kv_names_are_found_in_any_case() {
        let mut names = Vec::new();
        oauth_kv_names(
            "<InputClaim DefaultValue=\"{OAUTH-KV:campaignId}\"/> {oauth-kv:CampaignId} {OAUTH-KV:app}",
            &mut names,
        );
        assert_eq!(names, vec!["campaignid".to_owned(), "app".to_owned()]);
    }
}
