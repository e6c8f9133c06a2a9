//! A customer's page template (`customize-ui-with-html.md`): B2C puts its form into the
//! template's `<div id="api"></div>`; so do we. A template is parsed once, when it is loaded:
//! sanitized (no script unless the policy allows JavaScript, no event handler attribute, no
//! `javascript:` URL, no frame or `<base>`), relative URLs made absolute against where it came
//! from, our two files (the functional CSS and the script) added first in `<head>`, and the
//! result split at `#api` so a page is three string copies.

use std::cell::{Cell, RefCell};

use lol_html::html_content::ContentType;
use lol_html::{RewriteStrSettings, element, rewrite_str};

/// Where the page's language goes (`<html lang>`), replaced per page.
const LANG_MARK: &str = "tf-lang-7c1d";
/// Where each kept script's nonce goes, replaced per page.
const NONCE_MARK: &str = "tf-nonce-7c1d";
const API_MARK: &str = "<!--tf-api-7c1d-->";

/// Elements that never stay: they run code, frame other pages or re-base every URL.
const REMOVED: &str = "iframe, frame, frameset, object, embed, applet, base, meta[http-equiv]";
/// Attributes holding URLs: made absolute, and dropped when they are `javascript:`.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "poster",
    "background",
];
const SAFE_SCHEMES: &[&str] = &["https", "http", "mailto", "tel"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error("the template has no <div id=\"api\"> for the page's form")]
    NoApiElement,
    #[error("the template has more than one element with id=\"api\"")]
    SeveralApiElements,
    #[error("the template cannot be parsed as HTML: {0}")]
    Html(String),
}

/// A template ready to take a page.
#[derive(Debug)]
pub struct Layout {
    before: String,
    after: String,
    /// The template's own scripts were kept (and need the page's nonce).
    pub scripts: bool,
    /// Origins (`https://cdn.contoso.com`) of the template's absolute URLs: the page's CSP
    /// lets styles, images and fonts come from them.
    pub origins: Vec<String>,
}

/// How a template is read: where its relative URLs point, and whether its scripts run.
pub struct Parse<'a> {
    /// Relative URLs are joined to this (the template's own URL, or where its folder is
    /// served).
    pub base: &'a url::Url,
    pub allow_scripts: bool,
    /// Our stylesheet and script, put first in `<head>`.
    pub head: &'a str,
}

impl Layout {
    pub fn parse(html: &str, how: &Parse<'_>) -> Result<Self, LayoutError> {
        let api_count = Cell::new(0u32);
        let head_done = Cell::new(false);
        let origins = RefCell::new(Vec::<String>::new());
        let note_origin = |u: &url::Url| {
            if matches!(u.scheme(), "http" | "https") {
                let origin = u.origin().ascii_serialization();
                let mut list = origins.borrow_mut();
                if !list.contains(&origin) {
                    list.push(origin);
                }
            }
        };
        let settings = RewriteStrSettings::new()
            .append_element_content_handler(element!(REMOVED, |el| {
                el.remove();
                Ok(())
            }))
            .append_element_content_handler(element!("script", |el| {
                if how.allow_scripts {
                    el.set_attribute("nonce", NONCE_MARK)?;
                } else {
                    el.remove();
                }
                Ok(())
            }))
            .append_element_content_handler(element!("*", |el| {
                if el.removed() {
                    return Ok(());
                }
                let names: Vec<String> = el.attributes().iter().map(|a| a.name()).collect();
                for name in names {
                    // Event handlers would need 'unsafe-inline'; the CSP refuses them anyway.
                    if name.starts_with("on") || name == "srcdoc" {
                        el.remove_attribute(&name);
                        continue;
                    }
                    if !URL_ATTRIBUTES.contains(&name.as_str()) {
                        continue;
                    }
                    let Some(value) = el.get_attribute(&name) else {
                        continue;
                    };
                    if value.trim_start().starts_with('#') {
                        continue;
                    }
                    // Joined as a browser would (tabs and newlines dropped, case folded), then
                    // only web and mail schemes stay: `javascript:` in any spelling goes.
                    match how.base.join(value.trim()) {
                        Ok(absolute) if SAFE_SCHEMES.contains(&absolute.scheme()) => {
                            note_origin(&absolute);
                            el.set_attribute(&name, absolute.as_str())?;
                        }
                        Ok(absolute) if absolute.scheme() == "data" && name == "src" => {}
                        _ => el.remove_attribute(&name),
                    }
                }
                Ok(())
            }))
            .append_element_content_handler(element!("html", |el| {
                el.set_attribute("lang", LANG_MARK)?;
                Ok(())
            }))
            .append_element_content_handler(element!("head", |el| {
                el.prepend(how.head, ContentType::Html);
                head_done.set(true);
                Ok(())
            }))
            .append_element_content_handler(element!("#api", |el| {
                api_count.set(api_count.get() + 1);
                el.set_inner_content(API_MARK, ContentType::Html);
                Ok(())
            }));
        let rewritten =
            rewrite_str(html, settings).map_err(|e| LayoutError::Html(e.to_string()))?;
        match api_count.get() {
            0 => return Err(LayoutError::NoApiElement),
            1 => {}
            _ => return Err(LayoutError::SeveralApiElements),
        }
        let Some((before, after)) = rewritten.split_once(API_MARK) else {
            return Err(LayoutError::NoApiElement);
        };
        let mut before = before.to_owned();
        if !head_done.get() {
            // A template without <head>: our files go first all the same.
            before.insert_str(0, how.head);
        }
        let origins = origins.into_inner();
        Ok(Self {
            before,
            after: after.to_owned(),
            scripts: how.allow_scripts,
            origins,
        })
    }

    /// The page: the template with `form` (our page's `#api` content) inside `#api`.
    pub fn render(&self, form: &str, lang: &str, nonce: &str) -> String {
        let mut out = String::with_capacity(self.before.len() + form.len() + self.after.len());
        out.push_str(
            &self
                .before
                .replace(LANG_MARK, lang)
                .replace(NONCE_MARK, nonce),
        );
        out.push_str(form);
        out.push_str(&self.after.replace(NONCE_MARK, nonce));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(html: &str, scripts: bool) -> Result<Layout, LayoutError> {
        let base = url::Url::parse("https://cdn.contoso.test/b2c/unified.html").unwrap();
        Layout::parse(
            html,
            &Parse {
                base: &base,
                allow_scripts: scripts,
                head: "<link rel=\"stylesheet\" href=\"/_static/layout.css\">",
            },
        )
    }

    const TEMPLATE: &str = r##"<!DOCTYPE html>
<html><head><title>Contoso</title><link rel="stylesheet" href="css/site.css">
<script>alert(1)</script><script src="https://evil.test/x.js"></script>
<base href="https://evil.test/"><meta http-equiv="refresh" content="0;url=https://evil.test">
</head><body onload="alert(2)"><img src="img/logo.png" onerror="alert(3)">
<a href="javascript:alert(4)">x</a><a href=" JaVa	Script:alert(5)">y</a><a href="#top">top</a>
<iframe src="https://evil.test"></iframe>
<div class="container"><div id="api">Loading…</div></div><footer><a href="/privacy">Privacy</a></footer>
</body></html>"##;

    #[test]
    fn the_form_goes_into_api_and_nothing_runs() {
        let layout = parse(TEMPLATE, false).unwrap();
        let page = layout.render("<form id=\"localAccountForm\"></form>", "fr", "n0nce");
        assert!(page.contains(r#"<div id="api"><form id="localAccountForm"></form></div>"#));
        assert!(!page.contains("Loading"));
        assert!(page.contains(r#"<html lang="fr">"#));
        for bad in [
            "alert(",
            "evil.test",
            "<iframe",
            "<base",
            "onload",
            "onerror",
            "script:",
        ] {
            assert!(!page.contains(bad), "{bad} is still in: {page}");
        }
        // Relative URLs point where the template came from; ours go first in <head>.
        assert!(page.contains(r#"href="https://cdn.contoso.test/b2c/css/site.css""#));
        assert!(page.contains(r#"src="https://cdn.contoso.test/b2c/img/logo.png""#));
        assert!(page.contains(r#"href="https://cdn.contoso.test/privacy""#));
        assert!(page.contains(r##"<a href="#top">"##));
        assert!(page.find("/_static/layout.css") < page.find("site.css"));
        assert_eq!(layout.origins, vec!["https://cdn.contoso.test".to_owned()]);
    }

    #[test]
    fn allowed_scripts_stay_with_the_pages_nonce() {
        let layout = parse(TEMPLATE, true).unwrap();
        let page = layout.render("", "en", "n0nce");
        assert!(page.contains(r#"<script nonce="n0nce">alert(1)</script>"#));
        assert!(page.contains(r#"<script src="https://evil.test/x.js" nonce="n0nce">"#));
        // Event handlers never run: the CSP has no 'unsafe-inline'.
        assert!(!page.contains("onload"));
    }

    #[test]
    fn a_template_needs_exactly_one_api_element() {
        assert_eq!(
            parse("<html><body><div id=\"main\"></div></body></html>", false).unwrap_err(),
            LayoutError::NoApiElement
        );
        assert_eq!(
            parse("<div id=\"api\"></div><div id=\"api\"></div>", false).unwrap_err(),
            LayoutError::SeveralApiElements
        );
        // No <head>: our files still come first.
        let layout = parse("<div id=\"api\"></div>", false).unwrap();
        assert!(layout.render("", "en", "n").starts_with("<link"));
    }
}
