"""An account on a running calltape, provisioned through its REST API, for the e2e tests."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.server import TOKEN, ServerProcess


@dataclass
class Account:
    """A running server, an API client and one account in a fresh realm."""

    server: ServerProcess
    api: httpx.Client
    account_id: str
    realm: str

    @classmethod
    def create(cls, server: ServerProcess, name: str) -> Account:
        """A new account (realm ``<name><random>.example.com``) on *server*."""
        api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
        realm = f"{name.lower()}{uuid.uuid4().hex[:6]}.example.com"
        r = api.put("/v2/accounts", json={"data": {"name": name, "realm": realm}})
        assert r.status_code == 201, r.text
        return cls(server, api, r.json()["data"]["id"], realm)

    def put(self, kind: str, data: dict[str, Any]) -> str:
        """Create a document (``devices``, ``users``, ``callflows``, …); its id."""
        r = self.api.put(f"/v2/accounts/{self.account_id}/{kind}", json={"data": data})
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    def recordings(self, **query: str) -> list[dict[str, Any]]:
        """The account's recordings, filtered by *query*."""
        r = self.api.get(f"/v2/accounts/{self.account_id}/recordings", params=query)
        assert r.status_code == 200, r.text
        return list(r.json()["data"])


def wait_delivered(api: httpx.Client, account_id: str, call_id: str, timeout: float = 20.0) -> dict[str, Any]:
    """The one recording of *call_id*, once it is delivered (fails after *timeout* seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(f"/v2/accounts/{account_id}/recordings", params={"call_id": call_id})
        assert r.status_code == 200, r.text
        found = list(r.json()["data"])
        if found and all(doc["state"] == "delivered" for doc in found):
            assert len(found) == 1, found
            return dict(found[0])
        assert time.monotonic() < deadline, f"recording of {call_id} not delivered: {found}"
        time.sleep(0.1)
