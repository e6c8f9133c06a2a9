//! A merged policy (a relying-party file over its bases) compiled into the journey model:
//! `claimsschema.md`, `predicates.md`, `claimstransformations.md`, `technicalprofiles.md`,
//! `userjourneys.md`, `subjourneys.md`, `relyingparty.md`.
//!
//! References are resolved by the [link pass](crate::link::check), which runs on the result;
//! here only what cannot be expressed in the model is reported (unknown handler or data type,
//! missing attribute, bad number).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::ids::{
    ClaimTypeId, ClaimsTransformationId, PolicyId, TechnicalProfileId, UserJourneyId,
};
use crate::model::*;
use crate::verification;

use super::merge::{self, CLAIMS_PROVIDER_DOMAIN};
use super::tree::Element;

pub(super) fn compile(
    root: &Element,
    id: &PolicyId,
    span: &Span,
    diags: &mut Vec<Diagnostic>,
) -> Option<Policy> {
    let mut c = Compiler {
        root,
        diags,
        default_partners: HashMap::new(),
    };
    let errors_before = c.diags.iter().filter(|d| d.is_error()).count();
    let mut claims_schema = c.claims_schema();
    let claims_transformations = c.claims_transformations();
    let (user_journeys, sub_journeys) = c.journeys();
    let cpim_issuers: BTreeSet<TechnicalProfileId> = user_journeys
        .values()
        .chain(sub_journeys.values())
        .flat_map(|j| &j.steps)
        .filter_map(|s| s.cpim_issuer.clone())
        .collect();
    let mut technical_profiles = c.technical_profiles(&cpim_issuers);
    c.email_verification(&mut technical_profiles, &mut claims_schema);
    let content_definitions = c.content_definitions();
    let relying_party = c.relying_party()?;
    let errors_after = c.diags.iter().filter(|d| d.is_error()).count();
    if errors_after > errors_before {
        return None;
    }
    Some(Policy {
        id: id.clone(),
        claims_schema,
        claims_transformations,
        technical_profiles,
        user_journeys,
        sub_journeys,
        relying_party,
        content_definitions,
        span: span.clone(),
    })
}

struct Compiler<'a> {
    root: &'a Element,
    diags: &'a mut Vec<Diagnostic>,
    /// `DefaultPartnerClaimTypes`: claim id and protocol name, both in lower case, → partner
    /// claim type.
    default_partners: HashMap<(String, String), String>,
}

/// B2C's data types (`claimsschema.md`) and the nearest model type.
fn data_type(name: &str) -> Option<DataType> {
    DataType::parse(name).or_else(|| {
        Some(match name.to_ascii_lowercase().as_str() {
            "duration" | "phonenumber" | "useridentity" | "alternativesecurityid" => {
                DataType::String
            }
            "alternativesecurityidcollection" | "useridentitycollection" => {
                DataType::StringCollection
            }
            _ => return None,
        })
    })
}

/// Proprietary handlers B2C has and Trustframe does not run yet (`technicalprofiles.md`).
const UNSUPPORTED_HANDLERS: &[&str] = &[
    "PhoneFactorProtocolProvider",
    "AzureMfaProtocolProvider",
    "AzureApplicationInsightsProvider",
    "IdTokenHintProtocolProvider",
    "OAuth2ProtocolProvider",
];

const HANDLERS: &[&str] = &[
    "SelfAssertedAttributeProvider",
    "RestfulProvider",
    "AzureActiveDirectoryProvider",
    "ClaimsTransformationProtocolProvider",
    "OneTimePasswordProtocolProvider",
    "NoopSSOSessionProvider",
    "DefaultSSOSessionProvider",
    "ExternalLoginSSOSessionProvider",
    "OAuthSSOSessionProvider",
    "SamlSSOSessionProvider",
];

impl<'a> Compiler<'a> {
    fn error(&mut self, span: &Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, message));
    }

    fn warning(&mut self, span: &Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(span, message));
    }

    fn building_block(&self, section: &str, name: &'static str) -> Vec<&'a Element> {
        self.root
            .child("BuildingBlocks")
            .and_then(|b| b.child(section))
            .map(|s| s.children_named(name).collect())
            .unwrap_or_default()
    }

    fn required_attr<'e>(&mut self, e: &'e Element, attr: &str) -> Option<&'e str> {
        let v = e.attr(attr).map(str::trim).filter(|v| !v.is_empty());
        if v.is_none() {
            self.error(&e.span, format!("<{}> has no {attr}", e.name));
        }
        v
    }

    fn flag(&mut self, e: &Element, value: Option<&str>, what: &str, default: bool) -> bool {
        match value.map(str::trim) {
            None | Some("") => default,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                self.error(&e.span, format!("{what} is '{v}': expected true or false"));
                default
            }
        }
    }

    // ---- Claims schema ------------------------------------------------------------------

    fn claims_schema(&mut self) -> ClaimsSchema {
        let predicates: HashMap<String, &Element> = self
            .building_block("Predicates", "Predicate")
            .into_iter()
            .filter_map(|p| p.attr("Id").map(|id| (id.to_lowercase(), p)))
            .collect();
        let validations: HashMap<String, &Element> = self
            .building_block("PredicateValidations", "PredicateValidation")
            .into_iter()
            .filter_map(|p| p.attr("Id").map(|id| (id.to_lowercase(), p)))
            .collect();
        let mut schema = ClaimsSchema::default();
        for e in self.building_block("ClaimsSchema", "ClaimType") {
            let Some(id) = self.required_attr(e, "Id") else {
                continue;
            };
            let id = ClaimTypeId::new(id);
            let data_type = match e.child("DataType") {
                Some(d) => match d.value().and_then(data_type) {
                    Some(t) => t,
                    None => {
                        self.error(
                            &d.span,
                            format!("claim type '{id}': unknown DataType '{}'", d.text.trim()),
                        );
                        DataType::String
                    }
                },
                None => {
                    self.error(&e.span, format!("claim type '{id}' has no <DataType>"));
                    DataType::String
                }
            };
            let mut t = ClaimType::new(
                id.clone(),
                e.child_text("DisplayName").unwrap_or(id.as_str()),
                data_type,
            );
            t.span = e.span.clone();
            t.user_help_text = e.child_text("UserHelpText").map(str::to_owned);
            if let Some(u) = e.child("UserInputType") {
                match u.value().and_then(UserInputType::parse) {
                    Some(input) => t.user_input_type = Some(input),
                    None => self.error(
                        &u.span,
                        format!(
                            "claim type '{id}': unknown UserInputType '{}'",
                            u.text.trim()
                        ),
                    ),
                }
            }
            if let Some(r) = e.child("Restriction") {
                if let Some(p) = r.child("Pattern")
                    && let Some(regex) = self.required_attr(p, "RegularExpression")
                {
                    t.pattern = Some(Pattern {
                        regex: regex.into(),
                        help_text: p.attr("HelpText").unwrap_or_default().trim().to_owned(),
                    });
                }
                t.enumeration = r
                    .children_named("Enumeration")
                    .map(|i| {
                        (
                            i.attr("Value").unwrap_or_default().to_owned(),
                            i.attr("Text").unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
            }
            if let Some(r) = e.child("PredicateValidationReference")
                && let Some(ref_id) = self.required_attr(r, "Id")
            {
                match validations.get(&ref_id.to_lowercase()) {
                    Some(v) => {
                        t.predicate_validation = self.predicate_validation(v, &predicates);
                    }
                    None => {
                        let hint =
                            did_you_mean(ref_id, validations.values().filter_map(|v| v.attr("Id")));
                        self.error(
                            &r.span,
                            format!("unknown PredicateValidation '{ref_id}'{hint}"),
                        );
                    }
                }
            }
            for p in e.list("DefaultPartnerClaimTypes", "Protocol") {
                if let (Some(name), Some(partner)) = (p.attr("Name"), p.attr("PartnerClaimType")) {
                    self.default_partners.insert(
                        (id.as_str().to_lowercase(), name.to_lowercase()),
                        partner.to_owned(),
                    );
                }
            }
            schema.claim_types.insert(id, t);
        }
        // B2C's page checks that `reenterPassword` repeats `newPassword` (`claimsschema.md`).
        let new_password = ClaimTypeId::new("newPassword");
        if schema.claim_types.contains_key(&new_password)
            && let Some(t) = schema
                .claim_types
                .get_mut(&ClaimTypeId::new("reenterPassword"))
        {
            t.must_match.get_or_insert(new_password);
        }
        schema
    }

    fn predicate_validation(
        &mut self,
        e: &Element,
        predicates: &HashMap<String, &Element>,
    ) -> Option<PredicateValidation> {
        let id = e.attr("Id").unwrap_or_default().to_owned();
        let mut groups = Vec::new();
        for g in e.list("PredicateGroups", "PredicateGroup") {
            let refs = g.child("PredicateReferences");
            let match_at_least = match refs.and_then(|r| r.attr("MatchAtLeast")) {
                Some(n) => match n.trim().parse::<usize>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.error(&g.span, format!("MatchAtLeast '{n}' is not a number"));
                        None
                    }
                },
                None => None,
            };
            let mut list = Vec::new();
            for r in refs
                .into_iter()
                .flat_map(|r| r.children_named("PredicateReference"))
            {
                let Some(ref_id) = self.required_attr(r, "Id") else {
                    continue;
                };
                match predicates.get(&ref_id.to_lowercase()) {
                    Some(p) => list.extend(self.predicate(p)),
                    None => {
                        let hint =
                            did_you_mean(ref_id, predicates.values().filter_map(|p| p.attr("Id")));
                        self.error(&r.span, format!("unknown Predicate '{ref_id}'{hint}"));
                    }
                }
            }
            groups.push(PredicateGroup {
                id: g.attr("Id").unwrap_or_default().to_owned(),
                help_text: g.child_text("UserHelpText").unwrap_or_default().to_owned(),
                match_at_least,
                predicates: list,
            });
        }
        Some(PredicateValidation { id, groups })
    }

    fn predicate(&mut self, e: &Element) -> Option<Predicate> {
        let id = e.attr("Id").unwrap_or_default().to_owned();
        let param = |name: &str| {
            e.list("Parameters", "Parameter")
                .find(|p| p.attr("Id").is_some_and(|i| i.eq_ignore_ascii_case(name)))
                .and_then(Element::value)
                .map(str::to_owned)
        };
        let method = e.attr("Method").unwrap_or_default();
        let method = match method.to_ascii_lowercase().as_str() {
            "islengthrange" => {
                let bound = |name: &str, default: usize| -> Result<usize, String> {
                    match param(name) {
                        Some(v) => v
                            .parse()
                            .map_err(|_| format!("predicate '{id}': {name} '{v}' is not a number")),
                        None => Ok(default),
                    }
                };
                match (bound("Minimum", 0), bound("Maximum", usize::MAX)) {
                    (Ok(min), Ok(max)) => PredicateMethod::IsLengthRange { min, max },
                    (Err(m), _) | (_, Err(m)) => {
                        self.error(&e.span, m);
                        return None;
                    }
                }
            }
            "includescharacters" => PredicateMethod::IncludesCharacters(param("CharacterSet")?),
            "matchesregex" => PredicateMethod::MatchesRegex(param("RegularExpression")?.into()),
            "isdaterange" => {
                self.warning(
                    &e.span,
                    format!(
                        "predicate '{id}': IsDateRange is not supported yet and is not checked"
                    ),
                );
                return None;
            }
            other => {
                let hint = did_you_mean(
                    other,
                    [
                        "IsLengthRange",
                        "IncludesCharacters",
                        "MatchesRegex",
                        "IsDateRange",
                    ],
                );
                self.error(
                    &e.span,
                    format!("predicate '{id}': unknown Method '{method}'{hint}"),
                );
                return None;
            }
        };
        Some(Predicate {
            help_text: e
                .attr("HelpText")
                .or_else(|| e.child_text("UserHelpText"))
                .unwrap_or_default()
                .trim()
                .to_owned(),
            id,
            method,
        })
    }

    // ---- Claims transformations ---------------------------------------------------------

    /// `ContentDefinitions` (`contentdefinitions.md`): `LoadUri` and `DataUri` of each page.
    fn content_definitions(&mut self) -> BTreeMap<String, ContentDefinition> {
        let mut out = BTreeMap::new();
        for e in self.building_block("ContentDefinitions", "ContentDefinition") {
            let Some(id) = self.required_attr(e, "Id") else {
                continue;
            };
            let load_uri = e
                .child_text("LoadUri")
                .unwrap_or_default()
                .trim()
                .to_owned();
            let data_uri = e
                .child_text("DataUri")
                .unwrap_or_default()
                .trim()
                .to_owned();
            if load_uri.is_empty() {
                self.error(
                    &e.span,
                    format!("ContentDefinition '{id}' has no <LoadUri>"),
                );
                continue;
            }
            if page_type(&data_uri).is_none() {
                self.warning(
                    &e.span,
                    format!(
                        "ContentDefinition '{id}': DataUri '{data_uri}' names no page type \
                         Trustframe knows ({}); its pages use their own layout",
                        PAGE_TYPES.join(", ")
                    ),
                );
            }
            out.insert(
                id.to_ascii_lowercase(),
                ContentDefinition {
                    id: id.to_owned(),
                    load_uri,
                    data_uri,
                    span: e.span.clone(),
                },
            );
        }
        out
    }

    fn claims_transformations(&mut self) -> BTreeMap<ClaimsTransformationId, ClaimsTransformation> {
        let mut out = BTreeMap::new();
        for e in self.building_block("ClaimsTransformations", "ClaimsTransformation") {
            let (Some(id), Some(method)) = (
                self.required_attr(e, "Id"),
                self.required_attr(e, "TransformationMethod"),
            ) else {
                continue;
            };
            let claims = |c: &mut Self, list: &str, item: &str| -> Vec<TransformationClaim> {
                e.list(list, item)
                    .filter_map(|x| {
                        let claim = c.required_attr(x, "ClaimTypeReferenceId")?;
                        Some(TransformationClaim {
                            claim_type: claim.into(),
                            transformation_claim_type: x
                                .attr("TransformationClaimType")
                                .unwrap_or_default()
                                .to_owned(),
                        })
                    })
                    .collect()
            };
            let input_claims = claims(self, "InputClaims", "InputClaim");
            let output_claims = claims(self, "OutputClaims", "OutputClaim");
            let mut input_parameters = Vec::new();
            for p in e.list("InputParameters", "InputParameter") {
                let Some(pid) = self.required_attr(p, "Id") else {
                    continue;
                };
                let dt = p.attr("DataType").unwrap_or("string");
                let Some(data_type) = data_type(dt) else {
                    self.error(
                        &p.span,
                        format!("input parameter '{pid}': unknown DataType '{dt}'"),
                    );
                    continue;
                };
                input_parameters.push(TransformationParameter {
                    id: pid.to_owned(),
                    data_type,
                    value: p.attr("Value").unwrap_or_default().to_owned(),
                });
            }
            let t = ClaimsTransformation {
                id: id.into(),
                method: method.to_owned(),
                input_claims,
                input_parameters,
                output_claims,
                span: e.span.clone(),
            };
            out.insert(t.id.clone(), t);
        }
        out
    }

    // ---- Technical profiles -------------------------------------------------------------

    fn technical_profiles(
        &mut self,
        cpim_issuers: &BTreeSet<TechnicalProfileId>,
    ) -> BTreeMap<TechnicalProfileId, TechnicalProfile> {
        let elements: BTreeMap<TechnicalProfileId, &Element> = self
            .root
            .list("TechnicalProfiles", "TechnicalProfile")
            .filter_map(|e| {
                e.attr("Id")
                    .map(|id| (TechnicalProfileId::new(id.trim()), e))
            })
            .collect();
        let controls: HashMap<String, &Element> = self
            .building_block("DisplayControls", "DisplayControl")
            .into_iter()
            .filter_map(|e| e.attr("Id").map(|id| (id.to_lowercase(), e)))
            .collect();
        let mut resolved: HashMap<TechnicalProfileId, Element> = HashMap::new();
        let mut out = BTreeMap::new();
        for (id, e) in &elements {
            let tp = if e.child("IncludeTechnicalProfile").is_some() {
                let Some(e) = self.include(id, &elements, &mut resolved) else {
                    continue;
                };
                self.technical_profile(&e, cpim_issuers, &controls)
            } else {
                self.technical_profile(e, cpim_issuers, &controls)
            };
            if let Some(tp) = tp {
                out.insert(tp.id.clone(), tp);
            }
        }
        out
    }

    /// The profile with its `IncludeTechnicalProfile` chain merged in
    /// (`technicalprofiles.md`, "Include technical profile"): the included profile is the
    /// base, the including one overrides it.
    fn include(
        &mut self,
        id: &TechnicalProfileId,
        elements: &BTreeMap<TechnicalProfileId, &Element>,
        resolved: &mut HashMap<TechnicalProfileId, Element>,
    ) -> Option<Element> {
        if let Some(e) = resolved.get(id) {
            return Some(e.clone());
        }
        let mut chain: Vec<TechnicalProfileId> = vec![id.clone()];
        let mut base: Option<Element> = None;
        loop {
            let current = chain.last().and_then(|c| elements.get(c))?;
            let Some(include) = current.child("IncludeTechnicalProfile") else {
                break;
            };
            let target = self.required_attr(include, "ReferenceId")?;
            let target = TechnicalProfileId::new(target);
            if chain.contains(&target) {
                let names: Vec<&str> = chain
                    .iter()
                    .chain(std::iter::once(&target))
                    .map(TechnicalProfileId::as_str)
                    .collect();
                self.error(
                    &include.span,
                    format!("circular IncludeTechnicalProfile: {}", names.join(" → ")),
                );
                return None;
            }
            if !elements.contains_key(&target) {
                let hint = did_you_mean(target.as_str(), elements.keys().map(|k| k.as_str()));
                self.error(
                    &include.span,
                    format!("IncludeTechnicalProfile: unknown technical profile '{target}'{hint}"),
                );
                return None;
            }
            if let Some(r) = resolved.get(&target) {
                base = Some(r.clone());
                break;
            }
            chain.push(target);
        }
        let mut current = match base {
            Some(b) => b,
            None => {
                let last = chain.pop()?;
                let e = (*elements.get(&last)?).clone();
                resolved.insert(last, e.clone());
                e
            }
        };
        while let Some(next) = chain.pop() {
            let overlay = elements.get(&next)?;
            merge::merge(&mut current, overlay);
            current.span = overlay.span.clone();
            current.set_attr("Id", next.as_str());
            resolved.insert(next, current.clone());
        }
        Some(current)
    }

    fn kind(
        &mut self,
        e: &Element,
        id: &TechnicalProfileId,
        cpim_issuers: &BTreeSet<TechnicalProfileId>,
    ) -> Option<TechnicalProfileKind> {
        let Some(protocol) = e.child("Protocol") else {
            self.error(
                &e.span,
                format!("technical profile '{id}' has no <Protocol>"),
            );
            return None;
        };
        let name = protocol.attr("Name").unwrap_or_default().trim();
        Some(match name.to_ascii_lowercase().as_str() {
            "proprietary" => {
                let handler = protocol.attr("Handler").unwrap_or_default();
                // `Web.TPEngine.Providers.RestfulProvider, Web.TPEngine, Version=…`.
                let short = handler
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .rsplit('.')
                    .next()
                    .unwrap_or_default();
                match short.to_ascii_lowercase().as_str() {
                    "selfassertedattributeprovider" => TechnicalProfileKind::SelfAsserted,
                    "restfulprovider" => TechnicalProfileKind::Restful,
                    "azureactivedirectoryprovider" => TechnicalProfileKind::Directory,
                    "claimstransformationprotocolprovider" => {
                        TechnicalProfileKind::ClaimsTransformation
                    }
                    "onetimepasswordprotocolprovider" => TechnicalProfileKind::OneTimePassword,
                    "noopssosessionprovider" => {
                        TechnicalProfileKind::SessionManagement(SessionProvider::Noop)
                    }
                    "defaultssosessionprovider" => {
                        TechnicalProfileKind::SessionManagement(SessionProvider::Default)
                    }
                    "externalloginssosessionprovider" => {
                        TechnicalProfileKind::SessionManagement(SessionProvider::ExternalLogin)
                    }
                    "oauthssosessionprovider" => {
                        TechnicalProfileKind::SessionManagement(SessionProvider::OAuth)
                    }
                    "samlssosessionprovider" => {
                        TechnicalProfileKind::SessionManagement(SessionProvider::Saml)
                    }
                    _ if UNSUPPORTED_HANDLERS
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(short)) =>
                    {
                        TechnicalProfileKind::Unsupported {
                            protocol: format!("Proprietary ({short})"),
                        }
                    }
                    _ => {
                        let hint = did_you_mean(
                            short,
                            HANDLERS.iter().chain(UNSUPPORTED_HANDLERS).copied(),
                        );
                        self.error(
                            &protocol.span,
                            format!("technical profile '{id}': unknown handler '{handler}'{hint}"),
                        );
                        return None;
                    }
                }
            }
            "none" => TechnicalProfileKind::NoOp,
            "openidconnect" => {
                let jwt = e
                    .child_text("OutputTokenFormat")
                    .is_some_and(|f| f.eq_ignore_ascii_case("JWT"));
                let metadata = |key: &str| {
                    e.list("Metadata", "Item")
                        .find(|i| i.attr("Key").is_some_and(|k| k.eq_ignore_ascii_case(key)))
                        .and_then(Element::value)
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                };
                // The starter pack's `login-NonInteractive`: B2C runs it as a ROPC call to
                // Entra ID (`custom-policies-series-sign-up-or-sign-in.md`); Trustframe checks
                // the password locally.
                let local = TechnicalProfileKind::is_local_credential_check(
                    |key| Some(metadata(key)),
                    e.list("InputClaims", "InputClaim")
                        .filter_map(|c| c.attr("ClaimTypeReferenceId").map(str::to_owned)),
                );
                if jwt || cpim_issuers.contains(id) {
                    TechnicalProfileKind::JwtIssuer
                } else if local {
                    TechnicalProfileKind::PasswordCheck
                } else {
                    TechnicalProfileKind::OpenIdConnect
                }
            }
            "oauth1" | "oauth2" | "saml2" | "wsfed" => TechnicalProfileKind::Unsupported {
                protocol: name.to_owned(),
            },
            _ => {
                let hint = did_you_mean(
                    name,
                    [
                        "Proprietary",
                        "None",
                        "OpenIdConnect",
                        "OAuth1",
                        "OAuth2",
                        "SAML2",
                        "WsFed",
                    ],
                );
                self.error(
                    &protocol.span,
                    format!("technical profile '{id}': unknown Protocol Name '{name}'{hint}"),
                );
                return None;
            }
        })
    }

    fn claim_refs(&mut self, e: &Element, list: &str, item: &str, protocol: &str) -> Vec<ClaimRef> {
        let mut out = Vec::new();
        for c in e.list(list, item) {
            if c.attr("DisplayControlReferenceId").is_some() {
                continue;
            }
            if let Some(r) = self.claim_ref(c, protocol) {
                out.push(r);
            }
        }
        out
    }

    fn claim_ref(&mut self, c: &Element, protocol: &str) -> Option<ClaimRef> {
        let claim = ClaimTypeId::new(self.required_attr(c, "ClaimTypeReferenceId")?);
        let mut r = ClaimRef::new(claim.clone());
        // A profile's protocol names claims by the claim type's default partner name
        // (`claimsschema.md`, "DefaultPartnerClaimTypes").
        r.partner_claim_type = c.attr("PartnerClaimType").map(str::to_owned).or_else(|| {
            if protocol.is_empty() || self.default_partners.is_empty() {
                return None;
            }
            let key = (claim.as_str().to_lowercase(), protocol.to_owned());
            self.default_partners.get(&key).cloned()
        });
        r.default_value = c.attr("DefaultValue").map(str::to_owned);
        r.always_use_default_value = self.flag(
            c,
            c.attr("AlwaysUseDefaultValue"),
            "AlwaysUseDefaultValue",
            false,
        );
        r.required = self.flag(c, c.attr("Required"), "Required", false);
        r.span = c.span.clone();
        Some(r)
    }

    fn references<T: From<String>>(&mut self, e: &Element, list: &str, item: &str) -> Vec<T> {
        let mut out = Vec::new();
        for x in e.list(list, item) {
            if let Some(r) = self.required_attr(x, "ReferenceId") {
                out.push(T::from(r.to_owned()));
            }
        }
        out
    }

    fn precondition(&mut self, p: &Element, action: &str) -> Option<Precondition> {
        let values: Vec<&str> = p.children_named("Value").map(|v| v.text.trim()).collect();
        match p.child_text("Action") {
            Some(a) if a.eq_ignore_ascii_case(action) => {}
            other => {
                self.error(
                    &p.span,
                    format!(
                        "precondition action is '{}': expected {action}",
                        other.unwrap_or_default()
                    ),
                );
                return None;
            }
        }
        let kind = p.attr("Type").unwrap_or_default();
        let test = match kind.to_ascii_lowercase().as_str() {
            "claimsexist" => {
                let Some(claim) = values.first() else {
                    self.error(&p.span, "a ClaimsExist precondition needs a <Value>");
                    return None;
                };
                if values.len() > 1 {
                    self.warning(
                        &p.span,
                        "only the first <Value> of a ClaimsExist precondition is tested",
                    );
                }
                PreconditionTest::ClaimsExist((*claim).into())
            }
            "claimequals" => {
                let (Some(claim), Some(value)) = (values.first(), values.get(1)) else {
                    self.error(
                        &p.span,
                        "a ClaimEquals precondition needs two <Value>s: the claim and the value",
                    );
                    return None;
                };
                PreconditionTest::ClaimEquals((*claim).into(), (*value).to_owned())
            }
            _ => {
                let hint = did_you_mean(kind, ["ClaimsExist", "ClaimEquals"]);
                self.error(&p.span, format!("unknown precondition Type '{kind}'{hint}"));
                return None;
            }
        };
        Some(Precondition {
            test,
            execute_actions_if: self.flag(p, p.attr("ExecuteActionsIf"), "ExecuteActionsIf", true),
            span: p.span.clone(),
        })
    }

    fn preconditions(&mut self, e: &Element, action: &str) -> Vec<Precondition> {
        let mut out = Vec::new();
        for p in e.list("Preconditions", "Precondition") {
            out.extend(self.precondition(p, action));
        }
        out
    }

    fn validation_profile(
        &mut self,
        v: &Element,
        attr: &str,
    ) -> Option<ValidationTechnicalProfile> {
        let reference = self.required_attr(v, attr)?;
        let mut vtp = ValidationTechnicalProfile::new(reference);
        vtp.continue_on_error = self.flag(v, v.attr("ContinueOnError"), "ContinueOnError", false);
        vtp.continue_on_success =
            self.flag(v, v.attr("ContinueOnSuccess"), "ContinueOnSuccess", true);
        vtp.preconditions = self.preconditions(v, "SkipThisValidationTechnicalProfile");
        vtp.span = v.span.clone();
        Some(vtp)
    }

    fn technical_profile(
        &mut self,
        e: &Element,
        cpim_issuers: &BTreeSet<TechnicalProfileId>,
        controls: &HashMap<String, &Element>,
    ) -> Option<TechnicalProfile> {
        let id = TechnicalProfileId::new(e.attr("Id")?.trim());
        let kind = self.kind(e, &id, cpim_issuers)?;
        let protocol = e
            .child("Protocol")
            .and_then(|p| p.attr("Name"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut tp = TechnicalProfile::new(id.clone(), kind);
        tp.span = e.span.clone();
        if let Some(d) = e.child_text("DisplayName") {
            d.clone_into(&mut tp.display_name);
        }
        for item in e.list("Metadata", "Item") {
            if let Some(key) = self.required_attr(item, "Key") {
                tp.metadata.insert(key, item.text.trim());
            }
        }
        if let Some(domain) = e.attr(CLAIMS_PROVIDER_DOMAIN)
            && tp.metadata.get(crate::identity_provider::DOMAIN).is_none()
        {
            tp.metadata.insert(crate::identity_provider::DOMAIN, domain);
        }
        for key in e.list("CryptographicKeys", "Key") {
            if let (Some(k), Some(r)) = (
                self.required_attr(key, "Id"),
                self.required_attr(key, "StorageReferenceId"),
            ) {
                tp.cryptographic_keys.insert(k.to_owned(), r.to_owned());
            }
        }
        tp.input_claims = self.claim_refs(e, "InputClaims", "InputClaim", &protocol);
        tp.output_claims = self.claim_refs(e, "OutputClaims", "OutputClaim", &protocol);
        tp.persisted_claims = self.claim_refs(e, "PersistedClaims", "PersistedClaim", &protocol);
        tp.input_claims_transformations =
            self.references(e, "InputClaimsTransformations", "InputClaimsTransformation");
        tp.output_claims_transformations = self.references(
            e,
            "OutputClaimsTransformations",
            "OutputClaimsTransformation",
        );
        for v in e.list("ValidationTechnicalProfiles", "ValidationTechnicalProfile") {
            tp.validation_technical_profiles
                .extend(self.validation_profile(v, "ReferenceId"));
        }
        if let Some(s) = e.child("UseTechnicalProfileForSessionManagement") {
            tp.session_management = self.required_attr(s, "ReferenceId").map(Into::into);
        }
        if let Some(s) = e.child("IncludeInSso") {
            tp.include_in_sso = self.flag(s, s.value(), "IncludeInSso", true);
        }
        for d in e.list("DisplayClaims", "DisplayClaim") {
            match d.attr("DisplayControlReferenceId") {
                Some(control_id) => {
                    let Some(c) = controls.get(&control_id.to_lowercase()) else {
                        let hint = did_you_mean(
                            control_id,
                            controls.values().filter_map(|c| c.attr("Id")),
                        );
                        self.error(
                            &d.span,
                            format!("unknown DisplayControl '{control_id}'{hint}"),
                        );
                        continue;
                    };
                    if let Some(control) = self.display_control(c) {
                        tp.display_claims.extend(
                            control
                                .display_claims
                                .iter()
                                .filter(|c| c.claim_type != control.code_claim)
                                .cloned(),
                        );
                        tp.display_controls.push(control);
                    }
                }
                None => tp.display_claims.extend(self.claim_ref(d, &protocol)),
            }
        }
        Some(tp)
    }

    /// A `VerificationControl` (`display-control-verification.md`).
    fn display_control(&mut self, e: &Element) -> Option<DisplayControl> {
        let id = e.attr("Id").unwrap_or_default().to_owned();
        let kind = e.attr("UserInterfaceControlType").unwrap_or_default();
        if !kind.eq_ignore_ascii_case("VerificationControl") {
            self.error(
                &e.span,
                format!("display control '{id}': UserInterfaceControlType '{kind}' is not supported (only VerificationControl)"),
            );
            return None;
        }
        let mut display_claims = Vec::new();
        let mut code_claim = None;
        for d in e.list("DisplayClaims", "DisplayClaim") {
            let Some(r) = self.claim_ref(d, "") else {
                continue;
            };
            if d.attr("ControlClaimType")
                .is_some_and(|t| t.eq_ignore_ascii_case("VerificationCode"))
            {
                code_claim = Some(r.claim_type.clone());
            }
            display_claims.push(r);
        }
        let Some(code_claim) = code_claim else {
            self.error(
                &e.span,
                format!("display control '{id}' has no display claim with ControlClaimType=\"VerificationCode\""),
            );
            return None;
        };
        let output_claims = self.claim_refs(e, "OutputClaims", "OutputClaim", "");
        let mut actions = Vec::new();
        for a in e.list("Actions", "Action") {
            let mut profiles = Vec::new();
            for v in a.list(
                "ValidationClaimsExchange",
                "ValidationClaimsExchangeTechnicalProfile",
            ) {
                profiles.extend(self.validation_profile(v, "TechnicalProfileReferenceId"));
            }
            actions.push(DisplayControlAction {
                id: a.attr("Id").unwrap_or_default().to_owned(),
                validation_technical_profiles: profiles,
            });
        }
        Some(DisplayControl {
            id,
            display_claims,
            code_claim,
            output_claims,
            actions,
            span: e.span.clone(),
        })
    }

    /// `PartnerClaimType="Verified.Email"` on a self-asserted output claim: B2C's built-in
    /// e-mail verification (`self-asserted-technical-profile.md`), unless
    /// the profile's `EnforceEmailVerification` metadata is `false`.
    fn email_verification(
        &mut self,
        profiles: &mut BTreeMap<TechnicalProfileId, TechnicalProfile>,
        schema: &mut ClaimsSchema,
    ) {
        let mut added = Vec::new();
        for tp in profiles.values_mut() {
            if tp.kind != TechnicalProfileKind::SelfAsserted
                || !tp.metadata.flag("EnforceEmailVerification", true)
            {
                continue;
            }
            let verified: Vec<ClaimRef> = tp
                .output_claims
                .iter()
                .filter(|c| {
                    c.partner_claim_type
                        .as_deref()
                        .is_some_and(|p| p.eq_ignore_ascii_case("Verified.Email"))
                })
                .cloned()
                .collect();
            for claim in verified {
                if tp
                    .display_controls
                    .iter()
                    .any(|c| c.shows(&claim.claim_type))
                {
                    continue;
                }
                let (control, generated) = verification::email_verification(
                    &claim.claim_type,
                    crate::otp::DEFAULT_CODE_EXPIRATION_IN_SECONDS,
                    &verification::ProfileIds::custom_policy(&claim.claim_type),
                    &claim.span,
                );
                tp.display_controls.push(control);
                added.extend(generated);
            }
        }
        if added.is_empty() {
            return;
        }
        verification::extend_schema(schema);
        // Profiles verifying the same claim share the generated profiles.
        let mut generated = BTreeSet::new();
        for p in added {
            if generated.contains(&p.id) {
                continue;
            }
            if let Some(own) = profiles.get(&p.id) {
                let span = own.span.clone();
                self.error(
                    &span,
                    format!(
                        "technical profile id '{}' is reserved for e-mail verification",
                        p.id
                    ),
                );
                continue;
            }
            generated.insert(p.id.clone());
            profiles.insert(p.id.clone(), p);
        }
    }

    // ---- Journeys -----------------------------------------------------------------------

    fn journeys(
        &mut self,
    ) -> (
        BTreeMap<UserJourneyId, UserJourney>,
        BTreeMap<UserJourneyId, UserJourney>,
    ) {
        let mut user = BTreeMap::new();
        let journeys: Vec<&Element> = self.root.list("UserJourneys", "UserJourney").collect();
        for e in journeys {
            if let Some(j) = self.journey(e, None) {
                user.insert(j.id.clone(), j);
            }
        }
        let mut sub = BTreeMap::new();
        let subs: Vec<&Element> = self.root.list("SubJourneys", "SubJourney").collect();
        for e in subs {
            let kind = match e.attr("Type").unwrap_or("Call").trim() {
                t if t.eq_ignore_ascii_case("Call") => SubJourneyType::Call,
                t if t.eq_ignore_ascii_case("Transfer") => SubJourneyType::Transfer,
                t => {
                    self.error(
                        &e.span,
                        format!("sub journey Type '{t}': expected Call or Transfer"),
                    );
                    continue;
                }
            };
            if let Some(j) = self.journey(e, Some(kind)) {
                sub.insert(j.id.clone(), j);
            }
        }
        (user, sub)
    }

    fn journey(&mut self, e: &Element, kind: Option<SubJourneyType>) -> Option<UserJourney> {
        let id = UserJourneyId::new(self.required_attr(e, "Id")?);
        let mut steps = Vec::new();
        for s in e.list("OrchestrationSteps", "OrchestrationStep") {
            steps.extend(self.step(s));
        }
        steps.sort_by_key(|s| s.order);
        Some(UserJourney {
            id,
            steps,
            sub_journey_type: kind,
            span: e.span.clone(),
        })
    }

    fn step(&mut self, e: &Element) -> Option<OrchestrationStep> {
        let order = self.required_attr(e, "Order")?;
        let order = match order.parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                self.error(
                    &e.span,
                    format!("orchestration step Order '{order}': expected a number from 1"),
                );
                return None;
            }
        };
        let kind_name = self.required_attr(e, "Type")?;
        let kind = match kind_name.to_ascii_lowercase().as_str() {
            "combinedsigninandsignup" => StepKind::CombinedSignInAndSignUp,
            "claimsproviderselection" => StepKind::ClaimsProviderSelection,
            "claimsexchange" => StepKind::ClaimsExchange,
            "sendclaims" => StepKind::SendClaims,
            "invokesubjourney" => StepKind::InvokeSubJourney,
            "getclaims" => StepKind::GetClaims,
            "userdialog" => StepKind::UserDialog,
            _ => {
                let hint = did_you_mean(
                    kind_name,
                    [
                        "CombinedSignInAndSignUp",
                        "ClaimsProviderSelection",
                        "ClaimsExchange",
                        "SendClaims",
                        "InvokeSubJourney",
                        "GetClaims",
                        "UserDialog",
                    ],
                );
                self.error(
                    &e.span,
                    format!(
                        "orchestration step {order}: Type '{kind_name}' is not supported{hint}"
                    ),
                );
                return None;
            }
        };
        let mut step = OrchestrationStep::new(order, kind, e.span.clone());
        // A `ValidationClaimsExchangeId` names the step's own form exchange: not a choice.
        step.claims_provider_selections = e
            .list("ClaimsProviderSelections", "ClaimsProviderSelection")
            .filter_map(|s| s.attr("TargetClaimsExchangeId"))
            .map(str::to_owned)
            .collect();
        for x in e.list("ClaimsExchanges", "ClaimsExchange") {
            if let (Some(id), Some(tp)) = (
                self.required_attr(x, "Id"),
                self.required_attr(x, "TechnicalProfileReferenceId"),
            ) {
                step.claims_exchanges.push(ClaimsExchange {
                    id: id.to_owned(),
                    technical_profile: tp.into(),
                });
            }
        }
        step.preconditions = self.preconditions(e, "SkipThisOrchestrationStep");
        step.cpim_issuer = e
            .attr("CpimIssuerTechnicalProfileReferenceId")
            .map(|s| s.trim().into());
        step.content_definition = e.attr("ContentDefinitionReferenceId").map(str::to_owned);
        step.sub_journey = e
            .list("JourneyList", "Candidate")
            .find_map(|c| c.attr("SubJourneyReferenceId"))
            .map(|s| s.trim().into());
        Some(step)
    }

    // ---- Relying party ------------------------------------------------------------------

    fn relying_party(&mut self) -> Option<RelyingParty> {
        let rp = self.root.child("RelyingParty")?;
        let journey = match rp.child("DefaultUserJourney") {
            Some(d) => self.required_attr(d, "ReferenceId")?,
            None => {
                self.error(&rp.span, "<RelyingParty> has no <DefaultUserJourney>");
                return None;
            }
        };
        let mut out = RelyingParty {
            default_user_journey: journey.into(),
            output_claims: Vec::new(),
            output_claims_transformations: Vec::new(),
            token_journey: None,
            subject_claim: None,
            behaviors: JourneyBehaviors::default(),
            input_claims: Vec::new(),
            span: rp.span.clone(),
        };
        out.token_journey = rp
            .list("Endpoints", "Endpoint")
            .find(|e| {
                e.attr("Id")
                    .is_some_and(|i| i.eq_ignore_ascii_case("Token"))
            })
            .and_then(|e| e.attr("UserJourneyReferenceId"))
            .map(|s| s.trim().into());
        if let Some(b) = rp.child("UserJourneyBehaviors") {
            out.behaviors.sso_scope = b
                .child("SingleSignOn")
                .and_then(|s| s.attr("Scope"))
                .map(str::to_owned);
            out.behaviors.session_expiry_type =
                b.child_text("SessionExpiryType").map(str::to_owned);
            out.behaviors.script_execution = b
                .child_text("ScriptExecution")
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("Allow"));
            if let Some(s) = b.child("SessionExpiryInSeconds") {
                match s.text.trim().parse::<u32>() {
                    Ok(n) => out.behaviors.session_expiry_seconds = Some(n),
                    Err(_) => self.error(
                        &s.span,
                        format!("SessionExpiryInSeconds '{}' is not a number", s.text.trim()),
                    ),
                }
            }
        }
        let Some(tp) = rp.child("TechnicalProfile") else {
            self.error(&rp.span, "<RelyingParty> has no <TechnicalProfile>");
            return None;
        };
        let protocol = tp
            .child("Protocol")
            .and_then(|p| p.attr("Name"))
            .unwrap_or_default();
        if !protocol.eq_ignore_ascii_case("OpenIdConnect") {
            let span = tp.child("Protocol").map_or(&tp.span, |p| &p.span).clone();
            self.error(
                &span,
                format!(
                    "relying party protocol '{protocol}' is not supported (only OpenIdConnect)"
                ),
            );
            return None;
        }
        out.output_claims = self.claim_refs(tp, "OutputClaims", "OutputClaim", "openidconnect");
        out.input_claims = self.claim_refs(tp, "InputClaims", "InputClaim", "openidconnect");
        out.output_claims_transformations = self.references(
            tp,
            "OutputClaimsTransformations",
            "OutputClaimsTransformation",
        );
        out.subject_claim = tp
            .child("SubjectNamingInfo")
            .and_then(|s| s.attr("ClaimType"))
            .map(str::to_owned);
        Some(out)
    }
}
