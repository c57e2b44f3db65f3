//! Demo data: a realistic org (`--seed demo`) and a fast Lead generator for
//! benchmarks. Both are deterministic.

use crate::demo_names::{COMPANY_KINDS, COMPANY_WORDS, FIRST_NAMES, LAST_NAMES};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::ids::make_id;
use super::org::{format_datetime, Org};
use super::schema::{CustomObjectSpec, FieldDef, FieldType};

const CITIES: &[(&str, &str)] = &[
    ("Berlin", "Germany"),
    ("Lisbon", "Portugal"),
    ("Austin", "USA"),
    ("Toronto", "Canada"),
    ("Osaka", "Japan"),
    ("Lagos", "Nigeria"),
    ("Pune", "India"),
    ("Lyon", "France"),
    ("Denver", "USA"),
    ("Melbourne", "Australia"),
];
const INDUSTRIES: &[&str] = &["Banking", "Energy", "Healthcare", "Manufacturing", "Retail", "Technology", "Media"];
const LEAD_STATUSES: &[&str] =
    &["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"];
const LEAD_SOURCES: &[&str] = &["Web", "Phone Inquiry", "Partner Referral", "Trade Show", "Other"];
const STAGES: &[&str] =
    &["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Closed Won", "Closed Lost"];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn fields(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// The demo custom object `Holiday__c` and platform event
/// `Holiday_Event__e` (a contact center's holiday calendar, whose changes
/// travel Salesforce -> bus -> table -> CSV -> back to Salesforce).
pub fn define_demo_objects(org: &mut Org) {
    let holiday = CustomObjectSpec {
        name: "Holiday__c".into(),
        label: Some("Holiday".into()),
        fields: vec![
            FieldDef::new("External_Id__c", FieldType::String).len(64).external_id(),
            FieldDef::new("Region__c", FieldType::Picklist).values(&["EMEA", "AMER", "APAC"]),
            FieldDef::new("Holiday_Date__c", FieldType::Date),
            FieldDef::new("Description__c", FieldType::String),
            FieldDef::new("Status__c", FieldType::Picklist)
                .values(&["Requested", "Applied", "Failed"])
                .default(json!("Requested")),
            FieldDef::new("Status_Message__c", FieldType::Textarea).len(1000),
        ],
    };
    let event = CustomObjectSpec {
        name: "Holiday_Event__e".into(),
        label: Some("Holiday Event".into()),
        fields: vec![
            FieldDef::new("Action__c", FieldType::Picklist).values(&["Add", "Delete"]),
            FieldDef::new("Holiday_Id__c", FieldType::String).len(64),
            FieldDef::new("Region__c", FieldType::String).len(20),
            FieldDef::new("Holiday_Date__c", FieldType::Date),
            FieldDef::new("Description__c", FieldType::String),
        ],
    };
    // Both names are fixed and new in a fresh org, so definition cannot fail.
    let _ = org.define_custom_object(holiday);
    let _ = org.define_custom_object(event);
}

/// A realistic org: 500 accounts, 1,500 contacts, 2,000 leads, 300
/// opportunities, 400 cases, 40 holidays. Change events from seeding are
/// dropped so replay starts clean.
pub fn demo_org() -> Org {
    let mut org = Org::new();
    define_demo_objects(&mut org);
    let mut rng = StdRng::seed_from_u64(42);
    let mut accounts = Vec::new();
    for i in 0..500 {
        let (city, country) = CITIES[rng.random_range(0..CITIES.len())];
        let name = format!("{} {} {}", pick(&mut rng, COMPANY_WORDS), pick(&mut rng, COMPANY_KINDS), i + 1);
        let id = org
            .create(
                "Account",
                &fields(json!({
                    "Name": name,
                    "Industry": pick(&mut rng, INDUSTRIES),
                    "Type": if rng.random_bool(0.6) { "Customer - Direct" } else { "Prospect" },
                    "AnnualRevenue": (rng.random_range(1..500) * 100_000) as f64,
                    "NumberOfEmployees": rng.random_range(5..20_000),
                    "BillingCity": city,
                    "BillingCountry": country,
                    "Phone": format!("+1 555 {:04}", rng.random_range(0..10_000)),
                    "Website": format!("https://www.{}.example", name.to_ascii_lowercase().replace(' ', "-")),
                    "Rating": pick(&mut rng, &["Hot", "Warm", "Cold"]),
                })),
                None,
            )
            .unwrap_or_default();
        accounts.push(id);
    }
    let mut contacts = Vec::new();
    for i in 0..1500 {
        let first = pick(&mut rng, FIRST_NAMES);
        let last = pick(&mut rng, LAST_NAMES);
        let id = org
            .create(
                "Contact",
                &fields(json!({
                    "AccountId": accounts[i % accounts.len()],
                    "FirstName": first,
                    "LastName": last,
                    "Email": format!("{}.{}{}@example.com", first.to_ascii_lowercase(), last.to_ascii_lowercase(), i),
                    "Title": pick(&mut rng, &["CEO", "CTO", "Buyer", "Engineer", "Analyst", "Director"]),
                    "LeadSource": pick(&mut rng, LEAD_SOURCES),
                    "DoNotCall": rng.random_bool(0.1),
                })),
                None,
            )
            .unwrap_or_default();
        contacts.push(id);
    }
    generate_leads(&mut org, 2000);
    for i in 0..300 {
        let _ = org.create(
            "Opportunity",
            &fields(json!({
                "AccountId": accounts[i % accounts.len()],
                "Name": format!("Deal {}", i + 1),
                "StageName": pick(&mut rng, STAGES),
                "CloseDate": format!("2026-{:02}-{:02}", rng.random_range(1..=12), rng.random_range(1..=28)),
                "Amount": (rng.random_range(1..200) * 1_000) as f64,
            })),
            None,
        );
    }
    for i in 0..400 {
        let _ = org.create(
            "Case",
            &fields(json!({
                "AccountId": accounts[i % accounts.len()],
                "ContactId": contacts[i % contacts.len()],
                "Subject": format!("Case {}: {}", i + 1, pick(&mut rng, &["Login issue", "Billing question", "Outage", "Feature request"])),
                "Status": pick(&mut rng, &["New", "Working", "Escalated", "Closed"]),
                "Priority": pick(&mut rng, &["High", "Medium", "Low"]),
                "Origin": pick(&mut rng, &["Phone", "Email", "Web"]),
            })),
            None,
        );
    }
    for i in 0..40 {
        let _ = org.create(
            "Holiday__c",
            &fields(json!({
                "Name": format!("Holiday {}", i + 1),
                "External_Id__c": format!("HOL-{:04}", i + 1),
                "Region__c": pick(&mut rng, &["EMEA", "AMER", "APAC"]),
                "Holiday_Date__c": format!("2026-{:02}-{:02}", (i % 12) + 1, (i % 27) + 1),
                "Description__c": format!("Public holiday {}", i + 1),
                "Status__c": "Applied",
            })),
            None,
        );
    }
    org.events.clear();
    org
}

/// Appends `count` Lead records directly (no validation pass, no change
/// events): the fast path for large benchmark orgs. Returns `count`.
pub fn generate_leads(org: &mut Org, count: usize) -> usize {
    let admin = org.admin_user_id.clone();
    let Ok(store) = org.object("Lead") else { return 0 };
    let def = store.def.clone();
    let start = org.next_id;
    let now = OffsetDateTime::now_utc();
    let mut rng = StdRng::seed_from_u64(start);
    let mut rows = Vec::with_capacity(count);
    for n in 0..count as u64 {
        let id = make_id(&def.key_prefix, start + n);
        let first = pick(&mut rng, FIRST_NAMES);
        let last = pick(&mut rng, LAST_NAMES);
        let (city, country) = CITIES[rng.random_range(0..CITIES.len())];
        let stamp = format_datetime(now - time::Duration::minutes(rng.random_range(0..525_600)));
        let mut row = vec![Value::Null; def.fields.len()];
        let mut set = |name: &str, value: Value| {
            if let Some((i, _)) = def.field(name) {
                row[i] = value;
            }
        };
        set("Id", json!(id));
        set("IsDeleted", json!(false));
        set("CreatedDate", json!(stamp));
        set("CreatedById", json!(admin));
        set("LastModifiedDate", json!(stamp));
        set("LastModifiedById", json!(admin));
        set("SystemModstamp", json!(stamp));
        set("FirstName", json!(first));
        set("LastName", json!(last));
        set("Name", json!(format!("{first} {last}")));
        set("Company", json!(format!("{} {}", pick(&mut rng, COMPANY_WORDS), pick(&mut rng, COMPANY_KINDS))));
        set(
            "Email",
            json!(format!("{}.{}.{}@example.com", first.to_ascii_lowercase(), last.to_ascii_lowercase(), start + n)),
        );
        set("Status", json!(pick(&mut rng, LEAD_STATUSES)));
        set("LeadSource", json!(pick(&mut rng, LEAD_SOURCES)));
        set("Industry", json!(pick(&mut rng, INDUSTRIES)));
        set("City", json!(city));
        set("Country", json!(country));
        set("AnnualRevenue", json!((rng.random_range(1..1000) * 10_000) as f64));
        set("NumberOfEmployees", json!(rng.random_range(1..5000)));
        set("IsConverted", json!(false));
        set("HasOptedOutOfEmail", json!(rng.random_bool(0.05)));
        set("DoNotCall", json!(rng.random_bool(0.1)));
        set("OwnerId", json!(admin));
        rows.push((id, row));
    }
    org.next_id += count as u64;
    if let Some(store) = org.objects.get_mut("lead") {
        store.rows.reserve(count);
        for (id, row) in rows {
            store.by_id.insert(id, store.rows.len());
            store.rows.push(row);
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_org_is_populated_and_deterministic() {
        let org = demo_org();
        assert_eq!(org.object("Account").unwrap().rows.len(), 500);
        assert_eq!(org.object("Lead").unwrap().rows.len(), 2000);
        assert_eq!(org.object("Holiday__c").unwrap().rows.len(), 40);
        assert!(org.events.is_empty());
        let again = demo_org();
        let name = |o: &Org| {
            let s = o.object("Account").unwrap();
            s.value(&s.rows[7], "Name").cloned()
        };
        assert_eq!(name(&org), name(&again));
    }

    #[test]
    fn generated_leads_are_readable_by_id() {
        let mut org = Org::new();
        assert_eq!(generate_leads(&mut org, 1000), 1000);
        let store = org.object("Lead").unwrap();
        let id = store.value(&store.rows[999], "Id").unwrap().as_str().unwrap().to_string();
        assert!(org.live_index("Lead", &id).is_ok());
        let more = generate_leads(&mut org, 10);
        assert_eq!(more, 10);
        assert_eq!(org.object("Lead").unwrap().by_id.len(), 1010);
    }
}
