//! Metadata of the one-time password technical profile
//! (`one-time-password-technical-profile.md`), with B2C's defaults, and of the mail profile that
//! sends the code.

/// `GenerateCode` or `VerifyCode`.
pub const OPERATION: &str = "Operation";
pub const GENERATE_CODE: &str = "GenerateCode";
pub const VERIFY_CODE: &str = "VerifyCode";
/// How long a code is valid; B2C: 600 (60–1200).
pub const CODE_EXPIRATION_IN_SECONDS: &str = "CodeExpirationInSeconds";
pub const DEFAULT_CODE_EXPIRATION_IN_SECONDS: u32 = 600;
/// Digits in a code; B2C: 6 (4–10).
pub const CODE_LENGTH: &str = "CodeLength";
pub const DEFAULT_CODE_LENGTH: u32 = 6;
/// The characters of a code; B2C: `0-9`.
pub const CHARACTER_SET: &str = "CharacterSet";
/// Wrong tries before the code is void and a new one is needed; B2C: 5.
pub const NUM_RETRY_ATTEMPTS: &str = "NumRetryAttempts";
pub const DEFAULT_NUM_RETRY_ATTEMPTS: u32 = 5;
/// Codes one identifier may be sent in one journey; B2C: 10.
pub const NUM_CODE_GENERATION_ATTEMPTS: &str = "NumCodeGenerationAttempts";
pub const DEFAULT_NUM_CODE_GENERATION_ATTEMPTS: u32 = 10;

/// Messages a policy may override (B2C's `UserMessageIf…` metadata).
pub const MESSAGE_INVALID_CODE: &str = "UserMessageIfInvalidCode";
pub const MESSAGE_CODE_EXPIRED: &str = "UserMessageIfSessionDoesNotExist";
pub const MESSAGE_MAX_RETRY: &str = "UserMessageIfMaxRetryAttempted";
pub const MESSAGE_MAX_CODES: &str = "UserMessageIfMaxNumberOfCodeGenerated";

/// The mail profile's template: `VerificationCode` (the only one so far).
pub const TEMPLATE: &str = "Template";
pub const TEMPLATE_VERIFICATION_CODE: &str = "VerificationCode";

/// The sign-in page's "Forgot your password?" link: the claims exchange it selects (B2C's
/// self-service password reset). Without it the link returns `AADB2C90118` to the app.
pub const FORGOT_PASSWORD_LINK_OVERRIDE: &str = "setting.forgotPasswordLinkOverride";
/// `None` hides the link (B2C: `AfterLabel`, `AfterInput`, `AfterButtons` or `None`).
pub const FORGOT_PASSWORD_LINK_LOCATION: &str = "setting.forgotPasswordLinkLocation";
