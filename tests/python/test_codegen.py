"""The committed generated Rust types must match what the generator makes from the bundled model."""
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "service,module",
    [
        ("appflow", "appflow"), ("events", "events"), ("sqs", "sqs"), ("iam", "iam"), ("sts", "sts"),
        ("dynamodb", "dynamodb"), ("dynamodbstreams", "dynamodbstreams"), ("pipes", "pipes"), ("secretsmanager", "secretsmanager"),
    ],
)
def test_generated_types_are_up_to_date(tmp_path, service, module):
    out = tmp_path / "types.rs"
    model = f"crates/sluice-model/models/{service}-service-2.json"
    generated = f"crates/sluice-model/src/{module}/types.rs"
    # Large models (IAM) are generated for the operations Sluice serves only.
    subset = ROOT / f"crates/sluice-model/models/{service}-operations.txt"
    operations = subset.read_text().split() if subset.exists() else []
    subprocess.run(
        [sys.executable, str(ROOT / "tools/codegen_botocore.py"), str(ROOT / model), str(out), *operations],
        check=True,
    )
    assert out.read_text() == (ROOT / generated).read_text(), (
        f"{generated} is stale: run tools/codegen_botocore.py {model} {generated}"
    )


def test_bundled_models_match_the_reference_when_present():
    reference = ROOT.parent / "shared" / "reference"
    if not reference.is_dir():
        return
    for name in ("appflow-service-2.json", "events-service-2.json", "stepfunctions-service-2.json"):
        assert (ROOT / "crates/sluice-model/models" / name).read_bytes() == (reference / name).read_bytes(), name
