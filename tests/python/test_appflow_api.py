"""AppFlow API conformance: boto3 against the real `sluice serve` binary.

Tests on the shared `server` use unique names (uuid suffix) and never assume the
server is empty; tests that count things, grep files or restart use a server of
their own (`fresh_server`, `server_factory`, the module-scoped `populated`).
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import datetime
import json
import os
import re
import stat
import time
import types
import uuid

import botocore
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.paginate import Paginator

from conftest import free_port, sim_tokens, finished_run

REGION = "us-east-1"
# The connectors of this build (the registry's list).
SUPPORTED_CONNECTORS = {"Salesforce", "S3", "Marketo", "Redshift", "EventBridge"}
# connector type -> (canUseAsSource, canUseAsDestination)
CONNECTOR_CAPABILITIES = {
    "Salesforce": (True, True),
    "S3": (True, True),
    "Marketo": (True, True),
    "Redshift": (False, True),
    "EventBridge": (False, True),
}
# connector type -> supportedDestinationConnectors: the pairs that run.
# EventBridge takes Salesforce sources only.
RUNNABLE_DESTINATIONS = {"Salesforce": ["EventBridge", "Marketo", "Redshift", "S3"],
                         "S3": ["Marketo", "Redshift", "S3", "Salesforce"],
                         "Marketo": ["Redshift", "S3", "Salesforce"], "Redshift": [], "EventBridge": []}
# Every pair that runs, as ValidationExceptions name them.
PAIRS_TEXT = ("Salesforce -> Marketo, Salesforce -> Redshift, Salesforce -> S3, Salesforce -> EventBridge, "
              "Marketo -> Salesforce, "
              "Marketo -> Redshift, Marketo -> S3, S3 -> Salesforce, S3 -> Marketo, S3 -> Redshift, S3 -> S3")
# The org profiles connect to (the session's simulator); set by use_salesforce_org.
SALESFORCE_URL = ""
MARKETO_URL = ""
# The session Marketo simulator's API client (see conftest.marketo_instance).
MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET = "sluice-marketo-client", "sluice-marketo-secret"
CLIENT_CREDENTIALS_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sf"
SCHEDULED_TRIGGER = {
    "triggerType": "Scheduled",
    "triggerProperties": {"Scheduled": {"scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental"}},
}
# Salesforce field -> data type used by the Map task of that field.
FIELD_TYPES = {"Id": "id", "Name": "string", "CreatedDate": "datetime", "OwnerId": "reference"}
# The model's ARN pattern (shape "ARN").
ARN_PATTERN = re.compile(r"arn:aws:.*:.*:[0-9]+:.*")


# ------------------------------------------------------------------ helpers


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def planted_secret() -> str:
    return "PLANTED-SECRET-" + uuid.uuid4().hex


@pytest.fixture(autouse=True, scope="module")
def use_salesforce_org(salesforce_org, marketo_instance):
    """Profiles must connect when they are created: they point at the simulators."""
    global SALESFORCE_URL, ORG, MARKETO_URL, MARKETO
    SALESFORCE_URL, ORG = salesforce_org.base_url, salesforce_org
    MARKETO_URL, MARKETO = marketo_instance.base_url, marketo_instance


def salesforce_config(access_token=None, refresh_token=None, instance_url=None):
    """A Salesforce profile config whose tokens the org accepts (the given values, or new ones)."""
    tokens = sim_tokens(ORG, access_token, refresh_token)
    access_token, refresh_token = tokens["access_token"], tokens["refresh_token"]
    instance_url = instance_url or SALESFORCE_URL
    return {
        "connectorProfileProperties": {
            "Salesforce": {"instanceUrl": instance_url, "isSandboxEnvironment": False},
        },
        "connectorProfileCredentials": {
            "Salesforce": {
                "accessToken": access_token,
                "refreshToken": refresh_token,
                "clientCredentialsArn": CLIENT_CREDENTIALS_ARN,
            },
        },
    }


def salesforce_profile_request(name, **config_args):
    return {
        "connectorProfileName": name,
        "connectorType": "Salesforce",
        "connectionMode": "Public",
        "connectorProfileConfig": salesforce_config(**config_args),
    }


def marketo_profile_request(name, client_secret=None, client_id=None):
    """A Marketo profile for the session's simulator: its demo client, or a
    client with `client_secret` that is added to the simulator first."""
    if client_secret is None:
        client_id, client_secret = MARKETO_CLIENT_ID, MARKETO_CLIENT_SECRET
    elif client_id is None:
        client_id = f"client-{uuid.uuid4().hex[:12]}"
        added = requests.post(f"{MARKETO.base_url}/__sim/clients",
                              json={"clientId": client_id, "clientSecret": client_secret}, timeout=10)
        assert added.status_code == 200, added.text
    return {
        "connectorProfileName": name,
        "connectorType": "Marketo",
        "connectionMode": "Public",
        "connectorProfileConfig": {
            "connectorProfileProperties": {"Marketo": {"instanceUrl": MARKETO_URL}},
            "connectorProfileCredentials": {"Marketo": {"clientId": client_id, "clientSecret": client_secret}},
        },
    }


def salesforce_tasks(fields=("Id", "Name", "CreatedDate")):
    tasks = [{"taskType": "Filter", "sourceFields": list(fields), "connectorOperator": {"Salesforce": "PROJECTION"}}]
    for field in fields:
        tasks.append(
            {
                "taskType": "Map",
                "sourceFields": [field],
                "destinationField": field,
                "connectorOperator": {"Salesforce": "NO_OP"},
                "taskProperties": {"DESTINATION_DATA_TYPE": FIELD_TYPES[field], "SOURCE_DATA_TYPE": FIELD_TYPES[field]},
            }
        )
    return tasks


def salesforce_to_s3_flow(name, profile, *, description="Accounts from Salesforce to S3", tags=None, trigger=None,
                          fields=("Id", "Name", "CreatedDate")):
    """A CreateFlow request (also a valid UpdateFlow request when tags is None).
    profile=None leaves connectorProfileName out."""
    source = {"connectorType": "Salesforce", "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}}
    if profile is not None:
        source["connectorProfileName"] = profile
    request = {
        "flowName": name,
        "description": description,
        "triggerConfig": trigger or {"triggerType": "OnDemand"},
        "sourceFlowConfig": source,
        "destinationFlowConfigList": [
            {
                "connectorType": "S3",
                "destinationConnectorProperties": {
                    "S3": {
                        "bucketName": "sluice-out",
                        "bucketPrefix": "accounts",
                        "s3OutputFormatConfig": {
                            "fileType": "PARQUET",
                            "aggregationConfig": {"aggregationType": "SingleFile"},
                        },
                    }
                },
            }
        ],
        "tasks": salesforce_tasks(fields),
    }
    if tags is not None:
        request["tags"] = tags
    return request


@contextlib.contextmanager
def api_error(code, status):
    """Expects a ClientError with this AWS error code and HTTP status, rendered
    with an x-amzn-ErrorType header and a message. Yields pytest's ExceptionInfo."""
    with pytest.raises(ClientError) as excinfo:
        yield excinfo
    response = excinfo.value.response
    assert response["Error"]["Code"] == code, f"expected {code}, got {response['Error']}"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, response["ResponseMetadata"]
    error_type = response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype", "")
    assert error_type.split(":")[0] == code, f"x-amzn-ErrorType header is {error_type!r}"
    assert response["Error"].get("Message"), f"{code} has no message: {response}"


def message_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def all_pages(call, result_key, **kwargs):
    """Every page of a paginated call, following nextToken by hand."""
    pages = []
    token = None
    for _ in range(100):
        args = dict(kwargs)
        if token:
            args["nextToken"] = token
        response = call(**args)
        pages.append(response.get(result_key, []))
        token = response.get("nextToken")
        if not token:
            return pages
    pytest.fail(f"{call.__name__} still returned a nextToken after 100 pages")


def all_flows(client):
    return [flow for page in all_pages(client.list_flows, "flows") for flow in page]


def all_profiles(client, **kwargs):
    return [p for page in all_pages(client.describe_connector_profiles, "connectorProfileDetails", **kwargs) for p in page]


def paginator_for(client, operation, result_key):
    """boto3's paginator for the operation. The botocore AppFlow model ships no
    pagination config, so when the client has none, the same botocore Paginator
    is built with AppFlow's nextToken/maxResults convention."""
    if client.can_paginate(operation):
        return client.get_paginator(operation)
    operation_model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[operation])
    config = {"input_token": "nextToken", "output_token": "nextToken", "limit_key": "maxResults", "result_key": result_key}
    return Paginator(getattr(client, operation), config, operation_model)


def record_raw_bodies(client):
    """Collects the raw HTTP body of every response the client receives (also
    error responses), so checks see fields boto3 would not parse."""
    bodies = []

    def keep(http_response, **_):
        bodies.append(http_response.content)

    client.meta.events.register("after-call.appflow", keep)
    return bodies


def secret_forms(secret: str) -> dict:
    """The secret as plain bytes, hex, and every base64/base64url run that
    encodes only the secret's bytes (for each of the 3 possible alignments)."""
    raw = secret.encode()
    forms = {"plain": raw, "hex": raw.hex().encode()}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        first_pure_group = -(-offset // 3)
        end_pure_groups = (offset + len(raw)) // 3
        core = encoded[4 * first_pure_group: 4 * end_pure_groups]
        forms[f"base64@{offset}"] = core
        forms[f"base64url@{offset}"] = core.translate(bytes.maketrans(b"+/", b"-_"))
    return forms


def find_secrets(blobs: dict, secrets: list) -> list:
    """(blob name, secret, form) for every occurrence of a secret in the blobs."""
    found = []
    for secret in secrets:
        for form_name, form in secret_forms(secret).items():
            for blob_name, blob in blobs.items():
                if form in blob:
                    found.append((blob_name, secret, form_name))
    return found


def files_under(directory) -> dict:
    blobs = {}
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    blobs[path] = f.read()
    return blobs


# ----------------------------------------------------------------- fixtures


@pytest.fixture
def unvalidated(server):
    """A client that sends what it is given: boto3's own parameter checks are off,
    so the server's validation is what answers."""
    return server.client(config=Config(parameter_validation=False))


@pytest.fixture(scope="session")
def sf_profile(server):
    """A Salesforce connector profile on the shared server, for flows to use."""
    name = unique("sf-shared")
    server.client().create_connector_profile(**salesforce_profile_request(name))
    return name


@pytest.fixture
def on_demand_flow(appflow, sf_profile):
    """(name, CreateFlow request, CreateFlow response) of a new on-demand flow."""
    name = unique("flow")
    request = salesforce_to_s3_flow(name, sf_profile, tags={"team": "data"})
    response = appflow.create_flow(**request)
    return name, request, response


@pytest.fixture(scope="module")
def populated(module_server_factory):
    """A server of its own holding exactly 3 Salesforce and 2 Marketo profiles
    and 7 flows. Read-only tests only."""
    srv = module_server_factory(name="populated")
    client = srv.client()
    salesforce = [f"sf-page-{i}" for i in range(3)]
    marketo = [f"mk-page-{i}" for i in range(2)]
    for name in salesforce:
        client.create_connector_profile(**salesforce_profile_request(name))
    for name in marketo:
        client.create_connector_profile(**marketo_profile_request(name))
    flows = [f"flow-page-{i}" for i in range(7)]
    for name in flows:
        client.create_flow(**salesforce_to_s3_flow(name, salesforce[0]))
    return types.SimpleNamespace(
        server=srv, client=client, flows=flows, salesforce=salesforce, marketo=marketo, profiles=salesforce + marketo
    )


# ------------------------------------------------- data directory, credentials


def test_first_start_writes_private_shared_credentials_file(fresh_server):
    path = fresh_server.credentials_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    assert parser.has_section("default")
    key_id = parser["default"].get("aws_access_key_id", "")
    secret = parser["default"].get("aws_secret_access_key", "")
    assert key_id and secret
    client = fresh_server.client(aws_access_key_id=key_id, aws_secret_access_key=secret)
    assert client.list_flows()["flows"] == []


def test_account_id_file_holds_twelve_digits_used_in_arns(server, appflow, sf_profile):
    account_id = (server.data_dir / "account-id").read_text().strip()
    assert re.fullmatch(r"[0-9]{12}", account_id), account_id
    name = unique("flow")
    arn = appflow.create_flow(**salesforce_to_s3_flow(name, sf_profile))["flowArn"]
    assert arn == f"arn:aws:appflow:{REGION}:{account_id}:flow/{name}"


def test_credentials_from_environment_are_accepted_and_a_wrong_secret_is_not(server_factory):
    key_id = "SLUIENV" + uuid.uuid4().hex[:13].upper()
    secret = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    srv = server_factory(env={"SLUICE_ACCESS_KEY_ID": key_id, "SLUICE_SECRET_ACCESS_KEY": secret})
    good = srv.client(aws_access_key_id=key_id, aws_secret_access_key=secret)
    assert good.list_flows()["flows"] == []
    name = unique("sf")
    good.create_connector_profile(**salesforce_profile_request(name))
    assert [p["connectorProfileName"] for p in all_profiles(good)] == [name]

    bad = srv.client(aws_access_key_id=key_id, aws_secret_access_key="wrong" + secret[5:])
    with api_error("InvalidSignatureException", 403):
        bad.list_flows()


# ----------------------------------------------------------- authentication


AUTH_FAILURES = {
    "unsigned": (lambda srv: srv.client(config=Config(signature_version=botocore.UNSIGNED)),
                 "UnrecognizedClientException"),
    "unknown-access-key": (lambda srv: srv.client(aws_access_key_id="SLUIUNKNOWN0000000000"),
                           "UnrecognizedClientException"),
    "wrong-secret": (lambda srv: srv.client(aws_secret_access_key="not-" + srv.secret_access_key),
                     "InvalidSignatureException"),
    "wrong-region": (lambda srv: srv.client(region_name="eu-west-1"), "InvalidSignatureException"),
}


@pytest.mark.parametrize("failure", sorted(AUTH_FAILURES))
def test_refused_requests_get_403_and_change_nothing(fresh_server, failure):
    make_client, code = AUTH_FAILURES[failure]
    signed = fresh_server.client()
    signed.create_connector_profile(**salesforce_profile_request("sf-existing"))
    refused = make_client(fresh_server)

    with api_error(code, 403):
        refused.create_connector_profile(**salesforce_profile_request("sf-new"))
    with api_error(code, 403):
        refused.create_flow(**salesforce_to_s3_flow("accounts", "sf-existing", tags={"team": "data"}))
    with api_error(code, 403):
        refused.delete_connector_profile(connectorProfileName="sf-existing", forceDelete=True)
    with api_error(code, 403):
        refused.list_flows()

    assert signed.list_flows()["flows"] == []
    assert [p["connectorProfileName"] for p in all_profiles(signed)] == ["sf-existing"]


def test_missing_authentication_is_unrecognized_client(server):
    unsigned = server.client(config=Config(signature_version=botocore.UNSIGNED))
    with api_error("UnrecognizedClientException", 403):
        unsigned.describe_connectors()


# --------------------------------------------------------------- validation


def test_model_validation_reports_every_problem_in_one_message(unvalidated):
    request = salesforce_to_s3_flow("bad name", "sf-any")
    request["triggerConfig"] = {"triggerType": "Sometimes"}
    del request["sourceFlowConfig"]
    with api_error("ValidationException", 400) as excinfo:
        unvalidated.create_flow(**request)
    message = message_of(excinfo)
    assert message.startswith("3 validation errors detected: "), message
    assert "Value 'bad name' at 'flowName' failed to satisfy constraint: " \
           "Member must satisfy regular expression pattern: " in message, message
    assert "'Sometimes' at 'triggerConfig.triggerType' failed to satisfy constraint" in message, message
    assert "Value null at 'sourceFlowConfig' failed to satisfy constraint: Member must not be null" in message, message
    assert len(message[len("3 validation errors detected: "):].split("; ")) == 3, message


def test_semantic_problems_are_reported_together(appflow):
    name = unique("flow")
    request = salesforce_to_s3_flow(name, profile=None)
    request["destinationFlowConfigList"] = [
        {"connectorType": "Zendesk", "destinationConnectorProperties": {"Zendesk": {"object": "tickets"}}}
    ]
    request["tasks"].append(
        {"taskType": "Map", "sourceFields": ["OwnerId"], "connectorOperator": {"Salesforce": "NO_OP"}}
    )
    with api_error("ValidationException", 400) as excinfo:
        appflow.create_flow(**request)
    message = message_of(excinfo)
    assert message.startswith("3 validation errors detected: "), message
    assert "'Zendesk' is not supported" in message, message
    assert "connectorProfileName is required" in message, message
    assert "a Map task needs a destinationField" in message, message
    with api_error("ResourceNotFoundException", 404):
        appflow.describe_flow(flowName=name)


def test_model_and_semantic_problems_share_one_message(unvalidated):
    request = salesforce_to_s3_flow("bad name", "sf-any")
    request["destinationFlowConfigList"] = [
        {"connectorType": "Zendesk", "destinationConnectorProperties": {"Zendesk": {"object": "tickets"}}}
    ]
    with api_error("ValidationException", 400) as excinfo:
        unvalidated.create_flow(**request)
    message = message_of(excinfo)
    assert message.startswith("2 validation errors detected: "), message
    assert "at 'flowName'" in message, message
    assert "'Zendesk' is not supported" in message, message


def test_single_problem_uses_singular_prefix(unvalidated, sf_profile):
    request = salesforce_to_s3_flow("bad name", sf_profile)
    with api_error("ValidationException", 400) as excinfo:
        unvalidated.create_flow(**request)
    assert message_of(excinfo).startswith("1 validation error detected: Value 'bad name' at 'flowName'"), \
        message_of(excinfo)


# --------------------------------------------------------- connector profiles


def test_create_salesforce_profile_returns_its_arn(server, appflow):
    name = unique("sf")
    response = appflow.create_connector_profile(**salesforce_profile_request(name))
    assert response["connectorProfileArn"] == f"arn:aws:appflow:{REGION}:{server.account_id}:connectorprofile/{name}"


def test_describe_profile_returns_properties_and_credentials_arn_but_never_credentials(appflow):
    access, refresh = planted_secret(), planted_secret()
    name = unique("sf")
    raw = record_raw_bodies(appflow)
    appflow.create_connector_profile(**salesforce_profile_request(name, access_token=access, refresh_token=refresh))
    response = appflow.describe_connector_profiles(connectorProfileNames=[name])
    details = response["connectorProfileDetails"]
    assert [d["connectorProfileName"] for d in details] == [name]
    detail = details[0]
    assert detail["connectorType"] == "Salesforce"
    assert detail["connectionMode"] == "Public"
    assert detail["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == SALESFORCE_URL
    assert isinstance(detail["credentialsArn"], str) and ARN_PATTERN.fullmatch(detail["credentialsArn"]), detail
    assert isinstance(detail["createdAt"], datetime.datetime)
    assert isinstance(detail["lastUpdatedAt"], datetime.datetime)
    assert "connectorProfileCredentials" not in detail
    text = json.dumps(response, default=str)
    for secret in (access, refresh):
        assert secret not in text
    assert find_secrets({f"response {i}": b for i, b in enumerate(raw)}, [access, refresh]) == []


def test_marketo_client_secret_is_never_returned(appflow):
    secret = planted_secret()
    name = unique("mk")
    raw = record_raw_bodies(appflow)
    appflow.create_connector_profile(**marketo_profile_request(name, client_secret=secret))
    response = appflow.describe_connector_profiles(connectorProfileNames=[name])
    detail = response["connectorProfileDetails"][0]
    assert detail["connectorType"] == "Marketo"
    assert detail["connectorProfileProperties"]["Marketo"]["instanceUrl"] == MARKETO_URL
    assert detail.get("credentialsArn")
    assert secret not in json.dumps(response, default=str)
    assert find_secrets({f"response {i}": b for i, b in enumerate(raw)}, [secret]) == []


def test_a_marketo_profile_connects_before_it_is_stored_and_browses_the_instance(appflow):
    name = unique("mk")
    refused = marketo_profile_request(name)
    refused["connectorProfileConfig"]["connectorProfileCredentials"]["Marketo"]["clientSecret"] = "not-the-secret"
    with api_error("ConnectorAuthenticationException", 401) as excinfo:
        appflow.create_connector_profile(**refused)
    assert "Bad client credentials" in message_of(excinfo) and "not-the-secret" not in message_of(excinfo)
    assert appflow.describe_connector_profiles(connectorProfileNames=[name])["connectorProfileDetails"] == []
    appflow.create_connector_profile(**marketo_profile_request(name))
    entities = appflow.list_connector_entities(connectorProfileName=name)["connectorEntityMap"]
    assert sorted(e["name"] for group in entities.values() for e in group) == ["activities", "leads"]
    fields = appflow.describe_connector_entity(connectorEntityName="leads", connectorProfileName=name)
    by_name = {f["identifier"]: f for f in fields["connectorEntityFields"]}
    assert {"id", "email", "firstName", "updatedAt"} <= set(by_name)


def test_failed_profile_update_does_not_echo_credentials(server, appflow):
    name = unique("sf")
    appflow.create_connector_profile(**salesforce_profile_request(name))
    secret = planted_secret()
    client = server.client(config=Config(parameter_validation=False))
    raw = record_raw_bodies(client)
    config = salesforce_config(access_token=secret + " " + secret, refresh_token=secret, instance_url="not a url")
    with api_error("ValidationException", 400) as excinfo:
        client.update_connector_profile(connectorProfileName=name, connectionMode="Public", connectorProfileConfig=config)
    message = message_of(excinfo)
    assert "accessToken" in message, message
    assert secret not in message
    assert find_secrets({f"response {i}": b for i, b in enumerate(raw)}, [secret]) == []
    detail = appflow.describe_connector_profiles(connectorProfileNames=[name])["connectorProfileDetails"][0]
    assert detail["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == SALESFORCE_URL


def test_update_profile_changes_properties(appflow):
    name = unique("sf")
    appflow.create_connector_profile(**salesforce_profile_request(name))
    before = appflow.describe_connector_profiles(connectorProfileNames=[name])["connectorProfileDetails"][0]
    time.sleep(0.01)
    new_url = SALESFORCE_URL.replace("127.0.0.1", "localhost")  # the same org under another name
    response = appflow.update_connector_profile(
        connectorProfileName=name, connectionMode="Public", connectorProfileConfig=salesforce_config(instance_url=new_url)
    )
    assert response["connectorProfileArn"] == before["connectorProfileArn"]
    after = appflow.describe_connector_profiles(connectorProfileNames=[name])["connectorProfileDetails"][0]
    assert after["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == new_url
    assert after["createdAt"] == before["createdAt"]
    assert after["lastUpdatedAt"] > before["lastUpdatedAt"]


def test_a_profile_that_cannot_connect_is_not_created(appflow):
    refused_name, unreachable_name = unique("sf-refused"), unique("sf-unreachable")
    refused = salesforce_profile_request(refused_name)
    refused["connectorProfileConfig"]["connectorProfileCredentials"]["Salesforce"] = {
        "accessToken": "not-a-session-" + uuid.uuid4().hex}
    with api_error("ConnectorAuthenticationException", 401) as excinfo:
        appflow.create_connector_profile(**refused)
    assert "re-authorized" in message_of(excinfo), message_of(excinfo)
    port = free_port()  # nothing listens there
    with api_error("ConnectorServerException", 400):
        appflow.create_connector_profile(
            **salesforce_profile_request(unreachable_name, instance_url=f"http://127.0.0.1:{port}"))
    described = appflow.describe_connector_profiles(connectorProfileNames=[refused_name, unreachable_name])
    assert described["connectorProfileDetails"] == [], "nothing was stored"


def test_duplicate_profile_name_conflicts(appflow):
    name = unique("sf")
    appflow.create_connector_profile(**salesforce_profile_request(name))
    with api_error("ConflictException", 409):
        appflow.create_connector_profile(**salesforce_profile_request(name, instance_url="https://b.my.salesforce.com"))
    detail = appflow.describe_connector_profiles(connectorProfileNames=[name])["connectorProfileDetails"]
    assert [d["connectorProfileProperties"]["Salesforce"]["instanceUrl"] for d in detail] == [SALESFORCE_URL]


@pytest.mark.parametrize("connector_type", ["S3", "EventBridge"])
def test_connectors_without_profiles_refuse_profile_creation(appflow, connector_type):
    name = unique("noprofile")
    with api_error("ValidationException", 400) as excinfo:
        appflow.create_connector_profile(
            connectorProfileName=name,
            connectorType=connector_type,
            connectionMode="Public",
            connectorProfileConfig={"connectorProfileProperties": {}},
        )
    assert connector_type in message_of(excinfo)
    assert name not in [p["connectorProfileName"] for p in all_profiles(appflow)]


def test_unsupported_connector_type_profile_is_refused(appflow):
    with api_error("ValidationException", 400) as excinfo:
        appflow.create_connector_profile(
            connectorProfileName=unique("zd"),
            connectorType="Zendesk",
            connectionMode="Public",
            connectorProfileConfig={
                "connectorProfileProperties": {"Zendesk": {"instanceUrl": "https://example.zendesk.com"}},
                "connectorProfileCredentials": {"Zendesk": {"clientId": "id", "clientSecret": "secret"}},
            },
        )
    assert "'Zendesk' is not supported" in message_of(excinfo)


def test_private_connection_mode_is_refused(appflow):
    request = salesforce_profile_request(unique("sf"))
    request["connectionMode"] = "Private"
    with api_error("ValidationException", 400) as excinfo:
        appflow.create_connector_profile(**request)
    assert "connectionMode" in message_of(excinfo)


def test_update_of_missing_profile_is_not_found(appflow):
    with api_error("ResourceNotFoundException", 404):
        appflow.update_connector_profile(
            connectorProfileName=unique("missing"), connectionMode="Public", connectorProfileConfig=salesforce_config()
        )


def test_delete_of_missing_profile_is_not_found(appflow):
    with api_error("ResourceNotFoundException", 404):
        appflow.delete_connector_profile(connectorProfileName=unique("missing"))


def test_delete_unused_profile(appflow):
    name = unique("sf")
    appflow.create_connector_profile(**salesforce_profile_request(name))
    appflow.delete_connector_profile(connectorProfileName=name)
    assert name not in [p["connectorProfileName"] for p in all_profiles(appflow)]
    with api_error("ResourceNotFoundException", 404):
        appflow.delete_connector_profile(connectorProfileName=name)


def test_profile_used_by_a_flow_is_deleted_only_with_force(appflow):
    profile = unique("sf")
    appflow.create_connector_profile(**salesforce_profile_request(profile))
    appflow.create_flow(**salesforce_to_s3_flow(unique("flow"), profile))
    with api_error("ConflictException", 409):
        appflow.delete_connector_profile(connectorProfileName=profile)
    still_there = appflow.describe_connector_profiles(connectorProfileNames=[profile])["connectorProfileDetails"]
    assert [p["connectorProfileName"] for p in still_there] == [profile]
    appflow.delete_connector_profile(connectorProfileName=profile, forceDelete=True)
    assert profile not in [p["connectorProfileName"] for p in all_profiles(appflow)]


# -------------------------------------------------------------------- flows


def test_on_demand_flow_is_created_active(server, on_demand_flow):
    name, _request, response = on_demand_flow
    assert response["flowArn"] == f"arn:aws:appflow:{REGION}:{server.account_id}:flow/{name}"
    assert response["flowStatus"] == "Active"


def test_scheduled_flow_is_created_as_draft(appflow, sf_profile):
    name = unique("sched")
    response = appflow.create_flow(**salesforce_to_s3_flow(name, sf_profile, trigger=SCHEDULED_TRIGGER))
    assert response["flowStatus"] == "Draft"
    assert appflow.describe_flow(flowName=name)["flowStatus"] == "Draft"


def test_describe_flow_returns_the_definition_as_sent(appflow, on_demand_flow):
    name, request, created = on_demand_flow
    flow = appflow.describe_flow(flowName=name)
    assert flow["flowName"] == name
    assert flow["flowArn"] == created["flowArn"]
    assert flow["flowStatus"] == "Active"
    assert flow["description"] == request["description"]
    assert flow["sourceFlowConfig"] == request["sourceFlowConfig"]
    assert flow["destinationFlowConfigList"] == request["destinationFlowConfigList"]
    assert flow["tasks"] == request["tasks"]
    assert flow["triggerConfig"] == request["triggerConfig"]
    assert flow["tags"] == {"team": "data"}
    assert isinstance(flow["createdAt"], datetime.datetime)
    assert isinstance(flow["lastUpdatedAt"], datetime.datetime)
    assert isinstance(flow["createdBy"], str) and flow["createdBy"]
    assert isinstance(flow["lastUpdatedBy"], str) and flow["lastUpdatedBy"]


def test_scheduled_trigger_round_trips(appflow, sf_profile):
    name = unique("sched")
    appflow.create_flow(**salesforce_to_s3_flow(name, sf_profile, trigger=SCHEDULED_TRIGGER))
    assert appflow.describe_flow(flowName=name)["triggerConfig"] == SCHEDULED_TRIGGER


def test_update_flow_changes_description_and_tasks(appflow, sf_profile, on_demand_flow):
    name, _request, _created = on_demand_flow
    before = appflow.describe_flow(flowName=name)
    time.sleep(0.01)
    update = salesforce_to_s3_flow(name, sf_profile, description="Accounts with their owners",
                                   fields=("Id", "Name", "OwnerId"))
    response = appflow.update_flow(**update)
    assert response["flowStatus"] == "Active"
    after = appflow.describe_flow(flowName=name)
    assert after["description"] == "Accounts with their owners"
    assert after["tasks"] == update["tasks"]
    assert after["tasks"] != before["tasks"]
    assert after["createdAt"] == before["createdAt"]
    assert after["lastUpdatedAt"] > before["lastUpdatedAt"]
    assert after["tags"] == {"team": "data"}


def test_list_flows_entry_summarises_the_flow(appflow, on_demand_flow):
    name, request, created = on_demand_flow
    entries = [f for f in all_flows(appflow) if f["flowName"] == name]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["flowArn"] == created["flowArn"]
    assert entry["flowStatus"] == "Active"
    assert entry["description"] == request["description"]
    assert entry["sourceConnectorType"] == "Salesforce"
    assert entry["destinationConnectorType"] == "S3"
    assert entry["triggerType"] == "OnDemand"
    assert entry["tags"] == {"team": "data"}
    assert isinstance(entry["createdAt"], datetime.datetime)


def test_duplicate_flow_name_conflicts(appflow, sf_profile, on_demand_flow):
    name, _request, _created = on_demand_flow
    with api_error("ConflictException", 409):
        appflow.create_flow(**salesforce_to_s3_flow(name, sf_profile, description="Second attempt"))
    assert appflow.describe_flow(flowName=name)["description"] == "Accounts from Salesforce to S3"


def test_flow_with_missing_profile_is_not_found(appflow):
    name = unique("flow")
    with api_error("ResourceNotFoundException", 404):
        appflow.create_flow(**salesforce_to_s3_flow(name, unique("no-such-profile")))
    with api_error("ResourceNotFoundException", 404):
        appflow.describe_flow(flowName=name)


MISSING_FLOW_CALLS = {
    "describe_flow": lambda client, name, profile: client.describe_flow(flowName=name),
    "delete_flow": lambda client, name, profile: client.delete_flow(flowName=name),
    "update_flow": lambda client, name, profile: client.update_flow(**salesforce_to_s3_flow(name, profile)),
}


@pytest.mark.parametrize("operation", sorted(MISSING_FLOW_CALLS))
def test_missing_flow_is_not_found(appflow, sf_profile, operation):
    with api_error("ResourceNotFoundException", 404):
        MISSING_FLOW_CALLS[operation](appflow, unique("missing"), sf_profile)


def test_delete_flow_removes_it(appflow, on_demand_flow):
    name, _request, _created = on_demand_flow
    appflow.delete_flow(flowName=name)
    with api_error("ResourceNotFoundException", 404):
        appflow.describe_flow(flowName=name)
    assert name not in [f["flowName"] for f in all_flows(appflow)]


# ------------------------------------------------------ starting and stopping


def test_start_and_stop_a_scheduled_flow(appflow, sf_profile):
    name = unique("sched")
    arn = appflow.create_flow(**salesforce_to_s3_flow(name, sf_profile, trigger=SCHEDULED_TRIGGER))["flowArn"]
    started = appflow.start_flow(flowName=name)
    assert started["flowArn"] == arn
    assert started["flowStatus"] == "Active"
    assert appflow.describe_flow(flowName=name)["flowStatus"] == "Active"
    stopped = appflow.stop_flow(flowName=name)
    assert stopped["flowArn"] == arn
    assert stopped["flowStatus"] == "Suspended"
    assert appflow.describe_flow(flowName=name)["flowStatus"] == "Suspended"


def test_stop_on_demand_flow_is_unsupported(appflow, on_demand_flow):
    name, _request, _created = on_demand_flow
    with api_error("UnsupportedOperationException", 400):
        appflow.stop_flow(flowName=name)
    assert appflow.describe_flow(flowName=name)["flowStatus"] == "Active"



def test_start_on_demand_flow_records_a_failed_run(appflow, on_demand_flow):
    name, _request, created = on_demand_flow
    # The org fails every describe of Account while this run goes.
    faults = f"{ORG.base_url}/__sim/faults"
    fault = {"path_contains": "/sobjects/Account/describe", "error_rate": 1.0, "status": 500}
    assert requests.put(faults, json=[fault], timeout=10).status_code == 200
    try:
        started = appflow.start_flow(flowName=name)
        assert started["flowArn"] == created["flowArn"]
        assert started["flowStatus"] == "Active"
        execution_id = started["executionId"]
        assert isinstance(execution_id, str) and execution_id
        record = finished_run(appflow, name, execution_id)
    finally:
        requests.delete(faults, timeout=10)
    assert record["executionStatus"] in appflow.meta.service_model.shape_for("ExecutionStatus").enum
    assert record["executionStatus"] == "Error"
    message = record["executionResult"]["errorInfo"]["executionMessage"]
    assert message.startswith("Salesforce: ") and "SERVER_UNAVAILABLE" in message, message
    assert isinstance(record["startedAt"], datetime.datetime)


def test_execution_records_of_a_flow_never_run_are_empty(appflow, on_demand_flow):
    name, _request, _created = on_demand_flow
    assert appflow.describe_flow_execution_records(flowName=name)["flowExecutions"] == []


def test_cancel_unknown_execution_is_reported_invalid(appflow, on_demand_flow):
    name, _request, _created = on_demand_flow
    response = appflow.cancel_flow_executions(flowName=name, executionIds=["does-not-exist"])
    assert response["invalidExecutions"] == ["does-not-exist"]


# --------------------------------------------------------------- pagination


def test_list_flows_pages_with_next_token(populated):
    pages = all_pages(populated.client.list_flows, "flows", maxResults=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    names = [f["flowName"] for page in pages for f in page]
    assert len(names) == len(set(names)) == 7
    assert set(names) == set(populated.flows)


def test_list_flows_paginator_follows_tokens(populated):
    paginator = paginator_for(populated.client, "list_flows", "flows")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(page["flows"]) for page in pages] == [2, 2, 2, 1]
    names = [f["flowName"] for page in pages for f in page["flows"]]
    assert sorted(names) == sorted(populated.flows)


def test_describe_connector_profiles_pages_with_next_token(populated):
    pages = all_pages(populated.client.describe_connector_profiles, "connectorProfileDetails", maxResults=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    names = [p["connectorProfileName"] for page in pages for p in page]
    assert len(names) == len(set(names)) == 5
    assert set(names) == set(populated.profiles)


def test_describe_connector_profiles_paginator_follows_tokens(populated):
    paginator = paginator_for(populated.client, "describe_connector_profiles", "connectorProfileDetails")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(page["connectorProfileDetails"]) for page in pages] == [2, 2, 1]
    names = [p["connectorProfileName"] for page in pages for p in page["connectorProfileDetails"]]
    assert sorted(names) == sorted(populated.profiles)


@pytest.mark.parametrize("connector_type", ["Salesforce", "Marketo", "Redshift"])
def test_describe_connector_profiles_filters_by_connector_type(populated, connector_type):
    expected = {"Salesforce": populated.salesforce, "Marketo": populated.marketo, "Redshift": []}[connector_type]
    profiles = all_profiles(populated.client, connectorType=connector_type, maxResults=2)
    assert sorted(p["connectorProfileName"] for p in profiles) == sorted(expected)
    assert {p["connectorType"] for p in profiles} <= {connector_type}


def test_describe_connector_profiles_filters_by_names(populated):
    wanted = [populated.salesforce[1], populated.marketo[0]]
    profiles = all_profiles(populated.client, connectorProfileNames=wanted)
    assert sorted(p["connectorProfileName"] for p in profiles) == sorted(wanted)


GARBAGE_TOKEN_CALLS = {
    "list_flows": lambda client: client.list_flows(nextToken="garbage-token"),
    "describe_connector_profiles": lambda client: client.describe_connector_profiles(nextToken="garbage-token"),
}


@pytest.mark.parametrize("operation", sorted(GARBAGE_TOKEN_CALLS))
def test_garbage_next_token_is_a_validation_error(appflow, operation):
    with api_error("ValidationException", 400):
        GARBAGE_TOKEN_CALLS[operation](appflow)


# --------------------------------------------------------------------- tags


def test_tags_given_at_creation_are_listed(appflow, on_demand_flow):
    _name, _request, created = on_demand_flow
    assert appflow.list_tags_for_resource(resourceArn=created["flowArn"])["tags"] == {"team": "data"}


def test_tag_and_untag_a_flow(appflow, on_demand_flow):
    name, _request, created = on_demand_flow
    arn = created["flowArn"]
    appflow.tag_resource(resourceArn=arn, tags={"env": "prod", "owner": "crm"})
    assert appflow.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "data", "env": "prod", "owner": "crm"}
    appflow.untag_resource(resourceArn=arn, tagKeys=["team", "owner"])
    assert appflow.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "prod"}
    assert appflow.describe_flow(flowName=name)["tags"] == {"env": "prod"}


def test_tag_value_is_replaced_for_an_existing_key(appflow, on_demand_flow):
    _name, _request, created = on_demand_flow
    appflow.tag_resource(resourceArn=created["flowArn"], tags={"team": "platform"})
    assert appflow.list_tags_for_resource(resourceArn=created["flowArn"])["tags"] == {"team": "platform"}


def test_connector_profile_arn_can_be_tagged(appflow):
    name = unique("sf")
    arn = appflow.create_connector_profile(**salesforce_profile_request(name))["connectorProfileArn"]
    appflow.tag_resource(resourceArn=arn, tags={"owner": "crm-team"})
    assert appflow.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "crm-team"}
    appflow.untag_resource(resourceArn=arn, tagKeys=["owner"])
    assert appflow.list_tags_for_resource(resourceArn=arn).get("tags", {}) == {}


MISSING_ARN_CALLS = {
    "list_tags_for_resource": lambda client, arn: client.list_tags_for_resource(resourceArn=arn),
    "tag_resource": lambda client, arn: client.tag_resource(resourceArn=arn, tags={"team": "data"}),
    "untag_resource": lambda client, arn: client.untag_resource(resourceArn=arn, tagKeys=["team"]),
}


@pytest.mark.parametrize("operation", sorted(MISSING_ARN_CALLS))
def test_tagging_an_unknown_arn_is_not_found(server, appflow, operation):
    arn = f"arn:aws:appflow:{REGION}:{server.account_id}:flow/{unique('missing')}"
    with api_error("ResourceNotFoundException", 404):
        MISSING_ARN_CALLS[operation](appflow, arn)


def test_reserved_aws_tag_prefix_is_refused(appflow, on_demand_flow):
    _name, _request, created = on_demand_flow
    with api_error("ValidationException", 400):
        appflow.tag_resource(resourceArn=created["flowArn"], tags={"aws:owner": "me"})
    assert appflow.list_tags_for_resource(resourceArn=created["flowArn"])["tags"] == {"team": "data"}


# --------------------------------------------------------------- connectors


def test_describe_connectors_lists_the_supported_types(appflow):
    configurations = appflow.describe_connectors()["connectorConfigurations"]
    assert set(configurations) == SUPPORTED_CONNECTORS
    capabilities = {
        connector_type: (config["canUseAsSource"], config["canUseAsDestination"])
        for connector_type, config in configurations.items()
    }
    assert capabilities == CONNECTOR_CAPABILITIES
    destinations = {t: sorted(c["supportedDestinationConnectors"]) for t, c in configurations.items()}
    assert destinations == RUNNABLE_DESTINATIONS


def test_a_flow_whose_pair_cannot_run_is_refused_naming_the_pairs_that_can(appflow):
    salesforce_profile = unique("sf")
    appflow.create_connector_profile(**salesforce_profile_request(salesforce_profile))
    marketo_profile = unique("mk")
    appflow.create_connector_profile(**marketo_profile_request(marketo_profile))
    marketo_destination = {
        "connectorType": "Marketo",
        "connectorProfileName": marketo_profile,
        "destinationConnectorProperties": {"Marketo": {"object": "leads"}},
    }
    salesforce_destination = {
        "connectorType": "Salesforce",
        "connectorProfileName": salesforce_profile,
        "destinationConnectorProperties": {"Salesforce": {"object": "Account"}},
    }
    cases = [
        ("Salesforce", salesforce_profile, {"Salesforce": {"object": "Account"}}, salesforce_destination),
        ("Marketo", marketo_profile, {"Marketo": {"object": "leads"}}, marketo_destination),
    ]
    for source_type, profile, properties, destination in cases:
        name = unique("norun")
        with api_error("ValidationException", 400) as excinfo:
            appflow.create_flow(
                flowName=name,
                triggerConfig={"triggerType": "OnDemand"},
                sourceFlowConfig={"connectorType": source_type, "connectorProfileName": profile,
                                  "sourceConnectorProperties": properties},
                destinationFlowConfigList=[destination],
                tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {source_type: "NO_OP"}}],
            )
        message = message_of(excinfo)
        assert PAIRS_TEXT in message, message
        with api_error("ResourceNotFoundException", 404):
            appflow.describe_flow(flowName=name)


def test_describe_connectors_filters_by_type(appflow):
    configurations = appflow.describe_connectors(connectorTypes=["Salesforce"])["connectorConfigurations"]
    assert list(configurations) == ["Salesforce"]
    assert configurations["Salesforce"]["canUseAsSource"] is True


def test_describe_connector_salesforce(appflow):
    configuration = appflow.describe_connector(connectorType="Salesforce")["connectorConfiguration"]
    assert configuration["canUseAsSource"] is True
    assert configuration["canUseAsDestination"] is True


def test_describe_connector_of_unsupported_type_is_an_error(appflow):
    with pytest.raises(ClientError) as excinfo:
        appflow.describe_connector(connectorType="Zendesk")
    code = excinfo.value.response["Error"]["Code"]
    status = excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (code, status) in {("ValidationException", 400), ("ResourceNotFoundException", 404)}, (code, status)


def test_list_connectors_lists_the_supported_types(appflow):
    connectors = appflow.list_connectors()["connectors"]
    types_listed = [c["connectorType"] for c in connectors]
    assert len(types_listed) == len(SUPPORTED_CONNECTORS)
    assert set(types_listed) == SUPPORTED_CONNECTORS


# ------------------------------------------------------------ secrets at rest


def test_credentials_are_neither_stored_nor_logged_in_clear(fresh_server):
    sf_access, sf_refresh, mk_secret, sf_updated, sf_rejected, sf_duplicate = (planted_secret() for _ in range(6))
    secrets = [sf_access, sf_refresh, mk_secret, sf_updated, sf_rejected, sf_duplicate]
    client = fresh_server.client()
    unvalidated = fresh_server.client(config=Config(parameter_validation=False))
    raw = record_raw_bodies(client)
    raw_unvalidated = record_raw_bodies(unvalidated)

    client.create_connector_profile(
        **salesforce_profile_request("sf-prod", access_token=sf_access, refresh_token=sf_refresh)
    )
    client.create_connector_profile(**marketo_profile_request("mk-prod", client_secret=mk_secret))
    client.create_flow(**salesforce_to_s3_flow("accounts", "sf-prod"))
    client.update_connector_profile(
        connectorProfileName="sf-prod",
        connectionMode="Public",
        connectorProfileConfig=salesforce_config(access_token=sf_updated, refresh_token=sf_updated),
    )
    with api_error("ValidationException", 400):
        unvalidated.update_connector_profile(
            connectorProfileName="sf-prod",
            connectionMode="Private",
            connectorProfileConfig=salesforce_config(access_token=sf_rejected + " x", refresh_token=sf_rejected),
        )
    with api_error("ConflictException", 409):
        client.create_connector_profile(**salesforce_profile_request("sf-prod", access_token=sf_duplicate))
    described = client.describe_connector_profiles()
    assert sorted(p["connectorProfileName"] for p in described["connectorProfileDetails"]) == ["mk-prod", "sf-prod"]
    assert all(p.get("credentialsArn") for p in described["connectorProfileDetails"])
    text = json.dumps(described, default=str)
    assert [s for s in secrets if s in text] == []

    fresh_server.stop()
    files = files_under(fresh_server.data_dir)
    assert str(fresh_server.data_dir / "sluice.db") in files, sorted(files)
    blobs = dict(files)
    blobs["server.log"] = fresh_server.log_path.read_bytes()
    blobs.update({f"response {i}": body for i, body in enumerate(raw + raw_unvalidated)})
    assert find_secrets(blobs, secrets) == []


def test_secret_scan_would_find_base64_encoded_secrets():
    """Guards the scanner used above: each alignment and alphabet is caught."""
    secret = planted_secret()
    for prefix in (b"", b"x", b"xy", b'{"accessToken":"'):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            blob = encode(prefix + secret.encode() + b'"}')
            assert find_secrets({"blob": blob}, [secret]) != [], (prefix, encode)
    assert find_secrets({"blob": b"nothing here"}, [secret]) == []


# ------------------------------------------------------------------ restart


def test_generated_credentials_survive_a_restart(fresh_server):
    key_id, secret = fresh_server.read_credentials_file()
    text_before = fresh_server.credentials_path.read_text()
    account_before = fresh_server.account_id
    fresh_server.restart()
    assert fresh_server.credentials_path.read_text() == text_before
    assert fresh_server.account_id == account_before
    client = fresh_server.client(aws_access_key_id=key_id, aws_secret_access_key=secret)
    assert client.list_flows()["flows"] == []


def test_profiles_flows_tags_and_runs_survive_a_restart(fresh_server):
    client = fresh_server.client()
    secret = planted_secret()
    profile_arn = client.create_connector_profile(
        **salesforce_profile_request("sf-prod", access_token=secret)
    )["connectorProfileArn"]
    request = salesforce_to_s3_flow("accounts", "sf-prod", tags={"team": "data"})
    flow_arn = client.create_flow(**request)["flowArn"]
    execution_id = client.start_flow(flowName="accounts")["executionId"]
    client.create_flow(**salesforce_to_s3_flow("nightly", "sf-prod", trigger=SCHEDULED_TRIGGER))
    client.start_flow(flowName="nightly")
    client.tag_resource(resourceArn=profile_arn, tags={"owner": "crm"})

    fresh_server.restart()
    client = fresh_server.client()

    profiles = all_profiles(client)
    assert [p["connectorProfileName"] for p in profiles] == ["sf-prod"]
    assert profiles[0]["connectorProfileArn"] == profile_arn
    assert profiles[0]["connectorProfileProperties"]["Salesforce"]["instanceUrl"] == SALESFORCE_URL
    assert secret not in json.dumps(profiles, default=str)

    flow = client.describe_flow(flowName="accounts")
    assert flow["flowArn"] == flow_arn
    assert flow["flowStatus"] == "Active"
    assert flow["sourceFlowConfig"] == request["sourceFlowConfig"]
    assert flow["tasks"] == request["tasks"]
    assert flow["tags"] == {"team": "data"}
    assert client.describe_flow(flowName="nightly")["flowStatus"] == "Active"
    assert sorted(f["flowName"] for f in all_flows(client)) == ["accounts", "nightly"]

    assert client.list_tags_for_resource(resourceArn=flow_arn)["tags"] == {"team": "data"}
    assert client.list_tags_for_resource(resourceArn=profile_arn)["tags"] == {"owner": "crm"}

    runs = client.describe_flow_execution_records(flowName="accounts")["flowExecutions"]
    assert [r["executionId"] for r in runs] == [execution_id]
    assert finished_run(client, "accounts", execution_id, timeout=45)["executionStatus"] == "Successful"

    # The restarted server still refuses to lose referential integrity.
    with api_error("ConflictException", 409):
        client.delete_connector_profile(connectorProfileName="sf-prod")
