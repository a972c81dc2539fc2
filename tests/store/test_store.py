"""The store against SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from calltape.store.callflows import Callflows
from calltape.store.database import Database
from calltape.store.directory import Directory
from calltape.store.documents import ACCOUNTS, DEVICES, ConflictError, Documents, NotFoundError
from calltape.store.migrations import LATEST_VERSION
from calltape.store.registrations import (
    Binding,
    BindingChange,
    BindingWriter,
    OutOfOrderError,
    RegisterUpdate,
    Registrations,
)


async def test_migrated_to_latest_and_reopen_is_idempotent(database: Database) -> None:
    assert await database.schema_version() == LATEST_VERSION
    again = Database(database.url)
    await again.open()
    assert await again.schema_version() == LATEST_VERSION
    await again.close()


async def test_concurrent_opens_migrate_once(database: Database) -> None:
    others = [Database(database.url) for _ in range(3)]
    await asyncio.gather(*(o.open() for o in others))
    assert {await o.schema_version() for o in others} == {LATEST_VERSION}
    for o in others:
        await o.close()


async def test_account_crud_and_unique_realm(database: Database) -> None:
    accounts = Documents(database, ACCOUNTS)
    acme = await accounts.create({"name": "Acme", "realm": "Acme.Example.com"})
    assert (await accounts.get(acme["id"]))["name"] == "Acme"
    with pytest.raises(ConflictError) as err:
        await accounts.create({"name": "Other", "realm": "acme.example.com"})
    assert err.value.field == "realm"
    await accounts.replace(acme["id"], {"name": "Acme Inc", "realm": "acme.example.com"})
    assert [a["name"] for a in await accounts.list()] == ["Acme Inc"]
    await accounts.delete(acme["id"])
    with pytest.raises(NotFoundError):
        await accounts.get(acme["id"])


async def test_devices_scoped_to_account_and_directory(database: Database) -> None:
    accounts, devices = Documents(database, ACCOUNTS), Documents(database, DEVICES)
    a = await accounts.create({"name": "A", "realm": "a.example.com"})
    b = await accounts.create({"name": "B", "realm": "b.example.com"})
    dev = await devices.create({"name": "desk", "sip": {"username": "alice", "password": "pw"}}, a["id"])
    await devices.create({"name": "desk", "sip": {"username": "alice", "password": "x"}}, b["id"])  # other account: ok
    with pytest.raises(ConflictError) as err:
        await devices.create({"name": "dup", "sip": {"username": "alice", "password": "y"}}, a["id"])
    assert err.value.field == "sip.username"
    with pytest.raises(NotFoundError):
        await devices.get(dev["id"], b["id"])
    directory = Directory(database, cache_ttl=0)
    assert await directory.account_for_realm("A.EXAMPLE.COM") == a["id"]
    creds = await directory.device_credentials(a["id"], "alice")
    assert creds is not None and (creds.device_id, creds.password) == (dev["id"], "pw")
    assert await directory.device_credentials(a["id"], "bob") is None


def _template(call_id: str = "c1", cseq: int = 1) -> Binding:
    return Binding("sip:alice@a.example.com", "", "acct", "dev", call_id, cseq, 0.0, "udp:127.0.0.1:5070")


def _update(cseq: int, *changes: tuple[str, float], remove_all: bool = False, now: float = 1000.0) -> RegisterUpdate:
    return RegisterUpdate(_template(cseq=cseq), [BindingChange(c, e) for c, e in changes], remove_all, now)


async def test_bindings_add_refresh_expire_and_remove_all(database: Database) -> None:
    regs = Registrations(database)
    writer = BindingWriter(regs)
    now = 1000.0
    out = await writer.apply(_update(1, ("sip:alice@10.0.0.1", now + 60), ("sip:alice@10.0.0.2", now + 120)))
    assert [b.contact for b in out] == ["sip:alice@10.0.0.1", "sip:alice@10.0.0.2"]
    with pytest.raises(OutOfOrderError):
        await writer.apply(_update(1, ("sip:alice@10.0.0.1", now + 60)))
    out = await writer.apply(_update(2, ("sip:alice@10.0.0.1", now)))
    assert [b.contact for b in out] == ["sip:alice@10.0.0.2"]
    assert [b.contact for b in await regs.for_device("dev", now + 100)] == ["sip:alice@10.0.0.2"]
    assert await regs.lookup("sip:alice@a.example.com", now + 121) == []
    assert await regs.purge_expired(now + 121) == 1
    await writer.apply(_update(3, ("sip:alice@10.0.0.3", now + 60)))
    assert await writer.apply(_update(4, remove_all=True)) == []
    assert await regs.lookup("sip:alice@a.example.com", now) == []


async def test_concurrent_registers_are_batched_in_order(database: Database) -> None:
    regs = Registrations(database)
    writer = BindingWriter(regs)
    now = 1000.0
    updates = [_update(i + 1, (f"sip:alice@10.0.1.{i % 5}", now + 60 + i)) for i in range(50)]
    updates.append(_update(3, ("sip:alice@10.0.1.0", now + 999)))  # out of order: refused, the rest go on
    results = await asyncio.gather(*(writer.apply(u) for u in updates), return_exceptions=True)
    assert isinstance(results[-1], OutOfOrderError)
    final = results[-2]
    assert isinstance(final, list) and len(final) == 5
    stored = await regs.lookup("sip:alice@a.example.com", now)
    assert [(b.contact, b.expires_at, b.cseq) for b in stored] == [(b.contact, b.expires_at, b.cseq) for b in final]
    assert {b.cseq for b in stored} == {46, 47, 48, 49, 50}


async def test_shared_secret_is_created_once(database: Database) -> None:
    first = await database.shared_secret("digest")
    assert first == await database.shared_secret("digest")
    assert len(first) == 64


async def test_directory_cache_expires(database: Database) -> None:
    accounts, devices = Documents(database, ACCOUNTS), Documents(database, DEVICES)
    a = await accounts.create({"name": "A", "realm": "c.example.com"})
    now = [0.0]
    directory = Directory(database, cache_ttl=5.0, clock=lambda: now[0])
    assert await directory.device_credentials(a["id"], "carol") is None
    await devices.create({"name": "desk", "sip": {"username": "carol", "password": "pw"}}, a["id"])
    assert await directory.device_credentials(a["id"], "carol") is None  # remembered for cache_ttl
    now[0] = 5.1
    found = await directory.device_credentials(a["id"], "carol")
    assert found is not None and found.password == "pw"


async def test_an_account_document_is_read_once_per_cache_ttl_and_afresh_once_forgotten(database: Database) -> None:
    accounts = Documents(database, ACCOUNTS)
    a = await accounts.create({"name": "A", "realm": "d.example.com", "call_recording": {"inbound": {}}})
    now = [0.0]
    directory = Directory(database, cache_ttl=5.0, clock=lambda: now[0])
    first = await directory.account_document(a["id"])
    assert first == {"name": "A", "realm": "d.example.com", "call_recording": {"inbound": {}}, "id": a["id"]}
    first["call_recording"]["inbound"]["onnet"] = {"enabled": True}  # what a caller does to its copy stays there
    await accounts.replace(a["id"], {"name": "B", "realm": "d.example.com"})
    again = await directory.account_document(a["id"])
    assert again is not None and again["name"] == "A" and again["call_recording"] == {"inbound": {}}
    directory.forget()  # this node changed the account (the API says so)
    assert (await directory.account_document(a["id"]) or {}).get("name") == "B"
    await accounts.replace(a["id"], {"name": "C", "realm": "d.example.com"})
    now[0] = 5.1  # another node changed it: seen within cache_ttl
    assert (await directory.account_document(a["id"]) or {}).get("name") == "C"
    assert await directory.account_document("f" * 32) is None


async def test_a_document_keeps_the_id_it_brings_and_a_taken_id_is_a_conflict(database: Database) -> None:
    """A Kazoo export is imported with its ids, so its callflows still name the right users and devices."""
    accounts, devices = Documents(database, ACCOUNTS), Documents(database, DEVICES)
    account = await accounts.create({"name": "K", "realm": "k.example.com"})
    kazoo_id = "0123456789abcdef0123456789abcdef"
    device = {"id": kazoo_id, "name": "desk", "sip": {"username": "desk", "password": "pw123"}}
    assert (await devices.create(device, account["id"]))["id"] == kazoo_id
    with pytest.raises(ConflictError) as err:
        await devices.create({**device, "sip": {"username": "other", "password": "pw123"}}, account["id"])
    assert err.value.field == "id"
    callflows = Callflows(database)
    flow = {"id": "fedcba9876543210fedcba9876543210", "numbers": ["100"], "flow": {"module": "echo"}}
    assert (await callflows.create(flow, account["id"]))["id"] == flow["id"]
    with pytest.raises(ConflictError) as err:
        await callflows.create({**flow, "numbers": ["101"]}, account["id"])
    assert err.value.field == "id"
    not_an_id = await devices.create(
        {"id": "x", "name": "b", "sip": {"username": "b2", "password": "pw123"}}, account["id"]
    )
    assert not_an_id["id"] != "x" and len(not_an_id["id"]) == 32
