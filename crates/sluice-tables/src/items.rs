//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem. Each
//! write reads the item with its version, evaluates its condition and
//! update, and commits expecting that version, with its stream record; a
//! commit that lost a race is decided again on the item as it is now.

use std::collections::BTreeMap;

use sluice_model::dynamodb as wire;
use sluice_store::tables::{
    CommitOutcome, Expected, IndexEntry, ItemCursor, ItemWrite, NewItem, StoredItem, WriteAction,
};

use crate::capacity::{self, Kind};
use crate::error::{TablesError, TablesResult};
use crate::expression::{self, Condition, ExpressionAttributes, Path};
use crate::records::{stream_record, ChangeOrigin};
use crate::schema::{ItemKey, TableSchema};
use crate::service::{
    decode_item, encode_item, items_equal, new_version, now_ms, LoadedTable, TableService, VersionedItem, MAX_ATTEMPTS,
};
use crate::value::{item_from_wire, item_size, item_to_wire, Item, Value};

/// Largest item (DynamoDB's 400 KB).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// What a write leaves of its item.
#[derive(Debug, Clone)]
pub(crate) enum Decision {
    /// The item stays as it is (a delete of nothing, a failed check).
    Keep,
    /// The item becomes this.
    Put(Item),
    /// The item goes.
    Delete,
}

/// An item before and after a committed write.
#[derive(Debug, Clone, Default)]
pub(crate) struct Change {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// The expression placeholders of a request, values checked as items are.
pub(crate) fn expression_attributes(
    names: Option<&BTreeMap<String, String>>,
    values: Option<&BTreeMap<String, wire::AttributeValue>>,
) -> TablesResult<ExpressionAttributes> {
    let values = values
        .map(|values| {
            values
                .iter()
                .map(|(name, value)| {
                    Value::from_wire(value).map(|v| (name.clone(), v)).map_err(|e| {
                        TablesError::validation(format!(
                            "ExpressionAttributeValues contains invalid value: {e} for key {name}"
                        ))
                    })
                })
                .collect::<TablesResult<BTreeMap<String, Value>>>()
        })
        .transpose()?;
    ExpressionAttributes::new(names, values.as_ref())
}

/// A request's condition, if it has one.
pub(crate) fn condition(
    text: Option<&str>,
    which: &str,
    attributes: &ExpressionAttributes,
) -> TablesResult<Option<Condition>> {
    text.map(|text| expression::parse_condition(text, which, attributes)).transpose()
}

/// Refuses the legacy (pre-expression) parameters Sluice does not serve.
pub(crate) fn refuse_legacy(present: &[(&str, bool)]) -> TablesResult<()> {
    match present.iter().find(|(_, here)| *here) {
        Some((name, _)) => Err(TablesError::validation(format!(
            "The legacy parameter {name} is not supported by this server; use its expression counterpart \
             (ConditionExpression, UpdateExpression, KeyConditionExpression, FilterExpression)"
        ))),
        None => Ok(()),
    }
}

/// The store's index entries of an item under a schema.
pub(crate) fn index_entries_of(schema: &TableSchema, item: &Item) -> TablesResult<Vec<IndexEntry>> {
    Ok(schema
        .index_entries(item)?
        .into_iter()
        .map(|(index_name, key, projected)| IndexEntry {
            index_name,
            hash_key: key.hash,
            range_key: key.range,
            hash_point: key.point,
            item: encode_item(&projected),
        })
        .collect())
}

/// Where a listing resumes after this stored entry.
pub(crate) fn cursor_of(stored: &StoredItem) -> ItemCursor {
    ItemCursor {
        hash_point: stored.hash_point,
        hash_key: stored.hash_key.clone(),
        range_key: stored.range_key.clone(),
        base_hash_key: stored.base_hash_key.clone(),
        base_range_key: stored.base_range_key.clone(),
    }
}

/// The write of a decision on an item read at `old` (`None` for `Keep`,
/// or a delete of nothing).
pub(crate) fn write_of(
    table: &LoadedTable,
    key: &ItemKey,
    old: Option<&VersionedItem>,
    decision: &Decision,
) -> TablesResult<Option<ItemWrite>> {
    let expected = old.map(|o| Expected::Version(o.version)).unwrap_or(Expected::Absent);
    let action = match decision {
        Decision::Keep => return Ok(None),
        Decision::Delete if old.is_none() => return Ok(None),
        Decision::Delete => WriteAction::Delete,
        Decision::Put(item) if old.is_some_and(|o| items_equal(&o.item, item)) => return Ok(None),
        Decision::Put(item) => WriteAction::Put(NewItem {
            item: encode_item(item),
            version: new_version(),
            size_bytes: item_size(item) as i64,
            index_entries: index_entries_of(&table.schema, item)?,
        }),
    };
    Ok(Some(ItemWrite {
        table_id: table.id().to_string(),
        hash_key: key.hash.clone(),
        range_key: key.range.clone(),
        hash_point: key.point,
        expected,
        action,
    }))
}

impl Change {
    /// The write units of this change (the larger image counts).
    pub fn write_units(&self) -> f64 {
        let size = |item: &Option<Item>| item.as_ref().map(item_size).unwrap_or(0);
        capacity::write_units(size(&self.old).max(size(&self.new)))
    }
}

/// The item a decision leaves.
pub(crate) fn after(old: Option<&Item>, decision: &Decision) -> Option<Item> {
    match decision {
        Decision::Keep => old.cloned(),
        Decision::Put(item) => Some(item.clone()),
        Decision::Delete => None,
    }
}

fn check_return_values(value: Option<wire::ReturnValue>, allowed: &[&str]) -> TablesResult<&'static str> {
    let name = value.map(|v| v.as_str()).unwrap_or("NONE");
    if allowed.contains(&name) {
        Ok(name)
    } else {
        Err(TablesError::validation("Return values set to invalid value"))
    }
}

/// A write's ConditionExpression, parsed, and whether a failed check
/// returns the item as it was (`ReturnValuesOnConditionCheckFailure: ALL_OLD`).
pub(crate) struct WriteCondition {
    condition: Option<Condition>,
    return_old: bool,
}

impl WriteCondition {
    /// Parses `text` with `attributes` (which the caller checks were all used).
    pub fn parse(
        text: Option<&str>,
        attributes: &ExpressionAttributes,
        on_failure: Option<wire::ReturnValuesOnConditionCheckFailure>,
    ) -> TablesResult<Self> {
        Ok(Self {
            condition: condition(text, "ConditionExpression", attributes)?,
            return_old: on_failure.is_some_and(|v| v.as_str() == "ALL_OLD"),
        })
    }

    /// The condition of a write with no other expression: its placeholders
    /// are its own, and one it does not use is refused.
    pub fn alone(
        text: Option<&str>,
        names: Option<&BTreeMap<String, String>>,
        values: Option<&BTreeMap<String, wire::AttributeValue>>,
        on_failure: Option<wire::ReturnValuesOnConditionCheckFailure>,
    ) -> TablesResult<Self> {
        let attributes = expression_attributes(names, values)?;
        let condition = Self::parse(text, &attributes, on_failure)?;
        attributes.check_all_used()?;
        Ok(condition)
    }

    /// Fails with `ConditionalCheckFailedException` (carrying the item when
    /// asked for) unless the condition holds on the item as it is.
    pub fn check(&self, old: Option<&Item>) -> TablesResult<()> {
        match &self.condition {
            Some(condition) if !condition.evaluate(old)? => {
                Err(TablesError::ConditionalCheckFailed { item: old.filter(|_| self.return_old).cloned() })
            }
            _ => Ok(()),
        }
    }
}

/// Refuses an update of the table's key attributes, as DynamoDB does.
pub(crate) fn check_key_unchanged(table: &LoadedTable, update: &expression::UpdateExpression) -> TablesResult<()> {
    match update.top_level_attributes().into_iter().find(|name| table.schema.is_key_attribute(name)) {
        Some(name) => Err(TablesError::validation(format!(
            "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of \
             the key"
        ))),
        None => Ok(()),
    }
}

impl TableService {
    /// The items under these keys of one table, with their versions.
    pub(crate) async fn read_items(
        &self,
        table: &LoadedTable,
        keys: &[ItemKey],
    ) -> TablesResult<Vec<Option<VersionedItem>>> {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = keys.iter().map(|k| (k.hash.clone(), k.range.clone())).collect();
        self.store
            .get_items(table.id(), &pairs)
            .await?
            .into_iter()
            .map(|stored| stored.map(|s| Ok(VersionedItem { item: decode_item(&s)?, version: s.version })).transpose())
            .collect()
    }

    /// Reads the item, lets `decide` choose its fate, and commits that with
    /// its stream record; decides again if another write came first.
    pub(crate) async fn mutate(
        &self,
        table: &LoadedTable,
        key: &ItemKey,
        origin: ChangeOrigin,
        mut decide: impl FnMut(Option<&Item>) -> TablesResult<Decision>,
    ) -> TablesResult<Change> {
        for _ in 0..MAX_ATTEMPTS {
            let old = self.read_items(table, std::slice::from_ref(key)).await?.pop().flatten();
            let old_item = old.as_ref().map(|o| &o.item);
            let decision = decide(old_item)?;
            let new = after(old_item, &decision);
            let Some(write) = write_of(table, key, old.as_ref(), &decision)? else {
                return Ok(Change { old: old.map(|o| o.item), new });
            };
            let at = now_ms();
            let records: Vec<_> =
                stream_record(table, &self.region, old_item, new.as_ref(), at, origin).into_iter().collect();
            match self.store.commit(&[write], &records).await? {
                CommitOutcome::Committed => return Ok(Change { old: old.map(|o| o.item), new }),
                CommitOutcome::Conflict(_) => continue,
            }
        }
        Err(TablesError::Internal(format!(
            "the item changed under {MAX_ATTEMPTS} attempts in a row to write it; try again"
        )))
    }

    /// PutItem.
    pub async fn put_item(&self, account_id: &str, input: &wire::PutItemInput) -> TablesResult<wire::PutItemOutput> {
        refuse_legacy(&[
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ])?;
        let return_values = check_return_values(input.return_values, &["NONE", "ALL_OLD"])?;
        let table = self.table(account_id, &input.table_name).await?;
        let item = item_from_wire(&input.item)?;
        let key = new_item_key(&table, &item)?;
        let condition = WriteCondition::alone(
            input.condition_expression.as_deref(),
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            input.return_values_on_condition_check_failure,
        )?;
        let change = self
            .mutate(&table, &key, ChangeOrigin::Client, |old| {
                condition.check(old)?;
                Ok(Decision::Put(item.clone()))
            })
            .await?;
        Ok(wire::PutItemOutput {
            attributes: (return_values == "ALL_OLD").then(|| change.old.as_ref().map(item_to_wire)).flatten(),
            consumed_capacity: capacity::report(
                table.name(),
                change.write_units(),
                Kind::Write,
                input.return_consumed_capacity,
            ),
            ..Default::default()
        })
    }

    /// GetItem.
    pub async fn get_item(&self, account_id: &str, input: &wire::GetItemInput) -> TablesResult<wire::GetItemOutput> {
        let table = self.table(account_id, &input.table_name).await?;
        let key = table.schema.request_key(&item_from_wire(&input.key)?)?;
        let attributes = expression_attributes(input.expression_attribute_names.as_ref(), None)?;
        let projection =
            projection(input.projection_expression.as_deref(), input.attributes_to_get.as_deref(), &attributes)?;
        attributes.check_all_used()?;
        let found = self.read_items(&table, &[key]).await?.pop().flatten();
        let units = capacity::read_units(
            found.as_ref().map(|f| item_size(&f.item)).unwrap_or(0),
            input.consistent_read.unwrap_or(false),
        );
        Ok(wire::GetItemOutput {
            item: found.map(|f| item_to_wire(&project(&f.item, projection.as_deref()))),
            consumed_capacity: capacity::report(table.name(), units, Kind::Read, input.return_consumed_capacity),
        })
    }

    /// DeleteItem.
    pub async fn delete_item(
        &self,
        account_id: &str,
        input: &wire::DeleteItemInput,
    ) -> TablesResult<wire::DeleteItemOutput> {
        refuse_legacy(&[
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ])?;
        let return_values = check_return_values(input.return_values, &["NONE", "ALL_OLD"])?;
        let table = self.table(account_id, &input.table_name).await?;
        let key = table.schema.request_key(&item_from_wire(&input.key)?)?;
        let condition = WriteCondition::alone(
            input.condition_expression.as_deref(),
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
            input.return_values_on_condition_check_failure,
        )?;
        let change = self
            .mutate(&table, &key, ChangeOrigin::Client, |old| {
                condition.check(old)?;
                Ok(Decision::Delete)
            })
            .await?;
        Ok(wire::DeleteItemOutput {
            attributes: (return_values == "ALL_OLD").then(|| change.old.as_ref().map(item_to_wire)).flatten(),
            consumed_capacity: capacity::report(
                table.name(),
                change.write_units(),
                Kind::Write,
                input.return_consumed_capacity,
            ),
            ..Default::default()
        })
    }

    /// UpdateItem.
    pub async fn update_item(
        &self,
        account_id: &str,
        input: &wire::UpdateItemInput,
    ) -> TablesResult<wire::UpdateItemOutput> {
        refuse_legacy(&[
            ("AttributeUpdates", input.attribute_updates.is_some()),
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ])?;
        let return_values =
            check_return_values(input.return_values, &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?;
        let table = self.table(account_id, &input.table_name).await?;
        let key_item = item_from_wire(&input.key)?;
        let key = table.schema.request_key(&key_item)?;
        let attributes = expression_attributes(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        )?;
        let update =
            input.update_expression.as_deref().map(|text| expression::parse_update(text, &attributes)).transpose()?;
        let condition = WriteCondition::parse(
            input.condition_expression.as_deref(),
            &attributes,
            input.return_values_on_condition_check_failure,
        )?;
        attributes.check_all_used()?;
        if let Some(update) = &update {
            check_key_unchanged(&table, update)?;
        }
        let change = self
            .mutate(&table, &key, ChangeOrigin::Client, |old| {
                updated_item(&table, &key_item, old, &condition, update.as_ref()).map(Decision::Put)
            })
            .await?;
        let paths = update.as_ref().map(|u| u.paths()).unwrap_or_default();
        let attributes = match return_values {
            "ALL_OLD" => change.old.clone(),
            "ALL_NEW" => change.new.clone(),
            "UPDATED_OLD" => change.old.as_ref().map(|old| expression::project(old, &paths)),
            "UPDATED_NEW" => change.new.as_ref().map(|new| expression::project(new, &paths)),
            _ => None,
        };
        Ok(wire::UpdateItemOutput {
            attributes: attributes.filter(|a| !a.is_empty()).map(|a| item_to_wire(&a)),
            consumed_capacity: capacity::report(
                table.name(),
                change.write_units(),
                Kind::Write,
                input.return_consumed_capacity,
            ),
            ..Default::default()
        })
    }
}

/// The key of an item a request puts whole (PutItem, a batch's or a
/// transaction's Put), after DynamoDB's checks of its key, its size and
/// its index keys.
pub(crate) fn new_item_key(table: &LoadedTable, item: &Item) -> TablesResult<ItemKey> {
    let key = table.schema.item_key(item)?;
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(TablesError::validation("Item size has exceeded the maximum allowed size"));
    }
    table.schema.index_entries(item)?;
    Ok(key)
}

/// The item an update leaves: the condition checked on the item as it was
/// (absent items start as their key), the update applied, the size limit held.
pub(crate) fn updated_item(
    table: &LoadedTable,
    key_item: &Item,
    old: Option<&Item>,
    condition: &WriteCondition,
    update: Option<&expression::UpdateExpression>,
) -> TablesResult<Item> {
    condition.check(old)?;
    let mut item = old.cloned().unwrap_or_else(|| key_item.clone());
    if let Some(update) = update {
        update.apply(&mut item)?;
    }
    if item_size(&item) > MAX_ITEM_BYTES {
        return Err(TablesError::validation("Item size to update has exceeded the maximum allowed size"));
    }
    table.schema.index_entries(&item)?;
    Ok(item)
}

/// The paths a read keeps: its ProjectionExpression, or its legacy
/// AttributesToGet (top-level names), or everything (`None`).
pub(crate) fn projection(
    expression: Option<&str>,
    attributes_to_get: Option<&[String]>,
    attributes: &ExpressionAttributes,
) -> TablesResult<Option<Vec<Path>>> {
    match (expression, attributes_to_get) {
        (Some(_), Some(_)) => Err(TablesError::validation(
            "Can not use both expression and non-expression parameters in the same request: Non-expression \
             parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
        )),
        (Some(text), None) => Ok(Some(expression::parse_projection(text, attributes)?)),
        (None, Some(names)) => {
            Ok(Some(names.iter().map(|n| Path(vec![expression::PathElement::Attribute(n.clone())])).collect()))
        }
        (None, None) => Ok(None),
    }
}

/// An item cut to a projection (`None`: all of it).
pub(crate) fn project(item: &Item, paths: Option<&[Path]>) -> Item {
    match paths {
        Some(paths) => expression::project(item, paths),
        None => item.clone(),
    }
}
