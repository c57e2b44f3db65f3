//! Activities: the standard activity types (`activities/types.json`), the
//! activity records the simulator keeps, and their JSON renderings for
//! `activities.json`, `activities/leadchanges.json` and
//! `activities/deletedleads.json`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::schema::lead_field_by_id;
use super::time_format::format_datetime;

/// Activity type id of "New Lead".
pub const NEW_LEAD: i64 = 12;
/// Activity type id of "Change Data Value".
pub const CHANGE_DATA_VALUE: i64 = 13;
/// Activity type id of "Delete Lead".
pub const DELETE_LEAD: i64 = 37;

/// Attribute names of a Change Data Value activity.
pub const NEW_VALUE: &str = "New Value";
/// Attribute holding the value before the change.
pub const OLD_VALUE: &str = "Old Value";

/// A standard activity type.
#[derive(Debug, Clone, Copy)]
pub struct ActivityType {
    /// Type id.
    pub id: i64,
    /// Name, e.g. `New Lead`.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Primary attribute (name, data type), if the type has one.
    pub primary: Option<(&'static str, &'static str)>,
    /// Secondary attributes (name, data type).
    pub attributes: &'static [(&'static str, &'static str)],
}

const WEB_ATTRIBUTES: &[(&str, &str)] = &[
    ("Client IP Address", "string"),
    ("Query Parameters", "string"),
    ("Referrer URL", "string"),
    ("User Agent", "string"),
    ("Webpage URL", "string"),
];
const EMAIL_ATTRIBUTES: &[(&str, &str)] =
    &[("Campaign Run ID", "integer"), ("Choice Number", "integer"), ("Step ID", "integer")];

/// The activity types the simulated instance knows. The simulator records
/// New Lead, Change Data Value and Delete Lead; the others are listed so
/// `types.json` looks like an instance's.
pub const ACTIVITY_TYPES: &[ActivityType] = &[
    ActivityType {
        id: 1,
        name: "Visit Webpage",
        description: "User visits a web page",
        primary: Some(("Webpage ID", "integer")),
        attributes: WEB_ATTRIBUTES,
    },
    ActivityType {
        id: 2,
        name: "Fill Out Form",
        description: "User fills out and submits form on web page",
        primary: Some(("Webform ID", "integer")),
        attributes: &[
            ("Client IP Address", "string"),
            ("Form Fields", "text"),
            ("Query Parameters", "string"),
            ("Referrer URL", "string"),
            ("User Agent", "string"),
            ("Webpage ID", "integer"),
        ],
    },
    ActivityType {
        id: 3,
        name: "Click Link",
        description: "User clicks link on a page",
        primary: Some(("Link ID", "integer")),
        attributes: WEB_ATTRIBUTES,
    },
    ActivityType {
        id: 6,
        name: "Send Email",
        description: "Send Marketo Email to a person",
        primary: Some(("Mailing ID", "integer")),
        attributes: EMAIL_ATTRIBUTES,
    },
    ActivityType {
        id: 7,
        name: "Email Delivered",
        description: "Marketo Email is delivered to a person",
        primary: Some(("Mailing ID", "integer")),
        attributes: EMAIL_ATTRIBUTES,
    },
    ActivityType {
        id: 10,
        name: "Open Email",
        description: "User opens Marketo Email",
        primary: Some(("Mailing ID", "integer")),
        attributes: EMAIL_ATTRIBUTES,
    },
    ActivityType {
        id: 11,
        name: "Click Email",
        description: "User clicks on a link in a Marketo Email",
        primary: Some(("Mailing ID", "integer")),
        attributes: &[("Link", "string"), ("Campaign Run ID", "integer"), ("Step ID", "integer")],
    },
    ActivityType {
        id: NEW_LEAD,
        name: "New Lead",
        description: "New person",
        primary: None,
        attributes: &[
            ("Created Date", "date"),
            ("Form Name", "string"),
            ("Lead Source", "string"),
            ("List Name", "string"),
            ("SFDC Type", "string"),
            ("Source Type", "string"),
        ],
    },
    ActivityType {
        id: CHANGE_DATA_VALUE,
        name: "Change Data Value",
        description: "Changed attribute value for a person",
        primary: Some(("Attribute Name", "integer")),
        attributes: &[(NEW_VALUE, "string"), (OLD_VALUE, "string"), ("Reason", "string"), ("Source", "string")],
    },
    ActivityType {
        id: 22,
        name: "Change Score",
        description: "Change a person's score",
        primary: Some(("Score Name", "integer")),
        attributes: &[("Change Value", "string"), ("New Value", "integer"), ("Old Value", "integer")],
    },
    ActivityType {
        id: DELETE_LEAD,
        name: "Delete Lead",
        description: "Delete a person",
        primary: Some(("Lead ID", "integer")),
        attributes: &[("Remove from CRM", "boolean")],
    },
    ActivityType {
        id: 46,
        name: "Interesting Moment",
        description: "Interesting moment",
        primary: Some(("Milestone ID", "integer")),
        attributes: &[("Description", "string"), ("Source", "string"), ("Type", "string")],
    },
];

/// `GET /rest/v1/activities/types.json` result items.
pub fn describe_types() -> Vec<Value> {
    ACTIVITY_TYPES
        .iter()
        .map(|t| {
            let mut item = json!({"id": t.id, "name": t.name, "description": t.description});
            if let Some((name, data_type)) = t.primary {
                item["primaryAttribute"] = json!({"name": name, "dataType": data_type});
            }
            item["attributes"] = t.attributes.iter().map(|(n, d)| json!({"name": n, "dataType": d})).collect();
            item
        })
        .collect()
}

/// Whether `id` is a known activity type.
pub fn is_known_type(id: i64) -> bool {
    ACTIVITY_TYPES.iter().any(|t| t.id == id)
}

/// A named attribute value of an activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityAttribute {
    /// Attribute name, e.g. `New Value`.
    pub name: String,
    /// Value (text, number, boolean or null).
    pub value: Value,
}

/// One entry of the activity log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Unique, increasing id.
    pub id: i64,
    /// The lead it happened to.
    pub lead_id: i64,
    /// When (Unix seconds); never earlier than the previous activity's.
    pub date: i64,
    /// Activity type id.
    pub type_id: i64,
    /// Primary attribute value id (the field id for Change Data Value).
    pub primary_attribute_value_id: Option<i64>,
    /// Primary attribute value (the field label for Change Data Value).
    pub primary_attribute_value: Option<String>,
    /// Secondary attributes.
    pub attributes: Vec<ActivityAttribute>,
}

impl Activity {
    /// The value of a named attribute.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.attributes.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    /// The REST name of the field a Change Data Value activity changed.
    pub fn changed_field(&self) -> Option<&'static str> {
        if self.type_id != CHANGE_DATA_VALUE {
            return None;
        }
        self.primary_attribute_value_id.and_then(lead_field_by_id).map(|f| f.name)
    }

    fn head(&self) -> Value {
        json!({
            "id": self.id,
            "marketoGUID": self.id.to_string(),
            "leadId": self.lead_id,
            "activityDate": format_datetime(self.date),
            "activityTypeId": self.type_id,
        })
    }

    /// The record as `activities.json` and `deletedleads.json` return it.
    pub fn to_json(&self) -> Value {
        let mut item = self.head();
        if let Some(id) = self.primary_attribute_value_id {
            item["primaryAttributeValueId"] = json!(id);
        }
        if let Some(value) = &self.primary_attribute_value {
            item["primaryAttributeValue"] = json!(value);
        }
        item["attributes"] = self.attributes.iter().map(|a| json!({"name": a.name, "value": a.value})).collect();
        item
    }

    /// The record as `activities/leadchanges.json` returns it: the change in
    /// `fields`, the other attributes in `attributes`.
    pub fn to_lead_change_json(&self) -> Value {
        let mut item = self.head();
        let fields: Vec<Value> = match (self.changed_field(), self.primary_attribute_value_id) {
            (Some(name), Some(id)) => vec![json!({
                "id": id,
                "name": name,
                "newValue": self.attribute(NEW_VALUE).cloned().unwrap_or(Value::Null),
                "oldValue": self.attribute(OLD_VALUE).cloned().unwrap_or(Value::Null),
            })],
            _ => Vec::new(),
        };
        item["fields"] = Value::Array(fields);
        item["attributes"] = self
            .attributes
            .iter()
            .filter(|a| a.name != NEW_VALUE && a.name != OLD_VALUE)
            .map(|a| json!({"name": a.name, "value": a.value}))
            .collect();
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_include_the_recorded_ones() {
        let types = describe_types();
        let change = types.iter().find(|t| t["id"] == CHANGE_DATA_VALUE).cloned().unwrap_or_default();
        assert_eq!(change["name"], "Change Data Value");
        assert_eq!(change["primaryAttribute"], json!({"name": "Attribute Name", "dataType": "integer"}));
        let new_lead = types.iter().find(|t| t["id"] == NEW_LEAD).cloned().unwrap_or_default();
        assert!(new_lead.get("primaryAttribute").is_none());
        assert!(is_known_type(DELETE_LEAD));
        assert!(!is_known_type(999));
    }

    #[test]
    fn change_renders_as_activity_and_as_lead_change() {
        let activity = Activity {
            id: 9,
            lead_id: 4,
            date: 1_706_695_200,
            type_id: CHANGE_DATA_VALUE,
            primary_attribute_value_id: Some(10),
            primary_attribute_value: Some("Job Title".into()),
            attributes: vec![
                ActivityAttribute { name: NEW_VALUE.into(), value: json!("CTO") },
                ActivityAttribute { name: OLD_VALUE.into(), value: json!(null) },
                ActivityAttribute { name: "Reason".into(), value: json!("Web service API") },
            ],
        };
        assert_eq!(
            activity.to_json(),
            json!({"id": 9, "marketoGUID": "9", "leadId": 4, "activityDate": "2024-01-31T10:00:00Z",
                   "activityTypeId": 13, "primaryAttributeValueId": 10, "primaryAttributeValue": "Job Title",
                   "attributes": [{"name": "New Value", "value": "CTO"}, {"name": "Old Value", "value": null},
                                  {"name": "Reason", "value": "Web service API"}]})
        );
        assert_eq!(
            activity.to_lead_change_json()["fields"],
            json!([{"id": 10, "name": "title", "newValue": "CTO", "oldValue": null}])
        );
        assert_eq!(
            activity.to_lead_change_json()["attributes"],
            json!([{"name": "Reason", "value": "Web service API"}])
        );
    }
}
