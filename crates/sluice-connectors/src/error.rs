//! The one error type of the connectors, with the domain and retry hint
//! the engine acts on.

/// What a connector error is about, for retry decisions and for the API
/// status it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDomain {
    /// The user's configuration, data or credentials are wrong; retrying won't help.
    User,
    /// The remote system failed or refused for now; a retry may work.
    External,
    /// A bug or an unexpected answer.
    Internal,
}

/// Errors of the connectors.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The credentials were refused and cannot be refreshed: the profile
    /// needs new credentials (for OAuth, a new login).
    #[error("the connector profile needs to be re-authorized: {0}")]
    ReauthRequired(String),
    /// Authentication failed for another reason.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// The remote API answered with an error.
    #[error("{system} error {code}: {message}")]
    Remote {
        /// Which system, e.g. "Salesforce".
        system: &'static str,
        /// The remote error code.
        code: String,
        /// The remote message.
        message: String,
        /// HTTP status.
        status: u16,
    },
    /// The remote system could not be reached.
    #[error("cannot reach {system}: {message}")]
    Unreachable {
        /// Which system.
        system: &'static str,
        /// What failed.
        message: String,
    },
    /// The remote answer did not have the expected shape.
    #[error("unexpected answer from {system}: {message}")]
    Protocol {
        /// Which system.
        system: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The flow's configuration or its input data cannot be used (a
    /// malformed CSV row, a field the object does not have).
    #[error("{0}")]
    Invalid(String),
    /// The run was cancelled while the connector waited.
    #[error("the run was cancelled")]
    Cancelled,
}

impl ConnectorError {
    /// Whose problem this is.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            Self::ReauthRequired(_) | Self::Authentication(_) | Self::Invalid(_) => ErrorDomain::User,
            Self::Remote { status, .. } if *status == 400 || *status == 404 => ErrorDomain::User,
            Self::Remote { .. } | Self::Unreachable { .. } => ErrorDomain::External,
            Self::Protocol { .. } | Self::Cancelled => ErrorDomain::Internal,
        }
    }

    /// Whether the same call may succeed if retried with backoff: the
    /// remote failed (HTTP 5xx), throttled (429, `REQUEST_LIMIT_EXCEEDED`)
    /// or could not be reached (timeouts, resets).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Remote { status, code, .. } => *status >= 500 || *status == 429 || code == "REQUEST_LIMIT_EXCEEDED",
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_hints() {
        let limit = ConnectorError::Remote {
            system: "Salesforce",
            code: "REQUEST_LIMIT_EXCEEDED".into(),
            message: "x".into(),
            status: 403,
        };
        assert!(limit.is_retryable());
        let unavailable =
            ConnectorError::Remote { system: "Salesforce", code: "UNKNOWN".into(), message: "x".into(), status: 503 };
        assert!(unavailable.is_retryable() && unavailable.domain() == ErrorDomain::External);
        let bad = ConnectorError::Remote {
            system: "Salesforce",
            code: "MALFORMED_QUERY".into(),
            message: "x".into(),
            status: 400,
        };
        assert!(!bad.is_retryable() && bad.domain() == ErrorDomain::User);
        assert!(!ConnectorError::ReauthRequired("expired".into()).is_retryable());
        assert_eq!(ConnectorError::ReauthRequired("x".into()).domain(), ErrorDomain::User);
        assert!(!ConnectorError::Invalid("line 3".into()).is_retryable());
    }
}
