"""Redshift/PostgreSQL as a flow destination on a real server, driven by
boto3 against the PostgreSQL at SLUICE_TEST_POSTGRES_URL: the profile's
connection check, ListConnectorEntities / DescribeConnectorEntity answered
from the database, and an S3 -> Redshift flow whose rerun merges on the
table's primary key (no duplicates) and whose refused row lands in the
error bucket."""
import urllib.parse

import botocore.exceptions
import psycopg
import pytest

from conftest import finished_run, postgres_database


@pytest.fixture
def database():
    """A fresh database: (its connection URL, its jdbc URL for profiles)."""
    with postgres_database() as url:
        parsed = urllib.parse.urlparse(url)
        jdbc = f"jdbc:postgresql://{parsed.hostname}:{parsed.port or 5432}{parsed.path}"
        yield url, jdbc, parsed.username or "postgres"


def test_s3_to_redshift_merges_on_the_primary_key(server_factory, database):
    url, jdbc, user = database
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE public.holidays (holiday_id text PRIMARY KEY, region text NOT NULL, day date)")
    server = server_factory()
    client = server.client()

    def profile(name, database_url):
        return client.create_connector_profile(
            connectorProfileName=name, connectorType="Redshift", connectionMode="Public",
            connectorProfileConfig={
                "connectorProfileProperties": {"Redshift": {
                    "databaseUrl": database_url, "bucketName": "staging",
                    "roleArn": "arn:aws:iam::123456789012:role/appflow-redshift"}},
                "connectorProfileCredentials": {"Redshift": {"username": user, "password": "not-logged"}},
            },
        )

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        profile("nowhere", jdbc.rsplit("/", 1)[0] + "/no_such_database")
    assert refused.value.response["Error"]["Code"] in ("ConnectorServerException", "ConnectorAuthenticationException")
    assert "no_such_database" in refused.value.response["Error"]["Message"]
    profile("warehouse", jdbc)
    described = client.describe_connector_profiles(connectorProfileNames=["warehouse"])["connectorProfileDetails"][0]
    assert described["connectorProfileProperties"]["Redshift"]["databaseUrl"] == jdbc
    assert "not-logged" not in str(described) and "not-logged" not in server.log_text()

    entities = client.list_connector_entities(connectorProfileName="warehouse")["connectorEntityMap"]
    assert "public.holidays" in [e["name"] for group in entities.values() for e in group]
    fields = client.describe_connector_entity(connectorEntityName="public.holidays", connectorProfileName="warehouse")
    by_name = {f["identifier"]: f for f in fields["connectorEntityFields"]}
    assert set(by_name) == {"holiday_id", "region", "day"}

    connectors = client.describe_connectors(connectorTypes=["Redshift"])["connectorConfigurations"]["Redshift"]
    assert connectors["canUseAsDestination"] and not connectors["canUseAsSource"]

    inbox = server.data_dir / "objects" / "inbox" / "holidays"
    inbox.mkdir(parents=True)
    (inbox / "a.csv").write_text("id,region,day\nH-1,EMEA,2026-12-25\nH-2,AMER,2026-11-26\n")
    client.create_flow(
        flowName="holidays-to-warehouse",
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "inbox", "bucketPrefix": "holidays", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
        destinationFlowConfigList=[{"connectorType": "Redshift", "connectorProfileName": "warehouse",
                                    "destinationConnectorProperties": {"Redshift": {
                                        "object": "public.holidays", "intermediateBucketName": "staging",
                                        "errorHandlingConfig": {"bucketName": "errors", "bucketPrefix": "wh"}}}}],
        tasks=[{"taskType": "Map", "sourceFields": [src], "destinationField": dst,
                "connectorOperator": {"S3": "NO_OP"}} for src, dst in
               (("id", "holiday_id"), ("region", "region"), ("day", "day"))],
    )
    first = client.start_flow(flowName="holidays-to-warehouse")["executionId"]
    record = finished_run(client, "holidays-to-warehouse", first)
    assert record["executionStatus"] == "Successful", record

    (inbox / "a.csv").write_text("id,region,day\nH-1,APAC,2026-12-25\nH-2,AMER,2026-11-26\nH-3,,2027-01-01\n")
    second = client.start_flow(flowName="holidays-to-warehouse")["executionId"]
    record = finished_run(client, "holidays-to-warehouse", second)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["errorInfo"]["putFailuresCount"] == 1
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT holiday_id, region, day::text FROM holidays ORDER BY holiday_id").fetchall()
    assert rows == [("H-1", "APAC", "2026-12-25"), ("H-2", "AMER", "2026-11-26")]
    errors = (server.data_dir / "objects" / "errors" / "wh" / "holidays-to-warehouse" / second / "errors.csv").read_text()
    assert errors.splitlines()[0] == "holiday_id,region,day,error"
    assert errors.splitlines()[1].startswith("H-3,,2027-01-01,") and "region" in errors, errors
