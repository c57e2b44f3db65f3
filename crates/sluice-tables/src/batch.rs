//! Operations on several items: BatchGetItem, BatchWriteItem (each commit
//! holds the whole batch), TransactGetItems and TransactWriteItems (all or
//! nothing, with DynamoDB's cancellation reasons).

use std::collections::{BTreeMap, HashMap, HashSet};

use sluice_model::dynamodb as wire;
use sluice_store::tables::{CommitOutcome, Expected, ItemWrite, WriteAction};

use crate::capacity::{self, PerTable};
use crate::error::{CancellationReason, TablesError, TablesResult};
use crate::expression;
use crate::items::{
    check_key_unchanged, expression_attributes, new_item_key, project, projection, updated_item, write_of, Decision,
    WriteCondition,
};
use crate::records::{stream_record, ChangeOrigin};
use crate::schema::ItemKey;
use crate::service::{now_ms, LoadedTable, TableService, VersionedItem, MAX_ATTEMPTS};
use crate::value::{item_from_wire, item_size, item_to_wire, Item};

/// Most keys of a BatchGetItem.
const MAX_BATCH_GET: usize = 100;
/// Most requests of a BatchWriteItem.
const MAX_BATCH_WRITE: usize = 25;
/// Most actions of a transaction.
const MAX_TRANSACTION: usize = 100;
/// Largest BatchGetItem answer before the rest is left unprocessed.
const MAX_BATCH_GET_BYTES: usize = 16 * 1024 * 1024;

fn duplicates() -> TablesError {
    TablesError::validation("Provided list of item keys contains duplicates")
}

/// Tables of a request, each loaded once.
#[derive(Default)]
struct Tables(HashMap<String, LoadedTable>);

impl Tables {
    async fn get(&mut self, service: &TableService, account_id: &str, name: &str) -> TablesResult<LoadedTable> {
        if let Some(table) = self.0.get(name) {
            return Ok(table.clone());
        }
        let table = service.table(account_id, name).await?;
        self.0.insert(name.to_string(), table.clone());
        Ok(table)
    }
}

/// One decided write of a multi-item commit.
struct Planned {
    table: LoadedTable,
    key: ItemKey,
    old: Option<VersionedItem>,
    decision: Decision,
}

impl TableService {
    /// Reads the current items of `keys` (table, key) in one go per table.
    async fn read_many(&self, keys: &[(LoadedTable, ItemKey)]) -> TablesResult<Vec<Option<VersionedItem>>> {
        let mut found = vec![None; keys.len()];
        let mut by_table: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, (table, _)) in keys.iter().enumerate() {
            by_table.entry(table.id()).or_default().push(i);
        }
        for positions in by_table.values() {
            let table = &keys[positions[0]].0;
            let wanted: Vec<ItemKey> = positions.iter().map(|&i| keys[i].1.clone()).collect();
            for (&i, item) in positions.iter().zip(self.read_items(table, &wanted).await?) {
                found[i] = item;
            }
        }
        Ok(found)
    }

    /// Commits planned writes with their stream records; `Ok(false)` when
    /// another write came first (decide again).
    async fn commit_planned(&self, planned: &[Planned], every_item_checked: bool) -> TablesResult<bool> {
        let at = now_ms();
        let mut writes = Vec::new();
        let mut records = Vec::new();
        for p in planned {
            let old = p.old.as_ref().map(|o| &o.item);
            match write_of(&p.table, &p.key, p.old.as_ref(), &p.decision)? {
                Some(write) => {
                    let new = crate::items::after(old, &p.decision);
                    records.extend(stream_record(&p.table, &self.region, old, new.as_ref(), at, ChangeOrigin::Client));
                    writes.push(write);
                }
                None if every_item_checked => writes.push(ItemWrite {
                    table_id: p.table.id().to_string(),
                    hash_key: p.key.hash.clone(),
                    range_key: p.key.range.clone(),
                    hash_point: p.key.point,
                    expected: p.old.as_ref().map(|o| Expected::Version(o.version)).unwrap_or(Expected::Absent),
                    action: WriteAction::Check,
                }),
                None => {}
            }
        }
        if writes.is_empty() {
            return Ok(true);
        }
        Ok(self.store.commit(&writes, &records).await? == CommitOutcome::Committed)
    }

    /// BatchGetItem.
    pub async fn batch_get_item(
        &self,
        account_id: &str,
        input: &wire::BatchGetItemInput,
    ) -> TablesResult<wire::BatchGetItemOutput> {
        let total: usize = input.request_items.values().map(|r| r.keys.len()).sum();
        if total > MAX_BATCH_GET {
            return Err(TablesError::validation(format!(
                "Too many items requested for the BatchGetItem call: {total} keys, at most {MAX_BATCH_GET}"
            )));
        }
        let mut responses = BTreeMap::new();
        let mut unprocessed = BTreeMap::new();
        let mut bytes = 0usize;
        let mut units = PerTable::default();
        let mut tables = Tables::default();
        for (name, request) in &input.request_items {
            let table = tables.get(self, account_id, name).await?;
            let attributes = expression_attributes(request.expression_attribute_names.as_ref(), None)?;
            let paths = projection(
                request.projection_expression.as_deref(),
                request.attributes_to_get.as_deref(),
                &attributes,
            )?;
            attributes.check_all_used()?;
            let mut keys = Vec::with_capacity(request.keys.len());
            let mut seen = HashSet::new();
            for key in &request.keys {
                let key = table.schema.request_key(&item_from_wire(key)?)?;
                if !seen.insert(key.clone()) {
                    return Err(duplicates());
                }
                keys.push(key);
            }
            let mut found = Vec::new();
            let mut left = Vec::new();
            for (wire_key, item) in request.keys.iter().zip(self.read_items(&table, &keys).await?) {
                if bytes >= MAX_BATCH_GET_BYTES {
                    left.push(wire_key.clone());
                    continue;
                }
                let size = item.as_ref().map(|i| item_size(&i.item)).unwrap_or(0);
                units.add(table.name(), capacity::read_units(size, request.consistent_read.unwrap_or(false)), 0.0);
                if let Some(item) = item {
                    bytes += size;
                    found.push(item_to_wire(&project(&item.item, paths.as_deref())));
                }
            }
            responses.insert(name.clone(), found);
            if !left.is_empty() {
                unprocessed.insert(name.clone(), wire::KeysAndAttributes { keys: left, ..request.clone() });
            }
        }
        Ok(wire::BatchGetItemOutput {
            responses: Some(responses),
            unprocessed_keys: Some(unprocessed),
            consumed_capacity: units.report(input.return_consumed_capacity),
        })
    }

    /// BatchWriteItem: the batch commits at once (DynamoDB's batches are
    /// not atomic; one commit is, and never leaves items unprocessed).
    pub async fn batch_write_item(
        &self,
        account_id: &str,
        input: &wire::BatchWriteItemInput,
    ) -> TablesResult<wire::BatchWriteItemOutput> {
        let total: usize = input.request_items.values().map(Vec::len).sum();
        if total > MAX_BATCH_WRITE {
            return Err(TablesError::validation(format!(
                "Too many items requested for the BatchWriteItem call: {total} requests, at most {MAX_BATCH_WRITE}"
            )));
        }
        let mut tables = Tables::default();
        let mut targets = Vec::with_capacity(total);
        let mut decisions = Vec::with_capacity(total);
        let mut seen = HashSet::new();
        for (name, requests) in &input.request_items {
            let table = tables.get(self, account_id, name).await?;
            for request in requests {
                let (key, decision) =
                    match (&request.put_request, &request.delete_request) {
                        (Some(put), None) => {
                            let item = item_from_wire(&put.item)?;
                            let key = new_item_key(&table, &item)?;
                            (key, Decision::Put(item))
                        }
                        (None, Some(delete)) => {
                            (table.schema.request_key(&item_from_wire(&delete.key)?)?, Decision::Delete)
                        }
                        _ => return Err(TablesError::validation(
                            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the \
                             supported datatypes",
                        )),
                    };
                if !seen.insert((table.id().to_string(), key.clone())) {
                    return Err(duplicates());
                }
                targets.push((table.clone(), key));
                decisions.push(decision);
            }
        }
        for _ in 0..MAX_ATTEMPTS {
            let olds = self.read_many(&targets).await?;
            let planned: Vec<Planned> = targets
                .iter()
                .zip(olds)
                .zip(&decisions)
                .map(|(((table, key), old), decision)| Planned {
                    table: table.clone(),
                    key: key.clone(),
                    old,
                    decision: decision.clone(),
                })
                .collect();
            if self.commit_planned(&planned, false).await? {
                return Ok(wire::BatchWriteItemOutput {
                    unprocessed_items: Some(BTreeMap::new()),
                    consumed_capacity: write_units(&planned, 1.0).report(input.return_consumed_capacity),
                    ..Default::default()
                });
            }
        }
        Err(TablesError::Internal("the batch's items kept changing while it was written; try again".into()))
    }

    /// TransactGetItems.
    pub async fn transact_get_items(
        &self,
        account_id: &str,
        input: &wire::TransactGetItemsInput,
    ) -> TablesResult<wire::TransactGetItemsOutput> {
        if input.transact_items.len() > MAX_TRANSACTION {
            return Err(TablesError::validation(format!(
                "Member must have length less than or equal to {MAX_TRANSACTION}"
            )));
        }
        let mut tables = Tables::default();
        let mut targets = Vec::new();
        let mut projections = Vec::new();
        let mut seen = HashSet::new();
        for action in &input.transact_items {
            let get = &action.get;
            let table = tables.get(self, account_id, &get.table_name).await?;
            let key = table.schema.request_key(&item_from_wire(&get.key)?)?;
            if !seen.insert((table.id().to_string(), key.clone())) {
                return Err(TablesError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            let attributes = expression_attributes(get.expression_attribute_names.as_ref(), None)?;
            projections.push(projection(get.projection_expression.as_deref(), None, &attributes)?);
            attributes.check_all_used()?;
            targets.push((table, key));
        }
        let found = self.read_many(&targets).await?;
        let mut units = PerTable::default();
        for ((table, _), item) in targets.iter().zip(&found) {
            let size = item.as_ref().map(|i| item_size(&i.item)).unwrap_or(0);
            units.add(table.name(), 2.0 * capacity::read_units(size, true), 0.0);
        }
        Ok(wire::TransactGetItemsOutput {
            consumed_capacity: units.report(input.return_consumed_capacity),
            responses: Some(
                found
                    .into_iter()
                    .zip(projections)
                    .map(|(item, paths)| wire::ItemResponse {
                        item: item.map(|i| item_to_wire(&project(&i.item, paths.as_deref()))),
                    })
                    .collect(),
            ),
        })
    }

    /// TransactWriteItems: every condition holds and every write lands, or
    /// nothing does and the reasons say which failed.
    pub async fn transact_write_items(
        &self,
        account_id: &str,
        input: &wire::TransactWriteItemsInput,
    ) -> TablesResult<wire::TransactWriteItemsOutput> {
        if input.transact_items.len() > MAX_TRANSACTION {
            return Err(TablesError::validation(format!(
                "Member must have length less than or equal to {MAX_TRANSACTION}"
            )));
        }
        let mut tables = Tables::default();
        let mut targets = Vec::new();
        let mut actions = Vec::new();
        let mut seen = HashSet::new();
        for item in &input.transact_items {
            let action = TransactAction::parse(self, &mut tables, account_id, item).await?;
            if !seen.insert((action.table.id().to_string(), action.key.clone())) {
                return Err(TablesError::validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            targets.push((action.table.clone(), action.key.clone()));
            actions.push(action);
        }
        for _ in 0..MAX_ATTEMPTS {
            let olds = self.read_many(&targets).await?;
            let mut reasons = Vec::with_capacity(actions.len());
            let mut planned = Vec::with_capacity(actions.len());
            let mut failed = false;
            for (action, old) in actions.iter().zip(olds) {
                match action.decide(old.as_ref().map(|o| &o.item)) {
                    Ok(decision) => {
                        reasons.push(CancellationReason { code: "None".into(), message: None, item: None });
                        planned.push(Planned { table: action.table.clone(), key: action.key.clone(), old, decision });
                    }
                    Err(TablesError::ConditionalCheckFailed { item }) => {
                        failed = true;
                        reasons.push(CancellationReason {
                            code: "ConditionalCheckFailed".into(),
                            message: Some("The conditional request failed".into()),
                            item,
                        });
                    }
                    Err(other) => return Err(other),
                }
            }
            if failed {
                return Err(TablesError::TransactionCanceled(reasons));
            }
            if self.commit_planned(&planned, true).await? {
                return Ok(wire::TransactWriteItemsOutput {
                    consumed_capacity: write_units(&planned, 2.0).report(input.return_consumed_capacity),
                    ..Default::default()
                });
            }
        }
        Err(TablesError::TransactionCanceled(
            actions
                .iter()
                .map(|_| CancellationReason {
                    code: "TransactionConflict".into(),
                    message: Some("Transaction is ongoing for the item".into()),
                    item: None,
                })
                .collect(),
        ))
    }
}

/// The units of planned writes per table (`factor` 2 in a transaction;
/// a condition check reads).
fn write_units(planned: &[Planned], factor: f64) -> PerTable {
    let mut units = PerTable::default();
    for p in planned {
        let old = p.old.as_ref().map(|o| item_size(&o.item)).unwrap_or(0);
        match &p.decision {
            Decision::Keep => units.add(p.table.name(), factor * capacity::read_units(old, true), 0.0),
            Decision::Put(item) => {
                units.add(p.table.name(), 0.0, factor * capacity::write_units(old.max(item_size(item))))
            }
            Decision::Delete => units.add(p.table.name(), 0.0, factor * capacity::write_units(old)),
        }
    }
    units
}

/// What one action of a transaction does.
enum TransactKind {
    Check,
    Put(Item),
    Delete,
    Update(expression::UpdateExpression, Item),
}

/// One parsed action of TransactWriteItems.
struct TransactAction {
    table: LoadedTable,
    key: ItemKey,
    condition: WriteCondition,
    kind: TransactKind,
}

impl TransactAction {
    async fn parse(
        service: &TableService,
        tables: &mut Tables,
        account_id: &str,
        item: &wire::TransactWriteItem,
    ) -> TablesResult<Self> {
        let present =
            [item.condition_check.is_some(), item.put.is_some(), item.delete.is_some(), item.update.is_some()];
        if present.iter().filter(|p| **p).count() != 1 {
            return Err(TablesError::validation("TransactItems can only contain one of Check, Put, Update or Delete"));
        }
        if let Some(put) = &item.put {
            let table = tables.get(service, account_id, &put.table_name).await?;
            let new = item_from_wire(&put.item)?;
            let key = new_item_key(&table, &new)?;
            let condition = WriteCondition::alone(
                put.condition_expression.as_deref(),
                put.expression_attribute_names.as_ref(),
                put.expression_attribute_values.as_ref(),
                put.return_values_on_condition_check_failure,
            )?;
            return Ok(Self { table, key, condition, kind: TransactKind::Put(new) });
        }
        if let Some(update) = &item.update {
            let table = tables.get(service, account_id, &update.table_name).await?;
            let key_item = item_from_wire(&update.key)?;
            let key = table.schema.request_key(&key_item)?;
            let attributes = expression_attributes(
                update.expression_attribute_names.as_ref(),
                update.expression_attribute_values.as_ref(),
            )?;
            let expression = expression::parse_update(&update.update_expression, &attributes)?;
            let condition = WriteCondition::parse(
                update.condition_expression.as_deref(),
                &attributes,
                update.return_values_on_condition_check_failure,
            )?;
            attributes.check_all_used()?;
            check_key_unchanged(&table, &expression)?;
            return Ok(Self { table, key, condition, kind: TransactKind::Update(expression, key_item) });
        }
        let (table_name, key, names, values, text, failure, kind) = match (&item.delete, &item.condition_check) {
            (Some(d), _) => (
                &d.table_name,
                &d.key,
                &d.expression_attribute_names,
                &d.expression_attribute_values,
                d.condition_expression.as_deref(),
                &d.return_values_on_condition_check_failure,
                TransactKind::Delete,
            ),
            (None, Some(c)) => (
                &c.table_name,
                &c.key,
                &c.expression_attribute_names,
                &c.expression_attribute_values,
                Some(c.condition_expression.as_str()),
                &c.return_values_on_condition_check_failure,
                TransactKind::Check,
            ),
            (None, None) => unreachable!("one action is present"),
        };
        let table = tables.get(service, account_id, table_name).await?;
        let key = table.schema.request_key(&item_from_wire(key)?)?;
        let condition = WriteCondition::alone(text, names.as_ref(), values.as_ref(), *failure)?;
        Ok(Self { table, key, condition, kind })
    }

    fn decide(&self, old: Option<&Item>) -> TablesResult<Decision> {
        if let TransactKind::Update(update, key_item) = &self.kind {
            return updated_item(&self.table, key_item, old, &self.condition, Some(update)).map(Decision::Put);
        }
        self.condition.check(old)?;
        Ok(match &self.kind {
            TransactKind::Check => Decision::Keep,
            TransactKind::Put(item) => Decision::Put(item.clone()),
            TransactKind::Delete => Decision::Delete,
            TransactKind::Update(..) => unreachable!("handled above"),
        })
    }
}
