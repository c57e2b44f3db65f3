"""Flows that move data end to end: boto3 drives Sluice, Sluice reads the
Salesforce simulator, and the output objects are read back row by row."""
import csv
import io

import requests

from conftest import finished_run


def mint_token(sim):
    response = requests.post(f"{sim.base_url}/__sim/tokens", json={})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def query(sim, token, soql):
    response = requests.get(f"{sim.base_url}/services/data/v62.0/query", params={"q": soql},
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()["records"]



def test_salesforce_accounts_to_csv_with_filter_and_mask(fresh_server, sim_factory):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    token = mint_token(sim)
    client = fresh_server.client()
    client.create_connector_profile(
        connectorProfileName="sim", connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": sim.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": token}},
        },
    )
    client.create_flow(
        flowName="energy-accounts",
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "sim",
                          "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "exports", "bucketPrefix": "crm", "s3OutputFormatConfig": {"fileType": "CSV"}}}}],
        tasks=[
            {"taskType": "Filter", "sourceFields": ["Id", "Name", "Industry", "Phone"],
             "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Filter", "sourceFields": ["Industry"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
             "taskProperties": {"DATA_TYPE": "string", "VALUE": "Energy"}},
            {"taskType": "Mask", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "MASK_ALL"},
             "taskProperties": {"MASK_VALUE": "#"}},
        ],
    )
    execution_id = client.start_flow(flowName="energy-accounts")["executionId"]
    record = finished_run(client, "energy-accounts", execution_id)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 500

    path = fresh_server.data_dir / "objects" / "exports" / "crm" / "energy-accounts" / execution_id / "part-00000.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert record["executionResult"]["bytesWritten"] == path.stat().st_size
    expected = {r["Id"]: r for r in query(sim, token, "SELECT Id, Name, Phone FROM Account WHERE Industry = 'Energy'")}
    assert len(rows) == len(expected) > 0
    for row in rows:
        source = expected[row["Id"]]
        assert row["Name"] == source["Name"]
        assert row["Industry"] == "Energy"
        assert row["Phone"] == "#" * len(source["Phone"])


def test_invalid_task_configs_are_rejected_at_create_flow_with_every_problem(fresh_server, salesforce_org):
    import botocore.config
    from botocore.exceptions import ClientError

    client = fresh_server.client(config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}))
    client.create_connector_profile(
        connectorProfileName="sf", connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": salesforce_org.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": mint_token(salesforce_org)}},
        },
    )
    tasks = [
        {"taskType": "Filter", "sourceFields": ["AnnualRevenue"], "connectorOperator": {"Salesforce": "BETWEEN"},
         "taskProperties": {"DATA_TYPE": "double", "LOWER_BOUND": "10"}},
        {"taskType": "Validate", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "VALIDATE_NON_NULL"},
         "taskProperties": {"VALIDATION_ACTION": "ShrugAndContinue"}},
        {"taskType": "Mask", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "MASK_FIRST_N"},
         "taskProperties": {"MASK_VALUE": "*"}},
        {"taskType": "Truncate", "sourceFields": ["Description"], "connectorOperator": {"Salesforce": "NO_OP"}},
    ]
    try:
        client.create_flow(
            flowName="bad-tasks", triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "sf",
                              "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
            destinationFlowConfigList=[{"connectorType": "S3",
                                        "destinationConnectorProperties": {"S3": {"bucketName": "out"}}}],
            tasks=tasks,
        )
        raise AssertionError("create_flow accepted invalid tasks")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ValidationException"
        message = error.response["Error"]["Message"]
    for expected in ("tasks.1.member", "UPPER_BOUND", "tasks.2.member", "VALIDATION_ACTION",
                     "tasks.3.member", "MASK_LENGTH", "tasks.4.member", "TRUNCATE_LENGTH"):
        assert expected in message, (expected, message)
    assert client.list_flows()["flows"] == []


def test_preview_applies_the_tasks_to_a_sample_and_writes_nothing(fresh_server, sim_factory, sluice_bin):
    import json
    import os
    import subprocess

    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    client = fresh_server.client()
    client.create_connector_profile(
        connectorProfileName="sim", connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": sim.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": mint_token(sim)}},
        },
    )
    client.create_flow(
        flowName="lead-names",
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "sim",
                          "sourceConnectorProperties": {"Salesforce": {"object": "Lead"}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "exports", "s3OutputFormatConfig": {"fileType": "CSV"}}}}],
        tasks=[
            {"taskType": "Filter", "sourceFields": ["Id", "LastName"], "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Truncate", "sourceFields": ["LastName"], "connectorOperator": {"Salesforce": "NO_OP"},
             "taskProperties": {"TRUNCATE_LENGTH": "2"}},
        ],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    result = subprocess.run(
        [sluice_bin, "flow", "preview", "lead-names", "--limit", "5",
         "--endpoint", fresh_server.endpoint, "--data-dir", str(fresh_server.data_dir)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 5
    assert all(set(r) == {"Id", "LastName"} and len(r["LastName"]) <= 2 for r in records), records
    assert "5 record(s)" in result.stderr
    assert not (fresh_server.data_dir / "objects" / "exports").exists() or not any((fresh_server.data_dir / "objects" / "exports").rglob("*.csv"))
    assert client.describe_flow_execution_records(flowName="lead-names")["flowExecutions"] == []
