"""The store against SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from calltape.store.database import Database
from calltape.store.directory import Directory
from calltape.store.documents import ACCOUNTS, DEVICES, ConflictError, Documents, NotFoundError
from calltape.store.registrations import Binding, BindingChange, OutOfOrderError, Registrations
from calltape.store.schema import LATEST_VERSION


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
    directory = Directory(database)
    assert await directory.account_for_realm("A.EXAMPLE.COM") == a["id"]
    creds = await directory.device_credentials(a["id"], "alice")
    assert creds is not None and (creds.device_id, creds.password) == (dev["id"], "pw")
    assert await directory.device_credentials(a["id"], "bob") is None


def _template(call_id: str = "c1", cseq: int = 1) -> Binding:
    return Binding("sip:alice@a.example.com", "", "acct", "dev", call_id, cseq, 0.0, "udp:127.0.0.1:5070")


async def test_bindings_add_refresh_expire_and_remove_all(database: Database) -> None:
    regs = Registrations(database)
    now = 1000.0
    out = await regs.apply(
        _template(),
        [BindingChange("sip:alice@10.0.0.1", now + 60), BindingChange("sip:alice@10.0.0.2", now + 120)],
        remove_all=False,
        now=now,
    )
    assert [b.contact for b in out] == ["sip:alice@10.0.0.1", "sip:alice@10.0.0.2"]
    with pytest.raises(OutOfOrderError):
        await regs.apply(_template(cseq=1), [BindingChange("sip:alice@10.0.0.1", now + 60)], remove_all=False, now=now)
    out = await regs.apply(_template(cseq=2), [BindingChange("sip:alice@10.0.0.1", now)], remove_all=False, now=now)
    assert [b.contact for b in out] == ["sip:alice@10.0.0.2"]
    assert [b.contact for b in await regs.for_device("dev", now + 100)] == ["sip:alice@10.0.0.2"]
    assert await regs.lookup("sip:alice@a.example.com", now + 121) == []
    assert await regs.purge_expired(now + 121) == 1
    await regs.apply(_template(cseq=3), [BindingChange("sip:alice@10.0.0.3", now + 60)], remove_all=False, now=now)
    assert await regs.apply(_template(cseq=4), [], remove_all=True, now=now) == []
    assert await regs.lookup("sip:alice@a.example.com", now) == []


async def test_shared_secret_is_created_once(database: Database) -> None:
    first = await database.shared_secret("digest")
    assert first == await database.shared_secret("digest")
    assert len(first) == 64
