//! PutEvents: each entry checked as EventBridge checks it, turned into an
//! event envelope, matched against its bus's rules, and stored as one
//! delivery per matched target before the call answers. Concurrent calls
//! share transactions ([`DeliveryWriter`], a group commit), so the
//! durability promise costs one commit per batch, not per event.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sluice_model::events::pattern::FlatEvent;
use sluice_model::events::{PutEventsRequest, PutEventsRequestEntry, PutEventsResponse, PutEventsResultEntry};
use sluice_store::{ArchivedEventRow, DeliveryRow, MetadataStore, StoreError, TargetRow};
use tokio::sync::{mpsc, oneshot};

use crate::buses::{now_ms, EventBusService};
use crate::error::{BusError, BusResult};
use crate::policy::BusPolicy;

/// Largest total entry size of one PutEvents call (256 KiB).
pub const MAX_PUT_EVENTS_BYTES: usize = 256 * 1024;
/// Most deliveries one group commit writes.
const MAX_GROUP_ROWS: usize = 4096;

/// An event to publish: what a PutEvents entry says, after its checks.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// `detail` (a JSON object).
    pub detail: Value,
    /// `resources`.
    pub resources: Vec<String>,
    /// Event time (ms); now when `None`.
    pub time_ms: Option<i64>,
}

/// The size EventBridge counts for an entry: Time 14 bytes when given,
/// plus the UTF-8 bytes of Source, DetailType, Detail and each resource.
pub fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    let mut size = if entry.time.is_some() { 14 } else { 0 };
    size += entry.source.as_deref().map_or(0, str::len);
    size += entry.detail_type.as_deref().map_or(0, str::len);
    size += entry.detail.as_deref().map_or(0, str::len);
    size += entry.resources.as_ref().map_or(0, |r| r.iter().map(String::len).sum());
    size
}

/// An event envelope as rules and targets see it.
pub fn envelope(id: &str, account_id: &str, region: &str, event: &NewEvent) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": event.detail_type,
        "source": event.source,
        "account": account_id,
        "time": event_time(event.time_ms.unwrap_or_else(now_ms)),
        "region": region,
        "resources": event.resources,
        "detail": event.detail,
    })
}

/// `2026-12-03T10:15:30Z`: EventBridge's event time, whole seconds in UTC.
pub fn event_time(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&format).unwrap_or_default()
}

/// A delivery of `event` to one target of the rule `rule_arn`, due `now_ms`
/// (the target as it is now goes with it).
pub(crate) fn new_delivery(target: &TargetRow, rule_arn: &str, event: Value, now_ms: i64) -> DeliveryRow {
    DeliveryRow {
        delivery_id: uuid::Uuid::new_v4().to_string(),
        account_id: target.account_id.clone(),
        bus_name: target.bus_name.clone(),
        rule_name: target.rule_name.clone(),
        target_id: target.target_id.clone(),
        event,
        target: json!({"Target": target.document, "RuleArn": rule_arn, "RuleName": target.rule_name}),
        ingested_at_ms: now_ms,
        attempts: 0,
        next_attempt_ms: now_ms,
        lease_owner: None,
        lease_expires_at_ms: None,
        last_error: None,
    }
}

/// One entry's failure, as PutEvents reports it.
fn entry_error(code: &str, message: impl Into<String>) -> PutEventsResultEntry {
    PutEventsResultEntry { event_id: None, error_code: Some(code.to_string()), error_message: Some(message.into()) }
}

/// Checks an entry as EventBridge does; the event it describes.
fn check_entry(entry: &PutEventsRequestEntry, internal: bool) -> Result<NewEvent, PutEventsResultEntry> {
    let required = |name: &str, value: &Option<String>| -> Result<String, PutEventsResultEntry> {
        match value.as_deref().filter(|v| !v.trim().is_empty()) {
            Some(value) => Ok(value.to_string()),
            None => Err(entry_error(
                "InvalidArgument",
                format!("Parameter {name} is not valid. Reason: {name} is a required argument."),
            )),
        }
    };
    let source = required("Source", &entry.source)?;
    let detail_type = required("DetailType", &entry.detail_type)?;
    let detail_text = required("Detail", &entry.detail)?;
    if source.starts_with("aws.") && !internal {
        return Err(entry_error("NotAuthorizedForSourceException", "Not authorized for the source."));
    }
    let detail = match serde_json::from_str::<Value>(&detail_text) {
        Ok(detail @ Value::Object(_)) => detail,
        _ => return Err(entry_error("MalformedDetail", "Detail is malformed.")),
    };
    Ok(NewEvent {
        source,
        detail_type,
        detail,
        resources: entry.resources.clone().unwrap_or_default(),
        time_ms: entry.time.as_ref().map(|t| t.as_millis()),
    })
}

impl EventBusService {
    /// PutEvents from a client of `account_id`.
    pub async fn put_events(&self, account_id: &str, request: PutEventsRequest) -> BusResult<PutEventsResponse> {
        self.put_entries(account_id, &request.entries).await
    }

    /// Publishes events of Sluice's own services (e.g. `aws.appflow` run
    /// reports) on a bus of `account_id`; returns their ids.
    pub async fn publish(&self, account_id: &str, bus: Option<&str>, events: Vec<NewEvent>) -> BusResult<Vec<String>> {
        self.ensure_default_bus(account_id).await?;
        let (owner, name) = self.resolve_bus(account_id, bus)?;
        let mut rows = Routed::default();
        let mut ids = Vec::new();
        for event in &events {
            let id = uuid::Uuid::new_v4().to_string();
            let envelope = envelope(&id, account_id, self.region(), event);
            rows.extend(self.route(&owner, &name, &envelope).await?);
            ids.push(id);
        }
        self.commit(rows).await?;
        Ok(ids)
    }

    async fn put_entries(&self, account_id: &str, entries: &[PutEventsRequestEntry]) -> BusResult<PutEventsResponse> {
        self.ensure_default_bus(account_id).await?;
        let total: usize = entries.iter().map(entry_size).sum();
        if total > MAX_PUT_EVENTS_BYTES {
            return Err(BusError::validation(format!(
                "Total size of the entries in the request is over the limit: {total} bytes, at most \
                 {MAX_PUT_EVENTS_BYTES}."
            )));
        }
        let mut results = Vec::with_capacity(entries.len());
        let mut rows = Routed::default();
        // The buses of this call, each read once.
        let mut buses: std::collections::HashMap<(String, String), Option<sluice_store::BusRow>> =
            std::collections::HashMap::new();
        for entry in entries {
            let event = match check_entry(entry, false) {
                Ok(event) => event,
                Err(failed) => {
                    results.push(failed);
                    continue;
                }
            };
            let (owner, bus_name) = match self.resolve_bus(account_id, entry.event_bus_name.as_deref()) {
                Ok(bus) => bus,
                Err(error) => {
                    results.push(entry_error("InvalidArgument", error.to_string()));
                    continue;
                }
            };
            let key = (owner.clone(), bus_name.clone());
            let bus = match buses.get(&key) {
                Some(bus) => bus.clone(),
                None => {
                    let bus = self.store().get_bus(&owner, &bus_name).await?;
                    buses.insert(key, bus.clone());
                    bus
                }
            };
            let Some(bus) = bus else {
                results.push(entry_error("ResourceNotFoundException", format!("Event bus {bus_name} does not exist.")));
                continue;
            };
            if owner != account_id && !BusPolicy::of(&bus.document).allows(account_id, "events:PutEvents", &bus.arn) {
                results.push(entry_error(
                    "AccessDeniedException",
                    format!("account {account_id} is not authorized to put events on {}", bus.arn),
                ));
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            let envelope = envelope(&id, account_id, self.region(), &event);
            rows.extend(self.route(&owner, &bus_name, &envelope).await?);
            results.push(PutEventsResultEntry { event_id: Some(id), error_code: None, error_message: None });
        }
        self.commit(rows).await?;
        let failed = results.iter().filter(|r| r.error_code.is_some()).count();
        Ok(PutEventsResponse { failed_entry_count: Some(failed as i32), entries: Some(results) })
    }

    /// What becomes of `event` on a bus: one delivery per target of each
    /// enabled rule whose pattern matches (of the rules in `only`, when
    /// given: a replay's FilterArns), and a copy in each matching archive.
    pub(crate) async fn route_to(
        &self,
        account_id: &str,
        bus: &str,
        event: &Value,
        only: Option<&[String]>,
    ) -> BusResult<Routed> {
        let routes = self.inner.routes.routes(account_id, bus).await?;
        let now = now_ms();
        let mut routed = Routed::default();
        // Flattened once for all the bus's rules when there are several.
        let flat = (routes.rules.len() + routes.archives.len() > 2).then(|| FlatEvent::new(event));
        let matches = |pattern: &sluice_model::events::pattern::EventPattern| match &flat {
            Some(flat) => pattern.matches_flat(flat),
            None => pattern.matches(event),
        };
        for rule in &routes.rules {
            if only.is_some_and(|arns| !arns.contains(&rule.arn)) || !matches(&rule.pattern) {
                continue;
            }
            for target in &rule.targets {
                routed.deliveries.push(new_delivery(target, &rule.arn, event.clone(), now));
            }
        }
        for archive in routes.archives.iter().filter(|a| matches(&a.pattern)) {
            routed.archived.push(crate::archives::archived_event(account_id, archive, event, now));
        }
        Ok(routed)
    }

    /// What becomes of `event` on a bus ([`Self::route_to`] every rule).
    pub(crate) async fn route(&self, account_id: &str, bus: &str, event: &Value) -> BusResult<Routed> {
        self.route_to(account_id, bus, event, None).await
    }

    /// Stores routed events (group commit) and hands their deliveries to
    /// this server's deliverer, if it runs.
    pub(crate) async fn commit(&self, routed: Routed) -> BusResult<()> {
        if routed.is_empty() {
            return Ok(());
        }
        let Routed { deliveries: mut rows, archived } = routed;
        let fast_path = self.inner.writer.fast_path();
        if let Some((owner, _, lease)) = &fast_path {
            let until = now_ms() + lease.as_millis() as i64;
            for row in &mut rows {
                row.lease_owner = Some(owner.clone());
                row.lease_expires_at_ms = Some(until);
            }
        }
        let rows = self.inner.writer.write(rows, archived).await?;
        if let Some((owner, sender, _)) = fast_path {
            let mut overflow = Vec::new();
            for row in rows {
                if let Err(mpsc::error::TrySendError::Full(row) | mpsc::error::TrySendError::Closed(row)) =
                    sender.try_send(row)
                {
                    overflow.push(row.delivery_id);
                }
            }
            if !overflow.is_empty() {
                // The deliverer is saturated: give these to whichever server polls first.
                for id in overflow {
                    let _ = self.store().retry_delivery(&id, &owner, 0, now_ms(), "").await;
                }
            }
        }
        Ok(())
    }

    /// Makes deliveries stored by this service go straight to `sender`
    /// (leased to `owner` for `lease`), without waiting for a poll.
    pub fn attach_deliverer(&self, owner: &str, sender: mpsc::Sender<DeliveryRow>, lease: Duration) {
        self.inner.writer.set_fast_path(owner, sender, lease);
    }

    /// Stops handing deliveries to this server's deliverer (it is stopping).
    pub fn detach_deliverer(&self) {
        self.inner.writer.clear_fast_path();
    }
}

/// What routing made of events: deliveries to targets and archives' copies.
#[derive(Debug, Default)]
pub(crate) struct Routed {
    /// One per matched target.
    pub deliveries: Vec<DeliveryRow>,
    /// One per matching archive.
    pub archived: Vec<ArchivedEventRow>,
}

impl Routed {
    /// Adds what routing made of another event.
    pub fn extend(&mut self, other: Routed) {
        self.deliveries.extend(other.deliveries);
        self.archived.extend(other.archived);
    }

    /// Nothing to store.
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty() && self.archived.is_empty()
    }
}

/// Rows to store and where to answer: with the rows themselves once they
/// are stored (they go on to the deliverer without being copied).
type WriteRequest = (Vec<DeliveryRow>, Vec<ArchivedEventRow>, oneshot::Sender<Result<Vec<DeliveryRow>, String>>);

/// The group-commit writer: calls that arrive while a transaction commits
/// share the next one.
pub struct DeliveryWriter {
    requests: mpsc::Sender<WriteRequest>,
    fast_path: Mutex<Option<(String, mpsc::Sender<DeliveryRow>, Duration)>>,
}

impl DeliveryWriter {
    /// Starts the writer task on `store`.
    pub fn spawn(store: Arc<dyn MetadataStore>) -> Self {
        let (requests, receiver) = mpsc::channel(4096);
        tokio::spawn(write_loop(store, receiver));
        Self { requests, fast_path: Mutex::new(None) }
    }

    /// Stores `rows` durably (in one transaction with whatever else is
    /// waiting) and gives them back.
    pub async fn write(&self, rows: Vec<DeliveryRow>, archived: Vec<ArchivedEventRow>) -> BusResult<Vec<DeliveryRow>> {
        let (done, answer) = oneshot::channel();
        self.requests
            .send((rows, archived, done))
            .await
            .map_err(|_| BusError::Internal("the delivery writer has stopped".into()))?;
        match answer.await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(message)) => Err(BusError::Internal(message)),
            Err(_) => Err(BusError::Internal("the delivery writer has stopped".into())),
        }
    }

    fn fast_path(&self) -> Option<(String, mpsc::Sender<DeliveryRow>, Duration)> {
        self.fast_path.lock().ok().and_then(|f| f.clone())
    }

    fn set_fast_path(&self, owner: &str, sender: mpsc::Sender<DeliveryRow>, lease: Duration) {
        if let Ok(mut f) = self.fast_path.lock() {
            *f = Some((owner.to_string(), sender, lease));
        }
    }

    fn clear_fast_path(&self) {
        if let Ok(mut f) = self.fast_path.lock() {
            *f = None;
        }
    }
}

async fn write_loop(store: Arc<dyn MetadataStore>, mut receiver: mpsc::Receiver<WriteRequest>) {
    while let Some(first) = receiver.recv().await {
        let (mut rows, mut archived) = (first.0, first.1);
        // Each waiting caller with how many of the rows are its own.
        let mut waiting = vec![(first.2, rows.len())];
        while rows.len() + archived.len() < MAX_GROUP_ROWS {
            match receiver.try_recv() {
                Ok((more, more_archived, done)) => {
                    waiting.push((done, more.len()));
                    rows.extend(more);
                    archived.extend(more_archived);
                }
                Err(_) => break,
            }
        }
        let result = store.insert_routed(&rows, &archived).await.map_err(|error: StoreError| {
            tracing::error!(%error, rows = rows.len(), "storing event deliveries failed");
            "the events could not be stored; try again".to_string()
        });
        let mut rows = rows.into_iter();
        for (done, count) in waiting {
            let answer = match &result {
                Ok(()) => Ok(rows.by_ref().take(count).collect()),
                Err(message) => Err(message.clone()),
            };
            let _ = done.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_model::wire::EpochSeconds;

    #[test]
    fn entry_size_counts_what_eventbridge_counts() {
        let entry = PutEventsRequestEntry {
            time: Some(EpochSeconds(1.0)),
            source: Some("my.app".into()),
            resources: Some(vec!["arn:a".into(), "ünï".into()]),
            detail_type: Some("Order".into()),
            detail: Some("{\"a\":1}".into()),
            event_bus_name: Some("ignored-in-size".into()),
            trace_header: None,
        };
        assert_eq!(entry_size(&entry), 14 + 6 + 5 + 7 + 5 + "ünï".len());
    }

    #[test]
    fn entries_are_checked_like_eventbridge() {
        let ok = PutEventsRequestEntry {
            source: Some("my.app".into()),
            detail_type: Some("Order".into()),
            detail: Some("{}".into()),
            ..Default::default()
        };
        assert!(check_entry(&ok, false).is_ok());
        let missing = PutEventsRequestEntry { source: None, ..ok.clone() };
        assert_eq!(check_entry(&missing, false).unwrap_err().error_code.as_deref(), Some("InvalidArgument"));
        let array = PutEventsRequestEntry { detail: Some("[1]".into()), ..ok.clone() };
        assert_eq!(check_entry(&array, false).unwrap_err().error_code.as_deref(), Some("MalformedDetail"));
        let aws = PutEventsRequestEntry { source: Some("aws.appflow".into()), ..ok.clone() };
        assert_eq!(
            check_entry(&aws, false).unwrap_err().error_code.as_deref(),
            Some("NotAuthorizedForSourceException")
        );
        assert!(check_entry(&aws, true).is_ok());
    }

    #[test]
    fn event_time_is_whole_seconds_utc() {
        assert_eq!(event_time(1_764_756_930_999), "2025-12-03T10:15:30Z");
    }
}
