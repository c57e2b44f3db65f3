"""The `sluice` CLI and the aws CLI against a running server."""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
import requests

from conftest import sim_tokens


def run_cli(sluice_bin, server, *args, stdin=None, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    result = subprocess.run(
        [sluice_bin, *args, "--endpoint", server.endpoint, "--data-dir", str(server.data_dir)],
        input=stdin, capture_output=True, text=True, env=env, timeout=60,
    )
    if check and result.returncode != 0:
        pytest.fail(f"sluice {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


PROFILE = {
    "connectorProfileName": "cli-sf",
    "connectorType": "Salesforce",
    "connectionMode": "Public",
    "connectorProfileConfig": {
        "connectorProfileProperties": {"Salesforce": {"instanceUrl": "set by cli_profile"}},
        "connectorProfileCredentials": {"Salesforce": {"accessToken": "CLI-SECRET-TOKEN"}},
    },
}


@pytest.fixture(autouse=True)
def cli_profile(salesforce_org):
    """PROFILE points at the session's org, which accepts its token (profiles must connect)."""
    sim_tokens(salesforce_org, access_token="CLI-SECRET-TOKEN")
    PROFILE["connectorProfileConfig"]["connectorProfileProperties"]["Salesforce"]["instanceUrl"] = salesforce_org.base_url

FLOW = {
    "flowName": "cli-accounts",
    "triggerConfig": {"triggerType": "OnDemand"},
    "sourceFlowConfig": {
        "connectorType": "Salesforce",
        "connectorProfileName": "cli-sf",
        "sourceConnectorProperties": {"Salesforce": {"object": "Account"}},
    },
    "destinationFlowConfigList": [
        {"connectorType": "S3", "destinationConnectorProperties": {"S3": {"bucketName": "out"}}}
    ],
    "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}],
}


def test_cli_manages_profiles_and_flows(sluice_bin, fresh_server, tmp_path):
    profile_file = tmp_path / "profile.json"
    profile_file.write_text(json.dumps(PROFILE))
    created = json.loads(run_cli(sluice_bin, fresh_server, "profile", "create", "-f", str(profile_file)).stdout)
    assert created["connectorProfileArn"].endswith(":connectorprofile/cli-sf")

    listed = run_cli(sluice_bin, fresh_server, "profile", "list").stdout
    assert "cli-sf" in listed and "Salesforce" in listed
    described = run_cli(sluice_bin, fresh_server, "profile", "describe", "cli-sf").stdout
    assert PROFILE["connectorProfileConfig"]["connectorProfileProperties"]["Salesforce"]["instanceUrl"] in described
    assert "CLI-SECRET-TOKEN" not in described

    created = json.loads(run_cli(sluice_bin, fresh_server, "flow", "create", "-f", "-", stdin=json.dumps(FLOW)).stdout)
    assert created["flowStatus"] == "Active"
    assert "cli-accounts" in run_cli(sluice_bin, fresh_server, "flow", "list").stdout
    assert json.loads(run_cli(sluice_bin, fresh_server, "flow", "describe", "cli-accounts").stdout)["flowName"] == "cli-accounts"

    started = json.loads(run_cli(sluice_bin, fresh_server, "flow", "start", "cli-accounts").stdout)
    for _ in range(100):
        runs = run_cli(sluice_bin, fresh_server, "flow", "runs", "cli-accounts").stdout
        if "InProgress" not in runs:
            break
        time.sleep(0.1)
    assert started["executionId"] in runs and "Successful" in runs and "500" in runs, runs

    refused = run_cli(sluice_bin, fresh_server, "profile", "delete", "cli-sf", check=False)
    assert refused.returncode == 1
    assert "ConflictException" in refused.stderr and "cli-accounts" in refused.stderr

    run_cli(sluice_bin, fresh_server, "flow", "delete", "cli-accounts")
    run_cli(sluice_bin, fresh_server, "profile", "delete", "cli-sf")
    assert "cli-sf" not in run_cli(sluice_bin, fresh_server, "profile", "list").stdout


def test_cli_flow_run_follows_the_run_to_its_end(sluice_bin, fresh_server, salesforce_org):
    fresh_server.client().create_connector_profile(**PROFILE)
    fresh_server.client().create_flow(**FLOW)
    result = run_cli(sluice_bin, fresh_server, "flow", "run", "cli-accounts", "--timeout", "60")
    assert ": Successful, 500 records, " in result.stdout, result.stdout + result.stderr
    # A run the org makes fail: non-zero exit, with the run's message.
    faults = f"{salesforce_org.base_url}/__sim/faults"
    fault = {"path_contains": "/sobjects/Account/describe", "error_rate": 1.0, "status": 500}
    assert requests.put(faults, json=[fault], timeout=10).status_code == 200
    try:
        result = run_cli(sluice_bin, fresh_server, "flow", "run", "cli-accounts", "--timeout", "60", check=False)
    finally:
        requests.delete(faults, timeout=10)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ended Error: Salesforce: " in result.stderr, result.stderr
    runs = fresh_server.client().describe_flow_execution_records(flowName="cli-accounts")["flowExecutions"]
    assert sorted(r["executionStatus"] for r in runs) == ["Error", "Successful"]


def test_a_burst_of_server_errors_is_retried_and_shown(sluice_bin, fresh_server, salesforce_org):
    fresh_server.client().create_connector_profile(**PROFILE)
    fresh_server.client().create_flow(**FLOW)
    faults = f"{salesforce_org.base_url}/__sim/faults"
    burst = {"path_contains": "/query", "fail_first": 2, "status": 503}
    assert requests.put(faults, json=[burst], timeout=10).status_code == 200
    try:
        result = run_cli(sluice_bin, fresh_server, "flow", "run", "cli-accounts", "--timeout", "60")
    finally:
        requests.delete(faults, timeout=10)
    last_line = result.stdout.strip().splitlines()[-1]
    assert ": Successful, 500 records, " in last_line and last_line.endswith(", 2 calls retried"), last_line


def test_cli_rejects_misspelt_fields_before_sending(sluice_bin, fresh_server, tmp_path):
    bad = dict(FLOW, flowNmae="typo")
    bad["triggerConfig"] = {"triggerType": "Sometimes"}
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(bad))
    result = run_cli(sluice_bin, fresh_server, "flow", "create", "-f", str(path), check=False)
    assert result.returncode == 1
    assert "Unknown member 'flowNmae'" in result.stderr
    assert "triggerConfig.triggerType" in result.stderr
    assert fresh_server.client().list_flows()["flows"] == []


def test_cli_without_credentials_says_how_to_get_them(sluice_bin, fresh_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    result = subprocess.run(
        [sluice_bin, "flow", "list", "--endpoint", fresh_server.endpoint, "--data-dir", str(tmp_path / "nowhere")],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 1
    assert "SLUICE_ACCESS_KEY_ID" in result.stderr


def test_aws_cli_lists_flows_with_the_generated_credentials_file(fresh_server):
    fresh_server.client().create_connector_profile(**PROFILE)
    fresh_server.client().create_flow(**FLOW)
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=str(fresh_server.credentials_path), AWS_CONFIG_FILE="/dev/null")
    env.pop("AWS_ACCESS_KEY_ID", None)
    env.pop("AWS_SECRET_ACCESS_KEY", None)
    aws = pathlib.Path(sys.executable).parent / "aws"
    result = subprocess.run(
        [str(aws), "appflow", "list-flows", "--endpoint-url", fresh_server.endpoint, "--region", "us-east-1", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    flows = json.loads(result.stdout)["flows"]
    assert [f["flowName"] for f in flows] == ["cli-accounts"]


def test_server_logs_carry_no_colour_codes_when_stderr_is_not_a_terminal(fresh_server):
    fresh_server.client().list_flows()
    log = fresh_server.log_path.read_bytes()
    assert b"/list-flows" in log, log[-2000:]
    assert b"\x1b[" not in log, "ANSI escape codes in a log file"


def test_json_logs_are_one_object_per_line(server_factory):
    srv = server_factory(env={"SLUICE_LOG_FORMAT": "json"})
    srv.client().list_flows()
    srv.stop()
    lines = srv.log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    requests_logged = [r for r in records if r.get("fields", {}).get("path") == "/list-flows"]
    assert requests_logged, lines[-20:]
    assert requests_logged[0]["fields"]["status"] == 200
    assert all(r["level"] in {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"} for r in records)
    # Only the credentials banner and the listening line are not JSON.
    assert all(line.startswith("{") or not line.startswith("20") for line in lines), lines
