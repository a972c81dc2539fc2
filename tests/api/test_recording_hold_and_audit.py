"""Legal hold and the audit trail over the API of a running server: a held recording cannot be deleted; every
download, hold change and delete is written with who did it, newest first; the trail has no way to be edited."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from calltape.store.database import Database
from calltape.store.recordings import Recordings
from tests.server import TOKEN, ServerProcess


async def _stored_recording(server: ServerProcess, account_id: str) -> str:
    """A finished recording kept in the database, written to the server's own store."""
    db = Database(f"sqlite:///{server.data_dir / 'calltape.db'}")
    await db.open()
    try:
        recordings, recording_id = Recordings(db), uuid.uuid4().hex
        await recordings.create(
            {
                "id": recording_id,
                "account_id": account_id,
                "call_id": "c1",
                "owner_id": None,
                "format": "mp3",
                "name": "call_recording_c1.mp3",
                "created": time.time(),
                "duration_ms": 1000,
                "size": 4,
                "sha256": "",
                "channels": 2,
                "sample_rate": 8000,
                "spool_path": "/nonexistent",
                "node": "n",
                "target": {"kind": "db"},
                "doc": {},
            }
        )
        await recordings.finish(recording_id, {"state": "pending"}, deliver=True)
        await recordings.delivered(recording_id, "stored", b"ID3x")
        return recording_id
    finally:
        await db.close()


def test_a_held_recording_is_not_deleted_and_every_action_is_audited(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.api_url, headers={"X-Auth-Token": TOKEN}, timeout=10) as api:
        realm = f"h{uuid.uuid4().hex[:8]}.example.com"
        account = api.put("/v2/accounts", json={"data": {"name": "H", "realm": realm}}).json()["data"]["id"]
        recording_id = asyncio.run(_stored_recording(server, account))
        item = f"/v2/accounts/{account}/recordings/{recording_id}"
        key = api.get(f"/v2/accounts/{account}/api_key").json()["data"]["api_key"]
        account_token = httpx.put(f"{server.api_url}/v2/api_auth", json={"data": {"api_key": key}}).json()["auth_token"]

        assert api.get(item, headers={"Accept": "audio/mpeg"}).content == b"ID3x"
        r = api.patch(item, json={"data": {"legal_hold": True}})
        assert r.status_code == 200 and r.json()["data"]["legal_hold"] is True
        refused = api.delete(item)
        assert refused.status_code == 409 and "legal hold" in refused.text
        assert api.patch(item, json={"data": {"legal_hold": "yes"}}).status_code == 400
        assert (
            api.patch(item, json={"data": {"legal_hold": False}}, headers={"X-Auth-Token": account_token}).status_code
            == 200
        )
        assert api.delete(item).status_code == 200

        trail = api.get(f"/v2/accounts/{account}/recordings/audit").json()["data"]
        assert [(e["action"], e["actor"]) for e in trail] == [
            ("deleted", "operator"),
            ("legal_hold_lifted", f"account:{account}"),
            ("legal_hold_set", "operator"),
            ("downloaded", "operator"),
        ]
        assert {e["recording_id"] for e in trail} == {recording_id} and trail[0]["remote"] == "127.0.0.1"
        only = api.get(f"/v2/accounts/{account}/recordings/audit", params={"action": "deleted", "page_size": 1})
        assert [e["action"] for e in only.json()["data"]] == ["deleted"]
        assert api.get(f"/v2/accounts/{account}/recordings/audit", params={"action": "burnt"}).status_code == 400
        for method in ("delete", "put", "patch", "post"):  # append-only: no route changes it
            r = api.request(method, f"/v2/accounts/{account}/recordings/audit", json={"data": {"legal_hold": True}})
            assert r.status_code in (404, 405), (method, r.status_code)
        assert api.get(f"/v2/accounts/{account}/recordings/audit").json()["data"] == trail
