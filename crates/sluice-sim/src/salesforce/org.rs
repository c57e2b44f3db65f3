//! The simulated org's data: objects, records, writes with Salesforce's
//! validation, and the change events every write produces.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use super::change_events::{change_event_channel, change_event_payload, Change};
use super::error::SfError;
use super::ids::{make_id, to_18};
use super::schema::{custom_object, standard_objects, CustomObjectSpec, FieldDef, FieldType, ObjectDef, ObjectKind};

const SF_DATETIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");

/// Formats a time the way Salesforce returns datetimes.
pub fn format_datetime(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(SF_DATETIME).unwrap_or_default()
}

/// Parses the datetime forms Salesforce accepts on input.
pub fn parse_datetime(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    // 2024-01-31T10:00:00.000+0000 (offset without colon)
    if text.len() > 5 {
        let (head, offset) = text.split_at(text.len() - 5);
        if (offset.starts_with('+') || offset.starts_with('-')) && offset[1..].bytes().all(|b| b.is_ascii_digit()) {
            let fixed = format!("{head}{}:{}", &offset[..3], &offset[3..]);
            return OffsetDateTime::parse(&fixed, &time::format_description::well_known::Rfc3339).ok();
        }
    }
    // 2024-01-31T10:00:00 (no zone: UTC)
    OffsetDateTime::parse(&format!("{text}Z"), &time::format_description::well_known::Rfc3339).ok()
}

/// One record: values aligned with the object's field list.
pub type Row = Vec<Value>;

/// An object's definition and records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectStore {
    /// Metadata (shared: writes borrow it while they change the org).
    pub def: Arc<ObjectDef>,
    /// Records, including soft-deleted ones (`IsDeleted` true).
    pub rows: Vec<Row>,
    /// Id -> row index.
    #[serde(skip)]
    pub by_id: HashMap<String, usize>,
}

impl ObjectStore {
    fn new(def: ObjectDef) -> Self {
        Self { def: Arc::new(def), rows: Vec::new(), by_id: HashMap::new() }
    }

    fn reindex(&mut self) {
        let id_col = self.column("Id");
        self.by_id = self
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| Some((row.get(id_col?)?.as_str()?.to_string(), i)))
            .collect();
    }

    /// Column index of a field (case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.def.field(name).map(|(i, _)| i)
    }

    /// Value of a field in a row.
    pub fn value<'a>(&self, row: &'a Row, name: &str) -> Option<&'a Value> {
        row.get(self.column(name)?)
    }

    fn is_deleted(&self, row: &Row) -> bool {
        self.value(row, "IsDeleted").and_then(Value::as_bool).unwrap_or(false)
    }
}

/// A published event (change event or platform event).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Replay id, increasing across the org.
    pub replay_id: u64,
    /// Channel, e.g. `/data/AccountChangeEvent` or `/event/Holiday_Event__e`.
    pub channel: String,
    /// The event payload, kept as JSON text: the log holds every write of
    /// the last 72 hours, and text takes a fraction of a JSON tree's memory.
    pub payload: Box<serde_json::value::RawValue>,
    /// When it was published.
    pub created_ms: i64,
}

impl StoredEvent {
    /// The payload as a JSON value.
    pub fn payload(&self) -> Value {
        serde_json::from_str(self.payload.get()).unwrap_or(Value::Null)
    }
}

fn empty_payload() -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string("{}".into()).expect("{} is JSON")
}

/// Retention of events, as on the platform: 72 hours.
pub const EVENT_RETENTION_MS: i64 = 72 * 3600 * 1000;
/// The event log keeps at most this many events (the oldest go first), so
/// a bulk load of millions of records does not hold gigabytes of change
/// events.
pub const MAX_EVENTS: usize = 250_000;

/// Every object and record of the org.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    /// Org id (`00D...`).
    pub org_id: String,
    /// Objects by lower-case name.
    pub objects: HashMap<String, ObjectStore>,
    /// Next id counter.
    pub next_id: u64,
    /// Next case number.
    pub next_case_number: u64,
    /// User that writes are attributed to when no session user is known.
    pub admin_user_id: String,
    /// Published events, oldest first.
    pub events: VecDeque<StoredEvent>,
    /// Next replay id.
    pub next_replay_id: u64,
    /// Next custom key prefix number.
    pub next_custom_prefix: u32,
    /// `changeOrigin` of the write in progress (see [`Org::as_origin`]).
    #[serde(skip)]
    pub change_origin: String,
}

/// Result of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A record was created.
    Created(String),
    /// The record was updated.
    Updated(String),
}

impl Org {
    /// An org with the standard objects and one admin user.
    pub fn new() -> Self {
        let objects =
            standard_objects().into_iter().map(|d| (d.name.to_ascii_lowercase(), ObjectStore::new(d))).collect();
        let mut org = Self {
            org_id: make_id("00D", 1),
            objects,
            next_id: 1,
            next_case_number: 1001,
            admin_user_id: String::new(),
            events: VecDeque::new(),
            next_replay_id: 1,
            next_custom_prefix: 1,
            change_origin: String::new(),
        };
        let mut admin = Map::new();
        admin.insert("Username".into(), json!("admin@sluice.dev"));
        admin.insert("FirstName".into(), json!("Sluice"));
        admin.insert("LastName".into(), json!("Admin"));
        admin.insert("Email".into(), json!("admin@sluice.dev"));
        org.admin_user_id = org.create("User", &admin, None).unwrap_or_default();
        org
    }

    /// Runs `write` as a call with `changeOrigin` `origin` (see
    /// [`change_origin`](super::change_events::change_origin)): its change
    /// events name it. Writes outside this (seeding) have an empty origin.
    pub fn as_origin<T>(&mut self, origin: String, write: impl FnOnce(&mut Org) -> T) -> T {
        let before = std::mem::replace(&mut self.change_origin, origin);
        let result = write(self);
        self.change_origin = before;
        result
    }

    /// Rebuilds indexes after loading from a state file.
    pub fn reindex(&mut self) {
        for store in self.objects.values_mut() {
            store.reindex();
        }
    }

    /// The object with that name (case-insensitive).
    pub fn object(&self, name: &str) -> Result<&ObjectStore, SfError> {
        self.objects.get(&name.to_ascii_lowercase()).ok_or_else(|| SfError::unknown_object(name))
    }

    fn object_mut(&mut self, name: &str) -> Result<&mut ObjectStore, SfError> {
        self.objects.get_mut(&name.to_ascii_lowercase()).ok_or_else(|| SfError::unknown_object(name))
    }

    /// Defines a custom object or platform event.
    pub fn define_custom_object(&mut self, spec: CustomObjectSpec) -> Result<&ObjectDef, SfError> {
        if self.objects.contains_key(&spec.name.to_ascii_lowercase()) {
            return Err(SfError::bad_request("DUPLICATE_DEVELOPER_NAME", format!("{} already exists", spec.name)));
        }
        let prefix_letter = if spec.name.ends_with("__e") { 'e' } else { 'a' };
        let prefix = format!("{prefix_letter}{:02}", self.next_custom_prefix % 100);
        self.next_custom_prefix += 1;
        let def = custom_object(spec, prefix).map_err(|m| SfError::bad_request("INVALID_FIELD", m))?;
        let key = def.name.to_ascii_lowercase();
        self.objects.insert(key.clone(), ObjectStore::new(def));
        Ok(&self.objects[&key].def)
    }

    fn new_id(&mut self, prefix: &str) -> String {
        let id = make_id(prefix, self.next_id);
        self.next_id += 1;
        id
    }

    /// Creates a record; returns its id. `user` is the writing user.
    pub fn create(&mut self, object: &str, fields: &Map<String, Value>, user: Option<&str>) -> Result<String, SfError> {
        let now = OffsetDateTime::now_utc();
        let user = user.map(str::to_string).unwrap_or_else(|| self.admin_user_id.clone());
        let def = self.object(object)?.def.clone();
        if def.kind == ObjectKind::PlatformEvent {
            return self.publish_platform_event(&def, fields, &user, now);
        }
        let mut row: Row = vec![Value::Null; def.fields.len()];
        let mut given = vec![false; def.fields.len()];
        let mut problems_missing = Vec::new();
        for (i, value) in assign(&def, fields, true)? {
            row[i] = value;
            given[i] = true;
        }
        for (i, field) in def.fields.iter().enumerate() {
            if !given[i] {
                if let Some(default) = &field.default_value {
                    row[i] = default.clone();
                } else if field.field_type == FieldType::Boolean {
                    row[i] = json!(false);
                }
            }
            if field.required_on_create() && row[i].is_null() {
                problems_missing.push(field.name.clone());
            }
        }
        if !problems_missing.is_empty() {
            return Err(SfError::bad_request(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", problems_missing.join(", ")),
            )
            .with_fields(problems_missing));
        }
        let id = self.new_id(&def.key_prefix);
        let stamp = format_datetime(now);
        let set = |row: &mut Row, name: &str, value: Value| {
            if let Some((i, _)) = def.field(name) {
                row[i] = value;
            }
        };
        set(&mut row, "Id", json!(id));
        set(&mut row, "IsDeleted", json!(false));
        set(&mut row, "CreatedDate", json!(stamp));
        set(&mut row, "CreatedById", json!(user));
        set(&mut row, "LastModifiedDate", json!(stamp));
        set(&mut row, "LastModifiedById", json!(user));
        set(&mut row, "SystemModstamp", json!(stamp));
        if def.field("OwnerId").is_some() && def.field("OwnerId").map(|(i, _)| row[i].is_null()).unwrap_or(false) {
            set(&mut row, "OwnerId", json!(user));
        }
        if def.name == "Case" {
            set(&mut row, "CaseNumber", json!(format!("{:08}", self.next_case_number)));
            self.next_case_number += 1;
        }
        derive_fields(&def, &mut row);
        self.check_unique(&def, &row, None)?;
        // The change event carries every field set (changedFields stays empty for CREATE).
        self.record_change(&def, "CREATE", &id, &row, &[], &[], &user, now);
        let store = self.object_mut(object)?;
        store.by_id.insert(id.clone(), store.rows.len());
        store.rows.push(row);
        Ok(id)
    }

    /// Updates a record.
    pub fn update(
        &mut self,
        object: &str,
        id: &str,
        fields: &Map<String, Value>,
        user: Option<&str>,
    ) -> Result<(), SfError> {
        let now = OffsetDateTime::now_utc();
        let user = user.map(str::to_string).unwrap_or_else(|| self.admin_user_id.clone());
        let def = self.object(object)?.def.clone();
        let index = self.live_index(object, id)?;
        let assigned = assign(&def, fields, false)?;
        let mut row = self.object(object)?.rows[index].clone();
        let mut missing = Vec::new();
        for (i, value) in &assigned {
            if value.is_null() && !def.fields[*i].nillable {
                missing.push(def.fields[*i].name.clone());
            }
        }
        if !missing.is_empty() {
            return Err(SfError::bad_request(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", missing.join(", ")),
            )
            .with_fields(missing));
        }
        let mut changed = Vec::new();
        let mut nulled = Vec::new();
        for (i, value) in assigned {
            if row[i] != value {
                changed.push(def.fields[i].name.clone());
                if value.is_null() {
                    nulled.push(def.fields[i].name.clone());
                }
            }
            row[i] = value;
        }
        let stamp = format_datetime(now);
        for (name, value) in
            [("LastModifiedDate", json!(stamp)), ("LastModifiedById", json!(user)), ("SystemModstamp", json!(stamp))]
        {
            if let Some((i, _)) = def.field(name) {
                row[i] = value;
            }
        }
        derive_fields(&def, &mut row);
        self.check_unique(&def, &row, Some(index))?;
        let full_id = self.object(object)?.value(&row, "Id").and_then(Value::as_str).unwrap_or(id).to_string();
        self.object_mut(object)?.rows[index] = row.clone();
        changed.push("LastModifiedDate".to_string());
        self.record_change(&def, "UPDATE", &full_id, &row, &changed, &nulled, &user, now);
        Ok(())
    }

    /// Soft-deletes a record (it stays visible to `queryAll`).
    pub fn delete(&mut self, object: &str, id: &str, user: Option<&str>) -> Result<(), SfError> {
        let now = OffsetDateTime::now_utc();
        let user = user.map(str::to_string).unwrap_or_else(|| self.admin_user_id.clone());
        let def = self.object(object)?.def.clone();
        let index = self.live_index(object, id)?;
        let stamp = format_datetime(now);
        let store = self.object_mut(object)?;
        let mut row = store.rows[index].clone();
        for (name, value) in [("IsDeleted", json!(true)), ("SystemModstamp", json!(stamp))] {
            if let Some(i) = store.column(name) {
                row[i] = value;
            }
        }
        store.rows[index] = row.clone();
        let full_id = store.value(&row, "Id").and_then(Value::as_str).unwrap_or(id).to_string();
        self.record_change(&def, "DELETE", &full_id, &row, &[], &[], &user, now);
        Ok(())
    }

    /// Finds records by an external id (or `Id`) value.
    pub fn find_by_field(&self, object: &str, field: &str, value: &str) -> Result<Vec<String>, SfError> {
        let store = self.object(object)?;
        let (column, def) = store.def.field(field).ok_or_else(|| SfError::unknown_field(&store.def.name, field))?;
        if def.field_type == FieldType::Id {
            return Ok(to_18(value).filter(|id| self.live_index(object, id).is_ok()).into_iter().collect());
        }
        if !def.external_id {
            return Err(SfError::bad_request(
                "INVALID_FIELD",
                format!("Field {} is not an external id field on {}", def.name, store.def.name),
            ));
        }
        Ok(store
            .rows
            .iter()
            .filter(|row| !store.is_deleted(row))
            .filter(|row| row[column].as_str().is_some_and(|v| v.eq_ignore_ascii_case(value)))
            .filter_map(|row| store.value(row, "Id").and_then(Value::as_str).map(str::to_string))
            .collect())
    }

    /// Upserts by external id: creates when no record matches, updates one
    /// match, fails with 300 `MULTIPLE_CHOICES` on several.
    pub fn upsert(
        &mut self,
        object: &str,
        field: &str,
        value: &str,
        fields: &Map<String, Value>,
        user: Option<&str>,
    ) -> Result<UpsertOutcome, SfError> {
        let matches = self.find_by_field(object, field, value)?;
        let mut fields = fields.clone();
        fields.retain(|k, _| !k.eq_ignore_ascii_case(field) && k != "attributes");
        match matches.as_slice() {
            [] => {
                let (_, def) = self
                    .object(object)?
                    .def
                    .field(field)
                    .map(|(i, d)| (i, d.clone()))
                    .ok_or_else(|| SfError::not_found())?;
                if def.field_type != FieldType::Id {
                    fields.insert(def.name.clone(), json!(value));
                }
                self.create(object, &fields, user).map(UpsertOutcome::Created)
            }
            [id] => {
                let id = id.clone();
                self.update(object, &id, &fields, user)?;
                Ok(UpsertOutcome::Updated(id))
            }
            many => Err(SfError {
                status: StatusCode::MULTIPLE_CHOICES,
                code: "MULTIPLE_CHOICES",
                message: format!("More than one record found for external id field {field}: {}", many.join(", ")),
                fields: Vec::new(),
            }),
        }
    }

    /// Row index of a live (not deleted) record.
    pub fn live_index(&self, object: &str, id: &str) -> Result<usize, SfError> {
        let store = self.object(object)?;
        let id = to_18(id).ok_or_else(|| {
            SfError::bad_request("MALFORMED_ID", format!("{} ID: id value of incorrect type: {id}", store.def.name))
        })?;
        let index = *store.by_id.get(&id).ok_or_else(SfError::not_found)?;
        if store.is_deleted(&store.rows[index]) {
            return Err(SfError {
                status: StatusCode::NOT_FOUND,
                ..SfError::bad_request("ENTITY_IS_DELETED", "entity is deleted")
            });
        }
        Ok(index)
    }

    fn check_unique(&self, def: &ObjectDef, row: &Row, skip: Option<usize>) -> Result<(), SfError> {
        let store = self.object(&def.name)?;
        for (i, field) in def.fields.iter().enumerate() {
            if !field.unique || row[i].is_null() {
                continue;
            }
            let wanted = row[i].as_str().map(str::to_ascii_lowercase);
            let clash = store.rows.iter().enumerate().find(|(j, other)| {
                Some(*j) != skip && !store.is_deleted(other) && other[i].as_str().map(str::to_ascii_lowercase) == wanted
            });
            if let Some((_, other)) = clash {
                let other_id = store.value(other, "Id").and_then(Value::as_str).unwrap_or("");
                return Err(SfError::bad_request(
                    "DUPLICATE_VALUE",
                    format!("duplicate value found: {} duplicates value on record with id: {other_id}", field.name),
                )
                .with_fields(vec![field.name.clone()]));
            }
        }
        Ok(())
    }

    /// A record as Salesforce returns it, with `attributes`; `fields`
    /// limits the columns (all when `None`).
    pub fn record_json(&self, store: &ObjectStore, row: &Row, fields: Option<&[usize]>, version: &str) -> Value {
        let mut map = Map::new();
        let id = store.value(row, "Id").and_then(Value::as_str).unwrap_or("");
        map.insert(
            "attributes".into(),
            json!({"type": store.def.name, "url": format!("/services/data/v{version}/sobjects/{}/{id}", store.def.name)}),
        );
        match fields {
            Some(columns) => {
                for &c in columns {
                    map.insert(store.def.fields[c].name.clone(), row[c].clone());
                }
            }
            None => {
                for (c, field) in store.def.fields.iter().enumerate() {
                    map.insert(field.name.clone(), row[c].clone());
                }
            }
        }
        Value::Object(map)
    }

    fn publish_platform_event(
        &mut self,
        def: &ObjectDef,
        fields: &Map<String, Value>,
        user: &str,
        now: OffsetDateTime,
    ) -> Result<String, SfError> {
        let assigned = assign(def, fields, true)?;
        let mut payload = Map::new();
        for (i, field) in def.fields.iter().enumerate() {
            if let Some((_, v)) = assigned.iter().find(|(column, _)| *column == i) {
                payload.insert(field.name.clone(), v.clone());
            } else if field.createable {
                payload.insert(field.name.clone(), Value::Null);
            }
        }
        payload.insert("CreatedDate".into(), json!(format_datetime(now)));
        payload.insert("CreatedById".into(), json!(user));
        payload.insert("EventUuid".into(), json!(uuid::Uuid::new_v4().to_string()));
        let id = self.new_id(&def.key_prefix);
        self.publish(format!("/event/{}", def.name), Value::Object(payload), now);
        Ok(id)
    }

    /// Appends an event to the log, dropping events past retention.
    pub fn publish(&mut self, channel: String, payload: Value, now: OffsetDateTime) -> u64 {
        let payload = serde_json::value::to_raw_value(&payload).unwrap_or_else(|_| empty_payload());
        self.publish_raw(channel, payload, now)
    }

    /// Appends an event given as JSON text.
    fn publish_raw(&mut self, channel: String, payload: Box<serde_json::value::RawValue>, now: OffsetDateTime) -> u64 {
        let created_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        while self.events.front().is_some_and(|e| created_ms - e.created_ms > EVENT_RETENTION_MS)
            || self.events.len() >= MAX_EVENTS
        {
            self.events.pop_front();
        }
        let replay_id = self.next_replay_id;
        self.next_replay_id += 1;
        self.events.push_back(StoredEvent { replay_id, channel, payload, created_ms });
        replay_id
    }

    #[allow(clippy::too_many_arguments)]
    fn record_change(
        &mut self,
        def: &ObjectDef,
        change_type: &str,
        id: &str,
        row: &Row,
        changed: &[String],
        nulled: &[String],
        user: &str,
        now: OffsetDateTime,
    ) {
        let change = Change {
            change_type,
            id,
            row,
            changed,
            nulled,
            user,
            origin: &self.change_origin,
            commit_ms: (now.unix_timestamp_nanos() / 1_000_000) as i64,
            commit_number: self.next_replay_id,
        };
        let payload = change_event_payload(def, &change).unwrap_or_else(empty_payload);
        self.publish_raw(change_event_channel(def), payload, now);
    }
}

impl Default for Org {
    fn default() -> Self {
        Self::new()
    }
}

/// Checks and converts the fields of a create or update. Returns column ->
/// value. System fields and `attributes` are refused or ignored as
/// Salesforce does.
fn assign(def: &ObjectDef, fields: &Map<String, Value>, creating: bool) -> Result<Vec<(usize, Value)>, SfError> {
    let mut out: Vec<(usize, Value)> = Vec::with_capacity(fields.len());
    let mut not_writable = Vec::new();
    for (name, value) in fields {
        if name == "attributes" {
            continue;
        }
        let (i, field) = def.field(name).ok_or_else(|| SfError::unknown_field(&def.name, name))?;
        let writable = if creating { field.createable } else { field.updateable };
        if !writable {
            if field.name == "Id" && !creating {
                continue;
            }
            not_writable.push(field.name.clone());
            continue;
        }
        let value = coerce(field, value)?;
        // A field named twice (in another case) keeps its last value.
        match out.iter_mut().find(|(column, _)| *column == i) {
            Some(existing) => existing.1 = value,
            None => out.push((i, value)),
        }
    }
    if !not_writable.is_empty() {
        return Err(SfError::bad_request(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!(
                "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                not_writable.join(", ")
            ),
        )
        .with_fields(not_writable));
    }
    Ok(out)
}

fn type_error(field: &FieldDef, value: &Value) -> SfError {
    let kind = match value {
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_TRUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    };
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    SfError::bad_request(
        "JSON_PARSER_ERROR",
        format!(
            "Cannot deserialize instance of {} from {kind} value {shown} or request may be missing a required field",
            field.field_type.soap_type().trim_start_matches("xsd:").trim_start_matches("tns:")
        ),
    )
    .with_fields(vec![field.name.clone()])
}

/// Converts one input value to the stored form of the field's type.
pub fn coerce(field: &FieldDef, value: &Value) -> Result<Value, SfError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let t = field.field_type;
    match t {
        FieldType::Id | FieldType::Reference => {
            let text = value.as_str().ok_or_else(|| type_error(field, value))?;
            if text.is_empty() {
                return Ok(Value::Null);
            }
            to_18(text).map(Value::String).ok_or_else(|| {
                SfError::bad_request("MALFORMED_ID", format!("{}: id value of incorrect type: {text}", field.label))
                    .with_fields(vec![field.name.clone()])
            })
        }
        t if t.is_text() => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => return Err(type_error(field, other)),
            };
            let length = text.chars().count() as u32;
            if field.length > 0 && length > field.length {
                let shown: String = text.chars().take(50).collect();
                return Err(SfError::bad_request(
                    "STRING_TOO_LONG",
                    format!("{}: data value too large: {shown} (max length={})", field.label, field.length),
                )
                .with_fields(vec![field.name.clone()]));
            }
            Ok(Value::String(text))
        }
        FieldType::Boolean => match value {
            Value::Bool(b) => Ok(json!(b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(json!(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(json!(false)),
            other => Err(type_error(field, other)),
        },
        t if t.is_number() => {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            }
            .ok_or_else(|| type_error(field, value))?;
            if t == FieldType::Int {
                if number.fract() != 0.0 {
                    return Err(type_error(field, value));
                }
                Ok(json!(number as i64))
            } else {
                Ok(json!(number))
            }
        }
        FieldType::Date => {
            let text = value.as_str().ok_or_else(|| type_error(field, value))?;
            let date_part = text.get(..10).unwrap_or(text);
            time::Date::parse(date_part, format_description!("[year]-[month]-[day]"))
                .map(|d| json!(d.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()))
                .map_err(|_| type_error(field, value))
        }
        FieldType::Datetime => {
            let text = value.as_str().ok_or_else(|| type_error(field, value))?;
            parse_datetime(text).map(|t| json!(format_datetime(t))).ok_or_else(|| type_error(field, value))
        }
        _ => Err(type_error(field, value)),
    }
}

/// Fields Salesforce computes: `Name` of people, closed flags.
fn derive_fields(def: &ObjectDef, row: &mut Row) {
    let get = |row: &Row, name: &str| def.field(name).map(|(i, _)| row[i].clone()).unwrap_or(Value::Null);
    let set = |row: &mut Row, name: &str, value: Value| {
        if let Some((i, _)) = def.field(name) {
            row[i] = value;
        }
    };
    match def.name.as_str() {
        "Contact" | "Lead" | "User" => {
            let first = get(row, "FirstName");
            let last = get(row, "LastName");
            let name = match (first.as_str(), last.as_str()) {
                (Some(f), Some(l)) if !f.is_empty() => format!("{f} {l}"),
                (_, Some(l)) => l.to_string(),
                _ => String::new(),
            };
            set(row, "Name", json!(name));
        }
        "Case" => {
            let closed = get(row, "Status").as_str() == Some("Closed");
            set(row, "IsClosed", json!(closed));
            if closed && get(row, "ClosedDate").is_null() {
                set(row, "ClosedDate", json!(format_datetime(OffsetDateTime::now_utc())));
            } else if !closed {
                set(row, "ClosedDate", Value::Null);
            }
        }
        "Opportunity" => {
            let stage = get(row, "StageName");
            let stage = stage.as_str().unwrap_or("");
            set(row, "IsClosed", json!(stage.starts_with("Closed")));
            set(row, "IsWon", json!(stage == "Closed Won"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn create_validates_like_salesforce() {
        let mut org = Org::new();
        let err = org.create("Contact", &fields(json!({"FirstName": "Ann"})), None).unwrap_err();
        assert_eq!(err.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(err.message, "Required fields are missing: [LastName]");
        let err = org.create("Contact", &fields(json!({"LastName": "X", "Shoe": 1})), None).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            ("INVALID_FIELD", "No such column 'Shoe' on sobject of type Contact")
        );
        let err = org.create("Contact", &fields(json!({"LastName": "X", "Name": "Y"})), None).unwrap_err();
        assert_eq!(err.code, "INVALID_FIELD_FOR_INSERT_UPDATE");
        let err = org.create("Account", &fields(json!({"Name": "x".repeat(300)})), None).unwrap_err();
        assert_eq!(err.code, "STRING_TOO_LONG");
        let err = org.create("Account", &fields(json!({"Name": "A", "NumberOfEmployees": "many"})), None).unwrap_err();
        assert_eq!(err.code, "JSON_PARSER_ERROR");
        let err = org.create("Nope", &fields(json!({})), None).unwrap_err();
        assert_eq!(err.code, "NOT_FOUND");
    }

    #[test]
    fn writes_maintain_system_fields_and_emit_change_events() {
        let mut org = Org::new();
        let before = org.events.len();
        let id = org.create("Contact", &fields(json!({"FirstName": "Ann", "LastName": "Lee"})), None).unwrap();
        let store = org.object("Contact").unwrap();
        let row = &store.rows[store.by_id[&id]];
        assert_eq!(store.value(row, "Name").unwrap(), "Ann Lee");
        let created = store.value(row, "SystemModstamp").unwrap().as_str().unwrap().to_string();
        assert!(created.ends_with("+0000"));
        org.update("Contact", &id, &fields(json!({"Title": "CTO"})), None).unwrap();
        org.delete("contact", &id, None).unwrap();
        assert_eq!(org.delete("Contact", &id, None).unwrap_err().code, "ENTITY_IS_DELETED");
        let events: Vec<&StoredEvent> = org.events.iter().skip(before).collect();
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(|e| e.channel == "/data/ContactChangeEvent"));
        let header = &events[1].payload()["ChangeEventHeader"];
        assert_eq!(header["changeType"], "UPDATE");
        assert_eq!(header["recordIds"][0], id);
        assert!(header["changedFields"].as_array().unwrap().contains(&json!("Title")));
        assert_eq!(events[1].payload()["Title"], "CTO");
        assert!(events[0].replay_id < events[2].replay_id);
    }

    #[test]
    fn upsert_creates_then_updates_and_detects_duplicates() {
        let mut org = Org::new();
        org.define_custom_object(CustomObjectSpec {
            name: "Holiday__c".into(),
            label: None,
            fields: vec![
                FieldDef::new("External_Id__c", FieldType::String).external_id(),
                FieldDef::new("Region__c", FieldType::String),
            ],
        })
        .unwrap();
        let first =
            org.upsert("Holiday__c", "External_Id__c", "H-1", &fields(json!({"Region__c": "EU"})), None).unwrap();
        let UpsertOutcome::Created(id) = first else { panic!("expected create") };
        let second =
            org.upsert("Holiday__c", "External_Id__c", "h-1", &fields(json!({"Region__c": "US"})), None).unwrap();
        assert_eq!(second, UpsertOutcome::Updated(id.clone()));
        let dup = org.create("Holiday__c", &fields(json!({"External_Id__c": "H-1"})), None).unwrap_err();
        assert_eq!(dup.code, "DUPLICATE_VALUE");
        let err = org.upsert("Holiday__c", "Region__c", "US", &fields(json!({})), None).unwrap_err();
        assert_eq!(err.code, "INVALID_FIELD");
    }

    #[test]
    fn platform_events_are_published_not_stored() {
        let mut org = Org::new();
        org.define_custom_object(CustomObjectSpec {
            name: "Holiday_Event__e".into(),
            label: None,
            fields: vec![FieldDef::new("Action__c", FieldType::String)],
        })
        .unwrap();
        org.create("Holiday_Event__e", &fields(json!({"Action__c": "Add"})), None).unwrap();
        let last = org.events.back().unwrap();
        assert_eq!(last.channel, "/event/Holiday_Event__e");
        assert_eq!(last.payload()["Action__c"], "Add");
        assert!(org.object("Holiday_Event__e").unwrap().rows.is_empty());
    }

    #[test]
    fn events_older_than_72_hours_are_dropped() {
        let mut org = Org::new();
        org.events.clear();
        let now = OffsetDateTime::now_utc();
        org.publish("/event/A__e".into(), json!({"n": 1}), now - time::Duration::hours(73));
        org.publish("/event/A__e".into(), json!({"n": 2}), now - time::Duration::hours(1));
        assert_eq!(org.events.len(), 2, "pruning happens on the next publish");
        org.publish("/event/A__e".into(), json!({"n": 3}), now);
        let kept: Vec<Value> = org.events.iter().map(|e| e.payload()["n"].clone()).collect();
        assert_eq!(kept, [json!(2), json!(3)]);
    }

    #[test]
    fn datetimes_in_every_input_form() {
        for text in
            ["2024-01-31T10:00:00Z", "2024-01-31T10:00:00.000+0000", "2024-01-31T12:00:00+02:00", "2024-01-31T10:00:00"]
        {
            assert_eq!(format_datetime(parse_datetime(text).unwrap()), "2024-01-31T10:00:00.000+0000", "{text}");
        }
    }
}
