"""Numbers per tenant (issue 19): callflow numbers unique within an account, DIDs unique on the platform, and a
carrier call routed by its DID — against SQLite and a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from calltape.store import migrations, schema
from calltape.store.callflows import Callflows
from calltape.store.database import Database
from calltape.store.documents import ACCOUNTS, ConflictError, Documents
from tests.store.old_schema import old_database


async def _accounts(database: Database, *names: str) -> list[str]:
    accounts = Documents(database, ACCOUNTS)
    return [(await accounts.create({"name": n, "realm": f"{n}.example.com"}, None))["id"] for n in names]


async def test_two_tenants_have_the_same_extensions_and_each_reaches_its_own(database: Database) -> None:
    a, b = await _accounts(database, "acme", "bolt")
    callflows = Callflows(database, cache_ttl=0)
    a_ext = await callflows.create({"numbers": ["1000"], "flow": {"module": "echo"}}, a)
    b_ext = await callflows.create({"numbers": ["1000"], "flow": {"module": "echo"}}, b)
    a_any = await callflows.create({"numbers": ["no_match"], "flow": {"module": "echo"}}, a)
    await callflows.create({"numbers": ["no_match"], "flow": {"module": "echo"}}, b)
    with pytest.raises(ConflictError) as taken:
        await callflows.create({"numbers": ["1000"], "flow": {"module": "echo"}}, a)
    assert taken.value.field == "numbers"

    assert await callflows.find("1000", a) == (a, a_ext)
    assert await callflows.find("1000", b) == (b, b_ext)
    assert await callflows.find("5551234", a) == (a, a_any)  # nothing else matches: the account's no_match
    assert await callflows.find("1000", None) == (a, a_ext)  # from a carrier, no DID: the account that had it first


async def test_a_did_belongs_to_one_account_and_routes_carrier_calls_there(database: Database) -> None:
    a, b = await _accounts(database, "acme", "bolt")
    callflows = Callflows(database, cache_ttl=0)
    sales_a = await callflows.create({"numbers": ["+14155550100"], "flow": {"module": "echo"}}, a)
    await callflows.create({"numbers": ["+14155550100"], "flow": {"module": "echo"}}, b)
    doc, created = await callflows.dids.assign(a, "+14155550100", {"state": "in_service"})
    assert created and doc["number"] == "+14155550100"
    with pytest.raises(ConflictError) as taken:
        await callflows.dids.assign(b, "+14155550100", {})
    assert a in str(taken.value)  # the conflict names the holder
    with pytest.raises(ConflictError):
        await callflows.dids.assign(b, "14155550100", {})  # the same number without its +
    assert await callflows.find("+14155550100", None) == (a, sales_a)
    assert await callflows.find("14155550100", None) == (a, sales_a)  # delivered without the +

    solo = await callflows.create({"numbers": ["8000"], "flow": {"module": "echo"}}, b)
    assert await callflows.find("8000", None) == (b, solo)  # one account has it, no DID: found as before DIDs
    await callflows.dids.release(a, "+14155550100")
    await callflows.dids.assign(b, "+14155550100", {})
    assert (await callflows.find("+14155550100", None))[0] == b  # a DID moves routing; released, it can be taken
    page, next_key = await callflows.dids.page(a, "", 10)
    assert page == [] and next_key is None


async def test_dids_are_listed_in_pages(database: Database) -> None:
    [a] = await _accounts(database, "acme")
    numbers = Callflows(database).dids
    for n in range(5):
        await numbers.assign(a, f"+3120000000{n}", {})
    first, key = await numbers.page(a, "", 2)
    second, key2 = await numbers.page(a, key or "", 2)
    last, end = await numbers.page(a, key2 or "", 2)
    assert [d["number"] for d in first + second + last] == [f"+3120000000{n}" for n in range(5)]
    assert end is None


async def test_numbers_of_schema_4_move_to_their_accounts(tmp_path: Path) -> None:
    """A database from before per-account numbers: its rows keep working after the migration."""
    url = old_database(
        tmp_path / "old.db",
        4,
        [
            (
                schema.accounts,
                {"id": "a1", "realm": "old.example.com", "doc": {"name": "old"}, "created": 0, "modified": 0},
            ),
            (
                schema.callflows,
                {"id": "cf1", "account_id": "a1", "doc": {"numbers": ["1000"]}, "created": 0, "modified": 0},
            ),
            (schema.callflow_numbers_v2, {"number": "1000", "callflow_id": "cf1", "account_id": "a1"}),
        ],
    )
    database = Database(url)
    await database.open()
    try:
        assert await database.schema_version() == migrations.LATEST_VERSION
        callflows = Callflows(database)
        assert await callflows.find("1000", "a1") == ("a1", {"numbers": ["1000"], "id": "cf1"})
        async with database.engine.connect() as conn:
            rows = (await conn.execute(select(schema.callflow_numbers))).all()
        assert [tuple(r) for r in rows] == [("a1", "1000", "cf1")]
    finally:
        await database.close()
