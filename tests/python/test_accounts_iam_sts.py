"""Accounts, IAM and STS against the real server with boto3 and the aws CLI:
three accounts (main = the data directory's, a consumer and an ISV) that see
nothing of each other, IAM users whose policies allow and deny, AssumeRole
with and without the ExternalId the trust policy requires, session
credentials (tampered and expired ones refused), cross-account PutEvents by
bus policy, and no secret in the store's bytes or the log."""
import json
import os
import pathlib
import re
import sqlite3
import subprocess
import sys
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

NO_RETRIES = botocore.config.Config(retries={"max_attempts": 1})


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]


class Account:
    """An account's id and keys, with boto3 clients signed by them."""

    def __init__(self, server, account_id, key_id, secret, token=None):
        self.server, self.id, self.key_id, self.secret, self.token = server, account_id, key_id, secret, token

    def client(self, service):
        return boto3.session.Session().client(
            service,
            endpoint_url=self.server.endpoint,
            region_name=self.server.region,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            aws_session_token=self.token,
            config=NO_RETRIES,
        )


def create_account(server, name):
    """`sluice account create NAME` against the running server's data directory."""
    result = subprocess.run(
        [server.binary, "account", "create", name, "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    account_id = re.search(r"account (\d{12}) \(", result.stdout).group(1)
    key_id = re.search(r"aws_access_key_id = (\S+)", result.stdout).group(1)
    secret = re.search(r"aws_secret_access_key = (\S+)", result.stdout).group(1)
    return Account(server, account_id, key_id, secret)


@pytest.fixture(scope="module")
def world(module_server_factory):
    server = module_server_factory(name="accounts")
    main = Account(server, server.account_id, server.access_key_id, server.secret_access_key)
    return server, main, create_account(server, "consumer"), create_account(server, "isv")


def test_accounts_are_listed_and_the_data_directory_account_cannot_be_deleted(world):
    server, main, consumer, isv = world
    listing = subprocess.run(
        [server.binary, "account", "list", "--data-dir", str(server.data_dir)], capture_output=True, text=True, timeout=60
    )
    assert listing.returncode == 0, listing.stderr
    for account, name in ((main, "main"), (consumer, "consumer"), (isv, "isv")):
        assert re.search(rf"^{account.id}\s+{name}\s", listing.stdout, re.M), listing.stdout
    refused = subprocess.run(
        [server.binary, "account", "delete", "main", "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0 and "cannot be deleted" in refused.stderr
    again = subprocess.run(
        [server.binary, "account", "create", "consumer", "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert again.returncode != 0 and "already exists" in again.stderr


def test_get_caller_identity_for_root_user_and_assumed_role(world):
    server, main, consumer, isv = world
    me = main.client("sts").get_caller_identity()
    assert (me["Account"], me["Arn"], me["UserId"]) == (main.id, f"arn:aws:iam::{main.id}:root", main.id)
    other = consumer.client("sts").get_caller_identity()
    assert (other["Account"], other["Arn"]) == (consumer.id, f"arn:aws:iam::{consumer.id}:root")

    iam = main.client("iam")
    user = iam.create_user(UserName="caller-check", Path="/ops/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{main.id}:user/ops/caller-check" and user["UserId"].startswith("AIDA")
    key = iam.create_access_key(UserName="caller-check")["AccessKey"]
    as_user = Account(server, main.id, key["AccessKeyId"], key["SecretAccessKey"]).client("sts").get_caller_identity()
    assert (as_user["Arn"], as_user["UserId"]) == (user["Arn"], user["UserId"])

    # The aws CLI reads the same answers.
    env = dict(os.environ, AWS_ACCESS_KEY_ID=consumer.key_id, AWS_SECRET_ACCESS_KEY=consumer.secret, AWS_CONFIG_FILE="/dev/null")
    aws = pathlib.Path(sys.executable).parent / "aws"
    result = subprocess.run(
        [str(aws), "sts", "get-caller-identity", "--endpoint-url", server.endpoint, "--region", server.region, "--output", "json"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Account"] == consumer.id


def test_resources_of_one_account_are_invisible_to_the_others(world):
    server, main, consumer, isv = world
    events, sqs = main.client("events"), main.client("sqs")
    events.create_event_bus(Name="orders")
    events.put_rule(Name="route", EventBusName="orders", EventPattern=json.dumps({"source": ["shop"]}))
    queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]

    their_events, their_sqs = consumer.client("events"), consumer.client("sqs")
    assert "orders" not in [b["Name"] for b in their_events.list_event_buses()["EventBuses"]]
    assert error_of(their_events.describe_event_bus, Name="orders")["Code"] == "ResourceNotFoundException"
    assert error_of(their_events.describe_rule, Name="route", EventBusName="orders")["Code"] == "ResourceNotFoundException"
    their_events.delete_event_bus(Name="orders")  # nothing of that name in its account: a no-op, as on AWS
    assert "orders" in [b["Name"] for b in events.list_event_buses()["EventBuses"]], "the other's delete touched nothing"
    assert error_of(their_events.describe_rule, Name="route", EventBusName=f"arn:aws:events:{server.region}:{main.id}:event-bus/orders")["Code"] in (
        "ResourceNotFoundException", "AccessDeniedException", "ValidationException")
    assert their_sqs.list_queues().get("QueueUrls", []) == []
    assert error_of(their_sqs.get_queue_url, QueueName="jobs")["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    # Another account's queue URL is refused as SQS refuses it without a queue policy.
    assert error_of(their_sqs.send_message, QueueUrl=queue_url, MessageBody="x")["Code"] == "AccessDenied"
    assert sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"}
    # The same names are free in another account.
    their_events.create_event_bus(Name="orders")
    assert their_events.describe_event_bus(Name="orders")["Arn"].endswith(f":{consumer.id}:event-bus/orders")
    # IAM entities too.
    main.client("iam").create_user(UserName="only-in-main")
    assert error_of(consumer.client("iam").get_user, UserName="only-in-main")["Code"] == "NoSuchEntity"
    assert "only-in-main" not in [u["UserName"] for u in consumer.client("iam").list_users()["Users"]]


def salesforce_profile_and_flow(appflow, org, profile, flow, bucket=None):
    from conftest import sim_tokens

    arn = appflow.create_connector_profile(
        connectorProfileName=profile, connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": org.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": sim_tokens(org)["access_token"]}},
        },
    )["connectorProfileArn"]
    flow_arn = appflow.create_flow(
        flowName=flow,
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": profile,
                          "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": bucket or f"exports-{flow}", "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        tasks=[{"taskType": "Filter", "sourceFields": ["Id", "Name"], "connectorOperator": {"Salesforce": "PROJECTION"}}],
    )["flowArn"]
    return arn, flow_arn


def test_appflow_resources_of_one_account_are_invisible_to_the_others(world, salesforce_org):
    from conftest import finished_run

    server, main, consumer, isv = world
    ours, theirs = main.client("appflow"), consumer.client("appflow")
    profile_arn, flow_arn = salesforce_profile_and_flow(ours, salesforce_org, "crm", "accounts")
    assert profile_arn.split(":")[4] == main.id and flow_arn.split(":")[4] == main.id
    ours.tag_resource(resourceArn=flow_arn, tags={"team": "sales"})

    assert theirs.list_flows()["flows"] == []
    assert theirs.describe_connector_profiles()["connectorProfileDetails"] == []
    assert theirs.describe_connector_profiles(connectorProfileNames=["crm"])["connectorProfileDetails"] == []
    for call, kwargs in (
        (theirs.describe_flow, {"flowName": "accounts"}),
        (theirs.start_flow, {"flowName": "accounts"}),
        (theirs.delete_flow, {"flowName": "accounts"}),
        (theirs.describe_flow_execution_records, {"flowName": "accounts"}),
        (theirs.delete_connector_profile, {"connectorProfileName": "crm"}),
    ):
        assert error_of(call, **kwargs)["Code"] == "ResourceNotFoundException", call
    # Another account's ARNs are refused too.
    assert error_of(theirs.list_tags_for_resource, resourceArn=flow_arn)["Code"] in ("ValidationException", "ResourceNotFoundException")
    assert error_of(theirs.tag_resource, resourceArn=flow_arn, tags={"x": "y"})["Code"] in ("ValidationException", "ResourceNotFoundException")
    assert ours.list_tags_for_resource(resourceArn=flow_arn)["tags"] == {"team": "sales"}

    # Run reports go to the default bus of the flow's account.
    reports = {}
    for account in (main, consumer):
        sqs, events = account.client("sqs"), account.client("events")
        url = sqs.create_queue(QueueName="run-reports")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="run-reports", EventPattern=json.dumps(
            {"source": ["aws.appflow"], "detail-type": ["AppFlow End Flow Run Report"]}))
        events.put_targets(Rule="run-reports", Targets=[{"Id": "q", "Arn": arn}])
        reports[account.id] = (sqs, url)

    # main's run makes its bucket main's.
    main_run = ours.start_flow(flowName="accounts")["executionId"]
    assert finished_run(ours, "accounts", main_run)["executionStatus"] == "Successful"
    main_report = reports[main.id][0].receive_message(QueueUrl=reports[main.id][1], WaitTimeSeconds=10)["Messages"]
    reports[main.id][0].delete_message(QueueUrl=reports[main.id][1], ReceiptHandle=main_report[0]["ReceiptHandle"])

    # The same names are the consumer's own; runs stay in their account.
    their_profile, their_flow = salesforce_profile_and_flow(theirs, salesforce_org, "crm", "accounts", "consumer-exports")
    assert their_flow == flow_arn.replace(main.id, consumer.id)
    execution_id = theirs.start_flow(flowName="accounts")["executionId"]
    assert finished_run(theirs, "accounts", execution_id)["executionStatus"] == "Successful"
    sqs, url = reports[consumer.id]
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    assert len(received) == 1, received
    report = json.loads(received[0]["Body"])
    assert (report["account"], report["detail"]["flow-arn"]) == (consumer.id, their_flow)
    sqs, url = reports[main.id]
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    assert [r["executionId"] for r in ours.describe_flow_execution_records(flowName="accounts")["flowExecutions"]] == [main_run]
    assert [r["executionId"] for r in theirs.describe_flow_execution_records(flowName="accounts")["flowExecutions"]] == [execution_id]
    assert [f["flowName"] for f in ours.list_flows()["flows"]] == ["accounts"]

    # A flow reads and writes only its own account's buckets (AppFlow's rule).
    salesforce_profile_and_flow(theirs, salesforce_org, "crm2", "into-theirs", "exports-accounts")
    theirs.create_flow(
        flowName="from-theirs",
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "exports-accounts", "bucketPrefix": "accounts", "s3InputFormatConfig": {"s3InputFileType": "JSON"}}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "consumer-exports", "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}, "taskProperties": {}}])
    for flow in ("into-theirs", "from-theirs"):
        run = theirs.start_flow(flowName=flow)["executionId"]
        record = finished_run(theirs, flow, run)
        assert record["executionStatus"] == "Error", record
        assert "belongs to another account" in record["executionResult"]["errorInfo"]["executionMessage"], record
        theirs.delete_flow(flowName=flow)
    theirs.delete_connector_profile(connectorProfileName="crm2")
    ours.delete_flow(flowName="accounts")
    assert theirs.describe_flow(flowName="accounts")["flowArn"] == their_flow
    ours.delete_connector_profile(connectorProfileName="crm")
    theirs.delete_flow(flowName="accounts")
    theirs.delete_connector_profile(connectorProfileName="crm")


def test_iam_users_are_allowed_and_denied_by_their_policies(world):
    server, main, consumer, isv = world
    iam = main.client("iam")
    iam.create_user(UserName="alice")
    assert error_of(iam.create_user, UserName="ALICE")["Code"] == "EntityAlreadyExists"
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    alice = Account(server, main.id, key["AccessKeyId"], key["SecretAccessKey"])
    denied = error_of(alice.client("events").list_rules)
    assert denied["Code"] == "AccessDeniedException"
    assert denied["Message"] == (
        f"User: arn:aws:iam::{main.id}:user/alice is not authorized to perform: events:ListRules on resource: * "
        "because no identity-based policy allows the events:ListRules action"
    )
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="alice", PolicyName="events", PolicyDocument=json.dumps(policy))
    assert iam.get_user_policy(UserName="alice", PolicyName="events")["PolicyDocument"] == policy
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["events"]
    alice.client("events").put_rule(Name="alice-rule", EventPattern=json.dumps({"source": ["a"]}))
    deny = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "events:DeleteRule", "Resource": f"arn:aws:events:*:{main.id}:rule/alice-*"}]}
    iam.put_user_policy(UserName="alice", PolicyName="keep", PolicyDocument=json.dumps(deny))
    refused = error_of(alice.client("events").delete_rule, Name="alice-rule")
    assert refused["Code"] == "AccessDeniedException" and "explicit deny" in refused["Message"]
    assert error_of(alice.client("sqs").list_queues)["Code"] == "AccessDeniedException"
    assert error_of(alice.client("iam").create_user, UserName="mallory")["Code"] == "AccessDenied"

    assert error_of(iam.put_user_policy, UserName="alice", PolicyName="bad", PolicyDocument="{}")["Code"] == "MalformedPolicyDocument"
    assert error_of(iam.get_user, UserName="nobody")["Code"] == "NoSuchEntity"
    assert error_of(iam.delete_user, UserName="alice")["Code"] == "DeleteConflict"
    iam.create_access_key(UserName="alice")
    assert error_of(iam.create_access_key, UserName="alice")["Code"] == "LimitExceeded"
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert len(keys) == 2 and all("SecretAccessKey" not in k for k in keys)
    iam.update_access_key(UserName="alice", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    time.sleep(0.2)
    assert error_of(alice.client("sts").get_caller_identity)["Code"] == "InvalidClientTokenId"
    for k in keys:
        iam.delete_access_key(UserName="alice", AccessKeyId=k["AccessKeyId"])
    for name in ("events", "keep"):
        iam.delete_user_policy(UserName="alice", PolicyName=name)
    iam.delete_user(UserName="alice")
    assert error_of(iam.get_user, UserName="alice")["Code"] == "NoSuchEntity"


def test_the_isv_assumes_a_role_only_with_the_external_id(world):
    server, main, consumer, isv = world
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{isv.id}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "isv-tenant-7"}}}]}
    iam = main.client("iam")
    role = iam.create_role(RoleName="isv-access", AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{main.id}:role/isv-access" and role["RoleId"].startswith("AROA")
    assert iam.get_role(RoleName="isv-access")["Role"]["AssumeRolePolicyDocument"] == trust
    sts = isv.client("sts")
    for extra in ({}, {"ExternalId": "wrong"}):
        refused = error_of(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="s1", **extra)
        assert refused["Code"] == "AccessDenied"
        assert refused["Message"] == f"User: arn:aws:iam::{isv.id}:root is not authorized to perform: sts:AssumeRole on resource: {role['Arn']}"
    assert error_of(consumer.client("sts").assume_role, RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="isv-tenant-7")["Code"] == "AccessDenied"
    too_long = error_of(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="isv-tenant-7", DurationSeconds=7200)
    assert too_long["Code"] == "ValidationError" and "MaxSessionDuration" in too_long["Message"]

    answer = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tenant-7", ExternalId="isv-tenant-7", DurationSeconds=900)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    remaining = credentials["Expiration"].timestamp() - time.time()
    assert 880 < remaining <= 901, remaining
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{main.id}:assumed-role/isv-access/tenant-7"
    session = Account(server, main.id, credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    who = session.client("sts").get_caller_identity()
    assert (who["Account"], who["Arn"]) == (main.id, answer["AssumedRoleUser"]["Arn"])
    assert who["UserId"] == f"{role['RoleId']}:tenant-7"
    # The role has no permissions yet; then it may work the event bus of main's account.
    assert error_of(session.client("events").list_event_buses)["Code"] == "AccessDeniedException"
    iam.put_role_policy(RoleName="isv-access", PolicyName="bus", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:*", "Resource": "*"}]}))
    session.client("events").create_event_bus(Name="isv-made")
    assert "isv-made" in [b["Name"] for b in main.client("events").list_event_buses()["EventBuses"]]
    assert "isv-made" not in [b["Name"] for b in isv.client("events").list_event_buses()["EventBuses"]]

    # A session key without its token, or with another token, is refused.
    tokenless = Account(server, main.id, credentials["AccessKeyId"], credentials["SecretAccessKey"])
    assert error_of(tokenless.client("events").list_event_buses)["Code"] == "UnrecognizedClientException"
    forged = Account(server, main.id, credentials["AccessKeyId"], credentials["SecretAccessKey"], "IQoJforged")
    assert error_of(forged.client("sts").get_caller_identity)["Code"] == "InvalidClientTokenId"

    # Once it expires (here: the store's clock moved past it), the session is refused.
    with sqlite3.connect(server.data_dir / "sluice.db") as db:
        db.execute("UPDATE access_keys SET expires_at_ms = 1 WHERE access_key_id = ?", (credentials["AccessKeyId"],))
    time.sleep(5.5)  # the server's key cache (sluice_iam::CACHE_TTL)
    expired = error_of(session.client("events").list_event_buses)
    assert expired["Code"] == "ExpiredTokenException", expired
    assert error_of(session.client("sts").get_caller_identity)["Code"] == "ExpiredToken"


def test_cross_account_put_events_needs_the_bus_policy(world):
    server, main, consumer, isv = world
    events = main.client("events")
    shared = events.create_event_bus(Name="shared")["EventBusArn"]
    private = events.create_event_bus(Name="private")["EventBusArn"]
    events.put_permission(EventBusName="shared", Action="events:PutEvents", Principal=consumer.id, StatementId="consumer")
    entry = {"Source": "consumer.app", "DetailType": "t", "Detail": "{}"}
    allowed = consumer.client("events").put_events(Entries=[dict(entry, EventBusName=shared)])
    assert allowed["FailedEntryCount"] == 0, allowed
    refused = consumer.client("events").put_events(Entries=[dict(entry, EventBusName=private)])
    assert refused["FailedEntryCount"] == 1
    assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"


def test_no_secret_is_in_the_store_or_the_log(world):
    server, main, consumer, isv = world
    key = main.client("iam").create_access_key()["AccessKey"]  # a second root key
    secrets = [main.secret, consumer.secret, isv.secret, key["SecretAccessKey"]]
    main.client("iam").delete_access_key(AccessKeyId=key["AccessKeyId"])
    stored = b"".join(p.read_bytes() for p in server.data_dir.glob("sluice.db*"))
    log = server.log_path.read_text()
    for secret in secrets:
        assert secret.encode() not in stored, "a secret key is in the store's bytes"
        # The server prints the root credentials it generates once, on stdout
        # (which this harness writes into the same file); nothing else may.
        lines = [line for line in log.splitlines() if secret in line]
        assert all(line.strip().startswith("aws_secret_access_key = ") for line in lines), lines
        assert len(lines) <= 1, "a secret key is in the server log"


def test_seed_003_the_isv_runs_appflow_in_the_end_users_account(world, salesforce_org):
    """Seed 003: the ISV assumes appflow-remote-role in the end user's account (the
    data directory's) and lists connectors, creates a Salesforce connection and a
    flow to S3, and starts it there; what the role's policy leaves out is refused."""
    from conftest import finished_run, sim_tokens

    server, end_user, consumer, isv = world
    iam = end_user.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": isv.id}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "isv-app"}}}]}
    role = iam.create_role(RoleName="appflow-remote-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="appflow-remote-role", PolicyName="appflow", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Resource": "*", "Action": [
                "appflow:List*", "appflow:Describe*", "appflow:CreateConnectorProfile", "appflow:CreateFlow",
                "appflow:StartFlow"]},
            {"Effect": "Deny", "Action": "appflow:DeleteConnectorProfile", "Resource": "*"}]}))
    # The ISV's application: boto3 STS in its own account, then AppFlow with the session.
    answer = isv.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="isv-app", ExternalId="isv-app")
    credentials = answer["Credentials"]
    appflow = Account(server, end_user.id, credentials["AccessKeyId"], credentials["SecretAccessKey"],
                      credentials["SessionToken"]).client("appflow")

    connectors = appflow.list_connectors()["connectors"]
    assert {"Salesforce", "S3"} <= {c["connectorType"] for c in connectors}
    profile_arn = appflow.create_connector_profile(
        connectorProfileName="end-user-salesforce", connectorType="Salesforce", connectionMode="Public",
        connectorProfileConfig={
            "connectorProfileProperties": {"Salesforce": {"instanceUrl": salesforce_org.base_url}},
            "connectorProfileCredentials": {"Salesforce": {"accessToken": sim_tokens(salesforce_org)["access_token"]}},
        },
    )["connectorProfileArn"]
    assert profile_arn.split(":")[4] == end_user.id
    flow_arn = appflow.create_flow(
        flowName="isv-accounts",
        triggerConfig={"triggerType": "OnDemand"},
        sourceFlowConfig={"connectorType": "Salesforce", "connectorProfileName": "end-user-salesforce",
                          "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
        destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "appflow-sfdata", "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        tasks=[{"taskType": "Filter", "sourceFields": ["Id", "Name", "CreatedDate"],
                "connectorOperator": {"Salesforce": "PROJECTION"}}],
    )["flowArn"]
    assert flow_arn == f"arn:aws:appflow:{server.region}:{end_user.id}:flow/isv-accounts"
    execution_id = appflow.start_flow(flowName="isv-accounts")["executionId"]
    record = finished_run(appflow, "isv-accounts", execution_id)
    assert record["executionStatus"] == "Successful", record
    described = appflow.describe_flow(flowName="isv-accounts")
    assert described["createdBy"] == answer["AssumedRoleUser"]["Arn"]
    # The end user sees the flow the ISV made; the role may not delete connections.
    assert "isv-accounts" in [f["flowName"] for f in end_user.client("appflow").list_flows()["flows"]]
    refused = error_of(appflow.delete_connector_profile, connectorProfileName="end-user-salesforce")
    assert refused["Code"] == "AccessDeniedException" and "explicit deny" in refused["Message"]
    assert error_of(appflow.delete_flow, flowName="isv-accounts")["Code"] == "AccessDeniedException"
