//! Object and field metadata of the simulated org, and the describe JSON
//! Salesforce returns for it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A Salesforce field type (the `type` of a describe field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Record id.
    Id,
    /// Short text.
    String,
    /// Long text.
    Textarea,
    /// Email address.
    Email,
    /// Phone number.
    Phone,
    /// URL.
    Url,
    /// Single-select picklist.
    Picklist,
    /// Checkbox.
    Boolean,
    /// Whole number.
    Int,
    /// Decimal number.
    Double,
    /// Money.
    Currency,
    /// Percentage.
    Percent,
    /// Calendar date (`YYYY-MM-DD`).
    Date,
    /// Point in time (`2024-01-31T10:00:00.000+0000`).
    Datetime,
    /// Lookup to another object.
    Reference,
}

impl FieldType {
    /// The `soapType` Salesforce reports for this type.
    pub fn soap_type(self) -> &'static str {
        match self {
            Self::Id | Self::Reference => "tns:ID",
            Self::Boolean => "xsd:boolean",
            Self::Int => "xsd:int",
            Self::Double | Self::Currency | Self::Percent => "xsd:double",
            Self::Date => "xsd:date",
            Self::Datetime => "xsd:dateTime",
            _ => "xsd:string",
        }
    }

    /// Whether values are text.
    pub fn is_text(self) -> bool {
        matches!(self, Self::String | Self::Textarea | Self::Email | Self::Phone | Self::Url | Self::Picklist)
    }

    /// Whether values are numbers.
    pub fn is_number(self) -> bool {
        matches!(self, Self::Int | Self::Double | Self::Currency | Self::Percent)
    }
}

/// One field of an object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldDef {
    /// API name, e.g. `LastName` or `Region__c`.
    pub name: String,
    /// Label.
    pub label: String,
    /// Type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Maximum length of text values (0 for non-text).
    #[serde(default)]
    pub length: u32,
    /// May be null.
    #[serde(default = "yes")]
    pub nillable: bool,
    /// May be set on create.
    #[serde(default = "yes")]
    pub createable: bool,
    /// May be set on update.
    #[serde(default = "yes")]
    pub updateable: bool,
    /// Usable as an upsert key.
    #[serde(default)]
    pub external_id: bool,
    /// Values must be unique.
    #[serde(default)]
    pub unique: bool,
    /// Picklist values.
    #[serde(default)]
    pub picklist_values: Vec<String>,
    /// Default value on create.
    #[serde(default)]
    pub default_value: Option<Value>,
    /// Target objects of a reference.
    #[serde(default)]
    pub reference_to: Vec<String>,
    /// True for the `Name` field of an object.
    #[serde(default)]
    pub name_field: bool,
}

fn yes() -> bool {
    true
}

impl FieldDef {
    /// A nillable, createable, updateable field.
    pub fn new(name: &str, field_type: FieldType) -> Self {
        let length = match field_type {
            FieldType::Id | FieldType::Reference => 18,
            FieldType::Textarea => 32_000,
            FieldType::Email | FieldType::Phone => 80,
            FieldType::Url => 255,
            t if t.is_text() => 255,
            _ => 0,
        };
        Self {
            name: name.to_string(),
            label: label_of(name),
            field_type,
            length,
            nillable: true,
            createable: true,
            updateable: true,
            external_id: false,
            unique: false,
            picklist_values: Vec::new(),
            default_value: None,
            reference_to: Vec::new(),
            name_field: false,
        }
    }

    /// Sets the maximum length.
    pub fn len(mut self, length: u32) -> Self {
        self.length = length;
        self
    }

    /// Makes the field required on create.
    pub fn required(mut self) -> Self {
        self.nillable = false;
        self
    }

    /// Makes the field read-only (system or calculated).
    pub fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }

    /// Makes the field a unique external id.
    pub fn external_id(mut self) -> Self {
        self.external_id = true;
        self.unique = true;
        self
    }

    /// Sets picklist values.
    pub fn values(mut self, values: &[&str]) -> Self {
        self.picklist_values = values.iter().map(|v| v.to_string()).collect();
        self
    }

    /// Sets the default value.
    pub fn default(mut self, value: Value) -> Self {
        self.default_value = Some(value);
        self
    }

    /// Sets reference targets.
    pub fn refers_to(mut self, objects: &[&str]) -> Self {
        self.reference_to = objects.iter().map(|v| v.to_string()).collect();
        self
    }

    /// Marks the object's name field.
    pub fn name_field(mut self) -> Self {
        self.name_field = true;
        self
    }

    /// Whether the field must be given on create.
    pub fn required_on_create(&self) -> bool {
        !self.nillable && self.createable && self.default_value.is_none() && self.field_type != FieldType::Boolean
    }

    /// The describe JSON of this field.
    pub fn describe(&self) -> Value {
        let custom = self.name.ends_with("__c");
        let relationship = if self.field_type == FieldType::Reference {
            Some(self.name.strip_suffix("Id").map(str::to_string).unwrap_or_else(|| self.name.replace("__c", "__r")))
        } else {
            None
        };
        json!({
            "name": self.name,
            "label": self.label,
            "type": self.field_type,
            "soapType": self.field_type.soap_type(),
            "length": self.length,
            "byteLength": self.length * 3,
            "digits": if self.field_type == FieldType::Int { 9 } else { 0 },
            "precision": if matches!(self.field_type, FieldType::Double | FieldType::Currency | FieldType::Percent) { 18 } else { 0 },
            "scale": if matches!(self.field_type, FieldType::Currency) { 2 } else { 0 },
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "custom": custom,
            "externalId": self.external_id,
            "idLookup": self.external_id || self.field_type == FieldType::Id,
            "unique": self.unique,
            "nameField": self.name_field,
            "calculated": false,
            "autoNumber": false,
            "defaultedOnCreate": self.default_value.is_some() || !self.createable,
            "defaultValue": self.default_value,
            "filterable": self.field_type != FieldType::Textarea,
            "sortable": self.field_type != FieldType::Textarea,
            "groupable": !matches!(self.field_type, FieldType::Textarea | FieldType::Double | FieldType::Currency | FieldType::Percent | FieldType::Datetime),
            "picklistValues": self.picklist_values.iter().map(|v| json!({
                "active": true,
                "defaultValue": self.default_value.as_ref().and_then(Value::as_str) == Some(v.as_str()),
                "label": v,
                "validFor": null,
                "value": v,
            })).collect::<Vec<_>>(),
            "referenceTo": self.reference_to,
            "relationshipName": relationship,
        })
    }
}

/// Turns `AnnualRevenue` or `Holiday_Date__c` into a label.
fn label_of(name: &str) -> String {
    let base = name.trim_end_matches("__c").trim_end_matches("__e");
    let mut label = String::new();
    let mut prev_lower = false;
    for c in base.chars() {
        if c == '_' {
            label.push(' ');
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            label.push(' ');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        label.push(c);
    }
    label
}

/// What kind of object this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectKind {
    /// A standard or custom object holding records.
    Record,
    /// A platform event (`X__e`): publish-only, not queryable.
    PlatformEvent,
}

/// One object (sObject type).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectDef {
    /// API name.
    pub name: String,
    /// Singular label.
    pub label: String,
    /// Plural label.
    pub label_plural: String,
    /// 3-character id prefix.
    pub key_prefix: String,
    /// Record object or platform event.
    pub kind: ObjectKind,
    /// Fields in describe order.
    pub fields: Vec<FieldDef>,
}

impl ObjectDef {
    /// Whether this is a custom object or event.
    pub fn is_custom(&self) -> bool {
        self.name.ends_with("__c") || self.name.ends_with("__e")
    }

    /// The field with that name, compared case-insensitively.
    pub fn field(&self, name: &str) -> Option<(usize, &FieldDef)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name.eq_ignore_ascii_case(name))
    }

    /// Entry of the global describe (`/sobjects`).
    pub fn summary(&self, version: &str) -> Value {
        let base = format!("/services/data/v{version}/sobjects/{}", self.name);
        let record = self.kind == ObjectKind::Record;
        json!({
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": self.is_custom(),
            "customSetting": false,
            "createable": true,
            "updateable": record,
            "deletable": record,
            "queryable": record,
            "retrieveable": record,
            "searchable": record,
            "replicateable": record,
            "triggerable": true,
            "undeletable": record,
            "mergeable": false,
            "layoutable": record,
            "activateable": false,
            "feedEnabled": false,
            "mruEnabled": record,
            "deprecatedAndHidden": false,
            "isSubtype": false,
            "isInterface": false,
            "hasSubtypes": false,
            "associateEntityType": null,
            "associateParentEntity": null,
            "urls": {
                "sobject": base,
                "describe": format!("{base}/describe"),
                "rowTemplate": format!("{base}/{{ID}}"),
            },
        })
    }

    /// Full describe (`/sobjects/{name}/describe`).
    pub fn describe(&self, version: &str) -> Value {
        let mut value = self.summary(version);
        value["fields"] = Value::Array(self.fields.iter().map(FieldDef::describe).collect());
        value["childRelationships"] = json!([]);
        value["recordTypeInfos"] = json!([]);
        value["supportedScopes"] = json!([{"label": "All", "name": "everything"}]);
        value["listviewable"] = Value::Null;
        value["lookupLayoutable"] = Value::Null;
        value["searchLayoutable"] = json!(self.kind == ObjectKind::Record);
        value
    }
}

fn system_fields(object: &str) -> Vec<FieldDef> {
    use FieldType::*;
    let _ = object;
    vec![
        FieldDef::new("Id", Id).read_only().required(),
        FieldDef::new("IsDeleted", Boolean).read_only().required(),
        FieldDef::new("CreatedDate", Datetime).read_only().required(),
        FieldDef::new("CreatedById", Reference).read_only().required().refers_to(&["User"]),
        FieldDef::new("LastModifiedDate", Datetime).read_only().required(),
        FieldDef::new("LastModifiedById", Reference).read_only().required().refers_to(&["User"]),
        FieldDef::new("SystemModstamp", Datetime).read_only().required(),
    ]
}

fn object(name: &str, label: &str, plural: &str, prefix: &str, fields: Vec<FieldDef>) -> ObjectDef {
    let mut all = system_fields(name);
    all.extend(fields);
    ObjectDef {
        name: name.to_string(),
        label: label.to_string(),
        label_plural: plural.to_string(),
        key_prefix: prefix.to_string(),
        kind: ObjectKind::Record,
        fields: all,
    }
}

const INDUSTRIES: &[&str] = &[
    "Agriculture",
    "Banking",
    "Biotechnology",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Energy",
    "Engineering",
    "Finance",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
];
const LEAD_SOURCES: &[&str] = &["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show", "Other"];

/// The standard objects: User, Account, Contact, Lead, Case, Opportunity.
pub fn standard_objects() -> Vec<ObjectDef> {
    use FieldType::*;
    vec![
        object(
            "User",
            "User",
            "Users",
            "005",
            vec![
                FieldDef::new("Username", String).len(80).required().external_id(),
                FieldDef::new("LastName", String).len(80).required(),
                FieldDef::new("FirstName", String).len(40),
                FieldDef::new("Name", String).len(121).read_only().name_field(),
                FieldDef::new("Email", Email).required(),
                FieldDef::new("IsActive", Boolean).default(json!(true)),
            ],
        ),
        object(
            "Account",
            "Account",
            "Accounts",
            "001",
            vec![
                FieldDef::new("Name", String).required().name_field(),
                FieldDef::new("Type", Picklist).values(&[
                    "Prospect",
                    "Customer - Direct",
                    "Customer - Channel",
                    "Partner",
                    "Other",
                ]),
                FieldDef::new("ParentId", Reference).refers_to(&["Account"]),
                FieldDef::new("AccountNumber", String).len(40),
                FieldDef::new("Phone", Phone),
                FieldDef::new("Fax", Phone),
                FieldDef::new("Website", Url),
                FieldDef::new("Industry", Picklist).values(INDUSTRIES),
                FieldDef::new("AnnualRevenue", Currency),
                FieldDef::new("NumberOfEmployees", Int),
                FieldDef::new("BillingStreet", Textarea).len(255),
                FieldDef::new("BillingCity", String).len(40),
                FieldDef::new("BillingState", String).len(80),
                FieldDef::new("BillingPostalCode", String).len(20),
                FieldDef::new("BillingCountry", String).len(80),
                FieldDef::new("Rating", Picklist).values(&["Hot", "Warm", "Cold"]),
                FieldDef::new("Description", Textarea),
                FieldDef::new("OwnerId", Reference).refers_to(&["User"]),
            ],
        ),
        object(
            "Contact",
            "Contact",
            "Contacts",
            "003",
            vec![
                FieldDef::new("AccountId", Reference).refers_to(&["Account"]),
                FieldDef::new("LastName", String).len(80).required(),
                FieldDef::new("FirstName", String).len(40),
                FieldDef::new("Salutation", Picklist).values(&["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
                FieldDef::new("Name", String).len(121).read_only().name_field(),
                FieldDef::new("Email", Email),
                FieldDef::new("Phone", Phone),
                FieldDef::new("MobilePhone", Phone),
                FieldDef::new("Title", String).len(128),
                FieldDef::new("Department", String).len(80),
                FieldDef::new("MailingCity", String).len(40),
                FieldDef::new("MailingCountry", String).len(80),
                FieldDef::new("Birthdate", Date),
                FieldDef::new("LeadSource", Picklist).values(LEAD_SOURCES),
                FieldDef::new("HasOptedOutOfEmail", Boolean).default(json!(false)),
                FieldDef::new("DoNotCall", Boolean).default(json!(false)),
                FieldDef::new("Description", Textarea),
                FieldDef::new("OwnerId", Reference).refers_to(&["User"]),
            ],
        ),
        object(
            "Lead",
            "Lead",
            "Leads",
            "00Q",
            vec![
                FieldDef::new("LastName", String).len(80).required(),
                FieldDef::new("FirstName", String).len(40),
                FieldDef::new("Name", String).len(121).read_only().name_field(),
                FieldDef::new("Company", String).required(),
                FieldDef::new("Title", String).len(128),
                FieldDef::new("Email", Email),
                FieldDef::new("Phone", Phone),
                FieldDef::new("Status", Picklist)
                    .values(&[
                        "Open - Not Contacted",
                        "Working - Contacted",
                        "Closed - Converted",
                        "Closed - Not Converted",
                    ])
                    .default(json!("Open - Not Contacted"))
                    .required(),
                FieldDef::new("LeadSource", Picklist).values(LEAD_SOURCES),
                FieldDef::new("Industry", Picklist).values(INDUSTRIES),
                FieldDef::new("Rating", Picklist).values(&["Hot", "Warm", "Cold"]),
                FieldDef::new("AnnualRevenue", Currency),
                FieldDef::new("NumberOfEmployees", Int),
                FieldDef::new("City", String).len(40),
                FieldDef::new("State", String).len(80),
                FieldDef::new("Country", String).len(80),
                FieldDef::new("IsConverted", Boolean).default(json!(false)),
                FieldDef::new("HasOptedOutOfEmail", Boolean).default(json!(false)),
                FieldDef::new("DoNotCall", Boolean).default(json!(false)),
                FieldDef::new("Description", Textarea),
                FieldDef::new("OwnerId", Reference).refers_to(&["User"]),
            ],
        ),
        object(
            "Case",
            "Case",
            "Cases",
            "500",
            vec![
                FieldDef::new("CaseNumber", String).len(30).read_only().name_field(),
                FieldDef::new("ContactId", Reference).refers_to(&["Contact"]),
                FieldDef::new("AccountId", Reference).refers_to(&["Account"]),
                FieldDef::new("Subject", String),
                FieldDef::new("Description", Textarea),
                FieldDef::new("Status", Picklist)
                    .values(&["New", "Working", "Escalated", "Closed"])
                    .default(json!("New"))
                    .required(),
                FieldDef::new("Priority", Picklist).values(&["High", "Medium", "Low"]).default(json!("Medium")),
                FieldDef::new("Origin", Picklist).values(&["Phone", "Email", "Web"]),
                FieldDef::new("Type", Picklist).values(&[
                    "Mechanical",
                    "Electrical",
                    "Electronic",
                    "Structural",
                    "Other",
                ]),
                FieldDef::new("Reason", Picklist).values(&[
                    "Installation",
                    "Equipment Complexity",
                    "Performance",
                    "Breakdown",
                    "Other",
                ]),
                FieldDef::new("IsClosed", Boolean).read_only(),
                FieldDef::new("ClosedDate", Datetime).read_only(),
                FieldDef::new("OwnerId", Reference).refers_to(&["User"]),
            ],
        ),
        object(
            "Opportunity",
            "Opportunity",
            "Opportunities",
            "006",
            vec![
                FieldDef::new("AccountId", Reference).refers_to(&["Account"]),
                FieldDef::new("Name", String).len(120).required().name_field(),
                FieldDef::new("StageName", Picklist)
                    .values(&[
                        "Prospecting",
                        "Qualification",
                        "Needs Analysis",
                        "Proposal/Price Quote",
                        "Negotiation/Review",
                        "Closed Won",
                        "Closed Lost",
                    ])
                    .required(),
                FieldDef::new("CloseDate", Date).required(),
                FieldDef::new("Amount", Currency),
                FieldDef::new("Probability", Percent),
                FieldDef::new("Type", Picklist).values(&["Existing Business", "New Business"]),
                FieldDef::new("LeadSource", Picklist).values(LEAD_SOURCES),
                FieldDef::new("IsClosed", Boolean).read_only(),
                FieldDef::new("IsWon", Boolean).read_only(),
                FieldDef::new("Description", Textarea),
                FieldDef::new("OwnerId", Reference).refers_to(&["User"]),
            ],
        ),
    ]
}

/// A custom object definition as accepted by the admin API.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomObjectSpec {
    /// API name, ending in `__c` (object) or `__e` (platform event).
    pub name: String,
    /// Singular label (default: from the name).
    #[serde(default)]
    pub label: Option<String>,
    /// Fields besides the system ones; names end in `__c`.
    pub fields: Vec<FieldDef>,
}

/// Builds a custom object or platform event from its spec; the key prefix
/// is chosen by the caller.
pub fn custom_object(spec: CustomObjectSpec, key_prefix: String) -> Result<ObjectDef, String> {
    let kind = if spec.name.ends_with("__c") {
        ObjectKind::Record
    } else if spec.name.ends_with("__e") {
        ObjectKind::PlatformEvent
    } else {
        return Err(format!("custom object name '{}' must end in __c or __e", spec.name));
    };
    for field in &spec.fields {
        if !field.name.ends_with("__c") {
            return Err(format!("custom field name '{}' must end in __c", field.name));
        }
    }
    let label = spec.label.unwrap_or_else(|| label_of(&spec.name));
    let mut fields = match kind {
        ObjectKind::Record => {
            let mut f = system_fields(&spec.name);
            f.push(FieldDef::new("Name", FieldType::String).len(80).name_field());
            f.push(FieldDef::new("OwnerId", FieldType::Reference).refers_to(&["User"]));
            f
        }
        ObjectKind::PlatformEvent => vec![
            FieldDef::new("ReplayId", FieldType::String).read_only(),
            FieldDef::new("CreatedDate", FieldType::Datetime).read_only(),
            FieldDef::new("CreatedById", FieldType::Reference).read_only().refers_to(&["User"]),
            FieldDef::new("EventUuid", FieldType::String).len(36).read_only(),
        ],
    };
    fields.extend(spec.fields);
    Ok(ObjectDef { label_plural: format!("{label}s"), name: spec.name, label, key_prefix, kind, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_names() {
        assert_eq!(label_of("AnnualRevenue"), "Annual Revenue");
        assert_eq!(label_of("Holiday_Date__c"), "Holiday Date");
    }

    #[test]
    fn describe_carries_salesforce_keys() {
        let lead = standard_objects().into_iter().find(|o| o.name == "Lead").unwrap();
        let d = lead.describe("62.0");
        assert_eq!(d["keyPrefix"], "00Q");
        let fields = d["fields"].as_array().unwrap();
        let last_name = fields.iter().find(|f| f["name"] == "LastName").unwrap();
        assert_eq!(last_name["nillable"], false);
        assert_eq!(last_name["soapType"], "xsd:string");
        let status = fields.iter().find(|f| f["name"] == "Status").unwrap();
        assert_eq!(status["picklistValues"][0]["defaultValue"], true);
        assert!(lead.field("lastname").is_some());
    }

    #[test]
    fn custom_objects_need_suffixes() {
        let spec = |name: &str, field: &str| CustomObjectSpec {
            name: name.into(),
            label: None,
            fields: vec![FieldDef::new(field, FieldType::String)],
        };
        assert!(custom_object(spec("Holiday__c", "Region__c"), "a01".into()).is_ok());
        assert!(custom_object(spec("Holiday", "Region__c"), "a01".into()).is_err());
        assert!(custom_object(spec("Holiday__c", "Region"), "a01".into()).is_err());
        let event = custom_object(spec("Holiday_Event__e", "Action__c"), "e01".into()).unwrap();
        assert_eq!(event.kind, ObjectKind::PlatformEvent);
    }
}
