"""The simulator's Streaming API (CometD) as a third-party client finds it:
aiosfstream-ng (the maintained fork of aiosfstream) opens at once, and
change events carry compound fields as nested structures and the API
version of the call that made the change in `changeOrigin`."""
import asyncio
import time

from aiosfstream_ng import Client
from aiosfstream_ng.auth import AuthenticatorBase
import requests

from conftest import sim_tokens

CALL_VERSION = "58.0"


class SimToken(AuthenticatorBase):
    """A session of the simulator's demo user (aiosfstream's own
    authenticators log in at login.salesforce.com)."""

    def __init__(self, sim):
        super().__init__()
        self.sim = sim

    async def _authenticate(self):
        token = sim_tokens(self.sim)["access_token"]
        return 200, {"access_token": token, "instance_url": self.sim.base_url, "id": "sim", "token_type": "Bearer",
                     "issued_at": str(int(time.time() * 1000)), "signature": "sim"}


async def next_message(client, timeout=10.0):
    return await asyncio.wait_for(client.receive(), timeout)


def test_a_third_party_cometd_client_opens_at_once_and_reads_nested_compound_fields(sim_factory):
    sim = sim_factory("salesforce", "--seed", "demo", tls=False)
    token = sim_tokens(sim)["access_token"]

    def rest(method, path, body):
        response = requests.request(method, f"{sim.base_url}/services/data/v{CALL_VERSION}/sobjects/{path}", json=body,
                                    headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.ok, response.text
        return response.json() if response.content else None

    async def scenario():
        started = time.monotonic()
        async with Client(SimToken(sim), replay_fallback=None) as client:
            opened = time.monotonic() - started
            await client.subscribe("/data/ContactChangeEvent")
            created = rest("POST", "Contact", {"FirstName": "Ada", "LastName": "Lovelace", "MailingCity": "London",
                                               "Email": "ada@example.com"})
            first = await next_message(client)
            rest("PATCH", f"Contact/{created['id']}", {"FirstName": "Augusta"})
            second = await next_message(client)
            return opened, created["id"], first, second

    opened, contact_id, first, second = asyncio.run(scenario())
    assert opened < 3.0, f"the client took {opened:.1f} s to open (the first connect was held)"

    payload = first["data"]["payload"]
    header = payload["ChangeEventHeader"]
    assert header["changeType"] == "CREATE" and header["recordIds"] == [contact_id]
    assert header["changeOrigin"] == f"com/salesforce/api/rest/{CALL_VERSION}"
    assert payload["Name"] == {"Salutation": None, "FirstName": "Ada", "LastName": "Lovelace"}
    assert payload["MailingAddress"] == {"City": "London", "Country": None}
    assert payload["Email"] == "ada@example.com"
    for flat in ("FirstName", "LastName", "MailingCity", "SystemModstamp", "IsDeleted", "Id"):
        assert flat not in payload, flat

    payload = second["data"]["payload"]
    header = payload["ChangeEventHeader"]
    assert header["changeType"] == "UPDATE"
    assert payload["Name"] == {"FirstName": "Augusta"}, "only the changed part of the compound"
    assert "Name.FirstName" in header["changedFields"] and "LastModifiedDate" in header["changedFields"]
    assert second["data"]["event"]["replayId"] > first["data"]["event"]["replayId"]
