//! The crate's one error type, one variant per Secrets Manager error; the
//! API renders them in one place. No variant ever carries a secret value.

use sluice_store::StoreError;

/// Every error of the secrets service.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No such secret or version (`ResourceNotFoundException`).
    #[error("{0}")]
    NotFound(String),
    /// The secret or version exists (`ResourceExistsException`).
    #[error("{0}")]
    Exists(String),
    /// A parameter Secrets Manager refuses (`InvalidParameterException`).
    #[error("{0}")]
    InvalidParameter(String),
    /// The call does not fit the secret's state (`InvalidRequestException`).
    #[error("{0}")]
    InvalidRequest(String),
    /// A request the model refuses (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// A quota would be exceeded (`LimitExceededException`).
    #[error("{0}")]
    LimitExceeded(String),
    /// A sealed value does not open (`DecryptionFailure`).
    #[error("{0}")]
    Decryption(String),
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// A bug or an impossible state (`InternalServiceError`).
    #[error("{0}")]
    Internal(String),
}

impl SecretsError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(_) | Self::Internal(_))
    }
}

/// Results of this crate.
pub type SecretsResult<T> = Result<T, SecretsError>;
