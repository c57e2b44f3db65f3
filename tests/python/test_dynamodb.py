"""DynamoDB conformance through boto3 (client and resource APIs) on a real
server, once on SQLite and once on PostgreSQL (fixture `tables_server`):
tables, every type, conditions, updates, Query and Scan pages beyond 1 MB,
indexes, batches, transactions and their errors in DynamoDB's words."""
import base64
import decimal
import uuid

import boto3
import botocore.exceptions
import pytest
from boto3.dynamodb.conditions import Attr, Key


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ddb(tables_server):
    return tables_server.client("dynamodb")


@pytest.fixture
def resource(tables_server):
    return boto3.session.Session().resource(
        "dynamodb",
        endpoint_url=tables_server.endpoint,
        region_name=tables_server.region,
        aws_access_key_id=tables_server.access_key_id,
        aws_secret_access_key=tables_server.secret_access_key,
    )


def make_table(ddb, name=None, range_key=None, range_type="S", **extra):
    name = name or unique("t")
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attributes.append({"AttributeName": range_key, "AttributeType": range_type})
        keys.append({"AttributeName": range_key, "KeyType": "RANGE"})
    attributes += extra.pop("extra_attributes", [])
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=attributes,
        KeySchema=keys,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    return name


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


def test_tables_are_created_described_listed_and_deleted(ddb, tables_server):
    name = unique("tables")
    created = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            }
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        Tags=[{"Key": "team", "Value": "cc"}],
    )["TableDescription"]
    assert created["TableStatus"] == "CREATING"
    assert created["TableArn"] == f"arn:aws:dynamodb:{tables_server.region}:{tables_server.account_id}:table/{name}"
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert table["ItemCount"] == 0
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "by-g"
    assert table["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    assert table["GlobalSecondaryIndexes"][0]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"] == [{"Key": "team", "Value": "cc"}]

    again = error_of(ddb.create_table, TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    assert again["Error"]["Code"] == "ResourceInUseException"
    assert again["Error"]["Message"] == f"Table already exists: {name}"

    bad = error_of(ddb.create_table, TableName=unique("bad"), AttributeDefinitions=[{"AttributeName": "x", "AttributeType": "S"}],
                   KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    assert bad["Error"]["Code"] == "ValidationException"
    assert "Some index key attributes are not defined in AttributeDefinitions" in bad["Error"]["Message"]

    # Paginated listing: Limit and LastEvaluatedTableName.
    names = [make_table(ddb, name=f"{name}-{i}") for i in range(3)]
    first = ddb.list_tables(ExclusiveStartTableName=name, Limit=2)
    assert first["TableNames"] == names[:2]
    assert first["LastEvaluatedTableName"] == names[1]
    rest = ddb.list_tables(ExclusiveStartTableName=names[1], Limit=100)
    assert rest["TableNames"][0] == names[2]
    listed = [n for page in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2}) for n in page["TableNames"]]
    assert set(names + [name]) <= set(listed)

    deleted = ddb.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    missing = error_of(ddb.describe_table, TableName=name)
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    assert missing["Error"]["Message"] == f"Requested resource not found: Table: {name} not found"
    assert error_of(ddb.get_item, TableName=name, Key={"pk": {"S": "x"}})["Error"]["Code"] == "ResourceNotFoundException"


def test_every_type_round_trips_exactly(ddb, resource):
    name = make_table(ddb)
    item = {
        "pk": {"S": "types"},
        "s": {"S": "héllo"},
        "n": {"N": "12345678901234567890123456789012345678"},
        "small": {"N": "-0.000000000000000000000000000000000000001"},
        "b": {"B": b"\x00\xffbytes"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"x", b"y"]},
        "m": {"M": {"inner": {"L": [{"S": "x"}, {"N": "1"}, {"NULL": True}, {"BOOL": False}]}}},
        "null": {"NULL": True},
        "bool": {"BOOL": True},
    }
    ddb.put_item(TableName=name, Item=item)
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "types"}}, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "12345678901234567890123456789012345678"}
    assert got["small"] == {"N": "-0.000000000000000000000000000000000000001"}
    assert got["b"] == {"B": b"\x00\xffbytes"}
    assert sorted(got["ss"]["SS"]) == ["a", "b"]
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert got["m"] == item["m"]
    assert got["null"] == {"NULL": True} and got["bool"] == {"BOOL": True}
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "nothing"}})

    table = resource.Table(name)
    table.put_item(Item={"pk": "dec", "price": decimal.Decimal("0.1"), "tags": {"x", "y"}})
    table.update_item(Key={"pk": "dec"}, UpdateExpression="SET price = price + :p", ExpressionAttributeValues={":p": decimal.Decimal("0.2")})
    assert table.get_item(Key={"pk": "dec"})["Item"]["price"] == decimal.Decimal("0.3")

    for bad_item, message in [
        ({"pk": {"S": "x"}, "n": {"N": "1e126"}}, "Number overflow"),
        ({"pk": {"S": "x"}, "ss": {"SS": []}}, "may not be empty"),
        ({"pk": {"S": "x"}, "ss": {"SS": ["a", "a"]}}, "contains duplicates"),
        ({"pk": {"S": ""}}, "cannot contain an empty string value"),
        ({"pk": {"N": "1"}}, "Type mismatch for key pk expected: S actual: N"),
        ({"other": {"S": "x"}}, "Missing the key pk in the item"),
        ({"pk": {"S": "big"}, "blob": {"B": b"x" * (400 * 1024)}}, "Item size has exceeded the maximum allowed size"),
    ]:
        error = error_of(ddb.put_item, TableName=name, Item=bad_item)
        assert error["Error"]["Code"] == "ValidationException", bad_item
        assert message in error["Error"]["Message"], (message, error["Error"]["Message"])


def test_conditions_and_return_values(ddb):
    name = make_table(ddb)
    key = {"pk": {"S": "c1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)")
    failed = error_of(ddb.put_item, TableName=name, Item={**key, "v": {"N": "2"}}, ConditionExpression="attribute_not_exists(pk)",
                      ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert failed["Error"]["Code"] == "ConditionalCheckFailedException"
    assert failed["Error"]["Message"] == "The conditional request failed"
    assert failed["Item"] == {**key, "v": {"N": "1"}}

    old = ddb.put_item(TableName=name, Item={**key, "v": {"N": "2"}, "state": {"S": "open"}},
                       ConditionExpression="v = :one", ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"] == {**key, "v": {"N": "1"}}
    assert error_of(ddb.put_item, TableName=name, Item=key, ReturnValues="ALL_NEW")["Error"]["Message"] == "Return values set to invalid value"

    # Conditions of every kind.
    for expression, values, names, expected in [
        ("v BETWEEN :a AND :b", {":a": {"N": "1"}, ":b": {"N": "3"}}, None, True),
        ("v IN (:a, :b)", {":a": {"N": "5"}, ":b": {"N": "6"}}, None, False),
        ("begins_with(#s, :p)", {":p": {"S": "op"}}, {"#s": "state"}, True),
        ("contains(#s, :p) AND size(#s) = :four", {":p": {"S": "pe"}, ":four": {"N": "4"}}, {"#s": "state"}, True),
        ("attribute_type(v, :t)", {":t": {"S": "S"}}, None, False),
        ("NOT attribute_exists(nothere) OR v < :z", {":z": {"N": "0"}}, None, True),
        ("v <> :two", {":two": {"N": "2"}}, None, False),
    ]:
        kwargs = {"ExpressionAttributeValues": values}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        try:
            ddb.put_item(TableName=name, Item={**key, "v": {"N": "2"}, "state": {"S": "open"}}, ConditionExpression=expression, **kwargs)
            outcome = True
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "ConditionalCheckFailedException", (expression, e.response)
            outcome = False
        assert outcome == expected, expression

    unused = error_of(ddb.put_item, TableName=name, Item=key, ConditionExpression="attribute_exists(pk)",
                      ExpressionAttributeValues={":never": {"S": "x"}})
    assert unused["Error"]["Message"] == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:never}"
    reserved = error_of(ddb.put_item, TableName=name, Item=key, ConditionExpression="attribute_exists(status)")
    assert "Attribute name is a reserved keyword; reserved keyword: status" in reserved["Error"]["Message"]
    syntax = error_of(ddb.put_item, TableName=name, Item=key, ConditionExpression="v = = 1")
    assert syntax["Error"]["Message"].startswith("Invalid ConditionExpression: Syntax error")

    deleted = ddb.delete_item(TableName=name, Key=key, ConditionExpression="attribute_exists(pk)", ReturnValues="ALL_OLD")
    assert deleted["Attributes"]["v"] == {"N": "2"}
    gone = error_of(ddb.delete_item, TableName=name, Key=key, ConditionExpression="attribute_exists(pk)")
    assert gone["Error"]["Code"] == "ConditionalCheckFailedException"
    assert error_of(ddb.get_item, TableName=name, Key={"pk": {"S": "x"}, "extra": {"S": "y"}})["Error"]["Message"] == \
        "The provided key element does not match the schema"


def test_update_expressions(ddb, resource):
    name = make_table(ddb)
    key = {"pk": {"S": "u1"}}
    created = ddb.update_item(
        TableName=name, Key=key,
        UpdateExpression="SET #c = if_not_exists(#c, :zero) + :one, tags = :tags, entries = :list, info = :map",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}, ":tags": {"SS": ["a", "b"]},
                                   ":list": {"L": [{"S": "x"}]}, ":map": {"M": {"a": {"N": "1"}}}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert created["count"] == {"N": "1"} and created["pk"] == key["pk"]

    updated = ddb.update_item(
        TableName=name, Key=key,
        UpdateExpression="SET entries = list_append(entries, :more), info.b = :two ADD #c :five, tags :c REMOVE info.a",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":more": {"L": [{"S": "y"}]}, ":two": {"N": "2"}, ":five": {"N": "5"},
                                   ":c": {"SS": ["c"]}},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert updated["entries"] == {"L": [{"S": "x"}, {"S": "y"}]}
    assert updated["count"] == {"N": "6"}
    assert sorted(updated["tags"]["SS"]) == ["a", "b", "c"]
    assert updated["info"] == {"M": {"b": {"N": "2"}}}

    old = ddb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE entries[0] SET #c = #c - :one DELETE tags :a",
                          ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues={":one": {"N": "1"}, ":a": {"SS": ["a"]}},
                          ReturnValues="UPDATED_OLD")["Attributes"]
    assert old["count"] == {"N": "6"}
    assert sorted(old["tags"]["SS"]) == ["a", "b", "c"]
    item = ddb.get_item(TableName=name, Key=key)["Item"]
    assert item["entries"] == {"L": [{"S": "y"}]} and item["count"] == {"N": "5"}

    # DELETE that empties a set removes the attribute.
    ddb.update_item(TableName=name, Key=key, UpdateExpression="DELETE tags :all", ExpressionAttributeValues={":all": {"SS": ["b", "c"]}})
    assert "tags" not in ddb.get_item(TableName=name, Key=key)["Item"]

    for expression, values, message in [
        ("SET pk = :v", {":v": {"S": "x"}}, "Cannot update attribute pk. This attribute is part of the key"),
        ("SET a = :v SET b = :v", {":v": {"S": "x"}}, 'The "SET" section can only be used once'),
        ("SET a = :v REMOVE a", {":v": {"S": "x"}}, "Two document paths overlap with each other"),
        ("ADD info :v", {":v": {"N": "1"}}, "An operand in the update expression has an incorrect data type"),
        ("SET nothere.deep = :v", {":v": {"N": "1"}}, "The document path provided in the update expression is invalid for update"),
    ]:
        error = error_of(ddb.update_item, TableName=name, Key=key, UpdateExpression=expression, ExpressionAttributeValues=values)
        assert error["Error"]["Code"] == "ValidationException", expression
        assert message in error["Error"]["Message"], (expression, error["Error"]["Message"])

    # Conditional update through the resource API, with boto3's condition builders.
    table = resource.Table(name)
    table.update_item(Key={"pk": "u1"}, UpdateExpression="SET #s = :s", ConditionExpression=Attr("count").gt(4),
                      ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":s": "done"})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        table.update_item(Key={"pk": "u1"}, UpdateExpression="SET #s = :s", ConditionExpression=Attr("count").lt(0),
                          ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":s": "again"})
    assert info.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert table.get_item(Key={"pk": "u1"}, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "state"})["Item"] == {"state": "done"}


def test_query_and_scan_pages_beyond_one_megabyte(ddb, resource):
    name = make_table(ddb, range_key="sk", range_type="N")
    table = resource.Table(name)
    blob = "x" * 100_000
    with table.batch_writer() as batch:
        for i in range(30):
            batch.put_item(Item={"pk": "big", "sk": i, "blob": blob, "odd": i % 2 == 1})
        for i in range(5):
            batch.put_item(Item={"pk": "other", "sk": i, "blob": "small", "odd": False})

    first = ddb.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "big"}})
    assert 0 < first["Count"] < 30, "a page stops at 1 MB"
    assert first["Count"] * 100_000 >= 1_000_000
    assert first["LastEvaluatedKey"] == {"pk": {"S": "big"}, "sk": {"N": str(first["Count"] - 1)}}
    pages = list(ddb.get_paginator("query").paginate(TableName=name, KeyConditionExpression="pk = :p",
                                                      ExpressionAttributeValues={":p": {"S": "big"}}))
    assert len(pages) >= 3
    keys = [int(item["sk"]["N"]) for page in pages for item in page["Items"]]
    assert keys == list(range(30))

    backwards = table.query(KeyConditionExpression=Key("pk").eq("big") & Key("sk").between(3, 6), ScanIndexForward=False,
                            ProjectionExpression="sk")
    assert [int(i["sk"]) for i in backwards["Items"]] == [6, 5, 4, 3]
    filtered = table.query(KeyConditionExpression=Key("pk").eq("big") & Key("sk").lt(10), FilterExpression=Attr("odd").eq(True),
                           Limit=4, ProjectionExpression="sk")
    assert filtered["ScannedCount"] == 4 and filtered["Count"] == 2
    assert [int(i["sk"]) for i in filtered["Items"]] == [1, 3]
    assert filtered["LastEvaluatedKey"] == {"pk": "big", "sk": 3}
    counted = ddb.query(TableName=name, KeyConditionExpression="pk = :p AND sk >= :s", Select="COUNT",
                        ExpressionAttributeValues={":p": {"S": "other"}, ":s": {"N": "2"}})
    assert counted["Count"] == 3 and "Items" not in counted

    scanned = [item for page in ddb.get_paginator("scan").paginate(TableName=name, ProjectionExpression="pk, sk") for item in page["Items"]]
    assert len(scanned) == 35
    segments = []
    for segment in range(3):
        for page in ddb.get_paginator("scan").paginate(TableName=name, Segment=segment, TotalSegments=3, ProjectionExpression="pk, sk"):
            segments += [(i["pk"]["S"], i["sk"]["N"]) for i in page["Items"]]
    assert sorted(segments) == sorted((i["pk"]["S"], i["sk"]["N"]) for i in scanned)
    assert len(set(segments)) == 35
    out_of_bounds = error_of(ddb.scan, TableName=name, Segment=3, TotalSegments=3)
    assert "Segment: 3 is out of bounds; TotalSegments: 3" in out_of_bounds["Error"]["Message"]

    missing_hash = error_of(ddb.query, TableName=name, KeyConditionExpression="sk = :s", ExpressionAttributeValues={":s": {"N": "1"}})
    assert missing_hash["Error"]["Code"] == "ValidationException"
    assert "Query condition missed key schema element" in missing_hash["Error"]["Message"]
    wrong_type = error_of(ddb.query, TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"N": "1"}})
    assert "Condition parameter type does not match schema type" in wrong_type["Error"]["Message"]


def test_secondary_indexes(ddb, resource):
    name = make_table(
        ddb, range_key="sk",
        extra_attributes=[{"AttributeName": "region", "AttributeType": "S"}, {"AttributeName": "day", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "by-region", "KeySchema": [{"AttributeName": "region", "KeyType": "HASH"},
                                                                          {"AttributeName": "day", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["label"]}}],
        LocalSecondaryIndexes=[{"IndexName": "by-day", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                      {"AttributeName": "day", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )
    table = resource.Table(name)
    for i, (region, day) in enumerate([("emea", "2026-12-24"), ("emea", "2026-12-25"), ("amer", "2026-12-25"), (None, None)]):
        item = {"pk": "cc", "sk": f"h{i}", "label": f"holiday {i}", "secret": "not projected"}
        if region:
            item.update(region=region, day=day)
        table.put_item(Item=item)

    emea = table.query(IndexName="by-region", KeyConditionExpression=Key("region").eq("emea"))
    assert [i["day"] for i in emea["Items"]] == ["2026-12-24", "2026-12-25"]
    assert all("secret" not in i and i["label"].startswith("holiday") for i in emea["Items"])
    paged = table.query(IndexName="by-region", KeyConditionExpression=Key("region").eq("emea"), Limit=1)
    assert paged["LastEvaluatedKey"] == {"region": "emea", "day": "2026-12-24", "pk": "cc", "sk": "h0"}
    rest = table.query(IndexName="by-region", KeyConditionExpression=Key("region").eq("emea"), ExclusiveStartKey=paged["LastEvaluatedKey"])
    assert [i["sk"] for i in rest["Items"]] == ["h1"]
    all_attributes = error_of(ddb.query, TableName=name, IndexName="by-region", Select="ALL_ATTRIBUTES",
                              KeyConditionExpression="#r = :r", ExpressionAttributeNames={"#r": "region"},
                              ExpressionAttributeValues={":r": {"S": "emea"}})
    assert "Select type ALL_ATTRIBUTES is not supported for global secondary index by-region" in all_attributes["Error"]["Message"]
    consistent = error_of(ddb.query, TableName=name, IndexName="by-region", ConsistentRead=True, KeyConditionExpression="#r = :r",
                          ExpressionAttributeNames={"#r": "region"}, ExpressionAttributeValues={":r": {"S": "emea"}})
    assert consistent["Error"]["Message"] == "Consistent reads are not supported on global secondary indexes"
    # The local index reads the table's item for what it does not hold.
    local = table.query(IndexName="by-day", KeyConditionExpression=Key("pk").eq("cc") & Key("day").begins_with("2026-12-25"),
                        Select="ALL_ATTRIBUTES")
    assert sorted(i["sk"] for i in local["Items"]) == ["h1", "h2"]
    assert all(i["secret"] == "not projected" for i in local["Items"])
    assert table.scan(IndexName="by-region")["Count"] == 3, "items without the index key are not in the index"

    # An index added later holds the items written before it.
    ddb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "label", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by-label", "KeySchema": [{"AttributeName": "label", "KeyType": "HASH"}],
                                                 "Projection": {"ProjectionType": "ALL"}}}],
    )
    by_label = table.query(IndexName="by-label", KeyConditionExpression=Key("label").eq("holiday 3"))
    assert [i["sk"] for i in by_label["Items"]] == ["h3"] and by_label["Items"][0]["secret"] == "not projected"
    ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-label"}}])
    gone = error_of(ddb.query, TableName=name, IndexName="by-label", KeyConditionExpression="label = :l",
                    ExpressionAttributeValues={":l": {"S": "holiday 3"}})
    assert gone["Error"]["Message"] == "The table does not have the specified index: by-label"


def test_batches(ddb, resource):
    name = make_table(ddb)
    other = make_table(ddb)
    requests = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "n": {"N": str(i)}}}} for i in range(25)]
    assert ddb.batch_write_item(RequestItems={name: requests})["UnprocessedItems"] == {}
    too_many = error_of(ddb.batch_write_item, RequestItems={name: requests[:20], other: requests[:6]})
    assert too_many["Error"]["Code"] == "ValidationException"
    duplicate = error_of(ddb.batch_write_item, RequestItems={name: [requests[0], requests[0]]})
    assert duplicate["Error"]["Message"] == "Provided list of item keys contains duplicates"

    keys = [{"pk": {"S": f"k{i}"}} for i in range(25)] + [{"pk": {"S": "absent"}}]
    got = ddb.batch_get_item(RequestItems={name: {"Keys": keys, "ProjectionExpression": "n"}})
    assert sorted(int(i["n"]["N"]) for i in got["Responses"][name]) == list(range(25))
    assert got["UnprocessedKeys"] == {}
    assert error_of(ddb.batch_get_item, RequestItems={name: {"Keys": [keys[0], keys[0]]}})["Error"]["Message"] == \
        "Provided list of item keys contains duplicates"
    assert error_of(ddb.batch_get_item, RequestItems={name: {"Keys": [{"pk": {"S": f"x{i}"}} for i in range(101)]}})["Error"]["Code"] == \
        "ValidationException"

    deletes = [{"DeleteRequest": {"Key": {"pk": {"S": f"k{i}"}}}} for i in range(10)]
    ddb.batch_write_item(RequestItems={name: deletes, other: requests[:3]})
    assert ddb.scan(TableName=name, Select="COUNT")["Count"] == 15
    assert ddb.scan(TableName=other, Select="COUNT")["Count"] == 3

    # The resource API's batch writer sends batches of 25 and resends what is unprocessed.
    table = resource.Table(other)
    with table.batch_writer() as batch:
        for i in range(60):
            batch.put_item(Item={"pk": f"w{i}"})
    assert table.scan(Select="COUNT")["Count"] == 63
    assert ddb.describe_table(TableName=other)["Table"]["ItemCount"] == 63


def test_transactions(ddb):
    accounts = make_table(ddb)
    audit = make_table(ddb)
    ddb.put_item(TableName=accounts, Item={"pk": {"S": "alice"}, "balance": {"N": "100"}})
    ddb.put_item(TableName=accounts, Item={"pk": {"S": "bob"}, "balance": {"N": "0"}})

    def transfer(amount: str, audit_id: str):
        return ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": accounts, "Key": {"pk": {"S": "alice"}}, "UpdateExpression": "SET balance = balance - :a",
                        "ConditionExpression": "balance >= :a", "ExpressionAttributeValues": {":a": {"N": amount}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Update": {"TableName": accounts, "Key": {"pk": {"S": "bob"}}, "UpdateExpression": "SET balance = balance + :a",
                        "ExpressionAttributeValues": {":a": {"N": amount}}}},
            {"Put": {"TableName": audit, "Item": {"pk": {"S": audit_id}, "amount": {"N": amount}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    transfer("30", "t1")
    balances = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": accounts, "Key": {"pk": {"S": "alice"}}}},
        {"Get": {"TableName": accounts, "Key": {"pk": {"S": "bob"}}, "ProjectionExpression": "balance"}},
        {"Get": {"TableName": audit, "Key": {"pk": {"S": "none"}}}},
    ])["Responses"]
    assert balances[0]["Item"]["balance"] == {"N": "70"}
    assert balances[1]["Item"] == {"balance": {"N": "30"}}
    assert balances[2] == {}

    with pytest.raises(botocore.exceptions.ClientError) as info:
        transfer("500", "t1")
    error = info.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert "ConditionalCheckFailed, None, ConditionalCheckFailed" in error["Error"]["Message"]
    reasons = error["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None", "ConditionalCheckFailed"]
    assert reasons[0]["Item"]["balance"] == {"N": "70"}
    assert "Item" not in reasons[2]
    # Nothing of the cancelled transaction landed.
    assert ddb.get_item(TableName=accounts, Key={"pk": {"S": "bob"}})["Item"]["balance"] == {"N": "30"}

    same_item = error_of(ddb.transact_write_items, TransactItems=[
        {"ConditionCheck": {"TableName": accounts, "Key": {"pk": {"S": "bob"}}, "ConditionExpression": "attribute_exists(pk)"}},
        {"Delete": {"TableName": accounts, "Key": {"pk": {"S": "bob"}}}},
    ])
    assert same_item["Error"]["Message"] == "Transaction request cannot include multiple operations on one item"
    ddb.transact_write_items(TransactItems=[
        {"ConditionCheck": {"TableName": accounts, "Key": {"pk": {"S": "alice"}}, "ConditionExpression": "balance = :b",
                            "ExpressionAttributeValues": {":b": {"N": "70"}}}},
        {"Delete": {"TableName": accounts, "Key": {"pk": {"S": "bob"}}}},
    ])
    assert "Item" not in ddb.get_item(TableName=accounts, Key={"pk": {"S": "bob"}})


def test_tags_time_to_live_settings_and_deletion_protection(ddb):
    name = make_table(ddb, DeletionProtectionEnabled=True)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]

    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    spec = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    assert spec["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    again = error_of(ddb.update_time_to_live, TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    assert again["Error"]["Message"] == "TimeToLive is already enabled"

    protected = error_of(ddb.delete_table, TableName=name)
    assert protected["Error"]["Code"] == "ValidationException"
    assert "protected against deletion" in protected["Error"]["Message"]
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=name)


def test_binary_keys_sort_as_bytes(ddb):
    name = make_table(ddb, range_key="bk", range_type="B")
    for raw in [b"\x00", b"\x7f", b"\x80", b"\xff", b"\x00\x01"]:
        ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "bk": {"B": raw}})
    got = ddb.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "b"}})["Items"]
    assert [i["bk"]["B"] for i in got] == [b"\x00", b"\x00\x01", b"\x7f", b"\x80", b"\xff"]
    # base64 on the wire, as botocore decodes it
    assert base64.b64encode(got[0]["bk"]["B"]) == b"AA=="


def test_numbers_sort_by_value(ddb):
    name = make_table(ddb, range_key="n", range_type="N")
    for n in ["-10", "-1.5", "0", "0.001", "2", "10", "1e20"]:
        ddb.put_item(TableName=name, Item={"pk": {"S": "n"}, "n": {"N": n}})
    got = ddb.query(TableName=name, KeyConditionExpression="pk = :p AND n > :z",
                    ExpressionAttributeValues={":p": {"S": "n"}, ":z": {"N": "-2"}})["Items"]
    assert [i["n"]["N"] for i in got] == ["-1.5", "0", "0.001", "2", "10", "100000000000000000000"]


def test_consumed_capacity_is_reported_when_asked(ddb):
    name = make_table(ddb)
    big = "x" * 5000  # 5 KB: 5 write units, 2 read blocks
    put = ddb.put_item(TableName=name, Item={"pk": {"S": "c"}, "v": {"S": big}}, ReturnConsumedCapacity="TOTAL")
    assert put["ConsumedCapacity"]["TableName"] == name
    assert put["ConsumedCapacity"]["CapacityUnits"] == 5.0
    assert "ConsumedCapacity" not in ddb.put_item(TableName=name, Item={"pk": {"S": "d"}})
    eventual = ddb.get_item(TableName=name, Key={"pk": {"S": "c"}}, ReturnConsumedCapacity="TOTAL")
    assert eventual["ConsumedCapacity"]["CapacityUnits"] == 1.0
    strong = ddb.get_item(TableName=name, Key={"pk": {"S": "c"}}, ConsistentRead=True, ReturnConsumedCapacity="INDEXES")
    assert strong["ConsumedCapacity"]["CapacityUnits"] == 2.0
    assert strong["ConsumedCapacity"]["Table"]["CapacityUnits"] == 2.0
    scan = ddb.scan(TableName=name, ReturnConsumedCapacity="TOTAL")
    assert scan["ConsumedCapacity"]["CapacityUnits"] == 1.0
    batch = ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": f"b{i}"}}}} for i in range(3)]},
                                 ReturnConsumedCapacity="TOTAL")
    assert batch["ConsumedCapacity"] == [{"TableName": name, "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0}]
    transaction = ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": {"pk": {"S": "t"}}}}], ReturnConsumedCapacity="TOTAL")
    assert transaction["ConsumedCapacity"][0]["CapacityUnits"] == 2.0
