"""boto3 `events` conformance: buses, rules, targets, PutEvents, TestEventPattern,
permissions, connections, API destinations and tags against the real server."""
import json
import subprocess

import botocore.exceptions
import pytest

from conftest import REGION


@pytest.fixture(scope="module")
def bus_server(module_server_factory):
    """A server with the outbound-address guard on, as in production."""
    return module_server_factory(env={"SLUICE_ALLOW_PRIVATE_ENDPOINTS": "false"}, name="events")


@pytest.fixture
def events(bus_server):
    return bus_server.client("events")


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]


def test_every_account_has_a_default_bus_and_buses_can_be_made_listed_and_deleted(events, bus_server):
    default = events.describe_event_bus()
    assert default["Name"] == "default"
    assert default["Arn"] == f"arn:aws:events:{REGION}:{bus_server.account_id}:event-bus/default"
    created = events.create_event_bus(Name="orders", Description="order events", Tags=[{"Key": "team", "Value": "a"}])
    assert created["EventBusArn"].endswith(":event-bus/orders")
    assert events.describe_event_bus(Name="orders")["Description"] == "order events"
    assert events.describe_event_bus(Name=created["EventBusArn"])["Name"] == "orders"
    assert error_of(events.create_event_bus, Name="orders")["Code"] == "ResourceAlreadyExistsException"
    for name in ("orders-eu", "orders_us", "payments"):
        events.create_event_bus(Name=name)
    names = [b["Name"] for b in events.list_event_buses(NamePrefix="orders")["EventBuses"]]
    assert sorted(names) == ["orders", "orders-eu", "orders_us"]
    first = events.list_event_buses(Limit=2)
    assert len(first["EventBuses"]) == 2 and first["NextToken"]
    rest = events.list_event_buses(Limit=100, NextToken=first["NextToken"])
    listed = [b["Name"] for b in first["EventBuses"] + rest["EventBuses"]]
    assert {"default", "orders", "orders-eu", "orders_us", "payments"} <= set(listed) and len(listed) == len(set(listed))
    assert events.list_tags_for_resource(ResourceARN=created["EventBusArn"])["Tags"] == [{"Key": "team", "Value": "a"}]
    assert error_of(events.list_rules, NextToken=first["NextToken"])["Code"] == "ValidationException"
    assert error_of(events.delete_event_bus, Name="default")["Code"] == "ValidationException"
    events.delete_event_bus(Name="payments")
    events.delete_event_bus(Name="payments")  # deleting what is gone succeeds, as in EventBridge
    assert error_of(events.describe_event_bus, Name="payments")["Code"] == "ResourceNotFoundException"


def test_rules_are_validated_listed_enabled_disabled_and_deleted(events):
    events.create_event_bus(Name="rules-bus")
    arn = events.put_rule(Name="big-orders", EventBusName="rules-bus", Description="orders over 100",
                          EventPattern=json.dumps({"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}))
    assert arn["RuleArn"].endswith(":rule/rules-bus/big-orders")
    rule = events.describe_rule(Name="big-orders", EventBusName="rules-bus")
    assert (rule["State"], rule["EventBusName"], rule["Description"]) == ("ENABLED", "rules-bus", "orders over 100")
    events.disable_rule(Name="big-orders", EventBusName="rules-bus")
    assert events.describe_rule(Name="big-orders", EventBusName="rules-bus")["State"] == "DISABLED"
    events.enable_rule(Name="big-orders", EventBusName="rules-bus")
    assert events.describe_rule(Name="big-orders", EventBusName="rules-bus")["State"] == "ENABLED"

    invalid = error_of(events.put_rule, Name="bad", EventPattern='{"source": "shop"}')
    assert invalid["Code"] == "InvalidEventPatternException" and "Event pattern is not valid" in invalid["Message"]
    assert error_of(events.put_rule, Name="bad", EventPattern="not json")["Code"] == "InvalidEventPatternException"
    assert error_of(events.put_rule, Name="bad")["Code"] == "ValidationException"
    scheduled = error_of(events.put_rule, Name="tick", EventBusName="rules-bus", ScheduleExpression="rate(5 minutes)")
    assert "default event bus" in scheduled["Message"]
    assert error_of(events.put_rule, Name="tick", ScheduleExpression="rate(five minutes)")["Code"] == "ValidationException"
    events.put_rule(Name="tick", ScheduleExpression="rate(5 minutes)", State="DISABLED")
    assert events.describe_rule(Name="tick")["ScheduleExpression"] == "rate(5 minutes)"
    assert error_of(events.put_rule, Name="x" * 65, EventPattern='{"source":["a"]}')["Code"] == "ValidationException"

    for i in range(5):
        events.put_rule(Name=f"page-{i}", EventBusName="rules-bus", EventPattern='{"source": ["p"]}')
    page = events.list_rules(EventBusName="rules-bus", NamePrefix="page-", Limit=3)
    rest = events.list_rules(EventBusName="rules-bus", NamePrefix="page-", NextToken=page["NextToken"])
    assert [r["Name"] for r in page["Rules"] + rest["Rules"]] == [f"page-{i}" for i in range(5)]
    assert "NextToken" not in rest
    assert error_of(events.describe_rule, Name="nope", EventBusName="rules-bus")["Code"] == "ResourceNotFoundException"
    assert error_of(events.list_rules, EventBusName="no-such-bus")["Code"] == "ResourceNotFoundException"

    queue_arn = f"arn:aws:sqs:{REGION}:{rule['Arn'].split(':')[4]}:rules-queue"
    events.put_targets(Rule="big-orders", EventBusName="rules-bus", Targets=[{"Id": "q", "Arn": queue_arn}])
    assert events.list_rule_names_by_target(TargetArn=queue_arn, EventBusName="rules-bus")["RuleNames"] == ["big-orders"]
    assert "has targets" in error_of(events.delete_rule, Name="big-orders", EventBusName="rules-bus")["Message"]
    events.remove_targets(Rule="big-orders", EventBusName="rules-bus", Ids=["q"])
    events.delete_rule(Name="big-orders", EventBusName="rules-bus")
    assert error_of(events.describe_rule, Name="big-orders", EventBusName="rules-bus")["Code"] == "ResourceNotFoundException"


def test_targets_are_checked_one_by_one_and_limited_to_five(events, bus_server):
    account = bus_server.account_id
    events.put_rule(Name="fan-out", EventPattern='{"source": ["fan"]}')
    queue = lambda n: f"arn:aws:sqs:{REGION}:{account}:fan-{n}"  # noqa: E731
    answer = events.put_targets(Rule="fan-out", Targets=[
        {"Id": "ok-1", "Arn": queue(1), "InputPath": "$.detail"},
        {"Id": "ok-2", "Arn": queue(2), "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
         "DeadLetterConfig": {"Arn": queue("dlq")}},
        {"Id": "two-inputs", "Arn": queue(3), "Input": "{}", "InputPath": "$.detail"},
        {"Id": "bad-json", "Arn": queue(4), "Input": "{not json"},
        {"Id": "lambda", "Arn": f"arn:aws:lambda:{REGION}:{account}:function:f"},
    ])
    failed = {e["TargetId"]: e for e in answer["FailedEntries"]}
    assert answer["FailedEntryCount"] == 3 and set(failed) == {"two-inputs", "bad-json", "lambda"}
    assert all(e["ErrorCode"] == "ValidationException" for e in failed.values())
    assert "lambda" in failed["lambda"]["ErrorMessage"]
    bad_template = events.put_targets(Rule="fan-out", Targets=[{"Id": "tpl", "Arn": queue(5), "InputTransformer": {
        "InputPathsMap": {"a": "$.detail.a"}, "InputTemplate": '{"a": <a>, "b": <missing>}'}}])
    assert bad_template["FailedEntryCount"] == 1 and "missing" in bad_template["FailedEntries"][0]["ErrorMessage"]
    listed = events.list_targets_by_rule(Rule="fan-out")["Targets"]
    assert [t["Id"] for t in listed] == ["ok-1", "ok-2"]
    assert listed[1]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
    events.put_targets(Rule="fan-out", Targets=[{"Id": f"more-{i}", "Arn": queue(10 + i)} for i in range(3)])
    too_many = error_of(events.put_targets, Rule="fan-out", Targets=[{"Id": "sixth", "Arn": queue(20)}])
    assert too_many["Code"] == "LimitExceededException"
    removed = events.remove_targets(Rule="fan-out", Ids=["more-0", "never-there"])
    assert removed["FailedEntryCount"] == 1 and removed["FailedEntries"][0]["TargetId"] == "never-there"
    assert error_of(events.put_targets, Rule="no-such-rule", Targets=[{"Id": "a", "Arn": queue(1)}])["Code"] == \
        "ResourceNotFoundException"


def test_put_events_checks_each_entry_like_eventbridge(events):
    answer = events.put_events(Entries=[
        {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"id": 1})},
        {"Source": "shop", "DetailType": "Order", "Detail": "[1, 2]"},
        {"Source": "shop", "DetailType": "Order"},
        {"Source": "aws.appflow", "DetailType": "Order", "Detail": "{}"},
        {"Source": "shop", "DetailType": "Order", "Detail": "{}", "EventBusName": "no-such-bus"},
    ])
    codes = [e.get("ErrorCode") for e in answer["Entries"]]
    assert codes == [None, "MalformedDetail", "InvalidArgument", "NotAuthorizedForSourceException",
                     "ResourceNotFoundException"]
    assert answer["FailedEntryCount"] == 4 and answer["Entries"][0]["EventId"]
    too_big = "x" * (256 * 1024)
    assert error_of(events.put_events, Entries=[{"Source": "s", "DetailType": "d",
                                                 "Detail": json.dumps({"big": too_big})}])["Code"] == "ValidationException"
    eleven = [{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 11
    assert error_of(events.put_events, Entries=eleven)["Code"] == "ValidationException"


# Each row: pattern, an event detail that matches, one that does not.
PATTERNS = [
    ({"detail": {"state": ["running"]}}, {"state": "running"}, {"state": "stopped"}),
    ({"detail": {"n": [5]}}, {"n": 5.0}, {"n": 6}),
    ({"detail": {"id": [{"prefix": "ord-"}]}}, {"id": "ord-1"}, {"id": "inv-1"}),
    ({"detail": {"file": [{"suffix": ".png"}]}}, {"file": "a.png"}, {"file": "a.jpg"}),
    ({"detail": {"name": [{"equals-ignore-case": "alice"}]}}, {"name": "ALICE"}, {"name": "bob"}),
    ({"detail": {"path": [{"wildcard": "dir/*.csv"}]}}, {"path": "dir/a.csv"}, {"path": "dir/a.txt"}),
    ({"detail": {"state": [{"anything-but": "deleted"}]}}, {"state": "live"}, {"state": "deleted"}),
    ({"detail": {"state": [{"anything-but": ["a", "b"]}]}}, {"state": "c"}, {"state": "b"}),
    ({"detail": {"id": [{"anything-but": {"prefix": "test-"}}]}}, {"id": "prod-1"}, {"id": "test-1"}),
    ({"detail": {"price": [{"numeric": [">", 0, "<=", 5]}]}}, {"price": 5}, {"price": 0}),
    ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, {"ip": "10.0.0.7"}, {"ip": "10.0.1.7"}),
    ({"detail": {"error": [{"exists": False}]}}, {"ok": 1}, {"error": "x"}),
    ({"detail": {"$or": [{"a": [1]}, {"b": [2]}]}}, {"b": 2}, {"a": 2, "b": 1}),
    ({"detail": {"tags": ["red"]}}, {"tags": ["blue", "red"]}, {"tags": ["blue"]}),
    ({"detail": {"user": {"role": ["admin"]}}}, {"user": {"role": "admin"}}, {"user": {"role": "guest"}}),
]


@pytest.mark.parametrize("pattern,yes,no", PATTERNS, ids=[str(i) for i in range(len(PATTERNS))])
def test_test_event_pattern_applies_every_operator(events, pattern, yes, no):
    def event(detail):
        return json.dumps({"id": "1", "account": "123456789012", "source": "s", "time": "2026-12-03T00:00:00Z",
                           "region": REGION, "detail-type": "t", "resources": [], "detail": detail})
    assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=event(yes))["Result"] is True
    assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=event(no))["Result"] is False


@pytest.mark.parametrize("pattern", [
    '{"source": "x"}', '{}', '{"detail": {"n": [{"numeric": [">", "a"]}]}}', '{"a": [{"prefix": 1}]}',
    '{"a": [{"cidr": "10.0.0.0/33"}]}', '{"a": [{"wildcard": "a**b"}]}', '{"a": [{"exists": "yes"}]}',
    '{"a": [{"unknown-op": 1}]}', '[1]',
])
def test_invalid_patterns_are_refused(events, pattern):
    event = json.dumps({"id": "1", "account": "1", "source": "s", "time": "t", "region": REGION, "detail-type": "d"})
    error = error_of(events.test_event_pattern, EventPattern=pattern, Event=event)
    assert error["Code"] == "InvalidEventPatternException", error


def test_permissions_shape_the_bus_policy(events, bus_server):
    events.create_event_bus(Name="shared")
    events.put_permission(EventBusName="shared", Action="events:PutEvents", Principal="111122223333",
                          StatementId="producer")
    policy = json.loads(events.describe_event_bus(Name="shared")["Policy"])
    statement = policy["Statement"][0]
    assert statement["Sid"] == "producer" and statement["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert statement["Resource"].endswith(":event-bus/shared")
    assert error_of(events.put_permission, EventBusName="shared", Action="events:DeleteRule", Principal="*",
                    StatementId="x")["Code"] == "ValidationException"
    assert error_of(events.remove_permission, EventBusName="shared", StatementId="nope")["Code"] == \
        "ResourceNotFoundException"
    events.remove_permission(EventBusName="shared", StatementId="producer")
    assert "Policy" not in events.describe_event_bus(Name="shared")


def test_connections_and_api_destinations_never_show_secrets(events, bus_server):
    created = events.create_connection(Name="crm", AuthorizationType="API_KEY", AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "sekret-key-value-123"},
        "InvocationHttpParameters": {"HeaderParameters": [
            {"Key": "x-tenant", "Value": "acme", "IsValueSecret": False},
            {"Key": "x-token", "Value": "hidden-header-456", "IsValueSecret": True}]}})
    assert created["ConnectionState"] == "AUTHORIZED"
    described = events.describe_connection(Name="crm")
    assert described["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "x-api-key"}
    headers = described["AuthParameters"]["InvocationHttpParameters"]["HeaderParameters"]
    assert {h["Key"]: h.get("Value") for h in headers} == {"x-tenant": "acme", "x-token": None}
    events.create_connection(Name="basic", AuthorizationType="BASIC", AuthParameters={
        "BasicAuthParameters": {"Username": "u", "Password": "basic-password-789"}})
    assert [c["Name"] for c in events.list_connections(NamePrefix="cr")["Connections"]] == ["crm"]
    assert error_of(events.create_connection, Name="crm", AuthorizationType="BASIC", AuthParameters={
        "BasicAuthParameters": {"Username": "u", "Password": "p"}})["Code"] == "ResourceAlreadyExistsException"
    events.update_connection(Name="basic", AuthParameters={"BasicAuthParameters": {"Username": "u2"}})
    assert events.describe_connection(Name="basic")["AuthParameters"]["BasicAuthParameters"] == {"Username": "u2"}

    destination = events.create_api_destination(Name="hook", ConnectionArn=created["ConnectionArn"],
                                                InvocationEndpoint="https://hooks.example.com/orders/*",
                                                HttpMethod="POST", InvocationRateLimitPerSecond=20)
    assert destination["ApiDestinationState"] == "ACTIVE"
    got = events.describe_api_destination(Name="hook")
    assert (got["InvocationEndpoint"], got["HttpMethod"], got["InvocationRateLimitPerSecond"]) == \
        ("https://hooks.example.com/orders/*", "POST", 20)
    assert events.list_api_destinations(ConnectionArn=created["ConnectionArn"])["ApiDestinations"][0]["Name"] == "hook"
    events.update_api_destination(Name="hook", InvocationRateLimitPerSecond=5)
    assert events.describe_api_destination(Name="hook")["InvocationRateLimitPerSecond"] == 5
    assert error_of(events.delete_connection, Name="crm")["Code"] == "IllegalStatusException"
    events.delete_api_destination(Name="hook")
    events.delete_connection(Name="crm")
    assert error_of(events.describe_connection, Name="crm")["Code"] == "ResourceNotFoundException"

    # Secrets are sealed at rest and never logged.
    for secret in ("sekret-key-value-123", "hidden-header-456", "basic-password-789"):
        assert secret not in bus_server.log_text()
        for path in bus_server.data_dir.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("endpoint", [
    "https://127.0.0.1/hook", "https://10.0.0.5/hook", "http://169.254.169.254/latest/meta-data",
    "https://0.0.0.0/hook", "https://localhost:8443/hook", "https://192.168.1.20:8443/hook",
])
def test_api_destinations_to_private_addresses_are_refused(events, endpoint):
    connection = events.create_connection(Name=f"guard-{abs(hash(endpoint))}", AuthorizationType="API_KEY",
                                          AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    error = error_of(events.create_api_destination, Name=f"guard-{abs(hash(endpoint))}",
                     ConnectionArn=connection["ConnectionArn"], InvocationEndpoint=endpoint, HttpMethod="POST")
    assert error["Code"] == "ValidationException" and "--allow-private-endpoints" in error["Message"], error


def test_connector_profiles_on_private_addresses_are_refused(bus_server, salesforce_org):
    from conftest import sim_tokens
    appflow = bus_server.client()
    for url in (salesforce_org.base_url, "https://10.0.0.5", "http://169.254.169.254"):
        error = error_of(appflow.create_connector_profile, connectorProfileName="private", connectorType="Salesforce",
                         connectionMode="Public", connectorProfileConfig={
                             "connectorProfileProperties": {"Salesforce": {"instanceUrl": url}},
                             "connectorProfileCredentials": {"Salesforce": {
                                 "accessToken": sim_tokens(salesforce_org)["access_token"]}}})
        assert "--allow-private-endpoints" in error["Message"], (url, error)
    assert appflow.describe_connector_profiles()["connectorProfileDetails"] == []


def test_rule_tags_and_the_aws_cli(events, bus_server):
    arn = events.put_rule(Name="tagged", EventPattern='{"source": ["t"]}', Tags=[{"Key": "a", "Value": "1"}])["RuleArn"]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = arn.replace("tagged", "nope")
    assert error_of(events.list_tags_for_resource, ResourceARN=missing)["Code"] == "ResourceNotFoundException"

    env = {"AWS_ACCESS_KEY_ID": bus_server.access_key_id, "AWS_SECRET_ACCESS_KEY": bus_server.secret_access_key,
           "AWS_DEFAULT_REGION": REGION, "PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": "/dev/null"}
    import os
    import sys
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    listed = subprocess.run([aws, "events", "list-rules", "--name-prefix", "tagged", "--endpoint-url",
                             bus_server.endpoint, "--output", "json"], env=env, capture_output=True, text=True, check=True)
    assert [r["Name"] for r in json.loads(listed.stdout)["Rules"]] == ["tagged"]
