//! Query and Scan: pages of a table's (or an index's) items in key order,
//! cut at `Limit` evaluated items or 1 MB read, filtered after the limit as
//! DynamoDB does, resumed from `ExclusiveStartKey`.

use sluice_model::dynamodb as wire;
use sluice_store::tables::{ItemCursor, KeyRange, StoredItem};

use crate::capacity::{self, Kind};
use crate::error::{TablesError, TablesResult};
use crate::expression::{self, Condition, ExpressionAttributes, Path, RangeCondition};
use crate::items::{condition, cursor_of, expression_attributes, project, projection, refuse_legacy};
use crate::schema::{IndexSchema, ItemKey, KeySchema, POINTS};
use crate::service::{decode_item, LoadedTable, TableService};
use crate::value::{item_from_wire, item_size, item_to_wire, Item, Value};

/// Most data one page reads (DynamoDB's 1 MB).
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Entries fetched from the store at a time.
const CHUNK: usize = 256;

/// What one page of a read returns.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub items: Vec<Item>,
    pub count: usize,
    pub scanned: usize,
    pub last_key: Option<Item>,
    /// Bytes read (what capacity is counted on).
    pub bytes: usize,
}

/// Where a read walks: one hash key's range (Query) or a span of points (Scan).
enum Walk {
    Query { hash: Vec<u8>, range: KeyRange, forward: bool },
    Scan { points: (i64, i64) },
}

/// What a read keeps of each item.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Select {
    All,
    Projected,
    Specific,
    Count,
}

struct ReadPlan<'a> {
    table: &'a LoadedTable,
    index: Option<&'a IndexSchema>,
    filter: Option<Condition>,
    projection: Option<Vec<Path>>,
    select: Select,
    limit: Option<usize>,
    start: Option<ItemCursor>,
    /// A local index that does not hold every attribute asked for: read
    /// the table's item for each entry.
    fetch_base: bool,
}

/// The byte after every string starting with `prefix`: the exclusive upper
/// bound of `begins_with` (none when every byte is 0xFF).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut bound = prefix.to_vec();
    while let Some(last) = bound.pop() {
        if last < 0xFF {
            bound.push(last + 1);
            return Some(bound);
        }
    }
    None
}

fn key_bytes(value: &Value) -> TablesResult<Vec<u8>> {
    value.key_bytes().ok_or_else(|| {
        TablesError::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        )
    })
}

/// The store's bounds of a range-key condition.
fn key_range(condition: &RangeCondition) -> TablesResult<KeyRange> {
    Ok(match condition {
        RangeCondition::Eq(v) => {
            let b = key_bytes(v)?;
            KeyRange { lower: Some((b.clone(), true)), upper: Some((b, true)) }
        }
        RangeCondition::Lt(v) => KeyRange { lower: None, upper: Some((key_bytes(v)?, false)) },
        RangeCondition::Le(v) => KeyRange { lower: None, upper: Some((key_bytes(v)?, true)) },
        RangeCondition::Gt(v) => KeyRange { lower: Some((key_bytes(v)?, false)), upper: None },
        RangeCondition::Ge(v) => KeyRange { lower: Some((key_bytes(v)?, true)), upper: None },
        RangeCondition::Between(a, b) => {
            if a.compare(b) == Some(std::cmp::Ordering::Greater) {
                return Err(TablesError::validation(
                    "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or \
                     equal to lower bound",
                ));
            }
            KeyRange { lower: Some((key_bytes(a)?, true)), upper: Some((key_bytes(b)?, true)) }
        }
        RangeCondition::BeginsWith(v) => {
            if matches!(v, Value::N(_)) {
                return Err(TablesError::validation(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or \
                     function: begins_with, operand type: N",
                ));
            }
            let prefix = key_bytes(v)?;
            KeyRange { lower: Some((prefix.clone(), true)), upper: prefix_successor(&prefix).map(|b| (b, false)) }
        }
    })
}

fn condition_values(condition: &RangeCondition) -> Vec<&Value> {
    match condition {
        RangeCondition::Eq(v)
        | RangeCondition::Lt(v)
        | RangeCondition::Le(v)
        | RangeCondition::Gt(v)
        | RangeCondition::Ge(v)
        | RangeCondition::BeginsWith(v) => vec![v],
        RangeCondition::Between(a, b) => vec![a, b],
    }
}

fn select_of(select: Option<wire::Select>, index: Option<&IndexSchema>, projection: bool) -> TablesResult<Select> {
    let select = match select.map(|s| s.as_str()) {
        None if projection => Select::Specific,
        None if index.is_some() => Select::Projected,
        None => Select::All,
        Some("ALL_ATTRIBUTES") => Select::All,
        Some("ALL_PROJECTED_ATTRIBUTES") => Select::Projected,
        Some("SPECIFIC_ATTRIBUTES") => Select::Specific,
        Some(_) => Select::Count,
    };
    if projection && select != Select::Specific {
        return Err(TablesError::validation(
            "Cannot specify the AttributesToGet or ProjectionExpression when choosing to get ALL_ATTRIBUTES, \
             ALL_PROJECTED_ATTRIBUTES or COUNT",
        ));
    }
    if select == Select::Projected && index.is_none() {
        return Err(TablesError::validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        ));
    }
    if select == Select::Specific && !projection {
        return Err(TablesError::validation("SPECIFIC_ATTRIBUTES requires AttributesToGet or ProjectionExpression"));
    }
    if let Some(index) = index {
        if select == Select::All && index.global && index.projection != "ALL" {
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global \
                 secondary index {} because its projection type is not ALL",
                index.name
            )));
        }
    }
    Ok(select)
}

fn index_of<'a>(table: &'a LoadedTable, name: Option<&str>, consistent: bool) -> TablesResult<Option<&'a IndexSchema>> {
    let Some(name) = name else { return Ok(None) };
    let index = table
        .schema
        .index(name)
        .ok_or_else(|| TablesError::validation(format!("The table does not have the specified index: {name}")))?;
    if index.global && consistent {
        return Err(TablesError::validation("Consistent reads are not supported on global secondary indexes"));
    }
    Ok(Some(index))
}

/// The cursor of an `ExclusiveStartKey`: the table's key, and the index's
/// for an index read.
fn start_cursor(table: &LoadedTable, index: Option<&IndexSchema>, start: &Item) -> TablesResult<ItemCursor> {
    let invalid = || {
        TablesError::validation(
            "The provided starting key is invalid: The provided key element does not match the schema",
        )
    };
    let part = |key: &KeySchema, range: bool| -> TablesResult<Vec<u8>> {
        let attribute = if range { key.range.as_ref() } else { Some(&key.hash) };
        let Some(attribute) = attribute else { return Ok(Vec::new()) };
        let value = start.get(&attribute.name).ok_or_else(invalid)?;
        if value.type_name() != attribute.kind {
            return Err(invalid());
        }
        value.key_bytes().ok_or_else(invalid)
    };
    let base = ItemKey::new(part(&table.schema.key, false)?, part(&table.schema.key, true)?);
    let own = match index {
        Some(index) => ItemKey::new(part(&index.key, false)?, part(&index.key, true)?),
        None => base.clone(),
    };
    let mut names: Vec<&str> = table.schema.table_key_names();
    if let Some(index) = index {
        names.push(&index.key.hash.name);
        names.extend(index.key.range.as_ref().map(|r| r.name.as_str()));
    }
    if start.keys().any(|k| !names.contains(&k.as_str())) {
        return Err(invalid());
    }
    Ok(ItemCursor {
        hash_point: own.point,
        hash_key: own.hash,
        range_key: own.range,
        base_hash_key: base.hash,
        base_range_key: base.range,
    })
}

/// The `LastEvaluatedKey` of an entry: the table's key, and the index's.
fn last_key(table: &LoadedTable, index: Option<&IndexSchema>, item: &Item) -> Item {
    let mut key = table.schema.key_of(item);
    if let Some(index) = index {
        for attribute in std::iter::once(&index.key.hash).chain(index.key.range.iter()) {
            if let Some(value) = item.get(&attribute.name) {
                key.insert(attribute.name.clone(), value.clone());
            }
        }
    }
    key
}

fn check_limit(limit: Option<i32>) -> TablesResult<Option<usize>> {
    match limit {
        Some(l) if l < 1 => Err(TablesError::validation(format!(
            "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value \
             greater than or equal to 1"
        ))),
        other => Ok(other.map(|l| l as usize)),
    }
}

impl TableService {
    async fn read_page(&self, plan: &ReadPlan<'_>, walk: &Walk) -> TablesResult<Page> {
        let table = plan.table;
        let index_name = plan.index.map(|i| i.name.as_str());
        let mut page = Page::default();
        let mut cursor = plan.start.clone();
        loop {
            let want = match plan.limit {
                Some(limit) => (limit - page.scanned).min(CHUNK),
                None => CHUNK,
            };
            let rows: Vec<StoredItem> = match walk {
                Walk::Query { hash, range, forward } => {
                    self.store.query_items(table.id(), index_name, hash, range, *forward, cursor.as_ref(), want).await?
                }
                Walk::Scan { points } => {
                    self.store.scan_items(table.id(), index_name, *points, cursor.as_ref(), want).await?
                }
            };
            let mut entries: Vec<Item> = rows.iter().map(decode_item).collect::<TablesResult<_>>()?;
            if plan.fetch_base && plan.select != Select::Count {
                let keys: Vec<ItemKey> =
                    rows.iter().map(|r| ItemKey::new(r.base_hash_key.clone(), r.base_range_key.clone())).collect();
                let base = self.read_items(table, &keys).await?;
                for (entry, full) in entries.iter_mut().zip(base) {
                    if let Some(full) = full {
                        *entry = full.item;
                    }
                }
            }
            for (row, item) in rows.iter().zip(entries) {
                page.scanned += 1;
                page.bytes += item_size(&item);
                let keep = match &plan.filter {
                    Some(filter) => filter.evaluate(Some(&item))?,
                    None => true,
                };
                let full = plan.limit == Some(page.scanned) || page.bytes >= MAX_PAGE_BYTES;
                if full {
                    page.last_key = Some(last_key(table, plan.index, &item));
                }
                if keep {
                    page.count += 1;
                    if plan.select != Select::Count {
                        page.items.push(project(&item, plan.projection.as_deref()));
                    }
                }
                if full {
                    return Ok(page);
                }
                cursor = Some(cursor_of(row));
            }
            if rows.len() < want {
                return Ok(page);
            }
        }
    }

    fn plan<'a>(
        &self,
        table: &'a LoadedTable,
        index: Option<&'a IndexSchema>,
        common: ReadRequest<'_>,
    ) -> TablesResult<(ReadPlan<'a>, ExpressionAttributes, Option<Item>)> {
        let attributes = expression_attributes(common.names, common.values)?;
        let filter = condition(common.filter, "FilterExpression", &attributes)?;
        let projection = projection(common.projection, common.attributes_to_get, &attributes)?;
        let select = select_of(common.select, index, projection.is_some())?;
        let start = common.start.map(item_from_wire).transpose()?;
        let start_cursor = start.as_ref().map(|s| start_cursor(table, index, s)).transpose()?;
        let fetch_base = index.is_some_and(|i| !i.global && i.projection != "ALL") && select != Select::Projected;
        Ok((
            ReadPlan {
                table,
                index,
                filter,
                projection,
                select,
                limit: check_limit(common.limit)?,
                start: start_cursor,
                fetch_base,
            },
            attributes,
            start,
        ))
    }

    /// Query.
    pub async fn query(&self, account_id: &str, input: &wire::QueryInput) -> TablesResult<wire::QueryOutput> {
        refuse_legacy(&[
            ("KeyConditions", input.key_conditions.is_some()),
            ("QueryFilter", input.query_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ])?;
        let table = self.table(account_id, &input.table_name).await?;
        let index = index_of(&table, input.index_name.as_deref(), input.consistent_read.unwrap_or(false))?;
        let (plan, attributes, _) = self.plan(
            &table,
            index,
            ReadRequest {
                names: input.expression_attribute_names.as_ref(),
                values: input.expression_attribute_values.as_ref(),
                filter: input.filter_expression.as_deref(),
                projection: input.projection_expression.as_deref(),
                attributes_to_get: input.attributes_to_get.as_deref(),
                select: input.select,
                start: input.exclusive_start_key.as_ref(),
                limit: input.limit,
            },
        )?;
        let Some(text) = input.key_condition_expression.as_deref() else {
            return Err(TablesError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        };
        let key_condition = expression::parse_key_condition(text, &attributes)?;
        attributes.check_all_used()?;
        let key = index.map(|i| &i.key).unwrap_or(&table.schema.key);
        let mut hash = None;
        let mut range = KeyRange::default();
        for (name, condition) in key_condition_parts(&key_condition) {
            let attribute = if *name == key.hash.name {
                &key.hash
            } else if let Some(r) = key.range.as_ref().filter(|r| r.name == *name) {
                r
            } else {
                return Err(TablesError::validation("Query condition missed key schema element"));
            };
            if condition_values(condition).iter().any(|v| v.type_name() != attribute.kind) {
                return Err(TablesError::validation(
                    "One or more parameter values were invalid: Condition parameter type does not match schema type",
                ));
            }
            if *name == key.hash.name {
                let RangeCondition::Eq(value) = condition else {
                    return Err(TablesError::validation("Query key condition not supported"));
                };
                hash = Some(key_bytes(value)?);
            } else {
                range = key_range(condition)?;
            }
        }
        let Some(hash) = hash else {
            return Err(TablesError::validation(format!(
                "Query condition missed key schema element: {}",
                key.hash.name
            )));
        };
        if let Some(start) = &plan.start {
            if start.hash_key != hash {
                return Err(TablesError::validation(
                    "The provided starting key is outside query boundaries based on provided conditions",
                ));
            }
        }
        let walk = Walk::Query { hash, range, forward: input.scan_index_forward.unwrap_or(true) };
        let page = self.read_page(&plan, &walk).await?;
        let units = capacity::read_units(page.bytes, input.consistent_read.unwrap_or(false));
        Ok(wire::QueryOutput {
            items: (plan.select != Select::Count).then(|| page.items.iter().map(item_to_wire).collect()),
            count: Some(page.count as i32),
            scanned_count: Some(page.scanned as i32),
            last_evaluated_key: page.last_key.as_ref().map(item_to_wire),
            consumed_capacity: capacity::report(table.name(), units, Kind::Read, input.return_consumed_capacity),
        })
    }

    /// Scan (whole, or one of `TotalSegments` segments).
    pub async fn scan(&self, account_id: &str, input: &wire::ScanInput) -> TablesResult<wire::ScanOutput> {
        refuse_legacy(&[
            ("ScanFilter", input.scan_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ])?;
        let points = match (input.segment, input.total_segments) {
            (None, None) => (0, POINTS),
            (Some(segment), Some(total)) => {
                if !(1..=1_000_000).contains(&total) {
                    return Err(TablesError::validation(format!(
                        "1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy \
                         constraint: Member must have value less than or equal to 1000000"
                    )));
                }
                if segment < 0 || segment >= total {
                    return Err(TablesError::validation(format!(
                        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: \
                         {segment} is out of bounds; TotalSegments: {total}"
                    )));
                }
                let (segment, total) = (i64::from(segment), i64::from(total));
                (segment * POINTS / total, (segment + 1) * POINTS / total)
            }
            (Some(_), None) => {
                return Err(TablesError::validation(
                    "The TotalSegments parameter is required but was not present in the request when Segment \
                     parameter is present",
                ))
            }
            (None, Some(_)) => {
                return Err(TablesError::validation(
                    "The Segment parameter is required but was not present in the request when parameter \
                     TotalSegments is present",
                ))
            }
        };
        let table = self.table(account_id, &input.table_name).await?;
        let index = index_of(&table, input.index_name.as_deref(), input.consistent_read.unwrap_or(false))?;
        let (plan, attributes, _) = self.plan(
            &table,
            index,
            ReadRequest {
                names: input.expression_attribute_names.as_ref(),
                values: input.expression_attribute_values.as_ref(),
                filter: input.filter_expression.as_deref(),
                projection: input.projection_expression.as_deref(),
                attributes_to_get: input.attributes_to_get.as_deref(),
                select: input.select,
                start: input.exclusive_start_key.as_ref(),
                limit: input.limit,
            },
        )?;
        attributes.check_all_used()?;
        if let Some(start) = &plan.start {
            if start.hash_point < points.0 || start.hash_point >= points.1 {
                return Err(TablesError::validation(
                    "The provided Exclusive start key does not map to the provided Segment and TotalSegments values.",
                ));
            }
        }
        let page = self.read_page(&plan, &Walk::Scan { points }).await?;
        let units = capacity::read_units(page.bytes, input.consistent_read.unwrap_or(false));
        Ok(wire::ScanOutput {
            items: (plan.select != Select::Count).then(|| page.items.iter().map(item_to_wire).collect()),
            count: Some(page.count as i32),
            scanned_count: Some(page.scanned as i32),
            last_evaluated_key: page.last_key.as_ref().map(item_to_wire),
            consumed_capacity: capacity::report(table.name(), units, Kind::Read, input.return_consumed_capacity),
        })
    }
}

/// The parts of a read request that Query and Scan share.
struct ReadRequest<'a> {
    names: Option<&'a std::collections::BTreeMap<String, String>>,
    values: Option<&'a std::collections::BTreeMap<String, wire::AttributeValue>>,
    filter: Option<&'a str>,
    projection: Option<&'a str>,
    attributes_to_get: Option<&'a [String]>,
    select: Option<wire::Select>,
    start: Option<&'a std::collections::BTreeMap<String, wire::AttributeValue>>,
    limit: Option<i32>,
}

/// The (attribute, condition) parts of a key condition.
fn key_condition_parts(condition: &expression::KeyCondition) -> Vec<(&String, &RangeCondition)> {
    condition.parts.iter().map(|(name, c)| (name, c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begins_with_bounds_stop_before_the_next_prefix() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }
}
