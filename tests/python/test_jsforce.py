"""jsforce (npm) against the Salesforce simulator: SOAP login, REST, and the
streaming client receiving change data capture and platform events with
replay. The Node test file is tests/node/streaming.test.mjs."""
import os
import pathlib
import re
import subprocess

NODE_DIR = pathlib.Path(__file__).resolve().parents[1] / "node"


def test_jsforce_streaming_and_rest(sim_factory):
    sim = sim_factory("salesforce", "--seed", "demo")
    assert (NODE_DIR / "node_modules" / "jsforce").is_dir(), "run scripts/test: it installs tests/node with npm ci"
    env = dict(os.environ, SIM_URL=sim.base_url, NODE_EXTRA_CA_CERTS=str(sim.cert))
    result = subprocess.run(["node", "--test", "streaming.test.mjs"], cwd=NODE_DIR, env=env,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"^# pass 6$", result.stdout, re.M), output
    assert re.search(r"^# fail 0$", result.stdout, re.M), output
