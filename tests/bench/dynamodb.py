"""Latency and throughput of the DynamoDB API through boto3, next to a
baseline measured in the same run: the same boto3 workload against moto's
DynamoDB server (`moto_server`, an in-memory DynamoDB emulator) on the same
machine.

1. Paced: each of PutItem, GetItem and Query at a fixed total rate
   (default 1,000 requests/s) for N seconds, spread over W worker
   processes, each with its own boto3 client. Latency is measured from the
   moment a call was due (open loop: a worker that falls behind counts the
   wait), p50 / p99 / max per operation.
2. Sustained: W workers call PutItem and GetItem alternately as fast as
   they are answered for N seconds; requests/s = calls answered / seconds.

Items are ~200 bytes (a hash key, a range key, four attributes); Query
reads one hash key's 10 items. The server is a release `sluice serve` on
SQLite in a temporary directory (or on --store postgres://...).

Usage (scripts/bench-dynamodb does the set-up):
    python tests/bench/dynamodb.py --bin target/release/sluice [--seconds 10] [--rate 1000]
        [--workers 4] [--store postgres://...] [--json rows.json]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))

TABLE = "bench"
ITEMS_PER_KEY = 10
KEYS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(target: dict):
    import boto3
    import botocore.config

    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=target["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=target["key"],
        aws_secret_access_key=target["secret"],
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=4),
    )


def item(pk: int, sk: int) -> dict:
    return {
        "pk": {"S": f"customer-{pk:05d}"},
        "sk": {"N": str(sk)},
        "name": {"S": f"Customer number {pk} item {sk}"},
        "region": {"S": ["emea", "amer", "apac"][pk % 3]},
        "amount": {"N": f"{pk * 7 % 1000}.{sk:02d}"},
        "tags": {"SS": ["a", "b", f"t{sk}"]},
    }


def prepare(target: dict) -> None:
    ddb = client(target)
    ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    for pk in range(KEYS):
        requests = [{"PutRequest": {"Item": item(pk, sk)}} for sk in range(ITEMS_PER_KEY)]
        ddb.batch_write_item(RequestItems={TABLE: requests})


def call(ddb, operation: str, n: int) -> None:
    pk = n % KEYS
    if operation == "PutItem":
        ddb.put_item(TableName=TABLE, Item=item(pk, n % ITEMS_PER_KEY))
    elif operation == "GetItem":
        ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"customer-{pk:05d}"}, "sk": {"N": str(n % ITEMS_PER_KEY)}})
    else:
        answer = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": f"customer-{pk:05d}"}})
        assert answer["Count"] == ITEMS_PER_KEY, answer["Count"]


def paced_worker(target: dict, operation: str, rate: float, seconds: float, offset: int, start_at: float, out) -> None:
    ddb = client(target)
    call(ddb, operation, offset)  # connect and warm up before the clock starts
    latencies = []
    interval = 1.0 / rate
    n = 0
    while True:
        due = start_at + n * interval
        if due >= start_at + seconds:
            break
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        call(ddb, operation, offset + n)
        latencies.append(time.perf_counter() - due)
        n += 1
    out.put(latencies)


def sustained_worker(target: dict, seconds: float, offset: int, start_at: float, out) -> None:
    ddb = client(target)
    call(ddb, "GetItem", offset)
    while time.perf_counter() < start_at:
        time.sleep(0.001)
    n = 0
    while time.perf_counter() < start_at + seconds:
        call(ddb, "PutItem" if n % 2 == 0 else "GetItem", offset + n)
        n += 1
    out.put(n)


def run_workers(target, workers: int, worker, *args) -> list:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.perf_counter() + 1.0
    processes = [context.Process(target=worker, args=(target, *args, i * 100_003, start_at, out)) for i in range(workers)]
    for p in processes:
        p.start()
    results = [out.get() for _ in processes]
    for p in processes:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a worker failed (exit {p.exitcode})")
    return results


def percentile(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, target: dict, args) -> list:
    rows = []
    prepare(target)
    for operation in ("PutItem", "GetItem", "Query"):
        per_worker = args.rate / args.workers
        results = run_workers(target, args.workers, paced_worker, operation, per_worker, args.seconds)
        latencies = [x for r in results for x in r]
        row = {
            "server": name, "phase": "paced", "operation": operation, "rate": args.rate, "calls": len(latencies),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    counts = run_workers(target, args.workers, sustained_worker, args.seconds)
    row = {"server": name, "phase": "sustained", "operation": "PutItem+GetItem", "workers": args.workers,
           "calls": sum(counts), "requests_per_s": round(sum(counts) / args.seconds)}
    print(json.dumps(row), flush=True)
    rows.append(row)
    return rows


def wait_for_port(port: int, process: subprocess.Popen, log: pathlib.Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not listen within 30 s")


def start_sluice(binary: str, root: pathlib.Path, store: str | None):
    port = free_port()
    log = root / "sluice.log"
    command = [binary, "serve", "--data-dir", str(root / "data"), "--listen", f"127.0.0.1:{port}"]
    if store:
        command += ["--store", store]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    process = subprocess.Popen(command, stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)
    wait_for_port(port, process, log)
    import configparser

    for _ in range(100):
        if (root / "data" / "credentials").is_file():
            break
        time.sleep(0.1)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(root / "data" / "credentials")
    section = parser["default"]
    return process, {"endpoint": f"http://127.0.0.1:{port}", "key": section["aws_access_key_id"],
                     "secret": section["aws_secret_access_key"]}


def start_moto(root: pathlib.Path):
    port = free_port()
    log = root / "moto.log"
    binary = pathlib.Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=open(log, "ab"),
                               stderr=subprocess.STDOUT)
    wait_for_port(port, process, log)
    return process, {"endpoint": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--store")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    print(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        process, target = start_sluice(args.bin, root, args.store)
        try:
            rows += measure("sluice", target, args)
        finally:
            process.terminate()
            process.wait()
        if not args.skip_baseline:
            process, target = start_moto(root)
            try:
                rows += measure("moto (baseline)", target, args)
            finally:
                process.terminate()
                process.wait()
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
