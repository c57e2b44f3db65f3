"""Fixtures for the boto3 conformance suite: they run the real `sluice` binary.

The binary comes from env `SLUICE_BIN` (scripts/test sets it). Each server gets
its own directory inside a pytest tmp path:

    ROOT/data        the data directory (--data-dir)
    ROOT/server.log  the server's stdout and stderr

Fixtures:
    sluice_bin       path of the binary; fails (never skips) when SLUICE_BIN is unset
    server           one server shared by the whole session (use unique names per test)
    appflow          a signed AppFlow client for `server`
    fresh_server     a new, empty server for one test
    server_factory   makes servers with extra env vars (e.g. SLUICE_ACCESS_KEY_ID) for one test
    module_server_factory  the same, for servers shared by one module's tests
"""

from __future__ import annotations

import configparser
import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid
from typing import Optional

import boto3
import botocore.config
import pytest
import requests

REGION = "us-east-1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

# The Salesforce simulator's demo connected app.
SIM_CLIENT_ID = "sluice-sim-client"
# Env vars the server reads; they are removed from the inherited environment so
# that each test server is configured only by what the test passes.
_SERVER_ENV_VARS = (
    "SLUICE_SALESFORCE_CLIENT_ID",
    "SLUICE_SALESFORCE_CLIENT_SECRET",
    "SLUICE_S3_ENDPOINT",
    "SLUICE_S3_REGION",
    "SLUICE_ACCESS_KEY_ID",
    "SLUICE_SECRET_ACCESS_KEY",
    "SLUICE_MASTER_KEY",
    "SLUICE_DATA_DIR",
    "SLUICE_LISTEN",
    "SLUICE_REGION",
    "SLUICE_STORE_URL",
    "SLUICE_ENDPOINT",
    "SLUICE_LOG_FORMAT",
    "SLUICE_LOG",
    "SLUICE_ALLOW_PRIVATE_ENDPOINTS",
    "SLUICE_TABLE_SWEEP_SECS",
)

# Servers that are running now, so a failing test can show their log tails.
_LIVE_SERVERS: list["SluiceServer"] = []


def free_port() -> int:
    """A TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SluiceServer:
    """One `sluice serve` process on a data directory that outlives restarts."""

    def __init__(self, binary: str, root: pathlib.Path, env: Optional[dict] = None, region: str = REGION):
        self.binary = binary
        self.root = pathlib.Path(root)
        self.data_dir = self.root / "data"
        self.log_path = self.root / "server.log"
        self.region = region
        self.extra_env = dict(env or {})
        self.port: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None
        self.access_key_id: Optional[str] = None
        self.secret_access_key: Optional[str] = None
        self.account_id: Optional[str] = None
        self._log_file = None
        self.root.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ lifecycle

    @property
    def endpoint(self) -> str:
        assert self.port is not None, "server is not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials_path(self) -> pathlib.Path:
        return self.data_dir / "credentials"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _server_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV_VARS}
        # The simulators' demo connected app refreshes Salesforce tokens.
        env["SLUICE_SALESFORCE_CLIENT_ID"] = SIM_CLIENT_ID
        # The simulators and test receivers listen on loopback; tests of the
        # outbound-address guard pass SLUICE_ALLOW_PRIVATE_ENDPOINTS=false.
        env["SLUICE_ALLOW_PRIVATE_ENDPOINTS"] = "true"
        env.update(self.extra_env)
        return env

    def start(self) -> "SluiceServer":
        assert not self.running, "server is already running"
        last_failure = ""
        for _attempt in range(3):
            self.port = free_port()
            self._log_file = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "serve",
                    "--data-dir",
                    str(self.data_dir),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--region",
                    self.region,
                ],
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._server_env(),
            )
            _LIVE_SERVERS.append(self)
            if self._wait_until_listening():
                self._load_identity()
                return self
            # The process exited before it listened. Another process may have
            # taken the port between free_port() and the bind: try another one.
            last_failure = self.log_tail()
            self._reap()
            if "in use" not in last_failure.lower():
                break
        pytest.fail(f"sluice server did not start listening on 127.0.0.1:{self.port}; log tail:\n{last_failure}")

    def _wait_until_listening(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        tail = self.log_tail()
        self.stop()
        pytest.fail(
            f"sluice server did not accept connections on 127.0.0.1:{self.port} within "
            f"{START_TIMEOUT_S:.0f} s; log tail:\n{tail}"
        )

    def _load_identity(self) -> None:
        env_id = self.extra_env.get("SLUICE_ACCESS_KEY_ID")
        env_secret = self.extra_env.get("SLUICE_SECRET_ACCESS_KEY")
        if env_id and env_secret:
            self.access_key_id, self.secret_access_key = env_id, env_secret
        else:
            self.access_key_id, self.secret_access_key = self.read_credentials_file()
        account_path = self.data_dir / "account-id"
        if not account_path.is_file():
            pytest.fail(f"{account_path} was not created by the server; log tail:\n{self.log_tail()}")
        self.account_id = account_path.read_text().strip()

    def read_credentials_file(self) -> tuple[str, str]:
        """(access key id, secret) from DATA_DIR/credentials, section [default]."""
        if not self.credentials_path.is_file():
            pytest.fail(f"{self.credentials_path} was not created by the server; log tail:\n{self.log_tail()}")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(self.credentials_path)
        if not parser.has_section("default"):
            pytest.fail(f"{self.credentials_path} has no [default] section")
        section = parser["default"]
        for key in ("aws_access_key_id", "aws_secret_access_key"):
            if not section.get(key):
                pytest.fail(f"{self.credentials_path} [default] has no {key}")
        return section["aws_access_key_id"], section["aws_secret_access_key"]

    def _reap(self) -> None:
        if self in _LIVE_SERVERS:
            _LIVE_SERVERS.remove(self)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> Optional[int]:
        """SIGTERM, wait up to 10 s, then SIGKILL. Returns the exit status."""
        if self.process is None:
            return None
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._reap()
        self.process = None
        return process.returncode

    def restart(self) -> "SluiceServer":
        """Stops and starts again on the same data directory (on a new port:
        make new clients afterwards)."""
        self.stop()
        return self.start()

    # -------------------------------------------------------------- clients

    def client(self, service: str = "appflow", **overrides):
        """A boto3 client for this server, signed with the root credentials.
        `config` overrides are merged into the default (no retries)."""
        config = botocore.config.Config(retries={"max_attempts": 1})
        extra_config = overrides.pop("config", None)
        if extra_config is not None:
            config = config.merge(extra_config)
        kwargs = {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "config": config,
        }
        kwargs.update(overrides)
        return boto3.session.Session().client(service, **kwargs)

    # ----------------------------------------------------------------- logs

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def sluice_bin() -> str:
    path = os.environ.get("SLUICE_BIN")
    if not path:
        pytest.fail(
            "SLUICE_BIN is not set: point it at the built sluice binary "
            "(scripts/test does this, e.g. SLUICE_BIN=$CARGO_TARGET_DIR/debug/sluice)",
            pytrace=False,
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"SLUICE_BIN={path!r} is not an executable file", pytrace=False)
    return path


@pytest.fixture(scope="session")
def server(sluice_bin, tmp_path_factory):
    """A server shared by every test that does not need an empty one."""
    srv = SluiceServer(sluice_bin, tmp_path_factory.mktemp("shared-sluice"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def appflow(server):
    return server.client()


@pytest.fixture
def fresh_server(sluice_bin, tmp_path):
    """A new server with an empty data directory, for this test only."""
    srv = SluiceServer(sluice_bin, tmp_path / "sluice")
    srv.start()
    yield srv
    srv.stop()


def _factory(sluice_bin: str, base: pathlib.Path):
    made: list[SluiceServer] = []

    def make(env: Optional[dict] = None, name: str = "sluice") -> SluiceServer:
        srv = SluiceServer(sluice_bin, base / f"{name}-{len(made)}", env=env)
        made.append(srv)
        return srv.start()

    return make, made


@pytest.fixture
def server_factory(sluice_bin, tmp_path):
    """make(env=None, name=...) -> a started server (stopped after the test),
    e.g. with SLUICE_ACCESS_KEY_ID/SLUICE_SECRET_ACCESS_KEY in `env`."""
    make, made = _factory(sluice_bin, tmp_path)
    yield make
    for srv in made:
        srv.stop()


@pytest.fixture(scope="module")
def module_server_factory(sluice_bin, tmp_path_factory):
    """Like server_factory, but the servers live until the module's tests end
    (for read-only tests that share a known data set)."""
    make, made = _factory(sluice_bin, tmp_path_factory.mktemp("module-sluice"))
    yield make
    for srv in made:
        srv.stop()


@contextlib.contextmanager
def postgres_database():
    """A new, empty database on the PostgreSQL at SLUICE_TEST_POSTGRES_URL,
    dropped afterwards; yields its URL. Fails (never skips) without one when
    SLUICE_REQUIRE_SERVICES=1."""
    import psycopg

    admin_url = os.environ.get("SLUICE_TEST_POSTGRES_URL")
    if not admin_url:
        if os.environ.get("SLUICE_REQUIRE_SERVICES") == "1":
            pytest.fail("SLUICE_TEST_POSTGRES_URL is not set but SLUICE_REQUIRE_SERVICES=1")
        pytest.skip("SLUICE_TEST_POSTGRES_URL is not set")
    name = f"sluice_py_{uuid.uuid4().hex}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urllib.parse.urlparse(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tables_server(request, module_server_factory):
    """A server for the DynamoDB suites, once on the embedded SQLite store and
    once on PostgreSQL (a fresh database); expired items are swept every second."""
    env = {"SLUICE_TABLE_SWEEP_SECS": "1"}
    if request.param == "sqlite":
        yield module_server_factory(env=env, name="tables-sqlite")
        return
    with postgres_database() as url:
        srv = module_server_factory(env={**env, "SLUICE_STORE_URL": url}, name="tables-postgres")
        yield srv
        srv.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for srv in list(_LIVE_SERVERS):
            report.sections.append((f"sluice server log tail ({srv.log_path})", srv.log_tail(60)))


# ------------------------------------------------------------------ simulators


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1/localhost: (cert path, key path)."""
    base = tmp_path_factory.mktemp("tls")
    cert, key = base / "cert.pem", base / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


class SimProcess:
    """`sluice sim APP --listen 127.0.0.1:PORT --tls-cert --tls-key ...` as a child process."""

    def __init__(self, binary: str, app: str, root: pathlib.Path, cert: pathlib.Path, key: pathlib.Path, args=(), tls=True):
        self.binary, self.app, self.root, self.cert, self.key = binary, app, root, cert, key
        self.tls = tls
        self.args = list(args)
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path = root / f"{app}-sim.log"
        self.process: Optional[subprocess.Popen] = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> "SimProcess":
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "sim", self.app, "--listen", f"127.0.0.1:{self.port}",
             *(["--tls-cert", str(self.cert), "--tls-key", str(self.key)] if self.tls else []), *self.args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.app} simulator exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"{self.app} simulator did not listen within {START_TIMEOUT_S}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> "SimProcess":
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def sim_factory(sluice_bin, tls_cert, tmp_path):
    """make(app, *args, tls=True) -> a started simulator (stopped after the test); tls=False serves plain HTTP."""
    made: list[SimProcess] = []

    def make(app: str, *args, name: str = "", tls: bool = True) -> SimProcess:
        sim = SimProcess(sluice_bin, app, tmp_path / (name or f"{app}-{len(made)}"), *tls_cert, args=args, tls=tls)
        made.append(sim)
        return sim.start()

    yield make
    for sim in made:
        sim.stop()


@pytest.fixture(scope="session")
def salesforce_org(sluice_bin, tmp_path_factory):
    """A Salesforce simulator (plain HTTP, demo org) shared by the session: the
    org that connector profiles connect to when they are created."""
    root = tmp_path_factory.mktemp("salesforce-org")
    unused = root / "no-tls.pem"
    sim = SimProcess(sluice_bin, "salesforce", root, unused, unused, args=["--seed", "demo"], tls=False).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def marketo_instance(sluice_bin, tmp_path_factory):
    """A Marketo simulator (plain HTTP, demo leads) shared by the session: the
    instance that Marketo connector profiles connect to when they are created."""
    root = tmp_path_factory.mktemp("marketo-instance")
    unused = root / "no-tls.pem"
    sim = SimProcess(sluice_bin, "marketo", root, unused, unused, args=["--seed", "demo"], tls=False).start()
    yield sim
    sim.stop()


def finished_run(client, flow: str, execution_id: str, timeout: float = 60.0) -> dict:
    """The execution record of a run once it is no longer InProgress (the
    last record seen when `timeout` passes first)."""
    deadline = time.monotonic() + timeout
    while True:
        records = client.describe_flow_execution_records(flowName=flow)["flowExecutions"]
        record = next((r for r in records if r["executionId"] == execution_id), None)
        if record and (record["executionStatus"] != "InProgress" or time.monotonic() > deadline):
            return record
        assert time.monotonic() < deadline, f"no execution {execution_id} of {flow} in {records}"
        time.sleep(0.1)


def sim_tokens(sim: SimProcess, access_token: Optional[str] = None, refresh_token: Optional[str] = None) -> dict:
    """Tokens of the simulator's demo user: the given values (made valid) or new ones."""
    body = {k: v for k, v in (("access_token", access_token), ("refresh_token", refresh_token)) if v is not None}
    response = requests.post(f"{sim.base_url}/__sim/tokens", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def create_salesforce_profile(client, sim: SimProcess, name: str = "org") -> None:
    """CreateConnectorProfile for the simulator's org, with a new access token of its demo user."""
    client.create_connector_profile(
        connectorProfileName=name, connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": sim.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": sim_tokens(sim)["access_token"]}},
        },
    )
