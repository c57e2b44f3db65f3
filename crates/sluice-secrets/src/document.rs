//! A secret as the service keeps it: metadata and versions, each version's
//! value sealed (`SealedSecret` text) and its staging labels. The rules of
//! labels live here: a new AWSCURRENT version moves the old one to
//! AWSPREVIOUS, a label is on one version at a time, versions without a
//! label beyond the most recent few are dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The label of the current version.
pub const CURRENT: &str = "AWSCURRENT";
/// The label of the version before it.
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// Versions without a label kept (Secrets Manager keeps about 100 in all).
const UNLABELED_KEPT: usize = 10;

/// One version of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// Its id (the ClientRequestToken that made it, or a UUID).
    pub id: String,
    /// Its staging labels.
    pub stages: Vec<String>,
    /// When it was made (ms).
    pub created_ms: i64,
    /// The value, sealed by the vault (context: `ARN#VERSION`).
    pub sealed: String,
    /// Whether the value is SecretBinary (else SecretString).
    pub binary: bool,
}

/// Everything the service keeps about a secret (stored as JSON, `v` 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDocument {
    /// Format version of this document.
    pub v: u32,
    /// The secret's ARN (name and a random 6-character suffix).
    pub arn: String,
    /// Its description.
    pub description: Option<String>,
    /// The KMS key named at creation, recorded.
    pub kms_key_id: Option<String>,
    /// Tags, in the order given.
    pub tags: Vec<(String, String)>,
    /// Creation time (ms).
    pub created_ms: i64,
    /// Last change of value or metadata (ms).
    pub changed_ms: i64,
    /// When the secret is to be deleted, if it is scheduled to be.
    pub deletion_ms: Option<i64>,
    /// Its versions, oldest first.
    pub versions: Vec<Version>,
}

impl SecretDocument {
    /// The version holding `stage`.
    pub fn version_with_stage(&self, stage: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.stages.iter().any(|s| s == stage))
    }

    /// The version of that id.
    pub fn version(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// Version ids and their labels, for DescribeSecret and ListSecrets.
    pub fn versions_to_stages(&self) -> BTreeMap<String, Vec<String>> {
        self.versions.iter().filter(|v| !v.stages.is_empty()).map(|v| (v.id.clone(), v.stages.clone())).collect()
    }

    /// Adds a version with `stages`: each label moves to it from wherever
    /// it was, and when AWSCURRENT moves, the version that had it becomes
    /// AWSPREVIOUS.
    pub fn add_version(&mut self, version: Version) {
        for stage in &version.stages {
            if stage == CURRENT {
                for other in &mut self.versions {
                    other.stages.retain(|s| s != PREVIOUS);
                }
                if let Some(old) = self.versions.iter_mut().find(|v| v.stages.iter().any(|s| s == CURRENT)) {
                    old.stages.retain(|s| s != CURRENT);
                    old.stages.push(PREVIOUS.to_string());
                }
            } else {
                for other in &mut self.versions {
                    other.stages.retain(|s| s != stage);
                }
            }
        }
        self.changed_ms = version.created_ms;
        self.versions.push(version);
        let unlabeled: Vec<String> =
            self.versions.iter().filter(|v| v.stages.is_empty()).map(|v| v.id.clone()).collect();
        if unlabeled.len() > UNLABELED_KEPT {
            let drop = &unlabeled[..unlabeled.len() - UNLABELED_KEPT];
            self.versions.retain(|v| !drop.contains(&v.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, stages: &[&str]) -> Version {
        Version {
            id: id.into(),
            stages: stages.iter().map(|s| s.to_string()).collect(),
            created_ms: 1,
            sealed: String::new(),
            binary: false,
        }
    }

    #[test]
    fn a_new_current_version_moves_the_old_one_to_previous() {
        let mut doc = SecretDocument {
            v: 1,
            arn: "arn".into(),
            description: None,
            kms_key_id: None,
            tags: Vec::new(),
            created_ms: 0,
            changed_ms: 0,
            deletion_ms: None,
            versions: Vec::new(),
        };
        doc.add_version(version("v1", &[CURRENT]));
        doc.add_version(version("v2", &[CURRENT]));
        doc.add_version(version("v3", &[CURRENT, "blue"]));
        assert_eq!(doc.version_with_stage(CURRENT).unwrap().id, "v3");
        assert_eq!(doc.version_with_stage(PREVIOUS).unwrap().id, "v2");
        assert!(doc.version("v1").unwrap().stages.is_empty());
        doc.add_version(version("v4", &["blue"]));
        assert_eq!(doc.version_with_stage("blue").unwrap().id, "v4");
        assert_eq!(doc.version_with_stage(CURRENT).unwrap().id, "v3");
        assert_eq!(doc.versions_to_stages().len(), 3);
        for i in 0..20 {
            doc.add_version(version(&format!("x{i}"), &[]));
        }
        assert_eq!(doc.versions.iter().filter(|v| v.stages.is_empty()).count(), UNLABELED_KEPT);
    }
}
