//! Policy inheritance (`custom-policy-overview.md`, "Inheritance model"): a child policy
//! overrides its base element by element. Elements that B2C identifies (`Id`, `Key`, `Order`,
//! `ClaimTypeReferenceId`, `ReferenceId`, …) are matched on that key; a child's attributes and
//! text replace the base's; anything new is added; nothing is removed.
//!
//! Technical profiles are merged by `Id` whichever `ClaimsProvider` holds them, so each file is
//! first [`normalize`]d: its profiles gathered in one list.

use std::collections::HashMap;
use std::rc::Rc;

use crate::diagnostic::Diagnostic;

use super::tree::Element;

/// The sections of a policy file, with every technical profile in one `TechnicalProfiles` list.
pub fn normalize(root: &Element, errors: &mut Vec<Diagnostic>) -> Element {
    let mut out = Element::new("TrustFrameworkPolicy", root.span.clone());
    let mut profiles = Element::new("TechnicalProfiles", root.span.clone());
    for section in &root.children {
        match section.name.as_str() {
            "ClaimsProviders" => {
                for provider in section.children_named("ClaimsProvider") {
                    let domain = provider.child_text("Domain");
                    for tp in provider.list("TechnicalProfiles", "TechnicalProfile") {
                        let mut tp = tp.clone();
                        if let Some(d) = domain {
                            tp.set_attr(CLAIMS_PROVIDER_DOMAIN, d);
                        }
                        profiles.children.push(Rc::new(tp));
                    }
                }
            }
            "BasePolicy" => {}
            _ => out.children.push(Rc::clone(section)),
        }
    }
    out.children.push(Rc::new(profiles));
    check_duplicates(&out, errors);
    out
}

/// The `Domain` of the `ClaimsProvider` a profile came from (`domain_hint`), kept on the profile.
pub const CLAIMS_PROVIDER_DOMAIN: &str = "trustframe:ClaimsProviderDomain";

/// Two elements of one file with the same key are an error: the second would silently merge
/// into the first.
fn check_duplicates(element: &Element, errors: &mut Vec<Diagnostic>) {
    if element.children.len() < 2 {
        for child in &element.children {
            check_duplicates(child, errors);
        }
        return;
    }
    let mut seen: HashMap<(&str, String), &Element> = HashMap::new();
    for child in element.children.iter().map(|c| &**c) {
        if let Some((attr, key)) = key_attribute(&element.name, child) {
            if let Some(first) = seen.get(&(child.name.as_str(), key.clone())) {
                errors.push(Diagnostic::error(
                    &child.span,
                    format!(
                        "duplicate <{} {attr}=\"{}\">: already defined at {}",
                        child.name,
                        child.attr(attr).unwrap_or_default(),
                        first.span
                    ),
                ));
            } else {
                seen.insert((child.name.as_str(), key), child);
            }
        }
        check_duplicates(child, errors);
    }
}

/// The attribute B2C identifies an element by, under `parent`, and its folded value.
fn key_attribute(parent: &str, child: &Element) -> Option<(&'static str, String)> {
    let attr: &[&'static str] = match child.name.as_str() {
        "ClaimType"
        | "Predicate"
        | "PredicateValidation"
        | "PredicateGroup"
        | "PredicateReference"
        | "ClaimsTransformation"
        | "ContentDefinition"
        | "LocalizedResources"
        | "ClientDefinition"
        | "DisplayControl"
        | "TechnicalProfile"
        | "UserJourney"
        | "SubJourney"
        | "ClaimsExchange"
        | "Key"
        | "InputParameter"
        | "Action"
        | "Endpoint"
        | "Parameter" => &["Id"],
        "Item" => &["Key", "Value"],
        "InputClaim" | "OutputClaim" => &["TransformationClaimType", "ClaimTypeReferenceId"],
        "PersistedClaim" => &["ClaimTypeReferenceId"],
        "DisplayClaim" => &["ClaimTypeReferenceId", "DisplayControlReferenceId"],
        "ValidationTechnicalProfile"
        | "InputClaimsTransformation"
        | "OutputClaimsTransformation" => &["ReferenceId"],
        "OrchestrationStep" => &["Order"],
        "ClaimsProviderSelection" => &["TargetClaimsExchangeId", "ValidationClaimsExchangeId"],
        "Protocol" if parent == "DefaultPartnerClaimTypes" => &["Name"],
        "LocalizedResourcesReference" => &["Language"],
        "ValidationClaimsExchangeTechnicalProfile" => &["TechnicalProfileReferenceId"],
        "Candidate" => &["SubJourneyReferenceId"],
        "LocalizedString" => {
            let key = format!(
                "{}\u{0}{}\u{0}{}",
                child.attr("ElementType").unwrap_or_default(),
                child.attr("ElementId").unwrap_or_default(),
                child.attr("StringId").unwrap_or_default()
            );
            return Some(("StringId", key.to_lowercase()));
        }
        "LocalizedCollection" => {
            let key = format!(
                "{}\u{0}{}\u{0}{}",
                child.attr("ElementType").unwrap_or_default(),
                child.attr("ElementId").unwrap_or_default(),
                child.attr("TargetCollection").unwrap_or_default()
            );
            return Some(("ElementId", key.to_lowercase()));
        }
        "SupportedLanguage" => {
            return child
                .value()
                .map(|v| ("SupportedLanguage", v.to_lowercase()));
        }
        _ => return None,
    };
    attr.iter().find_map(|a| {
        child.attr(a).map(|v| {
            let v = v.trim();
            let key = match (*a, v.parse::<u64>()) {
                ("Order", Ok(n)) => n.to_string(),
                _ => v.to_lowercase(),
            };
            (*a, key)
        })
    })
}

/// How an element of the child is matched with one of the base.
#[derive(Hash, PartialEq, Eq)]
enum MatchKey {
    Keyed(String),
    /// The n-th element of that name (singletons such as `DisplayName` and `Protocol`,
    /// and lists B2C gives no key, such as `Precondition`).
    Nth(usize),
}

/// Merges `overlay` (the child's element) into `base` (the same element of its base).
pub fn merge(base: &mut Element, overlay: &Element) {
    let own_key = key_attribute("", overlay).map(|(a, _)| a);
    let scalar = overlay.value().is_some()
        || overlay
            .attrs
            .iter()
            .any(|(k, _)| Some(k.as_str()) != own_key);
    for (k, v) in &overlay.attrs {
        base.set_attr(k, v.clone());
    }
    if overlay.value().is_some() {
        base.text.clone_from(&overlay.text);
    }
    if scalar {
        // A diagnostic about this element points at the file that last set it.
        base.span = overlay.span.clone();
    }
    if overlay.children.is_empty() {
        return;
    }
    let mut index: HashMap<(String, MatchKey), usize> = HashMap::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (i, c) in base.children.iter().enumerate() {
        let key = match key_attribute(&base.name, c) {
            Some((_, k)) => MatchKey::Keyed(k),
            None => {
                let n = counts.entry(c.name.as_str()).or_default();
                *n += 1;
                MatchKey::Nth(*n - 1)
            }
        };
        index.entry((c.name.clone(), key)).or_insert(i);
    }
    let mut overlay_counts: HashMap<&str, usize> = HashMap::new();
    for c in &overlay.children {
        let key = match key_attribute(&base.name, c) {
            Some((_, k)) => MatchKey::Keyed(k),
            None => {
                let n = overlay_counts.entry(c.name.as_str()).or_default();
                *n += 1;
                MatchKey::Nth(*n - 1)
            }
        };
        match index.get(&(c.name.clone(), key)) {
            Some(&i) => merge(Rc::make_mut(&mut base.children[i]), c),
            None => base.children.push(Rc::clone(c)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Span;
    use crate::xml::Limits;
    use crate::xml::tree::{ParseContext, parse};

    fn tree(file: &str, text: &str) -> Element {
        let settings = Default::default();
        let ctx = ParseContext {
            file,
            settings: &settings,
            limits: Limits::default(),
        };
        parse(&ctx, text.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn keyed_elements_merge_and_the_rest_is_kept() {
        let mut base = tree(
            "base.xml",
            r#"<TechnicalProfile Id="tp">
  <DisplayName>Base</DisplayName>
  <Metadata><Item Key="a">1</Item><Item Key="b">2</Item></Metadata>
  <OutputClaims><OutputClaim ClaimTypeReferenceId="x" Required="true"/></OutputClaims>
</TechnicalProfile>"#,
        );
        let child = tree(
            "child.xml",
            r#"<TechnicalProfile Id="TP">
  <Metadata><Item Key="B">3</Item><Item Key="c">4</Item></Metadata>
  <OutputClaims><OutputClaim ClaimTypeReferenceId="X" PartnerClaimType="p"/></OutputClaims>
</TechnicalProfile>"#,
        );
        merge(&mut base, &child);
        let items: Vec<(&str, &str)> = base
            .list("Metadata", "Item")
            .map(|i| (i.attr("Key").unwrap_or_default(), i.text.as_str()))
            .collect();
        assert_eq!(items, [("a", "1"), ("B", "3"), ("c", "4")]);
        let claim = base
            .list("OutputClaims", "OutputClaim")
            .next()
            .unwrap_or_else(|| panic!("no claim"));
        assert_eq!(claim.attr("Required"), Some("true"));
        assert_eq!(claim.attr("PartnerClaimType"), Some("p"));
        assert_eq!(claim.span, Span::new("child.xml", 3, 17));
        assert_eq!(base.child_text("DisplayName"), Some("Base"));
        assert_eq!(base.span.file, "base.xml");
    }
}
