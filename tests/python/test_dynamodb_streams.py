"""DynamoDB Streams through boto3 (`dynamodbstreams`) on a real server, on
SQLite and on PostgreSQL (fixture `tables_server`): records field by field
for each view type, no record for a write that changes nothing, iterator
types, streams turned off and on, TTL expiry seen in the stream with the
service's identity; and kill -9 right after PutItem answered keeps both the
item and its stream record."""
import contextlib
import time
import uuid

import pytest

from conftest import postgres_database


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_table(ddb, view_type: str, range_key: bool = False) -> tuple[str, str]:
    name = unique("s")
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    table = ddb.create_table(
        TableName=name, AttributeDefinitions=attributes, KeySchema=keys, BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
    )["TableDescription"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": view_type}
    assert table["LatestStreamArn"].startswith(table["TableArn"] + "/stream/")
    assert table["LatestStreamArn"].endswith(table["LatestStreamLabel"])
    return name, table["LatestStreamArn"]


def shard_of(streams, arn: str) -> dict:
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert len(description["Shards"]) == 1
    return description["Shards"][0]


def read_all(streams, arn: str, iterator_type: str = "TRIM_HORIZON", **kwargs) -> list:
    shard = shard_of(streams, arn)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=iterator_type,
                                          **kwargs)["ShardIterator"]
    records = []
    for _ in range(20):
        page = streams.get_records(ShardIterator=iterator, Limit=2)
        records += page["Records"]
        if not page["Records"] or "NextShardIterator" not in page:
            break
        iterator = page["NextShardIterator"]
    return records


@pytest.fixture
def ddb(tables_server):
    return tables_server.client("dynamodb")


@pytest.fixture
def streams(tables_server):
    return tables_server.client("dynamodbstreams")


@pytest.mark.parametrize("view_type", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_records_carry_what_the_view_type_asks_for(ddb, streams, tables_server, view_type):
    name, arn = make_table(ddb, view_type, range_key=True)
    key = {"pk": {"S": "k"}, "sk": {"N": "1"}}
    v1 = {**key, "v": {"S": "one"}}
    v2 = {**key, "v": {"S": "two"}}
    ddb.put_item(TableName=name, Item=v1)
    ddb.put_item(TableName=name, Item=v1)  # changes nothing: no record
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "two"}})
    ddb.update_item(TableName=name, Key=key, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "two"}})
    ddb.delete_item(TableName=name, Key=key)
    ddb.delete_item(TableName=name, Key=key)  # nothing to delete: no record

    records = read_all(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert sequence_numbers == sorted(sequence_numbers) and len(set(sequence_numbers)) == 3
    assert all(s.isdigit() for s in sequence_numbers)
    images = [(None, v1), (v1, v2), (v2, None)]
    for record, (old, new) in zip(records, images):
        assert len(record["eventID"]) == 32
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == tables_server.region
        assert "userIdentity" not in record
        body = record["dynamodb"]
        assert body["Keys"] == key
        assert body["StreamViewType"] == view_type
        assert abs(body["ApproximateCreationDateTime"].timestamp() - time.time()) < 120
        assert body["SizeBytes"] > 0
        wants_new = view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
        wants_old = view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
        assert body.get("NewImage") == (new if wants_new else None)
        assert body.get("OldImage") == (old if wants_old else None)
        expected = set(body) - {"NewImage", "OldImage"}
        assert expected == {"ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"}

    # Iterator types: at and after a sequence number, and latest.
    at = read_all(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=sequence_numbers[1])
    assert [r["eventName"] for r in at] == ["MODIFY", "REMOVE"]
    after = read_all(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=sequence_numbers[1])
    assert [r["eventName"] for r in after] == ["REMOVE"]
    shard = shard_of(streams, arn)
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]
    assert streams.get_records(ShardIterator=latest)["Records"] == []
    ddb.put_item(TableName=name, Item=v2)
    page = streams.get_records(ShardIterator=latest)
    assert [r["eventName"] for r in page["Records"]] == ["INSERT"]


def test_streams_are_listed_described_and_turned_off_and_on(ddb, streams):
    name, arn = make_table(ddb, "NEW_IMAGE")
    listed = streams.list_streams(TableName=name)["Streams"]
    assert listed == [{"StreamArn": arn, "TableName": name, "StreamLabel": arn.rsplit("/", 1)[1]}]
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    assert description["StreamViewType"] == "NEW_IMAGE"
    assert description["TableName"] == name
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert "EndingSequenceNumber" not in description["Shards"][0]["SequenceNumberRange"]
    ddb.put_item(TableName=name, Item={"pk": {"S": "before"}})

    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert "LatestStreamArn" not in ddb.describe_table(TableName=name)["Table"]
    ddb.put_item(TableName=name, Item={"pk": {"S": "while-off"}})
    closed = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert closed["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in closed["Shards"][0]["SequenceNumberRange"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, arn)] == ["before"]

    again = ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    new_arn = again["TableDescription"]["LatestStreamArn"]
    assert new_arn != arn
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, new_arn)] == ["after"]
    assert [s["StreamArn"] for s in streams.list_streams(TableName=name)["Streams"]] == [new_arn, arn]

    with pytest.raises(streams.exceptions.ResourceNotFoundException):
        streams.describe_stream(StreamArn=arn + "x")
    with pytest.raises(Exception) as bad_iterator:
        streams.get_records(ShardIterator="not-an-iterator")
    assert "Invalid ShardIterator" in str(bad_iterator.value)


def test_time_to_live_expiry_shows_in_the_stream(ddb, streams):
    name, arn = make_table(ddb, "NEW_AND_OLD_IMAGES")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    now = int(time.time())
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}, "expires": {"N": str(now - 10)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "future"}, "expires": {"N": str(now + 3600)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "text"}, "expires": {"S": str(now - 10)}})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "old"}}):
        time.sleep(0.5)
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "old"}}), "the expired item was not removed"
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "future"}})
    assert "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "text"}}), "only numbers expire"
    removes = [r for r in read_all(streams, arn) if r["eventName"] == "REMOVE"]
    assert len(removes) == 1
    assert removes[0]["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert removes[0]["dynamodb"]["OldImage"]["pk"] == {"S": "old"}
    assert "NewImage" not in removes[0]["dynamodb"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_after_put_item_keeps_the_item_and_its_record(server_factory, backend):
    with contextlib.ExitStack() as stack:
        env = {}
        if backend == "postgres":
            env["SLUICE_STORE_URL"] = stack.enter_context(postgres_database())
        srv = server_factory(env=env, name=f"kill9-{backend}")
        check_kill_9(srv)
        srv.stop()


def check_kill_9(srv):
    ddb = srv.client("dynamodb")
    name, arn = make_table(ddb, "NEW_IMAGE")
    for i in range(20):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
    srv.process.kill()
    srv.process.wait()
    srv._reap()
    srv.process = None
    srv.start()
    ddb = srv.client("dynamodb")
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "k19"}}, ConsistentRead=True)["Item"]["n"] == {"N": "19"}
    assert ddb.scan(TableName=name, Select="COUNT")["Count"] == 20
    records = read_all(srv.client("dynamodbstreams"), arn)
    assert sorted(r["dynamodb"]["NewImage"]["pk"]["S"] for r in records) == sorted(f"k{i}" for i in range(20))
