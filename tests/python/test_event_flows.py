"""Event-triggered flows on a real server: a change data capture flow
(AccountChangeEvent -> S3) is created with boto3, activated with StartFlow,
and delivers the changes made through the REST API, each exactly once, across
a graceful restart and a crash (SIGKILL) of the server with the org changing
while it is down; StopFlow stops delivery and StartFlow resumes after the
last delivered event; CreateFlow refuses an Event flow on a non-event
object."""
import json
import time

import botocore.exceptions
import pytest
import requests

from conftest import sim_tokens

VERSION = "62.0"
FLOW = "accounts-cdc"


class Accounts:
    """Account writes through the simulator's REST API."""

    def __init__(self, sim):
        self.base = f"{sim.base_url}/services/data/v{VERSION}/sobjects/Account"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sim_tokens(sim)['access_token']}"

    def create(self, fields):
        response = self.session.post(self.base, json=fields, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def update(self, record_id, fields):
        response = self.session.patch(f"{self.base}/{record_id}", json=fields, timeout=10)
        assert response.status_code == 204, response.text

    def delete(self, record_id):
        response = self.session.delete(f"{self.base}/{record_id}", timeout=10)
        assert response.status_code == 204, response.text


def delivered(server):
    """Every record of every file the flow wrote, by ReplayId."""
    folder = server.data_dir / "objects" / "lake" / "cdc" / FLOW
    records = []
    if folder.exists():
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                records.extend(json.loads(line) for line in path.read_text().splitlines())
    return sorted(records, key=lambda r: int(r["ReplayId"]))


def wait_for(server, count, timeout=45.0):
    deadline = time.monotonic() + timeout
    while True:
        records = delivered(server)
        if len(records) >= count:
            time.sleep(1.0)  # a duplicate would show by now
            return delivered(server)
        assert time.monotonic() < deadline, f"{len(records)} of {count} records: {records}\n{server.log_tail()}"
        time.sleep(0.2)


def create_flow(client, obj="AccountChangeEvent", name=FLOW):
    return client.create_flow(
        flowName=name,
        triggerConfig={"triggerType": "Event"},
        sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "org",
                          "sourceConnectorProperties": {"Salesforce": {"object": obj}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "lake", "bucketPrefix": "cdc", "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        tasks=[{"taskType": "Filter", "sourceFields": ["Id", "Name", "ReplayId", "ChangeEventHeader"],
                "connectorOperator": {"Salesforce": "PROJECTION"}}],
    )


def create_profile(client, sim):
    client.create_connector_profile(
        connectorProfileName="org", connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": sim.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": sim_tokens(sim)["access_token"]}},
        },
    )


def test_a_change_data_capture_flow_delivers_each_change_once_across_restarts_and_a_crash(server_factory, sim_factory):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    server = server_factory()
    client = server.client()
    create_profile(client, sim)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        create_flow(client, obj="Account", name="not-events")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "an Event flow needs a platform event" in refused.value.response["Error"]["Message"]

    assert create_flow(client)["flowStatus"] == "Draft"
    sf = Accounts(sim)
    sf.create({"Name": "Before activation"})
    assert client.start_flow(flowName=FLOW)["flowStatus"] == "Active"

    acme = sf.create({"Name": "Acme"})["id"]
    sf.create({"Name": "Globex"})
    sf.update(acme, {"Name": "Acme Corp"})
    records = wait_for(server, 3)
    assert [r["Name"] for r in records] == ["Acme", "Globex", "Acme Corp"]
    header = json.loads(records[2]["ChangeEventHeader"])
    assert header["changeType"] == "UPDATE" and header["recordIds"] == [acme]
    assert header["changeOrigin"].startswith("com/salesforce/api/rest/62.0")

    # A graceful restart, with changes while the server is down.
    server.stop()
    sf.create({"Name": "Initech"})
    server.start()
    records = wait_for(server, 4)
    assert records[3]["Name"] == "Initech"

    # A crash: no lease given back, no clean shutdown.
    server.process.kill()
    server.process.wait()
    server.stop()
    sf.create({"Name": "Umbrella"})
    sf.delete(acme)
    server.start()
    records = wait_for(server, 6)
    assert records[4]["Name"] == "Umbrella"
    assert json.loads(records[5]["ChangeEventHeader"])["changeType"] == "DELETE"
    assert records[5]["Id"] == acme

    # Stopped, the flow delivers nothing; started again, it resumes after
    # the last event it delivered.
    client = server.client()
    assert client.stop_flow(flowName=FLOW)["flowStatus"] == "Suspended"
    sf.create({"Name": "Hooli"})
    time.sleep(3)
    assert len(delivered(server)) == 6
    assert client.start_flow(flowName=FLOW)["flowStatus"] == "Active"
    records = wait_for(server, 7)
    assert records[6]["Name"] == "Hooli"

    replay_ids = [int(r["ReplayId"]) for r in records]
    assert len(replay_ids) == len(set(replay_ids)) == 7, replay_ids
    assert not any(r.get("Name") == "Before activation" for r in records)
    runs = client.describe_flow_execution_records(flowName=FLOW)["flowExecutions"]
    assert runs and all(r["executionStatus"] == "Successful" for r in runs), runs
    assert sum(r["executionResult"]["recordsProcessed"] for r in runs) == 7
