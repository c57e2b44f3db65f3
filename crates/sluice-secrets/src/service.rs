//! The Secrets Manager operations: CreateSecret, GetSecretValue,
//! PutSecretValue, UpdateSecret, DescribeSecret, ListSecrets, DeleteSecret
//! (recovery window or at once), RestoreSecret, TagResource and
//! UntagResource. A secret is named by its name or its ARN (whole, or
//! without the random suffix). Changes are optimistic: a document is
//! written only if nobody changed it since it was read, else read again.

use std::sync::Arc;

use base64::Engine;
use sluice_model::secretsmanager as wire;
use sluice_model::wire::{EpochSeconds, SecretString};
use sluice_store::{now_ms, MetadataStore, SecretRow, StoreError};
use sluice_vault::{SealedSecret, Vault};

use crate::document::{SecretDocument, Version, CURRENT};
use crate::error::{SecretsError, SecretsResult};

/// How often a change that lost a race is made again.
const MAX_ATTEMPTS: usize = 10;
/// Largest value (Secrets Manager's 64 KB).
const MAX_VALUE_BYTES: usize = 65_536;
/// Most secrets per account.
const MAX_SECRETS: usize = 500_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn not_found() -> SecretsError {
    SecretsError::NotFound("Secrets Manager can't find the specified secret.".into())
}

fn marked_for_deletion() -> SecretsError {
    SecretsError::InvalidRequest(
        "You can't perform this operation on the secret because it was marked for deletion.".into(),
    )
}

/// A value given as SecretString or SecretBinary (base64 on the wire).
struct NewValue {
    bytes: Vec<u8>,
    binary: bool,
}

fn new_value(string: Option<&SecretString>, binary: Option<&String>) -> SecretsResult<Option<NewValue>> {
    let value = match (string, binary) {
        (Some(_), Some(_)) => {
            return Err(SecretsError::InvalidParameter(
                "You can't specify both a binary secret value and a string secret value in the same secret.".into(),
            ))
        }
        (Some(s), None) => NewValue { bytes: s.expose().as_bytes().to_vec(), binary: false },
        (None, Some(b)) => NewValue {
            bytes: BASE64
                .decode(b)
                .map_err(|_| SecretsError::InvalidParameter("SecretBinary is not valid base64.".into()))?,
            binary: true,
        },
        (None, None) => return Ok(None),
    };
    if value.bytes.len() > MAX_VALUE_BYTES {
        return Err(SecretsError::InvalidParameter(format!(
            "The secret value is {} bytes; at most {MAX_VALUE_BYTES} are allowed.",
            value.bytes.len()
        )));
    }
    Ok(Some(value))
}

/// A secret as read: its row and document.
struct Loaded {
    row: SecretRow,
    doc: SecretDocument,
}

/// Secrets Manager of one server; cheap to clone.
#[derive(Clone)]
pub struct SecretService {
    store: Arc<dyn MetadataStore>,
    vault: Arc<Vault>,
    region: String,
}

impl SecretService {
    /// The service over `store`, sealing values with `vault`.
    pub fn new(store: Arc<dyn MetadataStore>, vault: Arc<Vault>, region: &str) -> Self {
        Self { store, vault, region: region.to_string() }
    }

    fn seal(&self, doc: &SecretDocument, version_id: &str, value: &NewValue) -> String {
        self.vault.seal(&value.bytes, &format!("{}#{version_id}", doc.arn)).to_text()
    }

    fn open(&self, doc: &SecretDocument, version: &Version) -> SecretsResult<Vec<u8>> {
        let fail = || SecretsError::Decryption("Secrets Manager can't decrypt the protected secret text".into());
        let sealed = SealedSecret::from_text(&version.sealed).map_err(|_| fail())?;
        let opened = self.vault.open(&sealed, &format!("{}#{}", doc.arn, version.id)).map_err(|_| fail())?;
        Ok(opened.to_vec())
    }

    /// The name a SecretId stands for (an ARN of the account, or a name).
    fn name_of<'a>(&self, account_id: &str, secret_id: &'a str) -> SecretsResult<&'a str> {
        let Some(rest) = secret_id.strip_prefix("arn:") else { return Ok(secret_id) };
        let parts: Vec<&str> = rest.splitn(6, ':').collect();
        if parts.len() != 6 || parts[1] != "secretsmanager" || parts[4] != "secret" {
            return Err(SecretsError::InvalidParameter(format!("{secret_id} is not a valid secret ARN.")));
        }
        if parts[3] != account_id {
            return Err(not_found());
        }
        Ok(parts[5])
    }

    async fn load(&self, account_id: &str, secret_id: &str) -> SecretsResult<Loaded> {
        let name = self.name_of(account_id, secret_id)?;
        // A full ARN's name ends in the random suffix; a partial ARN's does not.
        let (row, by_full_arn) = match self.store.get_secret(account_id, name).await? {
            Some(row) => (row, false),
            None => {
                match name.rsplit_once('-').filter(|(_, suffix)| suffix.len() == 6 && secret_id.starts_with("arn:")) {
                    Some((base, _)) => (self.store.get_secret(account_id, base).await?.ok_or_else(not_found)?, true),
                    None => return Err(not_found()),
                }
            }
        };
        let doc: SecretDocument = serde_json::from_str(&row.document)
            .map_err(|e| SecretsError::Internal(format!("a stored secret does not decode: {e}")))?;
        if by_full_arn && doc.arn != secret_id {
            return Err(not_found());
        }
        if doc.deletion_ms.is_some_and(|at| at <= now_ms()) {
            // Its recovery window is over: it is gone.
            let _ = self.store.delete_secret(account_id, &row.name).await;
            return Err(not_found());
        }
        Ok(Loaded { row, doc })
    }

    /// Reads the secret, lets `change` edit its document, and writes it if
    /// nobody changed it meanwhile (else again); returns the document written.
    async fn change<T>(
        &self,
        account_id: &str,
        secret_id: &str,
        mut change: impl FnMut(&mut SecretDocument) -> SecretsResult<T>,
    ) -> SecretsResult<(SecretDocument, String, T)> {
        for _ in 0..MAX_ATTEMPTS {
            let Loaded { row, mut doc } = self.load(account_id, secret_id).await?;
            let out = change(&mut doc)?;
            let text = serde_json::to_string(&doc).expect("secret documents serialize");
            if self.store.update_secret(account_id, &row.name, &text, row.revision).await? {
                return Ok((doc, row.name, out));
            }
        }
        Err(SecretsError::Internal("the secret kept changing while it was written; try again".into()))
    }

    /// CreateSecret.
    pub async fn create_secret(
        &self,
        account_id: &str,
        input: &wire::CreateSecretRequest,
    ) -> SecretsResult<wire::CreateSecretResponse> {
        if input.add_replica_regions.is_some() || input.cross_account_primary_arn.is_some() {
            return Err(SecretsError::InvalidParameter("This server does not replicate secrets.".into()));
        }
        if self.store.count_secrets(account_id).await? >= MAX_SECRETS {
            return Err(SecretsError::LimitExceeded("The account has too many secrets.".into()));
        }
        let value = new_value(input.secret_string.as_ref(), input.secret_binary.as_ref())?;
        let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().take(6).collect();
        let now = now_ms();
        let mut doc = SecretDocument {
            v: 1,
            arn: format!("arn:aws:secretsmanager:{}:{account_id}:secret:{}-{suffix}", self.region, input.name),
            description: input.description.clone(),
            kms_key_id: input.kms_key_id.clone(),
            tags: input
                .tags
                .iter()
                .flatten()
                .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()))
                .collect(),
            created_ms: now,
            changed_ms: now,
            deletion_ms: None,
            versions: Vec::new(),
        };
        let version_id = value
            .as_ref()
            .map(|_| input.client_request_token.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()));
        if let (Some(value), Some(id)) = (&value, &version_id) {
            let sealed = self.seal(&doc, id, value);
            doc.add_version(Version {
                id: id.clone(),
                stages: vec![CURRENT.into()],
                created_ms: now,
                sealed,
                binary: value.binary,
            });
        }
        let text = serde_json::to_string(&doc).expect("secret documents serialize");
        match self.store.create_secret(account_id, &input.name, &text).await {
            Err(StoreError::AlreadyExists { .. }) => {
                let scheduled = self
                    .store
                    .get_secret(account_id, &input.name)
                    .await?
                    .and_then(|row| serde_json::from_str::<SecretDocument>(&row.document).ok())
                    .is_some_and(|d| d.deletion_ms.is_some());
                return Err(if scheduled {
                    SecretsError::InvalidRequest(format!(
                        "You can't create this secret because a secret with this name is already scheduled for \
                         deletion. Secret: {}",
                        input.name
                    ))
                } else {
                    SecretsError::Exists(format!(
                        "The operation failed because the secret {} already exists.",
                        input.name
                    ))
                });
            }
            other => other?,
        }
        tracing::info!(account_id, secret = %input.name, "secret created");
        Ok(wire::CreateSecretResponse {
            arn: Some(doc.arn.clone()),
            name: Some(input.name.clone()),
            version_id,
            replication_status: None,
        })
    }

    /// GetSecretValue.
    pub async fn get_secret_value(
        &self,
        account_id: &str,
        input: &wire::GetSecretValueRequest,
    ) -> SecretsResult<wire::GetSecretValueResponse> {
        let Loaded { row, doc } = self.load(account_id, &input.secret_id).await?;
        if doc.deletion_ms.is_some() {
            return Err(marked_for_deletion());
        }
        let version = match (&input.version_id, &input.version_stage) {
            (Some(id), stage) => {
                doc.version(id).filter(|v| stage.as_ref().is_none_or(|s| v.stages.contains(s))).ok_or_else(|| {
                    SecretsError::NotFound(format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {id}"
                    ))
                })?
            }
            (None, stage) => {
                let stage = stage.as_deref().unwrap_or(CURRENT);
                doc.version_with_stage(stage).ok_or_else(|| {
                    SecretsError::NotFound(format!(
                        "Secrets Manager can't find the specified secret value for staging label: {stage}"
                    ))
                })?
            }
        };
        let bytes = self.open(&doc, version)?;
        let (string, binary) = if version.binary {
            (None, Some(BASE64.encode(&bytes)))
        } else {
            let text = String::from_utf8(bytes)
                .map_err(|_| SecretsError::Internal("a stored secret string is not UTF-8".into()))?;
            (Some(SecretString::new(text)), None)
        };
        Ok(wire::GetSecretValueResponse {
            arn: Some(doc.arn.clone()),
            name: Some(row.name),
            version_id: Some(version.id.clone()),
            secret_binary: binary,
            secret_string: string,
            version_stages: Some(version.stages.clone()),
            created_date: Some(EpochSeconds::from_millis(version.created_ms)),
        })
    }

    /// Adds a version (PutSecretValue and UpdateSecret with a value); the
    /// same token with the same value again is the same version.
    fn put_version(
        &self,
        doc: &mut SecretDocument,
        token: Option<&String>,
        value: &NewValue,
        stages: Vec<String>,
    ) -> SecretsResult<String> {
        if doc.deletion_ms.is_some() {
            return Err(marked_for_deletion());
        }
        let id = token.cloned().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if let Some(existing) = doc.version(&id) {
            let same = self.open(doc, existing)? == value.bytes && existing.binary == value.binary;
            return if same {
                Ok(id)
            } else {
                Err(SecretsError::Exists(format!(
                    "You can't modify an existing version, you can only create a new version. VersionId: {id}"
                )))
            };
        }
        let sealed = self.seal(doc, &id, value);
        doc.add_version(Version { id: id.clone(), stages, created_ms: now_ms(), sealed, binary: value.binary });
        Ok(id)
    }

    /// PutSecretValue.
    pub async fn put_secret_value(
        &self,
        account_id: &str,
        input: &wire::PutSecretValueRequest,
    ) -> SecretsResult<wire::PutSecretValueResponse> {
        let value = new_value(input.secret_string.as_ref(), input.secret_binary.as_ref())?.ok_or_else(|| {
            SecretsError::InvalidParameter("You must provide either SecretString or SecretBinary.".into())
        })?;
        let stages = input.version_stages.clone().unwrap_or_else(|| vec![CURRENT.to_string()]);
        let (doc, name, id) = self
            .change(account_id, &input.secret_id, |doc| {
                self.put_version(doc, input.client_request_token.as_ref(), &value, stages.clone())
            })
            .await?;
        let stages = doc.version(&id).map(|v| v.stages.clone());
        Ok(wire::PutSecretValueResponse {
            arn: Some(doc.arn),
            name: Some(name),
            version_id: Some(id),
            version_stages: stages,
        })
    }

    /// UpdateSecret: description and KMS key where given; a value makes a
    /// new AWSCURRENT version.
    pub async fn update_secret(
        &self,
        account_id: &str,
        input: &wire::UpdateSecretRequest,
    ) -> SecretsResult<wire::UpdateSecretResponse> {
        let value = new_value(input.secret_string.as_ref(), input.secret_binary.as_ref())?;
        let (doc, name, id) = self
            .change(account_id, &input.secret_id, |doc| {
                if doc.deletion_ms.is_some() {
                    return Err(marked_for_deletion());
                }
                if let Some(description) = &input.description {
                    doc.description = Some(description.clone());
                }
                if let Some(key) = &input.kms_key_id {
                    doc.kms_key_id = Some(key.clone());
                }
                doc.changed_ms = now_ms();
                value
                    .as_ref()
                    .map(|v| self.put_version(doc, input.client_request_token.as_ref(), v, vec![CURRENT.to_string()]))
                    .transpose()
            })
            .await?;
        Ok(wire::UpdateSecretResponse { arn: Some(doc.arn), name: Some(name), version_id: id })
    }

    fn describe(&self, name: &str, doc: &SecretDocument) -> wire::DescribeSecretResponse {
        wire::DescribeSecretResponse {
            arn: Some(doc.arn.clone()),
            name: Some(name.to_string()),
            description: doc.description.clone(),
            kms_key_id: doc.kms_key_id.clone(),
            rotation_enabled: Some(false),
            last_changed_date: Some(EpochSeconds::from_millis(doc.changed_ms)),
            deleted_date: doc.deletion_ms.map(EpochSeconds::from_millis),
            tags: (!doc.tags.is_empty()).then(|| {
                doc.tags.iter().map(|(k, v)| wire::Tag { key: Some(k.clone()), value: Some(v.clone()) }).collect()
            }),
            version_ids_to_stages: Some(doc.versions_to_stages()),
            created_date: Some(EpochSeconds::from_millis(doc.created_ms)),
            ..Default::default()
        }
    }

    /// DescribeSecret.
    pub async fn describe_secret(
        &self,
        account_id: &str,
        secret_id: &str,
    ) -> SecretsResult<wire::DescribeSecretResponse> {
        let Loaded { row, doc } = self.load(account_id, secret_id).await?;
        Ok(self.describe(&row.name, &doc))
    }

    /// ListSecrets: by name, with Secrets Manager's filters (name,
    /// description and tag prefixes, `all`), planned deletions only when asked.
    pub async fn list_secrets(
        &self,
        account_id: &str,
        input: &wire::ListSecretsRequest,
    ) -> SecretsResult<wire::ListSecretsResponse> {
        let limit = input.max_results.unwrap_or(100).clamp(1, 100) as usize;
        let now = now_ms();
        let mut entries = Vec::new();
        for row in self.store.list_secrets(account_id).await? {
            let Ok(doc) = serde_json::from_str::<SecretDocument>(&row.document) else { continue };
            if doc.deletion_ms.is_some_and(|at| at <= now) {
                continue;
            }
            if doc.deletion_ms.is_some() && !input.include_planned_deletion.unwrap_or(false) {
                continue;
            }
            if !matches_filters(&row.name, &doc, input.filters.as_deref().unwrap_or_default()) {
                continue;
            }
            entries.push((row.name, doc));
        }
        if input.sort_order.is_some_and(|o| o.as_str() == "desc") {
            entries.reverse();
        }
        let start: usize = input.next_token.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
        let page: Vec<_> = entries.iter().skip(start).take(limit).collect();
        let next = (start + page.len() < entries.len()).then(|| (start + page.len()).to_string());
        Ok(wire::ListSecretsResponse {
            secret_list: Some(
                page.into_iter()
                    .map(|(name, doc)| {
                        let d = self.describe(name, doc);
                        wire::SecretListEntry {
                            arn: d.arn,
                            name: d.name,
                            description: d.description,
                            kms_key_id: d.kms_key_id,
                            rotation_enabled: d.rotation_enabled,
                            last_changed_date: d.last_changed_date,
                            deleted_date: d.deleted_date,
                            tags: d.tags,
                            secret_versions_to_stages: d.version_ids_to_stages,
                            created_date: d.created_date,
                            ..Default::default()
                        }
                    })
                    .collect(),
            ),
            next_token: next,
        })
    }

    /// DeleteSecret: scheduled after a recovery window (7 to 30 days; 30
    /// by default), or at once with ForceDeleteWithoutRecovery.
    pub async fn delete_secret(
        &self,
        account_id: &str,
        input: &wire::DeleteSecretRequest,
    ) -> SecretsResult<wire::DeleteSecretResponse> {
        let force = input.force_delete_without_recovery.unwrap_or(false);
        if force && input.recovery_window_in_days.is_some() {
            return Err(SecretsError::InvalidParameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.".into(),
            ));
        }
        let days = input.recovery_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(SecretsError::InvalidParameter(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).".into(),
            ));
        }
        if force {
            let Loaded { row, doc } = self.load(account_id, &input.secret_id).await?;
            self.store.delete_secret(account_id, &row.name).await?;
            tracing::info!(account_id, secret = %row.name, "secret deleted");
            return Ok(wire::DeleteSecretResponse {
                arn: Some(doc.arn),
                name: Some(row.name),
                deletion_date: Some(EpochSeconds::from_millis(now_ms())),
            });
        }
        let (doc, name, at) = self
            .change(account_id, &input.secret_id, |doc| {
                if doc.deletion_ms.is_none() {
                    doc.deletion_ms = Some(now_ms() + days * DAY_MS);
                }
                Ok(doc.deletion_ms.expect("set above"))
            })
            .await?;
        tracing::info!(account_id, secret = %name, days, "secret scheduled for deletion");
        Ok(wire::DeleteSecretResponse {
            arn: Some(doc.arn),
            name: Some(name),
            deletion_date: Some(EpochSeconds::from_millis(at)),
        })
    }

    /// RestoreSecret: cancels a scheduled deletion.
    pub async fn restore_secret(
        &self,
        account_id: &str,
        secret_id: &str,
    ) -> SecretsResult<wire::RestoreSecretResponse> {
        let (doc, name, ()) = self
            .change(account_id, secret_id, |doc| {
                doc.deletion_ms = None;
                Ok(())
            })
            .await?;
        Ok(wire::RestoreSecretResponse { arn: Some(doc.arn), name: Some(name) })
    }

    /// TagResource / UntagResource.
    pub async fn change_tags(
        &self,
        account_id: &str,
        secret_id: &str,
        add: &[wire::Tag],
        remove: &[String],
    ) -> SecretsResult<()> {
        self.change(account_id, secret_id, |doc| {
            for tag in add {
                let key = tag.key.clone().unwrap_or_default();
                let value = tag.value.clone().unwrap_or_default();
                match doc.tags.iter_mut().find(|(k, _)| *k == key) {
                    Some(existing) => existing.1 = value,
                    None => doc.tags.push((key, value)),
                }
            }
            doc.tags.retain(|(k, _)| !remove.contains(k));
            if doc.tags.len() > 50 {
                return Err(SecretsError::InvalidParameter("A secret can have at most 50 tags.".into()));
            }
            Ok(())
        })
        .await?;
        Ok(())
    }
}

fn matches_filters(name: &str, doc: &SecretDocument, filters: &[wire::Filter]) -> bool {
    filters.iter().all(|filter| {
        let values = filter.values.as_deref().unwrap_or_default();
        let key = filter.key.map(|k| k.as_str()).unwrap_or("all");
        let description = doc.description.as_deref().unwrap_or_default();
        values.iter().any(|value| {
            let (negate, value) = match value.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, value.as_str()),
            };
            let prefix = |text: &str| text.to_lowercase().starts_with(&value.to_lowercase());
            let hit = match key {
                "name" => prefix(name),
                "description" => prefix(description),
                "tag-key" => doc.tags.iter().any(|(k, _)| prefix(k)),
                "tag-value" => doc.tags.iter().any(|(_, v)| prefix(v)),
                _ => prefix(name) || prefix(description) || doc.tags.iter().any(|(k, v)| prefix(k) || prefix(v)),
            };
            hit != negate
        })
    })
}
