"""The e2e tests' one rig: a running calltape and an account on it, provisioned through its REST API.

``running(...)`` starts a server with the test file's flags, creates the account (of the test file's own
subclass, for its extras), and at the end stops the server and checks its log for tracebacks.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.server import TOKEN, ServerProcess

PASSWORD = "phone-secret-1"  # the devices' SIP password unless a test says otherwise
FAULTS = ("Traceback", "never awaited", "Fatal error", "Task exception")

A = TypeVar("A", bound="Account")
_NUMBERS = itertools.count(7000)  # callflow numbers: unique across accounts, so a carrier's call reaches the one meant


@dataclass
class Account:
    """A running server, an API client and one account in a fresh realm."""

    server: ServerProcess
    api: httpx.Client
    account_id: str
    realm: str
    numbers: Iterator[int] = field(default=_NUMBERS, repr=False, kw_only=True)

    @classmethod
    def create(cls: type[A], server: ServerProcess, name: str, doc: dict[str, Any] | None = None, **extra: Any) -> A:
        """A new account on *server*: *doc*'s keys, its realm ``<name><random>.example.com`` unless *doc* names one."""
        api = httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=30)
        realm = (doc or {}).get("realm") or f"{name.lower()}{uuid.uuid4().hex[:6]}.example.com"
        r = api.put("/v2/accounts", json={"data": {"name": name, **(doc or {}), "realm": realm}})
        assert r.status_code == 201, r.text
        return cls(server, api, r.json()["data"]["id"], realm, **extra)

    def put(self, kind: str, data: dict[str, Any]) -> str:
        """Create a document (``devices``, ``users``, ``callflows``, …); its id."""
        r = self.api.put(f"/v2/accounts/{self.account_id}/{kind}", json={"data": data})
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    def device(self, username: str, *, password: str = PASSWORD, owner_id: str | None = None, **sip: Any) -> str:
        """A device logging in as *username*; its id."""
        doc: dict[str, Any] = {"name": username, "sip": {"username": username, "password": password, **sip}}
        return self.put("devices", {**doc, "owner_id": owner_id} if owner_id else doc)

    def callflow(self, flow: dict[str, Any], number: str | None = None) -> str:
        """A callflow reached by *number* (else the account's next free one); the number."""
        number = number or str(next(self.numbers))
        self.put("callflows", {"numbers": [number], "flow": flow})
        return number

    def recordings(self, **query: str) -> list[dict[str, Any]]:
        """The account's recordings, filtered by *query*."""
        r = self.api.get(f"/v2/accounts/{self.account_id}/recordings", params=query)
        assert r.status_code == 200, r.text
        return list(r.json()["data"])

    def log_text(self) -> str:
        """The server's log so far."""
        return self.server.log_path.read_text(errors="replace")

    def assert_no_traceback(self) -> None:
        """Nothing in the log says the server failed inside."""
        text = self.log_text()
        for marker in FAULTS:
            assert marker not in text, text[max(0, text.find(marker) - 500) :][:3000]


@contextlib.contextmanager
def running(
    data_dir: Path,
    args: Sequence[str],
    name: str,
    kind: type[A] = Account,  # type: ignore[assignment]
    doc: dict[str, Any] | None = None,
    **extra: Any,
) -> Iterator[A]:
    """A server started with *args* and an account of *kind* on it (``create``'s *doc* and *extra*); afterwards
    the server is stopped (exit 0) and its log must hold no traceback."""
    server = ServerProcess(data_dir, list(args)).start()
    try:
        account = kind.create(server, name, doc, **extra)
    except BaseException:
        server.stop()
        raise
    try:
        yield account
    finally:
        account.api.close()
        stopped = server.stop()
    assert stopped == 0, f"the server exited {stopped}"
    account.assert_no_traceback()


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
