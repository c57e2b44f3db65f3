//! Object storage -> Redshift/PostgreSQL flows through the real worker,
//! against the PostgreSQL at SLUICE_TEST_POSTGRES_URL (a fresh database per
//! test): a missing table created from the output, a rerun merged on the
//! primary key without duplicates, refused rows in the error bucket with
//! the database's error, and a load that ends without a commit leaving
//! nothing behind.

#![cfg(all(feature = "redshift", feature = "s3"))]

use std::sync::Arc;

use serde_json::{json, Value};
use sluice_connectors::plane::RunScope;
use sluice_connectors::redshift::connect_options;
use sluice_connectors::redshift::sink::RedshiftSink;
use sluice_model::wire::SecretString;
use sluice_store::FlowRecord;
use sqlx::{Connection, PgConnection, Row};

mod common;

struct Setup {
    harness: common::Harness,
    url: String,
    /// The test database, dropped with the setup.
    _database: common::TestDatabase,
}

impl Setup {
    async fn new() -> Option<Self> {
        let database = common::TestDatabase::create().await?;
        let url = database.url.clone();
        let harness = common::Harness::new().await;
        let parsed = url::Url::parse(&url).unwrap();
        let database_url = format!(
            "jdbc:postgresql://{}:{}{}",
            parsed.host_str().unwrap(),
            parsed.port().unwrap_or(5432),
            parsed.path()
        );
        let username = if parsed.username().is_empty() { "postgres" } else { parsed.username() };
        let credentials =
            json!({"Redshift": {"username": username, "password": parsed.password().unwrap_or("unused")}});
        let properties = json!({"Redshift": {"databaseUrl": database_url, "bucketName": "staging",
                                             "roleArn": "arn:aws:iam::123456789012:role/loader"}});
        common::create_profile(&*harness.store, &harness.vault, "warehouse", "Redshift", properties, credentials).await;
        Some(Self { harness, url, _database: database })
    }

    async fn sql(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    async fn execute(&self, statement: &str) {
        let mut connection = self.sql().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut connection).await.unwrap();
    }

    /// Rows of `query` with every column as text.
    async fn rows(&self, query: &str) -> Vec<Vec<Option<String>>> {
        let mut connection = self.sql().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(query.to_string())).fetch_all(&mut connection).await.unwrap();
        rows.iter().map(|row| (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i).unwrap()).collect()).collect()
    }

    fn put(&self, key: &str, text: &str) {
        let path = self.harness.objects.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn load_flow(name: &str, prefix: &str, object: &str, tasks: Value) -> FlowRecord {
    let definition = json!({
        "triggerConfig": {"triggerType": "OnDemand"},
        "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "inbox", "bucketPrefix": prefix, "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
        "destinationFlowConfigList": [{"connectorType": "Redshift", "connectorProfileName": "warehouse",
            "destinationConnectorProperties": {"Redshift": {"object": object, "intermediateBucketName": "staging",
                "errorHandlingConfig": {"bucketName": "errors", "bucketPrefix": "redshift"}}}}],
        "tasks": tasks,
    });
    common::flow_record(name, definition, &["warehouse"])
}

fn map_all() -> Value {
    json!([{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}, "taskProperties": {}}])
}

#[tokio::test]
async fn a_missing_table_is_created_from_the_output_and_loaded() {
    let Some(setup) = Setup::new().await else { return };
    setup.put(
        "inbox/accounts/a.csv",
        "id,name,employees,revenue,founded\nA-1,Acme,120,1500000.5,2001-02-03\nA-2,\"Globex, Inc.\",,0,\n",
    );
    let flow = load_flow("accounts-to-warehouse", "accounts", "crm.accounts", map_all());
    setup.execute("CREATE SCHEMA crm").await;
    let record = setup.harness.run(flow.clone(), "exec-create").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["recordsProcessed"], 2);
    let rows = setup
        .rows("SELECT id, name, employees::text, revenue::text, founded::text FROM crm.accounts ORDER BY id")
        .await;
    assert_eq!(
        rows,
        vec![
            vec![
                Some("A-1".into()),
                Some("Acme".into()),
                Some("120".into()),
                Some("1500000.5".into()),
                Some("2001-02-03".into())
            ],
            vec![Some("A-2".into()), Some("Globex, Inc.".into()), None, Some("0".into()), None],
        ]
    );
    let types = setup
        .rows("SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY ordinal_position")
        .await;
    let types: Vec<(String, String)> =
        types.into_iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap())).collect();
    assert_eq!(types[0], ("id".into(), "character varying".into()));
    assert_eq!(types[2], ("employees".into(), "bigint".into()));
    assert_eq!(types[3], ("revenue".into(), "double precision".into()));
    assert_eq!(types[4], ("founded".into(), "date".into()));
    // Without a primary key, a rerun appends (as AppFlow does).
    let again = setup.harness.run(flow.clone(), "exec-append").await;
    assert_eq!(again["executionStatus"], "Successful", "{again}");
    assert_eq!(setup.rows("SELECT count(*)::text FROM crm.accounts").await, vec![vec![Some("4".into())]]);
}

#[tokio::test]
async fn a_rerun_merges_on_the_primary_key_and_refused_rows_go_to_the_error_bucket() {
    let Some(setup) = Setup::new().await else { return };
    setup
        .execute(
            "CREATE TABLE public.contacts (external_id text PRIMARY KEY, email text NOT NULL, score integer, \
             CONSTRAINT score_range CHECK (score BETWEEN 0 AND 100))",
        )
        .await;
    setup.put(
        "inbox/contacts/a.csv",
        "Key,Email,Score\nC-1,ada@example.com,10\nC-2,bob@example.com,20\nC-1,ada@new.example.com,11\n",
    );
    let map = |from: &str, to: &str| json!({"taskType": "Map", "sourceFields": [from], "destinationField": to, "connectorOperator": {"S3": "NO_OP"}});
    let tasks = json!([map("Key", "external_id"), map("Email", "email"), map("Score", "score")]);
    let flow = load_flow("contacts-to-warehouse", "contacts", "contacts", tasks);
    let first = setup.harness.run(flow.clone(), "exec-merge-1").await;
    assert_eq!(first["executionStatus"], "Successful", "{first}");
    let all = "SELECT external_id, email, score::text FROM contacts ORDER BY external_id";
    assert_eq!(
        setup.rows(all).await,
        vec![
            vec![Some("C-1".into()), Some("ada@new.example.com".into()), Some("11".into())],
            vec![Some("C-2".into()), Some("bob@example.com".into()), Some("20".into())],
        ],
        "the last record of a key wins"
    );

    // The same file again, a changed one and bad rows: no duplicates, the
    // good rows merged, the bad ones refused with the database's error.
    setup.put(
        "inbox/contacts/a.csv",
        "Key,Email,Score\nC-1,ada@example.com,12\nC-3,,30\nC-4,dan@example.com,400\nC-5,eve@example.com,50\n",
    );
    let second = setup.harness.run(flow.clone(), "exec-merge-2").await;
    assert_eq!(second["executionStatus"], "Successful", "{second}");
    let info = &second["executionResult"]["errorInfo"];
    assert_eq!(info["putFailuresCount"], 2, "{second}");
    assert!(
        info["executionMessage"]
            .as_str()
            .unwrap()
            .contains("errors/redshift/contacts-to-warehouse/exec-merge-2/errors.csv"),
        "{info}"
    );
    assert_eq!(
        setup.rows(all).await,
        vec![
            vec![Some("C-1".into()), Some("ada@example.com".into()), Some("12".into())],
            vec![Some("C-2".into()), Some("bob@example.com".into()), Some("20".into())],
            vec![Some("C-5".into()), Some("eve@example.com".into()), Some("50".into())],
        ]
    );
    let errors = std::fs::read_to_string(
        setup.harness.objects.join("errors/redshift/contacts-to-warehouse/exec-merge-2/errors.csv"),
    )
    .unwrap();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines[0], "external_id,email,score,error");
    assert!(
        lines[1].starts_with("C-3,,30,") && lines[1].contains("not-null") && lines[1].contains("email"),
        "{errors}"
    );
    assert!(lines[2].starts_with("C-4,dan@example.com,400,") && lines[2].contains("score_range"), "{errors}");

    // A value of the wrong type is refused when it is copied.
    setup.put("inbox/contacts/a.csv", "Key,Email,Score\nC-6,fay@example.com,lots\nC-7,gus@example.com,70\n");
    let third = setup.harness.run(flow.clone(), "exec-merge-3").await;
    assert_eq!(third["executionResult"]["errorInfo"]["putFailuresCount"], 1, "{third}");
    let message = third["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("invalid input syntax for type integer") && message.contains("column score"), "{message}");
    assert_eq!(setup.rows("SELECT count(*)::text FROM contacts").await, vec![vec![Some("4".into())]]);
}

#[tokio::test]
async fn a_load_that_ends_without_a_commit_leaves_nothing_behind() {
    let Some(setup) = Setup::new().await else { return };
    let parsed = url::Url::parse(&setup.url).unwrap();
    let database_url =
        format!("postgres://{}:{}{}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432), parsed.path());
    let user = if parsed.username().is_empty() { "postgres" } else { parsed.username() };
    let (options, _) = connect_options(&database_url, None, user, &SecretString::new("unused".to_string())).unwrap();
    let schema =
        Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new("id", arrow_schema::DataType::Utf8, true)]));
    let batch = arrow_array::RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow_array::StringArray::from(vec!["a", "b"]))],
    )
    .unwrap();
    let scope = RunScope::new("killed", "exec-killed", time::OffsetDateTime::now_utc(), 1);
    {
        use sluice_connectors::plane::DataSink;
        let mut sink = RedshiftSink::open(
            &options,
            &sluice_connectors::OutboundGuard::allowing_private(),
            "public.killed",
            schema,
            &scope,
        )
        .await
        .unwrap();
        assert!(sink.write(batch).await.unwrap().is_empty());
        assert!(sink.finish().await.unwrap().is_empty());
        // The process dies here: the connection goes away without a commit.
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let tables = setup.rows("SELECT count(*)::text FROM information_schema.tables WHERE table_name = 'killed'").await;
    assert_eq!(tables, vec![vec![Some("0".into())]], "neither the created table nor its rows");
}

#[cfg(feature = "salesforce")]
#[tokio::test]
async fn salesforce_accounts_load_into_a_table_with_their_types() {
    let Some(setup) = Setup::new().await else { return };
    let sim = common::demo_org_with_profile(&setup.harness).await;
    // The table exists with a key: reruns merge.
    setup
        .execute(
            "CREATE TABLE accounts (\"Id\" varchar(18) PRIMARY KEY, \"Name\" text, \"AnnualRevenue\" numeric, \
             \"NumberOfEmployees\" integer, \"CreatedDate\" timestamptz)",
        )
        .await;
    let definition = json!({
        "triggerConfig": {"triggerType": "OnDemand"},
        "sourceFlowConfig": {"connectorType": "Salesforce", "connectorProfileName": "sf",
                             "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
        "destinationFlowConfigList": [{"connectorType": "Redshift", "connectorProfileName": "warehouse",
            "destinationConnectorProperties": {"Redshift": {"object": "public.accounts", "intermediateBucketName": "staging"}}}],
        "tasks": [{"taskType": "Filter", "sourceFields": ["Id", "Name", "AnnualRevenue", "NumberOfEmployees", "CreatedDate"],
                   "connectorOperator": {"Salesforce": "PROJECTION"}}],
    });
    let flow = common::flow_record("accounts-to-warehouse", definition, &["sf", "warehouse"]);
    for execution in ["exec-sf-1", "exec-sf-2"] {
        let record = setup.harness.run(flow.clone(), execution).await;
        assert_eq!(record["executionStatus"], "Successful", "{record}");
        assert_eq!(record["executionResult"]["recordsProcessed"], 500);
    }
    assert_eq!(setup.rows("SELECT count(*)::text FROM accounts").await, vec![vec![Some("500".into())]]);
    let expected = {
        let state = sim.lock();
        let accounts = state.org.object("Account").unwrap();
        let row = &accounts.rows[0];
        let text = |f: &str| accounts.value(row, f).cloned().unwrap_or(Value::Null);
        (text("Id"), text("Name"), text("CreatedDate"))
    };
    let id = expected.0.as_str().unwrap();
    let loaded = setup
        .rows(&format!(
            "SELECT \"Name\", to_char(\"CreatedDate\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') FROM accounts WHERE \"Id\" = '{id}'"
        ))
        .await;
    assert_eq!(loaded[0][0].as_deref(), expected.1.as_str());
    let created = expected.2.as_str().unwrap();
    assert_eq!(loaded[0][1].as_deref(), Some(&created[..19]), "{created}");
}
