"""EventBridge as a flow destination, on a real server with the Salesforce
simulator: CreateFlow makes the partner event source (PENDING), StartFlow is
refused until a partner event bus is associated (CreateEventBus with the source
as EventSourceName), and then each platform event becomes an event on that bus
in AppFlow's partner-event shape (source = the partner event source,
detail-type = the Salesforce event, detail = the mapped fields) that a rule
routes on; an event over 256 KB goes to the error-handling bucket and the bus
gets a pointer to it. Flows that AppFlow refuses are refused."""
import json
import time

import botocore.exceptions
import pytest
import requests

from conftest import create_salesforce_profile, sim_tokens

VERSION = "62.0"


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]


def partner_source(server, name):
    return f"aws.partner/appflow/salesforce.com/{server.account_id}/{name}"


def event_flow(name, event, source, fields, bucket=None, trigger="Event", source_type="Salesforce"):
    destination = {"object": source}
    if bucket:
        destination["errorHandlingConfig"] = {"bucketName": bucket, "bucketPrefix": "big"}
    source_properties = ({"Salesforce": {"object": event}} if source_type == "Salesforce"
                         else {"S3": {"bucketName": "inbox", "bucketPrefix": "x"}})
    return dict(
        flowName=name,
        triggerConfig={"triggerType": trigger},
        sourceFlowConfig={"connectorType": source_type, "sourceConnectorProperties": source_properties,
                          **({"connectorProfileName": "org"} if source_type == "Salesforce" else {})},
        destinationFlowConfigList=[{"connectorType": "EventBridge",
                                    "destinationConnectorProperties": {"EventBridge": destination}}],
        tasks=[{"taskType": "Filter", "sourceFields": fields,
                "connectorOperator": {source_type: "PROJECTION"}}],
    )


def publish(sim, event, fields):
    response = requests.post(f"{sim.base_url}/services/data/v{VERSION}/sobjects/{event}", json=fields, timeout=10,
                             headers={"Authorization": f"Bearer {sim_tokens(sim)['access_token']}"})
    assert response.status_code == 201, response.text


def receive(sqs, url, count, timeout=60.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) >= count, f"{len(got)} events in {timeout} s, wanted {count}"
    return got


def test_salesforce_events_become_partner_events_on_the_associated_bus(server_factory, sim_factory):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    requests.post(f"{sim.base_url}/__sim/objects", timeout=10, json={"name": "Transcript__e", "fields": [
        {"name": f"Part{i}__c", "label": f"Part {i}", "type": "textarea", "length": 131072} for i in (1, 2, 3)]}
    ).raise_for_status()
    server = server_factory()
    appflow, events, sqs = server.client(), server.client("events"), server.client("sqs")
    create_salesforce_profile(appflow, sim)
    holidays = partner_source(server, "holidays")
    transcripts = partner_source(server, "transcripts")

    # What AppFlow refuses.
    on_demand = error_of(appflow.create_flow, **event_flow("refused", "Holiday_Event__e", holidays, ["Action__c"],
                                                           trigger="OnDemand"))
    assert on_demand["Code"] == "ValidationException" and "EventBridge destination" in on_demand["Message"]
    from_s3 = error_of(appflow.create_flow, **event_flow("refused", None, holidays, ["a"], source_type="S3"))
    assert from_s3["Code"] == "ValidationException" and "S3 to EventBridge is not supported" in from_s3["Message"]
    bad_name = error_of(appflow.create_flow, **event_flow("refused", "Holiday_Event__e", "my-source", ["Action__c"]))
    assert "not an AppFlow partner event source" in bad_name["Message"]
    elsewhere = error_of(appflow.create_flow, **event_flow(
        "refused", "Holiday_Event__e", "aws.partner/appflow/salesforce.com/999999999999/h", ["Action__c"]))
    assert elsewhere["Code"] == "ValidationException"

    fields = ["Action__c", "Holiday_Id__c", "Region__c", "ReplayId"]
    appflow.create_flow(**event_flow("holidays-to-bus", "Holiday_Event__e", holidays, fields))
    appflow.create_flow(**event_flow("transcripts-to-bus", "Transcript__e", transcripts,
                                     ["Part1__c", "Part2__c", "Part3__c"], bucket="large-events"))
    source = events.describe_event_source(Name=holidays)
    assert (source["State"], source["CreatedBy"]) == ("PENDING", "appflow.amazonaws.com")
    assert source["Arn"].endswith(f":event-source/{holidays}")
    assert {s["Name"] for s in events.list_event_sources(NamePrefix="aws.partner/appflow")["EventSources"]} == {
        holidays, transcripts}
    not_yet = error_of(appflow.start_flow, flowName="holidays-to-bus")
    assert not_yet["Code"] == "ValidationException" and "not associated with an event bus" in not_yet["Message"]
    assert error_of(events.create_event_bus, Name=partner_source(server, "unknown"),
                    EventSourceName=partner_source(server, "unknown"))["Code"] == "ResourceNotFoundException"

    url = sqs.create_queue(QueueName="partner-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for name in (holidays, transcripts):
        bus_arn = events.create_event_bus(Name=name, EventSourceName=name)["EventBusArn"]
        assert bus_arn.endswith(f":event-bus/{name}")
        events.put_rule(Name="to-queue", EventBusName=name, EventPattern=json.dumps({"source": [name]}))
        events.put_targets(Rule="to-queue", EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    assert events.describe_event_source(Name=holidays)["State"] == "ACTIVE"
    for flow in ("holidays-to-bus", "transcripts-to-bus"):
        assert appflow.start_flow(flowName=flow)["flowStatus"] == "Active"
    time.sleep(1)  # the flows' subscriptions start

    publish(sim, "Holiday_Event__e", {"Action__c": "Add", "Holiday_Id__c": "HOL-7", "Region__c": "EMEA"})
    publish(sim, "Transcript__e", {"Part1__c": "short"})
    publish(sim, "Transcript__e", {f"Part{i}__c": str(i) * 100_000 for i in (1, 2, 3)})
    got = receive(sqs, url, 3)
    by_type = {}
    for event in got:
        by_type.setdefault(event["detail-type"], []).append(event)
    holiday = by_type["Holiday_Event__e"][0]
    assert holiday["source"] == holidays and holiday["account"] == server.account_id
    assert {k: holiday["detail"][k] for k in ("Action__c", "Holiday_Id__c", "Region__c")} == {
        "Action__c": "Add", "Holiday_Id__c": "HOL-7", "Region__c": "EMEA"}
    assert "ReplayId" in holiday["detail"]

    small, large = sorted(by_type["Transcript__e"], key=lambda e: "s3Key" in e["detail"])
    assert small["source"] == transcripts and small["detail"]["Part1__c"] == "short"
    pointer = large["detail"]
    assert pointer["s3Bucket"] == "large-events" and pointer["s3Url"] == f"s3://large-events/{pointer['s3Key']}"
    assert pointer["s3Key"].startswith("big/transcripts-to-bus/")
    stored = json.loads((server.data_dir / "objects" / "large-events" / pointer["s3Key"]).read_text())
    assert stored == {f"Part{i}__c": str(i) * 100_000 for i in (1, 2, 3)}
    assert pointer["sizeBytes"] == len(json.dumps(stored, separators=(",", ":")))

    runs = appflow.describe_flow_execution_records(flowName="holidays-to-bus")["flowExecutions"]
    assert runs and all(r["executionStatus"] == "Successful" for r in runs), runs

    # Deleting the partner bus puts the source back to PENDING.
    appflow.stop_flow(flowName="holidays-to-bus")
    events.remove_targets(Rule="to-queue", EventBusName=holidays, Ids=["q"])
    events.delete_rule(Name="to-queue", EventBusName=holidays)
    events.delete_event_bus(Name=holidays)
    assert events.describe_event_source(Name=holidays)["State"] == "PENDING"
