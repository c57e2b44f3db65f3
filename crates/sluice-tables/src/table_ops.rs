//! Table management: CreateTable, DescribeTable, ListTables, UpdateTable
//! (billing, streams on or off, global secondary indexes added with a
//! backfill or removed), DeleteTable, time to live and tags.

use sluice_model::dynamodb as wire;
use sluice_store::tables::{ItemWrite, NewItem, StreamRow, TableRow, WriteAction};
use sluice_store::StoreError;

use crate::error::{TablesError, TablesResult};
use crate::items::index_entries_of;
use crate::schema::{KeyAttribute, StreamState, TableSchema, POINTS};
use crate::service::{decode_item, new_version, now_ms, LoadedTable, TableService};
use crate::value::item_size;
use sluice_store::tables::{CommitOutcome, Expected};

/// Most tables per account and region (DynamoDB's default quota).
const MAX_TABLES: usize = 2500;
/// Items re-written per commit while an index is back-filled.
const BACKFILL_BATCH: usize = 100;

fn not_found(name: &str) -> TablesError {
    TablesError::ResourceNotFound(format!("Requested resource not found: Table: {name} not found"))
}

fn view_type(spec: &wire::StreamSpecification) -> TablesResult<String> {
    spec.stream_view_type.map(|v| v.as_str().to_string()).ok_or_else(|| {
        TablesError::validation(
            "One or more parameter values were invalid: StreamViewType is required when StreamEnabled is true",
        )
    })
}

impl TableService {
    fn describe_loaded(
        &self,
        table: &LoadedTable,
        status: wire::TableStatus,
        usage: (i64, i64),
    ) -> wire::TableDescription {
        table.schema.describe(table.name(), table.id(), table.row.created_at_ms, status, usage)
    }

    /// Stores a table's changed schema.
    async fn save_schema(&self, table: &LoadedTable) -> TablesResult<()> {
        Ok(self.store.update_table(&table.row.account_id, table.name(), &table.schema.to_stored()).await?)
    }

    /// A fresh stream on `table` (label: the time it was enabled).
    async fn open_stream(&self, account_id: &str, table: &TableRow, view_type: String) -> TablesResult<StreamState> {
        let now = now_ms();
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
            .map_err(|e| TablesError::Internal(e.to_string()))?;
        let label = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        );
        let arn = format!("{}/stream/{label}", self.table_arn(account_id, &table.name));
        self.store
            .create_stream(&StreamRow {
                stream_arn: arn.clone(),
                account_id: account_id.to_string(),
                table_name: table.name.clone(),
                table_id: table.table_id.clone(),
                stream_label: label.clone(),
                view_type: view_type.clone(),
                created_at_ms: now,
                disabled_at_ms: None,
                first_seq: self.store.last_sequence(&table.table_id).await?,
            })
            .await?;
        Ok(StreamState { view_type, label, arn })
    }

    /// CreateTable.
    pub async fn create_table(
        &self,
        account_id: &str,
        input: &wire::CreateTableInput,
    ) -> TablesResult<wire::TableDescription> {
        let mut schema = TableSchema::from_create(input, self.table_arn(account_id, &input.table_name))?;
        if self.store.list_tables(account_id, None, MAX_TABLES).await?.len() >= MAX_TABLES {
            return Err(TablesError::LimitExceeded(format!(
                "Subscriber limit exceeded: There is a limit of {MAX_TABLES} tables per subscriber"
            )));
        }
        let mut row = TableRow {
            account_id: account_id.to_string(),
            name: input.table_name.clone(),
            table_id: uuid::Uuid::new_v4().to_string(),
            description: schema.to_stored(),
            created_at_ms: now_ms(),
        };
        match self.store.create_table(&row).await {
            Err(StoreError::AlreadyExists { .. }) => {
                return Err(TablesError::ResourceInUse(format!("Table already exists: {}", input.table_name)))
            }
            other => other?,
        }
        if let Some(spec) = input.stream_specification.as_ref().filter(|s| s.stream_enabled) {
            schema.stream = Some(self.open_stream(account_id, &row, view_type(spec)?).await?);
            row.description = schema.to_stored();
            self.store.update_table(account_id, &row.name, &row.description).await?;
        }
        tracing::info!(account_id, table = %row.name, "table created");
        let table = LoadedTable { row, schema };
        Ok(self.describe_loaded(&table, wire::TableStatus::Creating, (0, 0)))
    }

    /// DescribeTable.
    pub async fn describe_table(&self, account_id: &str, name: &str) -> TablesResult<wire::TableDescription> {
        let table = self.find_table(account_id, name).await?.ok_or_else(|| not_found(name))?;
        let usage = self.store.table_usage(table.id()).await?;
        Ok(self.describe_loaded(&table, wire::TableStatus::Active, usage))
    }

    /// ListTables: names after `after`, at most `limit` (1 to 100), and the
    /// last name when more follow.
    pub async fn list_tables(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: Option<i32>,
    ) -> TablesResult<(Vec<String>, Option<String>)> {
        let limit = limit.unwrap_or(100);
        if !(1..=100).contains(&limit) {
            return Err(TablesError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must \
                 have value less than or equal to 100"
            )));
        }
        let limit = limit as usize;
        let rows = self.store.list_tables(account_id, after, limit + 1).await?;
        let more = rows.len() > limit;
        let names: Vec<String> = rows.into_iter().take(limit).map(|r| r.name).collect();
        let last = more.then(|| names.last().cloned()).flatten();
        Ok((names, last))
    }

    /// DeleteTable: the table, its items and indexes go; its stream is
    /// disabled and readable until trimmed.
    pub async fn delete_table(&self, account_id: &str, name: &str) -> TablesResult<wire::TableDescription> {
        let table = self.find_table(account_id, name).await?.ok_or_else(|| not_found(name))?;
        if table.schema.deletion_protection {
            return Err(TablesError::validation(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion \
                 protection first.",
            ));
        }
        let usage = self.store.table_usage(table.id()).await?;
        let description = self.describe_loaded(&table, wire::TableStatus::Deleting, usage);
        self.store.disable_streams(table.id(), now_ms()).await?;
        match self.store.delete_table(&table.row.account_id, table.name()).await {
            Err(StoreError::NotFound { .. }) => return Err(not_found(name)),
            other => other?,
        }
        tracing::info!(account_id, table = %table.name(), "table deleted");
        Ok(description)
    }

    /// UpdateTable.
    pub async fn update_table(
        &self,
        account_id: &str,
        input: &wire::UpdateTableInput,
    ) -> TablesResult<wire::TableDescription> {
        let mut table =
            self.find_table(account_id, &input.table_name).await?.ok_or_else(|| not_found(&input.table_name))?;
        let schema = &mut table.schema;
        for definition in input.attribute_definitions.iter().flatten() {
            let attribute = KeyAttribute {
                name: definition.attribute_name.clone(),
                kind: definition.attribute_type.as_str().to_string(),
            };
            match schema.attributes.iter().find(|a| a.name == attribute.name) {
                Some(existing) if existing.kind != attribute.kind => {
                    return Err(TablesError::validation(format!(
                        "One or more parameter values were invalid: Attribute {} is already defined with type {}",
                        attribute.name, existing.kind
                    )))
                }
                Some(_) => {}
                None => schema.attributes.push(attribute),
            }
        }
        if let Some(mode) = input.billing_mode {
            schema.billing_mode = mode.as_str().to_string();
            if schema.billing_mode == "PAY_PER_REQUEST" {
                schema.throughput = None;
            }
        }
        if let Some(throughput) = &input.provisioned_throughput {
            if schema.billing_mode == "PAY_PER_REQUEST" {
                return Err(TablesError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can \
                     be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            schema.throughput = Some((throughput.read_capacity_units, throughput.write_capacity_units));
        }
        if schema.billing_mode == "PROVISIONED" && schema.throughput.is_none() {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode \
                 is PROVISIONED",
            ));
        }
        if let Some(protection) = input.deletion_protection_enabled {
            schema.deletion_protection = protection;
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for update in input.global_secondary_index_updates.iter().flatten() {
            if let Some(create) = &update.create {
                if schema.index(&create.index_name).is_some() {
                    return Err(TablesError::validation(format!(
                        "One or more parameter values were invalid: Index with name {} already exists",
                        create.index_name
                    )));
                }
                if schema.indexes.iter().filter(|i| i.global).count() >= 20 {
                    return Err(TablesError::LimitExceeded(
                        "GlobalSecondaryIndex count exceeds the per-table limit of 20".into(),
                    ));
                }
                let index = TableSchema::global_index(
                    &create.index_name,
                    &create.key_schema,
                    &create.projection,
                    &schema.attributes,
                )?;
                added.push(index.name.clone());
                schema.indexes.push(index);
            }
            if let Some(delete) = &update.delete {
                let Some(position) = schema.indexes.iter().position(|i| i.global && i.name == delete.index_name) else {
                    return Err(TablesError::ResourceNotFound(format!(
                        "Requested resource not found: Index: {} not found",
                        delete.index_name
                    )));
                };
                removed.push(schema.indexes.remove(position).name);
            }
            if let Some(change) = &update.update {
                if schema.index(&change.index_name).is_none() {
                    return Err(TablesError::ResourceNotFound(format!(
                        "Requested resource not found: Index: {} not found",
                        change.index_name
                    )));
                }
            }
        }
        let mut stream_change = None;
        if let Some(spec) = &input.stream_specification {
            match (spec.stream_enabled, &schema.stream) {
                (true, Some(_)) => {
                    return Err(TablesError::validation(format!(
                        "Table already has an enabled stream: TableName: {}",
                        input.table_name
                    )))
                }
                (false, None) => {
                    return Err(TablesError::validation(format!(
                        "Table already has no enabled stream: TableName: {}",
                        input.table_name
                    )))
                }
                (true, None) => stream_change = Some(Some(view_type(spec)?)),
                (false, Some(_)) => stream_change = Some(None),
            }
        }
        match stream_change {
            Some(Some(view)) => table.schema.stream = Some(self.open_stream(account_id, &table.row, view).await?),
            Some(None) => {
                self.store.disable_streams(table.id(), now_ms()).await?;
                table.schema.stream = None;
            }
            None => {}
        }
        self.save_schema(&table).await?;
        for name in &removed {
            self.store.replace_index(table.id(), name, &[]).await?;
        }
        if !added.is_empty() {
            self.backfill(&table).await?;
        }
        let usage = self.store.table_usage(table.id()).await?;
        Ok(self.describe_loaded(&table, wire::TableStatus::Active, usage))
    }

    /// Writes every item again under the table's current schema, so a new
    /// index holds entries for the items that were there before it. Each
    /// write expects the version it read: an item changed meanwhile was
    /// written with the new schema already and is left alone.
    async fn backfill(&self, table: &LoadedTable) -> TablesResult<()> {
        let mut after = None;
        loop {
            let page = self.store.scan_items(table.id(), None, (0, POINTS), after.as_ref(), BACKFILL_BATCH).await?;
            let Some(last) = page.last() else { break };
            after = Some(crate::items::cursor_of(last));
            let mut writes = Vec::with_capacity(page.len());
            for stored in &page {
                let item = decode_item(stored)?;
                writes.push(ItemWrite {
                    table_id: table.id().to_string(),
                    hash_key: stored.hash_key.clone(),
                    range_key: stored.range_key.clone(),
                    hash_point: stored.hash_point,
                    expected: Expected::Version(stored.version),
                    action: WriteAction::Put(NewItem {
                        item: stored.item.clone(),
                        version: new_version(),
                        size_bytes: item_size(&item) as i64,
                        index_entries: index_entries_of(&table.schema, &item)?,
                    }),
                });
            }
            while !writes.is_empty() {
                match self.store.commit(&writes, &[]).await? {
                    CommitOutcome::Committed => break,
                    CommitOutcome::Conflict(n) => {
                        writes.remove(n);
                    }
                }
            }
            if page.len() < BACKFILL_BATCH {
                break;
            }
        }
        Ok(())
    }

    /// UpdateTimeToLive.
    pub async fn update_time_to_live(
        &self,
        account_id: &str,
        name: &str,
        spec: &wire::TimeToLiveSpecification,
    ) -> TablesResult<wire::TimeToLiveSpecification> {
        let mut table = self.table(account_id, name).await?;
        match (&table.schema.ttl_attribute, spec.enabled) {
            (Some(_), true) => return Err(TablesError::validation("TimeToLive is already enabled")),
            (None, false) => return Err(TablesError::validation("TimeToLive is already disabled")),
            (Some(current), false) if *current != spec.attribute_name => {
                return Err(TablesError::validation(format!(
                    "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
                )))
            }
            _ => {}
        }
        table.schema.ttl_attribute = spec.enabled.then(|| spec.attribute_name.clone());
        self.save_schema(&table).await?;
        Ok(spec.clone())
    }

    /// DescribeTimeToLive.
    pub async fn describe_time_to_live(
        &self,
        account_id: &str,
        name: &str,
    ) -> TablesResult<wire::TimeToLiveDescription> {
        let table = self.table(account_id, name).await?;
        Ok(wire::TimeToLiveDescription {
            time_to_live_status: Some(if table.schema.ttl_attribute.is_some() {
                wire::TimeToLiveStatus::Enabled
            } else {
                wire::TimeToLiveStatus::Disabled
            }),
            attribute_name: table.schema.ttl_attribute.clone(),
        })
    }

    async fn table_of_arn(&self, account_id: &str, arn: &str) -> TablesResult<LoadedTable> {
        if crate::service::parse_table_arn(arn).is_none() {
            return Err(TablesError::validation(format!(
                "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            )));
        }
        self.find_table(account_id, arn).await?.ok_or_else(|| {
            TablesError::ResourceNotFound(format!("Requested resource not found: ResourcArn: {arn} not found"))
        })
    }

    /// TagResource.
    pub async fn tag_resource(&self, account_id: &str, arn: &str, tags: &[wire::Tag]) -> TablesResult<()> {
        let mut table = self.table_of_arn(account_id, arn).await?;
        for tag in tags {
            table.schema.tags.insert(tag.key.clone(), tag.value.clone());
        }
        if table.schema.tags.len() > 50 {
            return Err(TablesError::LimitExceeded(
                "The number of tags for this resource exceeds the maximum allowed (50)".into(),
            ));
        }
        self.save_schema(&table).await?;
        Ok(())
    }

    /// UntagResource.
    pub async fn untag_resource(&self, account_id: &str, arn: &str, keys: &[String]) -> TablesResult<()> {
        let mut table = self.table_of_arn(account_id, arn).await?;
        for key in keys {
            table.schema.tags.remove(key);
        }
        self.save_schema(&table).await?;
        Ok(())
    }

    /// ListTagsOfResource.
    pub async fn list_tags(&self, account_id: &str, arn: &str) -> TablesResult<Vec<wire::Tag>> {
        let table = self.table_of_arn(account_id, arn).await?;
        Ok(table.schema.tags.iter().map(|(key, value)| wire::Tag { key: key.clone(), value: value.clone() }).collect())
    }
}
