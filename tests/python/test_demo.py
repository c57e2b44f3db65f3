"""`sluice demo`: the README's first command, on a fresh data directory with
no other set-up. It runs both sample flows, prints where their outputs are
and how to go on, and serves until interrupted; boto3 then uses the lines it
printed."""
import os
import re
import signal
import subprocess
import time

import boto3
import botocore.config
import duckdb


def read_until(process, marker, timeout=180.0):
    """stdout lines of `process` until one contains `marker`."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    process.kill()
    raise AssertionError(f"no line with {marker!r} within {timeout}s:\n" + "\n".join(lines))


def demo_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "AWS_"))}


def test_demo_runs_both_flows_then_serves_what_it_printed(sluice_bin, tmp_path):
    data_dir = tmp_path / "demo"
    process = subprocess.Popen(
        [sluice_bin, "demo", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=demo_env(),
    )
    try:
        lines = read_until(process, "keeps running until Ctrl-C")
        text = "\n".join(lines)
        summaries = [line for line in lines if re.match(r"^[0-9a-f-]{36}: ", line)]
        assert len(summaries) == 2, text
        assert summaries[0].split(": ")[1].startswith("Successful, 500 records"), text
        assert summaries[1].split(": ")[1].startswith("Successful, 5 records"), text
        output = next(line.split("output: ")[1] for line in lines if "output: " in line)
        assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{output}')").fetchone()[0] == 500
        org = next(line for line in lines if "in Salesforce: " in line)
        assert "HOL-0003 Failed" in org and "HOL-9001 Requested" in org, org

        # The lines it printed work as they are.
        exports = next(line for line in lines if "export AWS_SHARED_CREDENTIALS_FILE=" in line)
        settings = dict(item.split("=", 1) for item in exports.split()[1:])
        client = boto3.client(
            "appflow",
            endpoint_url=settings["AWS_ENDPOINT_URL"],
            region_name=settings["AWS_DEFAULT_REGION"],
            config=botocore.config.Config(retries={"max_attempts": 1}),
            **credentials(settings["AWS_SHARED_CREDENTIALS_FILE"]),
        )
        flows = sorted(f["flowName"] for f in client.list_flows()["flows"])
        assert flows == ["demo-accounts-to-parquet", "demo-holiday-status"]
        runs = client.describe_flow_execution_records(flowName="demo-accounts-to-parquet")["flowExecutions"]
        assert [r["executionStatus"] for r in runs] == ["Successful"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    assert process.returncode == 0, process.stderr.read()

    # A second demo on the same directory replaces the first one's profile and flows.
    again = subprocess.run(
        [sluice_bin, "demo", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0", "--exit"],
        capture_output=True, text=True, env=demo_env(), timeout=180,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count(": Successful, ") == 2, again.stdout


def credentials(path):
    values = {}
    for line in open(path):
        if "=" in line and not line.startswith("#"):
            key, value = (part.strip() for part in line.split("=", 1))
            values[key] = value
    return {"aws_access_key_id": values["aws_access_key_id"], "aws_secret_access_key": values["aws_secret_access_key"]}
