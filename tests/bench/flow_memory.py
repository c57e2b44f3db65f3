"""Peak memory of flow runs, measured on the real binaries.

Each case starts a Salesforce simulator and a fresh `sluice serve` (SQLite +
local folder), runs one flow with boto3 and reads the server's peak resident
set (VmHWM) when the run has ended:
- `API:FORMAT` cases: N generated Leads -> object storage (Map_all);
- `INSERT:CSV` cases: a CSV object of N rows -> Salesforce Lead inserts.
The baseline in the same run is the first direction over 100,000 records:
memory that stays bounded does not grow with the record count.

Usage (scripts/bench-memory does the set-up):
    python tests/bench/flow_memory.py --bin target/release/sluice [--records 1000000]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from conftest import SimProcess, SluiceServer, create_salesforce_profile  # noqa: E402

LIMIT_MB = 300


def status_kb(pid: int, field: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def leads_csv(path: pathlib.Path, records: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        out.write("last_name,company,email,city\n")
        for i in range(records):
            out.write(f"Lead{i},Company {i % 9973},lead{i}@example.com,City {i % 101}\n")


def run_case(binary: str, root: pathlib.Path, records: int, api: str, file_type: str) -> dict:
    unused = root / "no-tls.pem"
    inserting = api == "INSERT"
    generated = 0 if inserting else records
    sim = SimProcess(binary, "salesforce", root / "sim", unused, unused,
                     args=["--seed", "empty", "--generate-leads", str(generated)], tls=False)
    sim.start()
    server = SluiceServer(binary, root / "sluice").start()
    try:
        pid = server.process.pid
        idle_mb = status_kb(pid, "VmRSS") / 1024
        client = server.client()
        create_salesforce_profile(client, sim)
        if inserting:
            leads_csv(server.data_dir / "objects" / "inbox" / "leads" / "leads.csv", records)
            fields = {"last_name": "LastName", "company": "Company", "email": "Email", "city": "City"}
            client.create_flow(
                flowName="leads", triggerConfig={"triggerType": "OnDemand"},
                sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                    "bucketName": "inbox", "bucketPrefix": "leads", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
                destinationFlowConfigList=[{"connectorType": "Salesforce", "connectorProfileName": "org",
                                            "destinationConnectorProperties": {"Salesforce": {
                                                "object": "Lead", "writeOperationType": "INSERT"}}}],
                tasks=[{"taskType": "Map", "sourceFields": [source], "destinationField": target,
                        "connectorOperator": {"S3": "NO_OP"}} for source, target in fields.items()],
            )
        else:
            client.create_flow(
                flowName="leads", triggerConfig={"triggerType": "OnDemand"},
                sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "org",
                                  "sourceConnectorProperties": {"Salesforce": {"object": "Lead", "dataTransferApi": api}}},
                destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                    "bucketName": "bench", "s3OutputFormatConfig": {"fileType": file_type}}}}],
                tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}],
            )
        started = time.monotonic()
        execution_id = client.start_flow(flowName="leads")["executionId"]
        while True:
            runs = client.describe_flow_execution_records(flowName="leads")["flowExecutions"]
            record = next(r for r in runs if r["executionId"] == execution_id)
            if record["executionStatus"] != "InProgress":
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        if record["executionStatus"] != "Successful":
            raise RuntimeError(f"the run ended {record['executionStatus']}: {record}")
        result = record["executionResult"]
        return {
            "records": result["recordsProcessed"], "seconds": seconds,
            "api": "AUTOMATIC (S3 -> Lead INSERT)" if inserting else f"{api} (Lead -> S3)", "format": file_type,
            "mb_written": result["bytesWritten"] / 1e6, "idle_mb": idle_mb, "peak_mb": status_kb(pid, "VmHWM") / 1024,
        }
    finally:
        server.stop()
        sim.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the sluice binary (a release build)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--baseline-records", type=int, default=100_000)
    parser.add_argument("--case", action="append", default=[], metavar="RECORDS:API:FORMAT",
                        help="run this case instead of the default ones, e.g. 1000000:BULKV2:CSV (repeatable)")
    args = parser.parse_args()
    cases = [
        (args.baseline_records, "REST_SYNC", "CSV"),
        (args.records, "REST_SYNC", "CSV"),
        (args.records, "AUTOMATIC", "PARQUET"),
        (args.records, "INSERT", "CSV"),
    ]
    if args.case:
        cases = [(int(n), api, file_type) for n, api, file_type in (c.split(":") for c in args.case)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        for n, (records, api, file_type) in enumerate(cases):
            print(f"running {records:,} Leads, {api} -> {file_type} ...", file=sys.stderr, flush=True)
            rows.append(run_case(args.bin, pathlib.Path(tmp) / f"case-{n}", records, api, file_type))
    print("| records | dataTransferApi | format | seconds | records/s | MB written | idle RSS MB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['records']:,} | {r['api']} | {r['format']} | {r['seconds']:.1f} | "
              f"{r['records'] / r['seconds']:,.0f} | {r['mb_written']:.0f} | {r['idle_mb']:.0f} | {r['peak_mb']:.0f} |")
    over = [r for r in rows if r["peak_mb"] >= LIMIT_MB]
    if over:
        print(f"peak RSS reached {LIMIT_MB} MB or more in {len(over)} case(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
