//! Reading and writing the few cookies Trustframe sets: the SSO session of a tenant and the
//! binding of a journey to the browser that started it.

use axum::http::HeaderMap;

/// The value of cookie `name` in the request.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `Set-Cookie` for an HTTP-only cookie; `max_age` in seconds, `0` deletes it.
pub fn set(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            "a=1; tf_sso_contoso=abc; b=2"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(get(&headers, "tf_sso_contoso").as_deref(), Some("abc"));
        assert_eq!(get(&headers, "tf_sso"), None);
        assert!(set("x", "y", "/", 0, true).ends_with("SameSite=Lax; Secure"));
    }
}
