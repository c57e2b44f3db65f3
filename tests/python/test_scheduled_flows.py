"""Scheduled flows on a real server: StartFlow arms the schedule and the
first run goes at activation, an incremental run reads from where the last
one ended, StopFlow/StartFlow keep that position, a flow that fails at its
flowErrorDeactivationThreshold is deactivated (Errored, with a
flowStatusMessage) until StartFlow activates it again, and `sluice flow
backfill` reads a past window without moving the position."""
import datetime
import json
import os
import subprocess
import time

import requests

from conftest import sim_tokens

API = "v62.0"


def wait_for_runs(client, flow, count, timeout=30.0):
    """The flow's execution records once `count` runs exist and none is in progress."""
    deadline = time.monotonic() + timeout
    while True:
        runs = client.describe_flow_execution_records(flowName=flow)["flowExecutions"]
        if len(runs) >= count and all(r["executionStatus"] != "InProgress" for r in runs):
            return sorted(runs, key=lambda r: r["startedAt"])
        assert time.monotonic() < deadline, f"wanted {count} finished runs of {flow}, have {runs}"
        time.sleep(0.2)


def soql(sim, token, text):
    response = requests.get(f"{sim.base_url}/services/data/{API}/query", params={"q": text},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["records"]


def literal(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def delivered_ids(server, flow, execution_id):
    """The Ids in the JSON lines one run wrote (none when it wrote no file)."""
    folder = server.data_dir / "objects" / "lake" / "leads" / flow / execution_id
    if not folder.exists():
        return []
    ids = []
    for path in sorted(folder.iterdir()):
        ids.extend(json.loads(line)["Id"] for line in path.read_text().splitlines())
    return ids


def setup_leads_flow(server, sim, name, scheduled):
    client = server.client()
    token = sim_tokens(sim)["access_token"]
    client.create_connector_profile(
        connectorProfileName="org", connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": sim.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": token}},
        },
    )
    created = client.create_flow(
        flowName=name,
        triggerConfig={"triggerType": "Scheduled", "triggerProperties": {"Scheduled": scheduled}},
        sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "org",
                          "sourceConnectorProperties": {"Salesforce": {"object": "Lead"}},
                          "incrementalPullConfig": {"datetimeTypeFieldName": "SystemModstamp"}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "lake", "bucketPrefix": "leads", "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        tasks=[{"taskType": "Filter", "sourceFields": ["Id", "LastName", "SystemModstamp"],
                "connectorOperator": {"Salesforce": "PROJECTION"}}],
    )
    assert created["flowStatus"] == "Draft"
    return client, token


def test_an_incremental_schedule_runs_at_activation_and_then_reads_only_what_changed(server_factory, sim_factory):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    server = server_factory(env={"SLUICE_SETTLE_LAG": "0"})
    client, token = setup_leads_flow(server, sim, "leads", {"scheduleExpression": "rate(1hours)",
                                                            "dataPullMode": "Incremental"})
    activated = datetime.datetime.now(datetime.timezone.utc)
    assert client.start_flow(flowName="leads")["flowStatus"] == "Active"
    [first] = wait_for_runs(client, "leads", 1)
    assert first["executionStatus"] == "Successful", first
    # No firstExecutionFrom: the first run reads the past 30 days, up to activation.
    start, end = first["dataPullStartTime"], first["dataPullEndTime"]
    assert abs((activated - start) - datetime.timedelta(days=30)) < datetime.timedelta(seconds=5), (start, activated)
    assert abs(end - activated) < datetime.timedelta(seconds=5), (end, activated)
    in_window = {r["Id"] for r in soql(sim, token, f"SELECT Id FROM Lead WHERE SystemModstamp >= {literal(start)} "
                                                   f"AND SystemModstamp < {literal(end)}")}
    assert len(in_window) > 0
    assert sorted(delivered_ids(server, "leads", first["executionId"])) == sorted(in_window)
    assert first["executionResult"]["recordsProcessed"] == len(in_window)
    described = client.describe_flow(flowName="leads")
    assert described["lastRunExecutionDetails"]["mostRecentExecutionStatus"] == "Successful"

    # Stopped, a change is made; started again, the next run reads only it.
    assert client.stop_flow(flowName="leads")["flowStatus"] == "Suspended"
    created = requests.post(f"{sim.base_url}/services/data/{API}/sobjects/Lead",
                            json={"LastName": "Late", "Company": "Schedules Inc"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert created.status_code == 201, created.text
    time.sleep(1.1)  # windows end on whole seconds
    assert client.start_flow(flowName="leads")["flowStatus"] == "Active"
    first_again, second = wait_for_runs(client, "leads", 2)
    assert first_again["executionId"] == first["executionId"]
    assert second["executionStatus"] == "Successful", second
    assert second["dataPullStartTime"] == end, "the next window starts where the last one ended"
    assert delivered_ids(server, "leads", second["executionId"]) == [created.json()["id"]]


def test_failed_runs_at_the_threshold_deactivate_the_flow_until_it_is_started_again(server_factory, sim_factory):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    server = server_factory(env={"SLUICE_SETTLE_LAG": "0"})
    client, _token = setup_leads_flow(server, sim, "fragile", {
        "scheduleExpression": "rate(1hours)", "dataPullMode": "Complete", "flowErrorDeactivationThreshold": 1})
    faults = f"{sim.base_url}/__sim/faults"
    fault = {"path_contains": "/sobjects/Lead/describe", "error_rate": 1.0, "status": 400}
    assert requests.put(faults, json=[fault], timeout=10).status_code == 200
    try:
        client.start_flow(flowName="fragile")
        [failed] = wait_for_runs(client, "fragile", 1)
        deadline = time.monotonic() + 10
        while client.describe_flow(flowName="fragile")["flowStatus"] != "Errored":
            assert time.monotonic() < deadline, client.describe_flow(flowName="fragile")
            time.sleep(0.1)
    finally:
        requests.delete(faults, timeout=10)
    assert failed["executionStatus"] == "Error"
    described = client.describe_flow(flowName="fragile")
    assert "1 failed runs in a row" in described["flowStatusMessage"], described
    assert described["lastRunExecutionDetails"]["mostRecentExecutionStatus"] == "Error"

    started = client.start_flow(flowName="fragile")
    assert started["flowStatus"] == "Active"
    assert "flowStatusMessage" not in client.describe_flow(flowName="fragile")
    runs = wait_for_runs(client, "fragile", 2)
    assert runs[1]["executionStatus"] == "Successful", runs[1]
    assert client.describe_flow(flowName="fragile")["flowStatus"] == "Active"


def test_backfill_reads_a_past_window_and_leaves_the_position_alone(server_factory, sim_factory, sluice_bin):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    server = server_factory(env={"SLUICE_SETTLE_LAG": "0"})
    client, token = setup_leads_flow(server, sim, "history", {"scheduleExpression": "rate(1hours)",
                                                              "dataPullMode": "Incremental"})
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start, end = now - datetime.timedelta(days=3), now - datetime.timedelta(days=1)
    expected = {r["Id"] for r in soql(sim, token, f"SELECT Id FROM Lead WHERE SystemModstamp >= {literal(start)} "
                                                  f"AND SystemModstamp < {literal(end)}")}
    assert expected
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    result = subprocess.run(
        [sluice_bin, "flow", "backfill", "history", "--from", literal(start), "--to", literal(end),
         "--endpoint", server.endpoint, "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [run] = wait_for_runs(client, "history", 1)
    assert run["executionStatus"] == "Successful", run
    assert (run["dataPullStartTime"], run["dataPullEndTime"]) == (start, end)
    assert sorted(delivered_ids(server, "history", run["executionId"])) == sorted(expected)
    assert run["executionId"] in result.stdout

    # The flow was never activated: its first scheduled run still reads the past 30 days.
    client.start_flow(flowName="history")
    runs = wait_for_runs(client, "history", 2)
    scheduled = next(r for r in runs if r["executionId"] != run["executionId"])
    assert now - scheduled["dataPullStartTime"] > datetime.timedelta(days=29), scheduled


def test_a_backfill_window_must_be_ordered(server_factory, sim_factory, sluice_bin):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    server = server_factory()
    setup_leads_flow(server, sim, "ordered", {"scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    result = subprocess.run(
        [sluice_bin, "flow", "backfill", "ordered", "--from", "2026-11-02T00:00:00Z", "--to", "2026-11-01T00:00:00Z",
         "--endpoint", server.endpoint, "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode != 0
    assert "ValidationException" in result.stderr and "must start before it ends" in result.stderr, result.stderr
