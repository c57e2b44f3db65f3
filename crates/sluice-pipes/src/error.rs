//! The crate's one error type, one variant per Pipes error; the API
//! renders them in one place.

use sluice_store::StoreError;

/// Every error of the pipes service.
#[derive(Debug, thiserror::Error)]
pub enum PipesError {
    /// A request Pipes refuses (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// No such pipe (`NotFoundException`).
    #[error("{0}")]
    NotFound(String),
    /// The pipe exists or is in a state that refuses the call (`ConflictException`).
    #[error("{0}")]
    Conflict(String),
    /// A quota would be exceeded (`ServiceQuotaExceededException`).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// A bug or an impossible state (`InternalException`).
    #[error("{0}")]
    Internal(String),
}

impl PipesError {
    /// A `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(_) | Self::Internal(_))
    }
}

/// Results of this crate.
pub type PipesResult<T> = Result<T, PipesError>;
