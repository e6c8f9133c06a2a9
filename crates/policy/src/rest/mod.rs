//! RESTful technical profiles (`restful-technical-profile.md`) and API connectors
//! (`add-api-connector.md`): their metadata keys, and [`RestSettings`], the typed settings
//! parsed from them once, when a policy loads.
//!
//! B2C's own keys keep B2C's spelling. The keys marked "ours" carry what B2C configures
//! elsewhere (API connector settings in the portal) or does not let you configure (timeouts).

mod settings;

pub use settings::{
    ApiConnectorStep, Authentication, CircuitBreaker, HttpBinding, RestSettings, RestSettingsError,
    SendClaimsIn, UrlPart, UrlTemplate, UserMessages,
};

pub const SERVICE_URL: &str = "ServiceUrl";
pub const SEND_CLAIMS_IN: &str = "SendClaimsIn";
pub const HTTP_BINDING: &str = "HttpBinding";
pub const CLAIM_USED_FOR_REQUEST_PAYLOAD: &str = "ClaimUsedForRequestPayload";
pub const AUTHENTICATION_TYPE: &str = "AuthenticationType";
pub const ALLOW_INSECURE_AUTH_IN_PRODUCTION: &str = "AllowInsecureAuthInProduction";
pub const USE_CLAIM_AS_BEARER_TOKEN: &str = "UseClaimAsBearerToken";
pub const RESOLVE_JSON_PATHS_IN_JSON_TOKENS: &str = "ResolveJsonPathsInJsonTokens";
pub const INCLUDE_CLAIM_RESOLVING_IN_CLAIMS_HANDLING: &str =
    "IncludeClaimResolvingInClaimsHandling";
pub const DEBUG_MODE: &str = "DebugMode";
pub const DEFAULT_USER_MESSAGE_IF_REQUEST_FAILED: &str = "DefaultUserMessageIfRequestFailed";
pub const USER_MESSAGE_IF_CIRCUIT_OPEN: &str = "UserMessageIfCircuitOpen";
pub const USER_MESSAGE_IF_DNS_RESOLUTION_FAILED: &str = "UserMessageIfDnsResolutionFailed";
pub const USER_MESSAGE_IF_REQUEST_TIMEOUT: &str = "UserMessageIfRequestTimeout";

/// Ours: the API-connector contract and its step (`PostFederationSignup`,
/// `PostAttributeCollection`, `PreTokenIssuance`). Absent: the RESTful technical profile contract.
pub const API_CONNECTOR_STEP: &str = "ApiConnectorStep";
/// Ours: the extensions app id (32 hex digits) that names custom attributes in API-connector
/// requests: `extension_<id>_<name>`.
pub const EXTENSIONS_APP_ID: &str = "ExtensionsAppId";
/// Ours: per-try timeout in seconds (B2C: 30 for technical profiles, 20 for API connectors).
pub const TIMEOUT_SECONDS: &str = "TimeoutSeconds";
/// Ours: retries after the first try (B2C: 2 for technical profiles, 1 for API connectors).
pub const RETRIES: &str = "Retries";
/// Ours: the largest response body accepted, in bytes (default 1 MiB).
pub const MAX_RESPONSE_BYTES: &str = "MaxResponseBytes";
/// Ours: consecutive failed exchanges (timeout, DNS, connection, 5xx) that open the circuit to
/// the API (default 5; 0 disables the circuit breaker).
pub const CIRCUIT_BREAKER_FAILURES: &str = "CircuitBreakerFailures";
/// Ours: how long an open circuit refuses calls before one trial call, in seconds (default 30).
pub const CIRCUIT_BREAKER_SECONDS: &str = "CircuitBreakerSeconds";
/// Ours: with `AuthenticationType` `ClientCredentials`, the token endpoint and scope.
pub const TOKEN_ENDPOINT: &str = "TokenEndpoint";
pub const TOKEN_SCOPE: &str = "TokenScope";

/// Cryptographic key ids (the `Id` of a `Key` element).
pub const KEY_BASIC_USERNAME: &str = "BasicAuthenticationUsername";
pub const KEY_BASIC_PASSWORD: &str = "BasicAuthenticationPassword";
pub const KEY_BEARER_TOKEN: &str = "BearerAuthenticationToken";
pub const KEY_CLIENT_CERTIFICATE: &str = "ClientCertificate";
/// Ours, for `ClientCredentials`.
pub const KEY_CLIENT_ID: &str = "ClientId";
pub const KEY_CLIENT_SECRET: &str = "ClientSecret";
