//! The Salesforce connector against the in-process Salesforce simulator.

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use sluice_connectors::salesforce::client::{
    ClientApp, RecordResult, SalesforceClient, TokenKeeper, Tokens, WriteOperation,
};
use sluice_connectors::salesforce::SalesforceConnector;
use sluice_connectors::{ConnectorError, ConnectorSettings, CredentialsKeeper, DynError, ProfileInput, Registry};
use sluice_model::appflow::{ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType};
use sluice_model::wire::SecretString;
use sluice_sim::salesforce::state::{SimConfig, DEMO_CLIENT_ID, DEMO_USERNAME};
use sluice_sim::salesforce::{seed, SalesforceSim};

async fn start(config: SimConfig) -> (SalesforceSim, String) {
    let sim = SalesforceSim::new(seed::demo_org(), config, None);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    sim.set_base_url(base.clone());
    tokio::spawn(sluice_sim::server::serve(listener, sim.router(), None, std::future::pending()));
    (sim, base)
}

/// An access token and a refresh token for the demo user, as a login would give.
fn login(sim: &SalesforceSim) -> Tokens {
    let mut state = sim.lock();
    let user = state.users[DEMO_USERNAME].clone();
    let access = state.new_session(&user);
    let refresh = state.new_refresh_token(DEMO_USERNAME, DEMO_CLIENT_ID);
    Tokens { access_token: Some(SecretString::new(access)), refresh_token: Some(SecretString::new(refresh)) }
}

fn client(base: &str, tokens: Tokens) -> SalesforceClient {
    let app = ClientApp { client_id: DEMO_CLIENT_ID.into(), client_secret: None };
    SalesforceClient::new(SalesforceConnector::default().http().clone(), base, Some(app), tokens)
}

#[tokio::test]
async fn the_registered_connector_checks_lists_and_describes() {
    let (sim, base) = start(SimConfig::default()).await;
    let tokens = login(&sim);
    let properties: ConnectorProfileProperties =
        serde_json::from_value(json!({"Salesforce": {"instanceUrl": base}})).unwrap();
    let credentials: ConnectorProfileCredentials =
        serde_json::from_value(json!({"Salesforce": {"accessToken": tokens.access_token.unwrap().expose()}})).unwrap();
    let connector = Registry::new(&local_settings()).connector(ConnectorType::Salesforce).unwrap();
    connector.check_connection(ProfileInput::new(&properties, Some(&credentials))).await.unwrap();
    let entities = connector.list_entities(ProfileInput::new(&properties, Some(&credentials))).await.unwrap();
    let names: Vec<&str> = entities.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"Account") && names.contains(&"Holiday__c") && names.contains(&"Holiday_Event__e"),
        "{names:?}"
    );
    let fields = connector.describe_entity(ProfileInput::new(&properties, Some(&credentials)), "Lead").await.unwrap();
    let last_name = fields.iter().find(|f| f.name == "LastName").unwrap();
    assert_eq!((last_name.data_type.as_str(), last_name.nullable), ("string", false));
    let bad: ConnectorProfileCredentials =
        serde_json::from_value(json!({"Salesforce": {"accessToken": "nope"}})).unwrap();
    match connector.check_connection(ProfileInput::new(&properties, Some(&bad))).await.unwrap_err() {
        DynError::Connector(ConnectorError::ReauthRequired(message)) => {
            assert!(message.contains("no refresh token"), "{message}")
        }
        other => panic!("expected ReauthRequired, got {other}"),
    }
}

#[tokio::test]
async fn the_servers_connected_app_refreshes_and_renewed_credentials_reach_the_owner() {
    let (sim, base) = start(SimConfig { rotate_refresh_tokens: true, ..SimConfig::default() }).await;
    let tokens = login(&sim);
    sim.lock().sessions.clear();
    let properties: ConnectorProfileProperties =
        serde_json::from_value(json!({"Salesforce": {"instanceUrl": base}})).unwrap();
    let credentials: ConnectorProfileCredentials = serde_json::from_value(json!({"Salesforce": {
        "accessToken": tokens.access_token.unwrap().expose(),
        "refreshToken": tokens.refresh_token.as_ref().unwrap().expose(),
        "oAuth2GrantType": "AUTHORIZATION_CODE"}}))
    .unwrap();
    let input = ProfileInput::new(&properties, Some(&credentials));
    // Without a connected app the expired session cannot be renewed.
    let bare = Registry::new(&local_settings()).connector(ConnectorType::Salesforce).unwrap();
    match bare.list_entities(input).await.unwrap_err() {
        DynError::Connector(ConnectorError::ReauthRequired(message)) => {
            assert!(message.contains("no connected app"), "{message}")
        }
        other => panic!("expected ReauthRequired, got {other}"),
    }
    let settings = ConnectorSettings {
        salesforce_app: Some(ClientApp { client_id: DEMO_CLIENT_ID.into(), client_secret: None }),
        ..local_settings()
    };
    let connector = Registry::new(&settings).connector(ConnectorType::Salesforce).unwrap();
    let kept = Arc::new(Kept::default());
    let keeper: Arc<dyn CredentialsKeeper> = kept.clone();
    let entities = connector.list_entities(input.kept_by(&keeper)).await.unwrap();
    assert!(entities.iter().any(|e| e.name == "Account"));
    let renewed = kept.renewed.lock().unwrap().clone();
    assert_eq!(renewed.len(), 1);
    let salesforce = renewed[0].salesforce.as_ref().unwrap();
    let rotated = salesforce.refresh_token.as_deref().unwrap();
    assert_ne!(rotated, tokens.refresh_token.unwrap().expose(), "the rotated refresh token is handed over");
    assert_eq!(salesforce.o_auth2_grant_type.map(|g| g.as_str()), Some("AUTHORIZATION_CODE"), "other fields kept");
    assert!(sim.lock().session(salesforce.access_token.as_ref().unwrap().expose()).is_some());
}

#[tokio::test]
async fn queries_page_through_every_record() {
    let (sim, base) = start(SimConfig::default()).await;
    seed::generate_leads(&mut sim.lock().org, 5000);
    let client = client(&base, login(&sim));
    let mut pager = client.query("SELECT Id, LastName FROM Lead", false);
    let mut ids = std::collections::HashSet::new();
    let mut pages = 0;
    while let Some(page) = pager.next_page().await.unwrap() {
        pages += 1;
        assert!(page.len() <= 2000);
        for record in page {
            assert!(!record.contains_key("attributes"));
            ids.insert(record["Id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!((ids.len(), pages, pager.total_size()), (7000, 4, Some(7000)));
    let error = client.query("SELECT Nope FROM Lead", false).next_page().await.unwrap_err();
    assert!(
        matches!(error, ConnectorError::Remote { ref code, status: 400, .. } if code == "INVALID_FIELD"),
        "{error}"
    );
}

#[tokio::test]
async fn expired_sessions_refresh_and_rotated_tokens_are_handed_over() {
    let (sim, base) = start(SimConfig { rotate_refresh_tokens: true, ..SimConfig::default() }).await;
    let tokens = login(&sim);
    let first_refresh = tokens.refresh_token.clone().unwrap();
    let keeper = Arc::new(Kept::default());
    let client = client(&base, tokens).with_token_keeper(keeper.clone());
    client.limits().await.unwrap();
    sim.lock().sessions.clear();
    // Two calls refused at once refresh once: the second sees the new token
    // (with rotation, refreshing twice with the same refresh token would fail).
    let (a, b) = tokio::join!(client.limits(), client.limits());
    a.expect("refreshes and retries");
    b.expect("uses the token the other call refreshed");
    let rotated: Vec<String> = keeper
        .renewed
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.salesforce.as_ref().unwrap().refresh_token.clone().unwrap())
        .collect();
    assert_eq!(rotated.len(), 1, "one refresh for two refused calls");
    assert_ne!(rotated[0], first_refresh.expose(), "the rotated refresh token is handed over");
    // The old refresh token is revoked: a client still holding it must re-authorize.
    let stale = self::client(&base, Tokens { access_token: None, refresh_token: Some(first_refresh) })
        .with_token_keeper(keeper.clone());
    assert!(
        matches!(stale.limits().await.unwrap_err(), ConnectorError::ReauthRequired(m) if m.starts_with("invalid_grant"))
    );
    let refused = keeper.refused.lock().unwrap().clone();
    assert!(refused.len() == 1 && refused[0].starts_with("invalid_grant"), "the keeper hears of it: {refused:?}");
}

/// Records what a keeper is told.
#[derive(Default)]
struct Kept {
    renewed: Mutex<Vec<ConnectorProfileCredentials>>,
    refused: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl CredentialsKeeper for Kept {
    async fn renewed(&self, credentials: ConnectorProfileCredentials) {
        self.renewed.lock().unwrap().push(credentials);
    }
    async fn refused(&self, reason: &str) {
        self.refused.lock().unwrap().push(reason.to_string());
    }
}

#[async_trait::async_trait]
impl TokenKeeper for Kept {
    async fn refreshed(&self, tokens: Tokens) {
        let salesforce = sluice_model::appflow::SalesforceConnectorProfileCredentials {
            refresh_token: tokens.refresh_token.map(|t| t.expose().to_string()),
            ..Default::default()
        };
        self.renewed
            .lock()
            .unwrap()
            .push(ConnectorProfileCredentials { salesforce: Some(salesforce), ..Default::default() });
    }
    async fn refused(&self, reason: &str) {
        self.refused.lock().unwrap().push(reason.to_string());
    }
}

#[tokio::test]
async fn collection_writes_report_each_record() {
    let (sim, base) = start(SimConfig::default()).await;
    let client = client(&base, login(&sim));
    let record = |value: Value| -> Map<String, Value> { value.as_object().unwrap().clone() };
    let upsert = WriteOperation::Upsert { external_id_field: "External_Id__c".into() };
    let results = client
        .write_collection(
            "Holiday__c",
            &upsert,
            &[
                record(json!({"External_Id__c": "HOL-0001", "Status__c": "Applied"})),
                record(json!({"External_Id__c": "NEW-1", "Name": "New one"})),
                record(json!({"External_Id__c": "NEW-2", "Name": "x".repeat(300)})),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        results.iter().map(|r| (r.success, r.created)).collect::<Vec<_>>(),
        [(true, Some(false)), (true, Some(true)), (false, None)]
    );
    assert!(results[2].errors[0].starts_with("STRING_TOO_LONG: "), "{:?}", results[2]);
    let inserted: Vec<RecordResult> = client
        .write_collection(
            "Contact",
            &WriteOperation::Insert,
            &[record(json!({"LastName": "A"})), record(json!({"FirstName": "B"}))],
        )
        .await
        .unwrap();
    assert!(inserted[0].success && !inserted[1].success);
    let id = inserted[0].id.clone().unwrap();
    let deleted =
        client.write_collection("Contact", &WriteOperation::Delete, &[record(json!({"Id": id}))]).await.unwrap();
    assert!(deleted[0].success);
    let too_many: Vec<Map<String, Value>> = (0..201).map(|_| record(json!({"LastName": "x"}))).collect();
    assert!(matches!(
        client.write_collection("Contact", &WriteOperation::Insert, &too_many).await,
        Err(ConnectorError::Protocol { .. })
    ));
}

#[tokio::test]
async fn bulk_query_pages_csv_and_bulk_ingest_reports_failures() {
    let (sim, base) = start(SimConfig::default()).await;
    let client = client(&base, login(&sim));
    let mut pages = client.bulk_query("SELECT Id, LastName FROM Lead ORDER BY LastName", false).await.unwrap();
    assert_eq!(pages.record_count(), Some(2000));
    let mut rows = 0;
    let mut count = 0;
    while let Some(csv) = pages.next_page(750).await.unwrap() {
        assert!(csv.starts_with("\"Id\",\"LastName\"\n"), "{}", &csv[..40]);
        rows += csv.lines().count() - 1;
        count += 1;
    }
    assert_eq!((rows, count), (2000, 3));
    let csv = "External_Id__c,Name\nBULK-1,First\nBULK-2,Second\nBULK-3,".to_string() + &"x".repeat(300) + "\n";
    let upsert = WriteOperation::Upsert { external_id_field: "External_Id__c".into() };
    let outcome = client.bulk_ingest("Holiday__c", &upsert, csv.into_bytes()).await.unwrap();
    assert_eq!((outcome.records_processed, outcome.records_failed), (3, 1));
    assert!(outcome.failed_csv.contains("STRING_TOO_LONG"), "{}", outcome.failed_csv);
    let bad = client.bulk_ingest("Nope__c", &WriteOperation::Insert, b"Name\nx\n".to_vec()).await.unwrap_err();
    assert!(matches!(bad, ConnectorError::Remote { ref code, .. } if code == "INVALIDJOB"), "{bad}");
}

#[tokio::test]
async fn bulk_ingest_takes_uploads_of_several_megabytes() {
    let (sim, base) = start(SimConfig::default()).await;
    let client = client(&base, login(&sim));
    let mut csv = String::from("LastName,Company,Description\n");
    for i in 0..30_000 {
        csv.push_str(&format!("Lead{i},Company {i},{}\n", "d".repeat(100)));
    }
    assert!(csv.len() > 2 * 1024 * 1024, "over axum's default 2 MB body limit");
    let outcome = client.bulk_ingest("Lead", &WriteOperation::Insert, csv.into_bytes()).await.unwrap();
    assert_eq!((outcome.records_processed, outcome.records_failed), (30_000, 0));
}

/// Settings for connectors that talk to a simulator on loopback.
fn local_settings() -> ConnectorSettings {
    ConnectorSettings { outbound: sluice_connectors::OutboundGuard::allowing_private(), ..ConnectorSettings::default() }
}
