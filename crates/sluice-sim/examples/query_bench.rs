//! Benchmark: reading N generated Leads through the simulator's REST query
//! API (`/query` + `nextRecordsUrl`, 2,000 records a page), against a
//! baseline in the same run: the same client reading the same number of
//! records from an endpoint that returns one pre-rendered page over and
//! over (HTTP + JSON parsing cost only, no query work).
//!
//! `cargo run --release -p sluice-sim --example query_bench -- [LEADS]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::routing::get;
use serde_json::Value;
use sluice_sim::salesforce::org::Org;
use sluice_sim::salesforce::state::SimConfig;
use sluice_sim::salesforce::{seed, SalesforceSim};

const QUERY: &str = "SELECT Id, FirstName, LastName, Email, Company, Status, CreatedDate FROM Lead";

/// What the benchmark client keeps of a query page.
#[derive(serde::Deserialize)]
struct PageSummary {
    #[serde(rename = "nextRecordsUrl")]
    next_records_url: Option<String>,
    records: Vec<serde::de::IgnoredAny>,
}

async fn fetch_all(client: &reqwest::Client, base: &str, token: &str, first_path: &str) -> (usize, usize) {
    let mut records = 0;
    let mut bytes = 0;
    let mut next = Some(first_path.to_string());
    while let Some(path) = next {
        let body = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
            .bytes()
            .await
            .expect("body");
        bytes += body.len();
        // Every record is parsed (so malformed JSON fails the run) but not kept.
        let page: PageSummary = serde_json::from_slice(&body).expect("json");
        records += page.records.len();
        next = page.next_records_url;
    }
    (records, bytes)
}

#[tokio::main]
async fn main() {
    let leads: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let sim = SalesforceSim::new(Org::new(), SimConfig { daily_api_requests: u64::MAX, ..SimConfig::default() }, None);
    let started = Instant::now();
    seed::generate_leads(&mut sim.lock().org, leads);
    eprintln!("generated {leads} leads in {:.1}s", started.elapsed().as_secs_f64());

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    sim.set_base_url(base.clone());
    let token = {
        let mut state = sim.lock();
        let user = state.users.values().next().cloned().expect("demo user");
        state.new_session(&user)
    };
    // Baseline endpoint: the first page of the real query, pre-rendered,
    // served with a nextRecordsUrl until as many records were returned.
    // Two renderings of that page: one pointing at the next page, one final.
    let rendered: Arc<RwLock<(Vec<u8>, Vec<u8>)>> = Arc::default();
    let served = Arc::new(AtomicUsize::new(0));
    let pages = leads.div_ceil(2000);
    let (template, counter) = (rendered.clone(), served.clone());
    let baseline = axum::Router::new().route(
        "/baseline",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let pages_bytes = template.read().expect("template");
            let body = if n < pages { pages_bytes.0.clone() } else { pages_bytes.1.clone() };
            async move { body }
        }),
    );
    let app = sim.router().merge(baseline);
    listener.set_nonblocking(true).expect("nonblocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let first_page: Value = client
        .get(format!("{base}/services/data/v62.0/query?q={}", urlencode(QUERY)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("first page")
        .json()
        .await
        .expect("json");
    let mut with_next = first_page.clone();
    with_next["nextRecordsUrl"] = Value::from("/baseline");
    let mut last = first_page;
    last.as_object_mut().expect("page object").remove("nextRecordsUrl");
    *rendered.write().expect("template") =
        (serde_json::to_vec(&with_next).expect("render"), serde_json::to_vec(&last).expect("render"));

    let started = Instant::now();
    let (baseline_records, baseline_bytes) = fetch_all(&client, &base, &token, "/baseline").await;
    let baseline_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let (records, bytes) =
        fetch_all(&client, &base, &token, &format!("/services/data/v62.0/query?q={}", urlencode(QUERY))).await;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(records, leads, "every lead must come back");

    println!("| run | records | MB | seconds | records/s |");
    println!("|---|---|---|---|---|");
    println!(
        "| baseline: the same page, pre-rendered | {baseline_records} | {:.0} | {baseline_secs:.2} | {:.0} |",
        baseline_bytes as f64 / 1e6,
        baseline_records as f64 / baseline_secs
    );
    println!(
        "| simulator: SOQL query + nextRecordsUrl | {records} | {:.0} | {secs:.2} | {:.0} |",
        bytes as f64 / 1e6,
        records as f64 / secs
    );
}

fn urlencode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
