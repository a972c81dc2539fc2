"""A database from before schema 7: an account's call_recording in calltape's earlier shape is moved to Kazoo's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, Documents

LEAF = {"enabled": True, "url": "http://rec.example.com/in"}


async def test_an_old_call_recording_shape_is_moved_under_account_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        schema.schema_version.create(conn)
        for version in range(1, 7):
            step = schema.MIGRATIONS[version]
            assert callable(step)
            step(conn)
        conn.execute(insert(schema.schema_version).values(version=6))
        for account_id, recording in (("old", {"inbound": {"offnet": LEAF}}), ("kazoo", {"account": {"any": {}}})):
            doc = {"name": account_id, "call_recording": recording}
            realm = f"{account_id}.example.com"
            conn.execute(insert(schema.accounts).values(id=account_id, realm=realm, doc=doc, created=0, modified=0))
    engine.dispose()
    database = Database(url)
    with caplog.at_level(logging.WARNING):
        await database.open()
    try:
        accounts = Documents(database, ACCOUNTS)
        assert (await accounts.get("old"))["call_recording"] == {"account": {"inbound": {"offnet": LEAF}}}
        assert (await accounts.get("kazoo"))["call_recording"] == {"account": {"any": {}}}  # left as it was
        said = [r.message for r in caplog.records if "call_recording moved" in r.message]
        assert said == ["account old: call_recording moved under call_recording.account (Kazoo's shape)"]
    finally:
        await database.close()
