"""The Salesforce simulator driven by simple-salesforce (and plain requests
where the library has no call), over HTTPS with a self-signed certificate."""
import subprocess
import urllib.parse

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
    SalesforceMoreThanOneRecord,
)

USERNAME = "admin@sluice.dev"
PASSWORD = "sluice-demo"
TOKEN = "SLUICETOKEN"
CLIENT_ID = "sluice-sim-client"
CLIENT_SECRET = "sluice-sim-secret"
VERSION = "62.0"


class LoginHostAdapter(HTTPAdapter):
    """Sends requests for login.salesforce.com to the simulator (simple-salesforce
    builds login URLs from a fixed domain, as clients of the real service do)."""

    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url

    def send(self, request, **kwargs):
        parts = urllib.parse.urlsplit(request.url)
        request.url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


def session_for(sim):
    session = requests.Session()
    # Without this, a REQUESTS_CA_BUNDLE in the environment would override `verify`.
    session.trust_env = False
    session.verify = str(sim.cert)
    session.mount("https://login.salesforce.com", LoginHostAdapter(sim.base_url))
    return session


def oauth(sim, **form):
    return requests.post(f"{sim.base_url}/services/oauth2/token", data=form, verify=str(sim.cert))


def password_token(sim):
    response = oauth(sim, grant_type="password", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                     username=USERNAME, password=PASSWORD + TOKEN)
    assert response.status_code == 200, response.text
    return response.json()


def client(sim):
    token = password_token(sim)
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"],
                      session=session_for(sim), version=VERSION)


def admin(sim, method, path, **kwargs):
    response = requests.request(method, f"{sim.base_url}/__sim{path}", verify=str(sim.cert), **kwargs)
    assert response.status_code < 300, response.text
    return response


@pytest.fixture
def sim(sim_factory):
    return sim_factory("salesforce", "--seed", "demo")


@pytest.fixture
def sf(sim):
    return client(sim)


# ------------------------------------------------------------------- auth


def test_password_grant_returns_a_bearer_token_for_the_instance(sim):
    token = password_token(sim)
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == sim.base_url
    assert token["id"].startswith(f"{sim.base_url}/id/00D")
    assert "refresh_token" not in token


@pytest.mark.parametrize("form, error", [
    ({"client_id": "nope", "client_secret": CLIENT_SECRET, "username": USERNAME, "password": PASSWORD + TOKEN}, "invalid_client_id"),
    ({"client_id": CLIENT_ID, "client_secret": "wrong", "username": USERNAME, "password": PASSWORD + TOKEN}, "invalid_client"),
    ({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "username": USERNAME, "password": "bad"}, "invalid_grant"),
])
def test_password_grant_errors(sim, form, error):
    response = oauth(sim, grant_type="password", **form)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_unknown_grant_type_is_refused(sim):
    response = oauth(sim, grant_type="magic", client_id=CLIENT_ID)
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


def test_soap_login_through_simple_salesforce(sim):
    session_id, instance = SalesforceLogin(username=USERNAME, password=PASSWORD, security_token=TOKEN,
                                           session=session_for(sim), sf_version=VERSION)
    assert instance == f"127.0.0.1:{sim.port}"
    sf = Salesforce(instance=instance, session_id=session_id, session=session_for(sim), version=VERSION)
    assert sf.query("SELECT Id FROM User WHERE Username = 'admin@sluice.dev'")["totalSize"] == 1


def test_full_login_with_username_password_and_token(sim):
    sf = Salesforce(username=USERNAME, password=PASSWORD, security_token=TOKEN, session=session_for(sim), version=VERSION)
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 500


def test_soap_login_faults(sim):
    with pytest.raises(SalesforceAuthenticationFailed) as wrong:
        SalesforceLogin(username=USERNAME, password="wrong", security_token=TOKEN, session=session_for(sim))
    assert wrong.value.code == "INVALID_LOGIN"
    with pytest.raises(SalesforceAuthenticationFailed) as no_token:
        SalesforceLogin(username=USERNAME, password=PASSWORD, security_token="", session=session_for(sim))
    assert no_token.value.code == "LOGIN_MUST_USE_SECURITY_TOKEN"


def test_authorization_code_then_refresh_token(sim):
    authorize = requests.get(
        f"{sim.base_url}/services/oauth2/authorize",
        params={"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "https://app.example/cb", "state": "xyz"},
        verify=str(sim.cert), allow_redirects=False,
    )
    assert authorize.status_code in (302, 303), authorize.text
    location = urllib.parse.urlsplit(authorize.headers["location"])
    query = urllib.parse.parse_qs(location.query)
    assert location.netloc == "app.example" and query["state"] == ["xyz"]
    exchanged = oauth(sim, grant_type="authorization_code", code=query["code"][0], client_id=CLIENT_ID,
                      client_secret=CLIENT_SECRET, redirect_uri="https://app.example/cb")
    assert exchanged.status_code == 200, exchanged.text
    refresh = exchanged.json()["refresh_token"]
    again = oauth(sim, grant_type="authorization_code", code=query["code"][0], client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert again.json()["error"] == "invalid_grant", "a code works once"
    refreshed = oauth(sim, grant_type="refresh_token", refresh_token=refresh, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert refreshed.status_code == 200
    sf = Salesforce(instance_url=sim.base_url, session_id=refreshed.json()["access_token"], session=session_for(sim), version=VERSION)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 2000
    bad = oauth(sim, grant_type="refresh_token", refresh_token="nope", client_id=CLIENT_ID)
    assert (bad.status_code, bad.json()["error"], bad.json()["error_description"]) == (400, "invalid_grant", "expired access/refresh token")


def test_refresh_token_rotation(sim_factory):
    sim = sim_factory("salesforce", "--seed", "empty", "--rotate-refresh-tokens")
    minted = admin(sim, "POST", "/tokens", json={}).json()
    first = oauth(sim, grant_type="refresh_token", refresh_token=minted["refresh_token"], client_id=CLIENT_ID).json()
    assert first["refresh_token"] != minted["refresh_token"]
    reused = oauth(sim, grant_type="refresh_token", refresh_token=minted["refresh_token"], client_id=CLIENT_ID)
    assert reused.json()["error"] == "invalid_grant", "a rotated refresh token is revoked"
    second = oauth(sim, grant_type="refresh_token", refresh_token=first["refresh_token"], client_id=CLIENT_ID)
    assert second.status_code == 200


def test_client_credentials_grant(sim):
    response = oauth(sim, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert response.status_code == 200
    assert response.json()["access_token"]


def test_userinfo(sim):
    token = password_token(sim)
    info = requests.get(f"{sim.base_url}/services/oauth2/userinfo", verify=str(sim.cert),
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["preferred_username"] == USERNAME
    assert info["organization_id"].startswith("00D")


def test_expired_sessions_get_invalid_session_id(sim, sf):
    sf.query("SELECT Id FROM Account LIMIT 1")
    admin(sim, "POST", "/expire-sessions")
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_short_token_lifetime(sim_factory):
    import time
    sim = sim_factory("salesforce", "--seed", "empty", "--token-lifetime", "1")
    sf = client(sim)
    sf.query("SELECT Id FROM User")
    time.sleep(1.2)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User")


# --------------------------------------------------------------- describe


def test_global_describe_lists_standard_and_custom_objects(sf):
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Lead", "Case", "Opportunity", "Holiday__c", "Holiday_Event__e"} <= names


def test_object_describe_has_salesforce_field_metadata(sf):
    describe = sf.Lead.describe()
    assert describe["keyPrefix"] == "00Q"
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["LastName"]["nillable"] is False and fields["LastName"]["type"] == "string"
    assert fields["Id"]["type"] == "id" and fields["Id"]["createable"] is False
    assert fields["SystemModstamp"]["type"] == "datetime"
    assert "Open - Not Contacted" in [p["value"] for p in fields["Status"]["picklistValues"]]
    holiday = {f["name"]: f for f in sf.Holiday__c.describe()["fields"]}
    assert holiday["External_Id__c"]["externalId"] is True and holiday["External_Id__c"]["custom"] is True


def test_unknown_object_is_not_found(sf):
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.describe()


# ------------------------------------------------------------------- CRUD


def test_create_read_update_delete_contact(sf):
    created = sf.Contact.create({"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"})
    assert created["success"] is True and created["id"].startswith("003") and len(created["id"]) == 18
    record = sf.Contact.get(created["id"])
    assert (record["Name"], record["Email"], record["attributes"]["type"]) == ("Ada Lovelace", "ada@example.com", "Contact")
    first_stamp = record["SystemModstamp"]
    assert sf.Contact.update(created["id"], {"Title": "Countess"}) == 204
    updated = sf.Contact.get(created["id"])
    assert updated["Title"] == "Countess"
    assert updated["SystemModstamp"] >= first_stamp
    assert sf.Contact.get(created["id"][:15])["Id"] == created["id"], "15-character ids work too"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        sf.Contact.get(created["id"])
    assert gone.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_create_errors_carry_salesforce_codes(sf):
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Contact.create({"FirstName": "NoLast"})
    assert missing.value.content == [{"message": "Required fields are missing: [LastName]",
                                      "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]}]
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.Account.create({"Name": "X", "Shoe__c": 1})
    assert unknown.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as readonly:
        sf.Account.create({"Name": "X", "CreatedDate": "2020-01-01T00:00:00Z"})
    assert readonly.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as too_long:
        sf.Account.create({"Name": "x" * 256})
    assert too_long.value.content[0]["errorCode"] == "STRING_TOO_LONG"


def test_upsert_by_external_id_creates_then_updates(sf):
    first = sf.Holiday__c.upsert("External_Id__c/HOL-9001", {"Name": "Founders Day", "Region__c": "EMEA"})
    assert first == 201
    second = sf.Holiday__c.upsert("External_Id__c/HOL-9001", {"Status__c": "Applied"})
    assert second == 200
    record = sf.Holiday__c.get_by_custom_id("External_Id__c", "HOL-9001")
    assert (record["Name"], record["Region__c"], record["Status__c"]) == ("Founders Day", "EMEA", "Applied")
    rows = sf.query("SELECT Id FROM Holiday__c WHERE External_Id__c = 'HOL-9001'")
    assert rows["totalSize"] == 1, "upsert twice leaves one record"


def test_several_matches_answer_300(sim, sf):
    # An external id field that is not unique can match several records.
    admin(sim, "POST", "/objects", json={"name": "Loose__c", "fields": [
        {"name": "Code__c", "label": "Code", "type": "string", "length": 20, "external_id": True, "unique": False}]})
    first = sf.Loose__c.create({"Name": "a", "Code__c": "X"})["id"]
    second = sf.Loose__c.create({"Name": "b", "Code__c": "X"})["id"]
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Loose__c.upsert("Code__c/X", {"Name": "c"})
    assert sorted(several.value.content) == sorted(
        f"/services/data/v{VERSION}/sobjects/Loose__c/{record_id}" for record_id in (first, second))


def test_injected_latency(sim, sf):
    import time
    admin(sim, "PUT", "/faults", json=[{"path_contains": "/sobjects/Case", "latency_ms": 400}])
    started = time.monotonic()
    sf.Case.describe()
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    sf.Account.describe()
    assert time.monotonic() - started < 0.4


def test_platform_event_publish(sim, sf):
    result = sf.Holiday_Event__e.create({"Action__c": "Add", "Holiday_Id__c": "HOL-0001", "Region__c": "EMEA"})
    assert result["success"] is True
    events = admin(sim, "GET", "/events").json()
    latest = events[0]
    assert latest["channel"] == "/event/Holiday_Event__e"
    assert latest["payload"]["Action__c"] == "Add"


def test_every_write_emits_a_change_event(sim, sf):
    created = sf.Account.create({"Name": "CDC Co"})
    sf.Account.update(created["id"], {"Industry": "Energy"})
    events = [e for e in admin(sim, "GET", "/events").json() if e["channel"] == "/data/AccountChangeEvent"]
    update, create = events[0], events[1]
    assert create["payload"]["ChangeEventHeader"]["changeType"] == "CREATE"
    assert update["payload"]["ChangeEventHeader"]["changeType"] == "UPDATE"
    assert update["payload"]["ChangeEventHeader"]["recordIds"] == [created["id"]]
    assert "Industry" in update["payload"]["ChangeEventHeader"]["changedFields"]
    assert update["payload"]["Industry"] == "Energy"
    assert update["replayId"] > create["replayId"]


# ------------------------------------------------------------------ query


def test_query_filters_orders_and_limits(sf):
    result = sf.query("SELECT Id, Name, Industry, AnnualRevenue FROM Account "
                      "WHERE Industry IN ('Banking', 'Energy') AND AnnualRevenue >= 10000000 "
                      "ORDER BY AnnualRevenue DESC, Name LIMIT 5")
    records = result["records"]
    assert result["done"] is True and len(records) == 5
    assert all(r["Industry"] in ("Banking", "Energy") and r["AnnualRevenue"] >= 10_000_000 for r in records)
    revenues = [r["AnnualRevenue"] for r in records]
    assert revenues == sorted(revenues, reverse=True)
    assert list(records[0].keys()) == ["attributes", "Id", "Name", "Industry", "AnnualRevenue"]


def test_query_like_not_and_offset(sf):
    everything = sf.query_all("SELECT Id, Name FROM Account WHERE Name LIKE 'acme%' ORDER BY Name")["records"]
    assert everything and all(r["Name"].lower().startswith("acme") for r in everything)
    page = sf.query("SELECT Id, Name FROM Account WHERE Name LIKE 'acme%' ORDER BY Name LIMIT 3 OFFSET 2")["records"]
    assert [r["Id"] for r in page] == [r["Id"] for r in everything[2:5]]
    rest = sf.query_all("SELECT Id FROM Account WHERE NOT Name LIKE 'acme%'")["totalSize"]
    assert rest + len(everything) == 500


def test_query_datetime_literals(sf):
    created = sf.Lead.create({"LastName": "Recent", "Company": "Now Inc"})
    recent = sf.query_all("SELECT Id FROM Lead WHERE CreatedDate > 2020-01-01T00:00:00Z AND LastName = 'Recent'")
    assert [r["Id"] for r in recent["records"]] == [created["id"]]
    none = sf.query("SELECT Id FROM Lead WHERE CreatedDate > 2999-01-01T00:00:00.000+0000")
    assert none["totalSize"] == 0


def test_query_pages_through_next_records_url(sim, sf):
    admin(sim, "POST", "/generate", json={"object": "Lead", "count": 5000})
    first = sf.query("SELECT Id, Email FROM Lead")
    assert first["totalSize"] == 7000 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/01g")
    everything = sf.query_all("SELECT Id, Email FROM Lead")
    ids = [r["Id"] for r in everything["records"]]
    assert len(ids) == 7000 and len(set(ids)) == 7000
    streamed = sum(1 for _ in sf.query_all_iter("SELECT Id FROM Lead"))
    assert streamed == 7000


def test_query_batch_size_header(sim, sf):
    response = requests.get(f"{sim.base_url}/services/data/v{VERSION}/query", params={"q": "SELECT Id FROM Lead"},
                            headers={**sf.headers, "Sforce-Query-Options": "batchSize=500"}, verify=str(sim.cert))
    assert len(response.json()["records"]) == 500


def test_query_all_includes_deleted_records(sf):
    created = sf.Case.create({"Subject": "to delete"})
    sf.Case.delete(created["id"])
    live = sf.query(f"SELECT Id FROM Case WHERE Id = '{created['id']}'")
    assert live["totalSize"] == 0
    deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Case WHERE Id = '{created['id']}'", include_deleted=True)
    assert [(r["Id"], r["IsDeleted"]) for r in deleted["records"]] == [(created["id"], True)]


def test_query_errors(sf):
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT Id FROM Account WHERE Name = 'x' AND")
    assert malformed.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in malformed.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as bad_field:
        sf.query("SELECT Id, Shoe FROM Account")
    assert bad_field.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Shoe' on entity 'Account'" in bad_field.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as bad_type:
        sf.query("SELECT Id FROM Shoe__c")
    assert bad_type.value.content[0]["errorCode"] == "INVALID_TYPE"
    with pytest.raises(SalesforceMalformedRequest) as bad_locator:
        sf.query_more("01gNOTACURSOR-2000", identifier_is_url=False)
    assert bad_locator.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


# ------------------------------------------------------------ collections


def test_collections_create_update_delete(sf):
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
        {"attributes": {"type": "Account"}, "Name": "Coll One"},
        {"attributes": {"type": "Contact"}, "LastName": "Coll"},
        {"attributes": {"type": "Contact"}, "FirstName": "NoLast"},
    ]})
    assert [r["success"] for r in created] == [True, True, False]
    assert created[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    updated = sf.restful("composite/sobjects", method="PATCH", json={"records": [
        {"attributes": {"type": "Account"}, "id": created[0]["id"], "Industry": "Media"},
    ]})
    assert updated == [{"id": created[0]["id"], "success": True, "errors": []}]
    assert sf.Account.get(created[0]["id"])["Industry"] == "Media"
    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{created[0]['id']},{created[1]['id']}"})
    assert [d["success"] for d in deleted] == [True, True]


def test_collections_all_or_none_rolls_back(sf):
    before = sf.query("SELECT COUNT() FROM Account")["totalSize"]
    result = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Account"}, "Name": "Would Be Rolled Back"},
        {"attributes": {"type": "Account"}, "Name": "x" * 300},
    ]})
    assert [r["success"] for r in result] == [False, False]
    assert result[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert result[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == before


def test_collections_upsert_and_retrieve(sf):
    records = [{"attributes": {"type": "Holiday__c"}, "External_Id__c": f"COL-{i}", "Name": f"H{i}"} for i in range(3)]
    first = sf.restful("composite/sobjects/Holiday__c/External_Id__c", method="PATCH", json={"records": records})
    assert [r["created"] for r in first] == [True, True, True]
    records[1]["Name"] = "Changed"
    second = sf.restful("composite/sobjects/Holiday__c/External_Id__c", method="PATCH", json={"records": records})
    assert [r["created"] for r in second] == [False, False, False]
    ids = ",".join(r["id"] for r in second)
    fetched = sf.restful("composite/sobjects/Holiday__c", params={"ids": ids, "fields": "Name,External_Id__c"})
    assert [r["Name"] for r in fetched] == ["H0", "Changed", "H2"]


def test_collections_refuse_more_than_200_records(sf):
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert refused.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


# --------------------------------------------------------- limits, faults


def test_limits_and_usage_header(sf):
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    sf.query("SELECT Id FROM Account LIMIT 1")
    used, limit = sf.api_usage["api-usage"]
    assert limit == 15000 and used >= 2


def test_request_limit_after_n_calls(sim, sf):
    admin(sim, "PUT", "/faults", json=[{"path_contains": "/query", "limit_after_calls": 2}])
    sf.query("SELECT Id FROM Account LIMIT 1")
    sf.query("SELECT Id FROM Account LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as limited:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert limited.value.status == 403
    assert limited.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.Account.describe()["name"] == "Account", "other routes are not affected"


def test_injected_503s(sim, sf):
    admin(sim, "PUT", "/faults", json=[{"path_contains": "/sobjects/Account", "error_rate": 1.0, "status": 503}])
    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.Account.describe()
    assert unavailable.value.status == 503
    admin(sim, "DELETE", "/faults")
    assert sf.Account.describe()["name"] == "Account"


def test_unsupported_api_version_is_not_found(sim):
    token = password_token(sim)
    response = requests.get(f"{sim.base_url}/services/data/v40.0/sobjects", verify=str(sim.cert),
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 404
    assert response.json()[0]["errorCode"] == "NOT_FOUND"


def test_state_file_survives_restart(sim_factory, tmp_path):
    state = tmp_path / "org.json"
    sim = sim_factory("salesforce", "--seed", "empty", "--state", str(state))
    created = client(sim).Account.create({"Name": "Persistent Inc"})
    sim.restart()
    record = client(sim).Account.get(created["id"])
    assert record["Name"] == "Persistent Inc"


# ------------------------------------------------------------ Bulk API 2.0


def csv_rows(text):
    import csv
    import io
    return list(csv.DictReader(io.StringIO(text)))


def test_bulk2_insert_reports_successes_and_failures(sf):
    records = [{"LastName": f"Bulk{i}", "Company": "Bulk Co", "Email": f"b{i}@example.com"} for i in range(250)]
    records.append({"LastName": "", "Company": "No Last Name"})
    [result] = sf.bulk2.Lead.insert(records=records, wait=0.1)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (251, 1)
    failed = csv_rows(sf.bulk2.Lead.get_failed_records(result["job_id"]))
    assert len(failed) == 1
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]")
    assert failed[0]["Company"] == "No Last Name"
    succeeded = csv_rows(sf.bulk2.Lead.get_successful_records(result["job_id"]))
    assert len(succeeded) == 250 and all(r["sf__Created"] == "true" for r in succeeded)
    assert sf.query("SELECT COUNT() FROM Lead WHERE Company = 'Bulk Co'")["totalSize"] == 250


def test_bulk2_upsert_twice_leaves_no_duplicates(sf):
    records = [{"External_Id__c": f"BLK-{i}", "Name": f"Bulk holiday {i}", "Region__c": "APAC"} for i in range(50)]
    [first] = sf.bulk2.Holiday__c.upsert(records=records, external_id_field="External_Id__c", wait=0.1)
    [second] = sf.bulk2.Holiday__c.upsert(records=records, external_id_field="External_Id__c", wait=0.1)
    assert first["numberRecordsFailed"] == second["numberRecordsFailed"] == 0
    created = [r["sf__Created"] for r in csv_rows(sf.bulk2.Holiday__c.get_successful_records(second["job_id"]))]
    assert created == ["false"] * 50
    assert sf.query("SELECT COUNT() FROM Holiday__c WHERE External_Id__c LIKE 'BLK-%'")["totalSize"] == 50


def test_bulk2_query_pages_with_locator(sf):
    pages = list(sf.bulk2.Lead.query("SELECT Id, LastName, Company FROM Lead ORDER BY LastName", max_records=700, wait=0.1))
    rows = [row for page in pages for row in csv_rows(page)]
    assert len(pages) == 3 and len(rows) == 2000
    assert list(rows[0].keys()) == ["Id", "LastName", "Company"]
    assert len({r["Id"] for r in rows}) == 2000
    assert [r["LastName"] for r in rows] == sorted((r["LastName"] for r in rows), key=str.lower)


def test_bulk2_query_all_sees_deleted(sf):
    created = sf.Opportunity.create({"Name": "Gone", "StageName": "Prospecting", "CloseDate": "2026-12-01"})
    sf.Opportunity.delete(created["id"])
    live = [r for page in sf.bulk2.Opportunity.query(f"SELECT Id FROM Opportunity WHERE Id = '{created['id']}'", wait=0.1) for r in csv_rows(page)]
    everything = [r for page in sf.bulk2.Opportunity.query_all(f"SELECT Id, IsDeleted FROM Opportunity WHERE Id = '{created['id']}'", wait=0.1) for r in csv_rows(page)]
    assert live == []
    assert everything == [{"Id": created["id"], "IsDeleted": "true"}]


def test_bulk2_job_state_machine(sim, sf):
    base = f"{sim.base_url}/services/data/v{VERSION}/jobs/ingest"
    headers = {**sf.headers}
    job = requests.post(base, json={"object": "Contact", "operation": "insert"}, headers=headers, verify=str(sim.cert)).json()
    assert job["state"] == "Open" and job["id"].startswith("750")
    wrong_type = requests.put(f"{base}/{job['id']}/batches", data="LastName\nX\n", headers={**headers, "Content-Type": "application/json"}, verify=str(sim.cert))
    assert wrong_type.status_code == 400
    upload = requests.put(f"{base}/{job['id']}/batches", data="LastName\nX\n", headers={**headers, "Content-Type": "text/csv"}, verify=str(sim.cert))
    assert upload.status_code == 201
    aborted = requests.patch(f"{base}/{job['id']}", json={"state": "Aborted"}, headers=headers, verify=str(sim.cert)).json()
    assert aborted["state"] == "Aborted"
    reopened = requests.patch(f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers, verify=str(sim.cert))
    assert reopened.status_code == 400 and reopened.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    unprocessed = requests.get(f"{base}/{job['id']}/unprocessedrecords", headers=headers, verify=str(sim.cert))
    assert unprocessed.text == "LastName\nX\n"
    assert requests.delete(f"{base}/{job['id']}", headers=headers, verify=str(sim.cert)).status_code == 204
    assert requests.get(f"{base}/{job['id']}", headers=headers, verify=str(sim.cert)).status_code == 404
    bad = requests.post(base, json={"object": "Contact", "operation": "merge"}, headers=headers, verify=str(sim.cert))
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALIDJOB"


def test_jwt_bearer_login_with_simple_salesforce(sim, tmp_path):
    key = tmp_path / "app.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout"], check=True, capture_output=True, text=True).stdout
    admin(sim, "POST", "/apps", json={"client_id": "jwt-app", "client_secret": "unused", "jwt_public_key_pem": public})
    sf = Salesforce(username=USERNAME, consumer_key="jwt-app", privatekey_file=str(key), session=session_for(sim), version=VERSION)
    assert sf.query("SELECT Id FROM User WHERE Username = 'admin@sluice.dev'")["totalSize"] == 1
    other = tmp_path / "other.key"
    subprocess.run(["openssl", "genrsa", "-out", str(other), "2048"], check=True, capture_output=True)
    with pytest.raises(SalesforceAuthenticationFailed) as forged:
        Salesforce(username=USERNAME, consumer_key="jwt-app", privatekey_file=str(other), session=session_for(sim))
    assert forged.value.code == "invalid_grant"
    with pytest.raises(SalesforceAuthenticationFailed) as no_cert:
        Salesforce(username=USERNAME, consumer_key=CLIENT_ID, privatekey_file=str(key), session=session_for(sim))
    assert no_cert.value.code == "invalid_client"


def test_bulk2_update_and_delete(sf):
    ids = [sf.Contact.create({"LastName": f"BulkUpd{i}"})["id"] for i in range(3)]
    [updated] = sf.bulk2.Contact.update(records=[{"Id": i, "Title": "Updated"} for i in ids] + [{"Id": "003000000000000AAA", "Title": "x"}], wait=0.1)
    assert (updated["numberRecordsProcessed"], updated["numberRecordsFailed"]) == (4, 1)
    titles = sf.query(f"SELECT Title FROM Contact WHERE LastName LIKE 'BulkUpd%'")["records"]
    assert [r["Title"] for r in titles] == ["Updated"] * 3
    [deleted] = sf.bulk2.Contact.delete(records=[{"Id": i} for i in ids], wait=0.1)
    assert (deleted["numberRecordsProcessed"], deleted["numberRecordsFailed"]) == (3, 0)
    assert sf.query("SELECT COUNT() FROM Contact WHERE LastName LIKE 'BulkUpd%'")["totalSize"] == 0
