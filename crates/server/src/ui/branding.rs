//! Company branding without HTML (`customize-ui.md`): a banner logo, a background image and
//! colour, the primary colour and a sign-in page text, for the tenant and per language. Images
//! are URLs or files; files are served by Trustframe under a name made of their content, so
//! browsers may keep them for ever.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `[ui.branding]`, and `[ui.branding.languages.<lang>]` for what differs in a language.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingConfig {
    #[serde(flatten)]
    pub base: BrandingLook,
    #[serde(default)]
    pub languages: BTreeMap<String, BrandingLook>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingLook {
    /// The banner logo above the form: an `https://` URL or a file.
    pub logo: Option<String>,
    /// The page background: an `https://` URL or a file.
    pub background_image: Option<String>,
    /// `#rgb` or `#rrggbb`.
    pub background_color: Option<String>,
    /// Buttons and links: `#rgb` or `#rrggbb`.
    pub primary_color: Option<String>,
    /// A paragraph under the sign-in page's heading (plain text).
    pub sign_in_text: Option<String>,
}

impl BrandingLook {
    fn over(&self, base: &BrandingLook) -> BrandingLook {
        BrandingLook {
            logo: self.logo.clone().or_else(|| base.logo.clone()),
            background_image: self
                .background_image
                .clone()
                .or_else(|| base.background_image.clone()),
            background_color: self
                .background_color
                .clone()
                .or_else(|| base.background_color.clone()),
            primary_color: self
                .primary_color
                .clone()
                .or_else(|| base.primary_color.clone()),
            sign_in_text: self
                .sign_in_text
                .clone()
                .or_else(|| base.sign_in_text.clone()),
        }
    }

    fn is_empty(&self) -> bool {
        self.logo.is_none()
            && self.background_image.is_none()
            && self.background_color.is_none()
            && self.primary_color.is_none()
            && self.sign_in_text.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct BrandingError {
    pub key: String,
    pub message: String,
}

fn problem(key: impl Into<String>, message: impl Into<String>) -> BrandingError {
    BrandingError {
        key: key.into(),
        message: message.into(),
    }
}

/// What a page shows of the branding, in its language.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Look {
    /// The stylesheet with the colours and background, when any is set.
    pub css_url: Option<String>,
    pub logo_url: Option<String>,
    pub sign_in_text: Option<String>,
}

/// A file the branding serves: its bytes and content type.
#[derive(Debug)]
pub struct Asset {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The tenant's branding, resolved at start.
#[derive(Debug, Default)]
pub struct Branding {
    /// By language ("" for the tenant's default).
    looks: BTreeMap<String, Look>,
    /// Served at `/_branding/{tenant}/{name}`: images and stylesheets.
    pub assets: HashMap<String, Asset>,
    /// Origins of image URLs, for the pages' CSP.
    pub origins: Vec<String>,
}

const MAX_IMAGE_BYTES: u64 = 2 * 1024 * 1024;

impl Branding {
    pub fn load(
        config: &BrandingConfig,
        tenant: &str,
        base_dir: &Path,
    ) -> Result<Self, BrandingError> {
        let mut branding = Branding::default();
        let variants = std::iter::once((String::new(), config.base.clone())).chain(
            config
                .languages
                .iter()
                .map(|(lang, look)| (lang.to_ascii_lowercase(), look.over(&config.base))),
        );
        for (lang, look) in variants {
            if look.is_empty() {
                continue;
            }
            let key = if lang.is_empty() {
                "ui.branding".to_owned()
            } else {
                format!("ui.branding.languages.{lang}")
            };
            let resolved = branding.resolve(&look, tenant, base_dir, &key)?;
            branding.looks.insert(lang, resolved);
        }
        Ok(branding)
    }

    fn resolve(
        &mut self,
        look: &BrandingLook,
        tenant: &str,
        base_dir: &Path,
        key: &str,
    ) -> Result<Look, BrandingError> {
        let logo_url = match &look.logo {
            Some(l) => Some(self.image(l, tenant, base_dir, &format!("{key}.logo"))?),
            None => None,
        };
        let background = match &look.background_image {
            Some(b) => Some(self.image(b, tenant, base_dir, &format!("{key}.background_image"))?),
            None => None,
        };
        let mut css = String::new();
        if let Some(c) = &look.background_color {
            let c = colour(c, &format!("{key}.background_color"))?;
            css.push_str(&format!("body {{ background-color: {c}; }}\n"));
        }
        if let Some(url) = &background {
            // The URL is ours or a parsed https URL: no quote can end the string.
            css.push_str(&format!(
                "body {{ background-image: url(\"{url}\"); background-size: cover; background-position: center; background-attachment: fixed; }}\n"
            ));
        }
        if let Some(c) = &look.primary_color {
            let c = colour(c, &format!("{key}.primary_color"))?;
            css.push_str(&format!(":root {{ --accent: {c}; }}\n"));
        }
        let css_url = if css.is_empty() {
            None
        } else {
            Some(self.add(tenant, "css", "text/css; charset=utf-8", css.into_bytes()))
        };
        Ok(Look {
            css_url,
            logo_url,
            sign_in_text: look.sign_in_text.clone(),
        })
    }

    /// An image: an https URL as it is, or a file served by us.
    fn image(
        &mut self,
        value: &str,
        tenant: &str,
        base_dir: &Path,
        key: &str,
    ) -> Result<String, BrandingError> {
        if let Ok(url) = url::Url::parse(value)
            && url.scheme().len() > 1
        {
            if url.scheme() != "https" {
                return Err(problem(
                    key,
                    "an image URL must be https:// (or name a file)",
                ));
            }
            let origin = url.origin().ascii_serialization();
            if !self.origins.contains(&origin) {
                self.origins.push(origin);
            }
            return Ok(url.to_string());
        }
        let path = PathBuf::from(value);
        let path = if path.is_relative() {
            base_dir.join(path)
        } else {
            path
        };
        let content_type = image_type(&path).ok_or_else(|| {
            problem(
                key,
                format!(
                    "{}: an image must be .png, .jpg, .jpeg, .gif, .svg, .webp or .ico",
                    path.display()
                ),
            )
        })?;
        let size = std::fs::metadata(&path)
            .map_err(|e| problem(key, format!("{}: {e}", path.display())))?
            .len();
        if size > MAX_IMAGE_BYTES {
            return Err(problem(
                key,
                format!("{}: larger than 2 MiB", path.display()),
            ));
        }
        let bytes =
            std::fs::read(&path).map_err(|e| problem(key, format!("{}: {e}", path.display())))?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("bin")
            .to_ascii_lowercase();
        Ok(self.add(tenant, &extension, content_type, bytes))
    }

    /// Serves `bytes` under a name made of their hash.
    fn add(
        &mut self,
        tenant: &str,
        extension: &str,
        content_type: &'static str,
        bytes: Vec<u8>,
    ) -> String {
        let digest = Sha256::digest(&bytes);
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{name}.{extension}");
        let url = format!("/_branding/{tenant}/{name}");
        self.assets.insert(
            name,
            Asset {
                content_type,
                bytes,
            },
        );
        url
    }

    /// The look of a page in `lang` (`fr`, `fr-CA` → `fr`), else the tenant's.
    pub fn look(&self, lang: &str) -> Option<&Look> {
        let lang = lang.to_ascii_lowercase();
        let primary = lang.split('-').next().unwrap_or_default();
        self.looks
            .get(&lang)
            .or_else(|| self.looks.get(primary))
            .or_else(|| self.looks.get(""))
    }
}

fn colour(value: &str, key: &str) -> Result<String, BrandingError> {
    let v = value.trim();
    let hex = v.strip_prefix('#').unwrap_or("");
    if (hex.len() == 3 || hex.len() == 6) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(problem(
            key,
            format!("'{value}' is not a colour: use #rgb or #rrggbb"),
        ))
    }
}

/// An image's media type by its file's extension.
fn image_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    super::media_type(&ext).filter(|t| t.starts_with("image/"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn languages_inherit_the_tenant_look_and_colours_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("logo.svg"),
            "<svg xmlns='http://www.w3.org/2000/svg'/>",
        )
        .unwrap();
        let config: BrandingConfig = toml::from_str(
            r##"
            logo = "logo.svg"
            primary_color = "#C0392B"
            sign_in_text = "Welcome"
            [languages.fr]
            sign_in_text = "Bienvenue"
            "##,
        )
        .unwrap();
        let b = Branding::load(&config, "contoso", dir.path()).unwrap();
        let fr = b.look("fr-CA").unwrap();
        assert_eq!(fr.sign_in_text.as_deref(), Some("Bienvenue"));
        let en = b.look("en").unwrap();
        assert_eq!(en.sign_in_text.as_deref(), Some("Welcome"));
        assert_eq!(fr.logo_url, en.logo_url);
        let logo = en.logo_url.as_deref().unwrap();
        let name = logo.rsplit('/').next().unwrap();
        assert_eq!(b.assets[name].content_type, "image/svg+xml");
        let css = en.css_url.as_deref().unwrap().rsplit('/').next().unwrap();
        assert!(String::from_utf8_lossy(&b.assets[css].bytes).contains("--accent: #c0392b"));

        let bad: BrandingConfig = toml::from_str(r#"primary_color = "red; } body { x""#).unwrap();
        let e = Branding::load(&bad, "contoso", dir.path()).unwrap_err();
        assert_eq!(e.key, "ui.branding.primary_color");
        let http: BrandingConfig = toml::from_str(r#"logo = "http://cdn.test/l.png""#).unwrap();
        assert!(Branding::load(&http, "contoso", dir.path()).is_err());
    }
}
