//! The journey model both front ends compile into (ARCHITECTURE.md "One model, two front ends").
//!
//! The shapes follow the TrustFramework schema (claims schema, technical profiles, user journeys,
//! relying party) so that a custom policy maps onto it element by element; a user flow is
//! compiled into the same shapes by [`crate::userflow`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{
    ClaimTypeId, ClaimsTransformationId, PolicyId, TechnicalProfileId, UserJourneyId,
};

/// Where an element was written: every diagnostic points at the source that caused it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub fn new(file: impl Into<String>, line: u32, column: u32) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A compiled policy: what the engine runs for one policy id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub id: PolicyId,
    pub claims_schema: ClaimsSchema,
    pub claims_transformations: BTreeMap<ClaimsTransformationId, ClaimsTransformation>,
    pub technical_profiles: BTreeMap<TechnicalProfileId, TechnicalProfile>,
    pub user_journeys: BTreeMap<UserJourneyId, UserJourney>,
    /// `SubJourneys`: journeys an `InvokeSubJourney` step calls (or transfers to).
    #[serde(default)]
    pub sub_journeys: BTreeMap<UserJourneyId, UserJourney>,
    pub relying_party: RelyingParty,
    /// `ContentDefinitions` by id in lower case: each page's layout (`contentdefinitions.md`).
    #[serde(default)]
    pub content_definitions: BTreeMap<String, ContentDefinition>,
    pub span: Span,
}

/// A page's layout (`contentdefinitions.md`): the HTML template our form is put into, and the
/// page contract it follows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentDefinition {
    pub id: String,
    /// `LoadUri`: a template URL, a file (development), or `~/…` for the built-in layout.
    pub load_uri: String,
    /// `DataUri`: `urn:com:microsoft:aad:b2c:elements:contract:<page type>:<version>`.
    pub data_uri: String,
    pub span: Span,
}

impl ContentDefinition {
    /// B2C's built-in layouts (`~/tenant/templates/AzureBlue/unified.cshtml`, …): our pages.
    pub fn built_in(&self) -> bool {
        self.load_uri.trim().starts_with('~')
    }

    /// The page type of the `DataUri` (`unifiedssp`, `selfasserted`, `globalexception`, …),
    /// in lower case: the segment after `elements:` (and `contract:`).
    pub fn page_type(&self) -> Option<String> {
        page_type(&self.data_uri)
    }
}

/// The page type a `DataUri` names (`page-layout.md`): `unifiedssp`, `unifiedssd`,
/// `selfasserted`, `providerselection`, `idpselection`, `multifactor`, `globalexception`.
pub fn page_type(data_uri: &str) -> Option<String> {
    let lower = data_uri.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("urn:com:microsoft:aad:b2c:elements:")?;
    let rest = rest.strip_prefix("contract:").unwrap_or(rest);
    let kind = rest.split(':').next()?;
    PAGE_TYPES.contains(&kind).then(|| kind.to_owned())
}

/// The page types of B2C's page contracts that Trustframe renders.
pub const PAGE_TYPES: &[&str] = &[
    "unifiedssp",
    "unifiedssd",
    "selfasserted",
    "providerselection",
    "idpselection",
    "multifactor",
    "globalexception",
];

impl Policy {
    /// A content definition by id (ids compare without regard to case, as in B2C).
    pub fn content_definition(&self, id: &str) -> Option<&ContentDefinition> {
        self.content_definitions.get(&id.to_ascii_lowercase())
    }

    pub fn technical_profile(&self, id: &TechnicalProfileId) -> Option<&TechnicalProfile> {
        self.technical_profiles.get(id)
    }

    pub fn journey(&self) -> Option<&UserJourney> {
        self.user_journeys
            .get(&self.relying_party.default_user_journey)
    }

    /// The journey the token endpoint runs on a refresh (`<Endpoint Id="Token">`), if any.
    pub fn token_journey(&self) -> Option<&UserJourney> {
        self.relying_party
            .token_journey
            .as_ref()
            .and_then(|id| self.user_journeys.get(id))
    }

    /// A user journey or sub journey by id.
    pub fn any_journey(&self, id: &UserJourneyId) -> Option<&UserJourney> {
        self.user_journeys
            .get(id)
            .or_else(|| self.sub_journeys.get(id))
    }

    /// The claims the relying party may put in tokens, under their token names.
    pub fn token_claim_names(&self) -> Vec<String> {
        self.relying_party
            .output_claims
            .iter()
            .map(|c| c.partner_name().to_owned())
            .collect()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClaimsSchema {
    pub claim_types: BTreeMap<ClaimTypeId, ClaimType>,
}

impl ClaimsSchema {
    pub fn get(&self, id: &ClaimTypeId) -> Option<&ClaimType> {
        self.claim_types.get(id)
    }

    pub fn data_type(&self, id: &ClaimTypeId) -> DataType {
        self.get(id)
            .map(|c| c.data_type)
            .unwrap_or(DataType::String)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimType {
    pub id: ClaimTypeId,
    pub display_name: String,
    pub data_type: DataType,
    pub user_input_type: Option<UserInputType>,
    pub user_help_text: Option<String>,
    /// `Restriction/Pattern`: a regular expression the value must match, with its help text.
    pub pattern: Option<Pattern>,
    /// `Restriction/Enumeration`: allowed values (value, text).
    pub enumeration: Vec<(String, String)>,
    /// `PredicateValidationReference`: the groups of predicates a value must satisfy.
    pub predicate_validation: Option<PredicateValidation>,
    /// The claim this one must equal (a confirmation field such as `reenterPassword`).
    pub must_match: Option<ClaimTypeId>,
    pub span: Span,
}

impl ClaimType {
    pub fn new(
        id: impl Into<ClaimTypeId>,
        display_name: impl Into<String>,
        data_type: DataType,
    ) -> Self {
        Self {
            id: id.into(),
            display_name: display_name.into(),
            data_type,
            user_input_type: None,
            user_help_text: None,
            pattern: None,
            enumeration: Vec::new(),
            predicate_validation: None,
            must_match: None,
            span: Span::default(),
        }
    }

    pub fn input(mut self, input: UserInputType) -> Self {
        self.user_input_type = Some(input);
        self
    }

    /// Password fields are secrets: never stored in a journey state, an audit record or a log.
    pub fn is_secret(&self) -> bool {
        self.user_input_type == Some(UserInputType::Password)
    }
}

/// B2C's `PredicateValidation`: every group must hold; a group holds when at least
/// `match_at_least` of its predicates hold (all of them when `None`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredicateValidation {
    pub id: String,
    pub groups: Vec<PredicateGroup>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredicateGroup {
    pub id: String,
    pub help_text: String,
    pub match_at_least: Option<usize>,
    pub predicates: Vec<Predicate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Predicate {
    pub id: String,
    pub help_text: String,
    pub method: PredicateMethod,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredicateMethod {
    /// Length in characters, inclusive bounds.
    IsLengthRange {
        min: usize,
        max: usize,
    },
    /// At least one character of the set (B2C writes sets like `a-z`, `A-Z`, `0-9`).
    IncludesCharacters(String),
    MatchesRegex(PolicyRegex),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pattern {
    pub regex: PolicyRegex,
    pub help_text: String,
}

/// A regular expression written in a policy (`Restriction/Pattern`, the `MatchesRegex`
/// predicate). B2C's are .NET expressions, lookarounds included, so they run on `fancy-regex`.
/// The expression is compiled once, on first use, and the compiled form is shared by every
/// clone of the policy; the link pass calls [`PolicyRegex::compiled`] to report a bad expression
/// at load rather than on a user's submit.
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct PolicyRegex {
    source: String,
    compiled: std::sync::Arc<std::sync::OnceLock<Result<fancy_regex::Regex, String>>>,
}

impl PolicyRegex {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            compiled: Default::default(),
        }
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The compiled expression; `Err` is the compiler's message, the same on every call.
    pub fn compiled(&self) -> Result<&fancy_regex::Regex, String> {
        self.compiled
            .get_or_init(|| {
                fancy_regex::Regex::new(&from_dotnet(&self.source)).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| format!("invalid regular expression '{}': {e}", self.source))
    }

    /// Whether the expression matches anywhere in `value` (.NET's `Regex.IsMatch`: authors
    /// anchor with `^`/`$` themselves). `Err` is a bad expression or a match that exceeded the
    /// backtracking limit.
    pub fn is_match(&self, value: &str) -> Result<bool, String> {
        self.compiled()?
            .is_match(value)
            .map_err(|e| format!("regular expression '{}' failed: {e}", self.source))
    }
}

/// Rewrites the character classes of a .NET expression for `fancy-regex`, whose classes nest and
/// know set operators: inside a class .NET reads `[`, `&` and `~` as literal characters (the
/// starter pack's password pattern has `[\]` in one), so they are escaped; .NET's class
/// subtraction `[a-z-[aeiou]]` becomes the difference `[a-z--[aeiou]]`.
fn from_dotnet(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    // Open classes; a class's first character (after `^`) is literal even when it is `]`.
    let mut depth = 0usize;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let first = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' if depth == 0 => {
                depth = 1;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                class_start = true;
            }
            ']' if depth > 0 && !first => {
                depth -= 1;
                out.push(c);
            }
            '-' if depth > 0 && chars.peek() == Some(&'[') => {
                chars.next();
                depth += 1;
                out.push_str("--[");
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                class_start = true;
            }
            '[' | '&' | '~' if depth > 0 => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

impl fmt::Debug for PolicyRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PolicyRegex").field(&self.source).finish()
    }
}

impl fmt::Display for PolicyRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for PolicyRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for PolicyRegex {}

impl From<String> for PolicyRegex {
    fn from(source: String) -> Self {
        Self::new(source)
    }
}

impl From<&str> for PolicyRegex {
    fn from(source: &str) -> Self {
        Self::new(source)
    }
}

impl From<PolicyRegex> for String {
    fn from(regex: PolicyRegex) -> Self {
        regex.source
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DataType {
    String,
    Boolean,
    Int,
    Long,
    Date,
    DateTime,
    StringCollection,
}

impl DataType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "string" => Self::String,
            "boolean" => Self::Boolean,
            "int" => Self::Int,
            "long" => Self::Long,
            "date" => Self::Date,
            "datetime" => Self::DateTime,
            "stringcollection" => Self::StringCollection,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserInputType {
    TextBox,
    EmailBox,
    Password,
    DateTimeDropdown,
    RadioSingleSelect,
    DropdownSingleSelect,
    CheckboxMultiSelect,
    Readonly,
    Paragraph,
}

impl UserInputType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "textbox" => Self::TextBox,
            "emailbox" => Self::EmailBox,
            "password" => Self::Password,
            "datetimedropdown" => Self::DateTimeDropdown,
            "radiosingleselect" => Self::RadioSingleSelect,
            "dropdownsingleselect" => Self::DropdownSingleSelect,
            "checkboxmultiselect" => Self::CheckboxMultiSelect,
            "readonly" => Self::Readonly,
            "paragraph" => Self::Paragraph,
            _ => return None,
        })
    }
}

/// A claims transformation: a named method over input claims and parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimsTransformation {
    pub id: ClaimsTransformationId,
    pub method: String,
    pub input_claims: Vec<TransformationClaim>,
    pub input_parameters: Vec<TransformationParameter>,
    pub output_claims: Vec<TransformationClaim>,
    pub span: Span,
}

impl ClaimsTransformation {
    /// A transformation from (claim type, transformation claim type) pairs and string
    /// parameters (id, value): what compiled user flows and tests write.
    pub fn from_parts(
        id: &str,
        method: &str,
        inputs: &[(&str, &str)],
        parameters: &[(&str, &str)],
        outputs: &[(&str, &str)],
        span: Span,
    ) -> Self {
        let claims = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(claim, name)| TransformationClaim {
                    claim_type: (*claim).into(),
                    transformation_claim_type: (*name).into(),
                })
                .collect()
        };
        Self {
            id: id.into(),
            method: method.into(),
            input_claims: claims(inputs),
            input_parameters: parameters
                .iter()
                .map(|(id, value)| TransformationParameter {
                    id: (*id).into(),
                    data_type: DataType::String,
                    value: (*value).into(),
                })
                .collect(),
            output_claims: claims(outputs),
            span,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformationClaim {
    pub claim_type: ClaimTypeId,
    pub transformation_claim_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransformationParameter {
    pub id: String,
    pub data_type: DataType,
    pub value: String,
}

/// What a technical profile does: B2C's `Protocol` + `Handler`, named by behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TechnicalProfileKind {
    /// A page that collects claims (`SelfAssertedAttributeProvider`).
    SelfAsserted,
    /// A REST claims exchange (`RestfulProvider`).
    Restful,
    /// Directory read/write (`AzureActiveDirectoryProvider`); `Operation` metadata says which.
    Directory,
    /// A local account's password check: the starter pack's `login-NonInteractive`, an
    /// `OpenIdConnect` profile that B2C runs as a password grant to Entra ID, recognised by its
    /// shape ([`TechnicalProfileKind::is_local_credential_check`]) by both front ends and run
    /// against Trustframe's own directory.
    PasswordCheck,
    /// Runs claims transformations only (`ClaimsTransformationProtocolProvider`).
    ClaimsTransformation,
    /// Issues the token (`JwtIssuer`).
    JwtIssuer,
    /// Federation with an external OpenID Connect provider.
    OpenIdConnect,
    /// One-time password generate/verify (`OneTimePasswordProtocolProvider`); `Operation`
    /// metadata says which (`one-time-password-technical-profile.md`).
    OneTimePassword,
    /// Sends a templated message through the tenant's mailer (`Template` metadata): our stand-in
    /// for B2C's SendGrid RESTful profile or its built-in verification e-mail.
    Mail,
    /// A session management profile (`UseTechnicalProfileForSessionManagement` target): decides
    /// whether a profile that uses it is skipped when the journey continues an SSO session.
    SessionManagement(SessionProvider),
    /// Protocol `None` and other profiles that do nothing at run time but hand on their output
    /// claims (the starter pack's `RefreshTokenReadAndSetup`).
    NoOp,
    /// A protocol this server cannot speak (OAuth1, OAuth2, SAML2 identity providers): the
    /// policy loads, and the profile fails only when a journey reaches it.
    Unsupported { protocol: String },
}

impl TechnicalProfileKind {
    /// Whether an `OpenIdConnect` profile is Entra ID's password grant for local accounts
    /// (`custom-policies-series-sign-up-or-sign-in.md`): its provider is Entra ID
    /// (`ProviderName` `https://sts.windows.net/`, or `METADATA` on login.microsoftonline.com)
    /// and it sends a `password` input claim.
    pub fn is_local_credential_check(
        metadata: impl Fn(&str) -> Option<String>,
        input_claims: impl IntoIterator<Item = String>,
    ) -> bool {
        let has = |key: &str, needle: &str| {
            metadata(key).is_some_and(|v| v.to_ascii_lowercase().contains(needle))
        };
        (has("ProviderName", "sts.windows.net") || has("METADATA", "login.microsoftonline.com"))
            && input_claims
                .into_iter()
                .any(|c| c.eq_ignore_ascii_case("password"))
    }
}

/// B2C's session providers (`custom-policy-reference-sso.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionProvider {
    /// `NoopSSOSessionProvider`: never skips.
    Noop,
    /// `DefaultSSOSessionProvider` (`SM-AAD`, `SM-MFA`): skips the profile in an SSO session and
    /// restores its persisted claims.
    Default,
    /// `ExternalLoginSSOSessionProvider`: as `Default`, for identity providers.
    ExternalLogin,
    /// `OAuthSSOSessionProvider` (`SM-OAuth`, `SM-jwt-issuer`): the token issuer's session.
    OAuth,
    /// `SamlSSOSessionProvider`.
    Saml,
}

impl SessionProvider {
    /// Whether a profile using this provider is skipped when the journey continues a session.
    pub fn skips_in_session(self) -> bool {
        matches!(self, Self::Default | Self::ExternalLogin | Self::Saml)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TechnicalProfile {
    pub id: TechnicalProfileId,
    pub display_name: String,
    pub kind: TechnicalProfileKind,
    /// Metadata items, keys compared without regard to case as B2C does.
    pub metadata: Metadata,
    /// `CryptographicKeys`: key id (`BasicAuthenticationUsername`, …) to a reference into the
    /// key store (`B2C_1A_RestApiUsername`) resolved at run time.
    pub cryptographic_keys: BTreeMap<String, String>,
    pub input_claims: Vec<ClaimRef>,
    pub input_claims_transformations: Vec<ClaimsTransformationId>,
    /// Claims shown on a self-asserted page, in order (B2C's `DisplayClaims`, or the output
    /// claims when a profile has no display claims).
    pub display_claims: Vec<ClaimRef>,
    pub output_claims: Vec<ClaimRef>,
    pub output_claims_transformations: Vec<ClaimsTransformationId>,
    pub persisted_claims: Vec<ClaimRef>,
    pub validation_technical_profiles: Vec<ValidationTechnicalProfile>,
    /// Display controls on the page (B2C's `DisplayClaim DisplayControlReferenceId`, resolved):
    /// each shows some of the display claims together with its actions.
    #[serde(default)]
    pub display_controls: Vec<DisplayControl>,
    /// `UseTechnicalProfileForSessionManagement`: the session profile that decides SSO for it.
    #[serde(default)]
    pub session_management: Option<TechnicalProfileId>,
    /// `IncludeInSso` (B2C's default: true).
    #[serde(default = "default_true")]
    pub include_in_sso: bool,
    /// A RESTful profile's settings, parsed once by [`link::prepare`](crate::link::prepare)
    /// when the policy loads; `None` for other profiles, and for profiles built by hand (the
    /// connector then parses the metadata itself).
    #[serde(skip)]
    pub rest: Option<std::sync::Arc<crate::rest::RestSettings>>,
    /// The settings of a `OneTimePassword` profile, read once by [`crate::link::prepare`].
    #[serde(skip)]
    pub otp: Option<std::sync::Arc<crate::otp::OtpSettings>>,
    pub span: Span,
}

fn default_true() -> bool {
    true
}

impl TechnicalProfile {
    pub fn new(id: impl Into<TechnicalProfileId>, kind: TechnicalProfileKind) -> Self {
        let id = id.into();
        Self {
            display_name: id.to_string(),
            id,
            kind,
            metadata: Metadata::default(),
            cryptographic_keys: BTreeMap::new(),
            input_claims: Vec::new(),
            input_claims_transformations: Vec::new(),
            display_claims: Vec::new(),
            output_claims: Vec::new(),
            output_claims_transformations: Vec::new(),
            persisted_claims: Vec::new(),
            validation_technical_profiles: Vec::new(),
            display_controls: Vec::new(),
            session_management: None,
            include_in_sso: true,
            rest: None,
            otp: None,
            span: Span::default(),
        }
    }
}

/// Metadata items of a technical profile. Keys are matched without regard to case.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metadata {
    items: Vec<(String, String)>,
}

impl Metadata {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// `true`/`false` as B2C writes them; absent or anything else is `default`.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            _ => default,
        }
    }

    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        self.items.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
        self.items.push((key, value.into()));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// An `InputClaim`, `OutputClaim`, `DisplayClaim` or `PersistedClaim`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimRef {
    pub claim_type: ClaimTypeId,
    /// The name the other party uses (`PartnerClaimType`).
    pub partner_claim_type: Option<String>,
    pub default_value: Option<String>,
    pub always_use_default_value: bool,
    pub required: bool,
    pub span: Span,
}

impl ClaimRef {
    pub fn new(claim_type: impl Into<ClaimTypeId>) -> Self {
        Self {
            claim_type: claim_type.into(),
            partner_claim_type: None,
            default_value: None,
            always_use_default_value: false,
            required: false,
            span: Span::default(),
        }
    }

    pub fn partner(mut self, name: impl Into<String>) -> Self {
        self.partner_claim_type = Some(name.into());
        self
    }

    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default_value = Some(value.into());
        self
    }

    pub fn always_default(mut self) -> Self {
        self.always_use_default_value = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The name on the wire: the partner claim type, else the claim type id.
    pub fn partner_name(&self) -> &str {
        self.partner_claim_type
            .as_deref()
            .unwrap_or(self.claim_type.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationTechnicalProfile {
    pub reference_id: TechnicalProfileId,
    pub continue_on_error: bool,
    pub continue_on_success: bool,
    pub preconditions: Vec<Precondition>,
    pub span: Span,
}

impl ValidationTechnicalProfile {
    pub fn new(reference_id: impl Into<TechnicalProfileId>) -> Self {
        Self {
            reference_id: reference_id.into(),
            continue_on_error: false,
            continue_on_success: true,
            preconditions: Vec::new(),
            span: Span::default(),
        }
    }
}

/// A `Precondition`: when it holds, `action` applies (B2C's only action is to skip).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Precondition {
    pub test: PreconditionTest,
    /// `ExecuteActionsIf`: the action runs when the test's result equals this.
    pub execute_actions_if: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreconditionTest {
    ClaimsExist(ClaimTypeId),
    ClaimEquals(ClaimTypeId, String),
}

impl Precondition {
    pub fn skip_if_exists(claim: impl Into<ClaimTypeId>) -> Self {
        Self {
            test: PreconditionTest::ClaimsExist(claim.into()),
            execute_actions_if: true,
            span: Span::default(),
        }
    }

    pub fn skip_unless_exists(claim: impl Into<ClaimTypeId>) -> Self {
        Self {
            test: PreconditionTest::ClaimsExist(claim.into()),
            execute_actions_if: false,
            span: Span::default(),
        }
    }

    pub fn skip_if_equals(claim: impl Into<ClaimTypeId>, value: impl Into<String>) -> Self {
        Self {
            test: PreconditionTest::ClaimEquals(claim.into(), value.into()),
            execute_actions_if: true,
            span: Span::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserJourney {
    pub id: UserJourneyId,
    pub steps: Vec<OrchestrationStep>,
    /// For a `SubJourney`: `Call` returns to the calling journey, `Transfer` replaces it.
    #[serde(default)]
    pub sub_journey_type: Option<SubJourneyType>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubJourneyType {
    Call,
    Transfer,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrchestrationStep {
    pub order: u32,
    pub kind: StepKind,
    /// `ClaimsProviderSelections`: the choices a sign-in page offers (sign-up link, federated
    /// providers), each naming a claims exchange of a later step.
    pub claims_provider_selections: Vec<String>,
    pub claims_exchanges: Vec<ClaimsExchange>,
    pub preconditions: Vec<Precondition>,
    /// `CpimIssuerTechnicalProfileReferenceId` of a `SendClaims` step.
    #[serde(default)]
    pub cpim_issuer: Option<TechnicalProfileId>,
    /// `ContentDefinitionReferenceId`: the page layout of the step.
    #[serde(default)]
    pub content_definition: Option<String>,
    /// The sub journey an `InvokeSubJourney` step runs (`JourneyList/Candidate`).
    #[serde(default)]
    pub sub_journey: Option<UserJourneyId>,
    pub span: Span,
}

impl OrchestrationStep {
    pub fn new(order: u32, kind: StepKind, span: Span) -> Self {
        Self {
            order,
            kind,
            claims_provider_selections: Vec::new(),
            claims_exchanges: Vec::new(),
            preconditions: Vec::new(),
            cpim_issuer: None,
            content_definition: None,
            sub_journey: None,
            span,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A sign-in page that may also offer sign-up and providers.
    CombinedSignInAndSignUp,
    /// A page of provider choices only.
    ClaimsProviderSelection,
    ClaimsExchange,
    SendClaims,
    /// Runs a sub journey (`InvokeSubJourney`).
    InvokeSubJourney,
    /// Reads claims of the request (`GetClaims`): input claims of the relying party.
    GetClaims,
    /// A page that shows claims only (`UserDialog`).
    UserDialog,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimsExchange {
    pub id: String,
    pub technical_profile: TechnicalProfileId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RelyingParty {
    pub default_user_journey: UserJourneyId,
    /// Token claims: claim type, with the token name as partner claim type.
    pub output_claims: Vec<ClaimRef>,
    pub output_claims_transformations: Vec<ClaimsTransformationId>,
    /// `<Endpoint Id="Token" UserJourneyReferenceId=…>`: the journey a refresh runs.
    #[serde(default)]
    pub token_journey: Option<UserJourneyId>,
    /// `SubjectNamingInfo ClaimType`: the token claim that names the user (`sub`).
    #[serde(default)]
    pub subject_claim: Option<String>,
    /// `UserJourneyBehaviors` we honour.
    #[serde(default)]
    pub behaviors: JourneyBehaviors,
    /// The relying party's `InputClaims` (`GetClaims` reads them from the request).
    #[serde(default)]
    pub input_claims: Vec<ClaimRef>,
    pub span: Span,
}

/// `UserJourneyBehaviors` of a relying party (`relyingparty.md`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JourneyBehaviors {
    /// `SingleSignOn Scope`: `Tenant` (default), `Application`, `Policy` or `Suppressed`.
    pub sso_scope: Option<String>,
    /// `SessionExpiryType`: `Rolling` or `Absolute`.
    pub session_expiry_type: Option<String>,
    /// `SessionExpiryInSeconds` (B2C: 900–86400; default 86400).
    pub session_expiry_seconds: Option<u32>,
    /// `ScriptExecution` = `Allow`: the templates' own JavaScript runs
    /// (`javascript-and-page-layout.md`); else their scripts are removed.
    #[serde(default)]
    pub script_execution: bool,
}

/// A `DisplayControl` of type `VerificationControl` (B2C's `display-control-verification.md`):
/// claims shown together on a self-asserted page with actions (send code, verify code). Its
/// output claims are set only once the control has finished (the code was verified), so a page
/// cannot continue with an unverified value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisplayControl {
    pub id: String,
    /// The claims it shows (`email`, `verificationCode`), in order.
    pub display_claims: Vec<ClaimRef>,
    /// The display claim that holds the code the user types (`ControlClaimType="VerificationCode"`).
    pub code_claim: ClaimTypeId,
    /// The claims the control vouches for once verified (`email`).
    pub output_claims: Vec<ClaimRef>,
    pub actions: Vec<DisplayControlAction>,
    pub span: Span,
}

/// An `Action` of a display control: its validation technical profiles run in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DisplayControlAction {
    /// `SendCode` or `VerifyCode`.
    pub id: String,
    pub validation_technical_profiles: Vec<ValidationTechnicalProfile>,
}

impl DisplayControl {
    pub const SEND_CODE: &str = "SendCode";
    pub const VERIFY_CODE: &str = "VerifyCode";

    pub fn action(&self, id: &str) -> Option<&DisplayControlAction> {
        self.actions.iter().find(|a| a.id.eq_ignore_ascii_case(id))
    }

    /// `true` when the control shows this claim.
    pub fn shows(&self, claim: &ClaimTypeId) -> bool {
        self.display_claims.iter().any(|c| &c.claim_type == claim)
    }
}
