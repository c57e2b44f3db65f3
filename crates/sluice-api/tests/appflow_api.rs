//! In-process tests of the AppFlow API: signed requests through the real
//! router and a real SQLite store in a temporary directory.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use sluice_api::{sigv4, AppState};
use sluice_sim::salesforce::state::{SimConfig, DEMO_CLIENT_ID, DEMO_USERNAME};
use sluice_sim::salesforce::SalesforceSim;
use tower::ServiceExt;

const KEY_ID: &str = "SLUITESTKEY";
const SECRET: &str = "test-secret-key";

struct Harness {
    state: AppState,
    store: Arc<dyn sluice_store::MetadataStore>,
    vault: Arc<sluice_vault::Vault>,
    /// The Salesforce org the profiles connect to.
    sim: SalesforceSim,
    /// Its base URL.
    base: String,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    harness_with(SimConfig::default()).await
}

/// A server whose Salesforce connected app is the simulator's demo app.
async fn harness_with(config: SimConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    // The AppFlow view of the server's account, as `sluice serve` builds it.
    let store = sluice_store::open_store(&url).await.unwrap().for_account("123456789012");
    let vault = Arc::new(sluice_vault::Vault::from_key([3u8; 32]));
    let settings = sluice_connectors::ConnectorSettings {
        salesforce_app: Some(sluice_connectors::salesforce::client::ClientApp {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: None,
        }),
        outbound: sluice_connectors::OutboundGuard::allowing_private(),
        ..Default::default()
    };
    let registry = Arc::new(sluice_connectors::Registry::new(&settings));
    let appflow = sluice_service::appflow::AppflowService::new(
        store.clone(),
        vault.clone(),
        registry,
        "us-east-1",
        "123456789012",
    );
    let bus = sluice_bus::EventBusService::new(
        store.clone(),
        vault.clone(),
        "us-east-1",
        sluice_net::OutboundGuard::strict(),
    );
    let identity = sluice_iam::IdentityService::new(store.clone(), vault.clone());
    identity.ensure_account("123456789012", "main", KEY_ID, SECRET).await.unwrap();
    let tables = sluice_tables::TableService::new(store.clone(), "us-east-1");
    let pipes = sluice_pipes::PipeService::new(store.clone(), tables.clone(), bus.clone(), "us-east-1");
    let secrets = sluice_secrets::SecretService::new(store.clone(), vault.clone(), "us-east-1");
    let state = AppState::new(appflow, bus, identity, tables, pipes, secrets);
    let (sim, base) = salesforce_sim(config);
    Harness { state, store, vault, sim, base, _dir: dir }
}

struct Reply {
    status: StatusCode,
    code: Option<String>,
    body: Value,
}

impl Harness {
    async fn send(&self, method: &str, path: &str, body: &Value, secret: Option<&str>) -> Reply {
        let bytes = serde_json::to_vec(body).unwrap();
        let (raw_path, raw_query) = path.split_once('?').unwrap_or((path, ""));
        let mut builder = Request::builder().method(method).uri(path).header("host", "localhost");
        if let Some(secret) = secret {
            let headers = vec![("host".to_string(), "localhost".to_string())];
            let now = time::OffsetDateTime::now_utc();
            for (name, value) in
                sigv4::sign(method, raw_path, raw_query, &headers, &bytes, KEY_ID, secret, "us-east-1", "appflow", now)
            {
                builder = builder.header(name, value);
            }
        }
        let response =
            sluice_api::router(self.state.clone()).oneshot(builder.body(Body::from(bytes)).unwrap()).await.unwrap();
        let status = response.status();
        let code = response.headers().get("x-amzn-ErrorType").map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Reply { status, code, body }
    }

    async fn call(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, &body, Some(SECRET)).await
    }

    /// A CreateConnectorProfile request whose access and refresh tokens
    /// are `secret`, which the org accepts.
    fn salesforce_profile(&self, name: &str, secret: &str) -> Value {
        {
            let mut state = self.sim.lock();
            let user = state.users[DEMO_USERNAME].clone();
            state.add_session(secret.to_string(), &user);
            state.add_refresh_token(secret.to_string(), DEMO_USERNAME, DEMO_CLIENT_ID);
        }
        json!({
            "connectorProfileName": name,
            "connectorType": "Salesforce",
            "connectionMode": "Public",
            "connectorProfileConfig": {
                "connectorProfileProperties": {"Salesforce": {"instanceUrl": self.base}},
                "connectorProfileCredentials": {"Salesforce": {"accessToken": secret, "refreshToken": secret}}
            }
        })
    }

    /// The stored credentials of a profile, opened.
    async fn stored_credentials(&self, name: &str) -> Value {
        let stored = self.store.get_profile(name).await.unwrap().unwrap();
        let sealed = sluice_vault::SealedSecret::from_text(stored.sealed_credentials.as_deref().unwrap()).unwrap();
        let opened = self.vault.open(&sealed, &stored.arn).expect("sealed with the profile ARN as context");
        serde_json::from_slice(&opened).unwrap()
    }
}

fn account_flow(name: &str, profile: &str) -> Value {
    json!({
        "flowName": name,
        "triggerConfig": {"triggerType": "OnDemand"},
        "sourceFlowConfig": {
            "connectorType": "Salesforce",
            "connectorProfileName": profile,
            "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}
        },
        "destinationFlowConfigList": [{
            "connectorType": "S3",
            "destinationConnectorProperties": {"S3": {"bucketName": "out"}}
        }],
        "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}],
        "tags": {"team": "data"}
    })
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_change_nothing() {
    let h = harness().await;
    let unsigned = h.send("POST", "/create-flow", &account_flow("f1", "sf"), None).await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
    assert_eq!(unsigned.code.as_deref(), Some("UnrecognizedClientException"));
    let wrong =
        h.send("POST", "/create-connector-profile", &h.salesforce_profile("sf", "x"), Some("wrong-secret")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.code.as_deref(), Some("InvalidSignatureException"));
    let listed = h.call("/describe-connector-profiles", json!({})).await;
    assert_eq!(listed.body["connectorProfileDetails"], json!([]));
}

#[tokio::test]
async fn credentials_are_sealed_and_never_returned() {
    let h = harness().await;
    let secret = "PLANTED-SECRET-4f1c";
    let created = h.call("/create-connector-profile", h.salesforce_profile("sf", secret)).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let described = h.call("/describe-connector-profiles", json!({"connectorProfileNames": ["sf"]})).await;
    let text = described.body.to_string();
    assert!(!text.contains(secret), "{text}");
    let profile = &described.body["connectorProfileDetails"][0];
    assert_eq!(profile["connectorProfileProperties"]["Salesforce"]["instanceUrl"], h.base);
    assert!(profile["credentialsArn"].as_str().unwrap().starts_with("arn:aws:"));
    let stored = h.store.get_profile("sf").await.unwrap().unwrap();
    assert!(!stored.sealed_credentials.unwrap().contains(secret));
    assert_eq!(h.stored_credentials("sf").await["Salesforce"]["accessToken"], secret);
}

#[tokio::test]
async fn validation_lists_every_problem_in_one_error() {
    let h = harness().await;
    let mut flow = account_flow("bad name", "sf");
    flow["triggerConfig"]["triggerType"] = json!("Sometimes");
    flow["destinationFlowConfigList"][0]["connectorType"] = json!("Zendesk");
    flow["sourceFlowConfig"].as_object_mut().unwrap().remove("connectorProfileName");
    let reply = h.call("/create-flow", flow).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.code.as_deref(), Some("ValidationException"));
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.starts_with("4 validation errors detected: "), "{message}");
    assert!(message.contains("at 'flowName'"), "{message}");
    assert!(message.contains("at 'triggerConfig.triggerType'"), "{message}");
    assert!(message.contains("'Zendesk' is not supported"), "{message}");
    assert!(message.contains("sourceFlowConfig.connectorProfileName is required"), "{message}");
}

#[tokio::test]
async fn flow_lifecycle_with_conflicts_and_missing_resources() {
    let h = harness().await;
    let missing_profile = h.call("/create-flow", account_flow("f1", "sf")).await;
    assert_eq!(missing_profile.code.as_deref(), Some("ResourceNotFoundException"), "{}", missing_profile.body);
    assert_eq!(h.call("/create-connector-profile", h.salesforce_profile("sf", "s")).await.status, StatusCode::OK);
    let created = h.call("/create-flow", account_flow("f1", "sf")).await;
    assert_eq!(created.body["flowStatus"], "Active");
    assert_eq!(created.body["flowArn"], "arn:aws:appflow:us-east-1:123456789012:flow/f1");
    let again = h.call("/create-flow", account_flow("f1", "sf")).await;
    assert_eq!((again.status, again.code.as_deref()), (StatusCode::CONFLICT, Some("ConflictException")));
    let in_use = h.call("/delete-connector-profile", json!({"connectorProfileName": "sf"})).await;
    assert_eq!(in_use.code.as_deref(), Some("ConflictException"));
    let described = h.call("/describe-flow", json!({"flowName": "f1"})).await;
    assert_eq!(described.body["tags"], json!({"team": "data"}));
    assert_eq!(described.body["sourceFlowConfig"]["sourceConnectorProperties"]["Salesforce"]["object"], "Account");
    let arn = "arn%3Aaws%3Aappflow%3Aus-east-1%3A123456789012%3Aflow%2Ff1";
    let tagged = h.send("POST", &format!("/tags/{arn}"), &json!({"tags": {"env": "prod"}}), Some(SECRET)).await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.body);
    let untagged = h.send("DELETE", &format!("/tags/{arn}?tagKeys=team"), &json!({}), Some(SECRET)).await;
    assert_eq!(untagged.status, StatusCode::OK, "{}", untagged.body);
    let tags = h.send("GET", &format!("/tags/{arn}"), &json!({}), Some(SECRET)).await;
    assert_eq!(tags.body["tags"], json!({"env": "prod"}));
    let stop = h.call("/stop-flow", json!({"flowName": "f1"})).await;
    assert_eq!(stop.code.as_deref(), Some("UnsupportedOperationException"));
    assert_eq!(h.call("/delete-flow", json!({"flowName": "f1"})).await.status, StatusCode::OK);
    let gone = h.call("/describe-flow", json!({"flowName": "f1"})).await;
    assert_eq!((gone.status, gone.code.as_deref()), (StatusCode::NOT_FOUND, Some("ResourceNotFoundException")));
    assert_eq!(h.call("/delete-connector-profile", json!({"connectorProfileName": "sf"})).await.status, StatusCode::OK);
}

#[tokio::test]
async fn scheduled_flows_activate_and_suspend() {
    let h = harness().await;
    h.call("/create-connector-profile", h.salesforce_profile("sf", "s")).await;
    let mut flow = account_flow("sched", "sf");
    flow["triggerConfig"] = json!({"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {"scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental"}}});
    assert_eq!(h.call("/create-flow", flow).await.body["flowStatus"], "Draft");
    let started = h.call("/start-flow", json!({"flowName": "sched"})).await;
    assert_eq!(started.body["flowStatus"], "Active");
    assert!(started.body.get("executionId").is_none());
    assert_eq!(h.call("/stop-flow", json!({"flowName": "sched"})).await.body["flowStatus"], "Suspended");
    let stopped_again = h.call("/stop-flow", json!({"flowName": "sched"})).await;
    assert_eq!(stopped_again.code.as_deref(), Some("ConflictException"));
}

#[tokio::test]
async fn unknown_paths_and_bad_json_get_aws_errors() {
    let h = harness().await;
    let unknown = h.call("/no-such-operation", json!({})).await;
    assert_eq!((unknown.status, unknown.code.as_deref()), (StatusCode::NOT_FOUND, Some("UnknownOperationException")));
    let not_object = h.send("POST", "/list-flows", &json!([1, 2]), Some(SECRET)).await;
    assert_eq!(not_object.code.as_deref(), Some("SerializationException"));
    let bad_token = h.call("/list-flows", json!({"nextToken": "garbage"})).await;
    assert_eq!(bad_token.code.as_deref(), Some("ValidationException"));
}

/// A Salesforce simulator on a random local port (plain HTTP).
fn salesforce_sim(config: SimConfig) -> (SalesforceSim, String) {
    let sim = SalesforceSim::new(sluice_sim::salesforce::seed::demo_org(), config, None);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    sim.set_base_url(base.clone());
    tokio::spawn(sluice_sim::server::serve(listener, sim.router(), None, std::future::pending()));
    (sim, base)
}

/// An access token of the org's demo user.
fn session(sim: &SalesforceSim) -> String {
    let mut state = sim.lock();
    let user = state.users[DEMO_USERNAME].clone();
    state.new_session(&user)
}

fn live_profile(name: &str, base: &str, token: &str) -> Value {
    json!({
        "connectorProfileName": name,
        "connectorType": "Salesforce",
        "connectionMode": "Public",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": base}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": token}}
        }
    })
}

#[tokio::test]
async fn connector_entities_are_listed_and_described_live() {
    let h = harness().await;
    let token = session(&h.sim);
    assert_eq!(h.call("/create-connector-profile", live_profile("live", &h.base, &token)).await.status, StatusCode::OK);
    let listed = h.call("/list-connector-entities", json!({"connectorProfileName": "live"})).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let names: Vec<&str> = listed.body["connectorEntityMap"]["Objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Account") && names.contains(&"Holiday__c"), "{names:?}");
    let described = h
        .call(
            "/describe-connector-entity",
            json!({"connectorProfileName": "live", "connectorEntityName": "Holiday__c"}),
        )
        .await;
    assert_eq!(described.status, StatusCode::OK, "{}", described.body);
    let fields = described.body["connectorEntityFields"].as_array().unwrap();
    let external = fields.iter().find(|f| f["identifier"] == "External_Id__c").unwrap();
    assert_eq!(external["supportedFieldTypeDetails"]["v1"]["fieldType"], "string");
    assert_eq!(external["destinationProperties"]["isUpsertable"], true);
    let stamp = fields.iter().find(|f| f["identifier"] == "SystemModstamp").unwrap();
    assert_eq!(stamp["sourceProperties"]["isTimestampFieldForIncrementalQueries"], true);
    let missing = h
        .call("/describe-connector-entity", json!({"connectorProfileName": "live", "connectorEntityName": "Nope__c"}))
        .await;
    assert_eq!(missing.code.as_deref(), Some("ConnectorServerException"), "{}", missing.body);
}

#[tokio::test]
async fn refused_credentials_are_a_connector_authentication_error() {
    let h = harness().await;
    // A profile must connect before it is stored.
    let refused = h.call("/create-connector-profile", live_profile("stale", &h.base, "expired-token")).await;
    assert_eq!(
        (refused.status, refused.code.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("ConnectorAuthenticationException")),
        "{}",
        refused.body
    );
    assert!(!refused.body.to_string().contains("expired-token"), "credentials never appear in errors");
    assert!(h.store.get_profile("stale").await.unwrap().is_none());
    let gone = live_profile("gone", "http://127.0.0.1:9", "t");
    let unreachable = h.call("/create-connector-profile", gone).await;
    assert_eq!(unreachable.code.as_deref(), Some("ConnectorServerException"), "{}", unreachable.body);
    // Credentials that stop working later: entity browsing says so.
    let token = session(&h.sim);
    assert_eq!(
        h.call("/create-connector-profile", live_profile("stale", &h.base, &token)).await.status,
        StatusCode::OK
    );
    h.sim.lock().sessions.clear();
    let reply = h.call("/list-connector-entities", json!({"connectorProfileName": "stale"})).await;
    assert_eq!(
        (reply.status, reply.code.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("ConnectorAuthenticationException"))
    );
    assert!(reply.body["message"].as_str().unwrap().contains("re-authorized"), "{}", reply.body);
    assert!(!reply.body.to_string().contains(&token), "credentials never appear in errors");
    let unknown = h.call("/list-connector-entities", json!({"connectorProfileName": "ghost"})).await;
    assert_eq!(unknown.code.as_deref(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn cancelling_a_queued_run_marks_it_and_asks_the_worker_to_stop() {
    let h = harness().await;
    h.call("/create-connector-profile", h.salesforce_profile("sf", "s")).await;
    h.call("/create-flow", account_flow("f1", "sf")).await;
    let started = h.call("/start-flow", json!({"flowName": "f1"})).await;
    let id = started.body["executionId"].as_str().unwrap().to_string();
    let cancelled = h.call("/cancel-flow-executions", json!({"flowName": "f1", "executionIds": [id, "ghost"]})).await;
    assert_eq!(cancelled.body["invalidExecutions"], json!(["ghost"]));
    let records = h.call("/describe-flow-execution-records", json!({"flowName": "f1"})).await;
    assert_eq!(records.body["flowExecutions"][0]["executionStatus"], "CancelStarted");
    assert!(h.store.cancel_requested(&id).await.unwrap());
}

#[tokio::test]
async fn tokens_renewed_by_the_connection_check_are_the_ones_stored() {
    let h = harness_with(SimConfig { rotate_refresh_tokens: true, ..SimConfig::default() }).await;
    let refresh = h.sim.lock().new_refresh_token(DEMO_USERNAME, DEMO_CLIENT_ID);
    let mut request = live_profile("sf", &h.base, "long-expired");
    request["connectorProfileConfig"]["connectorProfileCredentials"]["Salesforce"]["refreshToken"] = json!(refresh);
    let created = h.call("/create-connector-profile", request).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let stored = h.stored_credentials("sf").await;
    let rotated = stored["Salesforce"]["refreshToken"].as_str().unwrap();
    assert_ne!(rotated, refresh, "the check refreshed and the org rotated the refresh token");
    let state = h.sim.lock();
    assert!(state.refresh_tokens.contains_key(rotated) && !state.refresh_tokens.contains_key(&refresh));
    assert!(state.session(stored["Salesforce"]["accessToken"].as_str().unwrap()).is_some());
}

#[tokio::test]
async fn a_profile_update_is_checked_and_new_credentials_clear_a_reauthorization_mark() {
    let h = harness().await;
    assert_eq!(h.call("/create-connector-profile", h.salesforce_profile("sf", "first")).await.status, StatusCode::OK);
    h.store.set_profile_auth_error("sf", Some("invalid_grant: expired")).await.unwrap();
    let mut broken = h.salesforce_profile("sf", "second");
    broken["connectorProfileConfig"]["connectorProfileProperties"]["Salesforce"]["instanceUrl"] =
        json!("http://127.0.0.1:9");
    broken.as_object_mut().unwrap().remove("connectorType");
    let refused = h.call("/update-connector-profile", broken).await;
    assert_eq!(refused.code.as_deref(), Some("ConnectorServerException"), "{}", refused.body);
    assert_eq!(h.stored_credentials("sf").await["Salesforce"]["accessToken"], "first", "nothing changed");
    let mut update = h.salesforce_profile("sf", "second");
    update.as_object_mut().unwrap().remove("connectorType");
    let updated = h.call("/update-connector-profile", update).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(h.stored_credentials("sf").await["Salesforce"]["accessToken"], "second");
    assert_eq!(h.store.get_profile("sf").await.unwrap().unwrap().auth_error, None);
}
