//! The table store's behaviour (DynamoDB tables, items, index entries and
//! streams), on every backend (see `common`).

use std::sync::Arc;

use serde_json::json;
use sluice_store::tables::*;
use sluice_store::*;

mod common;

fn table(name: &str, id: &str) -> TableRow {
    TableRow {
        account_id: "111111111111".into(),
        name: name.into(),
        table_id: id.into(),
        description: json!({"KeySchema": []}),
        created_at_ms: 1,
    }
}

fn put(id: &str, hash: &[u8], range: &[u8], expected: Expected, version: i64, item: &str) -> ItemWrite {
    ItemWrite {
        table_id: id.into(),
        hash_key: hash.to_vec(),
        range_key: range.to_vec(),
        hash_point: i64::from(hash[0]),
        expected,
        action: WriteAction::Put(NewItem {
            item: item.into(),
            version,
            size_bytes: item.len() as i64,
            index_entries: vec![IndexEntry {
                index_name: "by-item".into(),
                hash_key: b"all".to_vec(),
                range_key: item.as_bytes().to_vec(),
                hash_point: 7,
                item: item.into(),
            }],
        }),
    }
}

fn record(id: &str, label: &str, text: &str) -> StreamAppend {
    StreamAppend { table_id: id.into(), stream_label: label.into(), created_at_ms: 10, record: text.into() }
}

async fn tables_are_documents_per_account(store: Arc<dyn MetadataStore>) {
    store.create_table(&table("b", "t-b")).await.unwrap();
    store.create_table(&table("a", "t-a")).await.unwrap();
    assert!(matches!(store.create_table(&table("a", "t-other")).await, Err(StoreError::AlreadyExists { .. })));
    let other = TableRow { account_id: "222222222222".into(), ..table("a", "t-a2") };
    store.create_table(&other).await.unwrap();
    let names: Vec<String> =
        store.list_tables("111111111111", None, 10).await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["a", "b"]);
    let after_a = store.list_tables("111111111111", Some("a"), 10).await.unwrap();
    assert_eq!(after_a.len(), 1);
    store.update_table("111111111111", "a", &json!({"KeySchema": [1]})).await.unwrap();
    assert_eq!(store.get_table("111111111111", "a").await.unwrap().unwrap().description, json!({"KeySchema": [1]}));
    assert_eq!(store.all_tables().await.unwrap().len(), 3);
    store.delete_table("111111111111", "a").await.unwrap();
    assert!(matches!(store.delete_table("111111111111", "a").await, Err(StoreError::NotFound { .. })));
    assert!(store.get_table("222222222222", "a").await.unwrap().is_some());
}

async fn writes_expect_what_they_read(store: Arc<dyn MetadataStore>) {
    store.create_table(&table("t", "t1")).await.unwrap();
    let first = put("t1", b"h", b"1", Expected::Absent, 100, "one");
    assert_eq!(store.commit(&[first.clone()], &[]).await.unwrap(), CommitOutcome::Committed);
    // A second create of the same key loses: nothing of its commit lands.
    let other = put("t1", b"h", b"2", Expected::Absent, 200, "two");
    assert_eq!(store.commit(&[other.clone(), first.clone()], &[]).await.unwrap(), CommitOutcome::Conflict(1));
    assert_eq!(store.get_items("t1", &[(b"h".to_vec(), b"2".to_vec())]).await.unwrap(), vec![None]);

    let replace = put("t1", b"h", b"1", Expected::Version(100), 101, "uno");
    assert_eq!(store.commit(&[replace.clone()], &[]).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.commit(&[replace], &[]).await.unwrap(), CommitOutcome::Conflict(0), "stale version");
    let found = store.get_items("t1", &[(b"h".to_vec(), b"1".to_vec()), (b"x".to_vec(), vec![])]).await.unwrap();
    assert_eq!(found[0].as_ref().map(|i| (i.version, i.item.as_str())), Some((101, "uno")));
    assert!(found[1].is_none());

    let check = |expected| ItemWrite { action: WriteAction::Check, ..put("t1", b"h", b"1", expected, 0, "") };
    assert_eq!(store.commit(&[check(Expected::Version(101))], &[]).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.commit(&[check(Expected::Absent)], &[]).await.unwrap(), CommitOutcome::Conflict(0));
    assert_eq!(store.table_usage("t1").await.unwrap(), (1, 3));

    // The index holds the item's latest entry only.
    let entries = store.query_items("t1", Some("by-item"), b"all", &KeyRange::default(), true, None, 10).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.item.as_str()).collect::<Vec<_>>(), ["uno"]);
    assert_eq!(entries[0].base_range_key, b"1");

    let delete = ItemWrite { action: WriteAction::Delete, ..put("t1", b"h", b"1", Expected::Version(101), 0, "") };
    assert_eq!(store.commit(&[delete], &[]).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.table_usage("t1").await.unwrap(), (0, 0));
    assert!(store
        .query_items("t1", Some("by-item"), b"all", &KeyRange::default(), true, None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn queries_and_scans_walk_keys_in_order(store: Arc<dyn MetadataStore>) {
    store.create_table(&table("t", "t2")).await.unwrap();
    let mut writes = Vec::new();
    for hash in [b"a", b"b"] {
        for range in [[1u8], [2], [3], [0xFF]] {
            let text = format!("{}{}", hash[0] as char, range[0]);
            writes.push(put("t2", hash, &range, Expected::Absent, 1, &text));
        }
    }
    assert_eq!(store.commit(&writes, &[]).await.unwrap(), CommitOutcome::Committed);
    let items = |rows: Vec<StoredItem>| rows.into_iter().map(|r| r.item).collect::<Vec<_>>();
    let range = KeyRange { lower: Some((vec![1], false)), upper: Some((vec![3], true)) };
    assert_eq!(items(store.query_items("t2", None, b"a", &range, true, None, 10).await.unwrap()), ["a2", "a3"]);
    let all = KeyRange::default();
    let backwards = store.query_items("t2", None, b"b", &all, false, None, 2).await.unwrap();
    assert_eq!(items(backwards.clone()), ["b255", "b3"]);
    let last = &backwards[1];
    let cursor = ItemCursor {
        hash_point: last.hash_point,
        hash_key: last.hash_key.clone(),
        range_key: last.range_key.clone(),
        base_hash_key: last.base_hash_key.clone(),
        base_range_key: last.base_range_key.clone(),
    };
    assert_eq!(items(store.query_items("t2", None, b"b", &all, false, Some(&cursor), 10).await.unwrap()), ["b2", "b1"]);

    // Scans go by hash point; a segment is a range of points.
    let first = store.scan_items("t2", None, (0, 1 << 32), None, 3).await.unwrap();
    assert_eq!(items(first.clone()), ["a1", "a2", "a3"]);
    let c = &first[2];
    let cursor = ItemCursor {
        hash_point: c.hash_point,
        hash_key: c.hash_key.clone(),
        range_key: c.range_key.clone(),
        base_hash_key: vec![],
        base_range_key: vec![],
    };
    assert_eq!(items(store.scan_items("t2", None, (0, 1 << 32), Some(&cursor), 2).await.unwrap()), ["a255", "b1"]);
    assert_eq!(store.scan_items("t2", None, (i64::from(b'b'), 1 << 32), None, 10).await.unwrap().len(), 4);
    // Index entries order by their own keys, then the base keys.
    let entries = store.scan_items("t2", Some("by-item"), (0, 1 << 32), None, 100).await.unwrap();
    assert_eq!(entries.len(), 8);
    assert_eq!(entries[0].item, "a1");

    store.replace_index("t2", "by-item", &[]).await.unwrap();
    assert!(store.scan_items("t2", Some("by-item"), (0, 1 << 32), None, 100).await.unwrap().is_empty());
}

async fn stream_records_commit_with_their_writes(store: Arc<dyn MetadataStore>) {
    store.create_table(&table("t", "t3")).await.unwrap();
    assert_eq!(store.last_sequence("t3").await.unwrap(), 0);
    let stream = StreamRow {
        stream_arn: "arn:s1".into(),
        account_id: "111111111111".into(),
        table_name: "t".into(),
        table_id: "t3".into(),
        stream_label: "L1".into(),
        view_type: "NEW_IMAGE".into(),
        created_at_ms: 5,
        disabled_at_ms: None,
        first_seq: 0,
    };
    store.create_stream(&stream).await.unwrap();
    let w = put("t3", b"k", b"", Expected::Absent, 1, "x");
    assert_eq!(
        store.commit(&[w.clone()], &[record("t3", "L1", "r1"), record("t3", "L1", "r2")]).await.unwrap(),
        CommitOutcome::Committed
    );
    // A lost commit appends nothing.
    assert_eq!(store.commit(&[w], &[record("t3", "L1", "lost")]).await.unwrap(), CommitOutcome::Conflict(0));
    let rows = store.stream_records("t3", "L1", 0, 10).await.unwrap();
    assert_eq!(rows.iter().map(|r| (r.seq, r.record.as_str())).collect::<Vec<_>>(), [(1, "r1"), (2, "r2")]);
    assert_eq!(store.stream_records("t3", "L1", 1, 10).await.unwrap().len(), 1);
    assert_eq!(store.last_sequence("t3").await.unwrap(), 2);

    store.disable_streams("t3", 50).await.unwrap();
    let listed = store.list_streams("111111111111", Some("t")).await.unwrap();
    assert_eq!(listed[0].disabled_at_ms, Some(50));
    assert_eq!(store.get_stream("arn:s1").await.unwrap().unwrap().view_type, "NEW_IMAGE");
    // The stream outlives its table until trimmed.
    store.delete_table("111111111111", "t").await.unwrap();
    assert_eq!(store.stream_records("t3", "L1", 0, 10).await.unwrap().len(), 2);
    assert_eq!(store.last_sequence("t3").await.unwrap(), 2);
    assert_eq!(store.trim_streams(60).await.unwrap(), 2);
    assert!(store.get_stream("arn:s1").await.unwrap().is_none());
}

store_suite!(
    sqlite: tables_are_documents_per_account,
    writes_expect_what_they_read,
    queries_and_scans_walk_keys_in_order,
    stream_records_commit_with_their_writes,
);

store_suite!(
    postgres: tables_are_documents_per_account,
    writes_expect_what_they_read,
    queries_and_scans_walk_keys_in_order,
    stream_records_commit_with_their_writes,
);
