//! The crate's one error type. Each variant is one DynamoDB (or DynamoDB
//! Streams) error; the API renders them in one place.

use sluice_store::StoreError;

use crate::value::Item;

/// Why one action of a transaction was cancelled (DynamoDB's
/// `CancellationReason`): `None` for the actions that were fine.
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationReason {
    /// `None`, `ConditionalCheckFailed`, `ValidationError`,
    /// `TransactionConflict`, ...
    pub code: String,
    /// The reason in words (absent for `None`).
    pub message: Option<String>,
    /// The item as it was, when the action asked for it on failure.
    pub item: Option<Item>,
}

/// Every error of the table and stream services.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    /// A request DynamoDB refuses (`ValidationException`), in its words.
    #[error("{0}")]
    Validation(String),
    /// No such table, index or stream (`ResourceNotFoundException`).
    #[error("{0}")]
    ResourceNotFound(String),
    /// The table exists or is busy (`ResourceInUseException`).
    #[error("{0}")]
    ResourceInUse(String),
    /// A condition expression was false (`ConditionalCheckFailedException`);
    /// carries the item when the request asked for it on failure.
    #[error("The conditional request failed")]
    ConditionalCheckFailed {
        /// The item as it was (`ReturnValuesOnConditionCheckFailure: ALL_OLD`).
        item: Option<Item>,
    },
    /// A transaction was cancelled (`TransactionCanceledException`).
    #[error("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", .0.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", "))]
    TransactionCanceled(Vec<CancellationReason>),
    /// A quota (tables per account...) would be exceeded (`LimitExceededException`).
    #[error("{0}")]
    LimitExceeded(String),
    /// A shard iterator older than 15 minutes (`ExpiredIteratorException`).
    #[error("{0}")]
    ExpiredIterator(String),
    /// Records past the stream's retention (`TrimmedDataAccessException`).
    #[error("{0}")]
    TrimmedDataAccess(String),
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    /// A bug or an impossible state (`InternalServerError`).
    #[error("{0}")]
    Internal(String),
}

impl TablesError {
    /// A `ValidationException` with DynamoDB's message.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Store(_) | Self::Internal(_))
    }
}

/// Results of this crate.
pub type TablesResult<T> = Result<T, TablesError>;
