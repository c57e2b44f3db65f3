"""Secrets Manager through boto3 (`secretsmanager`) on a real server:
secrets by name and by ARN, staged versions (AWSCURRENT / AWSPREVIOUS and
labels), idempotent ClientRequestTokens, binary values, descriptions and
tags, listing with filters, scheduled deletion and restore, forced
deletion; and no value in the store's bytes or the server's log."""
import base64
import uuid

import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sm(server):
    return server.client("secretsmanager")


def test_versions_move_through_their_stages(sm, server):
    name = unique("sf/connected-app")
    created = sm.create_secret(Name=name, SecretString='{"ConsumerKey": "k1", "ConsumerSecret": "s1"}',
                               Description="the org's app", Tags=[{"Key": "team", "Value": "cc"}])
    assert created["Name"] == name
    arn = created["ARN"]
    assert arn.startswith(f"arn:aws:secretsmanager:{server.region}:{server.account_id}:secret:{name}-")
    assert len(arn.rsplit("-", 1)[1]) == 6
    first = created["VersionId"]

    value = sm.get_secret_value(SecretId=name)
    assert value["SecretString"] == '{"ConsumerKey": "k1", "ConsumerSecret": "s1"}'
    assert value["VersionStages"] == ["AWSCURRENT"] and value["VersionId"] == first and value["ARN"] == arn
    assert sm.get_secret_value(SecretId=arn)["VersionId"] == first, "by full ARN"
    assert sm.get_secret_value(SecretId=arn.rsplit("-", 1)[0])["VersionId"] == first, "by partial ARN"

    token = str(uuid.uuid4())
    put = sm.put_secret_value(SecretId=arn, SecretString="v2", ClientRequestToken=token)
    assert put["VersionId"] == token and put["VersionStages"] == ["AWSCURRENT"]
    assert sm.put_secret_value(SecretId=arn, SecretString="v2", ClientRequestToken=token)["VersionId"] == token
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.put_secret_value(SecretId=arn, SecretString="other", ClientRequestToken=token)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert previous["VersionId"] == first and previous["SecretString"].startswith('{"ConsumerKey"')
    assert sm.get_secret_value(SecretId=name, VersionId=first)["VersionStages"] == ["AWSPREVIOUS"]

    pending = sm.put_secret_value(SecretId=name, SecretString="v3", VersionStages=["AWSPENDING"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2", "a pending version is not current"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPENDING")["VersionId"] == pending["VersionId"]
    updated = sm.update_secret(SecretId=name, SecretString="v4", Description="rotated")
    assert sm.get_secret_value(SecretId=name)["VersionId"] == updated["VersionId"]

    described = sm.describe_secret(SecretId=name)
    assert described["Description"] == "rotated"
    assert described["Tags"] == [{"Key": "team", "Value": "cc"}]
    stages = described["VersionIdsToStages"]
    assert stages[updated["VersionId"]] == ["AWSCURRENT"] and stages[token] == ["AWSPREVIOUS"]
    assert stages[pending["VersionId"]] == ["AWSPENDING"]
    assert first not in stages, "a version without labels is not listed"

    with pytest.raises(sm.exceptions.ResourceNotFoundException) as missing:
        sm.get_secret_value(SecretId=name, VersionStage="NOPE")
    assert "staging label: NOPE" in str(missing.value)
    with pytest.raises(sm.exceptions.ResourceExistsException) as exists:
        sm.create_secret(Name=name, SecretString="x")
    assert f"the secret {name} already exists" in str(exists.value)


def test_binary_values_tags_and_listing(sm):
    prefix = unique("list")
    blob = bytes(range(256))
    sm.create_secret(Name=f"{prefix}/bin", SecretBinary=blob)
    assert sm.get_secret_value(SecretId=f"{prefix}/bin")["SecretBinary"] == blob
    sm.create_secret(Name=f"{prefix}/empty")
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.get_secret_value(SecretId=f"{prefix}/empty")
    sm.tag_resource(SecretId=f"{prefix}/empty", Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "x"}])
    sm.untag_resource(SecretId=f"{prefix}/empty", TagKeys=["team"])
    assert sm.describe_secret(SecretId=f"{prefix}/empty")["Tags"] == [{"Key": "env", "Value": "prod"}]

    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]
    assert [s["Name"] for s in listed] == [f"{prefix}/bin", f"{prefix}/empty"]
    by_tag = sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}, {"Key": "tag-value", "Values": ["prod"]}])
    assert [s["Name"] for s in by_tag["SecretList"]] == [f"{prefix}/empty"]
    paged = [s["Name"] for page in sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [prefix]}], PaginationConfig={"PageSize": 1}) for s in page["SecretList"]]
    assert paged == [f"{prefix}/bin", f"{prefix}/empty"]


def test_deletion_is_scheduled_restored_or_forced(sm):
    name = unique("doomed")
    sm.create_secret(Name=name, SecretString="bye")
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=3)
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert deleted["Name"] == name and "DeletionDate" in deleted
    with pytest.raises(sm.exceptions.InvalidRequestException) as marked:
        sm.get_secret_value(SecretId=name)
    assert "marked for deletion" in str(marked.value)
    assert "DeletedDate" in sm.describe_secret(SecretId=name)
    assert name not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    assert name in [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    with pytest.raises(sm.exceptions.InvalidRequestException):
        sm.create_secret(Name=name, SecretString="again")
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "bye"
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.delete_secret(SecretId=name, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as gone:
        sm.describe_secret(SecretId=name)
    assert "can't find the specified secret" in str(gone.value)
    sm.create_secret(Name=name, SecretString="a new one")


def test_values_are_sealed_at_rest_and_never_logged(fresh_server):
    sm = fresh_server.client("secretsmanager")
    marker = f"very-secret-{uuid.uuid4().hex}"
    sm.create_secret(Name="sealed", SecretString=marker)
    sm.put_secret_value(SecretId="sealed", SecretBinary=marker.encode() + b"-binary")
    assert sm.get_secret_value(SecretId="sealed", VersionStage="AWSPREVIOUS")["SecretString"] == marker
    fresh_server.stop()
    needles = [marker.encode(), base64.b64encode(marker.encode())]
    for path in fresh_server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), f"{path} holds the value"
    assert marker not in fresh_server.log_text()
