"""boto3 `sqs` conformance (JSON protocol): queues, messages, visibility, long
polling, batches, redrive, purge and tags against the real server."""
import hashlib
import json
import struct
import threading
import time

import botocore.exceptions
import pytest


@pytest.fixture(scope="module")
def queue_server(module_server_factory):
    return module_server_factory(name="sqs")


@pytest.fixture
def sqs(queue_server):
    return queue_server.client("sqs")


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]


def attributes_md5(attributes: dict) -> str:
    """MD5OfMessageAttributes as the SQS documentation defines it."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        for part in (name.encode(), value["DataType"].encode()):
            digest.update(struct.pack("!I", len(part)) + part)
        if "BinaryValue" in value:
            data = value["BinaryValue"]
            digest.update(b"\x02" + struct.pack("!I", len(data)) + data)
        else:
            data = value["StringValue"].encode()
            digest.update(b"\x01" + struct.pack("!I", len(data)) + data)
    return digest.hexdigest()


def test_queues_are_created_once_found_listed_and_deleted(sqs, queue_server):
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert url == f"{queue_server.endpoint}/{queue_server.account_id}/orders"
    assert sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    conflict = error_of(sqs.create_queue, QueueName="orders", Attributes={"VisibilityTimeout": "10"})
    assert conflict["Code"] == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
    missing = error_of(sqs.get_queue_url, QueueName="nope")
    assert missing["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="nope")
    assert error_of(sqs.create_queue, QueueName="bad.name")["Code"] == "InvalidParameterValue"
    assert error_of(sqs.create_queue, QueueName="x", Attributes={"Bogus": "1"})["Code"] == "InvalidAttributeName"
    assert error_of(sqs.create_queue, QueueName="x", Attributes={"DelaySeconds": "901"})["Code"] == \
        "InvalidAttributeValue"
    assert error_of(sqs.create_queue, QueueName="events.fifo", Attributes={"FifoQueue": "true"})["Code"] in \
        ("InvalidParameterValue", "InvalidAttributeName")
    for name in ("orders-eu", "payments"):
        sqs.create_queue(QueueName=name)
    assert sorted(sqs.list_queues(QueueNamePrefix="orders")["QueueUrls"]) == [url, url + "-eu"]
    first = sqs.list_queues(MaxResults=1)
    assert len(first["QueueUrls"]) == 1 and first["NextToken"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45" and attributes["QueueArn"].endswith(":orders")
    assert attributes["ApproximateNumberOfMessages"] == "0"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "600"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"] == \
        {"MessageRetentionPeriod": "600"}
    sqs.delete_queue(QueueUrl=url + "-eu")
    assert error_of(sqs.get_queue_attributes, QueueUrl=url + "-eu", AttributeNames=["All"])["Code"] == \
        "AWS.SimpleQueueService.NonExistentQueue"


def test_messages_are_hidden_while_received_and_gone_once_deleted(sqs):
    url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    attributes = {"kind": {"DataType": "String", "StringValue": "order"},
                  "count": {"DataType": "Number", "StringValue": "3"},
                  "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello ✓", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5("hello ✓".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])["Messages"]
    assert len(got) == 1 and got[0]["Body"] == "hello ✓" and got[0]["MessageId"] == sent["MessageId"]
    assert got[0]["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\x02"
    assert got[0]["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url), "hidden while in flight"
    time.sleep(1.2)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"} and "MessageAttributes" not in again
    # The first receipt handle is stale: deleting with it does not delete.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    time.sleep(1.2)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert error_of(sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage")["Code"] == "ReceiptHandleIsInvalid"
    assert error_of(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)["Code"] == "InvalidParameterValue"
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="bad \x01")["Code"] == "InvalidMessageContents"
    assert error_of(sqs.send_message, QueueUrl=url, MessageBody="x" * 262_145)["Code"] == "InvalidParameterValue"


def test_delayed_messages_and_long_polling(sqs):
    url = sqs.create_queue(QueueName="slow")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert counts["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    started = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert got[0]["Body"] == "later" and time.monotonic() - started < 4
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])

    def send_soon():
        time.sleep(0.5)
        sqs.send_message(QueueUrl=url, MessageBody="woken")
    threading.Thread(target=send_soon).start()
    started = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    waited = time.monotonic() - started
    assert got[0]["Body"] == "woken" and 0.4 < waited < 3, waited
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert 0.9 < time.monotonic() - started < 3


def test_batches_report_each_entry(sqs):
    url = sqs.create_queue(QueueName="batch")["QueueUrl"]
    sent = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"},
        {"Id": "c", "MessageBody": "bad \x02"}])
    assert [e["Id"] for e in sent["Successful"]] == ["a", "b"]
    assert sent["Failed"][0]["Id"] == "c" and sent["Failed"][0]["SenderFault"] is True
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[])["Code"] in (
        "AWS.SimpleQueueService.EmptyBatchRequest", "ValidationException", "InvalidParameterValue")
    eleven = [{"Id": f"m{i}", "MessageBody": "x"} for i in range(11)]
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=eleven)["Code"] == \
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    twice = [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}]
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=twice)["Code"] == \
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    assert error_of(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "bad id!", "MessageBody": "x"}])["Code"] == \
        "AWS.SimpleQueueService.InvalidBatchEntryId"
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 60}])
    assert [e["Id"] for e in changed["Successful"]] == ["a"]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)] +
        [{"Id": "broken", "ReceiptHandle": "not-a-handle"}])
    assert len(deleted["Successful"]) == 2 and deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_messages_received_too_often_move_to_the_dead_letter_queue(sqs):
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="jobs", Attributes={
        "VisibilityTimeout": "0", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})[
        "QueueUrl"]
    assert error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})["Code"] == "InvalidAttributeValue"
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for expected in ("1", "2"):
        got = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
        assert got["Attributes"]["ApproximateReceiveCount"] == expected
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    dead = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]


def test_purge_and_tags(sqs):
    url = sqs.create_queue(QueueName="tagged", tags={"team": "a"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "test"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(5)])
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
