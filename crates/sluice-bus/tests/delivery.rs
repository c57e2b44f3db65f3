//! The deliverer with the real store (SQLite, and PostgreSQL when
//! SLUICE_TEST_POSTGRES_URL is set): several servers sharing a store each
//! deliver an event once, a dead server's deliveries are taken over, and
//! retries and dead-letter queues follow the target's policy.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sluice_bus::{Deliverer, DeliveryConfig, EventBusService, FlowStarter, NewEvent, TargetError};
use sluice_model::events::*;
use sluice_net::OutboundGuard;
use sluice_store::test_support::TestDatabase;
use sluice_store::MetadataStore;
use sluice_vault::Vault;

const ACCOUNT: &str = "123456789012";

struct Store {
    store: Arc<dyn MetadataStore>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<TestDatabase>,
}

async fn sqlite() -> Option<Store> {
    let dir = tempfile::tempdir().unwrap();
    let store = sluice_store::open_store(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
    Some(Store { store, _dir: Some(dir), _db: None })
}

async fn postgres() -> Option<Store> {
    let db = TestDatabase::create().await?;
    let store = sluice_store::open_store(&db.url).await.unwrap();
    Some(Store { store, _dir: None, _db: Some(db) })
}

fn service(store: &Arc<dyn MetadataStore>) -> EventBusService {
    EventBusService::new(store.clone(), Arc::new(Vault::from_key([7; 32])), "us-east-1", OutboundGuard::strict())
}

fn config(owner: &str) -> DeliveryConfig {
    DeliveryConfig {
        owner: owner.into(),
        lease: Duration::from_secs(1),
        poll_interval: Duration::from_millis(50),
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..DeliveryConfig::default()
    }
}

fn rule(name: &str, source: &str) -> PutRuleRequest {
    PutRuleRequest {
        name: name.into(),
        event_pattern: Some(json!({"source": [source]}).to_string()),
        schedule_expression: None,
        state: None,
        description: None,
        role_arn: None,
        tags: None,
        event_bus_name: None,
    }
}

fn target(id: &str, arn: &str) -> Target {
    serde_json::from_value(json!({"Id": id, "Arn": arn})).unwrap()
}

/// A rule on the default bus sending `source` events to a new queue.
async fn rule_to_queue(bus: &EventBusService, source: &str, queue: &str) {
    bus.queues().create_queue(ACCOUNT, queue, BTreeMap::new(), BTreeMap::new()).await.unwrap();
    bus.put_rule(ACCOUNT, ACCOUNT, rule(&format!("to-{queue}"), source)).await.unwrap();
    let answer = bus
        .put_targets(
            ACCOUNT,
            PutTargetsRequest {
                rule: format!("to-{queue}"),
                event_bus_name: None,
                targets: vec![target("q", &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{queue}"))],
            },
        )
        .await
        .unwrap();
    assert_eq!(answer.failed_entry_count, Some(0), "{answer:?}");
}

fn event(source: &str, n: usize) -> NewEvent {
    NewEvent {
        source: source.into(),
        detail_type: "Item".into(),
        detail: json!({"n": n}),
        resources: vec![],
        time_ms: None,
    }
}

/// Event ids in a queue (all of its messages).
async fn queued_ids(bus: &EventBusService, queue: &str) -> Vec<String> {
    bus.queues()
        .peek(ACCOUNT, queue, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|m| {
            let body: serde_json::Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            body["id"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn wait_for(mut done: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn run(deliverer: Deliverer) -> tokio::sync::watch::Sender<bool> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(deliverer.run_until(async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    stop
}

async fn two_servers_deliver_each_event_once(store: Arc<dyn MetadataStore>) {
    let (a, b) = (service(&store), service(&store));
    rule_to_queue(&a, "shared", "inbox").await;
    let stop_a = run(Deliverer::new(a.clone(), None, config("server-a")));
    let stop_b = run(Deliverer::new(b.clone(), None, config("server-b")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut ids = HashSet::new();
    for round in 0..30 {
        let bus = if round % 2 == 0 { &a } else { &b };
        ids.extend(bus.publish(ACCOUNT, None, (0..10).map(|n| event("shared", n)).collect()).await.unwrap());
    }
    wait_for(async || queued_ids(&a, "inbox").await.len() >= 300, "300 deliveries").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = queued_ids(&a, "inbox").await;
    assert_eq!(delivered.len(), 300, "an event was delivered twice");
    assert_eq!(delivered.into_iter().collect::<HashSet<_>>(), ids);
    assert_eq!(store.pending_deliveries(None).await.unwrap(), 0);
    let _ = (stop_a.send(true), stop_b.send(true));
}

async fn a_dead_servers_deliveries_are_taken_over(store: Arc<dyn MetadataStore>) {
    let (dead, alive) = (service(&store), service(&store));
    rule_to_queue(&dead, "orphans", "rescued").await;
    // The dead server leased its events to itself and never delivered them.
    let (sender, _held) = tokio::sync::mpsc::channel(1000);
    dead.attach_deliverer("server-dead", sender, Duration::from_millis(700));
    let ids: HashSet<String> = dead
        .publish(ACCOUNT, None, (0..20).map(|n| event("orphans", n)).collect())
        .await
        .unwrap()
        .into_iter()
        .collect();
    let stop = run(Deliverer::new(alive.clone(), None, config("server-alive")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(queued_ids(&alive, "rescued").await.is_empty(), "taken before the lease expired");
    wait_for(async || queued_ids(&alive, "rescued").await.len() >= 20, "the takeover").await;
    assert_eq!(queued_ids(&alive, "rescued").await.into_iter().collect::<HashSet<_>>(), ids);
    let _ = stop.send(true);
}

/// Fails the first `failures` starts (retryably), then starts.
struct FlakyFlows {
    failures: usize,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl FlowStarter for FlakyFlows {
    async fn start_flow(&self, _account: &str, flow: &str) -> Result<String, TargetError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call < self.failures {
            return Err(TargetError::new("THROTTLING", format!("{flow} is busy"), true));
        }
        Ok(format!("run-{call}"))
    }
}

async fn flow_rule(bus: &EventBusService, name: &str, retries: i32) {
    bus.put_rule(ACCOUNT, ACCOUNT, rule(name, name)).await.unwrap();
    let mut t = target("flow", &format!("arn:aws:appflow:us-east-1:{ACCOUNT}:flow/{name}-flow"));
    t.retry_policy = Some(RetryPolicy { maximum_retry_attempts: Some(retries), maximum_event_age_in_seconds: None });
    t.dead_letter_config = Some(DeadLetterConfig { arn: Some(format!("arn:aws:sqs:us-east-1:{ACCOUNT}:dlq")) });
    bus.put_targets(ACCOUNT, PutTargetsRequest { rule: name.into(), event_bus_name: None, targets: vec![t] })
        .await
        .unwrap();
}

async fn retries_follow_the_policy_then_dead_letter(store: Arc<dyn MetadataStore>) {
    let bus = service(&store);
    bus.queues().create_queue(ACCOUNT, "dlq", BTreeMap::new(), BTreeMap::new()).await.unwrap();
    flow_rule(&bus, "busy", 5).await;
    flow_rule(&bus, "hopeless", 2).await;

    let flaky = Arc::new(FlakyFlows { failures: 3, calls: AtomicUsize::new(0) });
    let stop = run(Deliverer::new(bus.clone(), Some(flaky.clone()), config("server-r")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    bus.publish(ACCOUNT, None, vec![event("busy", 1)]).await.unwrap();
    wait_for(async || flaky.calls.load(Ordering::SeqCst) >= 4, "three retries and a start").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 4, "started again after it succeeded");
    assert!(bus.queues().peek(ACCOUNT, "dlq", 10).await.unwrap().is_empty());
    let _ = stop.send(true);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Always failing with two retries allowed: three attempts, then the dead-letter queue.
    let always = Arc::new(FlakyFlows { failures: usize::MAX, calls: AtomicUsize::new(0) });
    let bus = service(&store);
    let stop = run(Deliverer::new(bus.clone(), Some(always.clone()), config("server-r2")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    bus.publish(ACCOUNT, None, vec![event("hopeless", 2)]).await.unwrap();
    wait_for(async || !bus.queues().peek(ACCOUNT, "dlq", 10).await.unwrap().is_empty(), "the dead letter").await;
    assert_eq!(always.calls.load(Ordering::SeqCst), 3);
    let dead = bus.dead_letters(ACCOUNT, "dlq", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].error_code.as_deref(), Some("THROTTLING"));
    assert!(dead[0].rule_arn.as_deref().unwrap().ends_with(":rule/hopeless"));
    assert_eq!(dead[0].event["detail"], json!({"n": 2}));
    let _ = stop.send(true);
}

async fn scheduled_rules_fire_once_per_occurrence_across_servers(store: Arc<dyn MetadataStore>) {
    let (a, b) = (service(&store), service(&store));
    a.queues().create_queue(ACCOUNT, "ticks", BTreeMap::new(), BTreeMap::new()).await.unwrap();
    let mut tick = rule("tick", "unused");
    tick.event_pattern = None;
    tick.schedule_expression = Some("rate(1 minute)".into());
    a.put_rule(ACCOUNT, ACCOUNT, tick).await.unwrap();
    a.put_targets(
        ACCOUNT,
        PutTargetsRequest {
            rule: "tick".into(),
            event_bus_name: None,
            targets: vec![target("q", &format!("arn:aws:sqs:us-east-1:{ACCOUNT}:ticks"))],
        },
    )
    .await
    .unwrap();
    let stored = store.get_rule(ACCOUNT, "default", "tick").await.unwrap().unwrap();
    let due = stored.next_fire_ms.expect("an enabled schedule has a next occurrence");
    assert!(due > stored.created_at_ms && due <= stored.created_at_ms + 60_000);
    assert_eq!(a.fire_due_schedules().await.unwrap(), 0, "not due yet");
    // Make the occurrence due now; both servers look at once.
    let past = sluice_bus::buses::now_ms() - 10;
    assert!(store.claim_rule_schedule(ACCOUNT, "default", "tick", due, Some(past)).await.unwrap());
    let (fired_a, fired_b) = tokio::join!(a.fire_due_schedules(), b.fire_due_schedules());
    assert_eq!(fired_a.unwrap() + fired_b.unwrap(), 1, "one server fires an occurrence");
    let next = store.get_rule(ACCOUNT, "default", "tick").await.unwrap().unwrap().next_fire_ms.unwrap();
    assert!(next > sluice_bus::buses::now_ms(), "the next occurrence is in the future");
    let stop = run(Deliverer::new(a.clone(), None, config("server-s")));
    wait_for(async || !a.queues().peek(ACCOUNT, "ticks", 10).await.unwrap().is_empty(), "the scheduled event").await;
    let messages = a.queues().peek(ACCOUNT, "ticks", 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    let event: serde_json::Value = serde_json::from_str(messages[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (event["source"].as_str(), event["detail-type"].as_str()),
        (Some("aws.events"), Some("Scheduled Event"))
    );
    assert_eq!(event["resources"], json!([format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/tick")]));
    assert_eq!(event["detail"], json!({}));
    a.set_rule_state(ACCOUNT, None, "tick", RuleState::Disabled).await.unwrap();
    assert_eq!(store.get_rule(ACCOUNT, "default", "tick").await.unwrap().unwrap().next_fire_ms, None);
    let _ = stop.send(true);
}

macro_rules! suite {
    ($backend:ident: $($case:ident),*) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(fixture) = super::$backend().await {
                        super::$case(fixture.store.clone()).await;
                    }
                }
            )*
        }
    };
}

suite!(sqlite: two_servers_deliver_each_event_once, a_dead_servers_deliveries_are_taken_over,
    retries_follow_the_policy_then_dead_letter, scheduled_rules_fire_once_per_occurrence_across_servers);
suite!(postgres: two_servers_deliver_each_event_once, a_dead_servers_deliveries_are_taken_over,
    retries_follow_the_policy_then_dead_letter, scheduled_rules_fire_once_per_occurrence_across_servers);
