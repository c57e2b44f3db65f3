"""Throughput of flow runs on the real binaries, each next to a baseline
measured in the same run on the same machine.

1. Salesforce -> object storage: N simulator Leads, 7 fields (Id, FirstName,
   LastName, Email, Company, Phone, CreatedDate), REST_SYNC -> Parquet.
   Baseline: a minimal client reading the same query pages from the same
   simulator without parsing them (the serving ceiling).
2. Object storage -> object storage: a CSV of N rows (id, email, first_name,
   last_name, company, phone, do_not_call, created_at, annual_revenue,
   country; about 135 MB) -> Parquet with a filter (do_not_call = false), three renames
   and a mask on phone. Baseline: DuckDB doing the same COPY ... TO parquet.
3. Object storage -> Salesforce: the same CSV -> Lead INSERT through Bulk
   API 2.0. Baseline: a minimal client loading the same records (already in
   Lead's columns) with Bulk API 2.0 jobs of 50,000 records (the
   simulator's ingest ceiling).
4. Object storage -> PostgreSQL (the Redshift connector): the same CSV
   upserted by primary key into a table, first into an empty table, then
   all of it again (every row a conflict). Baseline: psql's \\copy into a
   staging table and one INSERT ... ON CONFLICT DO UPDATE, in one
   transaction, on the same server (--postgres, a fresh database).
5. Marketo -> object storage: N simulator leads, 7 fields, read through the
   Bulk Lead Extract API -> Parquet. Baseline: a minimal client running the
   same export job (create, enqueue, poll, download the file without
   parsing it): what the simulator can serve.

Run seconds are the execution record's (dataPullStartTime to
dataPullEndTime: from the worker's claim to the end). Peak RSS is the
server's VmHWM at the end of the run.

Usage (scripts/bench-throughput does the set-up):
    python tests/bench/throughput.py --bin target/release/sluice [--records 1000000] [--case 1 --case 2]
        [--postgres postgres://postgres@127.0.0.1:5432/postgres]
"""
from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import pathlib
import platform
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from conftest import SimProcess, SluiceServer, create_salesforce_profile, sim_tokens  # noqa: E402

LEAD_FIELDS = ["Id", "FirstName", "LastName", "Email", "Company", "Phone", "CreatedDate"]
CSV_COLUMNS = ["id", "email", "first_name", "last_name", "company", "phone", "do_not_call", "created_at",
               "annual_revenue", "country"]
RENAMES = {"email": "Email", "first_name": "FirstName", "last_name": "LastName"}
# CSV column -> Lead field for the INSERT case.
LEAD_MAPPING = {"first_name": "FirstName", "last_name": "LastName", "email": "Email", "company": "Company",
                "phone": "Phone", "country": "Country"}
BULK_JOB_RECORDS = 50_000
API = "/services/data/v62.0"


def status_kb(pid: int, field: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def customers_csv(path: pathlib.Path, records: int) -> int:
    """Writes the CSV of case 2 and 3; returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    countries = ["US", "DE", "FR", "JP", "BR", "IN", "GB", "CA"]
    with open(path, "w", newline="") as out:
        out.write(",".join(CSV_COLUMNS) + "\n")
        for i in range(records):
            out.write(
                f"{i},customer{i}@example-mail.com,Firstname{i % 5003},Lastname{i % 7919},Company {i % 9973} GmbH,"
                f"+1 555 {i % 10000:04d},{'true' if rng.random() < 0.1 else 'false'},"
                f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z,"
                f"{(i % 100000) * 12.5:.2f},{countries[i % len(countries)]}\n"
            )
    return path.stat().st_size


def run_flow(client, flow: str, server: SluiceServer) -> dict:
    execution_id = client.start_flow(flowName=flow)["executionId"]
    while True:
        runs = client.describe_flow_execution_records(flowName=flow)["flowExecutions"]
        record = next(r for r in runs if r["executionId"] == execution_id)
        if record["executionStatus"] not in ("InProgress", "CancelStarted"):
            break
        time.sleep(0.05)
    if record["executionStatus"] != "Successful":
        raise RuntimeError(f"the run of {flow} ended {record['executionStatus']}: {record}")
    seconds = (record["dataPullEndTime"] - record["dataPullStartTime"]).total_seconds()
    result = record["executionResult"]
    return {"records": result["recordsProcessed"], "seconds": seconds, "mb": result["bytesWritten"] / 1e6,
            "peak_mb": status_kb(server.process.pid, "VmHWM") / 1024}


def serving_ceiling(sim: SimProcess, token: str, soql: str) -> dict:
    """Reads every page of a query without parsing it (nextRecordsUrl is found by a byte search)."""
    connection = http.client.HTTPConnection("127.0.0.1", sim.port)
    path = f"{API}/query?q={urllib.parse.quote(soql)}"
    total_bytes = 0
    records = None
    started = time.perf_counter()
    while path:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        body = connection.getresponse().read()
        total_bytes += len(body)
        if records is None:
            at = body.find(b'"totalSize":') + len(b'"totalSize":')
            records = int(body[at:body.index(b",", at)])
        at = body.find(b'"nextRecordsUrl":"')
        path = body[at + 18:body.index(b'"', at + 18)].decode() if at >= 0 else None
    return {"records": records, "seconds": time.perf_counter() - started, "mb": total_bytes / 1e6, "peak_mb": None}


def case_salesforce_to_parquet(binary: str, root: pathlib.Path, records: int) -> list[dict]:
    unused = root / "no-tls.pem"
    sim = SimProcess(binary, "salesforce", root / "sim", unused, unused,
                     args=["--seed", "empty", "--generate-leads", str(records)], tls=False).start()
    server = SluiceServer(binary, root / "sluice").start()
    try:
        soql = f"SELECT {', '.join(LEAD_FIELDS)} FROM Lead"
        ceiling = serving_ceiling(sim, sim_tokens(sim)["access_token"], soql)
        client = server.client()
        create_salesforce_profile(client, sim)
        client.create_flow(
            flowName="leads", triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "org",
                              "sourceConnectorProperties": {"Salesforce": {"object": "Lead",
                                                                           "dataTransferApi": "REST_SYNC"}}},
            destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                "bucketName": "bench", "s3OutputFormatConfig": {"fileType": "PARQUET"}}}}],
            tasks=[{"taskType": "Filter", "sourceFields": LEAD_FIELDS, "connectorOperator": {"Salesforce": "PROJECTION"}}],
        )
        run = run_flow(client, "leads", server)
        return [
            {"case": "1", "what": "baseline: the same query pages read without parsing (serving ceiling)", **ceiling},
            {"case": "1", "what": "sluice: Lead (7 fields) REST_SYNC -> Parquet", **run},
        ]
    finally:
        server.stop()
        sim.stop()


def parquet_rows(pattern: str) -> int:
    import duckdb

    return duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{pattern}')").fetchone()[0]


def duckdb_copy(csv_path: pathlib.Path, out: pathlib.Path, records: int) -> dict:
    import duckdb

    select = ", ".join(
        f"{c} AS {RENAMES[c]}" if c in RENAMES else ("regexp_replace(phone, '.', '#', 'g') AS phone" if c == "phone" else c)
        for c in CSV_COLUMNS
    )
    connection = duckdb.connect()
    started = time.perf_counter()
    connection.execute(
        f"COPY (SELECT {select} FROM read_csv('{csv_path}', header = true) WHERE do_not_call = false) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION snappy)"
    )
    seconds = time.perf_counter() - started
    return {"records": records, "delivered": parquet_rows(str(out)), "seconds": seconds,
            "mb": out.stat().st_size / 1e6, "peak_mb": None}


def case_csv_to_parquet(binary: str, root: pathlib.Path, records: int) -> list[dict]:
    server = SluiceServer(binary, root / "sluice").start()
    try:
        csv_path = server.data_dir / "objects" / "landing" / "customers" / "customers.csv"
        size = customers_csv(csv_path, records)
        baseline = duckdb_copy(csv_path, root / "duckdb.parquet", records)
        client = server.client()
        tasks = [{"taskType": "Filter", "sourceFields": CSV_COLUMNS, "connectorOperator": {"S3": "PROJECTION"}},
                 {"taskType": "Filter", "sourceFields": ["do_not_call"], "connectorOperator": {"S3": "EQUAL_TO"},
                  "taskProperties": {"DATA_TYPE": "boolean", "VALUE": "false"}},
                 {"taskType": "Mask", "sourceFields": ["phone"], "connectorOperator": {"S3": "MASK_ALL"},
                  "taskProperties": {"MASK_VALUE": "#"}}]
        tasks += [{"taskType": "Map", "sourceFields": [c], "destinationField": RENAMES.get(c, c),
                   "connectorOperator": {"S3": "NO_OP"}} for c in CSV_COLUMNS]
        client.create_flow(
            flowName="customers", triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                "bucketName": "landing", "bucketPrefix": "customers", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
            destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                "bucketName": "lake", "s3OutputFormatConfig": {"fileType": "PARQUET"}}}}],
            tasks=tasks,
        )
        run = run_flow(client, "customers", server)
        run["delivered"] = parquet_rows(str(server.data_dir / "objects" / "lake" / "customers" / "**" / "*.parquet"))
        what = f"{size / 1e6:.0f} MB CSV -> Parquet, filter + 3 renames + mask"
        return [
            {"case": "2", "what": f"baseline: DuckDB COPY, {what}", **baseline},
            {"case": "2", "what": f"sluice: S3 -> S3, {what}", **run},
        ]
    finally:
        server.stop()


def bulk_ceiling(sim: SimProcess, csv_path: pathlib.Path) -> dict:
    """Loads the CSV's records (in Lead's columns) with Bulk API 2.0 jobs, as a minimal client would."""
    token = sim_tokens(sim)["access_token"]
    connection = http.client.HTTPConnection("127.0.0.1", sim.port)

    def call(method, path, body=None, content_type="application/json"):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data) if data and content_type == "application/json" else data

    # The jobs' CSV is prepared before the clock starts: only loading is timed.
    jobs, rows = [], []
    header = list(LEAD_MAPPING.values())
    with open(csv_path, newline="") as source:
        for record in csv.DictReader(source):
            rows.append([record[c] for c in LEAD_MAPPING])
            if len(rows) == BULK_JOB_RECORDS:
                jobs.append(rows)
                rows = []
    if rows:
        jobs.append(rows)
    bodies = []
    for job_rows in jobs:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(job_rows)
        bodies.append(text.getvalue().encode())
    started = time.perf_counter()
    loaded = 0
    for body in bodies:
        job = call("POST", f"{API}/jobs/ingest", json.dumps({"object": "Lead", "operation": "insert",
                                                            "contentType": "CSV", "lineEnding": "LF"}))
        call("PUT", f"{API}/jobs/ingest/{job['id']}/batches", body, content_type="text/csv")
        call("PATCH", f"{API}/jobs/ingest/{job['id']}", json.dumps({"state": "UploadComplete"}))
        while True:
            state = call("GET", f"{API}/jobs/ingest/{job['id']}")
            if state["state"] in ("JobComplete", "Failed", "Aborted"):
                break
            time.sleep(0.02)
        loaded += state["numberRecordsProcessed"] - state["numberRecordsFailed"]
    return {"records": loaded, "seconds": time.perf_counter() - started,
            "mb": sum(map(len, bodies)) / 1e6, "peak_mb": None}


def case_csv_to_salesforce(binary: str, root: pathlib.Path, records: int) -> list[dict]:
    unused = root / "no-tls.pem"
    rows = []
    # The baseline and the flow each load into an empty org of their own.
    csv_path = root / "customers.csv"
    customers_csv(csv_path, records)
    sim = SimProcess(binary, "salesforce", root / "sim-baseline", unused, unused, args=["--seed", "empty"], tls=False).start()
    try:
        rows.append({"case": "3", "what": "baseline: a minimal Bulk API 2.0 client, jobs of 50,000 (ingest ceiling)",
                     **bulk_ceiling(sim, csv_path)})
    finally:
        sim.stop()
    sim = SimProcess(binary, "salesforce", root / "sim", unused, unused, args=["--seed", "empty"], tls=False).start()
    server = SluiceServer(binary, root / "sluice").start()
    try:
        target = server.data_dir / "objects" / "inbox" / "customers" / "customers.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        csv_path.rename(target)
        client = server.client()
        create_salesforce_profile(client, sim)
        client.create_flow(
            flowName="leads-in", triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                "bucketName": "inbox", "bucketPrefix": "customers", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
            destinationFlowConfigList=[{"connectorType": "Salesforce", "connectorProfileName": "org",
                                        "destinationConnectorProperties": {"Salesforce": {
                                            "object": "Lead", "writeOperationType": "INSERT"}}}],
            tasks=[{"taskType": "Map", "sourceFields": [source], "destinationField": target_field,
                    "connectorOperator": {"S3": "NO_OP"}} for source, target_field in LEAD_MAPPING.items()],
        )
        rows.append({"case": "3", "what": "sluice: CSV -> Lead INSERT (AUTOMATIC: Bulk API 2.0)",
                     **run_flow(client, "leads-in", server)})
        return rows
    finally:
        server.stop()
        sim.stop()


CUSTOMERS_TABLE = (
    "(id bigint PRIMARY KEY, email text, first_name text, last_name text, company text, phone text, "
    "do_not_call boolean, created_at timestamptz, annual_revenue double precision, country text)"
)
# The PostgreSQL server of case 4 (a fresh database is made on it).
POSTGRES = {"url": os.environ.get("SLUICE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")}


def psql(url: str, script: str) -> float:
    """Runs `script` with psql (stopping at the first error); returns its seconds."""
    started = time.perf_counter()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url], input=script, text=True, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def psql_value(url: str, query: str) -> str:
    return subprocess.run(["psql", "-X", "-A", "-t", url, "-c", query], text=True, check=True,
                          capture_output=True).stdout.strip()


def psql_upsert(url: str, csv_path: pathlib.Path, table: str, records: int) -> dict:
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in CSV_COLUMNS if c != "id")
    script = (
        "BEGIN;\n"
        f"CREATE TEMPORARY TABLE stage ON COMMIT DROP AS SELECT * FROM {table} WITH NO DATA;\n"
        f"\\copy stage FROM '{csv_path}' WITH (FORMAT csv, HEADER true)\n"
        f"INSERT INTO {table} SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET {updates};\n"
        "COMMIT;\n"
    )
    seconds = psql(url, script)
    return {"records": records, "seconds": seconds, "mb": csv_path.stat().st_size / 1e6, "peak_mb": None}


def case_csv_to_postgres(binary: str, root: pathlib.Path, records: int) -> list[dict]:
    admin = POSTGRES["url"]
    name = f"sluice_bench_{os.getpid()}_{int(time.time())}"
    psql(admin, f"CREATE DATABASE {name};")
    parsed = urllib.parse.urlparse(admin)
    url = parsed._replace(path=f"/{name}").geturl()
    server = SluiceServer(binary, root / "sluice").start()
    try:
        csv_path = server.data_dir / "objects" / "landing" / "customers" / "customers.csv"
        size = customers_csv(csv_path, records)
        psql(url, f"CREATE TABLE customers_psql {CUSTOMERS_TABLE}; CREATE TABLE customers_sluice {CUSTOMERS_TABLE};")
        client = server.client()
        client.create_connector_profile(
            connectorProfileName="warehouse", connectorType="Redshift", connectionMode="Public",
            connectorProfileConfig={
                "connectorProfileProperties": {"Redshift": {
                    "databaseUrl": f"jdbc:postgresql://{parsed.hostname}:{parsed.port or 5432}/{name}",
                    "bucketName": "staging", "roleArn": "arn:aws:iam::123456789012:role/loader"}},
                "connectorProfileCredentials": {"Redshift": {"username": parsed.username or "postgres",
                                                             "password": parsed.password or "unused"}},
            },
        )
        client.create_flow(
            flowName="customers-in", triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                "bucketName": "landing", "bucketPrefix": "customers", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
            destinationFlowConfigList=[{"connectorType": "Redshift", "connectorProfileName": "warehouse",
                                        "destinationConnectorProperties": {"Redshift": {
                                            "object": "public.customers_sluice", "intermediateBucketName": "staging"}}}],
            tasks=[{"taskType": "Map", "sourceFields": [c], "destinationField": c, "connectorOperator": {"S3": "NO_OP"}}
                   for c in CSV_COLUMNS],
        )
        rows = []
        what = f"{size / 1e6:.0f} MB CSV -> table, upsert by primary key"
        for load in ("first load", "full re-upsert"):
            baseline = psql_upsert(url, csv_path, "customers_psql", records)
            run = run_flow(client, "customers-in", server)
            for row, table_name in ((baseline, "customers_psql"), (run, "customers_sluice")):
                row["delivered"] = int(psql_value(url, f"SELECT count(*) FROM {table_name}"))
            rows.append({"case": "4", "what": f"baseline: psql \\copy + INSERT ON CONFLICT, {what}, {load}", **baseline})
            rows.append({"case": "4", "what": f"sluice: S3 -> PostgreSQL, {what}, {load}", **run})
        same = psql_value(url, "SELECT count(*) FROM customers_psql p JOIN customers_sluice s USING (id) "
                               "WHERE (p.*)::text = (s.*)::text")
        for row in rows:
            row["identical"] = int(same)
        return rows
    finally:
        server.stop()
        psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


MARKETO_FIELDS = ["id", "email", "firstName", "lastName", "company", "phone", "createdAt"]


def marketo_export_ceiling(sim: SimProcess, start: str, end: str) -> dict:
    """One bulk lead export of [start, end], the file downloaded without parsing."""
    token = requests_json("POST", f"{sim.base_url}/identity/oauth/token",
                          data={"grant_type": "client_credentials", "client_id": "sluice-marketo-client",
                                "client_secret": "sluice-marketo-secret"})["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    job = requests_json("POST", f"{sim.base_url}/bulk/v1/leads/export/create.json", headers=headers,
                        json={"fields": MARKETO_FIELDS, "format": "CSV",
                              "filter": {"createdAt": {"startAt": start, "endAt": end}}})["result"][0]
    base = f"{sim.base_url}/bulk/v1/leads/export/{job['exportId']}"
    requests_json("POST", f"{base}/enqueue.json", headers=headers)
    while requests_json("GET", f"{base}/status.json", headers=headers)["result"][0]["status"] != "Completed":
        time.sleep(0.05)
    import requests

    size = 0
    with requests.get(f"{base}/file.json", headers=headers, stream=True, timeout=600) as response:
        for chunk in response.iter_content(1 << 20):
            size += len(chunk)
    records = requests_json("GET", f"{base}/status.json", headers=headers)["result"][0]["numberOfRecords"]
    return {"records": records, "seconds": time.perf_counter() - started, "mb": size / 1e6, "peak_mb": None}


def requests_json(method: str, url: str, **kwargs) -> dict:
    import requests

    response = requests.request(method, url, timeout=600, **kwargs)
    response.raise_for_status()
    body = response.json()
    if body.get("success") is False:
        raise RuntimeError(f"{url}: {body}")
    return body


def case_marketo_to_parquet(binary: str, root: pathlib.Path, records: int) -> list[dict]:
    unused = root / "no-tls.pem"
    sim = SimProcess(binary, "marketo", root / "sim", unused, unused, args=["--seed", "empty"], tls=False).start()
    server = SluiceServer(binary, root / "sluice").start()
    try:
        # The leads are created now: one export window (Complete reads from the first lead's createdAt).
        created = requests_json("POST", f"{sim.base_url}/__sim/generate", json={"count": records})
        assert created["created"] == records, created
        day = time.strftime("%Y-%m-%d", time.gmtime())
        ceiling = marketo_export_ceiling(sim, f"{day}T00:00:00Z", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60)))
        client = server.client()
        client.create_connector_profile(
            connectorProfileName="mk", connectorType="Marketo", connectionMode="Public",
            connectorProfileConfig={
                "connectorProfileProperties": {"Marketo": {"instanceUrl": sim.base_url}},
                "connectorProfileCredentials": {"Marketo": {"clientId": "sluice-marketo-client",
                                                            "clientSecret": "sluice-marketo-secret"}},
            },
        )
        client.create_flow(
            flowName="marketo-leads", triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "Marketo", "connectorProfileName": "mk",
                              "sourceConnectorProperties": {"Marketo": {"object": "leads"}}},
            destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                "bucketName": "bench", "s3OutputFormatConfig": {"fileType": "PARQUET"}}}}],
            tasks=[{"taskType": "Filter", "sourceFields": MARKETO_FIELDS, "connectorOperator": {"Marketo": "PROJECTION"}}],
        )
        run = run_flow(client, "marketo-leads", server)
        run["delivered"] = parquet_rows(str(server.data_dir / "objects" / "bench" / "marketo-leads" / "**" / "*.parquet"))
        return [
            {"case": "5", "what": "baseline: one bulk lead export, file downloaded without parsing (serving ceiling)",
             **ceiling},
            {"case": "5", "what": "sluice: Marketo leads (7 fields, Bulk Lead Extract) -> Parquet", **run},
        ]
    finally:
        server.stop()
        sim.stop()


CASES = {"1": case_salesforce_to_parquet, "2": case_csv_to_parquet, "3": case_csv_to_salesforce,
         "4": case_csv_to_postgres, "5": case_marketo_to_parquet}


def table(rows: list[dict]) -> str:
    lines = ["| case | run | records | seconds | records/s | MB | peak RSS MB |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        peak = f"{r['peak_mb']:.0f}" if r["peak_mb"] is not None else "-"
        lines.append(f"| {r['case']} | {r['what']} | {r['records']:,} | {r['seconds']:.2f} | "
                     f"{r['records'] / r['seconds']:,.0f} | {r['mb']:.0f} | {peak} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the sluice binary (a release build for figures)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="run only these cases")
    parser.add_argument("--json", type=pathlib.Path, help="also write the rows as JSON here")
    parser.add_argument("--postgres", default=POSTGRES["url"], help="the PostgreSQL server of case 4")
    args = parser.parse_args(argv)
    POSTGRES["url"] = args.postgres
    rows = []
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        for name in args.case or sorted(CASES):
            print(f"case {name}: {args.records:,} records ...", file=sys.stderr, flush=True)
            rows.extend(CASES[name](args.bin, pathlib.Path(tmp) / f"case-{name}", args.records))
    print(f"machine: {platform.machine()}, {platform.processor() or platform.system()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores; {time.strftime('%Y-%m-%d')}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    for case in sorted({r["case"] for r in rows}):
        measured = [r for r in rows if r["case"] == case]
        expected = max(r["records"] for r in measured if not r["what"].startswith("baseline"))
        if case == "1" and expected != args.records:
            raise SystemExit(f"case 1 delivered {expected} of {args.records} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
