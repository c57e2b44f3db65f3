"""The Marketo simulator (`sluice sim marketo`) over HTTPS, driven by the real
client library marketorestpython wherever it has a method, and by plain
`requests` (same CA bundle) for the wire details it hides.

marketorestpython builds its host from the Munchkin id, so each client gets
`mc.host = sim.base_url`; the simulator's self-signed certificate is trusted
through REQUESTS_CA_BUNDLE. Calls go through `mc.execute(...)`, which is where
the library re-authenticates on 601/602.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from marketorestpython.client import MarketoClient

MUNCHKIN_ID = "123-SLC-456"
CLIENT_ID = "sluice-marketo-client"
CLIENT_SECRET = "sluice-marketo-secret"
API_USER = "api-user@sluice.dev"
LONG_AGO = "2020-01-01T00:00:00Z"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def start_marketo(sim_factory, monkeypatch):
    """start(*args) -> a running `sluice sim marketo` whose certificate requests trusts."""

    def start(*args):
        sim = sim_factory("marketo", *args)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.cert))
        return sim

    return start


def client(sim, **options) -> MarketoClient:
    mc = MarketoClient(MUNCHKIN_ID, CLIENT_ID, CLIENT_SECRET, **options)
    mc.host = sim.base_url
    return mc


def admin(sim, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/__sim{path}", timeout=10, **kwargs)


def identity(sim, secret: str = CLIENT_SECRET, method: str = "GET") -> requests.Response:
    params = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": secret}
    if method == "POST":
        return requests.post(f"{sim.base_url}/identity/oauth/token", data=params, timeout=10)
    return requests.get(f"{sim.base_url}/identity/oauth/token", params=params, timeout=10)


def api(sim, method: str, path: str, token: str | None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{sim.base_url}{path}", headers=headers, timeout=10, **kwargs)


def token_of(sim) -> str:
    return identity(sim).json()["access_token"]


def library_error(excinfo) -> dict:
    """The {'message', 'code'} dict marketorestpython raises from execute()."""
    return excinfo.value.args[0]


def skipped(code: str, message: str) -> dict:
    return {"status": "skipped", "reasons": [{"code": code, "message": message}]}


# ---------------------------------------------------------------- identity


def test_identity_issues_one_token_at_a_time_and_refuses_bad_secrets(start_marketo):
    sim = start_marketo("--seed", "empty")
    first = identity(sim)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("bearer", 3600, API_USER)
    assert body["access_token"].endswith(":sim")

    # Marketo hands back the live token, with what is left of its lifetime.
    again = identity(sim, method="POST").json()
    assert again["access_token"] == body["access_token"]
    assert again["expires_in"] in (3599, 3600)

    refused = identity(sim, secret="wrong")
    assert refused.status_code == 401
    assert refused.json() == {"error": "unauthorized", "error_description": "Bad client credentials"}

    mc = MarketoClient(MUNCHKIN_ID, CLIENT_ID, "wrong")
    mc.host = sim.base_url
    with pytest.raises(Exception) as excinfo:
        mc.execute(method="describe")
    assert excinfo.value.args == ("Bad client credentials",)
    assert admin(sim, "GET", "/stats").json()["tokensIssued"] == 1


def test_missing_unknown_and_expired_tokens_get_601_and_602(start_marketo):
    sim = start_marketo("--seed", "empty")
    path = "/rest/v1/leads/describe.json"

    def errors(response):
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is False and "result" not in body
        return body["errors"]

    assert errors(api(sim, "GET", path, None)) == [{"code": "601", "message": "Access token invalid"}]
    assert errors(api(sim, "GET", path, "not-a-token")) == [{"code": "601", "message": "Access token invalid"}]
    token = token_of(sim)
    assert api(sim, "GET", path, token).json()["success"] is True
    # The access_token query parameter works too.
    assert api(sim, "GET", path, None, params={"access_token": token}).json()["success"] is True

    assert admin(sim, "POST", "/expire-tokens", json={}).json() == {"expired": 1}
    assert errors(api(sim, "GET", path, token)) == [{"code": "602", "message": "Access token expired"}]
    fresh = token_of(sim)
    assert fresh != token
    assert api(sim, "GET", path, fresh).json()["success"] is True
    assert admin(sim, "GET", "/stats").json()["errors"] == {"601": 2, "602": 1}


def test_library_reauthenticates_after_602(start_marketo):
    # With tokens shorter than 60 s, marketorestpython asks the identity
    # endpoint before every call and gets the live token back; here that
    # token expires between the identity call and the data call (the library
    # spaces calls 0.2 s apart), so the data call gets 602, the library
    # re-authenticates and retries with the new token.
    sim = start_marketo("--seed", "empty", "--token-lifetime", "30")
    mc = client(sim)
    described = mc.execute(method="describe")
    old_token = mc.token
    assert mc.expires_in == 30
    time.sleep(0.3)
    assert admin(sim, "POST", "/expire-tokens", json={"after_ms": 190}).json() == {"expired": 1}

    assert mc.execute(method="describe") == described
    assert mc.token != old_token
    stats = admin(sim, "GET", "/stats").json()
    assert stats["tokensIssued"] == 2
    assert stats["errors"] == {"602": 1}


# ---------------------------------------------------------------- leads


def test_describe_and_describe2(start_marketo):
    sim = start_marketo("--seed", "empty")
    mc = client(sim)
    fields = mc.execute(method="describe")
    assert len(fields) == 28
    by_name = {f["rest"]["name"]: f for f in fields}
    assert by_name["email"] == {
        "id": 7,
        "displayName": "Email Address",
        "dataType": "email",
        "length": 255,
        "rest": {"name": "email", "readOnly": False},
        "soap": {"name": "Email", "readOnly": False},
    }
    assert by_name["id"] == {
        "id": 1,
        "displayName": "Id",
        "dataType": "integer",
        "rest": {"name": "id", "readOnly": True},
        "soap": {"name": "Id", "readOnly": True},
    }
    assert by_name["unsubscribed"]["dataType"] == "boolean"
    assert by_name["createdAt"]["dataType"] == "datetime"
    assert by_name["region"]["length"] == 50

    (lead,) = mc.execute(method="describe2")
    assert lead["name"] == "API Lead"
    assert lead["searchableFields"] == [["id"], ["email"], ["externalLeadId"], ["region"]]
    assert lead["fields"][3] == {
        "name": "firstName",
        "displayName": "First Name",
        "dataType": "string",
        "length": 255,
        "updateable": True,
        "crmManaged": False,
    }


def test_filter_pages_through_more_than_300_leads(start_marketo):
    sim = start_marketo("--seed", "empty")
    made = admin(sim, "POST", "/generate", json={"count": 450, "fields": {"region": "PAGING"}})
    assert (made.status_code, made.json()) == (201, {"created": 450, "firstId": 1, "lastId": 450})
    assert admin(sim, "POST", "/generate", json={"count": 20, "fields": {"region": "OTHER"}}).json()["lastId"] == 470

    mc = client(sim)
    leads = mc.execute(
        method="get_multiple_leads_by_filter_type",
        filterType="region",
        filterValues=["PAGING"],
        fields=["email", "region", "externalLeadId"],
    )
    assert [lead["id"] for lead in leads] == list(range(1, 451))
    assert {lead["region"] for lead in leads} == {"PAGING"}
    assert [lead["externalLeadId"] for lead in leads[:2]] == ["EXT-000001", "EXT-000002"]
    assert len({lead["email"] for lead in leads}) == 450
    assert set(leads[0]) == {"id", "email", "region", "externalLeadId"}

    # The wire: 300, then 150 with no token; filter values ignore case.
    token = token_of(sim)
    query = {"filterType": "region", "filterValues": "paging", "fields": "region"}
    first = api(sim, "GET", "/rest/v1/leads.json", token, params=query).json()
    assert (len(first["result"]), first["moreResult"]) == (300, True)
    assert first["result"][299] == {"id": 300, "region": "PAGING"}
    second = api(
        sim, "GET", "/rest/v1/leads.json", token, params={**query, "nextPageToken": first["nextPageToken"]}
    ).json()
    assert [lead["id"] for lead in second["result"]] == list(range(301, 451))
    assert "nextPageToken" not in second and "moreResult" not in second

    # Several values, default fields, and a batch size.
    small = api(
        sim, "GET", "/rest/v1/leads.json", token, params={"filterType": "id", "filterValues": "2,460,999", "batchSize": 1}
    ).json()
    assert [lead["id"] for lead in small["result"]] == [2]
    assert set(small["result"][0]) == {"id", "email", "updatedAt", "createdAt", "lastName", "firstName"}
    assert small["moreResult"] is True


def test_sync_actions_report_created_updated_and_skipped(start_marketo):
    sim = start_marketo("--seed", "empty")
    mc = client(sim)

    def sync(leads, action, **options):
        return mc.execute(method="create_update_leads", leads=leads, action=action, **options)

    created = sync(
        [
            {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "title": "Engineer"},
            {"email": "ben@example.com", "firstName": "Ben", "lastName": "Ng", "externalLeadId": "CRM-2"},
        ],
        "createOnly",
        lookupField="email",
    )
    assert created == [{"id": 1, "status": "created"}, {"id": 2, "status": "created"}]
    assert sync([{"email": "ann@example.com"}], "createOnly") == [skipped("1005", "Lead already exists")]
    assert sync(
        [{"email": "ann@example.com", "title": "CTO", "leadScore": "50"}, {"email": "zed@example.com"}], "updateOnly"
    ) == [{"id": 1, "status": "updated"}, skipped("1004", "Lead not found")]
    assert sync(
        [{"email": "ben@example.com", "unsubscribed": True}, {"email": "cy@example.com", "firstName": "Cy"}],
        "createOrUpdate",
    ) == [{"id": 2, "status": "updated"}, {"id": 3, "status": "created"}]
    assert sync([{"externalLeadId": "CRM-2", "doNotCall": "true"}], "updateOnly", lookupField="externalLeadId") == [
        {"id": 2, "status": "updated"}
    ]
    assert sync([{"id": 3, "lastName": "Diaz"}], "updateOnly", lookupField="id") == [{"id": 3, "status": "updated"}]
    assert sync(
        [{"email": "cy@example.com", "leadScore": "high"}, {"firstName": "No email"}, {"email": "d@example.com", "shoeSize": 44}],
        "createOrUpdate",
    ) == [
        skipped("1001", "Invalid value 'high'. Required of type 'integer'"),
        skipped("1003", "Value for lookup field 'email' not found"),
        skipped("1006", "Field 'shoeSize' not found"),
    ]
    assert sync([{"email": "ann@example.com", "firstName": "Annie"}], "createDuplicate") == [
        {"id": 4, "status": "created"}
    ]
    assert sync([{"email": "ann@example.com"}], "createOrUpdate") == [
        skipped("1007", "Multiple leads match the lookup criteria")
    ]

    fields = ["email", "firstName", "lastName", "title", "leadScore", "unsubscribed", "doNotCall", "externalLeadId"]
    (ann,) = mc.execute(method="get_lead_by_id", id=1, fields=fields)
    assert ann == {
        "id": 1,
        "email": "ann@example.com",
        "firstName": "Ann",
        "lastName": "Lee",
        "title": "CTO",
        "leadScore": 50,
        "unsubscribed": None,
        "doNotCall": None,
        "externalLeadId": None,
    }
    (ben,) = mc.execute(method="get_lead_by_id", id=2, fields=fields)
    assert (ben["unsubscribed"], ben["doNotCall"], ben["externalLeadId"]) == (True, True, "CRM-2")
    assert mc.execute(method="get_lead_by_id", id=99) == []

    # More than 300 records is refused as a whole.
    with pytest.raises(Exception) as excinfo:
        sync([{"email": f"bulk{i}@example.com"} for i in range(301)], "createOnly")
    assert library_error(excinfo) == {"message": "Batch size exceeds the limit of 300", "code": "1003"}
    assert admin(sim, "GET", "/stats").json()["leads"] == 4


def test_invalid_fields_and_requests_get_marketo_errors(start_marketo):
    sim = start_marketo("--seed", "empty")
    mc = client(sim)
    cases = [
        ({"filterType": "favouriteColour", "filterValues": ["blue"]}, "1006", "Field 'favouriteColour' not found"),
        ({"filterType": "email", "filterValues": ["a@x.com"], "fields": ["email", "shoeSize"]}, "1006", "Field 'shoeSize' not found"),
        ({"filterType": "firstName", "filterValues": ["Ann"]}, "1011", "Field 'firstName' not supported"),
        ({"filterType": "id", "filterValues": ["one"]}, "1001", "Invalid value 'one'. Required of type 'integer'"),
    ]
    for arguments, code, message in cases:
        with pytest.raises(Exception) as excinfo:
            mc.execute(method="get_multiple_leads_by_filter_type", **arguments)
        assert library_error(excinfo) == {"message": message, "code": code}, arguments

    token = token_of(sim)

    def first_error(response):
        return response.json()["errors"][0]

    assert first_error(api(sim, "GET", "/rest/v1/leads.json", token, params={"filterValues": "1"})) == {
        "code": "1002",
        "message": "Missing value for the required parameter 'filterType'",
    }
    assert first_error(
        api(sim, "POST", "/rest/v1/leads.json", token, data="{not json", headers={"Content-Type": "application/json"})
    ) == {"code": "609", "message": "Invalid JSON"}
    assert first_error(api(sim, "GET", "/rest/v1/opportunities/nothing.json", token)) == {
        "code": "610",
        "message": "Requested resource not found",
    }
    assert first_error(api(sim, "PUT", "/rest/v1/leads.json", token)) == {
        "code": "605",
        "message": "HTTP Method not supported",
    }


def test_push_delete_and_deleted_leads(start_marketo):
    sim = start_marketo("--seed", "empty")
    mc = client(sim)
    pushed = mc.execute(
        method="push_lead",
        leads=[{"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"}, {"email": "ben@example.com"}],
        programName="Webinar 2024",
        lookupField="email",
    )
    assert pushed == [{"id": 1, "status": "created"}, {"id": 2, "status": "created"}]
    assert mc.execute(method="push_lead", leads=[{"email": "ben@example.com", "title": "VP"}], programName="Webinar 2024") == [
        {"id": 2, "status": "updated"}
    ]

    assert mc.execute(method="delete_lead", id=[1, 99]) == [
        {"id": 1, "status": "deleted"},
        {"id": 99, "status": "skipped", "reasons": [{"code": "1004", "message": "Lead not found"}]},
    ]
    assert mc.execute(method="get_lead_by_id", id=1) == []
    deleted = mc.execute(method="get_deleted_leads", sinceDatetime=LONG_AGO)
    assert len(deleted) == 1
    assert {k: deleted[0][k] for k in ("leadId", "activityTypeId", "primaryAttributeValueId", "primaryAttributeValue")} == {
        "leadId": 1,
        "activityTypeId": 37,
        "primaryAttributeValueId": 1,
        "primaryAttributeValue": "Ann Lee",
    }
    assert deleted[0]["attributes"] == [{"name": "Remove from CRM", "value": False}]


# ---------------------------------------------------------------- activities


def test_activities_record_new_leads_and_changed_values(start_marketo):
    sim = start_marketo("--seed", "empty")
    mc = client(sim)
    mc.execute(
        method="create_update_leads",
        leads=[
            {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "title": "Engineer"},
            {"email": "ben@example.com", "firstName": "Ben", "lastName": "Ng", "leadSource": "Webinar"},
        ],
        action="createOnly",
    )
    mc.execute(
        method="create_update_leads",
        leads=[{"email": "ann@example.com", "title": "CTO", "leadScore": 50}],
        action="updateOnly",
    )
    # Nothing changes: no activity.
    mc.execute(method="create_update_leads", leads=[{"email": "ann@example.com", "title": "CTO"}], action="updateOnly")
    mc.execute(method="create_update_leads", leads=[{"email": "ben@example.com", "unsubscribed": True}])

    stamps = {
        lead["id"]: lead
        for lead in mc.execute(
            method="get_multiple_leads_by_filter_type",
            filterType="id",
            filterValues=["1", "2"],
            fields=["createdAt", "updatedAt"],
        )
    }
    ann, ben = stamps[1], stamps[2]

    types = mc.execute(method="get_activity_types")
    assert {t["id"]: t["name"] for t in types}[13] == "Change Data Value"
    assert [t for t in types if t["id"] == 13][0] == {
        "id": 13,
        "name": "Change Data Value",
        "description": "Changed attribute value for a person",
        "primaryAttribute": {"name": "Attribute Name", "dataType": "integer"},
        "attributes": [
            {"name": "New Value", "dataType": "string"},
            {"name": "Old Value", "dataType": "string"},
            {"name": "Reason", "dataType": "string"},
            {"name": "Source", "dataType": "string"},
        ],
    }

    token = mc.execute(method="get_paging_token", sinceDatetime=LONG_AGO)
    activities = mc.execute(method="get_lead_activities", activityTypeIds=["12", "13"], nextPageToken=token)
    api_source = [{"name": "Reason", "value": "Web service API"}, {"name": "Source", "value": "Web service API"}]

    def change(activity_id, lead, lead_id, field_id, label, new, old=None):
        values = [{"name": "New Value", "value": new}] + ([{"name": "Old Value", "value": old}] if old else [])
        return {
            "id": activity_id,
            "marketoGUID": str(activity_id),
            "leadId": lead_id,
            "activityDate": lead["updatedAt"],
            "activityTypeId": 13,
            "primaryAttributeValueId": field_id,
            "primaryAttributeValue": label,
            "attributes": values + api_source,
        }

    def new_lead(activity_id, lead, lead_id, name, source=None):
        attributes = [{"name": "Created Date", "value": lead["createdAt"][:10]}]
        if source:
            attributes.append({"name": "Lead Source", "value": source})
        attributes.append({"name": "Source Type", "value": "Web service API"})
        return {
            "id": activity_id,
            "marketoGUID": str(activity_id),
            "leadId": lead_id,
            "activityDate": lead["createdAt"],
            "activityTypeId": 12,
            "primaryAttributeValueId": lead_id,
            "primaryAttributeValue": name,
            "attributes": attributes,
        }

    assert activities == [
        new_lead(1, ann, 1, "Ann Lee"),
        new_lead(2, ben, 2, "Ben Ng", source="Webinar"),
        change(3, ann, 1, 10, "Job Title", "CTO", old="Engineer"),
        change(4, ann, 1, 21, "Lead Score", "50"),
        change(5, ben, 2, 22, "Unsubscribed", "true"),
    ]

    # Filters: one lead, one type.
    only_ben = mc.execute(method="get_lead_activities", activityTypeIds=["13"], nextPageToken=token, leadIds="2")
    assert [a["id"] for a in only_ben] == [5]
    # A token from a later date starts after the activities before it.
    future = mc.execute(method="get_paging_token", sinceDatetime=iso(datetime.now(timezone.utc) + timedelta(days=1)))
    assert mc.execute(method="get_lead_activities", activityTypeIds=["12", "13"], nextPageToken=future) == []

    changes = mc.execute(method="get_lead_changes", fields=["title"], nextPageToken=token)
    assert [(c["id"], c["activityTypeId"], c["fields"]) for c in changes] == [
        (1, 12, []),
        (2, 12, []),
        (3, 13, [{"id": 10, "name": "title", "newValue": "CTO", "oldValue": "Engineer"}]),
    ]
    assert changes[2]["attributes"] == api_source


def test_activity_pages_and_tokens_on_the_wire(start_marketo):
    sim = start_marketo("--seed", "empty")
    assert admin(sim, "POST", "/generate", json={"count": 5}).json()["created"] == 5
    bearer = token_of(sim)
    since = api(sim, "GET", "/rest/v1/activities/pagingtoken.json", bearer, params={"sinceDatetime": LONG_AGO}).json()
    assert set(since) == {"requestId", "success", "nextPageToken"}

    def page(token):
        params = {"nextPageToken": token, "activityTypeIds": "12,13", "batchSize": 2}
        return api(sim, "GET", "/rest/v1/activities.json", bearer, params=params).json()

    pages, token = [], since["nextPageToken"]
    while True:
        body = page(token)
        pages.append(([a["leadId"] for a in body.get("result", [])], body["moreResult"]))
        token = body["nextPageToken"]
        if not body["moreResult"]:
            break
    assert pages == [([1, 2], True), ([3, 4], True), ([5], False)]

    # Polling again with the last token: nothing new, then only what is new.
    idle = page(token)
    assert ("result" in idle, idle["moreResult"], idle["nextPageToken"]) == (False, False, token)
    mc = client(sim)
    mc.execute(method="create_update_leads", leads=[{"id": 3, "title": "Chief Tester"}], action="updateOnly", lookupField="id")
    fresh = page(token)
    assert [(a["id"], a["leadId"], a["activityTypeId"], a["primaryAttributeValue"]) for a in fresh["result"]] == [
        (6, 3, 13, "Job Title")
    ]

    bad = api(sim, "GET", "/rest/v1/activities.json", bearer, params={"nextPageToken": "bad-token", "activityTypeIds": "12"})
    assert bad.json()["errors"] == [{"code": "1003", "message": "Invalid nextPageToken 'bad-token'"}]
    missing = api(sim, "GET", "/rest/v1/activities.json", bearer, params={"nextPageToken": token})
    assert missing.json()["errors"] == [
        {"code": "1002", "message": "Missing value for the required parameter 'activityTypeIds'"}
    ]
    bad_date = api(sim, "GET", "/rest/v1/activities/pagingtoken.json", bearer, params={"sinceDatetime": "yesterday"})
    assert bad_date.json()["errors"] == [{"code": "1001", "message": "Invalid value 'yesterday'. Required of type 'datetime'"}]


# ---------------------------------------------------------------- bulk export


def test_bulk_lead_export_lifecycle_and_file(start_marketo):
    sim = start_marketo("--seed", "empty")
    mc = client(sim)
    mc.execute(
        method="create_update_leads",
        leads=[
            {"email": "ann@example.com", "firstName": "Ann", "company": "Acme, Inc.", "unsubscribed": False},
            {"email": "ben@example.com", "company": 'Blue "Q" Labs', "unsubscribed": True},
            {"email": "cy@example.com", "firstName": "Cy", "company": "Cedar"},
        ],
        action="createOnly",
    )
    now = datetime.now(timezone.utc)
    window = {"createdAt": {"startAt": iso(now - timedelta(hours=1)), "endAt": iso(now + timedelta(hours=1))}}
    (created,) = mc.execute(
        method="create_leads_export_job",
        fields=["id", "email", "firstName", "company", "unsubscribed"],
        filters=window,
        columnHeaderNames={"id": "Marketo Id"},
    )
    export_id = created["exportId"]
    assert (created["status"], created["format"]) == ("Created", "CSV")
    assert set(created) == {"exportId", "format", "status", "createdAt"}

    (queued,) = mc.execute(method="enqueue_leads_export_job", job_id=export_id)
    assert queued["status"] == "Queued" and "queuedAt" in queued
    token = token_of(sim)
    again = api(sim, "POST", f"/bulk/v1/leads/export/{export_id}/enqueue.json", token).json()
    assert again["errors"] == [{"code": "1029", "message": "Job already queued"}]
    not_ready = api(sim, "GET", f"/bulk/v1/leads/export/{export_id}/file.json", token)
    assert not_ready.status_code == 404 and not_ready.headers["Content-Type"] == "text/plain"

    statuses = []
    while not statuses or statuses[-1]["status"] != "Completed":
        (status,) = mc.execute(method="get_leads_export_job_status", job_id=export_id)
        statuses.append(status)
        assert len(statuses) <= 5
    assert [s["status"] for s in statuses] == ["Processing", "Completed"]
    assert "startedAt" in statuses[0] and "numberOfRecords" not in statuses[0]

    content = mc.execute(method="get_leads_export_job_file", job_id=export_id)
    assert content.decode() == (
        "Marketo Id,email,firstName,company,unsubscribed\n"
        '1,ann@example.com,Ann,"Acme, Inc.",false\n'
        '2,ben@example.com,null,"Blue ""Q"" Labs",true\n'
        "3,cy@example.com,Cy,Cedar,null\n"
    )
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert rows == [
        ["Marketo Id", "email", "firstName", "company", "unsubscribed"],
        ["1", "ann@example.com", "Ann", "Acme, Inc.", "false"],
        ["2", "ben@example.com", "null", 'Blue "Q" Labs', "true"],
        ["3", "cy@example.com", "Cy", "Cedar", "null"],
    ]
    done = statuses[-1]
    assert (done["numberOfRecords"], done["fileSize"]) == (3, len(content))
    assert done["fileChecksum"] == "sha256:" + hashlib.sha256(content).hexdigest()
    assert {"createdAt", "queuedAt", "startedAt", "finishedAt"} <= set(done)

    part = api(sim, "GET", f"/bulk/v1/leads/export/{export_id}/file.json", token, headers={"Range": "bytes=0-9"})
    assert (part.status_code, part.content, part.headers["Content-Range"]) == (206, content[:10], f"bytes 0-9/{len(content)}")

    listed = mc.execute(method="get_leads_export_jobs_list")
    assert [(j["exportId"], j["status"]) for j in listed] == [(export_id, "Completed")]


def test_bulk_export_filters_cancel_and_unknown_jobs(start_marketo):
    sim = start_marketo("--seed", "empty")
    mc = client(sim)
    mc.execute(method="create_update_leads", leads=[{"email": "ann@example.com"}], action="createOnly")

    # A window in the past matches nobody: a header-only TSV file.
    past = {"createdAt": {"startAt": "2020-01-01T00:00:00Z", "endAt": "2020-01-15T00:00:00Z"}}
    (job,) = mc.execute(method="create_leads_export_job", fields=["email", "firstName"], filters=past, format="TSV")
    mc.execute(method="enqueue_leads_export_job", job_id=job["exportId"])
    for _ in range(2):
        (status,) = mc.execute(method="get_leads_export_job_status", job_id=job["exportId"])
    assert (status["status"], status["numberOfRecords"]) == ("Completed", 0)
    assert mc.execute(method="get_leads_export_job_file", job_id=job["exportId"]) == b"email\tfirstName\n"

    (other,) = mc.execute(method="create_leads_export_job", fields=["email"], filters=past)
    (cancelled,) = mc.execute(method="cancel_leads_export_job", job_id=other["exportId"])
    assert cancelled["status"] == "Cancelled"
    with pytest.raises(Exception) as excinfo:
        mc.execute(method="cancel_leads_export_job", job_id=other["exportId"])
    assert library_error(excinfo) == {"message": "Job is Cancelled", "code": "1003"}

    with pytest.raises(Exception) as excinfo:
        mc.execute(method="get_leads_export_job_status", job_id="00000000-0000-0000-0000-000000000000")
    assert library_error(excinfo) == {"message": "Export job not found", "code": "1003"}

    too_long = {"createdAt": {"startAt": "2024-01-01T00:00:00Z", "endAt": "2024-03-01T00:00:00Z"}}
    with pytest.raises(Exception) as excinfo:
        mc.execute(method="create_leads_export_job", fields=["email"], filters=too_long)
    assert library_error(excinfo) == {"message": "createdAt date range exceeds 31 days", "code": "1003"}
    with pytest.raises(Exception) as excinfo:
        mc.execute(method="create_leads_export_job", fields=["email", "shoeSize"], filters=past)
    assert library_error(excinfo) == {"message": "Field 'shoeSize' not found", "code": "1006"}
    token = token_of(sim)
    missing = api(sim, "GET", "/bulk/v1/leads/export/nope/file.json", token)
    assert (missing.status_code, missing.text) == (404, "Export job nope not found")


# ---------------------------------------------------------------- limits


def test_rate_limit_606_and_daily_quota_607(start_marketo):
    sim = start_marketo("--seed", "empty")
    config = admin(sim, "PUT", "/config", json={"rate_limit_calls": 3, "rate_limit_window_secs": 2}).json()
    assert (config["rate_limit_calls"], config["rate_limit_window_secs"], config["token_lifetime_secs"]) == (3, 2, 3600)
    token = token_of(sim)
    for _ in range(3):
        assert api(sim, "GET", "/rest/v1/leads/describe.json", token).json()["success"] is True
    limited = api(sim, "GET", "/rest/v1/leads/describe.json", token).json()
    assert (limited["success"], limited["errors"]) == (
        False,
        [{"code": "606", "message": "Max rate limit '3' exceeded with in '2' secs"}],
    )

    # The library backs off on 606 and gets through once the window has
    # passed. (Its retry drops the token, so each retry ends in 601, which
    # execute() answers by calling again with the token.)
    mc = client(sim)
    assert len(mc.execute(method="describe")) == 28
    assert admin(sim, "GET", "/stats").json()["errors"]["606"] >= 2

    assert admin(sim, "POST", "/reset-usage").status_code == 204
    today = (datetime.now(timezone.utc) - timedelta(hours=6)).strftime("%Y-%m-%d")
    assert mc.execute(method="get_daily_usage") == [
        {"date": today, "total": 1, "users": [{"userId": API_USER, "count": 1}]}
    ]
    admin(sim, "PUT", "/config", json={"rate_limit_calls": 100, "rate_limit_window_secs": 20, "daily_quota": 2})
    assert len(mc.execute(method="describe")) == 28
    with pytest.raises(Exception) as excinfo:
        mc.execute(method="describe")
    assert library_error(excinfo) == {"message": "Daily quota reached", "code": "607"}
    refused = api(sim, "GET", "/rest/v1/leads/describe.json", token).json()
    assert refused["errors"] == [{"code": "607", "message": "Daily quota reached"}]
    assert admin(sim, "PUT", "/config", json={"no_such_setting": 1}).status_code == 400


# ---------------------------------------------------------------- state


def test_state_file_keeps_leads_and_activities_across_restart(start_marketo, tmp_path):
    state_file = tmp_path / "marketo-state.json"
    sim = start_marketo("--seed", "empty", "--state", str(state_file))
    mc = client(sim)
    mc.execute(
        method="create_update_leads",
        leads=[{"email": f"user{i}@example.com", "firstName": f"User{i}", "leadScore": i} for i in range(1, 4)],
        action="createOnly",
    )
    mc.execute(method="create_update_leads", leads=[{"email": "user2@example.com", "title": "Owner"}])
    fields = ["email", "firstName", "leadScore", "title", "createdAt", "updatedAt"]
    before = mc.execute(method="get_multiple_leads_by_filter_type", filterType="id", filterValues=["1", "2", "3"], fields=fields)
    token = mc.execute(method="get_paging_token", sinceDatetime=LONG_AGO)
    activities_before = mc.execute(method="get_lead_activities", activityTypeIds=["12", "13"], nextPageToken=token)
    assert len(activities_before) == 4

    sim.restart()
    saved = json.loads(state_file.read_text())
    assert sorted(saved["leads"]) == ["1", "2", "3"]
    assert "(3 leads)" in sim.log_text()

    mc = client(sim)  # new port, new token
    after = mc.execute(method="get_multiple_leads_by_filter_type", filterType="id", filterValues=["1", "2", "3"], fields=fields)
    assert after == before
    assert after[1]["title"] == "Owner"
    assert mc.execute(method="get_lead_activities", activityTypeIds=["12", "13"], nextPageToken=token) == activities_before
    assert mc.execute(method="create_update_leads", leads=[{"email": "user4@example.com"}], action="createOnly") == [
        {"id": 4, "status": "created"}
    ]


def test_demo_seed_has_deterministic_realistic_leads(start_marketo):
    sim = start_marketo()
    assert "marketo simulator listening on" in sim.log_text()
    assert f"client id: {CLIENT_ID}; client secret: {CLIENT_SECRET}" in sim.log_text()
    stats = admin(sim, "GET", "/stats").json()
    assert stats["leads"] == 2500
    mc = client(sim)
    totals = {}
    for region in ("EMEA", "AMER", "APAC"):
        leads = mc.execute(method="get_multiple_leads_by_filter_type", filterType="region", filterValues=[region], fields=["region"])
        assert {lead["region"] for lead in leads} == {region}
        totals[region] = len(leads)
    assert sum(totals.values()) == 2500
    edges = mc.execute(
        method="get_multiple_leads_by_filter_type",
        filterType="externalLeadId",
        filterValues=["EXT-000001", "EXT-002500"],
        fields=["externalLeadId", "createdAt"],
    )
    assert [(lead["id"], lead["externalLeadId"]) for lead in edges] == [(1, "EXT-000001"), (2500, "EXT-002500")]
    assert edges[0]["createdAt"].startswith("2024-01-01T")
