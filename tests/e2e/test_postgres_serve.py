"""``calltape serve --db postgresql://…``: the API and the registrar work against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx

from calltape.store.database import Database
from calltape.store.registrations import Registrations
from tests.frontdoor.test_registrar import Device, Registering
from tests.server import TOKEN, ServerProcess


def test_serve_on_postgresql(tmp_path: Path, fresh_pg_url: str) -> None:
    server = ServerProcess(tmp_path / "data", extra_args=["--db", fresh_pg_url]).start()
    try:
        realm = f"pg{uuid.uuid4().hex[:6]}.example.com"
        with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}) as api:
            account = api.post("/v2/accounts", json={"data": {"name": "PG", "realm": realm}}).json()["data"]["id"]
            doc = {"name": "desk", "sip": {"username": "alice", "password": "pw-alice-1"}}
            device_id = api.post(f"/v2/accounts/{account}/devices", json={"data": doc}).json()["data"]["id"]
        device = Device(realm, "alice", "pw-alice-1", device_id)
        assert Registering(server.sip_port, device).send("<sip:alice@127.0.0.1:5999>", "120").status == 200
        assert not (tmp_path / "data" / "calltape.db").exists()  # nothing went to SQLite

        async def bound() -> list[str]:
            db = Database(fresh_pg_url)  # a second node reading the same database
            contacts = [b.contact for b in await Registrations(db).for_device(device_id, time.time())]
            await db.close()
            return contacts

        assert asyncio.run(bound()) == ["sip:alice@127.0.0.1:5999"]
    finally:
        assert server.stop() == 0
