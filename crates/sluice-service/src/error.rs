//! The one error type of the service layer.

use sluice_connectors::{ConnectorError, DynError, ErrorDomain};
use sluice_model::ValidationProblems;
use sluice_store::StoreError;

/// Why a service call did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request breaks the service's rules; every problem is listed.
    #[error("{0}")]
    Validation(ValidationProblems),
    /// A named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The resource's state does not allow the change (already active, a
    /// run in progress).
    #[error("{0}")]
    Conflict(String),
    /// The operation does not apply (StopFlow on an on-demand flow).
    #[error("{0}")]
    UnsupportedOperation(String),
    /// The connected app refused the profile's credentials.
    #[error("{0}")]
    ConnectorAuthentication(String),
    /// The connected app failed or could not be reached.
    #[error("{0}")]
    ConnectorServer(String),
    /// A bug or unreadable stored data; the message says where to look.
    #[error("{0}")]
    Internal(String),
    /// The metadata store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// A validation error with one problem.
    pub fn invalid(problem: impl Into<String>) -> Self {
        Self::Validation(ValidationProblems::single(problem))
    }

    /// Whose problem it is.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            Self::Validation(_)
            | Self::NotFound(_)
            | Self::Conflict(_)
            | Self::UnsupportedOperation(_)
            | Self::ConnectorAuthentication(_) => ErrorDomain::User,
            Self::ConnectorServer(_) => ErrorDomain::External,
            Self::Internal(_) => ErrorDomain::Internal,
            Self::Store(
                StoreError::AlreadyExists { .. } | StoreError::NotFound { .. } | StoreError::ProfileInUse { .. },
            ) => ErrorDomain::User,
            Self::Store(StoreError::InvalidCursor) => ErrorDomain::User,
            Self::Store(_) => ErrorDomain::Internal,
        }
    }

    /// Whether the same call may succeed later as it is.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::ConnectorServer(_) | Self::Store(StoreError::Database(_)))
    }

    /// A stored document that does not parse: logged, and reported without
    /// its content.
    pub(crate) fn corrupt(what: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(what, error = %error, "stored document does not parse");
        Self::Internal(format!("stored {what} is unreadable; see the server log"))
    }
}

impl From<DynError> for ServiceError {
    fn from(error: DynError) -> Self {
        match error {
            DynError::InvalidProfile(problems) | DynError::InvalidConfig(problems) => Self::Validation(problems),
            DynError::Connector(error) => error.into(),
        }
    }
}

impl From<ConnectorError> for ServiceError {
    fn from(error: ConnectorError) -> Self {
        match error {
            e @ (ConnectorError::ReauthRequired(_) | ConnectorError::Authentication(_)) => {
                Self::ConnectorAuthentication(e.to_string())
            }
            ConnectorError::Invalid(message) => Self::invalid(message),
            e => Self::ConnectorServer(e.to_string()),
        }
    }
}

impl From<sluice_engine::EngineError> for ServiceError {
    fn from(error: sluice_engine::EngineError) -> Self {
        match error {
            sluice_engine::EngineError::Store(e) => e.into(),
            other => Self::corrupt("execution record", other),
        }
    }
}
