//! Archives: a bus keeps a copy of every event an archive's pattern
//! matches (replayed events never), for its retention, so a replay can send
//! them again. The copy is written in the transaction of the event's
//! deliveries, so an archived event is as durable as a delivered one.

use serde_json::{json, Value};
use sluice_model::events::pattern::EventPattern;
use sluice_model::events::*;
use sluice_store::{ArchivedEventRow, BusResourceRow, MetadataStore, PageRequest};

use crate::arn::{parse_arn, resource_arn};
use crate::buses::{epoch, now_ms, EventBusService};
use crate::error::{BusError, BusResult};
use crate::routing::CompiledArchive;
use crate::token;

/// The bus resource kind of archives.
pub(crate) const ARCHIVE: &str = "archive";
/// Most archives an account may have (EventBridge's quota).
pub const MAX_ARCHIVES_PER_ACCOUNT: usize = 200;
const DAY_MS: i64 = 86_400_000;

/// The pattern an archive matches with: its own (or every event) and never
/// a replayed one (EventBridge marks those with `replay-name`).
fn archive_pattern(pattern: Option<&str>) -> BusResult<EventPattern> {
    let mut document = match pattern {
        Some(text) => {
            EventPattern::parse(text).map_err(|e| BusError::InvalidEventPattern(e.to_string()))?;
            serde_json::from_str::<serde_json::Map<String, Value>>(text)
                .map_err(|e| BusError::InvalidEventPattern(e.to_string()))?
        }
        None => serde_json::Map::new(),
    };
    document.insert("replay-name".into(), json!([{"exists": false}]));
    EventPattern::parse(&Value::Object(document).to_string()).map_err(|e| BusError::InvalidEventPattern(e.to_string()))
}

fn retention_ms(days: Option<i64>) -> Option<i64> {
    days.filter(|d| *d > 0).map(|d| d * DAY_MS)
}

/// Milliseconds of an envelope's `time` (`2026-12-03T10:15:30Z`).
pub(crate) fn envelope_time_ms(event: &Value) -> Option<i64> {
    let text = event.get("time")?.as_str()?;
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The enabled archives of a bus, compiled (skipping any whose stored
/// pattern no longer parses).
pub(crate) async fn bus_archives(
    store: &dyn MetadataStore,
    account_id: &str,
    bus: &str,
) -> BusResult<Vec<CompiledArchive>> {
    let mut compiled = Vec::new();
    for archive in all_archives(store, account_id).await? {
        let document = &archive.document;
        if document.get("BusName").and_then(Value::as_str) != Some(bus)
            || document.get("State").and_then(Value::as_str) != Some("ENABLED")
        {
            continue;
        }
        match archive_pattern(document.get("EventPattern").and_then(Value::as_str)) {
            Ok(pattern) => compiled.push(CompiledArchive {
                name: archive.name.clone(),
                pattern,
                retention_ms: retention_ms(document.get("RetentionDays").and_then(Value::as_i64)),
            }),
            Err(error) => tracing::warn!(archive = %archive.arn, %error, "stored archive pattern does not parse"),
        }
    }
    Ok(compiled)
}

/// Every archive of an account, by name.
async fn all_archives(store: &dyn MetadataStore, account_id: &str) -> BusResult<Vec<BusResourceRow>> {
    let mut all = Vec::new();
    let mut page = PageRequest::first(500);
    loop {
        let archives = store.list_bus_resources(account_id, ARCHIVE, "", &page).await?;
        all.extend(archives.items);
        match archives.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(all),
        }
    }
}

/// The copy of `event` an archive keeps.
pub(crate) fn archived_event(
    account_id: &str,
    archive: &CompiledArchive,
    event: &Value,
    now_ms: i64,
) -> ArchivedEventRow {
    let text = event.to_string();
    ArchivedEventRow {
        account_id: account_id.to_string(),
        archive_name: archive.name.clone(),
        event_id: event.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        event_time_ms: envelope_time_ms(event).unwrap_or(now_ms),
        archived_at_ms: now_ms,
        expires_at_ms: archive.retention_ms.map(|r| now_ms + r),
        size_bytes: text.len() as i64,
        event: event.clone(),
    }
}

fn state_of(document: &Value) -> Option<ArchiveState> {
    document.get("State").and_then(|s| serde_json::from_value(s.clone()).ok())
}

impl EventBusService {
    /// An archive of the caller's, which must exist.
    pub(crate) async fn archive(&self, account_id: &str, name: &str) -> BusResult<BusResourceRow> {
        self.store()
            .get_bus_resource(account_id, ARCHIVE, name)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("Archive {name} does not exist.")))
    }

    /// The archive an ARN names, of the caller's account.
    pub(crate) async fn archive_by_arn(&self, account_id: &str, arn: &str) -> BusResult<BusResourceRow> {
        let name = parse_arn(arn)
            .filter(|a| a.service == "events" && a.account_id == account_id)
            .and_then(|a| a.resource.strip_prefix("archive/").map(str::to_string));
        let missing = |what: &str| {
            BusError::NotFound(format!("Parameter EventSourceArn is not valid. Reason: Archive {what} does not exist."))
        };
        let Some(name) = name else { return Err(missing(arn)) };
        self.store().get_bus_resource(account_id, ARCHIVE, &name).await?.ok_or_else(|| missing(&name))
    }

    /// CreateArchive: the archive keeps matching events from now on.
    pub async fn create_archive(
        &self,
        account_id: &str,
        request: CreateArchiveRequest,
    ) -> BusResult<CreateArchiveResponse> {
        let (owner, bus_name) = self.resolve_bus(account_id, Some(&request.event_source_arn))?;
        if owner != account_id {
            return Err(BusError::InvalidParameter(
                "Parameter EventSourceArn is not valid. Reason: the event bus must be in the caller's account.".into(),
            ));
        }
        self.ensure_default_bus(account_id).await?;
        if self.store().get_bus(account_id, &bus_name).await?.is_none() {
            return Err(BusError::NotFound(format!("Event bus {bus_name} does not exist.")));
        }
        archive_pattern(request.event_pattern.as_deref())?;
        if request.retention_days.is_some_and(|d| d < 0) {
            return Err(BusError::InvalidParameter(
                "Parameter RetentionDays is not valid. Reason: it must be at least 0.".into(),
            ));
        }
        if all_archives(self.store().as_ref(), account_id).await?.len() >= MAX_ARCHIVES_PER_ACCOUNT {
            return Err(BusError::LimitExceeded(format!(
                "The requested resource exceeds the maximum number allowed ({MAX_ARCHIVES_PER_ACCOUNT} archives)."
            )));
        }
        let now = now_ms();
        let arn = resource_arn(self.region(), account_id, ARCHIVE, &request.archive_name, None);
        let row = BusResourceRow {
            account_id: account_id.to_string(),
            kind: ARCHIVE.into(),
            name: request.archive_name.clone(),
            arn: arn.clone(),
            document: json!({
                "EventSourceArn": request.event_source_arn,
                "BusName": bus_name,
                "Description": request.description,
                "EventPattern": request.event_pattern,
                "RetentionDays": request.retention_days.unwrap_or(0),
                "State": "ENABLED",
            }),
            sealed: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.store().create_bus_resource(&row).await.map_err(|e| match e {
            sluice_store::StoreError::AlreadyExists { .. } => {
                BusError::AlreadyExists(format!("Archive {} already exists.", request.archive_name))
            }
            other => other.into(),
        })?;
        self.inner.routes.invalidate(account_id, &bus_name);
        Ok(CreateArchiveResponse {
            archive_arn: Some(arn),
            state: Some(ArchiveState::Enabled),
            state_reason: None,
            creation_time: epoch(now),
        })
    }

    /// DescribeArchive, with the events and bytes it holds now.
    pub async fn describe_archive(&self, account_id: &str, name: &str) -> BusResult<DescribeArchiveResponse> {
        let archive = self.archive(account_id, name).await?;
        let (events, bytes) = self.store().archive_totals(account_id, name).await?;
        let document = &archive.document;
        let text = |key: &str| document.get(key).and_then(Value::as_str).map(str::to_string);
        Ok(DescribeArchiveResponse {
            archive_arn: Some(archive.arn.clone()),
            archive_name: Some(archive.name.clone()),
            event_source_arn: text("EventSourceArn"),
            description: text("Description"),
            event_pattern: text("EventPattern"),
            state: state_of(document),
            state_reason: text("StateReason"),
            retention_days: document.get("RetentionDays").and_then(Value::as_i64).map(|d| d as i32),
            size_bytes: Some(bytes),
            event_count: Some(events),
            creation_time: epoch(archive.created_at_ms),
            ..Default::default()
        })
    }

    /// ListArchives (NamePrefix, EventSourceArn and State filter).
    pub async fn list_archives(
        &self,
        account_id: &str,
        request: ListArchivesRequest,
    ) -> BusResult<ListArchivesResponse> {
        let page = token::page("ListArchives", request.limit, request.next_token.as_deref(), 100)?;
        let prefix = request.name_prefix.as_deref().unwrap_or("");
        let wanted_state = request.state.as_ref().and_then(|s| serde_json::to_value(s).ok());
        let mut matching = all_archives(self.store().as_ref(), account_id).await?.into_iter().filter(|a| {
            a.name.starts_with(prefix)
                && page.cursor.as_deref().is_none_or(|after| a.name.as_str() > after)
                && request
                    .event_source_arn
                    .as_deref()
                    .is_none_or(|arn| a.document.get("EventSourceArn").and_then(Value::as_str) == Some(arn))
                && wanted_state.as_ref().is_none_or(|s| a.document.get("State") == Some(s))
        });
        let mut archives = Vec::new();
        let mut next_token = None;
        for archive in matching.by_ref() {
            if archives.len() == page.limit {
                next_token = archives.last().map(|last: &BusResourceRow| token::encode("ListArchives", &last.name));
                break;
            }
            archives.push(archive);
        }
        let mut wire = Vec::with_capacity(archives.len());
        for archive in &archives {
            let (events, bytes) = self.store().archive_totals(account_id, &archive.name).await?;
            wire.push(Archive {
                archive_name: Some(archive.name.clone()),
                event_source_arn: archive.document.get("EventSourceArn").and_then(Value::as_str).map(str::to_string),
                state: state_of(&archive.document),
                state_reason: archive.document.get("StateReason").and_then(Value::as_str).map(str::to_string),
                retention_days: archive.document.get("RetentionDays").and_then(Value::as_i64).map(|d| d as i32),
                size_bytes: Some(bytes),
                event_count: Some(events),
                creation_time: epoch(archive.created_at_ms),
            });
        }
        Ok(ListArchivesResponse { archives: Some(wire), next_token })
    }

    /// UpdateArchive: a new description, pattern (for events from now on)
    /// or retention (for the events it holds too).
    pub async fn update_archive(
        &self,
        account_id: &str,
        request: UpdateArchiveRequest,
    ) -> BusResult<UpdateArchiveResponse> {
        let mut archive = self.archive(account_id, &request.archive_name).await?;
        if let Some(pattern) = &request.event_pattern {
            archive_pattern(Some(pattern))?;
        }
        if request.retention_days.is_some_and(|d| d < 0) {
            return Err(BusError::InvalidParameter(
                "Parameter RetentionDays is not valid. Reason: it must be at least 0.".into(),
            ));
        }
        let document = archive.document.as_object_mut().ok_or_else(|| BusError::Internal("corrupt archive".into()))?;
        if let Some(description) = &request.description {
            document.insert("Description".into(), json!(description));
        }
        if let Some(pattern) = &request.event_pattern {
            document.insert("EventPattern".into(), json!(pattern));
        }
        if let Some(days) = request.retention_days {
            document.insert("RetentionDays".into(), json!(days));
            self.store().set_archive_retention(account_id, &archive.name, retention_ms(Some(days as i64))).await?;
        }
        archive.updated_at_ms = now_ms();
        self.store().update_bus_resource(&archive).await?;
        if let Some(bus) = archive.document.get("BusName").and_then(Value::as_str) {
            self.inner.routes.invalidate(account_id, bus);
        }
        Ok(UpdateArchiveResponse {
            archive_arn: Some(archive.arn.clone()),
            state: state_of(&archive.document),
            state_reason: None,
            creation_time: epoch(archive.created_at_ms),
        })
    }

    /// DeleteArchive: the archive goes with the events it held.
    pub async fn delete_archive(&self, account_id: &str, name: &str) -> BusResult<()> {
        let archive = self.archive(account_id, name).await?;
        self.store().delete_bus_resource(account_id, ARCHIVE, name).await?;
        self.store().delete_archived_events(account_id, name).await?;
        if let Some(bus) = archive.document.get("BusName").and_then(Value::as_str) {
            self.inner.routes.invalidate(account_id, bus);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_never_keep_replayed_events() {
        let pattern = archive_pattern(Some(r#"{"source":["shop"]}"#)).unwrap();
        let event = json!({"source": "shop", "detail": {}});
        assert!(pattern.matches(&event));
        let mut replayed = event.clone();
        replayed["replay-name"] = json!("r1");
        assert!(!pattern.matches(&replayed));
        assert!(!pattern.matches(&json!({"source": "other"})));
        let everything = archive_pattern(None).unwrap();
        assert!(everything.matches(&json!({"source": "any"})));
        assert!(!everything.matches(&replayed));
        assert!(matches!(archive_pattern(Some("{\"source\": 1}")), Err(BusError::InvalidEventPattern(_))));
    }

    #[test]
    fn envelope_times_are_read_back() {
        assert_eq!(envelope_time_ms(&json!({"time": "2025-12-03T10:15:30Z"})), Some(1_764_756_930_000));
        assert_eq!(envelope_time_ms(&json!({"time": "yesterday"})), None);
    }
}
