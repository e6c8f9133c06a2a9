//! User flows (our TOML) compiled into the journey model, as B2C builds its built-in policies.
//!
//! Nothing downstream knows a policy came from a user flow: the technical profiles, steps and
//! relying party made here are the ones a custom policy would define (the names follow B2C's
//! starter pack so that traces read the same).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::identity_provider::IdentityProvider;
use crate::ids::{
    ClaimTypeId, ClaimsTransformationId, PolicyId, TechnicalProfileId, UserJourneyId,
};
use crate::model::*;
use crate::rest;

mod account;
mod federation;
mod layout;
pub use account::PasswordResetMode;
pub use federation::{FEDERATED_ID, FEDERATED_ISSUER};

/// A bad user flow or API connector: the config key and the reason.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserFlowType {
    SignUpOrSignIn,
    SignUp,
    SignIn,
    PasswordReset,
    ProfileEdit,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConnectorSteps {
    pub post_federation_signup: Option<String>,
    pub post_attribute_collection: Option<String>,
    pub pre_token_issuance: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFlow {
    /// The policy name in URLs (`B2C_1_susi`).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: UserFlowType,
    #[serde(default)]
    pub sign_up_attributes: Vec<String>,
    #[serde(default = "default_application_claims")]
    pub application_claims: Vec<String>,
    #[serde(default)]
    pub api_connectors: ApiConnectorSteps,
    #[serde(default)]
    pub profile_attributes: Vec<String>,
    /// `local` and ids of `[[identity_providers]]`: the sign-in page's choices.
    #[serde(default = "default_identity_providers")]
    pub identity_providers: Vec<String>,
    /// Local sign-up proves the e-mail address by code before the account is written (B2C's
    /// default; `disable-email-verification.md`).
    #[serde(default = "account::default_true")]
    pub email_verification: bool,
    /// What the sign-in page's "Forgot your password?" link does.
    #[serde(default)]
    pub password_reset: PasswordResetMode,
    /// How long a verification code is valid (B2C: 600, 60–1200).
    #[serde(default = "account::default_code_lifetime")]
    pub code_lifetime_seconds: u32,
    /// Templates of this flow's pages by B2C page id (`api.signuporsignin`, …): a file or URL
    /// into whose `<div id="api">` the page's form goes (`customize-ui-with-html.md`).
    #[serde(default)]
    pub page_layouts: BTreeMap<String, String>,
}

fn default_identity_providers() -> Vec<String> {
    vec![crate::identity_provider::LOCAL.to_owned()]
}

fn default_application_claims() -> Vec<String> {
    [
        "email",
        "givenName",
        "surname",
        "displayName",
        "objectId",
        "identityProvider",
        "newUser",
    ]
    .map(String::from)
    .to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    String,
    Boolean,
    Int,
}

/// A custom attribute: claim type `extension_<name>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAttribute {
    pub name: String,
    #[serde(rename = "type", default = "default_attribute_type")]
    pub kind: AttributeType,
    pub display_name: Option<String>,
}

fn default_attribute_type() -> AttributeType {
    AttributeType::String
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ApiConnectorAuth {
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer {
        token: String,
    },
    /// A PEM file holding the certificate and its key (or a PKCS#12 file with `password`).
    ClientCertificate {
        certificate: PathBuf,
        password: Option<String>,
    },
    ApiKey {
        header: String,
        key: String,
    },
    ClientCredentials {
        token_endpoint: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
    },
}

/// An API connector (`add-api-connector.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConnector {
    pub name: String,
    pub url: String,
    #[serde(default = "default_auth")]
    pub auth: ApiConnectorAuth,
    /// Allows `http://` and `auth = none` (development).
    #[serde(default)]
    pub allow_insecure: bool,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_auth() -> ApiConnectorAuth {
    ApiConnectorAuth::None
}
fn default_timeout() -> u64 {
    20
}
fn default_retries() -> u32 {
    1
}

/// A secret an API connector needs, as the key store will hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    Inline(String),
    /// Read from this file by the caller (paths resolve against the config's folder).
    File(PathBuf),
}

impl ApiConnector {
    fn key_reference(&self, key: &str) -> String {
        format!("api_connector/{}/{key}", self.name)
    }

    /// The key-store entries this connector's technical profile refers to.
    pub fn secrets(&self) -> Vec<(String, SecretSource)> {
        let inline =
            |key: &str, v: &str| (self.key_reference(key), SecretSource::Inline(v.to_owned()));
        match &self.auth {
            ApiConnectorAuth::None => Vec::new(),
            ApiConnectorAuth::Basic { username, password } => vec![
                inline(rest::KEY_BASIC_USERNAME, username),
                inline(rest::KEY_BASIC_PASSWORD, password),
            ],
            ApiConnectorAuth::Bearer { token } => vec![inline(rest::KEY_BEARER_TOKEN, token)],
            ApiConnectorAuth::ClientCertificate {
                certificate,
                password,
            } => {
                let mut v = vec![(
                    self.key_reference(rest::KEY_CLIENT_CERTIFICATE),
                    SecretSource::File(certificate.clone()),
                )];
                if let Some(p) = password {
                    v.push(inline("ClientCertificatePassword", p));
                }
                v
            }
            ApiConnectorAuth::ApiKey { header, key } => vec![inline(header, key)],
            ApiConnectorAuth::ClientCredentials {
                client_id,
                client_secret,
                ..
            } => vec![
                inline(rest::KEY_CLIENT_ID, client_id),
                inline(rest::KEY_CLIENT_SECRET, client_secret),
            ],
        }
    }
}

/// What a user flow needs from the tenant.
#[derive(Debug, Clone)]
pub struct TenantContext<'a> {
    /// `contoso.onmicrosoft.com`: the issuer of local identities.
    pub domain: &'a str,
    /// 32 hex digits: names custom attributes `extension_<id>_<name>` toward APIs.
    pub extensions_app_id: &'a str,
    pub attributes: &'a [UserAttribute],
    pub api_connectors: &'a [ApiConnector],
    pub identity_providers: &'a [IdentityProvider],
    /// `[ui] page_layouts`: templates for every flow's pages, by B2C page id.
    pub page_layouts: &'a BTreeMap<String, String>,
}

/// Checks a `page_layouts` table (`[ui]`'s or a flow's): its keys are B2C's page ids.
pub fn check_page_layouts(
    key: &str,
    layouts: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    layout::check(key, layouts)
}

/// No templates: every page in the built-in layout.
pub static NO_PAGE_LAYOUTS: BTreeMap<String, String> = BTreeMap::new();

/// Built-in user attributes: claim id, label, token claim name.
const BUILT_IN: &[(&str, &str, &str)] = &[
    ("email", "Email Address", "emails"),
    ("givenName", "Given Name", "given_name"),
    ("surname", "Surname", "family_name"),
    ("displayName", "Display Name", "name"),
    ("objectId", "User's Object ID", "oid"),
    ("identityProvider", "Identity Provider", "idp"),
    ("newUser", "User is new", "newUser"),
    ("city", "City", "city"),
    ("country", "Country/Region", "country"),
    ("postalCode", "Postal Code", "postalCode"),
    ("state", "State/Province", "state"),
    ("streetAddress", "Street Address", "streetAddress"),
    ("jobTitle", "Job Title", "jobTitle"),
];

/// Attributes a user can be asked for.
const COLLECTABLE: &[&str] = &[
    "givenName",
    "surname",
    "displayName",
    "city",
    "country",
    "postalCode",
    "state",
    "streetAddress",
    "jobTitle",
];

const EMAIL_PATTERN: &str = r"^[a-zA-Z0-9.!#$%&'^_`{}~+-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*$";

fn claim(id: &str, label: &str, data_type: DataType) -> ClaimType {
    ClaimType::new(id, label, data_type)
}

/// B2C's "Strong" password rule (`password-complexity.md`): 8–64 characters, 3 of 4 character
/// classes.
pub fn strong_password() -> PredicateValidation {
    let classes: [(&str, &str); 4] = [
        ("Lowercase", "a-z"),
        ("Uppercase", "A-Z"),
        ("Number", "0-9"),
        ("Symbol", "@#$%^&*\\-_+=[]{}|\\\\:',?/`~\"();!"),
    ];
    PredicateValidation {
        id: "StrongPassword".into(),
        groups: vec![
            PredicateGroup {
                id: "Length".into(),
                help_text: "The password must be between 8 and 64 characters.".into(),
                match_at_least: None,
                predicates: vec![Predicate {
                    id: "IsLengthBetween8And64".into(),
                    help_text: String::new(),
                    method: PredicateMethod::IsLengthRange { min: 8, max: 64 },
                }],
            },
            PredicateGroup {
                id: "CharacterClasses".into(),
                help_text: "The password must have at least 3 of the following: a lowercase letter, an uppercase letter, a digit, a symbol.".into(),
                match_at_least: Some(3),
                predicates: classes
                    .iter()
                    .map(|(id, set)| Predicate {
                        id: (*id).into(),
                        help_text: String::new(),
                        method: PredicateMethod::IncludesCharacters((*set).into()),
                    })
                    .collect(),
            },
        ],
    }
}

fn schema(tenant: &TenantContext<'_>) -> ClaimsSchema {
    let mut types = vec![
        claim("objectId", "User's Object ID", DataType::String),
        claim("signInName", "Email Address", DataType::String).input(UserInputType::EmailBox),
        claim("password", "Password", DataType::String).input(UserInputType::Password),
        {
            let mut c =
                claim("email", "Email Address", DataType::String).input(UserInputType::EmailBox);
            c.pattern = Some(Pattern {
                regex: EMAIL_PATTERN.into(),
                help_text: "Please enter a valid email address.".into(),
            });
            c
        },
        {
            let mut c = claim("newPassword", "New Password", DataType::String)
                .input(UserInputType::Password);
            c.predicate_validation = Some(strong_password());
            c
        },
        {
            let mut c = claim("reenterPassword", "Confirm New Password", DataType::String)
                .input(UserInputType::Password);
            c.must_match = Some("newPassword".into());
            c
        },
        claim("newUser", "User is new", DataType::Boolean),
        claim("emails", "Email Addresses", DataType::StringCollection),
        claim("identities", "Identities", DataType::String),
        claim("identityProvider", "Identity Provider", DataType::String),
        claim(
            crate::identity_provider::ISSUER_USER_ID,
            "Issuer user id",
            DataType::String,
        ),
    ];
    for name in COLLECTABLE {
        if let Some((id, label, _)) = BUILT_IN.iter().find(|(id, _, _)| id == name) {
            types.push(claim(id, label, DataType::String).input(UserInputType::TextBox));
        }
    }
    for a in tenant.attributes {
        let (data_type, input) = match a.kind {
            AttributeType::String => (DataType::String, UserInputType::TextBox),
            AttributeType::Int => (DataType::Int, UserInputType::TextBox),
            AttributeType::Boolean => (DataType::Boolean, UserInputType::CheckboxMultiSelect),
        };
        let label = a.display_name.clone().unwrap_or_else(|| a.name.clone());
        types.push(claim(&format!("extension_{}", a.name), &label, data_type).input(input));
    }
    ClaimsSchema {
        claim_types: types.into_iter().map(|t| (t.id.clone(), t)).collect(),
    }
}

/// Every attribute of the flow's tenant, as claim ids (built-in collectable and custom).
fn all_attributes(tenant: &TenantContext<'_>) -> Vec<String> {
    let mut v: Vec<String> = COLLECTABLE.iter().map(|s| (*s).to_owned()).collect();
    v.extend(
        tenant
            .attributes
            .iter()
            .map(|a| format!("extension_{}", a.name)),
    );
    v
}

fn check_attribute(
    tenant: &TenantContext<'_>,
    key: &str,
    name: &str,
    allow: &[&str],
) -> Result<(), ConfigError> {
    let known = COLLECTABLE.contains(&name)
        || allow.contains(&name)
        || name
            .strip_prefix("extension_")
            .is_some_and(|n| tenant.attributes.iter().any(|a| a.name == n));
    if known {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            format!(
                "'{name}' is not a user attribute (built-in: {}; custom attributes are 'extension_<name>' of a [[user_attributes]] entry)",
                COLLECTABLE.join(", ")
            ),
        ))
    }
}

struct Builder<'a> {
    tenant: &'a TenantContext<'a>,
    index: usize,
    profiles: BTreeMap<TechnicalProfileId, TechnicalProfile>,
    transformations: BTreeMap<ClaimsTransformationId, ClaimsTransformation>,
    span: Span,
}

impl Builder<'_> {
    fn key(&self, field: &str) -> String {
        format!("user_flows[{}].{field}", self.index)
    }

    fn add(&mut self, mut profile: TechnicalProfile) -> TechnicalProfileId {
        profile.span = self.span.clone();
        let id = profile.id.clone();
        self.profiles.insert(id.clone(), profile);
        id
    }

    fn transformation(
        &mut self,
        id: &str,
        method: &str,
        inputs: &[(&str, &str)],
        params: &[(&str, &str)],
        outputs: &[(&str, &str)],
    ) -> ClaimsTransformationId {
        let t = ClaimsTransformation::from_parts(
            id,
            method,
            inputs,
            params,
            outputs,
            self.span.clone(),
        );
        let id = t.id.clone();
        self.transformations.insert(id.clone(), t);
        id
    }

    /// The claim name an API connector uses: Graph's, with custom attributes as
    /// `extension_<extensions app id>_<name>` (`add-api-connector.md`).
    fn graph_name(&self, claim: &str) -> String {
        match claim.strip_prefix("extension_") {
            Some(name) => format!("extension_{}_{name}", self.tenant.extensions_app_id),
            None => claim.to_owned(),
        }
    }

    /// A RESTful technical profile with the API-connector contract, for one step.
    fn api_connector(
        &mut self,
        step_field: &str,
        step: &str,
        name: &str,
        sent: &[String],
    ) -> Result<TechnicalProfileId, ConfigError> {
        let key = self.key(&format!("api_connectors.{step_field}"));
        let connector = self
            .tenant
            .api_connectors
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                ConfigError::new(
                    &key,
                    format!("no [[api_connectors]] entry is named '{name}'"),
                )
            })?;
        let mut tp = TechnicalProfile::new(
            format!("REST-ApiConnector-{step}-{name}"),
            TechnicalProfileKind::Restful,
        );
        tp.display_name = format!("API connector '{name}' ({step})");
        let m = &mut tp.metadata;
        m.insert(rest::SERVICE_URL, connector.url.clone());
        m.insert(rest::SEND_CLAIMS_IN, "Body");
        m.insert(rest::API_CONNECTOR_STEP, step);
        m.insert(rest::EXTENSIONS_APP_ID, self.tenant.extensions_app_id);
        m.insert(rest::TIMEOUT_SECONDS, connector.timeout_seconds.to_string());
        m.insert(rest::RETRIES, connector.retries.to_string());
        if connector.allow_insecure {
            m.insert(rest::ALLOW_INSECURE_AUTH_IN_PRODUCTION, "true");
        }
        let auth = match &connector.auth {
            ApiConnectorAuth::None => "None",
            ApiConnectorAuth::Basic { .. } => "Basic",
            ApiConnectorAuth::Bearer { .. } => "Bearer",
            ApiConnectorAuth::ClientCertificate { .. } => "ClientCertificate",
            ApiConnectorAuth::ApiKey { .. } => "ApiKeyHeader",
            ApiConnectorAuth::ClientCredentials {
                token_endpoint,
                scope,
                ..
            } => {
                m.insert(rest::TOKEN_ENDPOINT, token_endpoint.clone());
                if let Some(s) = scope {
                    m.insert(rest::TOKEN_SCOPE, s.clone());
                }
                "ClientCredentials"
            }
        };
        m.insert(rest::AUTHENTICATION_TYPE, auth);
        for (reference, _) in connector.secrets() {
            if let Some(key_id) = reference.rsplit('/').next() {
                tp.cryptographic_keys
                    .insert(key_id.to_owned(), reference.clone());
            }
        }
        let mut inputs = vec![
            "email".to_owned(),
            "identities".to_owned(),
            "displayName".to_owned(),
            "objectId".to_owned(),
        ];
        inputs.extend(
            sent.iter()
                .filter(|s| !inputs.contains(s))
                .cloned()
                .collect::<Vec<_>>(),
        );
        tp.input_claims = inputs
            .iter()
            .map(|c| ClaimRef::new(c.as_str()).partner(self.graph_name(c)))
            .collect();
        // Any attribute may come back; `email` cannot be overwritten
        // (`add-api-connector-token-enrichment.md`).
        let mut outputs = all_attributes(self.tenant);
        outputs.retain(|c| c != "email");
        tp.output_claims = outputs
            .iter()
            .map(|c| ClaimRef::new(c.as_str()).partner(self.graph_name(c)))
            .collect();
        Ok(self.add(tp))
    }
}

/// Compiles one user flow into a policy. `index` is the flow's place in `[[user_flows]]`, for
/// error keys.
pub fn compile(
    flow: &UserFlow,
    index: usize,
    tenant: &TenantContext<'_>,
) -> Result<Policy, ConfigError> {
    let span = Span::new(format!("user_flows[{index}] ({})", flow.id), 0, 0);
    let mut b = Builder {
        tenant,
        index,
        profiles: BTreeMap::new(),
        transformations: BTreeMap::new(),
        span: span.clone(),
    };
    if flow.id.trim().is_empty() || flow.id.contains(['/', '?', '#', ' ']) {
        return Err(ConfigError::new(
            b.key("id"),
            "must be a non-empty policy name without '/', '?', '#' or spaces",
        ));
    }
    for a in &flow.sign_up_attributes {
        check_attribute(tenant, &b.key("sign_up_attributes"), a, &[])?;
    }
    for a in &flow.profile_attributes {
        check_attribute(tenant, &b.key("profile_attributes"), a, &[])?;
    }
    for c in &flow.application_claims {
        let built_in = BUILT_IN.iter().any(|(id, _, _)| id == c);
        if !built_in {
            check_attribute(tenant, &b.key("application_claims"), c, &[])?;
        }
    }
    account::check(&b, flow)?;
    layout::check(&b.key("page_layouts"), &flow.page_layouts)?;
    if flow.kind == UserFlowType::SignIn && flow.api_connectors.post_attribute_collection.is_some()
    {
        return Err(ConfigError::new(
            b.key("api_connectors.post_attribute_collection"),
            "a sign_in flow has no sign-up step to call it at",
        ));
    }
    let flow_providers = federation::providers(&b, flow)?;

    // Sign-in page and its password check: the starter pack's `login-NonInteractive`, an
    // OpenID Connect profile toward Entra ID, which both front ends recognise by its shape.
    let mut password_check =
        TechnicalProfile::new("login-NonInteractive", TechnicalProfileKind::OpenIdConnect);
    password_check.display_name = "Local account sign-in".into();
    password_check
        .metadata
        .insert("ProviderName", "https://sts.windows.net/");
    password_check.input_claims = vec![
        ClaimRef::new("signInName").partner("username").required(),
        ClaimRef::new("password").required(),
    ];
    if TechnicalProfileKind::is_local_credential_check(
        |key| password_check.metadata.get(key).map(str::to_owned),
        password_check
            .input_claims
            .iter()
            .map(|c| c.claim_type.to_string()),
    ) {
        password_check.kind = TechnicalProfileKind::PasswordCheck;
    }
    password_check.output_claims = vec![ClaimRef::new("objectId")];
    let password_check = b.add(password_check);

    let mut sign_in = TechnicalProfile::new(
        "SelfAsserted-LocalAccountSignin-Email",
        TechnicalProfileKind::SelfAsserted,
    );
    sign_in.display_name = "Sign in with your email address".into();
    sign_in.input_claims = vec![ClaimRef::new("signInName").default_value("{OIDC:LoginHint}")];
    sign_in.output_claims = vec![
        ClaimRef::new("signInName").required(),
        ClaimRef::new("password").required(),
    ];
    sign_in.validation_technical_profiles = vec![ValidationTechnicalProfile::new(password_check)];
    let sign_in = b.add(sign_in);

    // Sign-up page: email, passwords, the flow's attributes; the user is written only after
    // every validation (API connector first) has passed.
    let mut write = TechnicalProfile::new(
        "AAD-UserWriteUsingLogonEmail",
        TechnicalProfileKind::Directory,
    );
    write.metadata.insert("Operation", "Write");
    write
        .metadata
        .insert("RaiseErrorIfClaimsPrincipalAlreadyExists", "true");
    write.input_claims = vec![
        ClaimRef::new("email")
            .partner("signInNames.emailAddress")
            .required(),
    ];
    write.persisted_claims = vec![
        ClaimRef::new("email"),
        ClaimRef::new("newPassword").partner("password"),
    ];
    write.persisted_claims.extend(
        all_attributes(tenant)
            .iter()
            .map(|a| ClaimRef::new(a.as_str())),
    );
    write.output_claims = vec![ClaimRef::new("objectId"), ClaimRef::new("newUser")];
    let write = b.add(write);

    let mut sign_up = TechnicalProfile::new(
        "LocalAccountSignUpWithLogonEmail",
        TechnicalProfileKind::SelfAsserted,
    );
    sign_up.display_name = "Sign up with your email address".into();
    sign_up.display_claims = vec![
        ClaimRef::new("email").required(),
        ClaimRef::new("newPassword").required(),
        ClaimRef::new("reenterPassword").required(),
    ];
    sign_up.display_claims.extend(
        flow.sign_up_attributes
            .iter()
            .map(|a| ClaimRef::new(a.as_str()).required()),
    );
    sign_up.output_claims = sign_up.display_claims.clone();
    if let Some(name) = &flow.api_connectors.post_attribute_collection {
        let identities = b.transformation(
            "CreateLocalIdentities",
            "CreateIdentitiesCollection",
            &[("email", "issuerAssignedId")],
            &[("signInType", "emailAddress"), ("issuer", tenant.domain)],
            &[("identities", "collection")],
        );
        let rest = b.api_connector(
            "post_attribute_collection",
            "PostAttributeCollection",
            name,
            &flow.sign_up_attributes,
        )?;
        if let Some(p) = b.profiles.get_mut(&rest) {
            p.input_claims_transformations.push(identities);
        }
        sign_up
            .validation_technical_profiles
            .push(ValidationTechnicalProfile::new(rest));
    }
    sign_up
        .validation_technical_profiles
        .push(ValidationTechnicalProfile::new(write));
    let sign_up = b.add(sign_up);

    let mut read =
        TechnicalProfile::new("AAD-UserReadUsingObjectId", TechnicalProfileKind::Directory);
    read.metadata.insert("Operation", "Read");
    read.metadata
        .insert("RaiseErrorIfClaimsPrincipalDoesNotExist", "true");
    read.input_claims = vec![ClaimRef::new("objectId").required()];
    read.output_claims = vec![ClaimRef::new("email"), ClaimRef::new("identities")];
    read.output_claims.extend(
        all_attributes(tenant)
            .iter()
            .map(|a| ClaimRef::new(a.as_str())),
    );
    let read = b.add(read);

    let federated = federation::build(&mut b, flow, &flow_providers.external)?;

    let issuer = b.add(TechnicalProfile::new(
        "JwtIssuer",
        TechnicalProfileKind::JwtIssuer,
    ));

    let exchange = |id: &str, tp: &TechnicalProfileId| ClaimsExchange {
        id: id.into(),
        technical_profile: tp.clone(),
    };
    let step = |order: u32, kind: StepKind| OrchestrationStep::new(order, kind, span.clone());
    let mut steps = Vec::new();
    match flow.kind {
        UserFlowType::PasswordReset => steps = account::password_reset_steps(&mut b, flow),
        UserFlowType::SignUp => {
            let mut s = step(1, StepKind::ClaimsExchange);
            s.claims_exchanges = vec![exchange("SignUpWithLogonEmailExchange", &sign_up)];
            steps.push(s);
        }
        _ => {
            let local = flow_providers.local;
            let local_sign_up = local && flow.kind == UserFlowType::SignUpOrSignIn;
            let mut s = if local {
                let mut s = step(1, StepKind::CombinedSignInAndSignUp);
                s.claims_exchanges = vec![exchange("LocalAccountSigninEmailExchange", &sign_in)];
                s
            } else {
                step(1, StepKind::ClaimsProviderSelection)
            };
            if local_sign_up {
                s.claims_provider_selections = vec!["SignUpWithLogonEmailExchange".into()];
            }
            let mut chosen = Vec::new();
            if local_sign_up {
                chosen.push(exchange("SignUpWithLogonEmailExchange", &sign_up));
            }
            if let Some(f) = &federated {
                s.claims_provider_selections
                    .extend(f.exchanges.iter().map(|e| e.id.clone()));
                chosen.extend(f.exchanges.iter().cloned());
            }
            steps.push(s);
            if !chosen.is_empty() {
                let mut s = step(2, StepKind::ClaimsExchange);
                s.claims_exchanges = chosen;
                s.preconditions = vec![Precondition::skip_if_exists("objectId")];
                steps.push(s);
            }
            if let Some(f) = &federated {
                for (id, tp) in &f.steps {
                    let mut s = step(0, StepKind::ClaimsExchange);
                    s.claims_exchanges = vec![exchange(id, tp)];
                    s.preconditions = federation::after_federation();
                    steps.push(s);
                }
            }
        }
    }
    account::local_account(&mut b, flow, &mut steps);
    let mut s = step(0, StepKind::ClaimsExchange);
    s.claims_exchanges = vec![exchange("AADUserReadWithObjectId", &read)];
    steps.push(s);
    if flow.kind == UserFlowType::ProfileEdit {
        steps.push(account::profile_edit_step(&mut b, flow));
    }
    if let Some(name) = &flow.api_connectors.pre_token_issuance {
        let rest = b.api_connector(
            "pre_token_issuance",
            "PreTokenIssuance",
            name,
            &all_attributes(tenant),
        )?;
        let mut s = step(0, StepKind::ClaimsExchange);
        s.claims_exchanges = vec![exchange("PreTokenIssuanceExchange", &rest)];
        steps.push(s);
    }
    let mut s = step(0, StepKind::SendClaims);
    s.cpim_issuer = Some(issuer);
    steps.push(s);
    for (i, s) in steps.iter_mut().enumerate() {
        s.order = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }

    // Token claims under B2C's names; `emails` is a collection made from `email`.
    let emails = b.transformation(
        "CreateEmailsFromEmail",
        "AddItemToStringCollection",
        &[("email", "item"), ("emails", "collection")],
        &[],
        &[("emails", "collection")],
    );
    let output_claims = flow
        .application_claims
        .iter()
        .map(|c| {
            let token_name = BUILT_IN
                .iter()
                .find(|(id, _, _)| id == c)
                .map(|(_, _, t)| (*t).to_owned())
                .unwrap_or_else(|| c.clone());
            let claim_type = if c == "email" {
                "emails".to_owned()
            } else {
                c.clone()
            };
            ClaimRef::new(claim_type).partner(token_name)
        })
        .collect();

    let journey_id = UserJourneyId::new(flow.id.clone());
    let journey = UserJourney {
        id: journey_id.clone(),
        steps,
        sub_journey_type: None,
        span: span.clone(),
    };
    let mut policy = Policy {
        id: PolicyId::new(flow.id.clone()),
        claims_schema: {
            let mut s = schema(tenant);
            account::extend_schema(&mut s);
            s
        },
        claims_transformations: b.transformations,
        technical_profiles: b.profiles,
        user_journeys: [(journey_id.clone(), journey)].into_iter().collect(),
        sub_journeys: BTreeMap::new(),
        relying_party: RelyingParty {
            default_user_journey: journey_id,
            output_claims,
            output_claims_transformations: vec![emails],
            token_journey: None,
            subject_claim: None,
            behaviors: JourneyBehaviors::default(),
            input_claims: Vec::new(),
            span: span.clone(),
        },
        content_definitions: BTreeMap::new(),
        span: span.clone(),
    };
    layout::apply(tenant, &span, flow, &mut policy);
    Ok(policy)
}

/// Claim ids of the built-in attributes a flow may name.
pub fn built_in_attribute(claim: &ClaimTypeId) -> bool {
    BUILT_IN.iter().any(|(id, _, _)| claim == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant<'a>(
        attributes: &'a [UserAttribute],
        connectors: &'a [ApiConnector],
    ) -> TenantContext<'a> {
        TenantContext {
            domain: "contoso.onmicrosoft.com",
            extensions_app_id: "0123456789abcdef0123456789abcdef",
            attributes,
            api_connectors: connectors,
            identity_providers: &[],
            page_layouts: &NO_PAGE_LAYOUTS,
        }
    }

    fn flow(toml_text: &str) -> UserFlow {
        match toml::from_str(toml_text) {
            Ok(f) => f,
            Err(e) => panic!("bad test flow: {e}"),
        }
    }

    #[test]
    fn sign_up_or_sign_in_has_b2c_steps_and_token_names() {
        let attrs = [UserAttribute {
            name: "loyaltyNumber".into(),
            kind: AttributeType::String,
            display_name: None,
        }];
        let connectors = [ApiConnector {
            name: "enrich".into(),
            url: "https://127.0.0.1:9/enrich".into(),
            auth: ApiConnectorAuth::Basic {
                username: "u".into(),
                password: "p".into(),
            },
            allow_insecure: false,
            timeout_seconds: 20,
            retries: 1,
        }];
        let f = flow(
            r#"id = "B2C_1_susi"
type = "sign_up_or_sign_in"
sign_up_attributes = ["givenName", "extension_loyaltyNumber"]
application_claims = ["email", "givenName", "objectId", "extension_loyaltyNumber"]
api_connectors = { pre_token_issuance = "enrich" }"#,
        );
        let policy = compile(&f, 0, &tenant(&attrs, &connectors)).unwrap_or_else(|e| panic!("{e}"));
        let journey = policy.journey().unwrap_or_else(|| panic!("no journey"));
        let kinds: Vec<StepKind> = journey.steps.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                StepKind::CombinedSignInAndSignUp,
                StepKind::ClaimsExchange,
                // NewCredentials: the self-service password reset (account.rs).
                StepKind::ClaimsExchange,
                StepKind::ClaimsExchange,
                StepKind::ClaimsExchange,
                StepKind::SendClaims
            ]
        );
        let names: Vec<String> = policy.token_claim_names();
        assert_eq!(
            names,
            ["emails", "given_name", "oid", "extension_loyaltyNumber"]
        );
        let rest = policy
            .technical_profiles
            .values()
            .find(|p| p.kind == TechnicalProfileKind::Restful)
            .unwrap_or_else(|| panic!("no REST profile"));
        assert_eq!(
            rest.metadata.get("apiconnectorstep"),
            Some("PreTokenIssuance")
        );
        assert!(rest.input_claims.iter().any(
            |c| c.partner_name() == "extension_0123456789abcdef0123456789abcdef_loyaltyNumber"
        ));
        assert_eq!(
            rest.cryptographic_keys
                .get(rest::KEY_BASIC_PASSWORD)
                .map(String::as_str),
            Some("api_connector/enrich/BasicAuthenticationPassword")
        );
    }

    #[test]
    fn unknown_attribute_and_connector_name_the_key() {
        let f = flow("id = \"B2C_1_x\"\ntype = \"sign_up\"\nsign_up_attributes = [\"shoeSize\"]");
        let err = compile(&f, 2, &tenant(&[], &[])).err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.key == "user_flows[2].sign_up_attributes"
                    && e.message.contains("shoeSize")),
            "{err:?}"
        );
        let f = flow(
            "id = \"B2C_1_x\"\ntype = \"sign_up\"\napi_connectors = { post_attribute_collection = \"nope\" }",
        );
        let err = compile(&f, 0, &tenant(&[], &[])).err();
        assert!(
            err.is_some_and(|e| e.key == "user_flows[0].api_connectors.post_attribute_collection")
        );
    }
}
