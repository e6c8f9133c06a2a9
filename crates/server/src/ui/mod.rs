//! What users see around the form: page layouts (content definitions with the customer's
//! HTML, `customize-ui-with-html.md`), company branding (`customize-ui.md`), the pages' words
//! in the user's language, and our static files (stylesheets, the script).

pub mod branding;
pub mod layout;
pub mod strings;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::RwLock;
use trustframe_policy::Policy;

pub use branding::{Branding, BrandingConfig};
pub use layout::{Layout, LayoutError};

/// `[ui]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Templates for every user flow's pages, by B2C page id (`api.signuporsignin`, …): a
    /// file or an `https://` URL. A flow's own `page_layouts` win.
    #[serde(default)]
    pub page_layouts: BTreeMap<String, String>,
    /// Keep the templates' own scripts in user flows (`javascript-and-page-layout.md`); custom
    /// policies say it with `<ScriptExecution>Allow</ScriptExecution>`. Default false: removed.
    #[serde(default)]
    pub javascript: bool,
    /// Template URLs over plain `http://` (development). `[server] development` allows them too.
    #[serde(default)]
    pub allow_insecure: bool,
    #[serde(default)]
    pub branding: BrandingConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    Branding(#[from] branding::BrandingError),
    #[error("policy {policy}, content definition '{id}' ({span}): {message}")]
    Template {
        policy: String,
        id: String,
        span: String,
        message: String,
    },
}

/// The media type of a file a page loads, by its extension (lower case): stylesheets,
/// scripts, images and fonts; anything else is not served.
pub fn media_type(extension: &str) -> Option<&'static str> {
    Some(match extension {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        _ => return None,
    })
}

/// Where a template comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    File(PathBuf),
    Url(url::Url),
}

/// A template as last loaded (or the reason it could not be).
#[derive(Debug)]
struct Slot {
    layout: Option<Arc<Layout>>,
    error: Option<String>,
    tried: Instant,
}

/// A template that failed to load is tried again after this long; until then its pages use
/// the built-in layout.
const RETRY_AFTER: Duration = Duration::from_secs(60);
const MAX_TEMPLATE_BYTES: usize = 1024 * 1024;

/// A tenant's page layouts and branding.
pub struct Ui {
    tenant: String,
    public_url: String,
    /// (policy id, content definition id in lower case) → where its template comes from and
    /// whether its scripts are kept.
    pages: HashMap<(String, String), (Source, bool)>,
    slots: RwLock<HashMap<(Source, bool), Slot>>,
    /// Folders of file templates, served at `/_layouts/{tenant}/{index}/…` for their CSS and
    /// images.
    pub folders: Vec<PathBuf>,
    pub branding: Branding,
    client: reqwest::Client,
}

/// How a page is laid out.
pub enum PageLayout {
    /// Our own page.
    BuiltIn,
    /// The customer's template.
    Template(Arc<Layout>),
}

impl Ui {
    /// Resolves every content definition of `policies` and loads its template: a file that
    /// cannot be read or used stops the start (the operator sees which); a URL that cannot be
    /// fetched is logged and tried again when a page needs it.
    #[allow(clippy::too_many_arguments)]
    pub async fn load(
        config: &UiConfig,
        development: bool,
        tenant: &str,
        public_url: &str,
        config_dir: &Path,
        policy_dir: Option<&Path>,
        policies: &[Arc<Policy>],
        client: reqwest::Client,
    ) -> Result<Self, UiError> {
        let branding = Branding::load(&config.branding, tenant, config_dir)?;
        let mut ui = Ui {
            tenant: tenant.to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            pages: HashMap::new(),
            slots: RwLock::new(HashMap::new()),
            folders: Vec::new(),
            branding,
            client,
        };
        ui.register_folders(policies, config_dir, policy_dir);
        let allow_http = config.allow_insecure || development;
        for policy in policies {
            let scripts = policy.relying_party.behaviors.script_execution;
            for (key, cd) in &policy.content_definitions {
                if cd.built_in() {
                    continue;
                }
                let fail = |message: String| UiError::Template {
                    policy: policy.id.to_string(),
                    id: cd.id.clone(),
                    span: cd.span.to_string(),
                    message,
                };
                let source = source(&cd.load_uri, policy_dir.unwrap_or(config_dir), allow_http)
                    .map_err(fail)?;
                if let Source::File(path) = &source {
                    let slot = ui.fetch(&source, scripts).await;
                    if let Some(e) = slot.error {
                        return Err(fail(format!("{}: {e}", path.display())));
                    }
                    ui.slots.get_mut().insert((source.clone(), scripts), slot);
                }
                ui.pages
                    .insert((policy.id.to_string(), key.clone()), (source, scripts));
            }
        }
        // URLs last, each once: a failure is logged, the server starts all the same.
        let urls: Vec<(Source, bool)> = ui
            .pages
            .values()
            .filter(|(s, _)| matches!(s, Source::Url(_)))
            .cloned()
            .collect();
        for (source, scripts) in urls {
            if ui.slots.get_mut().contains_key(&(source.clone(), scripts)) {
                continue;
            }
            let slot = ui.fetch(&source, scripts).await;
            if let (Some(e), Source::Url(u)) = (&slot.error, &source) {
                tracing::error!(tenant, url = %u, error = %e, "page template could not be loaded; its pages use the built-in layout until it can");
            }
            ui.slots.get_mut().insert((source, scripts), slot);
        }
        Ok(ui)
    }

    /// The layout of a page of `policy` whose content definition is `id`.
    pub async fn layout(&self, policy: &str, id: Option<&str>) -> PageLayout {
        let Some(id) = id else {
            return PageLayout::BuiltIn;
        };
        let Some((source, scripts)) = self
            .pages
            .get(&(policy.to_owned(), id.to_ascii_lowercase()))
        else {
            return PageLayout::BuiltIn;
        };
        let key = (source.clone(), *scripts);
        let retry = {
            let slots = self.slots.read().await;
            match slots.get(&key) {
                Some(Slot {
                    layout: Some(l), ..
                }) => return PageLayout::Template(l.clone()),
                Some(slot) => slot.tried.elapsed() >= RETRY_AFTER,
                None => true,
            }
        };
        if retry {
            let slot = self.fetch(source, *scripts).await;
            if let (Some(e), Source::Url(u)) = (&slot.error, source) {
                tracing::error!(tenant = %self.tenant, url = %u, error = %e, "page template could not be loaded; the page uses the built-in layout");
            }
            let layout = slot.layout.clone();
            self.slots.write().await.insert(key, slot);
            if let Some(l) = layout {
                return PageLayout::Template(l);
            }
        }
        PageLayout::BuiltIn
    }

    async fn fetch(&self, source: &Source, scripts: bool) -> Slot {
        let tried = Instant::now();
        let result = match source {
            Source::File(path) => self.read_file(path).await,
            Source::Url(url) => self.read_url(url).await.map(|html| (html, url.clone())),
        };
        let parsed = result.and_then(|(html, base)| {
            Layout::parse(
                &html,
                &layout::Parse {
                    base: &base,
                    allow_scripts: scripts,
                    head: HEAD,
                },
            )
            .map_err(|e| e.to_string())
        });
        match parsed {
            Ok(layout) => Slot {
                layout: Some(Arc::new(layout)),
                error: None,
                tried,
            },
            Err(error) => Slot {
                layout: None,
                error: Some(error),
                tried,
            },
        }
    }

    async fn read_file(&self, path: &Path) -> Result<(String, url::Url), String> {
        let bytes = tokio::fs::read(path).await.map_err(|e| e.to_string())?;
        if bytes.len() > MAX_TEMPLATE_BYTES {
            return Err("the template is larger than 1 MiB".into());
        }
        let html = String::from_utf8(bytes).map_err(|_| "the template is not UTF-8".to_owned())?;
        // Its CSS and images are served from its folder.
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let index = match self.folders.iter().position(|f| *f == folder) {
            Some(i) => i,
            None => return Err(format!("{}: folder not registered", folder.display())),
        };
        let base = url::Url::parse(&format!(
            "{}/_layouts/{}/{index}/",
            self.public_url, self.tenant
        ))
        .map_err(|e| e.to_string())?;
        Ok((html, base))
    }

    async fn read_url(&self, url: &url::Url) -> Result<String, String> {
        let response = self
            .client
            .get(url.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_TEMPLATE_BYTES as u64)
        {
            return Err(format!("{url}: the template is larger than 1 MiB"));
        }
        let bytes = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if bytes.len() > MAX_TEMPLATE_BYTES {
            return Err(format!("{url}: the template is larger than 1 MiB"));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{url}: the template is not UTF-8"))
    }
}

/// What our pages load first in a customer's template: the few rules our form needs to work
/// (the hidden default button) and the script; the template's own CSS comes after and wins.
const HEAD: &str = concat!(
    "<link rel=\"stylesheet\" href=\"/_static/layout.css\">",
    "<script src=\"/_static/trustframe.js\" defer nonce=\"tf-nonce-7c1d\"></script>"
);

/// A `LoadUri` (or a flow's `page_layouts` value) as a source: an `https://` URL (`http://`
/// when allowed), a `file:` URL, or a path relative to `base`.
fn source(load_uri: &str, base: &Path, allow_http: bool) -> Result<Source, String> {
    let value = load_uri.trim();
    if let Ok(url) = url::Url::parse(value)
        && url.scheme().len() > 1
    {
        return match url.scheme() {
            "https" => Ok(Source::Url(url)),
            "http" if allow_http => Ok(Source::Url(url)),
            "http" => Err(format!(
                "'{value}' is plain http: use https (or [ui] allow_insecure = true in development)"
            )),
            "file" => url
                .to_file_path()
                .map(Source::File)
                .map_err(|()| format!("'{value}' is not a file path")),
            other => Err(format!("'{value}': the scheme '{other}' is not supported")),
        };
    }
    let path = PathBuf::from(value);
    Ok(Source::File(if path.is_relative() {
        base.join(path)
    } else {
        path
    }))
}

impl Ui {
    /// Registers the folders of file templates before they load (their base URL names the
    /// folder's index).
    pub fn register_folders(
        &mut self,
        policies: &[Arc<Policy>],
        config_dir: &Path,
        policy_dir: Option<&Path>,
    ) {
        for policy in policies {
            for cd in policy.content_definitions.values() {
                if cd.built_in() {
                    continue;
                }
                if let Ok(Source::File(path)) =
                    source(&cd.load_uri, policy_dir.unwrap_or(config_dir), true)
                    && let Some(folder) = path.parent()
                    && !self.folders.iter().any(|f| f == folder)
                {
                    self.folders.push(folder.to_path_buf());
                }
            }
        }
    }
}
