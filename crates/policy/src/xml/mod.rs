//! The custom-policy front end: a set of B2C TrustFramework XML files (`custom-policy-overview.md`,
//! `trustframeworkpolicy.md`) compiled into the same [`Policy`]
//! model the user-flow compiler produces, one per relying-party file.
//!
//! [`load`] parses every file ([`tree`]), resolves the `BasePolicy` chains, merges each
//! relying-party file over its bases ([`merge`]), compiles the result ([`compile`]) and runs
//! the [link pass](crate::link::check) on it. Pure: callers read the folder and pass bytes.
//!
//! [`Policy`]: crate::Policy

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::{self, Diagnostic};
use crate::ids::PolicyId;
use crate::model::{Policy, Span};

mod compile;
pub mod merge;
pub mod tree;

use tree::Element;

/// One policy file as read from disk.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    /// Shown in diagnostics, e.g. `policies/TrustFrameworkBase.xml`.
    pub name: String,
    pub bytes: Vec<u8>,
}

pub struct LoadOptions<'a> {
    /// `contoso.onmicrosoft.com`: every `TenantId` (and `BasePolicy/TenantId`) must equal it,
    /// without regard to case.
    pub tenant_domain: &'a str,
    /// `{Settings:Name}` values, substituted in attribute values and text.
    pub settings: &'a BTreeMap<String, String>,
    pub limits: Limits,
}

/// Bounds on what [`load`] reads, checked before parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_file_bytes: usize,
    pub max_total_bytes: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 8 << 20,
            max_total_bytes: 32 << 20,
            max_depth: 64,
        }
    }
}

/// A loaded policy set.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// One per relying-party file, ordered by policy id.
    pub policies: Vec<Policy>,
    pub warnings: Vec<Diagnostic>,
}

/// A parsed file and what its root says about its place in the chain.
struct Parsed {
    name: String,
    root: Element,
    id: PolicyId,
    base: Option<(PolicyId, Span)>,
}

/// Loads a policy set. `Err` holds every error found, sorted by file and line.
pub fn load(files: &[PolicyFile], options: &LoadOptions<'_>) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    // Sizes are checked before anything is parsed.
    for f in files {
        if f.bytes.len() > options.limits.max_file_bytes {
            diags.push(Diagnostic::error(
                &Span::new(f.name.as_str(), 1, 1),
                format!(
                    "the file is {} bytes; policy files may be at most {} bytes",
                    f.bytes.len(),
                    options.limits.max_file_bytes
                ),
            ));
        }
    }
    let total = files
        .iter()
        .fold(0usize, |n, f| n.saturating_add(f.bytes.len()));
    if total > options.limits.max_total_bytes {
        let span = Span::new(files.first().map_or("", |f| f.name.as_str()), 1, 1);
        diags.push(Diagnostic::error(
            &span,
            format!(
                "the policy files add up to {total} bytes; the limit is {} bytes",
                options.limits.max_total_bytes
            ),
        ));
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut parsed: Vec<Parsed> = Vec::new();
    for f in files {
        let ctx = tree::ParseContext {
            file: &f.name,
            settings: options.settings,
            limits: options.limits,
        };
        match tree::parse(&ctx, &f.bytes) {
            Ok(root) => {
                if let Some(p) = header(&f.name, root, options, &mut diags) {
                    parsed.push(p);
                }
            }
            Err(e) => diags.extend(e),
        }
    }

    // Policy ids are unique in a tenant.
    let mut by_id: HashMap<PolicyId, usize> = HashMap::new();
    let mut unique: Vec<bool> = vec![true; parsed.len()];
    for (i, p) in parsed.iter().enumerate() {
        if let Some(&first) = by_id.get(&p.id) {
            diags.push(Diagnostic::error(
                &p.root.span,
                format!(
                    "duplicate PolicyId '{}': {} defines it too",
                    p.id, parsed[first].name
                ),
            ));
            unique[i] = false;
        } else {
            by_id.insert(p.id.clone(), i);
        }
    }

    // Each file's base, and whether its chain reaches a root without a cycle.
    let mut base_of: Vec<Option<usize>> = vec![None; parsed.len()];
    let mut broken: Vec<bool> = vec![false; parsed.len()];
    for (i, p) in parsed.iter().enumerate() {
        if let Some((base, span)) = &p.base {
            match by_id.get(base) {
                Some(&b) => base_of[i] = Some(b),
                None => {
                    let hint = diagnostic::did_you_mean(
                        base.as_str(),
                        parsed.iter().map(|p| p.id.as_str()),
                    );
                    diags.push(Diagnostic::error(
                        span,
                        format!("base policy '{base}' is not in the policy set{hint}"),
                    ));
                    broken[i] = true;
                }
            }
        }
    }
    let missing = broken.clone();
    for start in 0..parsed.len() {
        let mut path = vec![start];
        let mut at = start;
        while let Some(b) = base_of[at] {
            if let Some(pos) = path.iter().position(|&x| x == b) {
                if pos == 0 {
                    // Reported once per member of the cycle, at its own BasePolicy.
                    let names: Vec<&str> = path
                        .iter()
                        .chain(std::iter::once(&b))
                        .map(|&i| parsed[i].id.as_str())
                        .collect();
                    if let Some((_, span)) = &parsed[start].base {
                        diags.push(Diagnostic::error(
                            span,
                            format!("circular BasePolicy chain: {}", names.join(" → ")),
                        ));
                    }
                }
                broken[start] = true;
                break;
            }
            path.push(b);
            at = b;
        }
        if path.iter().any(|&i| missing[i]) {
            broken[start] = true;
        }
    }

    let normalized: Vec<Element> = parsed
        .iter()
        .map(|p| merge::normalize(&p.root, &mut diags))
        .collect();

    // Merge each relying-party file over its chain; shared bases are merged once.
    let mut merged: HashMap<usize, Element> = HashMap::new();
    let mut policies = Vec::new();
    for (i, p) in parsed.iter().enumerate() {
        if broken[i] || !unique[i] || p.root.child("RelyingParty").is_none() {
            continue;
        }
        // From this file up to the nearest ancestor merged already (or the root).
        let mut chain = Vec::new();
        let mut start = None;
        let mut at = Some(i);
        while let Some(x) = at {
            if let Some(m) = merged.get(&x) {
                start = Some(m.clone());
                break;
            }
            chain.push(x);
            at = base_of[x];
        }
        let mut current = match (start, chain.pop()) {
            (Some(m), top) => {
                chain.extend(top);
                m
            }
            (None, Some(top)) => {
                let e = normalized[top].clone();
                merged.insert(top, e.clone());
                e
            }
            (None, None) => continue,
        };
        while let Some(next) = chain.pop() {
            merge::merge(&mut current, &normalized[next]);
            merged.insert(next, current.clone());
        }
        if let Some(policy) = compile::compile(&current, &p.id, &p.root.span, &mut diags) {
            diags.extend(crate::link::check(&policy));
            policies.push(policy);
        }
    }
    policies.sort_by(|a, b| a.id.cmp(&b.id));
    diagnostic::sort(&mut diags);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        Ok(Loaded { policies, warnings })
    } else {
        Err(errors)
    }
}

/// Checks the root element (`trustframeworkpolicy.md`): its name and namespace, `PolicyId`,
/// `TenantId` and `BasePolicy`.
fn header(
    name: &str,
    root: Element,
    options: &LoadOptions<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Parsed> {
    if root.name != "TrustFrameworkPolicy" {
        diags.push(Diagnostic::error(
            &root.span,
            format!(
                "the root element is <{}>, not <TrustFrameworkPolicy>",
                root.name
            ),
        ));
        return None;
    }
    if root.attr("xmlns") != Some(tree::NAMESPACE) {
        diags.push(Diagnostic::error(
            &root.span,
            format!(
                "<TrustFrameworkPolicy> must be in the namespace {}",
                tree::NAMESPACE
            ),
        ));
    }
    let tenant_ok = |t: &str| t.trim().eq_ignore_ascii_case(options.tenant_domain);
    match root.attr("TenantId") {
        Some(t) if tenant_ok(t) => {}
        other => diags.push(Diagnostic::error(
            &root.span,
            format!(
                "TenantId is '{}', not the configured tenant '{}'",
                other.unwrap_or_default(),
                options.tenant_domain
            ),
        )),
    }
    let Some(id) = root
        .attr("PolicyId")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        diags.push(Diagnostic::error(
            &root.span,
            "<TrustFrameworkPolicy> has no PolicyId",
        ));
        return None;
    };
    let id = PolicyId::new(id);
    let mut base = None;
    if let Some(b) = root.child("BasePolicy") {
        match b.child("TenantId") {
            Some(t) if t.value().is_some_and(tenant_ok) => {}
            Some(t) => diags.push(Diagnostic::error(
                &t.span,
                format!(
                    "BasePolicy TenantId is '{}', not the configured tenant '{}'",
                    t.text.trim(),
                    options.tenant_domain
                ),
            )),
            None => diags.push(Diagnostic::error(&b.span, "<BasePolicy> has no <TenantId>")),
        }
        match b.child("PolicyId") {
            Some(p) if p.value().is_some() => {
                base = Some((PolicyId::new(p.text.trim()), p.span.clone()));
            }
            _ => diags.push(Diagnostic::error(&b.span, "<BasePolicy> has no <PolicyId>")),
        }
    }
    Some(Parsed {
        name: name.to_owned(),
        root,
        id,
        base,
    })
}

#[cfg(test)]
mod tests;
