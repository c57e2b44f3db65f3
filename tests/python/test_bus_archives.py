"""Archives and replays against the real server: boto3 `events` conformance for
CreateArchive / DescribeArchive / ListArchives / UpdateArchive / DeleteArchive and
StartReplay / DescribeReplay / ListReplays / CancelReplay, events kept by pattern
(replayed ones never), replays to all rules or FilterArns, and a replay that
survives a SIGKILL of its server."""
import datetime
import json
import signal
import time

import botocore.exceptions
import pytest

from conftest import REGION
from test_bus_delivery import Receiver, api_destination


@pytest.fixture
def open_server(server_factory):
    """A server whose API destinations may call loopback (the test receiver)."""
    return server_factory(env={"SLUICE_ALLOW_PRIVATE_ENDPOINTS": "true"}, name="archives")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def error_of(call, *args, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]


def bus_arn(server, name="default"):
    return f"arn:aws:events:{REGION}:{server.account_id}:event-bus/{name}"


def put(events, source, count, bus=None, start=0):
    ids = []
    for first in range(start, start + count, 10):
        entries = [{"Source": source, "DetailType": "Order", "Detail": json.dumps({"n": n})}
                   for n in range(first, min(first + 10, start + count))]
        if bus:
            for entry in entries:
                entry["EventBusName"] = bus
        answer = events.put_events(Entries=entries)
        assert answer["FailedEntryCount"] == 0
        ids.extend(e["EventId"] for e in answer["Entries"])
    return ids


def wait_for_state(events, name, states, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        replay = events.describe_replay(ReplayName=name)
        if replay["State"] in states or time.monotonic() > deadline:
            return replay
        time.sleep(0.1)


def window():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(minutes=5), now + datetime.timedelta(minutes=1)


def test_archives_are_created_described_listed_updated_and_deleted(open_server):
    events = open_server.client("events")
    events.create_event_bus(Name="orders")
    created = events.create_archive(ArchiveName="everything", EventSourceArn=bus_arn(open_server),
                                    Description="all events", RetentionDays=0)
    assert created["ArchiveArn"] == f"arn:aws:events:{REGION}:{open_server.account_id}:archive/everything"
    assert created["State"] == "ENABLED"
    events.create_archive(ArchiveName="orders-shop", EventSourceArn=bus_arn(open_server, "orders"),
                          EventPattern=json.dumps({"source": ["shop"]}), RetentionDays=7)
    events.create_archive(ArchiveName="orders-other", EventSourceArn=bus_arn(open_server, "orders"))

    duplicate = error_of(events.create_archive, ArchiveName="everything", EventSourceArn=bus_arn(open_server))
    assert duplicate == {"Code": "ResourceAlreadyExistsException", "Message": "Archive everything already exists."}
    missing_bus = error_of(events.create_archive, ArchiveName="x", EventSourceArn=bus_arn(open_server, "nope"))
    assert missing_bus["Code"] == "ResourceNotFoundException"
    bad_pattern = error_of(events.create_archive, ArchiveName="x", EventSourceArn=bus_arn(open_server),
                           EventPattern=json.dumps({"source": "shop"}))
    assert bad_pattern["Code"] == "InvalidEventPatternException"
    assert error_of(events.describe_archive, ArchiveName="nope")["Code"] == "ResourceNotFoundException"

    described = events.describe_archive(ArchiveName="orders-shop")
    assert described["EventSourceArn"] == bus_arn(open_server, "orders")
    assert json.loads(described["EventPattern"]) == {"source": ["shop"]}
    assert (described["RetentionDays"], described["EventCount"], described["SizeBytes"]) == (7, 0, 0)

    names = lambda answer: [a["ArchiveName"] for a in answer["Archives"]]
    assert names(events.list_archives()) == ["everything", "orders-other", "orders-shop"]
    assert names(events.list_archives(NamePrefix="orders")) == ["orders-other", "orders-shop"]
    assert names(events.list_archives(EventSourceArn=bus_arn(open_server))) == ["everything"]
    first = events.list_archives(Limit=2)
    assert names(first) == ["everything", "orders-other"] and first["NextToken"]
    assert names(events.list_archives(Limit=2, NextToken=first["NextToken"])) == ["orders-shop"]

    updated = events.update_archive(ArchiveName="orders-shop", Description="shop orders", RetentionDays=30,
                                    EventPattern=json.dumps({"source": ["shop", "store"]}))
    assert updated["State"] == "ENABLED"
    described = events.describe_archive(ArchiveName="orders-shop")
    assert (described["Description"], described["RetentionDays"]) == ("shop orders", 30)
    assert error_of(events.update_archive, ArchiveName="orders-shop",
                    EventPattern="{not json")["Code"] == "InvalidEventPatternException"
    events.delete_archive(ArchiveName="orders-other")
    assert error_of(events.delete_archive, ArchiveName="orders-other")["Code"] == "ResourceNotFoundException"
    assert names(events.list_archives()) == ["everything", "orders-shop"]


def test_archives_keep_matching_events_and_replays_send_them_back_to_the_rules(open_server, receiver):
    events = open_server.client("events")
    events.create_archive(ArchiveName="shop", EventSourceArn=bus_arn(open_server),
                          EventPattern=json.dumps({"source": ["shop"]}))
    shop_ids = put(events, "shop", 12)
    put(events, "other", 5)
    archive = events.describe_archive(ArchiveName="shop")
    assert archive["EventCount"] == 12 and archive["SizeBytes"] > 12 * 100

    # Rules made after the events: one the replay is limited to, one it skips.
    target = api_destination(events, "hook", receiver.url())
    chosen = events.put_rule(Name="chosen", EventPattern=json.dumps({"source": ["shop"]}))["RuleArn"]
    events.put_targets(Rule="chosen", Targets=[{"Id": "hook", "Arn": target}])
    events.put_rule(Name="skipped", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="skipped", Targets=[{"Id": "hook", "Arn": target,
                                                 "InputTransformer": {"InputPathsMap": {"id": "$.id"},
                                                                      "InputTemplate": '{"skipped": "<id>"}'}}])
    start, end = window()
    started = events.start_replay(ReplayName="again", EventSourceArn=archive["ArchiveArn"],
                                  EventStartTime=start, EventEndTime=end,
                                  Destination={"Arn": bus_arn(open_server), "FilterArns": [chosen]})
    assert started["ReplayArn"] == f"arn:aws:events:{REGION}:{open_server.account_id}:replay/again"
    assert started["State"] in ("STARTING", "RUNNING", "COMPLETED")
    replay = wait_for_state(events, "again", {"COMPLETED", "FAILED"})
    assert replay["State"] == "COMPLETED", replay
    assert replay["Destination"] == {"Arn": bus_arn(open_server), "FilterArns": [chosen]}
    assert replay["ReplayEndTime"] >= replay["ReplayStartTime"] and replay["EventLastReplayedTime"]

    bodies = [json.loads(r["body"]) for r in receiver.wait_for(12)]
    time.sleep(1)
    assert len(receiver.requests) == 12, "the replay reached a rule outside FilterArns"
    assert sorted(b["id"] for b in bodies) == sorted(shop_ids)
    assert {b["replay-name"] for b in bodies} == {"again"}
    # Replayed events are never archived again.
    assert events.describe_archive(ArchiveName="shop")["EventCount"] == 12

    # Without FilterArns every rule gets them; a time window can leave them out.
    events.start_replay(ReplayName="to-all", EventSourceArn=archive["ArchiveArn"], EventStartTime=start,
                        EventEndTime=end, Destination={"Arn": bus_arn(open_server)})
    assert wait_for_state(events, "to-all", {"COMPLETED"})["State"] == "COMPLETED"
    receiver.wait_for(12 + 24)
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    events.start_replay(ReplayName="empty-window", EventSourceArn=archive["ArchiveArn"], EventStartTime=past,
                        EventEndTime=past + datetime.timedelta(hours=1), Destination={"Arn": bus_arn(open_server)})
    empty = wait_for_state(events, "empty-window", {"COMPLETED"})
    assert empty["State"] == "COMPLETED" and "EventLastReplayedTime" not in empty
    time.sleep(1)
    assert len(receiver.requests) == 36

    listed = events.list_replays(EventSourceArn=archive["ArchiveArn"])["Replays"]
    assert [r["ReplayName"] for r in listed] == ["again", "empty-window", "to-all"]
    assert [r["ReplayName"] for r in events.list_replays(NamePrefix="to-")["Replays"]] == ["to-all"]
    assert events.list_replays(State="RUNNING")["Replays"] == []
    first = events.list_replays(Limit=1)
    assert len(first["Replays"]) == 1 and first["NextToken"]


def test_replays_are_refused_as_eventbridge_refuses_them(open_server):
    events = open_server.client("events")
    events.create_event_bus(Name="elsewhere")
    arn = events.create_archive(ArchiveName="a", EventSourceArn=bus_arn(open_server))["ArchiveArn"]
    start, end = window()
    ok = dict(ReplayName="r", EventSourceArn=arn, EventStartTime=start, EventEndTime=end,
              Destination={"Arn": bus_arn(open_server)})
    cross = error_of(events.start_replay, **{**ok, "Destination": {"Arn": bus_arn(open_server, "elsewhere")}})
    assert cross == {"Code": "ValidationException", "Message": "Cross event bus replay is not permitted."}
    backwards = error_of(events.start_replay, **{**ok, "EventStartTime": end, "EventEndTime": start})
    assert backwards["Message"] == ("Parameter EventEndTime is not valid. Reason: EventStartTime must be before "
                                    "EventEndTime.")
    missing = error_of(events.start_replay, **{**ok, "EventSourceArn": arn.replace(":archive/a", ":archive/b")})
    assert missing["Code"] == "ResourceNotFoundException"
    events.start_replay(**ok)
    assert error_of(events.start_replay, **ok)["Code"] == "ResourceAlreadyExistsException"
    assert wait_for_state(events, "r", {"COMPLETED"})["State"] == "COMPLETED"
    assert error_of(events.cancel_replay, ReplayName="r")["Code"] == "IllegalStatusException"
    assert error_of(events.describe_replay, ReplayName="nope")["Code"] == "ResourceNotFoundException"
    assert error_of(events.cancel_replay, ReplayName="nope")["Code"] == "ResourceNotFoundException"


def test_a_replay_survives_a_sigkill_and_a_cancelled_one_stops(open_server, receiver):
    events = open_server.client("events")
    arn = events.create_archive(ArchiveName="bulk", EventSourceArn=bus_arn(open_server))["ArchiveArn"]
    ids = put(events, "bulk", 600)
    target = api_destination(events, "hook", receiver.url())
    events.put_rule(Name="bulk", EventPattern=json.dumps({"source": ["bulk"]}))
    events.put_targets(Rule="bulk", Targets=[{"Id": "hook", "Arn": target}])
    start, end = window()
    events.start_replay(ReplayName="through-a-crash", EventSourceArn=arn, EventStartTime=start, EventEndTime=end,
                        Destination={"Arn": bus_arn(open_server)})
    open_server.process.send_signal(signal.SIGKILL)
    open_server.process.wait()
    open_server.start()
    events = open_server.client("events")
    replay = wait_for_state(events, "through-a-crash", {"COMPLETED", "FAILED"}, timeout=60)
    assert replay["State"] == "COMPLETED", replay
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and {json.loads(r["body"])["id"] for r in list(receiver.requests)} < set(ids):
        time.sleep(0.2)
    replayed = [json.loads(r["body"]) for r in list(receiver.requests)]
    assert {b["id"] for b in replayed} == set(ids)
    assert {b["replay-name"] for b in replayed} == {"through-a-crash"}

    # A cancelled replay ends CANCELLED (it may have sent some events first).
    events.start_replay(ReplayName="cancelled", EventSourceArn=arn, EventStartTime=start, EventEndTime=end,
                        Destination={"Arn": bus_arn(open_server)})
    cancel = events.cancel_replay(ReplayName="cancelled")
    assert cancel["State"] in ("CANCELLING", "CANCELLED") and cancel["ReplayArn"].endswith(":replay/cancelled")
    assert wait_for_state(events, "cancelled", {"CANCELLED"})["State"] == "CANCELLED"
