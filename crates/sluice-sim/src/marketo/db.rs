//! The lead database: leads, the activity log they write, and the
//! operations behind the REST endpoints (filter, sync, delete, activity
//! pages). Plain data with no I/O, so it is what the state file holds.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::activity::{Activity, ActivityAttribute, CHANGE_DATA_VALUE, DELETE_LEAD, NEW_LEAD, NEW_VALUE, OLD_VALUE};
use super::error::MktoError;
use super::paging::ActivityPosition;
use super::schema::{coerce, lead_field, matches_text, value_text, LeadField};
use super::time_format::{format_date, format_datetime};

/// Most records one sync or delete call takes, and the largest page.
pub const MAX_BATCH: usize = 300;
/// Most leads a filter may match before Marketo refuses it.
pub const MAX_FILTER_MATCHES: usize = 1000;
/// What Marketo records as the source of API changes.
pub const API_SOURCE: &str = "Web service API";

/// A lead record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Marketo id.
    pub id: i64,
    /// Creation time (Unix seconds).
    pub created_at: i64,
    /// Last change (Unix seconds).
    pub updated_at: i64,
    /// Every other field that has a value, by REST name.
    pub values: Map<String, Value>,
}

impl Lead {
    /// The value of a field (`Null` when unset).
    pub fn value(&self, field: &LeadField) -> Value {
        match field.name {
            "id" => json!(self.id),
            "createdAt" => json!(format_datetime(self.created_at)),
            "updatedAt" => json!(format_datetime(self.updated_at)),
            name => self.values.get(name).cloned().unwrap_or(Value::Null),
        }
    }

    /// "First Last", or the email when the lead has no name.
    pub fn display_name(&self) -> String {
        let part = |name: &str| self.values.get(name).and_then(Value::as_str).unwrap_or("").to_string();
        let full = format!("{} {}", part("firstName"), part("lastName")).trim().to_string();
        if full.is_empty() {
            part("email")
        } else {
            full
        }
    }

    /// The lead as REST returns it: `id` first, then each requested field
    /// (null when unset).
    pub fn to_json(&self, fields: &[&LeadField]) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id));
        for field in fields {
            if field.name != "id" {
                object.insert(field.name.to_string(), self.value(field));
            }
        }
        Value::Object(object)
    }
}

/// What a sync call does with each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    /// Create, or skip with 1005 when the lookup finds a lead.
    CreateOnly,
    /// Update, or skip with 1004 when the lookup finds none.
    UpdateOnly,
    /// Update when found, create otherwise.
    CreateOrUpdate,
    /// Always create, even with a duplicate key.
    CreateDuplicate,
}

impl SyncAction {
    /// Parses Marketo's action name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "createOnly" => Some(Self::CreateOnly),
            "updateOnly" => Some(Self::UpdateOnly),
            "createOrUpdate" => Some(Self::CreateOrUpdate),
            "createDuplicate" => Some(Self::CreateDuplicate),
            _ => None,
        }
    }
}

/// The outcome of one sync record.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncOutcome {
    /// A new lead.
    Created(i64),
    /// An existing lead (changed or not).
    Updated(i64),
    /// Not applied, with the reason.
    Skipped(MktoError),
}

impl SyncOutcome {
    /// The element of the sync `result` array.
    pub fn to_json(&self) -> Value {
        match self {
            SyncOutcome::Created(id) => json!({"id": id, "status": "created"}),
            SyncOutcome::Updated(id) => json!({"id": id, "status": "updated"}),
            SyncOutcome::Skipped(reason) => json!({"status": "skipped", "reasons": [reason.as_reason()]}),
        }
    }
}

/// A page of activities.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityPage {
    /// Matching activities, oldest first.
    pub activities: Vec<Activity>,
    /// Where the next call continues.
    pub next: ActivityPosition,
    /// Whether more matching activities follow.
    pub more: bool,
}

/// Leads and their activity log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadDatabase {
    /// Leads by id.
    pub leads: BTreeMap<i64, Lead>,
    /// Activities in id order (dates never decrease along it).
    pub activities: Vec<Activity>,
    /// Id of the next lead.
    pub next_lead_id: i64,
    /// Id of the next activity.
    pub next_activity_id: i64,
}

impl LeadDatabase {
    /// An empty database whose first lead gets id 1.
    pub fn new() -> Self {
        Self { leads: BTreeMap::new(), activities: Vec::new(), next_lead_id: 1, next_activity_id: 1 }
    }

    /// Ids of leads whose `field` equals one of `values`, in id order.
    pub fn filter(&self, field: &LeadField, values: &[String]) -> Vec<i64> {
        if field.name == "id" {
            let ids: HashSet<i64> = values.iter().filter_map(|v| v.trim().parse().ok()).collect();
            return self.leads.keys().filter(|id| ids.contains(id)).copied().collect();
        }
        self.leads
            .values()
            .filter(|lead| {
                let stored = lead.value(field);
                values.iter().any(|wanted| matches_text(field, &stored, wanted))
            })
            .map(|lead| lead.id)
            .collect()
    }

    /// Appends an activity dated `now` (or the previous activity's date, if
    /// later, so the log stays in date order). Empty attributes are left
    /// out, as Marketo leaves them out.
    fn record(
        &mut self,
        lead_id: i64,
        now: i64,
        type_id: i64,
        primary: (Option<i64>, Option<String>),
        attributes: Vec<(&str, Value)>,
    ) {
        let date = self.activities.last().map_or(now, |last| last.date.max(now));
        let activity = Activity {
            id: self.next_activity_id,
            lead_id,
            date,
            type_id,
            primary_attribute_value_id: primary.0,
            primary_attribute_value: primary.1,
            attributes: attributes
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(name, value)| ActivityAttribute { name: name.to_string(), value })
                .collect(),
        };
        self.next_activity_id += 1;
        self.activities.push(activity);
    }

    /// Creates a lead from already coerced values, recording New Lead.
    pub fn create(&mut self, values: Map<String, Value>, now: i64, source: &str) -> i64 {
        let id = self.next_lead_id;
        self.next_lead_id += 1;
        let values: Map<String, Value> = values.into_iter().filter(|(_, v)| !v.is_null()).collect();
        let lead = Lead { id, created_at: now, updated_at: now, values };
        let lead_source = lead.values.get("leadSource").cloned().unwrap_or(Value::Null);
        let name = lead.display_name();
        self.leads.insert(id, lead);
        self.record(
            id,
            now,
            NEW_LEAD,
            (Some(id), Some(name)),
            vec![
                ("Created Date", json!(format_date(now))),
                ("Lead Source", lead_source),
                ("Source Type", json!(source)),
            ],
        );
        id
    }

    /// Applies coerced values to a lead, recording one Change Data Value per
    /// field that really changes. Returns whether anything changed.
    pub fn update(&mut self, id: i64, values: Map<String, Value>, now: i64, source: &str) -> bool {
        let Some(lead) = self.leads.get_mut(&id) else { return false };
        let mut changes = Vec::new();
        for (name, new_value) in values {
            let old_value = lead.values.get(&name).cloned().unwrap_or(Value::Null);
            if old_value == new_value {
                continue;
            }
            if new_value.is_null() {
                lead.values.remove(&name);
            } else {
                lead.values.insert(name.clone(), new_value.clone());
            }
            changes.push((name, old_value, new_value));
        }
        if changes.is_empty() {
            return false;
        }
        lead.updated_at = lead.updated_at.max(now);
        for (name, old_value, new_value) in changes {
            let Some(field) = lead_field(&name) else { continue };
            let text = |v: &Value| if v.is_null() { Value::Null } else { Value::String(value_text(v)) };
            self.record(
                id,
                now,
                CHANGE_DATA_VALUE,
                (Some(field.id), Some(field.display_name.to_string())),
                vec![
                    (NEW_VALUE, text(&new_value)),
                    (OLD_VALUE, text(&old_value)),
                    ("Reason", json!(source)),
                    ("Source", json!(source)),
                ],
            );
        }
        true
    }

    /// Deletes a lead, recording Delete Lead. Returns whether it existed.
    pub fn delete(&mut self, id: i64, now: i64) -> bool {
        let Some(lead) = self.leads.remove(&id) else { return false };
        self.record(
            id,
            now,
            DELETE_LEAD,
            (Some(id), Some(lead.display_name())),
            vec![("Remove from CRM", json!(false))],
        );
        true
    }

    /// Runs one sync call (`POST /rest/v1/leads.json`) over `input`.
    pub fn sync(
        &mut self,
        action: SyncAction,
        lookup: &LeadField,
        input: &[Value],
        now: i64,
        source: &str,
    ) -> Vec<SyncOutcome> {
        input
            .iter()
            .map(|record| match self.sync_one(action, lookup, record, now, source) {
                Ok(outcome) => outcome,
                Err(reason) => SyncOutcome::Skipped(reason),
            })
            .collect()
    }

    fn sync_one(
        &mut self,
        action: SyncAction,
        lookup: &LeadField,
        record: &Value,
        now: i64,
        source: &str,
    ) -> Result<SyncOutcome, MktoError> {
        let Value::Object(record) = record else { return Err(MktoError::invalid_data()) };
        let mut values = Map::new();
        let mut given_id = None;
        for (name, value) in record {
            let field = lead_field(name).ok_or_else(|| MktoError::field_not_found(name))?;
            match field.name {
                "id" => given_id = Some(coerce(field, value)?),
                "createdAt" | "updatedAt" => {}
                _ => {
                    values.insert(field.name.to_string(), coerce(field, value)?);
                }
            }
        }
        // `id` is system-managed: only updateOnly may name it.
        if given_id.is_some() && action != SyncAction::UpdateOnly {
            return Err(MktoError::invalid_data());
        }
        if action == SyncAction::CreateDuplicate {
            return Ok(SyncOutcome::Created(self.create(values, now, source)));
        }
        let key = if lookup.name == "id" { given_id } else { values.get(lookup.name).cloned() };
        let key = key.filter(|k| !k.is_null());
        let matches = match &key {
            Some(key) => self.filter(lookup, &[value_text(key)]),
            None if action == SyncAction::CreateOnly => Vec::new(),
            None => {
                return Err(MktoError::invalid(format!("Value for lookup field '{}' not found", lookup.name)));
            }
        };
        match (action, matches.as_slice()) {
            (SyncAction::CreateOnly, []) | (SyncAction::CreateOrUpdate, []) => {
                Ok(SyncOutcome::Created(self.create(values, now, source)))
            }
            (SyncAction::CreateOnly, _) => Err(MktoError::lead_already_exists()),
            (SyncAction::UpdateOnly, []) => Err(MktoError::lead_not_found()),
            (_, [id]) => {
                let id = *id;
                self.update(id, values, now, source);
                Ok(SyncOutcome::Updated(id))
            }
            _ => Err(MktoError::multiple_leads_match()),
        }
    }

    /// The position just before the first activity dated at or after `since`.
    pub fn position_at(&self, since: i64) -> ActivityPosition {
        let index = self.activities.partition_point(|a| a.date < since);
        let after_id = index.checked_sub(1).and_then(|i| self.activities.get(i)).map_or(0, |a| a.id);
        ActivityPosition { since, after_id }
    }

    /// Up to `batch_size` activities after `from` that pass `wanted`.
    pub fn activity_page(
        &self,
        from: ActivityPosition,
        batch_size: usize,
        wanted: impl Fn(&Activity) -> bool,
    ) -> ActivityPage {
        let start = self.activities.partition_point(|a| a.id <= from.after_id);
        let mut activities = Vec::new();
        let mut next = ActivityPosition { since: from.since, after_id: from.after_id };
        let mut rest = self.activities[start..].iter();
        for activity in rest.by_ref() {
            next = ActivityPosition { since: activity.date, after_id: activity.id };
            if wanted(activity) {
                activities.push(activity.clone());
                if activities.len() == batch_size {
                    break;
                }
            }
        }
        let more = rest.any(wanted);
        ActivityPage { activities, next, more }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_706_695_200; // 2024-01-31T10:00:00Z

    fn field(name: &str) -> &'static LeadField {
        lead_field(name).unwrap_or(&super::super::schema::LEAD_FIELDS[0])
    }

    fn db_with(emails: &[&str]) -> LeadDatabase {
        let mut db = LeadDatabase::new();
        let input: Vec<Value> = emails.iter().map(|e| json!({"email": e, "firstName": "Ann"})).collect();
        db.sync(SyncAction::CreateDuplicate, field("email"), &input, T0, API_SOURCE);
        db
    }

    #[test]
    fn filter_matches_any_value_case_insensitively_in_id_order() {
        let db = db_with(&["a@x.com", "b@x.com", "c@x.com"]);
        assert_eq!(db.filter(field("email"), &["C@X.COM".into(), "a@x.com".into()]), vec![1, 3]);
        assert_eq!(db.filter(field("id"), &["2".into(), "9".into(), "x".into()]), vec![2]);
        assert_eq!(db.filter(field("region"), &["EMEA".into()]), Vec::<i64>::new());
    }

    #[test]
    fn sync_actions_create_update_and_skip_with_marketo_reasons() {
        let mut db = db_with(&["a@x.com"]);
        let email = field("email");
        let outcomes = db.sync(
            SyncAction::CreateOnly,
            email,
            &[json!({"email": "a@x.com"}), json!({"email": "new@x.com"})],
            T0,
            API_SOURCE,
        );
        assert_eq!(outcomes, vec![SyncOutcome::Skipped(MktoError::lead_already_exists()), SyncOutcome::Created(2)]);
        let outcomes = db.sync(
            SyncAction::UpdateOnly,
            email,
            &[json!({"email": "A@x.com", "title": "CTO"}), json!({"email": "none@x.com"})],
            T0,
            API_SOURCE,
        );
        assert_eq!(outcomes, vec![SyncOutcome::Updated(1), SyncOutcome::Skipped(MktoError::lead_not_found())]);
        let outcomes = db.sync(
            SyncAction::CreateOrUpdate,
            email,
            &[json!({"email": "new@x.com", "leadScore": "x"}), json!({"firstName": "NoKey"}), json!({"bogus": 1})],
            T0,
            API_SOURCE,
        );
        assert_eq!(
            outcomes,
            vec![
                SyncOutcome::Skipped(MktoError::invalid_value("x", "integer")),
                SyncOutcome::Skipped(MktoError::invalid("Value for lookup field 'email' not found")),
                SyncOutcome::Skipped(MktoError::field_not_found("bogus")),
            ]
        );
        db.sync(SyncAction::CreateDuplicate, email, &[json!({"email": "a@x.com"})], T0, API_SOURCE);
        let outcomes = db.sync(SyncAction::CreateOrUpdate, email, &[json!({"email": "a@x.com"})], T0, API_SOURCE);
        assert_eq!(outcomes, vec![SyncOutcome::Skipped(MktoError::multiple_leads_match())]);
        let outcomes = db.sync(SyncAction::CreateOnly, email, &[json!({"id": 1, "email": "z@x.com"})], T0, API_SOURCE);
        assert_eq!(outcomes, vec![SyncOutcome::Skipped(MktoError::invalid_data())]);
        let outcomes = db.sync(SyncAction::UpdateOnly, field("id"), &[json!({"id": 2, "title": "VP"})], T0, API_SOURCE);
        assert_eq!(outcomes, vec![SyncOutcome::Updated(2)]);
    }

    #[test]
    fn activities_record_new_leads_and_each_changed_field() {
        let mut db = LeadDatabase::new();
        let email = field("email");
        db.sync(SyncAction::CreateOrUpdate, email, &[json!({"email": "a@x.com", "title": "Dev"})], T0, API_SOURCE);
        db.sync(
            SyncAction::CreateOrUpdate,
            email,
            &[json!({"email": "a@x.com", "title": "CTO", "leadScore": 5, "firstName": null})],
            T0 + 60,
            API_SOURCE,
        );
        // Same values again: no new activity.
        db.sync(SyncAction::UpdateOnly, email, &[json!({"email": "a@x.com", "title": "CTO"})], T0 + 90, API_SOURCE);
        let summary: Vec<(i64, i64, Option<i64>)> =
            db.activities.iter().map(|a| (a.id, a.type_id, a.primary_attribute_value_id)).collect();
        assert_eq!(
            summary,
            vec![(1, NEW_LEAD, Some(1)), (2, CHANGE_DATA_VALUE, Some(10)), (3, CHANGE_DATA_VALUE, Some(21))]
        );
        let title_change = &db.activities[1];
        assert_eq!(title_change.attribute(NEW_VALUE), Some(&json!("CTO")));
        assert_eq!(title_change.attribute(OLD_VALUE), Some(&json!("Dev")));
        assert_eq!(title_change.date, T0 + 60);
        assert_eq!(db.activities[2].attribute(NEW_VALUE), Some(&json!("5")));
        assert_eq!(db.activities[2].attribute(OLD_VALUE), None);
        assert_eq!(db.leads[&1].updated_at, T0 + 60);
        assert_eq!(db.activities[0].attribute("Created Date"), Some(&json!("2024-01-31")));
        assert!(db.delete(1, T0 + 120));
        assert!(!db.delete(1, T0 + 120));
        assert_eq!(db.activities.last().map(|a| a.type_id), Some(DELETE_LEAD));
    }

    #[test]
    fn activity_dates_never_go_backwards() {
        let mut db = LeadDatabase::new();
        db.create(Map::new(), T0, API_SOURCE);
        db.create(Map::new(), T0 - 500, API_SOURCE);
        assert_eq!(db.activities[1].date, T0);
    }

    #[test]
    fn activity_pages_follow_positions_and_filters() {
        let mut db = LeadDatabase::new();
        for i in 0..5 {
            db.create(Map::new(), T0 + i * 10, API_SOURCE);
            db.update(i + 1, Map::from_iter([("title".to_string(), json!(format!("T{i}")))]), T0 + i * 10, API_SOURCE);
        }
        // 10 activities: New Lead (odd ids) and Change Data Value (even ids).
        let start = db.position_at(T0 + 15);
        assert_eq!(start.after_id, 4);
        let only_changes = |a: &Activity| a.type_id == CHANGE_DATA_VALUE;
        let page = db.activity_page(start, 2, only_changes);
        assert_eq!(page.activities.iter().map(|a| a.id).collect::<Vec<_>>(), vec![6, 8]);
        assert!(page.more);
        assert_eq!(page.next.after_id, 8);
        let page = db.activity_page(page.next, 2, only_changes);
        assert_eq!(page.activities.iter().map(|a| a.id).collect::<Vec<_>>(), vec![10]);
        assert!(!page.more);
        assert_eq!(page.next.after_id, 10);
        let page = db.activity_page(page.next, 2, only_changes);
        assert!(page.activities.is_empty());
        assert_eq!(page.next.after_id, 10);
        // Before everything, and after everything.
        assert_eq!(db.position_at(0).after_id, 0);
        assert_eq!(db.position_at(T0 + 1000).after_id, 10);
    }
}
