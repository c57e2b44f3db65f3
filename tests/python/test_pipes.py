"""EventBridge Pipes through boto3 (`pipes`) on a real server, on SQLite
and on PostgreSQL (fixture `tables_server`): a table's stream delivered to
a queue (filtered, in batches) and to an event bus, a pipe stopped and
started again without losing records, a failing target retried and then
given up to the dead-letter queue, and the API's errors."""
import json
import time
import uuid

import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clients(tables_server):
    return (tables_server.client("dynamodb"), tables_server.client("sqs"), tables_server.client("pipes"),
            tables_server.client("events"))


def stream_table(ddb) -> tuple[str, str]:
    name = unique("piped")
    table = ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return name, table["LatestStreamArn"]


def queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url: str, count: int, timeout: float = 20.0) -> list:
    bodies = []
    deadline = time.monotonic() + timeout
    while len(bodies) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


ROLE = "arn:aws:iam::123456789012:role/pipe-role"


def test_a_stream_reaches_a_queue_filtered_and_in_order(clients, tables_server):
    ddb, sqs, pipes, _ = clients
    table, stream_arn = stream_table(ddb)
    url, queue_arn = queue(sqs)
    ddb.put_item(TableName=table, Item={"pk": {"S": "before"}})  # TRIM_HORIZON: delivered too
    name = unique("pipe")
    created = pipes.create_pipe(
        Name=name, RoleArn=ROLE, Source=stream_arn, Target=queue_arn,
        SourceParameters={
            "DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 2},
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT", "REMOVE"]})}]},
        },
        Tags={"team": "cc"},
    )
    assert created["CurrentState"] == "CREATING" and created["DesiredState"] == "RUNNING"
    assert created["Arn"] == f"arn:aws:pipes:{tables_server.region}:{tables_server.account_id}:pipe/{name}"
    for i in range(4):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
    ddb.update_item(TableName=table, Key={"pk": {"S": "k0"}}, UpdateExpression="SET n = :n",
                    ExpressionAttributeValues={":n": {"N": "9"}})  # MODIFY: filtered out
    ddb.delete_item(TableName=table, Key={"pk": {"S": "k1"}})

    # A standard queue does not keep order: the records' sequence numbers do.
    bodies = sorted(receive(sqs, url, 6), key=lambda b: int(b["dynamodb"]["SequenceNumber"]))
    assert [(b["eventName"], b["dynamodb"]["Keys"]["pk"]["S"]) for b in bodies] == [
        ("INSERT", "before"), ("INSERT", "k0"), ("INSERT", "k1"), ("INSERT", "k2"), ("INSERT", "k3"), ("REMOVE", "k1")]
    first = bodies[1]
    assert first["eventSource"] == "aws:dynamodb" and first["eventVersion"] == "1.1"
    assert first["eventSourceARN"] == stream_arn
    assert first["dynamodb"]["NewImage"] == {"pk": {"S": "k0"}, "n": {"N": "0"}}
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert bodies[5]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert receive(sqs, url, 1, timeout=2) == [], "the MODIFY record was filtered out"

    described = pipes.describe_pipe(Name=name)
    assert described["Source"] == stream_arn and described["Target"] == queue_arn
    assert described["SourceParameters"]["DynamoDBStreamParameters"]["BatchSize"] == 2
    assert described["Tags"] == {"team": "cc"}
    assert described["CurrentState"] == "RUNNING"
    listed = pipes.list_pipes(NamePrefix=name)["Pipes"]
    assert [(p["Name"], p["Source"], p["Target"]) for p in listed] == [(name, stream_arn, queue_arn)]
    pipes.tag_resource(resourceArn=created["Arn"], tags={"stage": "test", "team": "contact-center"})
    pipes.untag_resource(resourceArn=created["Arn"], tagKeys=["stage"])
    assert pipes.list_tags_for_resource(resourceArn=created["Arn"])["tags"] == {"team": "contact-center"}


def test_a_stopped_pipe_keeps_its_place(clients):
    ddb, sqs, pipes, _ = clients
    table, stream_arn = stream_table(ddb)
    url, queue_arn = queue(sqs)
    name = unique("pipe")
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=stream_arn, Target=queue_arn,
                      SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "one"}})
    assert [b["dynamodb"]["Keys"]["pk"]["S"] for b in receive(sqs, url, 1)] == ["one"]
    assert pipes.stop_pipe(Name=name)["CurrentState"] == "STOPPING"
    assert pipes.describe_pipe(Name=name)["DesiredState"] == "STOPPED"
    time.sleep(1)
    ddb.put_item(TableName=table, Item={"pk": {"S": "while-stopped"}})
    assert receive(sqs, url, 1, timeout=3) == []
    assert pipes.start_pipe(Name=name)["CurrentState"] == "STARTING"
    assert [b["dynamodb"]["Keys"]["pk"]["S"] for b in receive(sqs, url, 1)] == ["while-stopped"]
    assert pipes.delete_pipe(Name=name)["DesiredState"] == "DELETED"
    with pytest.raises(pipes.exceptions.NotFoundException):
        pipes.describe_pipe(Name=name)


def test_a_stream_reaches_an_event_bus(clients, tables_server):
    ddb, sqs, pipes, events = clients
    table, stream_arn = stream_table(ddb)
    url, queue_arn = queue(sqs)
    name = unique("pipe")
    rule = unique("from-pipe")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [f"Pipe {name}"], "detail": {"eventName": ["INSERT"]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    bus_arn = f"arn:aws:events:{tables_server.region}:{tables_server.account_id}:event-bus/default"
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=stream_arn, Target=bus_arn,
                      SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "holiday"}, "day": {"S": "2026-12-25"}})
    (event,) = receive(sqs, url, 1)
    assert event["source"] == f"Pipe {name}"
    assert event["detail-type"] == "Event from aws:dynamodb"
    assert event["detail"]["dynamodb"]["NewImage"]["day"] == {"S": "2026-12-25"}
    assert event["detail"]["eventSourceARN"] == stream_arn


def test_a_failing_target_is_retried_then_dead_lettered(clients):
    ddb, sqs, pipes, _ = clients
    table, stream_arn = stream_table(ddb)
    target_url, target_arn = queue(sqs)
    dlq_url, dlq_arn = queue(sqs)
    name = unique("pipe")
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=stream_arn, Target=target_arn, SourceParameters={
        "DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 10, "MaximumRetryAttempts": 1,
                                     "DeadLetterConfig": {"Arn": dlq_arn}}})
    sqs.delete_queue(QueueUrl=target_url)  # the target is gone: every delivery fails
    # One commit, so both records are in the first batch.
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": f"lost-{i}"}}}} for i in (1, 2)]})
    (failure,) = receive(sqs, dlq_url, 1, timeout=30)
    info = failure["DDBStreamBatchInfo"]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["requestContext"]["pipeArn"].endswith(f":pipe/{name}")
    assert info["streamArn"] == stream_arn and info["batchSize"] == 2
    assert int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
    assert info["shardId"].startswith("shardId-")

    # The pipe went on past the batch: a new target gets only what came after.
    url, arn = queue(sqs)
    pipes.update_pipe(Name=name, RoleArn=ROLE, Target=arn)
    ddb.put_item(TableName=table, Item={"pk": {"S": "after"}})
    assert [b["dynamodb"]["Keys"]["pk"]["S"] for b in receive(sqs, url, 1)] == ["after"]


def test_pipe_errors(clients):
    ddb, sqs, pipes, _ = clients
    table, stream_arn = stream_table(ddb)
    _, queue_arn = queue(sqs)
    name = unique("pipe")
    params = {"DynamoDBStreamParameters": {"StartingPosition": "LATEST"}}
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=stream_arn, Target=queue_arn, SourceParameters=params)
    with pytest.raises(pipes.exceptions.ConflictException) as conflict:
        pipes.create_pipe(Name=name, RoleArn=ROLE, Source=stream_arn, Target=queue_arn, SourceParameters=params)
    assert f"Pipe {name} already exists." in str(conflict.value)
    with pytest.raises(pipes.exceptions.ValidationException) as not_a_stream:
        pipes.create_pipe(Name=unique("p"), RoleArn=ROLE, Source=queue_arn, Target=queue_arn)
    assert "a pipe's source is a DynamoDB stream" in str(not_a_stream.value)
    with pytest.raises(pipes.exceptions.ValidationException) as missing_stream:
        pipes.create_pipe(Name=unique("p"), RoleArn=ROLE, Source=stream_arn + "0", Target=queue_arn, SourceParameters=params)
    assert "does not exist" in str(missing_stream.value)
    with pytest.raises(pipes.exceptions.ValidationException) as other_account:
        pipes.create_pipe(Name=unique("p"), RoleArn=ROLE, Source=stream_arn,
                          Target="arn:aws:sqs:us-east-1:999999999999:theirs", SourceParameters=params)
    assert "of its account" in str(other_account.value)
    with pytest.raises(pipes.exceptions.ValidationException):
        pipes.create_pipe(Name=unique("p"), RoleArn=ROLE, Source=stream_arn, Target=queue_arn,
                          SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 20000}})
    with pytest.raises(pipes.exceptions.NotFoundException):
        pipes.stop_pipe(Name=unique("nothing"))


def test_two_servers_on_one_postgres_move_each_record_once(sluice_bin, tmp_path):
    """Two servers of one data directory's identity on one PostgreSQL: both
    serve the same tables, and the pipe is moved by one of them at a time
    (its lease), so each record arrives once while writes go through both."""
    import shutil

    from conftest import SluiceServer, postgres_database

    with postgres_database() as url:
        env = {"SLUICE_STORE_URL": url}
        first = SluiceServer(sluice_bin, tmp_path / "a", env=env).start()
        servers = [first]
        try:
            # The second server has the first's identity (account, root key, master key)
            # but its own server id (what its leases are held as).
            shutil.copytree(first.data_dir, tmp_path / "b" / "data", ignore=shutil.ignore_patterns("server-id", "sluice.db*"))
            second = SluiceServer(sluice_bin, tmp_path / "b", env=env).start()
            servers.append(second)
            assert second.account_id == first.account_id
            assert (first.data_dir / "server-id").read_text() != (second.data_dir / "server-id").read_text()
            ddb_a, ddb_b = first.client("dynamodb"), second.client("dynamodb")
            sqs, pipes = first.client("sqs"), second.client("pipes")
            table, stream_arn = stream_table(ddb_a)
            url_q, queue_arn = queue(sqs)
            pipes.create_pipe(Name=unique("shared"), RoleArn=ROLE, Source=stream_arn, Target=queue_arn,
                              SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "LATEST", "BatchSize": 5}})
            for i in range(30):
                (ddb_a if i % 2 else ddb_b).put_item(TableName=table, Item={"pk": {"S": f"k{i}"}})
            bodies = receive(sqs, url_q, 30, timeout=30)
            keys = [b["dynamodb"]["Keys"]["pk"]["S"] for b in bodies]
            assert sorted(keys) == sorted(f"k{i}" for i in range(30)), keys
            assert receive(sqs, url_q, 1, timeout=3) == [], "a record arrived twice"
            assert ddb_b.describe_table(TableName=table)["Table"]["ItemCount"] == 30
        finally:
            for srv in servers:
                srv.stop()
