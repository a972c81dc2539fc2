"""A database from before schema 7: an account's call_recording in calltape's earlier shape is moved to Kazoo's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from calltape.store import schema
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, Documents
from tests.store.old_schema import old_database

LEAF = {"enabled": True, "url": "http://rec.example.com/in"}


async def test_an_old_call_recording_shape_is_moved_under_account_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    accounts = [
        (schema.accounts, {"id": name, "realm": f"{name}.example.com", "doc": doc, "created": 0, "modified": 0})
        for name, doc in (
            ("old", {"name": "old", "call_recording": {"inbound": {"offnet": LEAF}}}),
            ("kazoo", {"name": "kazoo", "call_recording": {"account": {"any": {}}}}),
        )
    ]
    url = old_database(tmp_path / "old.db", 6, accounts)
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
