//! [`BusStore`] on SQLite and PostgreSQL. Deliveries are claimed like runs:
//! one statement that leases due rows nobody holds (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so servers pass each other).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::archives::ArchivedEventRow;
use crate::bus::{BusResourceRow, BusRow, BusStore, DeliveryRow, RuleRow, TargetRow};
use crate::sql::{dynamic, fetch_limit, is_unique_violation, paginate, parse_json, SqlStore};
use crate::{Page, PageRequest, StoreError, StoreResult};

const BUS_COLUMNS: &str = "account_id, name, arn, document, created_at_ms, updated_at_ms";
const RULE_COLUMNS: &str = "account_id, bus_name, name, arn, document, created_at_ms, updated_at_ms, next_fire_ms";
const TARGET_COLUMNS: &str = "account_id, bus_name, rule_name, target_id, arn, document";
const DELIVERY_COLUMNS: &str = "delivery_id, account_id, bus_name, rule_name, target_id, event, target, \
     ingested_at_ms, attempts, next_attempt_ms, lease_owner, lease_expires_at_ms, last_error";
const RESOURCE_COLUMNS: &str = "account_id, kind, name, arn, document, sealed, created_at_ms, updated_at_ms";

fn bus_from_row(row: &AnyRow) -> StoreResult<BusRow> {
    Ok(BusRow {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        arn: row.try_get("arn")?,
        document: parse_json(&row.try_get::<String, _>("document")?, "event bus")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

fn rule_from_row(row: &AnyRow) -> StoreResult<RuleRow> {
    Ok(RuleRow {
        account_id: row.try_get("account_id")?,
        bus_name: row.try_get("bus_name")?,
        name: row.try_get("name")?,
        arn: row.try_get("arn")?,
        document: parse_json(&row.try_get::<String, _>("document")?, "event rule")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        next_fire_ms: row.try_get("next_fire_ms")?,
    })
}

fn target_from_row(row: &AnyRow) -> StoreResult<TargetRow> {
    Ok(TargetRow {
        account_id: row.try_get("account_id")?,
        bus_name: row.try_get("bus_name")?,
        rule_name: row.try_get("rule_name")?,
        target_id: row.try_get("target_id")?,
        arn: row.try_get("arn")?,
        document: parse_json(&row.try_get::<String, _>("document")?, "event target")?,
    })
}

fn delivery_from_row(row: &AnyRow) -> StoreResult<DeliveryRow> {
    Ok(DeliveryRow {
        delivery_id: row.try_get("delivery_id")?,
        account_id: row.try_get("account_id")?,
        bus_name: row.try_get("bus_name")?,
        rule_name: row.try_get("rule_name")?,
        target_id: row.try_get("target_id")?,
        event: parse_json(&row.try_get::<String, _>("event")?, "delivery event")?,
        target: parse_json(&row.try_get::<String, _>("target")?, "delivery target")?,
        ingested_at_ms: row.try_get("ingested_at_ms")?,
        attempts: row.try_get("attempts")?,
        next_attempt_ms: row.try_get("next_attempt_ms")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at_ms: row.try_get("lease_expires_at_ms")?,
        last_error: row.try_get("last_error")?,
    })
}

fn resource_from_row(row: &AnyRow) -> StoreResult<BusResourceRow> {
    Ok(BusResourceRow {
        account_id: row.try_get("account_id")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        arn: row.try_get("arn")?,
        document: parse_json(&row.try_get::<String, _>("document")?, "event bus resource")?,
        sealed: row.try_get("sealed")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

/// Rows a delivery INSERT takes at most: multi-row statements keep a group
/// commit of thousands of deliveries to a few hundred statements; small
/// ones, since SQLite finds each named parameter by a linear search.
const INSERT_ROWS: usize = 8;

/// The INSERT of `rows` deliveries (13 parameters a row), made once.
fn insert_statement(rows: usize) -> String {
    static STATEMENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        (0..=INSERT_ROWS)
            .map(|n| {
                let values = (0..n)
                    .map(|i| {
                        format!("({})", (1..=13).map(|k| format!("${}", i * 13 + k)).collect::<Vec<_>>().join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("INSERT INTO event_deliveries ({DELIVERY_COLUMNS}) VALUES {values}")
            })
            .collect()
    });
    statements[rows.min(INSERT_ROWS)].clone()
}

/// `name` starts with the bound prefix (`$p`) of length `$n`, without LIKE
/// (names may hold `_`).
pub(crate) fn prefix_clause(column: &str, prefix_param: usize, length_param: usize) -> String {
    format!("substr({column}, 1, CAST(${length_param} AS INTEGER)) = ${prefix_param}")
}

#[async_trait::async_trait]
impl BusStore for SqlStore {
    async fn create_bus(&self, bus: &BusRow) -> StoreResult<()> {
        let result =
            sqlx::query(dynamic(format!("INSERT INTO event_buses ({BUS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)")))
                .bind(&bus.account_id)
                .bind(&bus.name)
                .bind(&bus.arn)
                .bind(bus.document.to_string())
                .bind(bus.created_at_ms)
                .bind(bus.updated_at_ms)
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: "event bus", name: bus.name.clone() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_bus(&self, account_id: &str, name: &str) -> StoreResult<Option<BusRow>> {
        let row =
            sqlx::query(dynamic(format!("SELECT {BUS_COLUMNS} FROM event_buses WHERE account_id = $1 AND name = $2")))
                .bind(account_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(bus_from_row).transpose()
    }

    async fn list_buses(&self, account_id: &str, prefix: &str, page: &PageRequest) -> StoreResult<Page<BusRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {BUS_COLUMNS} FROM event_buses WHERE account_id = $1 AND {} AND name > $4 ORDER BY name LIMIT {}",
            prefix_clause("name", 2, 3),
            fetch_limit(page)
        )))
        .bind(account_id)
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(page.cursor.clone().unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(bus_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |b| b.name.clone()))
    }

    async fn update_bus(&self, bus: &BusRow) -> StoreResult<()> {
        let result =
            sqlx::query("UPDATE event_buses SET document = $1, updated_at_ms = $2 WHERE account_id = $3 AND name = $4")
                .bind(bus.document.to_string())
                .bind(bus.updated_at_ms)
                .bind(&bus.account_id)
                .bind(&bus.name)
                .execute(&self.pool)
                .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "event bus", name: bus.name.clone() });
        }
        Ok(())
    }

    async fn delete_bus(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for table in ["event_targets", "event_rules", "event_deliveries"] {
            sqlx::query(dynamic(format!("DELETE FROM {table} WHERE account_id = $1 AND bus_name = $2")))
                .bind(account_id)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM event_buses WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_rule(&self, rule: &RuleRow) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        let bus = sqlx::query(dynamic(format!(
            "SELECT name FROM event_buses WHERE account_id = $1 AND name = $2{}",
            self.share_lock()
        )))
        .bind(&rule.account_id)
        .bind(&rule.bus_name)
        .fetch_optional(&mut *tx)
        .await?;
        if bus.is_none() {
            return Err(StoreError::NotFound { kind: "event bus", name: rule.bus_name.clone() });
        }
        sqlx::query(dynamic(format!(
            "INSERT INTO event_rules ({RULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (account_id, bus_name, name) DO UPDATE SET arn = $4, document = $5, updated_at_ms = $7, \
             next_fire_ms = $8"
        )))
        .bind(&rule.account_id)
        .bind(&rule.bus_name)
        .bind(&rule.name)
        .bind(&rule.arn)
        .bind(rule.document.to_string())
        .bind(rule.created_at_ms)
        .bind(rule.updated_at_ms)
        .bind(rule.next_fire_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn due_rule_schedules(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<RuleRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {RULE_COLUMNS} FROM event_rules WHERE next_fire_ms IS NOT NULL AND next_fire_ms <= $1 \
             ORDER BY next_fire_ms LIMIT {}",
            limit.max(1)
        )))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rule_from_row).collect()
    }

    async fn claim_rule_schedule(
        &self,
        account_id: &str,
        bus_name: &str,
        name: &str,
        due_ms: i64,
        next_fire_ms: Option<i64>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE event_rules SET next_fire_ms = $1 WHERE account_id = $2 AND bus_name = $3 AND name = $4 \
             AND next_fire_ms = $5",
        )
        .bind(next_fire_ms)
        .bind(account_id)
        .bind(bus_name)
        .bind(name)
        .bind(due_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn get_rule(&self, account_id: &str, bus_name: &str, name: &str) -> StoreResult<Option<RuleRow>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {RULE_COLUMNS} FROM event_rules WHERE account_id = $1 AND bus_name = $2 AND name = $3"
        )))
        .bind(account_id)
        .bind(bus_name)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rule_from_row).transpose()
    }

    async fn list_rules(
        &self,
        account_id: &str,
        bus_name: &str,
        prefix: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<RuleRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {RULE_COLUMNS} FROM event_rules WHERE account_id = $1 AND bus_name = $2 AND {} AND name > $5 \
             ORDER BY name LIMIT {}",
            prefix_clause("name", 3, 4),
            fetch_limit(page)
        )))
        .bind(account_id)
        .bind(bus_name)
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(page.cursor.clone().unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(rule_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |r| r.name.clone()))
    }

    async fn delete_rule(&self, account_id: &str, bus_name: &str, name: &str) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        sqlx::query("DELETE FROM event_targets WHERE account_id = $1 AND bus_name = $2 AND rule_name = $3")
            .bind(account_id)
            .bind(bus_name)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM event_rules WHERE account_id = $1 AND bus_name = $2 AND name = $3")
            .bind(account_id)
            .bind(bus_name)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_targets(&self, targets: &[TargetRow]) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for t in targets {
            sqlx::query(dynamic(format!(
                "INSERT INTO event_targets ({TARGET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (account_id, bus_name, rule_name, target_id) DO UPDATE SET arn = $5, document = $6"
            )))
            .bind(&t.account_id)
            .bind(&t.bus_name)
            .bind(&t.rule_name)
            .bind(&t.target_id)
            .bind(&t.arn)
            .bind(t.document.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_targets(
        &self,
        account_id: &str,
        bus_name: &str,
        rule_name: &str,
        ids: &[String],
    ) -> StoreResult<Vec<String>> {
        let mut tx = self.write_transaction().await?;
        let mut removed = Vec::new();
        for id in ids {
            let result = sqlx::query(
                "DELETE FROM event_targets WHERE account_id = $1 AND bus_name = $2 AND rule_name = $3 AND target_id = $4",
            )
            .bind(account_id)
            .bind(bus_name)
            .bind(rule_name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if result.rows_affected() > 0 {
                removed.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn list_targets(&self, account_id: &str, bus_name: &str, rule_name: &str) -> StoreResult<Vec<TargetRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {TARGET_COLUMNS} FROM event_targets WHERE account_id = $1 AND bus_name = $2 AND rule_name = $3 \
             ORDER BY target_id"
        )))
        .bind(account_id)
        .bind(bus_name)
        .bind(rule_name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(target_from_row).collect()
    }

    async fn bus_targets(&self, account_id: &str, bus_name: &str) -> StoreResult<Vec<TargetRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {TARGET_COLUMNS} FROM event_targets WHERE account_id = $1 AND bus_name = $2 ORDER BY rule_name, target_id"
        )))
        .bind(account_id)
        .bind(bus_name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(target_from_row).collect()
    }

    async fn rules_by_target(
        &self,
        account_id: &str,
        bus_name: &str,
        arn: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<String>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT DISTINCT rule_name FROM event_targets WHERE account_id = $1 AND bus_name = $2 AND arn = $3 \
             AND rule_name > $4 ORDER BY rule_name LIMIT {}",
            fetch_limit(page)
        )))
        .bind(account_id)
        .bind(bus_name)
        .bind(arn)
        .bind(page.cursor.clone().unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(|r| r.try_get::<String, _>("rule_name")).collect::<Result<Vec<_>, _>>()?;
        Ok(paginate(items, page.limit, Clone::clone))
    }

    async fn insert_routed(&self, deliveries: &[DeliveryRow], archived: &[ArchivedEventRow]) -> StoreResult<()> {
        if deliveries.is_empty() && archived.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_transaction().await?;
        crate::sql_archives::insert_archived(&mut tx, archived).await?;
        for chunk in deliveries.chunks(INSERT_ROWS) {
            let mut query = sqlx::query(dynamic(insert_statement(chunk.len())));
            for d in chunk {
                query = query
                    .bind(d.delivery_id.clone())
                    .bind(d.account_id.clone())
                    .bind(d.bus_name.clone())
                    .bind(d.rule_name.clone())
                    .bind(d.target_id.clone())
                    .bind(d.event.to_string())
                    .bind(d.target.to_string())
                    .bind(d.ingested_at_ms)
                    .bind(d.attempts)
                    .bind(d.next_attempt_ms)
                    .bind(d.lease_owner.clone())
                    .bind(d.lease_expires_at_ms)
                    .bind(d.last_error.clone());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryRow>> {
        // Most polls find nothing: a read says so without taking the write lock.
        let due = sqlx::query(
            "SELECT delivery_id FROM event_deliveries WHERE next_attempt_ms <= $1 \
             AND (lease_owner IS NULL OR lease_expires_at_ms < $1) LIMIT 1",
        )
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let skip_locked = self.skip_locked();
        let rows = sqlx::query(dynamic(format!(
            "UPDATE event_deliveries SET lease_owner = $1, lease_expires_at_ms = $2 \
             WHERE delivery_id IN (SELECT delivery_id FROM event_deliveries \
                 WHERE next_attempt_ms <= $3 AND (lease_owner IS NULL OR lease_expires_at_ms < $3) \
                 ORDER BY next_attempt_ms, delivery_id LIMIT {}{skip_locked}) \
             RETURNING {DELIVERY_COLUMNS}",
            limit.max(1)
        )))
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn finish_deliveries(&self, owner: &str, ids: &[String]) -> StoreResult<u64> {
        let mut removed = 0;
        let mut tx = self.write_transaction().await?;
        for chunk in ids.chunks(32) {
            let placeholders = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
            let mut query = sqlx::query(dynamic(format!(
                "DELETE FROM event_deliveries WHERE lease_owner = $1 AND delivery_id IN ({placeholders})"
            )))
            .bind(owner.to_string());
            for id in chunk {
                query = query.bind(id.clone());
            }
            removed += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn retry_delivery(
        &self,
        delivery_id: &str,
        owner: &str,
        attempts: i64,
        next_attempt_ms: i64,
        last_error: &str,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE event_deliveries SET attempts = $1, next_attempt_ms = $2, last_error = $3, lease_owner = NULL, \
             lease_expires_at_ms = NULL WHERE delivery_id = $4 AND lease_owner = $5",
        )
        .bind(attempts)
        .bind(next_attempt_ms)
        .bind(last_error)
        .bind(delivery_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn release_deliveries(&self, owner: &str) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE event_deliveries SET lease_owner = NULL, lease_expires_at_ms = NULL WHERE lease_owner = $1",
        )
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn pending_deliveries(&self, account_id: Option<&str>) -> StoreResult<u64> {
        let row = match account_id {
            Some(account_id) => {
                sqlx::query("SELECT COUNT(*) AS n FROM event_deliveries WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_one(&self.pool)
                    .await?
            }
            None => sqlx::query("SELECT COUNT(*) AS n FROM event_deliveries").fetch_one(&self.pool).await?,
        };
        Ok(row.try_get::<i64, _>("n")?.max(0) as u64)
    }

    async fn create_bus_resource(&self, r: &BusResourceRow) -> StoreResult<()> {
        let result = sqlx::query(dynamic(format!(
            "INSERT INTO event_resources ({RESOURCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(&r.account_id)
        .bind(&r.kind)
        .bind(&r.name)
        .bind(&r.arn)
        .bind(r.document.to_string())
        .bind(r.sealed.clone())
        .bind(r.created_at_ms)
        .bind(r.updated_at_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: resource_kind(&r.kind), name: r.name.clone() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_bus_resource(&self, account_id: &str, kind: &str, name: &str) -> StoreResult<Option<BusResourceRow>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {RESOURCE_COLUMNS} FROM event_resources WHERE account_id = $1 AND kind = $2 AND name = $3"
        )))
        .bind(account_id)
        .bind(kind)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(resource_from_row).transpose()
    }

    async fn list_bus_resources(
        &self,
        account_id: &str,
        kind: &str,
        prefix: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<BusResourceRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {RESOURCE_COLUMNS} FROM event_resources WHERE account_id = $1 AND kind = $2 AND {} AND name > $5 \
             ORDER BY name LIMIT {}",
            prefix_clause("name", 3, 4),
            fetch_limit(page)
        )))
        .bind(account_id)
        .bind(kind)
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(page.cursor.clone().unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(resource_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |r| r.name.clone()))
    }

    async fn update_bus_resource(&self, r: &BusResourceRow) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE event_resources SET arn = $1, document = $2, sealed = $3, updated_at_ms = $4 \
             WHERE account_id = $5 AND kind = $6 AND name = $7",
        )
        .bind(&r.arn)
        .bind(r.document.to_string())
        .bind(r.sealed.clone())
        .bind(r.updated_at_ms)
        .bind(&r.account_id)
        .bind(&r.kind)
        .bind(&r.name)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: resource_kind(&r.kind), name: r.name.clone() });
        }
        Ok(())
    }

    async fn delete_bus_resource(&self, account_id: &str, kind: &str, name: &str) -> StoreResult<()> {
        let result = sqlx::query("DELETE FROM event_resources WHERE account_id = $1 AND kind = $2 AND name = $3")
            .bind(account_id)
            .bind(kind)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: resource_kind(kind), name: name.to_string() });
        }
        Ok(())
    }
}

/// The human name of a resource kind, for messages.
fn resource_kind(kind: &str) -> &'static str {
    match kind {
        "connection" => "connection",
        "api-destination" => "api destination",
        "archive" => "archive",
        "replay" => "replay",
        _ => "event bus resource",
    }
}
