//! [`IdentityStore`] on SQLite and PostgreSQL.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::identity::{AccessKeyRow, AccountRow, IdentityStore, KeyKind, PrincipalKind, PrincipalRow};
use crate::sql::{dynamic, is_unique_violation, parse_json, SqlStore};
use crate::{StoreError, StoreResult};

const KEY_COLUMNS: &str =
    "access_key_id, account_id, kind, principal, sealed_secret, status, session, expires_at_ms, created_at_ms";

fn account_from_row(row: &AnyRow) -> StoreResult<AccountRow> {
    Ok(AccountRow {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn principal_from_row(row: &AnyRow, kind: PrincipalKind) -> StoreResult<PrincipalRow> {
    Ok(PrincipalRow {
        account_id: row.try_get("account_id")?,
        kind,
        name_key: row.try_get("name_key")?,
        document: parse_json(&row.try_get::<String, _>("document")?, "IAM principal")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn key_from_row(row: &AnyRow) -> StoreResult<AccessKeyRow> {
    let kind: String = row.try_get("kind")?;
    let session: Option<String> = row.try_get("session")?;
    Ok(AccessKeyRow {
        access_key_id: row.try_get("access_key_id")?,
        account_id: row.try_get("account_id")?,
        kind: KeyKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt { what: "access key".into(), reason: format!("kind {kind:?}") })?,
        principal: row.try_get("principal")?,
        sealed_secret: row.try_get("sealed_secret")?,
        status: row.try_get("status")?,
        session: session.as_deref().map(|s| parse_json(s, "access key session")).transpose()?,
        expires_at_ms: row.try_get("expires_at_ms")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn changed(result: sqlx::any::AnyQueryResult, kind: &'static str, name: &str) -> StoreResult<()> {
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound { kind, name: name.to_string() });
    }
    Ok(())
}

#[async_trait::async_trait]
impl IdentityStore for SqlStore {
    async fn create_account(&self, account: &AccountRow) -> StoreResult<()> {
        let result = sqlx::query("INSERT INTO accounts (account_id, name, created_at_ms) VALUES ($1, $2, $3)")
            .bind(&account.account_id)
            .bind(&account.name)
            .bind(account.created_at_ms)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: "account", name: account.name.clone() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_account(&self, account_id: &str) -> StoreResult<Option<AccountRow>> {
        let row = sqlx::query("SELECT account_id, name, created_at_ms FROM accounts WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(&self) -> StoreResult<Vec<AccountRow>> {
        let rows = sqlx::query("SELECT account_id, name, created_at_ms FROM accounts ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn delete_account(&self, account_id: &str) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for table in ["access_keys", "iam_inline_policies", "iam_principals"] {
            sqlx::query(dynamic(format!("DELETE FROM {table} WHERE account_id = $1")))
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
        }
        let result =
            sqlx::query("DELETE FROM accounts WHERE account_id = $1").bind(account_id).execute(&mut *tx).await?;
        changed(result, "account", account_id)?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_principal(&self, p: &PrincipalRow) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO iam_principals (account_id, kind, name_key, document, created_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&p.account_id)
        .bind(p.kind.as_str())
        .bind(&p.name_key)
        .bind(p.document.to_string())
        .bind(p.created_at_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: p.kind.as_str(), name: p.name_key.clone() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_principal(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        name_key: &str,
    ) -> StoreResult<Option<PrincipalRow>> {
        let row = sqlx::query(
            "SELECT account_id, name_key, document, created_at_ms FROM iam_principals \
             WHERE account_id = $1 AND kind = $2 AND name_key = $3",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(name_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(|r| principal_from_row(r, kind)).transpose()
    }

    async fn list_principals(&self, account_id: &str, kind: PrincipalKind) -> StoreResult<Vec<PrincipalRow>> {
        let rows = sqlx::query(
            "SELECT account_id, name_key, document, created_at_ms FROM iam_principals \
             WHERE account_id = $1 AND kind = $2 ORDER BY name_key",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| principal_from_row(r, kind)).collect()
    }

    async fn delete_principal(&self, account_id: &str, kind: PrincipalKind, name_key: &str) -> StoreResult<()> {
        let result = sqlx::query("DELETE FROM iam_principals WHERE account_id = $1 AND kind = $2 AND name_key = $3")
            .bind(account_id)
            .bind(kind.as_str())
            .bind(name_key)
            .execute(&self.pool)
            .await?;
        changed(result, kind.as_str(), name_key)
    }

    async fn put_inline_policy(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        principal_key: &str,
        policy_name: &str,
        document: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO iam_inline_policies (account_id, kind, principal_key, policy_name, document) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, kind, principal_key, policy_name) \
             DO UPDATE SET document = excluded.document",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(principal_key)
        .bind(policy_name)
        .bind(document)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn inline_policies(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        principal_key: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT policy_name, document FROM iam_inline_policies \
             WHERE account_id = $1 AND kind = $2 AND principal_key = $3 ORDER BY policy_name",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(principal_key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("policy_name")?, r.try_get("document")?))).collect()
    }

    async fn delete_inline_policy(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        principal_key: &str,
        policy_name: &str,
    ) -> StoreResult<()> {
        let result = sqlx::query(
            "DELETE FROM iam_inline_policies WHERE account_id = $1 AND kind = $2 AND principal_key = $3 \
             AND policy_name = $4",
        )
        .bind(account_id)
        .bind(kind.as_str())
        .bind(principal_key)
        .bind(policy_name)
        .execute(&self.pool)
        .await?;
        changed(result, "policy", policy_name)
    }

    async fn insert_access_key(&self, k: &AccessKeyRow) -> StoreResult<()> {
        let result = sqlx::query(dynamic(format!(
            "INSERT INTO access_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )))
        .bind(&k.access_key_id)
        .bind(&k.account_id)
        .bind(k.kind.as_str())
        .bind(&k.principal)
        .bind(&k.sealed_secret)
        .bind(&k.status)
        .bind(k.session.as_ref().map(|s| s.to_string()))
        .bind(k.expires_at_ms)
        .bind(k.created_at_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: "access key", name: k.access_key_id.clone() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRow>> {
        let row = sqlx::query(dynamic(format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE access_key_id = $1")))
            .bind(access_key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_access_keys(
        &self,
        account_id: &str,
        kind: KeyKind,
        principal: &str,
    ) -> StoreResult<Vec<AccessKeyRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {KEY_COLUMNS} FROM access_keys WHERE account_id = $1 AND kind = $2 AND principal = $3 \
             ORDER BY created_at_ms, access_key_id"
        )))
        .bind(account_id)
        .bind(kind.as_str())
        .bind(principal)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn set_access_key_status(&self, account_id: &str, access_key_id: &str, status: &str) -> StoreResult<()> {
        let result = sqlx::query("UPDATE access_keys SET status = $1 WHERE account_id = $2 AND access_key_id = $3")
            .bind(status)
            .bind(account_id)
            .bind(access_key_id)
            .execute(&self.pool)
            .await?;
        changed(result, "access key", access_key_id)
    }

    async fn delete_access_key(&self, account_id: &str, access_key_id: &str) -> StoreResult<()> {
        let result = sqlx::query("DELETE FROM access_keys WHERE account_id = $1 AND access_key_id = $2")
            .bind(account_id)
            .bind(access_key_id)
            .execute(&self.pool)
            .await?;
        changed(result, "access key", access_key_id)
    }

    async fn delete_expired_sessions(&self, now_ms: i64) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM access_keys WHERE kind = 'session' AND expires_at_ms < $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
