//! One behaviour suite for every store backend.
//!
//! SQLite runs always. PostgreSQL runs when `SLUICE_TEST_POSTGRES_URL` is set
//! (each test gets a fresh database); when it is not set the PostgreSQL tests
//! fail if `SLUICE_REQUIRE_SERVICES=1` (as in CI) and are skipped otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use sluice_store::*;

mod common;

fn profile(name: &str, connector_type: &str) -> ProfileRecord {
    ProfileRecord {
        name: name.to_string(),
        arn: format!("arn:aws:appflow:us-east-1:123456789012:connectorprofile/{name}"),
        connector_type: connector_type.to_string(),
        connector_label: None,
        connection_mode: "Public".into(),
        properties: json!({connector_type: {"instanceUrl": "https://x"}}),
        sealed_credentials: Some("{\"v\":1}".into()),
        created_at_ms: 1_000,
        updated_at_ms: 1_000,
        auth_error: None,
    }
}

fn flow(name: &str, profiles: &[&str]) -> FlowRecord {
    FlowRecord {
        name: name.to_string(),
        arn: format!("arn:aws:appflow:us-east-1:123456789012:flow/{name}"),
        status: "Active".into(),
        definition: json!({"flowName": name, "tasks": []}),
        profile_names: profiles.iter().map(|p| p.to_string()).collect(),
        created_at_ms: 2_000,
        updated_at_ms: 2_000,
    }
}

fn execution(flow: &str, id: &str, started: i64) -> ExecutionRow {
    ExecutionRow {
        execution_id: id.to_string(),
        flow_name: flow.to_string(),
        status: "InProgress".into(),
        record: json!({"executionId": id}),
        started_at_ms: started,
        updated_at_ms: started,
    }
}

async fn profiles_round_trip_and_conflict(store: Arc<dyn MetadataStore>) {
    let p = profile("sf", "Salesforce");
    store.create_profile(&p).await.unwrap();
    assert_eq!(store.get_profile("sf").await.unwrap(), Some(p.clone()));
    let err = store.create_profile(&p).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let mut changed = p.clone();
    changed.updated_at_ms = 5_000;
    changed.properties = json!({"Salesforce": {"instanceUrl": "https://y"}});
    store.update_profile(&changed).await.unwrap();
    assert_eq!(store.get_profile("sf").await.unwrap(), Some(changed));
    assert!(matches!(store.update_profile(&profile("nope", "Salesforce")).await, Err(StoreError::NotFound { .. })));
    store.delete_profile("sf", false).await.unwrap();
    assert_eq!(store.get_profile("sf").await.unwrap(), None);
    assert!(matches!(store.delete_profile("sf", false).await, Err(StoreError::NotFound { .. })));
}

async fn profile_credentials_and_auth_error(store: Arc<dyn MetadataStore>) {
    let p = profile("sf", "Salesforce");
    store.create_profile(&p).await.unwrap();
    store.set_profile_auth_error("sf", Some("invalid_grant: expired")).await.unwrap();
    let marked = store.get_profile("sf").await.unwrap().unwrap();
    assert_eq!(marked.auth_error.as_deref(), Some("invalid_grant: expired"));
    assert_eq!((marked.properties, marked.updated_at_ms), (p.properties.clone(), p.updated_at_ms));
    // New credentials clear the mark and move updated_at forward, even when
    // the clock is behind the stored time.
    store.save_profile_credentials("sf", "{\"v\":2}", 10).await.unwrap();
    let saved = store.get_profile("sf").await.unwrap().unwrap();
    assert_eq!(saved.sealed_credentials.as_deref(), Some("{\"v\":2}"));
    assert_eq!((saved.auth_error, saved.updated_at_ms), (None, 1_001));
    store.save_profile_credentials("sf", "{\"v\":3}", 9_000).await.unwrap();
    assert_eq!(store.get_profile("sf").await.unwrap().unwrap().updated_at_ms, 9_000);
    assert!(matches!(store.save_profile_credentials("nope", "x", 1).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(store.set_profile_auth_error("nope", None).await, Err(StoreError::NotFound { .. })));
}

async fn profiles_page_and_filter(store: Arc<dyn MetadataStore>) {
    for i in 0..5 {
        store.create_profile(&profile(&format!("sf{i}"), "Salesforce")).await.unwrap();
    }
    store.create_profile(&profile("mk", "Marketo")).await.unwrap();
    let mut seen = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let result = store.list_profiles(&ProfileFilter::default(), &page).await.unwrap();
        assert!(result.items.len() <= 2);
        seen.extend(result.items.into_iter().map(|p| p.name));
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ["mk", "sf0", "sf1", "sf2", "sf3", "sf4"]);
    let filter = ProfileFilter { connector_type: Some("Marketo".into()), ..Default::default() };
    let marketo = store.list_profiles(&filter, &PageRequest::first(10)).await.unwrap();
    assert_eq!(marketo.items.len(), 1);
    assert!(marketo.next_cursor.is_none());
    let filter = ProfileFilter { names: vec!["sf3".into(), "sf1".into(), "ghost".into()], ..Default::default() };
    let named = store.list_profiles(&filter, &PageRequest::first(10)).await.unwrap();
    assert_eq!(named.items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["sf1", "sf3"]);
    let both = ProfileFilter {
        names: vec!["sf1".into(), "mk".into()],
        connector_type: Some("Salesforce".into()),
        ..Default::default()
    };
    let page = PageRequest { cursor: Some("sf0".into()), limit: 10 };
    let result = store.list_profiles(&both, &page).await.unwrap();
    assert_eq!(result.items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["sf1"]);
}

async fn flows_reference_profiles(store: Arc<dyn MetadataStore>) {
    let err = store.create_flow(&flow("f1", &["missing"])).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "connector profile", .. }), "{err}");
    assert_eq!(store.get_flow("f1").await.unwrap(), None, "failed create must leave nothing behind");
    store.create_profile(&profile("sf", "Salesforce")).await.unwrap();
    let f = flow("f1", &["sf"]);
    store.create_flow(&f).await.unwrap();
    assert_eq!(store.get_flow("f1").await.unwrap(), Some(f.clone()));
    assert!(matches!(store.create_flow(&f).await, Err(StoreError::AlreadyExists { .. })));
    let err = store.delete_profile("sf", false).await.unwrap_err();
    match err {
        StoreError::ProfileInUse { flows, .. } => assert_eq!(flows, ["f1"]),
        other => panic!("expected ProfileInUse, got {other}"),
    }
    assert!(store.get_profile("sf").await.unwrap().is_some(), "refused delete must keep the profile");
    store.delete_profile("sf", true).await.unwrap();
    assert!(store.get_profile("sf").await.unwrap().is_none());
}

async fn flows_update_list_delete(store: Arc<dyn MetadataStore>) {
    store.create_profile(&profile("a", "Salesforce")).await.unwrap();
    store.create_profile(&profile("b", "Marketo")).await.unwrap();
    for i in 0..7 {
        store.create_flow(&flow(&format!("flow{i}"), &["a"])).await.unwrap();
    }
    let mut f = flow("flow3", &["b"]);
    f.status = "Suspended".into();
    f.updated_at_ms = 9_000;
    store.update_flow(&f).await.unwrap();
    assert_eq!(store.get_flow("flow3").await.unwrap(), Some(f));
    // flow3 no longer uses profile a, so only the others block it.
    match store.delete_profile("a", false).await.unwrap_err() {
        StoreError::ProfileInUse { flows, .. } => assert_eq!(flows.len(), 6),
        other => panic!("{other}"),
    }
    assert!(matches!(store.update_flow(&flow("ghost", &[])).await, Err(StoreError::NotFound { .. })));
    let mut names = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let result = store.list_flows(&page).await.unwrap();
        names.extend(result.items.into_iter().map(|f| f.name));
        match result.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(names, (0..7).map(|i| format!("flow{i}")).collect::<Vec<_>>());
    store.insert_execution(&execution("flow1", "e1", 10)).await.unwrap();
    store.put_tags(&flow("flow1", &[]).arn, &BTreeMap::from([("k".to_string(), "v".to_string())])).await.unwrap();
    store.delete_flow("flow1").await.unwrap();
    assert!(store.get_flow("flow1").await.unwrap().is_none());
    assert!(store.get_execution("flow1", "e1").await.unwrap().is_none(), "executions go with the flow");
    assert!(store.get_tags(&flow("flow1", &[]).arn).await.unwrap().is_empty(), "tags go with the flow");
    assert!(matches!(store.delete_flow("flow1").await, Err(StoreError::NotFound { .. })));
}

async fn executions_most_recent_first(store: Arc<dyn MetadataStore>) {
    store.create_flow(&flow("f", &[])).await.unwrap();
    for (id, t) in [("e1", 100), ("e2", 300), ("e3", 200), ("e4", 300), ("e5", 50)] {
        store.insert_execution(&execution("f", id, t)).await.unwrap();
    }
    store.insert_execution(&execution("other", "x1", 999)).await.unwrap();
    let mut ids = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let result = store.list_executions("f", &page).await.unwrap();
        ids.extend(result.items.into_iter().map(|e| e.execution_id));
        match result.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(ids, ["e4", "e2", "e3", "e1", "e5"]);
    let mut e = execution("f", "e3", 200);
    e.status = "Successful".into();
    e.record = json!({"executionId": "e3", "executionStatus": "Successful"});
    e.updated_at_ms = 400;
    store.update_execution(&e).await.unwrap();
    assert_eq!(store.get_execution("f", "e3").await.unwrap(), Some(e));
    assert!(matches!(store.update_execution(&execution("f", "nope", 1)).await, Err(StoreError::NotFound { .. })));
    let bad = PageRequest { cursor: Some("garbage".into()), limit: 2 };
    assert!(matches!(store.list_executions("f", &bad).await, Err(StoreError::InvalidCursor)));
}

async fn tags_put_overwrite_remove(store: Arc<dyn MetadataStore>) {
    let arn = "arn:aws:appflow:us-east-1:123456789012:flow/t";
    store.put_tags(arn, &BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())])).await.unwrap();
    store.put_tags(arn, &BTreeMap::from([("b".into(), "3".into())])).await.unwrap();
    assert_eq!(
        store.get_tags(arn).await.unwrap(),
        BTreeMap::from([("a".into(), "1".into()), ("b".into(), "3".into())])
    );
    store.remove_tags(arn, &["a".into(), "zz".into()]).await.unwrap();
    assert_eq!(store.get_tags(arn).await.unwrap(), BTreeMap::from([("b".into(), "3".into())]));
    assert!(store.get_tags("arn:other").await.unwrap().is_empty());
}

async fn run_queue_leases(store: Arc<dyn MetadataStore>) {
    store.enqueue_run("e1", "f", 100).await.unwrap();
    store.enqueue_run("e2", "f", 200).await.unwrap();
    let first = store.claim_run("w1", 1_000, 500).await.unwrap().unwrap();
    assert_eq!((first.execution_id.as_str(), first.attempts), ("e1", 1), "oldest first");
    let second = store.claim_run("w2", 1_000, 500).await.unwrap().unwrap();
    assert_eq!(second.execution_id, "e2", "a live lease is not handed out twice");
    assert_eq!(store.claim_run("w3", 1_100, 500).await.unwrap(), None);
    assert!(store.renew_lease("e1", "w1", 1_400, 500).await.unwrap());
    assert!(!store.renew_lease("e1", "w2", 1_400, 500).await.unwrap(), "only the owner renews");
    // e1's lease expires at 1_900; w1 was only slow: nobody claimed it, so it may renew.
    assert!(store.renew_lease("e1", "w1", 2_000, 500).await.unwrap(), "an expired but unclaimed lease renews");
    // w2 dies: its lease on e2 expires at 1_500 and another worker takes the run over.
    let retaken = store.claim_run("w3", 2_000, 500).await.unwrap().unwrap();
    assert_eq!((retaken.execution_id.as_str(), retaken.attempts), ("e2", 2));
    assert!(!store.renew_lease("e2", "w2", 2_000, 500).await.unwrap(), "the dead worker lost it");
    assert!(!store.finish_run("e2", "w2").await.unwrap());
    assert!(!store.cancel_requested("e1").await.unwrap());
    assert!(store.request_cancel("e1").await.unwrap());
    assert!(store.cancel_requested("e1").await.unwrap());
    assert!(!store.release_run("e1", "w2").await.unwrap(), "only the owner releases");
    assert!(store.release_run("e1", "w1").await.unwrap());
    let again = store.claim_run("w4", 2_100, 500).await.unwrap().unwrap();
    assert_eq!((again.execution_id.as_str(), again.attempts), ("e1", 2), "a released run is claimable at once");
    assert!(store.finish_run("e1", "w4").await.unwrap());
    assert!(store.finish_run("e2", "w3").await.unwrap());
    assert!(!store.request_cancel("e1").await.unwrap(), "finished runs leave the queue");
    assert_eq!(store.claim_run("w1", 5_000, 500).await.unwrap(), None);
}

async fn a_run_is_recorded_and_queued_together_or_not_at_all(store: Arc<dyn MetadataStore>) {
    store.create_flow(&flow("f", &[])).await.unwrap();
    store.start_run(&execution("f", "e1", 100), None).await.unwrap();
    assert!(store.get_execution("f", "e1").await.unwrap().is_some());
    let claimed = store.claim_run("w1", 1_000, 500).await.unwrap().unwrap();
    assert_eq!((claimed.execution_id.as_str(), claimed.flow_name.as_str()), ("e1", "f"));
    // The queue insert fails (a queue row with that id is already there):
    // the execution record written before it in the transaction is gone too.
    store.enqueue_run("e2", "f", 50).await.unwrap();
    assert!(store.start_run(&execution("f", "e2", 200), None).await.is_err());
    assert_eq!(store.get_execution("f", "e2").await.unwrap(), None, "no InProgress run without a queue row");
    // The execution insert fails (the id is taken): nothing is queued.
    assert!(store.finish_run("e1", "w1").await.unwrap());
    assert!(store.start_run(&execution("f", "e1", 300), None).await.is_err());
    assert!(!store.request_cancel("e1").await.unwrap(), "e1 was not queued again");
}

async fn triggers_fire_each_occurrence_once_and_keep_their_position(store: Arc<dyn MetadataStore>) {
    store.create_flow(&flow("f", &[])).await.unwrap();
    assert_eq!(store.get_trigger("f").await.unwrap(), None);
    store.schedule_trigger("f", Some(1_000), true, 10).await.unwrap();
    assert!(store.due_triggers(999, 10).await.unwrap().is_empty());
    let due = store.due_triggers(1_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|t| (t.flow_name.as_str(), t.next_fire_ms)).collect::<Vec<_>>(), [("f", Some(1_000))]);
    // Two servers see the same occurrence: the first claim wins, with its run.
    let request = json!({"kind": "Scheduled", "fireMs": 1_000});
    let run = execution("f", "s1", 1_000);
    assert!(store.fire_trigger("f", 1_000, Some(2_000), Some((&run, &request)), 1_001).await.unwrap());
    let other = execution("f", "s2", 1_000);
    assert!(!store.fire_trigger("f", 1_000, Some(2_000), Some((&other, &request)), 1_002).await.unwrap());
    assert_eq!(store.get_execution("f", "s2").await.unwrap(), None, "the losing claim queued nothing");
    assert!(store.run_in_flight("f").await.unwrap());
    let claimed = store.claim_run("w", 1_100, 500).await.unwrap().unwrap();
    assert_eq!((claimed.execution_id.as_str(), claimed.request), ("s1", Some(request)));
    assert!(store.finish_run("s1", "w").await.unwrap());
    assert!(!store.run_in_flight("f").await.unwrap());
    // Outcomes: failures count up; a success moves the position and resets them.
    assert_eq!(store.record_trigger_outcome("f", false, Some(5), None, 1_200).await.unwrap(), 1);
    assert_eq!(store.record_trigger_outcome("f", false, None, None, 1_300).await.unwrap(), 2);
    assert_eq!(store.get_trigger("f").await.unwrap().unwrap().watermark_ms, None, "a failure moves nothing");
    let state = json!({"objects": {"a.csv": 7}});
    assert_eq!(store.record_trigger_outcome("f", true, Some(900), Some(&state), 1_400).await.unwrap(), 0);
    let trigger = store.get_trigger("f").await.unwrap().unwrap();
    assert_eq!(
        (trigger.watermark_ms, trigger.source_state, trigger.next_fire_ms),
        (Some(900), Some(state.clone()), Some(2_000))
    );
    // Stopping keeps the position; deleting the flow removes the trigger.
    store.schedule_trigger("f", None, false, 1_500).await.unwrap();
    let stopped = store.get_trigger("f").await.unwrap().unwrap();
    assert_eq!((stopped.next_fire_ms, stopped.watermark_ms), (None, Some(900)));
    assert!(store.due_triggers(i64::MAX, 10).await.unwrap().is_empty());
    store.delete_flow("f").await.unwrap();
    assert_eq!(store.get_trigger("f").await.unwrap(), None);
}

async fn one_listener_at_a_time_queues_event_runs(store: Arc<dyn MetadataStore>) {
    store.create_flow(&flow("ev", &[])).await.unwrap();
    assert!(!store.claim_listener("ev", "a", 0, 100).await.unwrap(), "no listener for a flow that wants none");
    let since = json!({"sinceMs": 5});
    store.set_listening("ev", true, Some(&since), 5).await.unwrap();
    assert_eq!(store.get_trigger("ev").await.unwrap().unwrap().source_state, Some(since.clone()));
    assert!(store.claim_listener("ev", "a", 10, 100).await.unwrap());
    assert!(!store.claim_listener("ev", "b", 50, 100).await.unwrap(), "a's lease is live");
    assert!(store.claim_listener("ev", "a", 60, 100).await.unwrap(), "a renews");
    let listening = store.listening_flows().await.unwrap();
    assert_eq!(
        listening,
        [ListenerRow {
            account_id: String::new(),
            flow_name: "ev".into(),
            owner: Some("a".into()),
            until_ms: Some(160)
        }]
    );
    // Only the holder queues, one run at a time.
    let request = json!({"kind": "Events", "events": [{"x": 1}], "position": {"replayId": 7}});
    assert!(!store.queue_listener_run("ev", "b", 70, &execution("ev", "e0", 70), &request).await.unwrap());
    assert_eq!(store.get_execution("ev", "e0").await.unwrap(), None);
    assert!(store.queue_listener_run("ev", "a", 70, &execution("ev", "e1", 70), &request).await.unwrap());
    assert!(!store.queue_listener_run("ev", "a", 71, &execution("ev", "e2", 71), &request).await.unwrap());
    let claimed = store.claim_run("w", 80, 500).await.unwrap().unwrap();
    assert_eq!((claimed.execution_id.as_str(), claimed.request.as_ref()), ("e1", Some(&request)));
    assert!(store.finish_run("e1", "w").await.unwrap());
    // An expired lease goes to the next claimant; the old holder can no longer queue.
    assert!(store.claim_listener("ev", "b", 161, 100).await.unwrap());
    assert!(!store.queue_listener_run("ev", "a", 162, &execution("ev", "e3", 162), &request).await.unwrap());
    // A second activation keeps the position; stopping ends the lease.
    store.record_trigger_outcome("ev", true, None, Some(&json!({"replayId": 7})), 170).await.unwrap();
    store.set_listening("ev", true, Some(&since), 180).await.unwrap();
    assert_eq!(store.get_trigger("ev").await.unwrap().unwrap().source_state, Some(json!({"replayId": 7})));
    store.set_listening("ev", false, None, 190).await.unwrap();
    assert!(store.listening_flows().await.unwrap().is_empty());
    assert!(!store.claim_listener("ev", "b", 191, 100).await.unwrap());
    store.release_listener("ev", "b").await.unwrap();
}

async fn concurrent_claims_never_share_a_run(store: Arc<dyn MetadataStore>) {
    for i in 0..20 {
        store.enqueue_run(&format!("run{i:02}"), "f", i).await.unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(run) = store.claim_run(&format!("w{w}"), 1_000, 60_000).await.unwrap() {
                mine.push(run.execution_id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (0..20).map(|i| format!("run{i:02}")).collect::<Vec<_>>());
}

async fn data_survives_reopen(url_dir: tempfile::TempDir) {
    let url = format!("sqlite://{}", url_dir.path().join("meta.db").display());
    {
        let store = open_store(&url).await.unwrap();
        store.create_profile(&profile("keep", "Salesforce")).await.unwrap();
    }
    let store = open_store(&url).await.unwrap();
    assert!(store.get_profile("keep").await.unwrap().is_some());
}

async fn appflow_resources_belong_to_one_account(unscoped: Arc<dyn MetadataStore>) {
    // Something stored before accounts existed is adopted by the first account.
    unscoped.create_profile(&profile("old", "Salesforce")).await.unwrap();
    let (a, b) = (unscoped.for_account("111111111111"), unscoped.for_account("222222222222"));
    assert_eq!((a.account_scope(), b.account_scope()), ("111111111111", "222222222222"));
    assert!(a.get_profile("old").await.unwrap().is_none());
    assert_eq!(a.adopt_unowned("111111111111").await.unwrap(), 1);
    assert!(a.get_profile("old").await.unwrap().is_some());
    assert!(unscoped.get_profile("old").await.unwrap().is_none());

    // The same names in two accounts are two resources.
    for store in [&a, &b] {
        store.create_profile(&profile("sf", "Salesforce")).await.unwrap();
        store.create_flow(&flow("f", &["sf"])).await.unwrap();
    }
    let names = |page: Page<FlowRecord>| page.items.into_iter().map(|f| f.name).collect::<Vec<_>>();
    assert_eq!(names(a.list_flows(&PageRequest::first(10)).await.unwrap()), ["f"]);
    let profiles = b.list_profiles(&ProfileFilter::default(), &PageRequest::first(10)).await.unwrap();
    assert_eq!(profiles.items.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["sf"]);
    b.delete_flow("f").await.unwrap();
    assert!(b.get_flow("f").await.unwrap().is_none());
    assert!(a.get_flow("f").await.unwrap().is_some(), "another account's delete touched nothing");
    assert!(matches!(b.delete_flow("f").await, Err(StoreError::NotFound { .. })));
    // A flow may only use its own account's profiles.
    assert!(matches!(b.create_flow(&flow("g", &["old"])).await, Err(StoreError::NotFound { .. })));

    // Runs: queued per account, claimed from one queue that says whose they are.
    a.start_run(&execution("f", "run-a", 10), None).await.unwrap();
    assert!(b.get_execution("f", "run-a").await.unwrap().is_none());
    assert!(b.list_executions("f", &PageRequest::first(10)).await.unwrap().items.is_empty());
    assert!(!b.run_in_flight("f").await.unwrap());
    assert!(a.run_in_flight("f").await.unwrap());
    let claimed = b.claim_run("w", 20, 1_000).await.unwrap().expect("the queue is shared");
    assert_eq!((claimed.account_id.as_str(), claimed.execution_id.as_str()), ("111111111111", "run-a"));

    // Triggers and listeners likewise.
    a.schedule_trigger("f", Some(50), true, 1).await.unwrap();
    assert!(b.get_trigger("f").await.unwrap().is_none());
    let due = b.due_triggers(100, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|t| (t.account_id.as_str(), t.flow_name.as_str())).collect::<Vec<_>>(),
        [("111111111111", "f")]
    );
    assert!(!b.fire_trigger("f", 50, None, None, 2).await.unwrap(), "b has no trigger of that name");
    assert!(a.fire_trigger("f", 50, None, None, 2).await.unwrap());
    a.set_listening("f", true, None, 3).await.unwrap();
    let listening = b.listening_flows().await.unwrap();
    assert_eq!(listening.iter().map(|l| l.account_id.as_str()).collect::<Vec<_>>(), ["111111111111"]);
    assert!(!b.claim_listener("f", "w", 4, 100).await.unwrap());
    assert!(a.claim_listener("f", "w", 4, 100).await.unwrap());
}

store_suite!(sqlite:
    appflow_resources_belong_to_one_account,
    profiles_round_trip_and_conflict,
    profile_credentials_and_auth_error,
    profiles_page_and_filter,
    flows_reference_profiles,
    flows_update_list_delete,
    executions_most_recent_first,
    tags_put_overwrite_remove,
    run_queue_leases,
    a_run_is_recorded_and_queued_together_or_not_at_all,
    triggers_fire_each_occurrence_once_and_keep_their_position,
    one_listener_at_a_time_queues_event_runs,
    concurrent_claims_never_share_a_run,
);

store_suite!(postgres:
    appflow_resources_belong_to_one_account,
    profiles_round_trip_and_conflict,
    profile_credentials_and_auth_error,
    profiles_page_and_filter,
    flows_reference_profiles,
    flows_update_list_delete,
    executions_most_recent_first,
    tags_put_overwrite_remove,
    run_queue_leases,
    a_run_is_recorded_and_queued_together_or_not_at_all,
    triggers_fire_each_occurrence_once_and_keep_their_position,
    one_listener_at_a_time_queues_event_runs,
    concurrent_claims_never_share_a_run,
);

#[tokio::test]
async fn sqlite_data_survives_reopen() {
    data_survives_reopen(tempfile::tempdir().unwrap()).await;
}

#[tokio::test]
async fn unknown_scheme_is_refused() {
    let err = open_store("mysql://x").await.err().unwrap();
    assert_eq!(err.to_string(), "unsupported store url 'mysql://x': use sqlite://PATH or postgres://...");
}
