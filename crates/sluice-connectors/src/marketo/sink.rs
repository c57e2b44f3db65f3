//! Marketo as a flow's destination: leads written with Marketo's Sync
//! Leads call, [`SYNC_BATCH`] at a time: `createOrUpdate` looked up by
//! `email` (an `id` the flow also writes is left out: Marketo manages it),
//! or `updateOnly` by `id` when the flow writes an id and no email. A lead
//! Marketo skips comes back with its `reasons`, which become the refused
//! record's error (`1004: Lead not found`); the others are written.
//! Marketo has no transactions: what a call wrote stays written.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use super::client::MarketoClient;
use crate::plane::{DataSink, RefusedRecord, RunScope};
use crate::ConnectorError;

/// Leads per Sync Leads call (Marketo takes at most 300).
pub const SYNC_BATCH: usize = 300;

/// Leads being synced.
pub struct MarketoSink {
    client: Arc<MarketoClient>,
    lookup_field: String,
    held: Vec<Map<String, Value>>,
    bytes_written: u64,
    scope: RunScope,
}

/// The field leads are looked up by: `email`, else `id`.
pub fn lookup_field(schema: &SchemaRef) -> Result<String, ConnectorError> {
    for name in ["email", "id"] {
        if schema.field_with_name(name).is_ok() {
            return Ok(name.to_string());
        }
    }
    Err(ConnectorError::Invalid("Marketo leads are synced by email (or id): map a field to email or id".to_string()))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl MarketoSink {
    /// A sink syncing leads of `schema`.
    pub fn open(client: Arc<MarketoClient>, schema: &SchemaRef, scope: &RunScope) -> Result<Self, ConnectorError> {
        Ok(Self {
            client,
            lookup_field: lookup_field(schema)?,
            held: Vec::new(),
            bytes_written: 0,
            scope: scope.clone(),
        })
    }

    /// Syncs `leads` (at most [`SYNC_BATCH`]); returns the ones Marketo skipped.
    async fn sync(&mut self, leads: Vec<Map<String, Value>>) -> Result<Vec<RefusedRecord>, ConnectorError> {
        self.scope.check_cancelled()?;
        let by_id = self.lookup_field == "id";
        let action = if by_id { "updateOnly" } else { "createOrUpdate" };
        let input: Vec<Map<String, Value>> = leads
            .iter()
            .map(|lead| {
                let mut lead = lead.clone();
                if !by_id {
                    lead.remove("id");
                }
                lead
            })
            .collect();
        let body = json!({"action": action, "lookupField": self.lookup_field, "input": input});
        self.bytes_written += body.to_string().len() as u64;
        let answer = self.client.post("/rest/v1/leads.json", Some(&body)).await?;
        let results = answer.get("result").and_then(Value::as_array).cloned().unwrap_or_default();
        if results.len() != leads.len() {
            return Err(ConnectorError::Protocol {
                system: super::client::SYSTEM,
                message: format!("Sync Leads answered {} results for {} leads", results.len(), leads.len()),
            });
        }
        let mut refused = Vec::new();
        for (lead, result) in leads.into_iter().zip(results) {
            if result.get("status").and_then(Value::as_str) != Some("skipped") {
                continue;
            }
            let reasons: Vec<String> = result
                .get("reasons")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| format!("{}: {}", text(&r["code"]), text(&r["message"])))
                .collect();
            let cells = lead.iter().map(|(k, v)| (k.clone(), text(v))).collect();
            refused.push(RefusedRecord { cells, error: reasons.join("; ") });
        }
        Ok(refused)
    }
}

#[async_trait::async_trait]
impl DataSink for MarketoSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<RefusedRecord>, ConnectorError> {
        self.held.extend(crate::plane::json_rows(&batch)?);
        let mut refused = Vec::new();
        while self.held.len() >= SYNC_BATCH {
            let rest = self.held.split_off(SYNC_BATCH);
            let leads = std::mem::replace(&mut self.held, rest);
            refused.extend(self.sync(leads).await?);
        }
        Ok(refused)
    }

    async fn finish(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        let leads = std::mem::take(&mut self.held);
        if leads.is_empty() {
            return Ok(Vec::new());
        }
        self.sync(leads).await
    }

    async fn commit(self: Box<Self>) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn abort(self: Box<Self>) {}

    fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}
