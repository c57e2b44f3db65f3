//! Salesforce events as a flow's records: platform events (`X__e`) and
//! change data capture events (`AccountChangeEvent`, `Holiday__ChangeEvent`).
//!
//! An event-triggered run reads the events its trigger delivered
//! ([`ReadRequest::events`]), typed by the describe of the event (platform
//! events) or of the changed object (change events), so tasks name the
//! same fields they would for a query:
//!
//! - a platform event is one record: its fields, `ReplayId` and `EventUuid`;
//! - a change event is one record per changed record (`recordIds`): `Id`,
//!   the changed fields with compound fields flattened back to the
//!   object's fields (`Name.FirstName` -> `FirstName`, `BillingAddress.City`
//!   -> `BillingCity`), `ChangeEventHeader` as JSON text and `ReplayId`;
//! - a gap event (`GAP_CREATE`, `GAP_UPDATE`, ...: Salesforce could not
//!   send the change itself) carries only record ids: the records are read
//!   by Id (deleted ones too) and delivered with their current fields;
//! - an overflow event (`GAP_OVERFLOW`: one transaction changed too many
//!   records) names no records: the records whose `SystemModstamp` is
//!   within a second of its commit are read and delivered.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{json, Map, Value};

use super::client::SalesforceClient;
use super::decode::decode_query_page;
use super::source::describe_schema;
use crate::plane::{project_schema, BatchStream, DataSource, ReadRequest, SourceBatch, SourceCapabilities};
use crate::ConnectorError;

/// Records read by Id in one query (a SOQL `IN` list).
const IDS_PER_QUERY: usize = 200;

/// What kind of event object a source object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventObject {
    /// A platform event (`Holiday_Event__e`).
    Platform,
    /// A change event of `object` (`AccountChangeEvent` -> `Account`,
    /// `Holiday__ChangeEvent` -> `Holiday__c`).
    Change {
        /// The object whose changes these are.
        object: String,
    },
}

impl EventObject {
    /// The kind of `name`, when it is an event object.
    pub fn of(name: &str) -> Option<Self> {
        if name.ends_with("__e") {
            return Some(Self::Platform);
        }
        if let Some(base) = name.strip_suffix("__ChangeEvent") {
            return Some(Self::Change { object: format!("{base}__c") });
        }
        let base = name.strip_suffix("ChangeEvent").filter(|b| !b.is_empty())?;
        Some(Self::Change { object: base.to_string() })
    }

    /// The Streaming API channel of the event object `name`.
    pub fn channel(&self, name: &str) -> String {
        match self {
            Self::Platform => format!("/event/{name}"),
            Self::Change { .. } => format!("/data/{name}"),
        }
    }
}

/// An object's field names for a change event's compound field parts:
/// `Name.FirstName` -> `FirstName`, `BillingAddress.City` -> `BillingCity`,
/// `Address.City` -> `City`, `Location__c.Latitude` -> `Location__Latitude__s`.
fn component_field(compound: &str, component: &str) -> String {
    if compound == "Name" {
        return component.to_string();
    }
    if let Some(prefix) = compound.strip_suffix("Address") {
        return format!("{prefix}{component}");
    }
    if let Some(base) = compound.strip_suffix("__c") {
        return format!("{base}__{component}__s");
    }
    format!("{compound}{component}")
}

/// A change event's fields as the object's fields (compounds flattened).
fn change_fields(payload: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = Map::new();
    for (name, value) in payload {
        match value {
            _ if name == "ChangeEventHeader" => {}
            Value::Object(parts) => {
                for (component, value) in parts {
                    fields.insert(component_field(name, component), value.clone());
                }
            }
            other => {
                fields.insert(name.clone(), other.clone());
            }
        }
    }
    fields
}

/// The events of an event-triggered run, ready to be read.
pub struct SalesforceEvents {
    client: Arc<SalesforceClient>,
    name: String,
    kind: EventObject,
    schema: SchemaRef,
    /// The changed object's fields a query can read (gap events).
    queryable_fields: Vec<String>,
}

impl SalesforceEvents {
    /// Describes the event object `name` (or the object it reports changes of).
    pub async fn open(client: Arc<SalesforceClient>, name: &str, kind: EventObject) -> Result<Self, ConnectorError> {
        let described = match &kind {
            EventObject::Platform => name.to_string(),
            EventObject::Change { object } => object.clone(),
        };
        let describe = client.describe(&described).await?;
        let (schema, types) = describe_schema(&describe);
        let compound = |t: &str| matches!(t, "address" | "location");
        let mut fields: Vec<Field> = schema
            .fields()
            .iter()
            .zip(&types)
            .filter(|(_, (_, t))| !compound(t))
            .map(|(f, _)| f.as_ref().clone())
            .collect();
        let queryable_fields = fields.iter().map(|f| f.name().clone()).collect();
        let mut add = |name: &str, data_type: DataType| {
            if !fields.iter().any(|f| f.name() == name) {
                fields.push(Field::new(name, data_type, true));
            }
        };
        match kind {
            EventObject::Platform => add("EventUuid", DataType::Utf8),
            EventObject::Change { .. } => add("ChangeEventHeader", DataType::Utf8),
        }
        add("ReplayId", DataType::Int64);
        Ok(Self { client, name: name.to_string(), kind, schema: Arc::new(Schema::new(fields)), queryable_fields })
    }

    /// Records of the changed object, by Id (deleted ones too).
    async fn records_by_id(
        &self,
        object: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>, ConnectorError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let quoted: Vec<String> = chunk.iter().map(|id| format!("'{}'", id.replace('\'', ""))).collect();
            let soql = format!(
                "SELECT {} FROM {object} WHERE Id IN ({})",
                self.queryable_fields.join(", "),
                quoted.join(", ")
            );
            found.extend(self.query(&soql).await?.into_iter().filter_map(|r| {
                let id = r.get("Id").and_then(Value::as_str)?.to_string();
                Some((id, r))
            }));
        }
        Ok(found)
    }

    async fn query(&self, soql: &str) -> Result<Vec<Map<String, Value>>, ConnectorError> {
        let mut pager = self.client.query(soql, true);
        let mut records = Vec::new();
        while let Some(page) = pager.next_page().await? {
            records.extend(page);
        }
        Ok(records)
    }

    /// The records of `events` (each as its subscription delivered it).
    async fn records(&self, events: &[Value]) -> Result<Vec<Map<String, Value>>, ConnectorError> {
        let mut records = Vec::new();
        // (record index, id) of records a gap event names.
        let mut gaps: Vec<(usize, String)> = Vec::new();
        for event in events {
            let replay_id = event.pointer("/event/replayId").cloned().unwrap_or(Value::Null);
            let Some(payload) = event.get("payload").and_then(Value::as_object) else {
                return Err(ConnectorError::Protocol {
                    system: "Salesforce",
                    message: format!("an event of {} without a payload", self.name),
                });
            };
            let EventObject::Change { object } = &self.kind else {
                let mut record = payload.clone();
                if let Some(uuid) = event.pointer("/event/EventUuid") {
                    record.insert("EventUuid".into(), uuid.clone());
                }
                record.insert("ReplayId".into(), replay_id);
                records.push(record);
                continue;
            };
            let header = payload.get("ChangeEventHeader").cloned().unwrap_or(Value::Null);
            let change_type = header.get("changeType").and_then(Value::as_str).unwrap_or("");
            let mut fields = change_fields(payload);
            fields.insert("ChangeEventHeader".into(), Value::String(header.to_string()));
            fields.insert("ReplayId".into(), replay_id);
            if change_type == "GAP_OVERFLOW" {
                let commit = header.get("commitTimestamp").and_then(Value::as_i64).unwrap_or(0);
                let at = |ms: i64| {
                    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
                        .ok()
                        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                        .unwrap_or_default()
                };
                let soql = format!(
                    "SELECT {} FROM {object} WHERE SystemModstamp >= {} AND SystemModstamp <= {}",
                    self.queryable_fields.join(", "),
                    at(commit - 1000),
                    at(commit + 1000)
                );
                tracing::warn!(object = %object, commit, "change events overflowed; reading the records changed around the commit");
                for mut record in self.query(&soql).await? {
                    record.remove("attributes");
                    for key in ["ChangeEventHeader", "ReplayId"] {
                        record.insert(key.into(), fields[key].clone());
                    }
                    records.push(record);
                }
                continue;
            }
            let ids: Vec<String> = header
                .get("recordIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|id| id.as_str().map(str::to_string))
                .collect();
            for id in ids {
                let mut record = fields.clone();
                record.insert("Id".into(), json!(id));
                if change_type.starts_with("GAP_") {
                    gaps.push((records.len(), id));
                }
                records.push(record);
            }
        }
        if let (EventObject::Change { object }, false) = (&self.kind, gaps.is_empty()) {
            let ids: Vec<String> = gaps.iter().map(|(_, id)| id.clone()).collect();
            let found = self.records_by_id(object, &ids).await?;
            tracing::info!(object = %object, records = ids.len(), found = found.len(), "gap events read by Id");
            for (index, id) in gaps {
                if let Some(current) = found.get(&id) {
                    for (name, value) in current {
                        if name != "attributes" {
                            records[index].insert(name.clone(), value.clone());
                        }
                    }
                }
            }
        }
        Ok(records)
    }
}

#[async_trait::async_trait]
impl DataSource for SalesforceEvents {
    fn schema(&self) -> Option<SchemaRef> {
        Some(self.schema.clone())
    }

    fn capabilities(&self) -> SourceCapabilities {
        SourceCapabilities {
            bounded: true,
            datetime_window: false,
            deleted_records: false,
            incremental_state: false,
            events: true,
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Box<dyn BatchStream>, ConnectorError> {
        let Some(events) = &request.events else {
            return Err(ConnectorError::Invalid(format!(
                "{} is an event: a flow reads its events when they come (an Event trigger), not by query",
                self.name
            )));
        };
        let schema = project_schema(&self.schema, &request.fields, &self.name)?;
        let records = self.records(events).await?;
        let mut body = serde_json::to_vec(&json!({"done": true, "records": records})).unwrap_or_default();
        let page = decode_query_page(&body, &schema)?;
        let bytes_read = body.len() as u64;
        body.clear();
        Ok(Box::new(OneBatch(page.batch.map(|batch| SourceBatch { batch, bytes_read }))))
    }
}

/// A stream of at most one batch.
struct OneBatch(Option<SourceBatch>);

#[async_trait::async_trait]
impl BatchStream for OneBatch {
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        Ok(self.0.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_objects_and_their_channels() {
        assert_eq!(EventObject::of("Holiday_Event__e"), Some(EventObject::Platform));
        assert_eq!(EventObject::of("AccountChangeEvent"), Some(EventObject::Change { object: "Account".into() }));
        assert_eq!(EventObject::of("Holiday__ChangeEvent"), Some(EventObject::Change { object: "Holiday__c".into() }));
        assert_eq!(EventObject::of("Account"), None);
        assert_eq!(EventObject::of("ChangeEvent"), None);
        assert_eq!(EventObject::Platform.channel("Holiday_Event__e"), "/event/Holiday_Event__e");
        assert_eq!(
            EventObject::Change { object: "Account".into() }.channel("AccountChangeEvent"),
            "/data/AccountChangeEvent"
        );
    }

    #[test]
    fn compound_parts_become_the_objects_fields() {
        let payload = json!({
            "ChangeEventHeader": {"changeType": "UPDATE"},
            "Name": {"FirstName": "Ada", "LastName": "Lovelace"},
            "BillingAddress": {"City": "London", "Street": null},
            "Address": {"City": "Paris"},
            "Location__c": {"Latitude": 1.5},
            "Email": "ada@example.com",
        });
        let fields = change_fields(payload.as_object().unwrap());
        assert_eq!(
            Value::Object(fields),
            json!({"FirstName": "Ada", "LastName": "Lovelace", "BillingCity": "London", "BillingStreet": null,
                   "City": "Paris", "Location__Latitude__s": 1.5, "Email": "ada@example.com"})
        );
    }
}
