"""The committed generated Rust types must match what the generator makes from the bundled model."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_appflow_types_are_up_to_date(tmp_path):
    out = tmp_path / "types.rs"
    subprocess.run(
        [sys.executable, str(ROOT / "tools/codegen_botocore.py"),
         str(ROOT / "crates/sluice-model/models/appflow-service-2.json"), str(out)],
        check=True,
    )
    committed = (ROOT / "crates/sluice-model/src/appflow/types.rs").read_text()
    assert out.read_text() == committed, (
        "crates/sluice-model/src/appflow/types.rs is stale: run "
        "tools/codegen_botocore.py crates/sluice-model/models/appflow-service-2.json "
        "crates/sluice-model/src/appflow/types.rs"
    )


def test_bundled_models_match_the_reference_when_present():
    reference = ROOT.parent / "shared" / "reference"
    if not reference.is_dir():
        return
    for name in ("appflow-service-2.json", "events-service-2.json", "stepfunctions-service-2.json"):
        assert (ROOT / "crates/sluice-model/models" / name).read_bytes() == (reference / name).read_bytes(), name
