"""The S3 connector against an S3-compatible server (moto's standalone
server): `sluice serve --s3-endpoint` keeps every bucket there. boto3's S3
client puts and reads the objects on the same server."""
import csv
import io
import os
import pathlib
import socket
import subprocess
import sys
import time

import boto3
import pytest
import requests

from conftest import create_salesforce_profile, free_port, sim_tokens, finished_run

S3_KEYS = {"AWS_ACCESS_KEY_ID": "sluice-test-key", "AWS_SECRET_ACCESS_KEY": "sluice-test-secret"}


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto's S3 server on a free local port: its endpoint URL."""
    port = free_port()
    binary = pathlib.Path(sys.executable).parent / "moto_server"
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "ab")
    process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start (exit {process.poll()})")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def s3(s3_server):
    return boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def sluice_on_s3(server_factory, s3_server):
    return server_factory(env={"SLUICE_S3_ENDPOINT": s3_server, **S3_KEYS})



def create_accounts_to_s3(client, flow, s3_properties, tasks):
    client.create_flow(
        flowName=flow, triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "org",
                          "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": s3_properties}}],
        tasks=tasks,
    )


def sf_query(org, soql):
    token = sim_tokens(org)["access_token"]
    response = requests.get(f"{org.base_url}/services/data/v62.0/query", params={"q": soql},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["records"]


def test_salesforce_records_land_in_an_s3_bucket(sluice_on_s3, s3, salesforce_org):
    s3.create_bucket(Bucket="exports")
    client = sluice_on_s3.client()
    create_salesforce_profile(client, salesforce_org)
    create_accounts_to_s3(
        client, "energy",
        {"bucketName": "exports", "bucketPrefix": "crm", "s3OutputFormatConfig": {"fileType": "CSV"}},
        [
            {"taskType": "Filter", "sourceFields": ["Id", "Name", "Industry"],
             "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Filter", "sourceFields": ["Industry"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
             "taskProperties": {"DATA_TYPE": "string", "VALUE": "Energy"}},
        ],
    )
    execution_id = client.start_flow(flowName="energy")["executionId"]
    record = finished_run(client, "energy", execution_id)
    assert record["executionStatus"] == "Successful", record
    listed = s3.list_objects_v2(Bucket="exports", Prefix="crm/")["Contents"]
    assert [o["Key"] for o in listed] == [f"crm/energy/{execution_id}/part-00000.csv"]
    text = s3.get_object(Bucket="exports", Key=listed[0]["Key"])["Body"].read().decode()
    assert record["executionResult"]["bytesWritten"] == len(text.encode())
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = {r["Id"]: r["Name"] for r in sf_query(salesforce_org, "SELECT Id, Name FROM Account WHERE Industry = 'Energy'")}
    assert len(rows) == len(expected) > 0
    assert {r["Id"]: r["Name"] for r in rows} == expected
    assert not (sluice_on_s3.data_dir / "objects" / "exports").exists(), "nothing went to the local folders"


def test_csv_in_an_s3_bucket_upserts_into_salesforce(sluice_on_s3, s3, salesforce_org):
    s3.create_bucket(Bucket="inbox")
    s3.put_object(Bucket="inbox", Key="status/a.csv",
                  Body=b"holiday_id,status\nS3-0001,Applied\nS3-0002,Rejected\n")
    client = sluice_on_s3.client()
    create_salesforce_profile(client, salesforce_org)
    client.create_flow(
        flowName="status-back", triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "inbox", "bucketPrefix": "status", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
        destinationFlowConfigList=[{"connectorType": "Salesforce", "connectorProfileName": "org",
                                    "destinationConnectorProperties": {"Salesforce": {
                                        "object": "Holiday__c", "writeOperationType": "UPSERT",
                                        "idFieldNames": ["External_Id__c"]}}}],
        tasks=[
            {"taskType": "Map", "sourceFields": ["holiday_id"], "destinationField": "External_Id__c",
             "connectorOperator": {"S3": "NO_OP"}},
            {"taskType": "Map", "sourceFields": ["status"], "destinationField": "Status__c",
             "connectorOperator": {"S3": "NO_OP"}},
        ],
    )
    execution_id = client.start_flow(flowName="status-back")["executionId"]
    record = finished_run(client, "status-back", execution_id)
    assert record["executionStatus"] == "Successful", record
    assert record["executionResult"]["recordsProcessed"] == 2
    found = sf_query(salesforce_org, "SELECT External_Id__c, Status__c FROM Holiday__c WHERE External_Id__c LIKE 'S3-%'")
    assert sorted((r["External_Id__c"], r["Status__c"]) for r in found) == [("S3-0001", "Applied"), ("S3-0002", "Rejected")]


def test_a_missing_bucket_fails_the_run_saying_so(sluice_on_s3, salesforce_org):
    client = sluice_on_s3.client()
    create_salesforce_profile(client, salesforce_org)
    create_accounts_to_s3(client, "nowhere", {"bucketName": "no-such-bucket-here"},
                          [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}])
    execution_id = client.start_flow(flowName="nowhere")["executionId"]
    record = finished_run(client, "nowhere", execution_id)
    assert record["executionStatus"] == "Error", record
    message = record["executionResult"]["errorInfo"]["executionMessage"]
    assert "NoSuchBucket" in message or "no-such-bucket-here" in message, message
    assert S3_KEYS["AWS_SECRET_ACCESS_KEY"] not in message
