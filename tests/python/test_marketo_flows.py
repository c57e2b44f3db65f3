"""Marketo flows on a real server, driven by boto3 against the Marketo
simulator: leads -> S3 Parquet (a bulk export read back row by row with
DuckDB), and a CSV synced into Marketo's leads with the lead Marketo skips
in the error bucket."""

import duckdb
import requests

from conftest import finished_run

CLIENT_ID, CLIENT_SECRET = "sluice-marketo-client", "sluice-marketo-secret"



def marketo_profile(client, sim):
    client.create_connector_profile(
        connectorProfileName="mk", connectorType="Marketo", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Marketo": {"instanceUrl": sim.base_url}},
            "connectorProfileCredentials": {"Marketo": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}},
        },
    )


def test_marketo_leads_to_parquet_and_a_csv_synced_into_marketo(server_factory, sim_factory):
    sim = sim_factory("marketo", "--seed", "empty", tls=False)
    generated = requests.post(f"{sim.base_url}/__sim/generate", json={"count": 1200}, timeout=10)
    assert generated.status_code == 201, generated.text
    server = server_factory()
    client = server.client()
    marketo_profile(client, sim)

    client.create_flow(
        flowName="leads-to-lake",
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "Marketo", "connectorProfileName": "mk",
                          "sourceConnectorProperties": {"Marketo": {"object": "leads"}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "lake", "bucketPrefix": "marketo", "s3OutputFormatConfig": {"fileType": "PARQUET"}}}}],
        tasks=[{"taskType": "Filter", "sourceFields": ["id", "email", "firstName", "lastName", "createdAt"],
                "connectorOperator": {"Marketo": "PROJECTION"}}],
    )
    execution_id = client.start_flow(flowName="leads-to-lake")["executionId"]
    record = finished_run(client, "leads-to-lake", execution_id)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 1200
    pattern = server.data_dir / "objects" / "lake" / "marketo" / "leads-to-lake" / execution_id / "*.parquet"
    rows = duckdb.connect().execute(
        f"SELECT id, email, typeof(createdAt) FROM read_parquet('{pattern}') ORDER BY id").fetchall()
    assert [r[0] for r in rows] == list(range(1, 1201))
    assert all(r[1] and "@" in r[1] for r in rows)
    assert rows[0][2].startswith("TIMESTAMP")
    stats = requests.get(f"{sim.base_url}/__sim/stats", timeout=10).json()
    assert stats["exportJobs"] >= 1, stats

    inbox = server.data_dir / "objects" / "inbox" / "contacts"
    inbox.mkdir(parents=True)
    (inbox / "new.csv").write_text("email,first,last\nnew.lead@example.com,New,Lead\n,Missing,Email\n")
    client.create_flow(
        flowName="contacts-to-marketo",
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "inbox", "bucketPrefix": "contacts", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
        destinationFlowConfigList=[{"connectorType": "Marketo", "connectorProfileName": "mk",
                                    "destinationConnectorProperties": {"Marketo": {
                                        "object": "leads",
                                        "errorHandlingConfig": {"bucketName": "errors", "bucketPrefix": "mk"}}}}],
        tasks=[{"taskType": "Map", "sourceFields": [src], "destinationField": dst, "connectorOperator": {"S3": "NO_OP"}}
               for src, dst in (("email", "email"), ("first", "firstName"), ("last", "lastName"))],
    )
    execution_id = client.start_flow(flowName="contacts-to-marketo")["executionId"]
    record = finished_run(client, "contacts-to-marketo", execution_id)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["errorInfo"]["putFailuresCount"] == 1, record
    assert requests.get(f"{sim.base_url}/__sim/stats", timeout=10).json()["leads"] == 1201
    errors = (server.data_dir / "objects" / "errors" / "mk" / "contacts-to-marketo" / execution_id / "errors.csv")
    assert "lookup field 'email'" in errors.read_text()
