"""Numbers per tenant end to end (issue 19): two accounts both have extension 1000, and each device reaches its own;
a carrier's call reaches the account that holds the DID; a DID another account holds is refused with its holder.

Each account's callflow plays its own tone, so what the caller hears (decoded, its main frequency) says which
account's flow ran. Carriers call from 127.0.0.2, the only trusted source; devices from 127.0.0.1, with digest.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import numpy as np
import pytest

from tests.audio import dominant_frequency
from tests.phone import Phone
from tests.ports import rtp_ports
from tests.server import TOKEN, ServerProcess

PASSWORD = "tenant-secret-1"
TONES = {"acme": 600.0, "bolt": 1400.0}
DIDS = {"acme": "+15550001", "bolt": "+15550002"}


class Tenants:
    def __init__(self, server: ServerProcess, api: httpx.Client) -> None:
        self.server, self.api = server, api
        self.realms: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        for name, hz in TONES.items():
            realm = f"{name}{uuid.uuid4().hex[:6]}.example.com"
            r = api.put("/v2/accounts", json={"data": {"name": name, "realm": realm}})
            assert r.status_code == 201, r.text
            account = r.json()["data"]["id"]
            self.realms[name], self.ids[name] = realm, account
            desk = {"name": "desk", "sip": {"username": "desk", "password": PASSWORD}}
            assert api.put(f"/v2/accounts/{account}/devices", json={"data": desk}).status_code == 201
            flow = {"module": "tone", "data": {"frequencies": [hz], "duration_ms": 1500}}
            body = {"data": {"numbers": ["1000", DIDS[name]], "flow": flow}}
            r = api.put(f"/v2/accounts/{account}/callflows", json=body)
            assert r.status_code == 201, r.text  # the same extension as the other tenant's: allowed

    def did_url(self, name: str, number: str) -> str:
        return f"/v2/accounts/{self.ids[name]}/phone_numbers/{quote(number, safe='')}"


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    server = ServerProcess(
        tmp_path_factory.mktemp("tenants"),
        ["--trusted-networks", "127.0.0.2/32", "--rtp-ports", rtp_ports(25400, 25599)],
    ).start()
    api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
    yield Tenants(server, api)
    api.close()
    server.stop()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


async def _heard(phone: Phone, number: str) -> float:
    """Call *number*, stay until the flow hangs up, and say which tone was heard."""
    await phone.start()
    try:
        assert (await phone.call(number)).status == 200
        await phone.wait_bye(10)
        pcm = phone.received.pcm(0)
        loud = np.abs(pcm.astype(np.int32)) > 1000
        assert loud.sum() > 4000, f"heard {int(loud.sum())} loud samples"
        return dominant_frequency(pcm[loud.argmax() : len(loud) - loud[::-1].argmax()])
    finally:
        phone.close()


def test_each_tenants_device_reaches_its_own_extension_1000(tenants: Tenants) -> None:
    for name, hz in TONES.items():
        phone = Phone(tenants.server.sip_port, user="desk", realm=tenants.realms[name], password=PASSWORD)
        assert abs(asyncio.run(_heard(phone, "1000")) - hz) < 20, name


def test_a_carrier_call_reaches_the_account_that_holds_the_did(tenants: Tenants) -> None:
    for name in TONES:
        r = tenants.api.put(tenants.did_url(name, DIDS[name]))
        assert r.status_code == 201, r.text
        assert r.json()["data"]["number"] == DIDS[name]
        assert tenants.api.put(f"{tenants.did_url(name, DIDS[name])}/activate").status_code == 200
    taken = tenants.api.put(tenants.did_url("bolt", DIDS["acme"]))
    assert taken.status_code == 409 and tenants.ids["acme"] in taken.text
    listed = tenants.api.get(f"/v2/accounts/{tenants.ids['acme']}/phone_numbers").json()
    assert list(listed["data"]["numbers"]) == [DIDS["acme"]]

    for name, hz in TONES.items():  # delivered as the carrier sends it: with or without the +
        for dialled in (DIDS[name], DIDS[name].lstrip("+")):
            carrier = Phone(tenants.server.sip_port, host="127.0.0.2")
            assert abs(asyncio.run(_heard(carrier, dialled)) - hz) < 20, (name, dialled)

    assert tenants.api.delete(tenants.did_url("acme", DIDS["acme"])).status_code == 200
    taken = tenants.api.put(tenants.did_url("bolt", DIDS["acme"].lstrip("+")))  # released: now bolt's, any form
    assert taken.status_code == 201, taken.text
    flow = {"module": "tone", "data": {"frequencies": [TONES["bolt"]], "duration_ms": 1500}}
    ported = {"data": {"numbers": [DIDS["acme"]], "flow": flow}}  # bolt routes the number it now holds
    assert tenants.api.put(f"/v2/accounts/{tenants.ids['bolt']}/callflows", json=ported).status_code == 201
    for dialled in (DIDS["acme"], "1000"):  # the DID now reaches bolt; 1000, no DID: the tenant that had it first
        carrier = Phone(tenants.server.sip_port, host="127.0.0.2")
        expected = TONES["bolt"] if dialled != "1000" else TONES["acme"]
        assert abs(asyncio.run(_heard(carrier, dialled)) - expected) < 20, dialled


def test_a_bad_did_is_400_with_its_path(tenants: Tenants) -> None:
    r = tenants.api.put(tenants.did_url("acme", "not-a-number"))
    assert r.status_code == 400 and "number" in r.json()["data"]
