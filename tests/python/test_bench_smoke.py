"""A 10,000-record run of the throughput benchmark (tests/bench/throughput.py)
on the test binary: every case and baseline runs and delivers what it must.
The figures come from scripts/bench-throughput on release binaries."""
import importlib.util
import pathlib

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "throughput.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("throughput", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_throughput_benchmark_runs_every_case(sluice_bin, tmp_path, capsys):
    bench = load_bench()
    out = tmp_path / "rows.json"
    assert bench.main(["--bin", sluice_bin, "--records", "10000", "--json", str(out)]) == 0
    import json

    rows = json.loads(out.read_text())
    by_case = {}
    for row in rows:
        by_case.setdefault(row["case"], []).append(row)
    assert sorted(by_case) == ["1", "2", "3", "4", "5"]
    # Case 1: the ceiling and the flow both see every Lead.
    assert [r["records"] for r in by_case["1"]] == [10000, 10000]
    # Case 2: both read every row and keep the same ones (do_not_call = false).
    duckdb, sluice = by_case["2"]
    assert duckdb["records"] == sluice["records"] == 10000
    assert duckdb["delivered"] == sluice["delivered"] and 8500 < sluice["delivered"] < 9500, (duckdb, sluice)
    # Case 3: every record is loaded, by the minimal client and by the flow.
    assert [r["records"] for r in by_case["3"]] == [10000, 10000]
    # Case 4: psql and the flow upsert every row, twice, into identical tables.
    assert [r["records"] for r in by_case["4"]] == [10000] * 4
    assert [r["delivered"] for r in by_case["4"]] == [10000] * 4
    assert all(r["identical"] == 10000 for r in by_case["4"]), by_case["4"]
    # Case 5: the export and the flow both see every lead.
    assert [r["records"] for r in by_case["5"]] == [10000, 10000]
    assert by_case["5"][1]["delivered"] == 10000
    table = capsys.readouterr().out
    assert "| 2 | sluice: S3 -> S3" in table and "records/s" in table


def test_the_dynamodb_benchmark_runs_every_phase(sluice_bin, tmp_path):
    """A short run of tests/bench/dynamodb.py on the test binary: every
    operation of the paced phase and the sustained phase are measured on
    Sluice and on the moto baseline (the figures come from scripts/bench-dynamodb)."""
    spec = importlib.util.spec_from_file_location("dynamodb_bench", BENCH.parent / "dynamodb.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "rows.json"
    assert bench.main(["--bin", sluice_bin, "--seconds", "1", "--rate", "40", "--workers", "2", "--json", str(out)]) == 0
    import json

    rows = json.loads(out.read_text())
    for server in ("sluice", "moto (baseline)"):
        paced = {r["operation"]: r for r in rows if r["server"] == server and r["phase"] == "paced"}
        assert sorted(paced) == ["GetItem", "PutItem", "Query"], rows
        assert all(r["calls"] == 40 and 0 < r["p50_ms"] <= r["p99_ms"] for r in paced.values()), paced
        sustained = [r for r in rows if r["server"] == server and r["phase"] == "sustained"]
        assert len(sustained) == 1 and sustained[0]["calls"] > 0
