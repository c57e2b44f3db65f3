//! Demo data (`--seed demo`: 2,500 leads created from January 2024 on, with
//! later field changes, all in the activity log) and a lead generator for
//! tests and benchmarks. Both are deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::demo_names::{COMPANY_KINDS, COMPANY_WORDS, FIRST_NAMES, LAST_NAMES};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Map, Value};

use super::db::{LeadDatabase, API_SOURCE};
use super::error::MktoError;
use super::schema::{coerce, lead_field};

/// Leads in the demo database.
pub const DEMO_LEADS: usize = 2500;
/// Demo leads are created after this time: 2024-01-01T00:00:00Z.
pub const DEMO_START: i64 = 1_704_067_200;

/// (city, state, country, region)
const PLACES: &[(&str, &str, &str, &str)] = &[
    ("Berlin", "BE", "Germany", "EMEA"),
    ("Lisbon", "Lisboa", "Portugal", "EMEA"),
    ("Lyon", "ARA", "France", "EMEA"),
    ("Lagos", "LA", "Nigeria", "EMEA"),
    ("Austin", "TX", "USA", "AMER"),
    ("Denver", "CO", "USA", "AMER"),
    ("Toronto", "ON", "Canada", "AMER"),
    ("Sao Paulo", "SP", "Brazil", "AMER"),
    ("Osaka", "Osaka", "Japan", "APAC"),
    ("Pune", "MH", "India", "APAC"),
    ("Melbourne", "VIC", "Australia", "APAC"),
    ("Singapore", "SG", "Singapore", "APAC"),
];
const INDUSTRIES: &[&str] = &["Banking", "Energy", "Healthcare", "Manufacturing", "Retail", "Technology", "Media"];
const TITLES: &[&str] =
    &["CEO", "CTO", "VP Marketing", "Marketing Manager", "Engineer", "Analyst", "Buyer", "Director"];
const LEAD_SOURCES: &[&str] = &["Website", "Webinar", "Trade Show", "Paid Search", "Referral", "Partner"];
const LEAD_STATUSES: &[&str] = &["New", "Working", "Nurture", "Qualified", "Disqualified"];
const SOURCE_TYPES: &[&str] = &["Web form fillout", "List import", API_SOURCE];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Field values of a realistic lead; `number` makes email and external id unique.
fn lead_values(rng: &mut StdRng, number: i64) -> Map<String, Value> {
    let first = pick(rng, FIRST_NAMES);
    let last = pick(rng, LAST_NAMES);
    let company = format!("{} {}", pick(rng, COMPANY_WORDS), pick(rng, COMPANY_KINDS));
    let domain = format!("{}.example", company.to_ascii_lowercase().replace(' ', "-"));
    let (city, state, country, region) = PLACES[rng.random_range(0..PLACES.len())];
    let values = json!({
        "firstName": first,
        "lastName": last,
        "email": format!("{}.{}{}@{domain}", first.to_ascii_lowercase(), last.to_ascii_lowercase(), number),
        "company": company,
        "title": pick(rng, TITLES),
        "phone": format!("+1 555 {:04}", rng.random_range(0..10_000)),
        "website": format!("https://www.{domain}"),
        "industry": pick(rng, INDUSTRIES),
        "numberOfEmployees": rng.random_range(5..20_000),
        "annualRevenue": (rng.random_range(1..500) * 100_000) as f64,
        "city": city,
        "state": state,
        "country": country,
        "region": region,
        "leadSource": pick(rng, LEAD_SOURCES),
        "leadStatus": "New",
        "leadScore": rng.random_range(0..40),
        "unsubscribed": rng.random_bool(0.05),
        "doNotCall": rng.random_bool(0.08),
        "externalLeadId": format!("EXT-{number:06}"),
    });
    values.as_object().cloned().unwrap_or_default()
}

/// A later change of one field, for the demo's Change Data Value history.
fn change(rng: &mut StdRng) -> Map<String, Value> {
    let (name, value) = match rng.random_range(0..4) {
        0 => ("leadStatus", json!(pick(rng, &LEAD_STATUSES[1..]))),
        1 => ("leadScore", json!(rng.random_range(40..100))),
        2 => ("title", json!(pick(rng, TITLES))),
        _ => ("unsubscribed", json!(true)),
    };
    Map::from_iter([(name.to_string(), value)])
}

/// The demo database: leads created every 1-60 minutes from 2024-01-01 on,
/// a fifth of them changed once within 20 days of creation.
pub fn demo_database() -> LeadDatabase {
    let mut rng = StdRng::seed_from_u64(2024);
    let mut db = LeadDatabase::new();
    // Pending changes: (when, order, lead id, values).
    let mut pending: BinaryHeap<Reverse<(i64, usize, i64, String)>> = BinaryHeap::new();
    let mut now = DEMO_START;
    let apply_until = |db: &mut LeadDatabase, pending: &mut BinaryHeap<Reverse<(i64, usize, i64, String)>>, t: i64| {
        while pending.peek().is_some_and(|Reverse((when, ..))| *when <= t) {
            let Some(Reverse((when, _, id, values))) = pending.pop() else { break };
            let values: Map<String, Value> = serde_json::from_str(&values).unwrap_or_default();
            db.update(id, values, when, API_SOURCE);
        }
    };
    for order in 0..DEMO_LEADS {
        now += rng.random_range(60..3600);
        apply_until(&mut db, &mut pending, now);
        let number = db.next_lead_id;
        let values = lead_values(&mut rng, number);
        let source = pick(&mut rng, SOURCE_TYPES);
        let id = db.create(values, now, source);
        if rng.random_bool(0.2) {
            let when = now + rng.random_range(3600..20 * 86_400);
            pending.push(Reverse((when, order, id, Value::Object(change(&mut rng)).to_string())));
        }
    }
    apply_until(&mut db, &mut pending, i64::MAX);
    db
}

/// Adds `count` generated leads created at `now`, with `overrides` applied
/// to each (coerced; unknown fields give 1006). Returns the new ids.
pub fn generate_leads(
    db: &mut LeadDatabase,
    count: usize,
    overrides: &Map<String, Value>,
    now: i64,
) -> Result<Vec<i64>, MktoError> {
    let mut fixed = Map::new();
    for (name, value) in overrides {
        let field = lead_field(name).filter(|f| !f.read_only).ok_or_else(|| MktoError::field_not_found(name))?;
        fixed.insert(field.name.to_string(), coerce(field, value)?);
    }
    let mut rng = StdRng::seed_from_u64(db.next_lead_id as u64);
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count {
        let number = db.next_lead_id;
        let mut values = lead_values(&mut rng, number);
        values.extend(fixed.clone());
        ids.push(db.create(values, now, API_SOURCE));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::super::activity::{CHANGE_DATA_VALUE, NEW_LEAD};
    use super::*;

    #[test]
    fn demo_is_deterministic_and_chronological() {
        let a = demo_database();
        let b = demo_database();
        assert_eq!(a, b);
        assert_eq!(a.leads.len(), DEMO_LEADS);
        assert_eq!(a.activities.iter().filter(|x| x.type_id == NEW_LEAD).count(), DEMO_LEADS);
        assert!(a.activities.iter().any(|x| x.type_id == CHANGE_DATA_VALUE));
        assert!(a.activities.windows(2).all(|w| w[0].date <= w[1].date && w[0].id < w[1].id));
        let first = &a.leads[&1];
        assert!(first.created_at > DEMO_START);
        assert_eq!(first.values.get("externalLeadId"), Some(&json!("EXT-000001")));
        let emea = a.leads.values().filter(|l| l.values.get("region") == Some(&json!("EMEA"))).count();
        assert!((700..1000).contains(&emea), "{emea} EMEA leads stay under the 1,000-match filter limit");
    }

    #[test]
    fn generated_leads_take_overrides_and_unique_keys() {
        let mut db = LeadDatabase::new();
        let overrides = Map::from_iter([("region".to_string(), json!("TEST"))]);
        let ids = generate_leads(&mut db, 3, &overrides, DEMO_START).unwrap_or_default();
        assert_eq!(ids, vec![1, 2, 3]);
        assert!(db.leads.values().all(|l| l.values.get("region") == Some(&json!("TEST"))));
        assert_eq!(db.leads[&3].values.get("externalLeadId"), Some(&json!("EXT-000003")));
        let bad = Map::from_iter([("nope".to_string(), json!(1))]);
        assert_eq!(generate_leads(&mut db, 1, &bad, DEMO_START), Err(MktoError::field_not_found("nope")));
    }
}
