//! The event bus's and the queues' store behaviour, on every backend (see
//! `common` for how PostgreSQL is found).

use std::sync::Arc;

use serde_json::json;
use sluice_store::*;

mod common;

const ACCOUNT: &str = "123456789012";

fn bus(name: &str) -> BusRow {
    BusRow {
        account_id: ACCOUNT.into(),
        name: name.into(),
        arn: format!("arn:aws:events:us-east-1:{ACCOUNT}:event-bus/{name}"),
        document: json!({"Description": name}),
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

fn rule(bus: &str, name: &str) -> RuleRow {
    RuleRow {
        account_id: ACCOUNT.into(),
        bus_name: bus.into(),
        name: name.into(),
        arn: format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/{bus}/{name}"),
        document: json!({"State": "ENABLED"}),
        created_at_ms: 1,
        updated_at_ms: 1,
        next_fire_ms: None,
    }
}

fn target(bus: &str, rule: &str, id: &str, arn: &str) -> TargetRow {
    TargetRow {
        account_id: ACCOUNT.into(),
        bus_name: bus.into(),
        rule_name: rule.into(),
        target_id: id.into(),
        arn: arn.into(),
        document: json!({"Id": id, "Arn": arn}),
    }
}

fn delivery(id: &str, due: i64) -> DeliveryRow {
    DeliveryRow {
        delivery_id: id.into(),
        account_id: ACCOUNT.into(),
        bus_name: "default".into(),
        rule_name: "r".into(),
        target_id: "t".into(),
        event: json!({"id": id}),
        target: json!({"Arn": "arn:x"}),
        ingested_at_ms: 0,
        attempts: 0,
        next_attempt_ms: due,
        lease_owner: None,
        lease_expires_at_ms: None,
        last_error: None,
    }
}

fn message(id: &str, queue: &str, sent: i64) -> MessageRow {
    MessageRow {
        message_id: id.into(),
        account_id: ACCOUNT.into(),
        queue_name: queue.into(),
        body: format!("body {id}"),
        attributes: json!({}),
        sent_at_ms: sent,
        visible_at_ms: sent,
        receive_count: 0,
        receipt_handle: None,
        first_received_at_ms: None,
    }
}

async fn buses_rules_and_targets(store: Arc<dyn MetadataStore>) {
    store.create_bus(&bus("default")).await.unwrap();
    store.create_bus(&bus("orders_eu")).await.unwrap();
    store.create_bus(&bus("ordersX")).await.unwrap();
    assert!(matches!(store.create_bus(&bus("default")).await, Err(StoreError::AlreadyExists { .. })));
    // `_` in a prefix is a character, not a wildcard.
    let page = store.list_buses(ACCOUNT, "orders_", &PageRequest::first(10)).await.unwrap();
    assert_eq!(page.items.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["orders_eu"]);
    let page = store.list_buses(ACCOUNT, "", &PageRequest::first(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = store.list_buses(ACCOUNT, "", &PageRequest { cursor: page.next_cursor, limit: 2 }).await.unwrap();
    assert_eq!((rest.items.len(), rest.next_cursor), (1, None));
    let mut names: Vec<_> = page.items.iter().chain(&rest.items).map(|b| b.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["default", "ordersX", "orders_eu"]);
    assert!(store.list_buses("999999999999", "", &PageRequest::first(10)).await.unwrap().items.is_empty());

    assert!(matches!(store.put_rule(&rule("missing", "r")).await, Err(StoreError::NotFound { .. })));
    store.put_rule(&rule("default", "r1")).await.unwrap();
    let mut changed = rule("default", "r1");
    changed.document = json!({"State": "DISABLED"});
    store.put_rule(&changed).await.unwrap();
    assert_eq!(store.get_rule(ACCOUNT, "default", "r1").await.unwrap().unwrap().document["State"], "DISABLED");
    store.put_rule(&rule("default", "r2")).await.unwrap();
    store.put_targets(&[target("default", "r1", "a", "arn:q1"), target("default", "r1", "b", "arn:q2")]).await.unwrap();
    store.put_targets(&[target("default", "r2", "a", "arn:q1")]).await.unwrap();
    assert_eq!(store.bus_targets(ACCOUNT, "default").await.unwrap().len(), 3);
    let rules = store.rules_by_target(ACCOUNT, "default", "arn:q1", &PageRequest::first(10)).await.unwrap();
    assert_eq!(rules.items, ["r1", "r2"]);
    let removed = store.remove_targets(ACCOUNT, "default", "r1", &["b".into(), "zz".into()]).await.unwrap();
    assert_eq!(removed, ["b"]);
    assert_eq!(store.list_targets(ACCOUNT, "default", "r1").await.unwrap().len(), 1);
    store.delete_rule(ACCOUNT, "default", "r1").await.unwrap();
    assert!(store.get_rule(ACCOUNT, "default", "r1").await.unwrap().is_none());
    assert_eq!(store.bus_targets(ACCOUNT, "default").await.unwrap().len(), 1);
    // A scheduled rule's occurrence is claimed once.
    let mut scheduled = rule("default", "tick");
    scheduled.next_fire_ms = Some(1000);
    store.put_rule(&scheduled).await.unwrap();
    assert!(store.due_rule_schedules(999, 10).await.unwrap().is_empty());
    assert_eq!(store.due_rule_schedules(1000, 10).await.unwrap()[0].name, "tick");
    assert!(store.claim_rule_schedule(ACCOUNT, "default", "tick", 1000, Some(2000)).await.unwrap());
    assert!(!store.claim_rule_schedule(ACCOUNT, "default", "tick", 1000, Some(2000)).await.unwrap());
    assert_eq!(store.get_rule(ACCOUNT, "default", "tick").await.unwrap().unwrap().next_fire_ms, Some(2000));
    store.delete_bus(ACCOUNT, "default").await.unwrap();
    assert!(store.get_bus(ACCOUNT, "default").await.unwrap().is_none());
    assert!(store.bus_targets(ACCOUNT, "default").await.unwrap().is_empty());
}

async fn deliveries_are_claimed_once_and_retried(store: Arc<dyn MetadataStore>) {
    let rows: Vec<_> = (0..150).map(|i| delivery(&format!("d{i:03}"), 100)).collect();
    store.insert_deliveries(&rows).await.unwrap();
    assert_eq!(store.pending_deliveries(Some(ACCOUNT)).await.unwrap(), 150);
    assert!(store.claim_deliveries("s1", 99, 1000, 500).await.unwrap().is_empty(), "not due yet");
    let first = store.claim_deliveries("s1", 100, 1000, 100).await.unwrap();
    let second = store.claim_deliveries("s2", 100, 1000, 100).await.unwrap();
    assert_eq!((first.len(), second.len()), (100, 50));
    assert!(first.iter().all(|d| !second.iter().any(|e| e.delivery_id == d.delivery_id)));
    // Only the holder finishes or retries.
    assert_eq!(store.finish_deliveries("s2", &[first[0].delivery_id.clone()]).await.unwrap(), 0);
    assert_eq!(store.finish_deliveries("s1", &[first[0].delivery_id.clone()]).await.unwrap(), 1);
    assert!(!store.retry_delivery(&first[1].delivery_id, "s2", 1, 500, "boom").await.unwrap());
    assert!(store.retry_delivery(&first[1].delivery_id, "s1", 1, 500, "boom").await.unwrap());
    // An expired lease is claimed again; a retried one when due.
    let again = store.claim_deliveries("s3", 1101, 1000, 500).await.unwrap();
    assert_eq!(again.len(), 149, "the 148 whose lease expired and the retried one");
    let retried = store.claim_deliveries("s3", 500, 1000, 10).await.unwrap();
    assert!(retried.is_empty(), "s3 holds everything else");
    assert_eq!(store.release_deliveries("s3").await.unwrap(), 149);
    let later = store.claim_deliveries("s4", 1101, 1000, 500).await.unwrap();
    let retried = later.iter().find(|d| d.delivery_id == first[1].delivery_id).unwrap();
    assert_eq!((retried.attempts, retried.last_error.as_deref()), (1, Some("boom")));
    assert_eq!(retried.event, json!({"id": first[1].delivery_id}));
}

async fn concurrent_delivery_claims_never_overlap(store: Arc<dyn MetadataStore>) {
    let rows: Vec<_> = (0..200).map(|i| delivery(&format!("c{i:03}"), 0)).collect();
    store.insert_deliveries(&rows).await.unwrap();
    let mut tasks = Vec::new();
    for owner in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let claimed = store.claim_deliveries(&format!("o{owner}"), 10, 60_000, 7).await.unwrap();
                if claimed.is_empty() {
                    return got;
                }
                got.extend(claimed.into_iter().map(|d| d.delivery_id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (200, 200));
}

async fn bus_resources_round_trip(store: Arc<dyn MetadataStore>) {
    let row = BusResourceRow {
        account_id: ACCOUNT.into(),
        kind: "connection".into(),
        name: "crm".into(),
        arn: "arn:aws:events:us-east-1:123456789012:connection/crm/1".into(),
        document: json!({"AuthorizationType": "API_KEY"}),
        sealed: Some("sealed-blob".into()),
        created_at_ms: 1,
        updated_at_ms: 1,
    };
    store.create_bus_resource(&row).await.unwrap();
    assert!(matches!(store.create_bus_resource(&row).await, Err(StoreError::AlreadyExists { .. })));
    let mut changed = row.clone();
    changed.sealed = None;
    changed.updated_at_ms = 2;
    store.update_bus_resource(&changed).await.unwrap();
    assert_eq!(store.get_bus_resource(ACCOUNT, "connection", "crm").await.unwrap().unwrap(), changed);
    assert!(store.get_bus_resource(ACCOUNT, "api-destination", "crm").await.unwrap().is_none());
    let listed = store.list_bus_resources(ACCOUNT, "connection", "c", &PageRequest::first(5)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    store.delete_bus_resource(ACCOUNT, "connection", "crm").await.unwrap();
    assert!(matches!(store.delete_bus_resource(ACCOUNT, "connection", "crm").await, Err(StoreError::NotFound { .. })));
}

async fn queues_receive_hide_delete_and_redrive(store: Arc<dyn MetadataStore>) {
    for name in ["work", "work-dlq"] {
        store
            .create_queue(&QueueRow {
                account_id: ACCOUNT.into(),
                name: name.into(),
                arn: format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"),
                attributes: json!({"VisibilityTimeout": "30"}),
                created_at_ms: 0,
                updated_at_ms: 0,
            })
            .await
            .unwrap();
    }
    store
        .send_messages(&[message("m1", "work", 10), message("m2", "work", 20), message("m3", "work", 30)])
        .await
        .unwrap();
    let got = store.receive_messages(ACCOUNT, "work", 100, 1000, 2, None).await.unwrap();
    assert_eq!(got.iter().map(|m| m.message_id.as_str()).collect::<Vec<_>>(), ["m1", "m2"]);
    assert!(got.iter().all(|m| m.receive_count == 1 && m.first_received_at_ms == Some(100)));
    let handle = got[0].receipt_handle.clone().unwrap();
    assert_ne!(Some(handle.clone()), got[1].receipt_handle);
    assert_eq!(
        store.queue_counts(ACCOUNT, "work", 100).await.unwrap(),
        QueueCounts { visible: 1, in_flight: 2, delayed: 0 }
    );
    let third = store.receive_messages(ACCOUNT, "work", 100, 1000, 10, None).await.unwrap();
    assert_eq!(third.len(), 1);
    assert!(store.delete_message(ACCOUNT, "work", &handle).await.unwrap());
    assert!(!store.delete_message(ACCOUNT, "work", &handle).await.unwrap());
    // m2 comes back after its visibility timeout, under a new handle; the old one no longer works.
    let old = got[1].receipt_handle.clone().unwrap();
    let again = store.receive_messages(ACCOUNT, "work", 1100, 1000, 1, None).await.unwrap();
    assert_eq!((again[0].message_id.as_str(), again[0].receive_count), ("m2", 2));
    assert!(!store.change_visibility(ACCOUNT, "work", &old, 0).await.unwrap());
    assert!(store.change_visibility(ACCOUNT, "work", again[0].receipt_handle.as_ref().unwrap(), 0).await.unwrap());
    // Received twice already: with maxReceiveCount 2 it moves to the DLQ instead.
    let redrive = Redrive { dead_letter_queue: "work-dlq".into(), max_receive_count: 2 };
    let got = store.receive_messages(ACCOUNT, "work", 1100, 1000, 1, Some(&redrive)).await.unwrap();
    assert_eq!(got.iter().map(|m| (m.message_id.as_str(), m.receive_count)).collect::<Vec<_>>(), [("m3", 2)]);
    let dead = store.peek_messages(ACCOUNT, "work-dlq", 10).await.unwrap();
    assert_eq!((dead.len(), dead[0].message_id.as_str(), dead[0].receive_count), (1, "m2", 0));
    assert_eq!(store.move_messages(ACCOUNT, "work-dlq", "work", &["m2".into()], 1200).await.unwrap(), 1);
    assert_eq!(store.peek_messages(ACCOUNT, "work", 10).await.unwrap().len(), 2);
    assert_eq!(store.expire_messages(ACCOUNT, "work", 25).await.unwrap(), 1, "m2 was sent at 20, m3 at 30");
    assert_eq!(store.purge_queue(ACCOUNT, "work").await.unwrap(), 1);
    store.delete_queue(ACCOUNT, "work").await.unwrap();
    assert!(store.get_queue(ACCOUNT, "work").await.unwrap().is_none());
    let listed = store.list_queues(ACCOUNT, "work", &PageRequest::first(10)).await.unwrap();
    assert_eq!(listed.items.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(), ["work-dlq"]);
}

async fn concurrent_receivers_never_share_a_message(store: Arc<dyn MetadataStore>) {
    store
        .create_queue(&QueueRow {
            account_id: ACCOUNT.into(),
            name: "busy".into(),
            arn: "arn:aws:sqs:us-east-1:123456789012:busy".into(),
            attributes: json!({}),
            created_at_ms: 0,
            updated_at_ms: 0,
        })
        .await
        .unwrap();
    let messages: Vec<_> = (0..120).map(|i| message(&format!("b{i:03}"), "busy", i)).collect();
    store.send_messages(&messages).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store.receive_messages(ACCOUNT, "busy", 1000, 60_000, 10, None).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|m| m.message_id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (120, 120));
}

fn archived(id: &str, time: i64, expires: Option<i64>) -> ArchivedEventRow {
    ArchivedEventRow {
        account_id: ACCOUNT.into(),
        archive_name: "all".into(),
        event_id: id.into(),
        event_time_ms: time,
        archived_at_ms: 100,
        expires_at_ms: expires,
        size_bytes: 10,
        event: json!({"id": id}),
    }
}

async fn archives_keep_events_with_their_deliveries(store: Arc<dyn MetadataStore>) {
    let events = [archived("b", 2000, None), archived("a", 2000, Some(500)), archived("c", 1000, Some(5000))];
    store.insert_routed(&[delivery("d1", 0)], &events).await.unwrap();
    // Written twice (a retried commit): kept once.
    store.insert_routed(&[], &events[..1]).await.unwrap();
    assert_eq!(store.pending_deliveries(None).await.unwrap(), 1);
    assert_eq!(store.archive_totals(ACCOUNT, "all").await.unwrap(), (3, 30));
    let ids = |rows: Vec<ArchivedEventRow>| rows.into_iter().map(|r| r.event_id).collect::<Vec<_>>();
    let all = store.archived_events(ACCOUNT, "all", 0, 10_000, None, 10).await.unwrap();
    assert_eq!(ids(all), ["c", "a", "b"]);
    let after = ArchivePosition { event_time_ms: 2000, event_id: "a".into() };
    assert_eq!(ids(store.archived_events(ACCOUNT, "all", 0, 10_000, Some(&after), 10).await.unwrap()), ["b"]);
    assert_eq!(ids(store.archived_events(ACCOUNT, "all", 1500, 10_000, None, 1).await.unwrap()), ["a"]);
    assert!(store.archived_events(ACCOUNT, "all", 0, 1000, None, 10).await.unwrap().is_empty());
    // Retention: "a" expired at 500; a new retention counts from archiving.
    assert_eq!(store.expire_archived_events(1000, 100).await.unwrap(), 1);
    store.set_archive_retention(ACCOUNT, "all", Some(50)).await.unwrap();
    assert_eq!(store.expire_archived_events(1000, 100).await.unwrap(), 2);
    store.insert_routed(&[], &events).await.unwrap();
    store.set_archive_retention(ACCOUNT, "all", None).await.unwrap();
    assert_eq!(store.expire_archived_events(i64::MAX, 100).await.unwrap(), 0);
    assert_eq!(store.delete_archived_events(ACCOUNT, "all").await.unwrap(), 3);
}

fn replay(name: &str, created: i64) -> ReplayRow {
    ReplayRow {
        account_id: ACCOUNT.into(),
        name: name.into(),
        arn: format!("arn:aws:events:us-east-1:{ACCOUNT}:replay/{name}"),
        archive_name: "all".into(),
        state: "STARTING".into(),
        document: json!({}),
        lease_owner: None,
        lease_expires_at_ms: None,
        created_at_ms: created,
        updated_at_ms: created,
    }
}

async fn replays_are_claimed_by_one_server_and_change_state_by_compare_and_set(store: Arc<dyn MetadataStore>) {
    store.create_replay(&replay("r1", 1)).await.unwrap();
    store.create_replay(&replay("r2", 2)).await.unwrap();
    assert!(matches!(store.create_replay(&replay("r1", 3)).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.active_replays(ACCOUNT).await.unwrap(), 2);
    let claimed = store.claim_replays("s1", 1000, 100, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(store.claim_replays("s2", 1050, 100, 10).await.unwrap().is_empty());
    // A lease past its expiry goes to whoever claims next.
    assert_eq!(store.claim_replays("s2", 1200, 100, 1).await.unwrap()[0].name, "r1");
    let mut r1 = store.get_replay(ACCOUNT, "r1").await.unwrap().unwrap();
    assert_eq!(r1.lease_owner.as_deref(), Some("s2"));
    r1.state = "RUNNING".into();
    assert!(!store.update_replay(&r1, "STARTING", Some("s1")).await.unwrap(), "s1 lost the lease");
    assert!(store.update_replay(&r1, "STARTING", Some("s2")).await.unwrap());
    // A cancel (no owner) wins over a stale progress write.
    let mut cancel = r1.clone();
    cancel.state = "CANCELLING".into();
    assert!(store.update_replay(&cancel, "RUNNING", None).await.unwrap());
    assert!(!store.update_replay(&r1, "RUNNING", Some("s2")).await.unwrap());
    let mut finished = cancel.clone();
    finished.state = "CANCELLED".into();
    finished.lease_owner = None;
    assert!(store.update_replay(&finished, "CANCELLING", Some("s2")).await.unwrap());
    assert_eq!(store.active_replays(ACCOUNT).await.unwrap(), 1);
    let listed = store.list_replays(ACCOUNT, "r", &PageRequest::first(1)).await.unwrap();
    assert_eq!((listed.items[0].name.as_str(), listed.next_cursor.is_some()), ("r1", true));
    assert!(store.get_replay(ACCOUNT, "nope").await.unwrap().is_none());
}

store_suite!(sqlite:
    buses_rules_and_targets,
    deliveries_are_claimed_once_and_retried,
    concurrent_delivery_claims_never_overlap,
    bus_resources_round_trip,
    queues_receive_hide_delete_and_redrive,
    concurrent_receivers_never_share_a_message,
    archives_keep_events_with_their_deliveries,
    replays_are_claimed_by_one_server_and_change_state_by_compare_and_set,
);

store_suite!(postgres:
    buses_rules_and_targets,
    deliveries_are_claimed_once_and_retried,
    concurrent_delivery_claims_never_overlap,
    bus_resources_round_trip,
    queues_receive_hide_delete_and_redrive,
    concurrent_receivers_never_share_a_message,
    archives_keep_events_with_their_deliveries,
    replays_are_claimed_by_one_server_and_change_state_by_compare_and_set,
);
