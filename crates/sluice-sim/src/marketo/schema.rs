//! The Lead object's fields (standard fields plus a few custom ones), their
//! `describe`/`describe2` renderings, and the coercion of input values to
//! each field's data type.

use serde_json::{json, Number, Value};

use super::error::MktoError;
use super::time_format::{format_datetime, parse_datetime};

/// A lead field's data type, as Marketo names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Whole number.
    Integer,
    /// Decimal number.
    Float,
    /// Money amount.
    Currency,
    /// Text up to the field's length.
    String,
    /// Long text.
    Text,
    /// Email address.
    Email,
    /// Phone number.
    Phone,
    /// Web address.
    Url,
    /// true/false.
    Boolean,
    /// Date and time (UTC, second precision).
    Datetime,
}

impl DataType {
    /// The name Marketo uses in describe output and error messages.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Integer => "integer",
            DataType::Float => "float",
            DataType::Currency => "currency",
            DataType::String => "string",
            DataType::Text => "text",
            DataType::Email => "email",
            DataType::Phone => "phone",
            DataType::Url => "url",
            DataType::Boolean => "boolean",
            DataType::Datetime => "datetime",
        }
    }

    /// Whether values are text compared without regard to case.
    pub fn is_textual(self) -> bool {
        matches!(self, DataType::String | DataType::Text | DataType::Email | DataType::Phone | DataType::Url)
    }
}

/// One field of the Lead object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadField {
    /// Marketo's numeric field id.
    pub id: i64,
    /// REST API name, e.g. `firstName`.
    pub name: &'static str,
    /// Label, e.g. `First Name`.
    pub display_name: &'static str,
    /// SOAP API name, e.g. `FirstName`.
    pub soap_name: &'static str,
    /// Data type.
    pub data_type: DataType,
    /// Maximum length of text values.
    pub length: Option<u32>,
    /// Set by the system only.
    pub read_only: bool,
    /// Usable as `filterType` and `lookupField`.
    pub searchable: bool,
}

const fn field(
    id: i64,
    name: &'static str,
    display_name: &'static str,
    soap_name: &'static str,
    data_type: DataType,
) -> LeadField {
    let length = match data_type {
        DataType::String | DataType::Email | DataType::Phone | DataType::Url => Some(255),
        _ => None,
    };
    LeadField { id, name, display_name, soap_name, data_type, length, read_only: false, searchable: false }
}

const fn searchable(mut f: LeadField) -> LeadField {
    f.searchable = true;
    f
}

const fn read_only(mut f: LeadField) -> LeadField {
    f.read_only = true;
    f
}

const fn with_length(mut f: LeadField, length: u32) -> LeadField {
    f.length = Some(length);
    f
}

/// Every Lead field, in describe order. `externalLeadId` and `region` are
/// custom fields of the simulated instance (searchable, like Marketo's
/// custom string fields).
pub const LEAD_FIELDS: &[LeadField] = &[
    read_only(searchable(field(1, "id", "Id", "Id", DataType::Integer))),
    field(2, "company", "Company Name", "Company", DataType::String),
    field(3, "salutation", "Salutation", "Salutation", DataType::String),
    field(4, "firstName", "First Name", "FirstName", DataType::String),
    field(5, "middleName", "Middle Name", "MiddleName", DataType::String),
    field(6, "lastName", "Last Name", "LastName", DataType::String),
    searchable(field(7, "email", "Email Address", "Email", DataType::Email)),
    field(8, "phone", "Phone Number", "Phone", DataType::Phone),
    field(9, "mobilePhone", "Mobile Phone Number", "MobilePhone", DataType::Phone),
    field(10, "title", "Job Title", "Title", DataType::String),
    field(11, "website", "Website", "Website", DataType::Url),
    field(12, "industry", "Industry", "Industry", DataType::String),
    field(13, "numberOfEmployees", "Num Employees", "NumberOfEmployees", DataType::Integer),
    field(14, "annualRevenue", "Annual Revenue", "AnnualRevenue", DataType::Currency),
    field(15, "city", "City", "City", DataType::String),
    field(16, "state", "State", "State", DataType::String),
    field(17, "postalCode", "Postal Code", "PostalCode", DataType::String),
    field(18, "country", "Country", "Country", DataType::String),
    field(19, "leadSource", "Person Source", "LeadSource", DataType::String),
    field(20, "leadStatus", "Lead Status", "LeadStatus", DataType::String),
    field(21, "leadScore", "Lead Score", "LeadScore", DataType::Integer),
    field(22, "unsubscribed", "Unsubscribed", "Unsubscribed", DataType::Boolean),
    field(23, "doNotCall", "Do Not Call", "DoNotCall", DataType::Boolean),
    field(24, "description", "Description", "Description", DataType::Text),
    read_only(field(25, "createdAt", "Created At", "CreatedAt", DataType::Datetime)),
    read_only(field(26, "updatedAt", "Updated At", "UpdatedAt", DataType::Datetime)),
    searchable(with_length(field(27, "externalLeadId", "External Lead ID", "ExternalLeadId", DataType::String), 64)),
    searchable(with_length(field(28, "region", "Region", "Region", DataType::String), 50)),
];

/// Fields returned when a lead query names none.
pub const DEFAULT_FIELDS: &[&str] = &["email", "updatedAt", "createdAt", "lastName", "firstName"];

/// The field with this REST name (case-sensitive, as Marketo's API names are).
pub fn lead_field(name: &str) -> Option<&'static LeadField> {
    LEAD_FIELDS.iter().find(|f| f.name == name)
}

/// The field with this id.
pub fn lead_field_by_id(id: i64) -> Option<&'static LeadField> {
    LEAD_FIELDS.iter().find(|f| f.id == id)
}

/// Resolves a comma-separated `fields` list; unknown names give 1006.
pub fn resolve_fields(list: &str) -> Result<Vec<&'static LeadField>, MktoError> {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| lead_field(name).ok_or_else(|| MktoError::field_not_found(name)))
        .collect()
}

/// A field usable as `filterType`/`lookupField`: 1006 when unknown, 1011 when
/// not searchable.
pub fn searchable_field(name: &str) -> Result<&'static LeadField, MktoError> {
    let field = lead_field(name).ok_or_else(|| MktoError::field_not_found(name))?;
    if field.searchable {
        Ok(field)
    } else {
        Err(MktoError::field_not_supported(name))
    }
}

/// `GET /rest/v1/leads/describe.json` result items.
pub fn describe() -> Vec<Value> {
    LEAD_FIELDS
        .iter()
        .map(|f| {
            let mut item = json!({"id": f.id, "displayName": f.display_name, "dataType": f.data_type.name()});
            if let Some(length) = f.length {
                item["length"] = json!(length);
            }
            item["rest"] = json!({"name": f.name, "readOnly": f.read_only});
            item["soap"] = json!({"name": f.soap_name, "readOnly": f.read_only});
            item
        })
        .collect()
}

/// `GET /rest/v1/leads/describe2.json` result item.
pub fn describe2() -> Value {
    let searchable: Vec<Value> = LEAD_FIELDS.iter().filter(|f| f.searchable).map(|f| json!([f.name])).collect();
    let fields: Vec<Value> = LEAD_FIELDS
        .iter()
        .map(|f| {
            let mut item = json!({"name": f.name, "displayName": f.display_name, "dataType": f.data_type.name()});
            if let Some(length) = f.length {
                item["length"] = json!(length);
            }
            item["updateable"] = json!(!f.read_only);
            item["crmManaged"] = json!(false);
            item
        })
        .collect();
    json!({"name": "API Lead", "searchableFields": searchable, "fields": fields})
}

/// Text of a JSON value for messages and activity attributes.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Converts an input value to the field's type (numbers from numeric
/// strings, booleans from "true"/"false", text from numbers). `null` clears
/// the field. A value that does not fit gives 1001.
pub fn coerce(field: &LeadField, value: &Value) -> Result<Value, MktoError> {
    let invalid = || MktoError::invalid_value(&value_text(value), field.data_type.name());
    if value.is_null() {
        return Ok(Value::Null);
    }
    match field.data_type {
        DataType::Integer => match value {
            Value::Number(n) if n.as_i64().is_some() => Ok(value.clone()),
            Value::String(s) => s.trim().parse::<i64>().map(Value::from).map_err(|_| invalid()),
            _ => Err(invalid()),
        },
        DataType::Float | DataType::Currency => {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            number.and_then(Number::from_f64).map(Value::Number).ok_or_else(invalid)
        }
        DataType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") || s == "0" => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Value::Bool(true)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Value::Bool(false)),
            _ => Err(invalid()),
        },
        DataType::Datetime => match value {
            Value::String(s) => parse_datetime(s).map(|t| Value::String(format_datetime(t))).ok_or_else(invalid),
            _ => Err(invalid()),
        },
        DataType::String | DataType::Text | DataType::Email | DataType::Phone | DataType::Url => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(invalid()),
            };
            if field.length.is_some_and(|max| text.chars().count() > max as usize) {
                return Err(invalid());
            }
            Ok(Value::String(text))
        }
    }
}

/// Whether a stored value equals a filter value given as text.
pub fn matches_text(field: &LeadField, stored: &Value, wanted: &str) -> bool {
    match (field.data_type, stored) {
        (DataType::Integer, Value::Number(n)) => wanted.trim().parse::<i64>().ok() == n.as_i64(),
        (t, Value::String(s)) if t.is_textual() => s.eq_ignore_ascii_case(wanted.trim()),
        (_, Value::Null) => false,
        (_, other) => value_text(other) == wanted.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_every_field_with_rest_and_soap_names() {
        let items = describe();
        assert_eq!(items.len(), LEAD_FIELDS.len());
        let email = items.iter().find(|i| i["rest"]["name"] == "email").cloned().unwrap_or_default();
        assert_eq!(
            email,
            json!({"id": 7, "displayName": "Email Address", "dataType": "email", "length": 255,
                   "rest": {"name": "email", "readOnly": false}, "soap": {"name": "Email", "readOnly": false}})
        );
        let ids: std::collections::HashSet<i64> = LEAD_FIELDS.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), LEAD_FIELDS.len(), "field ids are unique");
    }

    #[test]
    fn searchable_fields_are_the_keys() {
        let names: Vec<&str> = LEAD_FIELDS.iter().filter(|f| f.searchable).map(|f| f.name).collect();
        assert_eq!(names, ["id", "email", "externalLeadId", "region"]);
        assert_eq!(searchable_field("firstName"), Err(MktoError::field_not_supported("firstName")));
        assert_eq!(searchable_field("nope"), Err(MktoError::field_not_found("nope")));
    }

    #[test]
    fn coercion_follows_the_data_type() {
        let score = lead_field("leadScore").copied().unwrap_or(LEAD_FIELDS[0]);
        assert_eq!(coerce(&score, &json!("42")), Ok(json!(42)));
        assert_eq!(coerce(&score, &json!("x")), Err(MktoError::invalid_value("x", "integer")));
        let unsubscribed = lead_field("unsubscribed").copied().unwrap_or(LEAD_FIELDS[0]);
        assert_eq!(coerce(&unsubscribed, &json!("true")), Ok(json!(true)));
        assert_eq!(coerce(&unsubscribed, &json!(null)), Ok(json!(null)));
        let region = lead_field("region").copied().unwrap_or(LEAD_FIELDS[0]);
        assert!(coerce(&region, &json!("x".repeat(51))).is_err());
    }

    #[test]
    fn text_filters_ignore_case_and_integers_compare_numerically() {
        let email = lead_field("email").copied().unwrap_or(LEAD_FIELDS[0]);
        assert!(matches_text(&email, &json!("Ann@Example.com"), "ann@example.com"));
        let id = LEAD_FIELDS[0];
        assert!(matches_text(&id, &json!(7), "7"));
        assert!(!matches_text(&id, &json!(7), "07x"));
    }
}
