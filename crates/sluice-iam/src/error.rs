//! The identity service's one error type, with IAM's and STS's codes.

use sluice_store::StoreError;

/// Every error of accounts, IAM and STS.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// The request breaks a rule of the API (`ValidationError`).
    #[error("{0}")]
    Validation(String),
    /// No such user, role, policy or key (`NoSuchEntity`).
    #[error("{0}")]
    NoSuchEntity(String),
    /// The name is taken (`EntityAlreadyExists`).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// The entity still has what must go first (`DeleteConflict`).
    #[error("{0}")]
    DeleteConflict(String),
    /// A quota is reached (`LimitExceeded`).
    #[error("{0}")]
    LimitExceeded(String),
    /// The policy document does not parse or breaks a rule.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// Policy evaluation refused the call (`AccessDenied`).
    #[error("{0}")]
    AccessDenied(String),
    /// The key is unknown or inactive, or its session token does not match.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// The session's credentials have expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The store or the vault failed.
    #[error("{0}")]
    Internal(String),
}

impl IamError {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationError",
            Self::NoSuchEntity(_) => "NoSuchEntity",
            Self::EntityAlreadyExists(_) => "EntityAlreadyExists",
            Self::DeleteConflict(_) => "DeleteConflict",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            Self::AccessDenied(_) => "AccessDenied",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
            Self::Internal(_) => "ServiceFailure",
        }
    }

    /// The HTTP status IAM and STS answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoSuchEntity(_) => 404,
            Self::EntityAlreadyExists(_) | Self::DeleteConflict(_) | Self::LimitExceeded(_) => 409,
            Self::AccessDenied(_) | Self::InvalidClientTokenId | Self::ExpiredToken => 403,
            Self::Internal(_) => 500,
            Self::Validation(_) | Self::MalformedPolicyDocument(_) => 400,
        }
    }

    /// Whether trying again may succeed (only internal failures).
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Internal(_))
    }
}

impl From<StoreError> for IamError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { kind, name } => {
                Self::NoSuchEntity(format!("The {kind} with name {name} cannot be found."))
            }
            StoreError::AlreadyExists { kind, name } => {
                Self::EntityAlreadyExists(format!("{kind} with name {name} already exists."))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// Results of the identity service.
pub type IamResult<T> = Result<T, IamError>;
