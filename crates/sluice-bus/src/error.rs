//! The crate's one error type. Each variant is one AWS error of EventBridge
//! or SQS; the API maps them to wire codes in one place per protocol.

use sluice_model::ValidationProblems;
use sluice_store::StoreError;

/// Every error of the bus and queue services.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The request breaks the model or a rule; lists every problem.
    #[error("{0}")]
    Validation(ValidationProblems),
    /// A parameter that breaks one of the service's rules, worded as
    /// EventBridge words it (a ValidationException without the model's
    /// "N validation errors detected" preamble).
    #[error("{0}")]
    InvalidParameter(String),
    /// An event pattern that does not parse or breaks the pattern rules.
    #[error("{0}")]
    InvalidEventPattern(String),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A resource with that name exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// A quota (targets per rule, buses per account...) would be exceeded.
    #[error("{0}")]
    LimitExceeded(String),
    /// The resource is in a state that does not allow the operation.
    #[error("{0}")]
    IllegalState(String),
    /// The caller may not do this to this resource.
    #[error("{0}")]
    AccessDenied(String),
    /// SQS: no such queue.
    #[error("{0}")]
    QueueDoesNotExist(String),
    /// SQS: a queue of that name exists with other attributes.
    #[error("{0}")]
    QueueNameExists(String),
    /// SQS: an attribute name SQS does not know.
    #[error("{0}")]
    InvalidAttributeName(String),
    /// SQS: an attribute value out of range or malformed.
    #[error("{0}")]
    InvalidAttributeValue(String),
    /// SQS: a parameter value out of range or malformed.
    #[error("{0}")]
    InvalidParameterValue(String),
    /// SQS: a receipt handle this queue never gave out.
    #[error("{0}")]
    ReceiptHandleIsInvalid(String),
    /// SQS: the message is not in flight (ChangeMessageVisibility).
    #[error("{0}")]
    MessageNotInflight(String),
    /// SQS: a batch without entries.
    #[error("{0}")]
    EmptyBatchRequest(String),
    /// SQS: more than 10 entries in a batch.
    #[error("{0}")]
    TooManyEntriesInBatchRequest(String),
    /// SQS: two entries of a batch share an id.
    #[error("{0}")]
    BatchEntryIdsNotDistinct(String),
    /// SQS: a batch entry id with characters SQS does not allow.
    #[error("{0}")]
    InvalidBatchEntryId(String),
    /// SQS: a batch over the size limit.
    #[error("{0}")]
    BatchRequestTooLong(String),
    /// SQS: a message body with characters SQS does not allow.
    #[error("{0}")]
    InvalidMessageContents(String),
    /// An operation of the API this server does not implement yet.
    #[error("{0}")]
    Unsupported(String),
    /// No such operation in the API.
    #[error("{0}")]
    UnknownOperation(String),
    /// Something failed inside Sluice; details are in the server log.
    #[error("{0}")]
    Internal(String),
    /// The metadata store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl BusError {
    /// A validation error with one problem.
    pub fn validation(problem: impl Into<String>) -> Self {
        let mut problems = ValidationProblems::new();
        problems.push(problem);
        Self::Validation(problems)
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Internal(_) | Self::Store(StoreError::Database(_)))
    }
}

impl From<StoreError> for BusError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => Self::NotFound(error.to_string()),
            StoreError::AlreadyExists { .. } => Self::AlreadyExists(error.to_string()),
            other => Self::Store(other),
        }
    }
}

/// Result type of the crate.
pub type BusResult<T> = Result<T, BusError>;
