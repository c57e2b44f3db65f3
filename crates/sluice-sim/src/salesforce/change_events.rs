//! Change data capture events as the platform writes them: the header
//! (`changeOrigin` naming the API and version of the call that made the
//! change), the changed fields, and compound fields (a person's `Name`, an
//! address) as nested structures whose components are listed in
//! `changedFields` as `Compound.Component`. `IsDeleted` and
//! `SystemModstamp` are not in change events.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::schema::ObjectDef;

/// The components of a person's `Name` compound field.
const NAME_COMPONENTS: &[&str] = &["Salutation", "FirstName", "MiddleName", "LastName", "Suffix"];
/// The prefixes of address compound fields (`BillingStreet` is `Street` of `BillingAddress`).
const ADDRESS_PREFIXES: &[&str] = &["Billing", "Shipping", "Mailing", "Other", ""];
/// The components of an address compound field.
const ADDRESS_COMPONENTS: &[&str] = &[
    "Street",
    "City",
    "State",
    "PostalCode",
    "Country",
    "StateCode",
    "CountryCode",
    "Latitude",
    "Longitude",
    "GeocodeAccuracy",
];

/// Where an object's field goes in its change events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSlot {
    /// At the top level, under its own name.
    Top,
    /// Inside a compound field: `(compound, component)`, e.g.
    /// `("BillingAddress", "Street")` for `BillingStreet`.
    Component(String, String),
    /// Not in change events (`Id`, `IsDeleted`, `SystemModstamp`, and a
    /// person's derived `Name`, whose parts are the compound).
    Omitted,
}

/// Whether records of `def` have a person's name (`FirstName`,
/// `LastName`, and a `Name` derived from them).
fn has_person_name(def: &ObjectDef) -> bool {
    !def.is_custom() && def.field("FirstName").is_some() && def.field("LastName").is_some()
}

/// The slot of field `name` of `def` in a change event.
pub fn event_slot(def: &ObjectDef, name: &str) -> EventSlot {
    if matches!(name, "Id" | "IsDeleted" | "SystemModstamp") {
        return EventSlot::Omitted;
    }
    if has_person_name(def) {
        if name == "Name" {
            return EventSlot::Omitted;
        }
        if NAME_COMPONENTS.contains(&name) {
            return EventSlot::Component("Name".into(), name.into());
        }
    }
    if !name.ends_with("__c") && !def.is_custom() {
        for prefix in ADDRESS_PREFIXES {
            let Some(component) = name.strip_prefix(prefix) else { continue };
            if ADDRESS_COMPONENTS.contains(&component) {
                return EventSlot::Component(format!("{prefix}Address"), component.into());
            }
        }
    }
    EventSlot::Top
}

/// The name a field goes by in `changedFields` and `nulledFields`.
fn header_name(def: &ObjectDef, name: &str) -> Option<String> {
    match event_slot(def, name) {
        EventSlot::Top => Some(name.to_string()),
        EventSlot::Component(compound, component) => Some(format!("{compound}.{component}")),
        EventSlot::Omitted => None,
    }
}

/// The channel of `def`'s change events: `/data/AccountChangeEvent`,
/// `/data/Holiday__ChangeEvent`.
pub fn change_event_channel(def: &ObjectDef) -> String {
    match def.name.strip_suffix("__c") {
        Some(base) => format!("/data/{base}__ChangeEvent"),
        None => format!("/data/{}ChangeEvent", def.name),
    }
}

/// One write, as the change event describes it.
pub struct Change<'a> {
    /// `CREATE`, `UPDATE`, `DELETE` or `UNDELETE`.
    pub change_type: &'a str,
    /// The record's id.
    pub id: &'a str,
    /// The record after the write.
    pub row: &'a [Value],
    /// Fields the write changed (UPDATE).
    pub changed: &'a [String],
    /// Fields the write set to null (UPDATE).
    pub nulled: &'a [String],
    /// The user who wrote.
    pub user: &'a str,
    /// `changeOrigin` (empty for changes made outside the APIs).
    pub origin: &'a str,
    /// Commit time (ms).
    pub commit_ms: i64,
    /// Commit number.
    pub commit_number: u64,
}

/// The event payload of `change` to a record of `def`, as JSON text (one
/// change event per write adds up in bulk loads, so no JSON tree is built
/// for the record's fields).
pub fn change_event_payload(def: &ObjectDef, change: &Change<'_>) -> Option<Box<RawValue>> {
    let names = |fields: &[String]| -> Vec<String> { fields.iter().filter_map(|f| header_name(def, f)).collect() };
    let header = json!({
        "entityName": def.name,
        "recordIds": [change.id],
        "changeType": change.change_type,
        "changeOrigin": change.origin,
        "transactionKey": uuid::Uuid::new_v4().to_string(),
        "sequenceNumber": 1,
        "commitTimestamp": change.commit_ms,
        "commitNumber": change.commit_number,
        "commitUser": change.user,
        "changedFields": if change.change_type == "UPDATE" { json!(names(change.changed)) } else { json!([]) },
        "diffFields": [],
        "nulledFields": names(change.nulled),
    });
    // CREATE carries every field set (a compound whole when any part is
    // set); UPDATE the changed fields (a compound with its changed parts).
    let columns: Vec<usize> = match change.change_type {
        "DELETE" => Vec::new(),
        "CREATE" | "UNDELETE" => (0..change.row.len()).filter(|i| !change.row[*i].is_null()).collect(),
        _ => change.changed.iter().filter_map(|name| def.field(name).map(|(i, _)| i)).collect(),
    };
    let mut text = Vec::with_capacity(512 + columns.len() * 32);
    text.extend_from_slice(b"{\"ChangeEventHeader\":");
    serde_json::to_writer(&mut text, &header).ok()?;
    let mut compounds: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for i in columns {
        let name = &def.fields[i].name;
        match event_slot(def, name) {
            EventSlot::Top => {
                text.push(b',');
                serde_json::to_writer(&mut text, name).ok()?;
                text.push(b':');
                serde_json::to_writer(&mut text, &change.row[i]).ok()?;
            }
            EventSlot::Component(compound, component) => {
                compounds.entry(compound).or_default().insert(component, change.row[i].clone());
            }
            EventSlot::Omitted => {}
        }
    }
    if change.change_type != "UPDATE" {
        // A new record's compound carries all of its parts, null or not.
        for (c, field) in def.fields.iter().enumerate() {
            if let EventSlot::Component(compound, component) = event_slot(def, &field.name) {
                if let Some(parts) = compounds.get_mut(&compound) {
                    parts.entry(component).or_insert_with(|| change.row[c].clone());
                }
            }
        }
    }
    for (compound, parts) in compounds {
        text.push(b',');
        serde_json::to_writer(&mut text, &compound).ok()?;
        text.push(b':');
        serde_json::to_writer(&mut text, &parts).ok()?;
    }
    text.push(b'}');
    RawValue::from_string(String::from_utf8(text).ok()?).ok()
}

/// `changeOrigin` of a call to `api` (`rest`, `soap`, `bulkapi`) at
/// `version` (`v58.0` or `58.0`), with the client named in a
/// `Sforce-Call-Options: client=...` header.
pub fn change_origin(api: &str, version: &str, call_options: Option<&str>) -> String {
    let version = version.trim_start_matches('v');
    let client = call_options
        .into_iter()
        .flat_map(|options| options.split(','))
        .find_map(|option| option.trim().strip_prefix("client="))
        .filter(|client| !client.is_empty());
    match client {
        Some(client) => format!("com/salesforce/api/{api}/{version};client={client}"),
        None => format!("com/salesforce/api/{api}/{version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::standard_objects;
    use super::*;

    fn def(name: &str) -> ObjectDef {
        standard_objects().into_iter().find(|d| d.name == name).unwrap()
    }

    #[test]
    fn compound_fields_are_nested() {
        let contact = def("Contact");
        assert_eq!(event_slot(&contact, "FirstName"), EventSlot::Component("Name".into(), "FirstName".into()));
        assert_eq!(event_slot(&contact, "Name"), EventSlot::Omitted);
        assert_eq!(event_slot(&contact, "MailingCity"), EventSlot::Component("MailingAddress".into(), "City".into()));
        assert_eq!(event_slot(&contact, "Email"), EventSlot::Top);
        assert_eq!(event_slot(&contact, "SystemModstamp"), EventSlot::Omitted);
        let account = def("Account");
        assert_eq!(event_slot(&account, "Name"), EventSlot::Top, "an account's name is not compound");
        assert_eq!(
            event_slot(&account, "BillingPostalCode"),
            EventSlot::Component("BillingAddress".into(), "PostalCode".into())
        );
        assert_eq!(event_slot(&def("Lead"), "City"), EventSlot::Component("Address".into(), "City".into()));
    }

    #[test]
    fn payloads_nest_compounds_and_list_their_parts() {
        let contact = def("Contact");
        let mut row = vec![Value::Null; contact.fields.len()];
        let set = |row: &mut Vec<Value>, name: &str, value: Value| row[contact.field(name).unwrap().0] = value;
        set(&mut row, "FirstName", json!("Ada"));
        set(&mut row, "LastName", json!("Lovelace"));
        set(&mut row, "Name", json!("Ada Lovelace"));
        set(&mut row, "MailingCity", json!("London"));
        let created = Change {
            change_type: "CREATE",
            id: "003x",
            row: &row,
            changed: &[],
            nulled: &[],
            user: "005x",
            origin: "com/salesforce/api/rest/58.0",
            commit_ms: 1,
            commit_number: 2,
        };
        let payload: Value = serde_json::from_str(change_event_payload(&contact, &created).unwrap().get()).unwrap();
        assert_eq!(payload["Name"], json!({"Salutation": null, "FirstName": "Ada", "LastName": "Lovelace"}));
        assert_eq!(payload["MailingAddress"]["City"], "London");
        assert!(payload["MailingAddress"].get("Country").is_some(), "every part of a new compound");
        assert!(payload.get("FirstName").is_none() && payload.get("MailingCity").is_none());
        assert_eq!(payload["ChangeEventHeader"]["changeOrigin"], "com/salesforce/api/rest/58.0");

        let changed = ["FirstName".to_string(), "LastModifiedDate".to_string()];
        let updated = Change { change_type: "UPDATE", changed: &changed, ..created };
        let payload: Value = serde_json::from_str(change_event_payload(&contact, &updated).unwrap().get()).unwrap();
        assert_eq!(payload["Name"], json!({"FirstName": "Ada"}), "only the changed part");
        assert_eq!(payload["ChangeEventHeader"]["changedFields"], json!(["Name.FirstName", "LastModifiedDate"]));
    }

    #[test]
    fn origins_name_the_api_version_and_client() {
        assert_eq!(change_origin("rest", "v58.0", None), "com/salesforce/api/rest/58.0");
        assert_eq!(change_origin("soap", "60.0", Some("client=Astro")), "com/salesforce/api/soap/60.0;client=Astro");
        assert_eq!(
            change_origin("bulkapi", "v62.0", Some("defaultNamespace=x, client=AppFlow")),
            "com/salesforce/api/bulkapi/62.0;client=AppFlow"
        );
    }
}
