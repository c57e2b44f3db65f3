//! Errors of the model crate.

use std::fmt;

/// Every problem found in one request, in the order found. Rendered the way
/// AWS renders a `ValidationException` message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationProblems {
    problems: Vec<String>,
}

impl ValidationProblems {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list of one problem.
    pub fn single(problem: impl Into<String>) -> Self {
        let mut problems = Self::new();
        problems.push(problem);
        problems
    }

    /// Adds one problem.
    pub fn push(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// Appends every problem of `other`.
    pub fn extend(&mut self, other: ValidationProblems) {
        self.problems.extend(other.problems);
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.problems.len()
    }

    /// The problems, one sentence each.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// `Ok(())` when empty, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), ValidationProblems> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        let noun = if n == 1 { "error" } else { "errors" };
        write!(f, "{n} validation {noun} detected: {}", self.problems.join("; "))
    }
}

impl std::error::Error for ValidationProblems {}

/// Errors raised while loading a service model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file is not valid JSON or lacks a required part.
    #[error("invalid service model: {0}")]
    InvalidModel(String),
    /// A pattern in the model could not be compiled.
    #[error("pattern {pattern:?} of shape {shape} does not compile: {reason}")]
    BadPattern {
        /// Shape that declares the pattern.
        shape: String,
        /// The pattern as written in the model.
        pattern: String,
        /// Compiler message.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_aws() {
        let mut p = ValidationProblems::new();
        p.push("a is wrong");
        assert_eq!(p.to_string(), "1 validation error detected: a is wrong");
        p.push("b is wrong");
        assert_eq!(p.to_string(), "2 validation errors detected: a is wrong; b is wrong");
    }
}
