"""Event delivery against the real server: API destinations with retries, dead
targets and their dead-letter queues, redrive, a SIGKILL during delivery, queue
and bus targets, AppFlow run reports starting a second flow, and the
outbound-address guard at delivery time."""
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import REGION, finished_run


class Receiver:
    """An HTTP endpoint that records requests and answers as told: the first
    `fail_first` requests get `fail_status`, later ones 200 (or `status`)."""

    def __init__(self):
        self.requests = []
        self.fail_first = 0
        self.fail_status = 503
        self.status = 200
        self.delay = 0.0
        self.retry_after = None  # sent with the failing answers
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "at": time.monotonic()})
                    failing = len(receiver.requests) <= receiver.fail_first
                    status = receiver.fail_status if failing else receiver.status
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                if failing and receiver.retry_after is not None:
                    self.send_header("retry-after", str(receiver.retry_after))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def wait_for(self, count, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"{len(self.requests)} requests after {timeout} s, wanted {count}")

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def open_server(server_factory):
    """A server whose API destinations may call loopback (the test receiver)."""
    return server_factory(env={"SLUICE_ALLOW_PRIVATE_ENDPOINTS": "true"}, name="bus")


def api_destination(events, name, url, rate=300):
    connection = events.create_connection(Name=name, AuthorizationType="API_KEY", AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": f"{name}-secret"},
        "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-tenant", "Value": "acme"}]}})
    return events.create_api_destination(Name=name, ConnectionArn=connection["ConnectionArn"],
                                         InvocationEndpoint=url, HttpMethod="POST",
                                         InvocationRateLimitPerSecond=rate)["ApiDestinationArn"]


def queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive_all(sqs, url, count, timeout=30.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           MessageAttributeNames=["All"]).get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) >= count, f"{len(got)} messages in {timeout} s, wanted {count}"
    return got


def test_an_api_destination_that_fails_three_times_gets_the_event_exactly_once_more(open_server, receiver):
    events = open_server.client("events")
    target = api_destination(events, "flaky", receiver.url("/orders/*"))
    receiver.fail_first = 3
    events.put_rule(Name="to-flaky", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="to-flaky", Targets=[{
        "Id": "hook", "Arn": target, "HttpParameters": {"PathParameterValues": ["eu"], "QueryStringParameters": {"v": "2"}},
        "InputTransformer": {"InputPathsMap": {"id": "$.detail.id", "event": "$.id"},
                             "InputTemplate": '{"order": <id>, "event": "<event>", "rule": "<aws.events.rule-name>"}'}}])
    event_id = events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": '{"id": 42}'}])[
        "Entries"][0]["EventId"]
    requests = receiver.wait_for(4, timeout=30)
    time.sleep(3)
    assert len(receiver.requests) == 4, "delivered more than once after the success"
    assert [json.loads(r["body"]) for r in requests] == [{"order": 42, "event": event_id, "rule": "to-flaky"}] * 4
    last = requests[-1]
    assert last["path"] == "/orders/eu?v=2"
    assert last["headers"]["x-api-key"] == "flaky-secret" and last["headers"]["x-tenant"] == "acme"
    assert last["headers"]["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert last["headers"]["content-type"] == "application/json; charset=utf-8"
    assert "flaky-secret" not in open_server.log_text()


def test_retry_after_is_honoured_and_a_negative_one_stops_retries(open_server, receiver):
    events, sqs = open_server.client("events"), open_server.client("sqs")
    dlq_url, dlq_arn = queue(sqs, "throttled-dlq")
    target = api_destination(events, "throttled", receiver.url())
    receiver.fail_first, receiver.fail_status, receiver.retry_after = 1, 429, 3
    events.put_rule(Name="to-throttled", EventPattern=json.dumps({"source": ["slow-down"]}))
    events.put_targets(Rule="to-throttled", Targets=[{"Id": "hook", "Arn": target, "DeadLetterConfig": {"Arn": dlq_arn}}])
    events.put_events(Entries=[{"Source": "slow-down", "DetailType": "d", "Detail": "{}"}])
    first, second = receiver.wait_for(2, timeout=20)
    assert second["at"] - first["at"] >= 2.9, "the retry came before Retry-After"

    receiver.requests.clear()
    receiver.fail_first, receiver.retry_after = 10, -1
    events.put_events(Entries=[{"Source": "slow-down", "DetailType": "d", "Detail": "{}"}])
    dead = receive_all(sqs, dlq_url, 1)
    assert len(receiver.requests) == 1, "retried despite a negative Retry-After"
    assert dead[0]["MessageAttributes"]["EXHAUSTED_RETRY_CONDITION"]["StringValue"] == "NotRetryable"


def test_a_dead_target_dead_letters_after_its_retry_policy_and_can_be_redriven(open_server, receiver, sluice_bin):
    events, sqs = open_server.client("events"), open_server.client("sqs")
    dlq_url, dlq_arn = queue(sqs, "hook-dlq")
    target = api_destination(events, "dead", receiver.url())
    receiver.status = 500
    events.put_rule(Name="to-dead", EventPattern=json.dumps({"source": ["shop"]}))
    rule_arn = events.describe_rule(Name="to-dead")["Arn"]
    events.put_targets(Rule="to-dead", Targets=[{"Id": "hook", "Arn": target, "DeadLetterConfig": {"Arn": dlq_arn},
                                                 "RetryPolicy": {"MaximumRetryAttempts": 2}}])
    ids = [e["EventId"] for e in events.put_events(Entries=[
        {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"n": n})} for n in range(3)])["Entries"]]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        if counts["Attributes"]["ApproximateNumberOfMessages"] == "3":
            break
        time.sleep(0.2)
    assert len(receiver.requests) == 9, "one attempt and two retries for each of three events"

    env = dict(os.environ, SLUICE_ENDPOINT=open_server.endpoint, SLUICE_DATA_DIR=str(open_server.data_dir))
    listed = subprocess.run([sluice_bin, "events", "dlq", "list", "hook-dlq"], env=env, capture_output=True,
                            text=True, check=True).stdout
    assert listed.count('"RETRYABLE_HTTP_ERROR"') == 3 and rule_arn in listed and "HTTP 500" in listed

    message = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"][0]
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn and attributes["TARGET_ARN"] == target
    assert attributes["ERROR_CODE"] == "RETRYABLE_HTTP_ERROR" and "500" in attributes["ERROR_MESSAGE"]
    assert (attributes["RETRY_ATTEMPTS"], attributes["EXHAUSTED_RETRY_CONDITION"]) == ("2", "MaximumRetryAttempts")
    assert json.loads(message["Body"])["id"] in ids

    receiver.status = 200
    receiver.requests.clear()
    redriven = subprocess.run([sluice_bin, "events", "dlq", "redrive", "hook-dlq"], env=env, capture_output=True,
                              text=True, check=True).stdout
    assert "redriven 3 event(s)" in redriven, redriven
    requests = receiver.wait_for(3)
    assert {json.loads(r["body"])["id"] for r in requests} == set(ids)
    time.sleep(1)
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq_url)

    # A final answer (404) is not retried: straight to the dead-letter queue.
    receiver.status = 404
    receiver.requests.clear()
    events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": "{}"}])
    dead = receive_all(sqs, dlq_url, 1)
    assert len(receiver.requests) == 1
    assert dead[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "SDK_CLIENT_ERROR"
    assert dead[0]["MessageAttributes"]["EXHAUSTED_RETRY_CONDITION"]["StringValue"] == "NotRetryable"


def test_sigkill_during_delivery_loses_no_event(open_server, receiver):
    events = open_server.client("events")
    target = api_destination(events, "slow", receiver.url(), rate=20)
    receiver.delay = 0.1
    events.put_rule(Name="to-slow", EventPattern=json.dumps({"source": ["bulk"]}))
    events.put_targets(Rule="to-slow", Targets=[{"Id": "hook", "Arn": target}])
    ids = set()
    for batch in range(6):
        answer = events.put_events(Entries=[
            {"Source": "bulk", "DetailType": "Item", "Detail": json.dumps({"n": batch * 10 + i})} for i in range(10)])
        assert answer["FailedEntryCount"] == 0
        ids.update(e["EventId"] for e in answer["Entries"])
    time.sleep(0.5)
    open_server.process.send_signal(signal.SIGKILL)
    open_server.process.wait()
    delivered_before = {json.loads(r["body"])["id"] for r in receiver.requests}
    assert len(delivered_before) < len(ids), "the kill came too late to test anything"
    open_server.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        delivered = {json.loads(r["body"])["id"] for r in list(receiver.requests)}
        if delivered >= ids:
            break
        time.sleep(0.2)
    assert ids - delivered == set(), f"{len(ids - delivered)} of {len(ids)} events never delivered"


def test_queue_and_bus_targets_and_appflow_run_reports_start_a_second_flow(open_server):
    events, sqs, appflow = open_server.client("events"), open_server.client("sqs"), open_server.client()
    reports_url, reports_arn = queue(sqs, "run-reports")
    account = open_server.account_id

    # A rule on the default bus forwards to another bus; that bus's rule feeds a queue.
    events.create_event_bus(Name="consumer")
    events.put_rule(Name="forward", EventPattern=json.dumps({"source": ["aws.appflow"]}))
    events.put_targets(Rule="forward", Targets=[{"Id": "bus", "Arn": f"arn:aws:events:{REGION}:{account}:event-bus/consumer"}])
    events.put_rule(Name="reports", EventBusName="consumer", EventPattern=json.dumps({"source": ["aws.appflow"]}))
    events.put_targets(Rule="reports", EventBusName="consumer", Targets=[{"Id": "q", "Arn": reports_arn}])

    inbox = open_server.data_dir / "objects" / "inbox" / "chain"
    inbox.mkdir(parents=True)
    (inbox / "a.csv").write_text("id,name\n1,alpha\n2,beta\n")
    for name, bucket in (("first", "stage-one"), ("second", "stage-two")):
        appflow.create_flow(
            flowName=name, triggerConfig={"triggerType": "OnDemand"},
            sourceFlowConfig={"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                "bucketName": "inbox", "bucketPrefix": "chain", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
            destinationFlowConfigList=[{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                "bucketName": bucket, "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
            tasks=[{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"S3": "NO_OP"}, "taskProperties": {}}])
    second_arn = appflow.describe_flow(flowName="second")["flowArn"]
    events.put_rule(Name="chain", EventPattern=json.dumps({
        "source": ["aws.appflow"], "detail-type": ["AppFlow End Flow Run Report"],
        "detail": {"flow-name": ["first"], "status": ["Execution Successful"]}}))
    events.put_targets(Rule="chain", Targets=[{"Id": "second", "Arn": second_arn}])

    execution = appflow.start_flow(flowName="first")["executionId"]
    assert finished_run(appflow, "first", execution)["executionStatus"] == "Successful"
    deadline = time.monotonic() + 30
    runs = []
    while time.monotonic() < deadline and not runs:
        runs = appflow.describe_flow_execution_records(flowName="second")["flowExecutions"]
        time.sleep(0.2)
    assert len(runs) == 1, "the End Flow Run Report of 'first' did not start 'second'"
    assert finished_run(appflow, "second", runs[0]["executionId"])["executionStatus"] == "Successful"

    reports = [json.loads(m["Body"]) for m in receive_all(sqs, reports_url, 4)]
    by_kind = {(r["detail"]["flow-name"], r["detail-type"]): r for r in reports}
    end = by_kind[("first", "AppFlow End Flow Run Report")]
    assert end["source"] == "aws.appflow" and end["account"] == account
    assert end["resources"] == [appflow.describe_flow(flowName="first")["flowArn"]]
    detail = end["detail"]
    assert (detail["execution-id"], detail["status"], detail["num-of-records-processed"]) == (execution, "Execution Successful", "2")
    assert (detail["source"], detail["destination"], detail["trigger-type"]) == ("S3", "S3", "OnDemand")
    assert ("first", "AppFlow Start Flow Run Report") in by_kind
    assert ("second", "AppFlow End Flow Run Report") in by_kind


def test_the_guard_refuses_at_delivery_a_name_that_resolves_to_loopback(server_factory, receiver):
    host = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    assert any(a.startswith("127.") or a == "::1" for a in addresses), (
        f"this test needs the machine's host name to resolve to loopback (as /etc/hosts does); {host} -> {addresses}")
    strict = server_factory(env={"SLUICE_ALLOW_PRIVATE_ENDPOINTS": "false"}, name="strict")
    events, sqs = strict.client("events"), strict.client("sqs")
    dlq_url, dlq_arn = queue(sqs, "guard-dlq")
    connection = events.create_connection(Name="g", AuthorizationType="BASIC", AuthParameters={
        "BasicAuthParameters": {"Username": "u", "Password": "p"}})
    target = events.create_api_destination(Name="g", ConnectionArn=connection["ConnectionArn"], HttpMethod="POST",
                                           InvocationEndpoint=f"https://{host}:{receiver.port}/hook")["ApiDestinationArn"]
    events.put_rule(Name="g", EventPattern=json.dumps({"source": ["g"]}))
    events.put_targets(Rule="g", Targets=[{"Id": "t", "Arn": target, "DeadLetterConfig": {"Arn": dlq_arn}}])
    events.put_events(Entries=[{"Source": "g", "DetailType": "d", "Detail": "{}"}])
    dead = receive_all(sqs, dlq_url, 1)
    attributes = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS" and "loopback" in attributes["ERROR_MESSAGE"], attributes
    assert receiver.requests == [], "the guard let a request through"
