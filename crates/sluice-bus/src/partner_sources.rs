//! Partner event sources: where a SaaS partner's events come from (here,
//! AppFlow's Salesforce event flows, `aws.partner/appflow/...`). A source
//! is made PENDING by its partner; CreateEventBus with the source as
//! EventSourceName associates a partner event bus of the same name (the
//! source becomes ACTIVE, and PENDING again when that bus is deleted).
//! Events from the source go on that bus with `source` = the source name.

use serde_json::{json, Value};
use sluice_model::events::*;

use sluice_store::BusResourceRow;

use crate::buses::{epoch, now_ms, EventBusService};
use crate::error::{BusError, BusResult};
use crate::put_events::NewEvent;
use crate::token;

/// The bus resource kind of partner event sources.
const EVENT_SOURCE: &str = "event-source";
/// What every partner event source's name starts with.
pub const PARTNER_PREFIX: &str = "aws.partner/";

fn state_of(document: &Value) -> Option<EventSourceState> {
    document.get("State").and_then(|s| serde_json::from_value(s.clone()).ok())
}

impl EventBusService {
    /// `arn:aws:events:REGION::event-source/NAME` (sources have no account
    /// in their ARN).
    fn event_source_arn(&self, name: &str) -> String {
        format!("arn:aws:events:{}::event-source/{name}", self.region())
    }

    /// Makes the partner event source `name` in `account_id` for
    /// `created_by` (nothing if it exists). The name must start with
    /// `aws.partner/` and hold the account: `aws.partner/PARTNER/.../ACCOUNT/NAME`.
    pub async fn create_partner_event_source(&self, account_id: &str, name: &str, created_by: &str) -> BusResult<()> {
        let parts: Vec<&str> = name.split('/').collect();
        if !name.starts_with(PARTNER_PREFIX) || parts.len() < 4 || parts.iter().any(|p| p.is_empty()) {
            return Err(BusError::InvalidParameter(format!(
                "'{name}' is not a partner event source name (aws.partner/PARTNER/ACCOUNT/NAME)"
            )));
        }
        if parts[parts.len() - 2] != account_id {
            return Err(BusError::AccessDenied(format!(
                "partner event source {name} names another account than {account_id}"
            )));
        }
        if self.store().get_bus_resource(account_id, EVENT_SOURCE, name).await?.is_some() {
            return Ok(());
        }
        let now = now_ms();
        let row = BusResourceRow {
            account_id: account_id.to_string(),
            kind: EVENT_SOURCE.into(),
            name: name.to_string(),
            arn: self.event_source_arn(name),
            document: json!({"CreatedBy": created_by, "State": "PENDING"}),
            sealed: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        match self.store().create_bus_resource(&row).await {
            Ok(()) | Err(sluice_store::StoreError::AlreadyExists { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    async fn event_source(&self, account_id: &str, name: &str) -> BusResult<BusResourceRow> {
        self.store()
            .get_bus_resource(account_id, EVENT_SOURCE, name)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("Event source {name} does not exist.")))
    }

    /// Marks a partner event source ACTIVE (its bus was made) or PENDING
    /// (its bus was deleted); checks it exists.
    pub(crate) async fn set_event_source_state(&self, account_id: &str, name: &str, state: &str) -> BusResult<()> {
        let mut source = self.event_source(account_id, name).await?;
        source.document["State"] = json!(state);
        source.updated_at_ms = now_ms();
        self.store().update_bus_resource(&source).await?;
        Ok(())
    }

    /// DescribeEventSource.
    pub async fn describe_event_source(&self, account_id: &str, name: &str) -> BusResult<DescribeEventSourceResponse> {
        let wire = source_wire(&self.event_source(account_id, name).await?);
        Ok(DescribeEventSourceResponse {
            arn: wire.arn,
            created_by: wire.created_by,
            creation_time: wire.creation_time,
            expiration_time: wire.expiration_time,
            name: wire.name,
            state: wire.state,
        })
    }

    /// ListEventSources.
    pub async fn list_event_sources(
        &self,
        account_id: &str,
        request: ListEventSourcesRequest,
    ) -> BusResult<ListEventSourcesResponse> {
        let page = token::page("ListEventSources", request.limit, request.next_token.as_deref(), 100)?;
        let prefix = request.name_prefix.as_deref().unwrap_or("");
        let found = self.store().list_bus_resources(account_id, EVENT_SOURCE, prefix, &page).await?;
        Ok(ListEventSourcesResponse {
            event_sources: Some(found.items.iter().map(source_wire).collect()),
            next_token: found.next_cursor.map(|c| token::encode("ListEventSources", &c)),
        })
    }

    /// Puts events from the partner event source `name` on its partner
    /// event bus, durably; `NotFound` while no bus is associated with it.
    pub async fn publish_partner_events(
        &self,
        account_id: &str,
        name: &str,
        events: Vec<(String, Value)>,
    ) -> BusResult<Vec<String>> {
        self.check_partner_bus(account_id, name).await?;
        let events = events
            .into_iter()
            .map(|(detail_type, detail)| NewEvent {
                source: name.to_string(),
                detail_type,
                detail,
                resources: Vec::new(),
                time_ms: None,
            })
            .collect();
        self.publish(account_id, Some(name), events).await
    }

    /// `Ok` when a partner event bus is associated with the source `name`.
    pub async fn check_partner_bus(&self, account_id: &str, name: &str) -> BusResult<()> {
        self.event_source(account_id, name).await?;
        if self.store().get_bus(account_id, name).await?.is_none() {
            return Err(BusError::NotFound(format!(
                "The partner event source {name} is not associated with an event bus: create one with \
                 CreateEventBus(Name={name}, EventSourceName={name})"
            )));
        }
        Ok(())
    }
}

fn source_wire(row: &BusResourceRow) -> EventSource {
    EventSource {
        arn: Some(row.arn.clone()),
        created_by: row.document.get("CreatedBy").and_then(Value::as_str).map(str::to_string),
        creation_time: epoch(row.created_at_ms),
        expiration_time: None,
        name: Some(row.name.clone()),
        state: state_of(&row.document),
    }
}
