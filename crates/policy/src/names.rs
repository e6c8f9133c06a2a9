//! Names the front ends and the engine share: B2C's claim ids with a built-in meaning and the
//! metadata keys of the handlers the engine implements (`active-directory-technical-profile.md`,
//! `self-asserted-technical-profile.md`). One spelling, in one place.

/// The user's object id: its presence means "signed in" to the starter pack's preconditions.
pub const OBJECT_ID: &str = "objectId";
/// Set when a directory write created the user (`newClaimsPrincipalCreated`).
pub const NEW_USER: &str = "newUser";
/// The directory's output that says a write created the user.
pub const NEW_CLAIMS_PRINCIPAL_CREATED: &str = "newClaimsPrincipalCreated";

/// Self-asserted sign-in page: the claims exchange its "Sign up now" link selects.
pub const SIGN_UP_TARGET: &str = "SignUpTarget";
/// A self-asserted profile's page layout (`contentdefinitions.md`).
pub const CONTENT_DEFINITION: &str = "ContentDefinitionReferenceId";

/// Directory profiles: `Read`, `Write`, `DeleteClaims`, `DeleteClaimsPrincipal`.
pub const OPERATION: &str = "Operation";

/// The `Operation` of a directory profile (`active-directory-technical-profile.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryOperation {
    Read,
    Write,
    DeleteClaims,
    DeleteClaimsPrincipal,
}

impl DirectoryOperation {
    /// B2C's names, matched without regard to case; `Read` when the metadata has none.
    pub fn of(metadata: &crate::Metadata) -> Result<Self, String> {
        let Some(value) = metadata.get(OPERATION) else {
            return Ok(Self::Read);
        };
        [
            ("Read", Self::Read),
            ("Write", Self::Write),
            ("DeleteClaims", Self::DeleteClaims),
            ("DeleteClaimsPrincipal", Self::DeleteClaimsPrincipal),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(value.trim()))
        .map(|(_, op)| op)
        .ok_or_else(|| {
            format!(
                "Operation '{value}' is not one of Read, Write, DeleteClaims, DeleteClaimsPrincipal"
            )
        })
    }
}
pub const RAISE_ERROR_IF_ALREADY_EXISTS: &str = "RaiseErrorIfClaimsPrincipalAlreadyExists";
pub const RAISE_ERROR_IF_DOES_NOT_EXIST: &str = "RaiseErrorIfClaimsPrincipalDoesNotExist";
pub const MESSAGE_IF_ALREADY_EXISTS: &str = "UserMessageIfClaimsPrincipalAlreadyExists";
pub const MESSAGE_IF_DOES_NOT_EXIST: &str = "UserMessageIfClaimsPrincipalDoesNotExist";
/// The local credential check (`login-NonInteractive`).
pub const MESSAGE_IF_INVALID_PASSWORD: &str = "UserMessageIfInvalidPassword";
pub const MESSAGE_IF_ACCOUNT_LOCKED: &str = "UserMessageIfUserAccountLocked";

/// A federated identity's key in the directory (B2C's `alternativeSecurityId`): the issuer
/// and the user's id there, as partner claim types of a directory profile's input claims.
pub const FEDERATED_ISSUER: &str = "alternativeSecurityId.issuer";
pub const FEDERATED_ID: &str = "alternativeSecurityId.issuerAssignedId";
